//! The sensitive-word filter: a pure library, no I/O. [`Filter::scan`] finds
//! every dictionary word in a text, however it was disguised, and reports each hit
//! with its dictionary entry, its category and its character offsets in the
//! original text.
//!
//! How a text is matched:
//! 1. [`normalize`] folds every character (compatibility forms, case, traditional
//!    → simplified), skips what evasions put between letters, and keeps newline
//!    and CJK clause marks as hard boundaries.
//! 2. Runs of one character are collapsed, in the text and in every word alike,
//!    remembering their lengths: a text run matches a word run when it is at least
//!    as long (傻傻傻逼 hits 傻逼, 嘻哈 does not hit 嘻嘻哈哈).
//! 3. Aho-Corasick finds every candidate over the collapsed text; each is checked
//!    for run lengths and, for words without CJK characters, whole-token
//!    boundaries (sb hits 你真是个sb吧, not usb). The verified hits are then taken
//!    leftmost-longest. Verification comes before the leftmost-longest choice: a
//!    plain leftmost-longest automaton would hide a valid shorter word behind a
//!    longer candidate that fails its check.
//! 4. A hit is dropped when an allow phrase covers its whole span (出口交易额
//!    passes); another occurrence of the word elsewhere still hits.
//!
//! [`words`] parses the word list; [`rules`] finds links, phone numbers and
//! WeChat ids.

pub mod normalize;
pub mod rules;
pub mod words;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

pub use normalize::Normalization;
use normalize::{is_cjk, View};
pub use words::{apply_edit, Entry, Remark, WordEdit, WordList};

/// One dictionary word found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The dictionary entry as written in the word list.
    pub word: Arc<str>,
    pub category: Arc<str>,
    /// Character offsets into the original text, end exclusive.
    pub start: usize,
    pub end: usize,
}

/// A dictionary word, compiled.
#[derive(Debug)]
struct Variant {
    entry: usize,
    /// Length of each run of the collapsed word (all 1 when repeats are off).
    counts: Vec<u32>,
    /// No CJK character: hits only as a whole token.
    latin: bool,
}

/// One automaton over collapsed words; several words may collapse alike.
#[derive(Debug)]
struct Matcher {
    automaton: AhoCorasick,
    /// Per automaton pattern, the words that collapse to it.
    variants: Vec<Vec<Variant>>,
    /// Per pattern, the other patterns that are its prefixes, longest first: the
    /// alternatives at the same start when a candidate fails its check.
    prefixes: Vec<Vec<u32>>,
    /// ASCII characters that begin a word with a CJK character in it (`qq群`).
    mixed_first: [bool; 128],
}

/// A verified match: view indices (or byte offsets when nothing is normalised).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    entry: usize,
}

/// The collapsed text: one character per run, with the runs' places in the view.
#[derive(Debug, Default)]
struct Runs {
    text: String,
    /// First view index of each run.
    start: Vec<u32>,
    len: Vec<u32>,
    /// For each byte of `text`, the run it belongs to.
    run_of_byte: Vec<u32>,
}

impl Runs {
    fn build(&mut self, chars: &[char], repeats: bool) {
        self.text.clear();
        self.start.clear();
        self.len.clear();
        self.run_of_byte.clear();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let mut j = i + 1;
            if repeats {
                while j < chars.len() && chars[j] == c {
                    j += 1;
                }
            }
            let run = self.start.len() as u32;
            self.start.push(i as u32);
            self.len.push((j - i) as u32);
            self.text.push(c);
            self.run_of_byte
                .extend(std::iter::repeat_n(run, c.len_utf8()));
            i = j;
        }
    }
}

#[derive(Default)]
struct Scratch {
    view: View,
    runs: Runs,
    found: Vec<Span>,
    allowed: Vec<Span>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A word's automaton pattern and run lengths. With nothing normalised the word
/// is taken as written.
fn compile(entry: &Entry, n: Normalization) -> (String, Vec<u32>, bool) {
    let word = if n == Normalization::OFF {
        &entry.word
    } else {
        &entry.normalized
    };
    let chars: Vec<char> = word.chars().collect();
    let latin = !chars.iter().any(|c| is_cjk(*c));
    let mut runs = Runs::default();
    runs.build(&chars, n.repeats);
    (runs.text, runs.len, latin)
}

impl Matcher {
    fn build(entries: &[Entry], n: Normalization, kind: MatchKind) -> Matcher {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut variants: Vec<Vec<Variant>> = Vec::new();
        for (entry, e) in entries.iter().enumerate() {
            let (text, counts, latin) = compile(e, n);
            if text.is_empty() {
                continue;
            }
            let id = *index.entry(text.clone()).or_insert_with(|| {
                patterns.push(text);
                variants.push(Vec::new());
                patterns.len() - 1
            });
            variants[id].push(Variant {
                entry,
                counts,
                latin,
            });
        }
        let mut mixed_first = [false; 128];
        for (pattern, vs) in patterns.iter().zip(&variants) {
            if let Some(c) = pattern.chars().next().filter(char::is_ascii) {
                if vs.iter().any(|v| !v.latin) {
                    mixed_first[c as usize] = true;
                }
            }
        }
        let prefixes = patterns
            .iter()
            .map(|p| {
                let mut found: Vec<u32> = p
                    .char_indices()
                    .skip(1)
                    .filter_map(|(b, _)| index.get(&p[..b]).map(|id| *id as u32))
                    .collect();
                found.reverse();
                found
            })
            .collect();
        let automaton = AhoCorasickBuilder::new()
            .match_kind(kind)
            .build(&patterns)
            .unwrap_or_else(|_| {
                AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton builds")
            });
        Matcher {
            automaton,
            variants,
            prefixes,
            mixed_first,
        }
    }

    /// Verified matches, leftmost-longest, in order. `check` turns a pattern
    /// matched at a byte range into a span, or refuses it.
    fn leftmost(
        &self,
        hay: &str,
        out: &mut Vec<Span>,
        check: impl Fn(&[Variant], usize, usize) -> Option<Span>,
        token_start: impl Fn(usize) -> bool,
    ) {
        out.clear();
        let mut pos = 0;
        while pos < hay.len() {
            let Some(m) = self.automaton.find(Input::new(hay).range(pos..)) else {
                break;
            };
            let start = m.start();
            let longest = m.pattern().as_usize();
            let candidates =
                std::iter::once(longest as u32).chain(self.prefixes[longest].iter().copied());
            let hit = candidates.into_iter().find_map(|p| {
                let p = p as usize;
                let len = if p == longest {
                    m.end() - start
                } else {
                    self.pattern_len(p, hay, start)
                };
                check(&self.variants[p], start, start + len).map(|span| (span, start + len))
            });
            match hit {
                Some((span, end)) => {
                    out.push(span);
                    pos = end;
                }
                None => {
                    // Inside a run of ASCII letters and digits, a word can only start
                    // where a Latin token may (a boundary) or where a mixed word's
                    // first character stands: skip the rest without searching.
                    pos = start + hay[start..].chars().next().map_or(1, char::len_utf8);
                    let bytes = hay.as_bytes();
                    while pos < bytes.len()
                        && bytes[pos].is_ascii_alphanumeric()
                        && !self.mixed_first[bytes[pos] as usize]
                        && !token_start(pos)
                    {
                        pos += 1;
                    }
                }
            }
        }
    }

    /// Byte length of prefix pattern `p` matched at `start` (it is a prefix of what matched there).
    fn pattern_len(&self, p: usize, hay: &str, start: usize) -> usize {
        let chars = self.variants[p][0].counts.len();
        hay[start..]
            .char_indices()
            .nth(chars)
            .map_or(hay.len() - start, |(b, _)| b)
    }

    /// Every verified match, overlapping (for allow phrases, which must cover hits).
    fn all(
        &self,
        hay: &str,
        out: &mut Vec<Span>,
        check: impl Fn(&[Variant], usize, usize) -> Option<Span>,
    ) {
        out.clear();
        if self.variants.is_empty() {
            return;
        }
        for m in self.automaton.find_overlapping_iter(hay) {
            if let Some(span) = check(&self.variants[m.pattern().as_usize()], m.start(), m.end()) {
                out.push(span);
            }
        }
    }

    fn memory_usage(&self) -> usize {
        self.automaton.memory_usage()
            + self
                .variants
                .iter()
                .map(|v| {
                    v.capacity() * std::mem::size_of::<Variant>()
                        + v.iter().map(|x| x.counts.capacity() * 4).sum::<usize>()
                })
                .sum::<usize>()
            + self
                .prefixes
                .iter()
                .map(|p| p.capacity() * 4 + 24)
                .sum::<usize>()
    }
}

/// Checks a match over collapsed runs: run lengths, then token boundaries for
/// Latin words. Among words collapsing alike, the longest that fits wins.
fn check_runs(view: &View, runs: &Runs, variants: &[Variant], start_byte: usize) -> Option<Span> {
    let first = runs.run_of_byte[start_byte] as usize;
    variants
        .iter()
        .filter_map(|v| {
            let last = first + v.counts.len() - 1;
            let fits = v
                .counts
                .iter()
                .zip(first..=last)
                .all(|(need, run)| runs.len[run] >= *need);
            if !fits {
                return None;
            }
            let (start, end) = if first == last {
                let s = runs.start[first] as usize;
                (s, s + v.counts[0] as usize)
            } else {
                let s = (runs.start[first] + runs.len[first] - v.counts[0]) as usize;
                (
                    s,
                    (runs.start[last] + v.counts[v.counts.len() - 1]) as usize,
                )
            };
            (!v.latin || whole_token(view, start, end)).then_some(Span {
                start,
                end,
                entry: v.entry,
            })
        })
        .max_by_key(|s| s.end - s.start)
}

/// The same over raw text, when nothing is normalised.
fn check_raw(text: &str, variants: &[Variant], start: usize, end: usize) -> Option<Span> {
    let v = variants.first()?;
    if v.latin {
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if before.is_some_and(|c| c.is_ascii_alphanumeric())
            || after.is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
    }
    Some(Span {
        start,
        end,
        entry: v.entry,
    })
}

/// A Latin word's neighbours (after folding) must not be letters or digits; a
/// skipped character between counts as a boundary (`w.e.i.x.i.n` is a token).
fn whole_token(view: &View, start: usize, end: usize) -> bool {
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    let left = start == 0 || view.gap_before[start] || !alnum(start - 1);
    let right = end == view.chars.len() || view.gap_before[end] || !alnum(end);
    left && right
}

/// A compiled word list.
pub struct Filter {
    normalization: Normalization,
    deny: Matcher,
    allow: Matcher,
    /// Per deny entry, its word and category, shared by every hit.
    deny_entries: Vec<(Arc<str>, Arc<str>)>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Filter({} words, {:?})",
            self.deny_entries.len(),
            self.normalization
        )
    }
}

impl Filter {
    pub fn new(list: &WordList, normalization: Normalization) -> Filter {
        Filter {
            normalization,
            deny: Matcher::build(&list.deny, normalization, MatchKind::LeftmostLongest),
            allow: Matcher::build(&list.allow, normalization, MatchKind::Standard),
            deny_entries: list
                .deny
                .iter()
                .map(|e| (Arc::from(e.word.as_str()), Arc::from(e.category.as_str())))
                .collect(),
        }
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// The automaton kind in use (for benchmarks).
    pub fn automaton_kind(&self) -> String {
        format!("{:?}", self.deny.automaton.kind())
    }

    /// How many deny words are compiled.
    pub fn len(&self) -> usize {
        self.deny_entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deny_entries.is_empty()
    }

    /// Heap bytes held by the compiled automata and word tables.
    pub fn memory_usage(&self) -> usize {
        self.deny.memory_usage()
            + self.allow.memory_usage()
            + self
                .deny_entries
                .iter()
                .map(|(w, c)| w.len() + c.len() + 32)
                .sum::<usize>()
    }

    /// Every deny hit in `text`, leftmost-longest, in text order.
    pub fn scan(&self, text: &str) -> Vec<Hit> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                view,
                runs,
                found,
                allowed,
            } = &mut *scratch;
            if self.normalization == Normalization::OFF {
                // Nothing to fold: search the text as it is, offsets in bytes.
                let token_start = |p: usize| {
                    !text[..p]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric())
                };
                self.deny
                    .leftmost(text, found, |v, s, e| check_raw(text, v, s, e), token_start);
                if found.is_empty() {
                    return Vec::new();
                }
                self.allow
                    .all(text, allowed, |v, s, e| check_raw(text, v, s, e));
                let to_char = |byte: usize| text[..byte].chars().count();
                return self.hits(found, allowed, |s| (to_char(s.start), to_char(s.end)));
            }
            view.build(text, self.normalization);
            runs.build(&view.chars, self.normalization.repeats);
            let (view, runs) = (&*view, &*runs);
            let token_start = |p: usize| {
                let at = runs.start[runs.run_of_byte[p] as usize] as usize;
                at == 0 || view.gap_before[at] || !view.chars[at - 1].is_ascii_alphanumeric()
            };
            self.deny.leftmost(
                &runs.text,
                found,
                |v, s, _| check_runs(view, runs, v, s),
                token_start,
            );
            if found.is_empty() {
                return Vec::new();
            }
            self.allow
                .all(&runs.text, allowed, |v, s, _| check_runs(view, runs, v, s));
            self.hits(found, allowed, |s| {
                (
                    view.origin[s.start] as usize,
                    view.origin[s.end - 1] as usize + 1,
                )
            })
        })
    }

    /// The found spans no allow phrase covers, as hits; `place` gives a span's
    /// character offsets in the original text.
    fn hits(
        &self,
        found: &[Span],
        allowed: &[Span],
        place: impl Fn(&Span) -> (usize, usize),
    ) -> Vec<Hit> {
        found
            .iter()
            .filter(|span| {
                !allowed
                    .iter()
                    .any(|a| a.start <= span.start && span.end <= a.end)
            })
            .map(|span| {
                let (start, end) = place(span);
                self.hit(span, start, end)
            })
            .collect()
    }

    fn hit(&self, span: &Span, start: usize, end: usize) -> Hit {
        let (word, category) = &self.deny_entries[span.entry];
        Hit {
            word: word.clone(),
            category: category.clone(),
            start,
            end,
        }
    }
}

#[cfg(test)]
mod tests;
