//! `sensitive-words.txt`: one word a line under `[category]` headers, `#` comments,
//! and an `[allow]` section of phrases never to flag.

use std::collections::{hash_map, HashMap};

use super::normalize::{normalize_word, Normalization, View};

/// The name of the section whose phrases suppress hits they cover.
pub const ALLOW: &str = "allow";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub word: String,
    /// The word as the filter normalised it when the list was parsed.
    pub normalized: String,
    pub category: String,
    pub line: usize,
}

/// Something to tell the operator about a line: an error makes the file unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark {
    pub line: usize,
    pub col: usize,
    pub reason: String,
    pub error: bool,
}

#[derive(Clone, Debug, Default)]
pub struct WordList {
    /// Deny words, in file order.
    pub deny: Vec<Entry>,
    /// Allow phrases.
    pub allow: Vec<Entry>,
    pub remarks: Vec<Remark>,
}

impl WordList {
    pub fn errors(&self) -> impl Iterator<Item = &Remark> {
        self.remarks.iter().filter(|r| r.error)
    }

    /// Parses a word list, normalising each word as texts will be to find
    /// duplicates and words too short to be safe.
    pub fn parse(text: &str, n: Normalization) -> WordList {
        let mut list = WordList::default();
        let mut category: Option<(String, usize, usize)> = None; // name, line, words so far
        let mut seen: HashMap<(bool, String), (usize, String)> = HashMap::new();
        // One view for every word, so that normalising allocates once.
        let mut view = View::default();
        let close_category = |category: &Option<(String, usize, usize)>,
                              remarks: &mut Vec<Remark>| {
            if let Some((name, line, 0)) = category {
                remarks.push(Remark {
                    line: *line,
                    col: 1,
                    reason: format!("category [{name}] has no words"),
                    error: false,
                });
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            let col = raw
                .find(trimmed)
                .map_or(1, |b| raw[..b].chars().count() + 1);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                close_category(&category, &mut list.remarks);
                match rest.strip_suffix(']').map(str::trim) {
                    Some(name) if !name.is_empty() && !name.contains(['[', ']']) => {
                        category = Some((name.to_lowercase(), line, 0));
                    }
                    _ => {
                        list.remarks.push(Remark {
                            line,
                            col,
                            reason: format!("`{trimmed}` is not a category header; write [name]"),
                            error: true,
                        });
                        category = None;
                    }
                }
                continue;
            }
            let Some((name, _, count)) = category.as_mut() else {
                list.remarks.push(Remark {
                    line,
                    col,
                    reason: format!("`{trimmed}` comes before any [category] header"),
                    error: true,
                });
                continue;
            };
            view.build(trimmed, n);
            let normalized = view.text();
            let remark = |reason: String| Remark {
                line,
                col,
                reason,
                error: false,
            };
            if normalized.trim().is_empty() {
                list.remarks.push(remark(format!(
                    "`{trimmed}` is nothing but characters the filter skips; ignored"
                )));
                continue;
            }
            let mut chars = normalized.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                if c.is_ascii_alphanumeric() {
                    list.remarks.push(remark(format!("`{trimmed}` is a single Latin letter or digit and would flag ordinary text; ignored")));
                    continue;
                }
            }
            let allow = name == ALLOW;
            match seen.entry((allow, normalized.clone())) {
                hash_map::Entry::Occupied(first) => {
                    let (first_line, first_category) = first.get();
                    list.remarks.push(remark(format!(
                        "`{trimmed}` repeats a word of [{first_category}] on line {first_line}; the first one counts"
                    )));
                    continue;
                }
                hash_map::Entry::Vacant(slot) => {
                    slot.insert((line, name.clone()));
                }
            }
            *count += 1;
            let entry = Entry {
                word: trimmed.to_string(),
                normalized,
                category: name.clone(),
                line,
            };
            if allow {
                list.allow.push(entry);
            } else {
                list.deny.push(entry);
            }
        }
        close_category(&category, &mut list.remarks);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_sort_into_their_categories_and_allow_phrases_apart() {
        let list = WordList::parse(
            "# list\n[ad]\n加群\n\n[Abuse]\n傻逼\n[allow]\n出口交易\n",
            Normalization::default(),
        );
        assert_eq!(
            list.deny
                .iter()
                .map(|e| (e.word.as_str(), e.category.as_str()))
                .collect::<Vec<_>>(),
            [("加群", "ad"), ("傻逼", "abuse")]
        );
        assert_eq!(list.allow[0].word, "出口交易");
        assert!(list.remarks.is_empty(), "{:?}", list.remarks);
    }

    #[test]
    fn bad_lines_are_errors_with_their_position() {
        let list = WordList::parse("orphan\n[ad\n  [ok]\nword\n", Normalization::default());
        let errors: Vec<_> = list
            .errors()
            .map(|r| (r.line, r.col, r.reason.clone()))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].0, errors[0].1), (1, 1));
        assert!(errors[0].2.contains("before any [category]"));
        assert_eq!((errors[1].0, errors[1].1), (2, 1));
    }

    #[test]
    fn duplicates_empty_categories_and_unsafe_words_are_reported_not_fatal() {
        let list = WordList::parse(
            "[ad]\n加群\n[fraud]\n加 群\n[empty]\n[abuse]\n@@\nb\nsb\n",
            Normalization::default(),
        );
        let reasons: Vec<_> = list
            .remarks
            .iter()
            .map(|r| (r.line, r.reason.clone()))
            .collect();
        assert!(list.errors().next().is_none());
        assert!(
            reasons[0].1.contains("repeats a word of [ad] on line 2"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].1.contains("[fraud] has no words"),
            "its only word was a repeat: {reasons:?}"
        );
        assert!(reasons[2].1.contains("[empty] has no words"), "{reasons:?}");
        assert!(
            reasons[3]
                .1
                .contains("nothing but characters the filter skips"),
            "{reasons:?}"
        );
        assert!(reasons[4].1.contains("single Latin letter"), "{reasons:?}");
        assert_eq!(list.deny.len(), 2);
    }
}

/// A change an admin asks for with `/words add` or `/words del`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WordEdit {
    Add { category: String, word: String },
    Del { word: String },
}

/// Whether `text` already reads as if `edit` were applied: the word listed in
/// that category (add), or not listed at all (del). An edit repeated after a
/// crash finds its own work done this way.
pub fn edit_is_applied(text: &str, edit: &WordEdit, n: Normalization) -> bool {
    let list = WordList::parse(text, n);
    let mut entries = list.deny.iter().chain(&list.allow);
    match edit {
        WordEdit::Add { category, word } => {
            let (category, word) = (
                category.trim().to_lowercase(),
                normalize_word(word.trim(), n),
            );
            entries.any(|e| e.normalized == word && e.category == category)
        }
        WordEdit::Del { word } => {
            let word = normalize_word(word.trim(), n);
            !entries.any(|e| e.normalized == word)
        }
    }
}

/// Adds `word` to `out` (the list's `lines`, being edited) after the last word
/// of `[category]`, or under a new header at the end.
fn insert_word(lines: &[&str], out: &mut Vec<String>, category: &str, word: &str) {
    let header = lines.iter().position(|l| {
        l.trim()
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|name| name.trim().to_lowercase() == category)
    });
    match header {
        Some(h) => {
            // After the section's last word, before the next header.
            let end = lines[h + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |p| h + 1 + p);
            let last_word = (h + 1..end)
                .rev()
                .find(|i| !lines[*i].trim().is_empty() && !lines[*i].trim().starts_with('#'))
                .unwrap_or(h);
            out.insert(last_word + 1, word.to_string());
        }
        None => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{category}]"));
            out.push(word.to_string());
        }
    }
}

/// Applies `edit` to the text of a word list, keeping every other line (comments,
/// order, blank lines) as it was. The result parses without errors.
pub fn apply_edit(text: &str, edit: &WordEdit, n: Normalization) -> Result<String, String> {
    let list = WordList::parse(text, n);
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match edit {
        WordEdit::Add { category, word } => {
            let category = category.trim().to_lowercase();
            let word = word.trim();
            if word.is_empty() || category.is_empty() || category.contains(['[', ']']) {
                return Err("需要分类和词".into());
            }
            let normalized = normalize_word(word, n);
            if let Some(e) = list
                .deny
                .iter()
                .chain(&list.allow)
                .find(|e| e.normalized == normalized)
            {
                return Err(format!(
                    "「{}」已在 [{}] 中（第 {} 行）",
                    e.word, e.category, e.line
                ));
            }
            insert_word(&lines, &mut out, &category, word);
        }
        WordEdit::Del { word } => {
            let normalized = normalize_word(word.trim(), n);
            let doomed: Vec<usize> = list
                .deny
                .iter()
                .chain(&list.allow)
                .filter(|e| e.normalized == normalized)
                .map(|e| e.line - 1)
                .collect();
            if doomed.is_empty() {
                return Err(format!("词库里没有「{}」", word.trim()));
            }
            for i in doomed.into_iter().rev() {
                out.remove(i);
            }
        }
    }
    let mut result = out.join("\n");
    result.push('\n');
    if let Some(e) = WordList::parse(&result, n).errors().next() {
        return Err(format!("修改后的词库有误：第 {} 行 {}", e.line, e.reason));
    }
    // A line that reads as a comment (`#…`), a header, or nothing the filter
    // keeps would be written but never match: say so instead of "added".
    if !edit_is_applied(&result, edit, n) {
        if let WordEdit::Add { word, .. } = edit {
            return Err(format!(
                "「{}」不会成为词（# 开头是注释，[ ] 是分类，单个字母或只有符号会被忽略）",
                word.trim()
            ));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod edit_tests {
    use super::*;

    const LIST: &str = "# top comment\n[ad]\n加群\n# ad comment\n\n[abuse]\n傻逼\n";

    fn edit(e: WordEdit) -> Result<String, String> {
        apply_edit(LIST, &e, Normalization::default())
    }

    #[test]
    fn a_word_that_would_be_a_comment_a_header_or_ignored_is_refused_not_written() {
        for word in ["#hidden", "[ad]", "x", "@@@"] {
            let edit = WordEdit::Add {
                category: "ad".into(),
                word: word.into(),
            };
            let refused = apply_edit(LIST, &edit, Normalization::default());
            assert!(
                refused.as_ref().is_err_and(|e| e.contains("不会成为词")),
                "{word}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_word_is_added_at_the_end_of_its_section_keeping_comments_and_order() {
        let out = edit(WordEdit::Add {
            category: "ad".into(),
            word: "代购".into(),
        })
        .unwrap();
        assert_eq!(
            out,
            "# top comment\n[ad]\n加群\n代购\n# ad comment\n\n[abuse]\n傻逼\n"
        );
        let out = edit(WordEdit::Add {
            category: "fraud".into(),
            word: "刷单".into(),
        })
        .unwrap();
        assert!(out.ends_with("傻逼\n\n[fraud]\n刷单\n"), "{out}");
    }

    #[test]
    fn a_word_is_deleted_wherever_it_is_and_nothing_else_moves() {
        let out = edit(WordEdit::Del {
            word: "加 群".into(),
        })
        .unwrap();
        assert_eq!(out, "# top comment\n[ad]\n# ad comment\n\n[abuse]\n傻逼\n");
    }

    #[test]
    fn duplicates_and_missing_words_are_refused() {
        assert!(edit(WordEdit::Add {
            category: "fraud".into(),
            word: "傻 逼".into()
        })
        .unwrap_err()
        .contains("已在 [abuse] 中"));
        assert!(edit(WordEdit::Del {
            word: "没有的词".into()
        })
        .unwrap_err()
        .contains("词库里没有"));
    }
}
