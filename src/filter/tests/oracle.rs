//! The filter against a brute-force reading of the matching policy: at each
//! position of the collapsed view, left to right, try every dictionary word
//! that matches there, longest pattern first; among words collapsing alike the
//! longest span wins (the leftmost on a tie); Latin words need token
//! boundaries; allow phrases that cover a hit suppress it. No automaton, no
//! packed tables, no skipping: if the filter's shortcuts ever change what is
//! found, this disagrees.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::filter::matcher::whole_token;
use crate::filter::normalize::View;

/// A word list's entries as (pattern chars, run lengths, latin, entry).
fn collapsed(entries: &[Entry], n: Normalization) -> Vec<(Vec<char>, Vec<u32>, bool, &Entry)> {
    entries
        .iter()
        .map(|e| {
            let word = if n == Normalization::OFF {
                &e.word
            } else {
                &e.normalized
            };
            let mut chars: Vec<char> = Vec::new();
            let mut counts: Vec<u32> = Vec::new();
            for c in word.chars() {
                match chars.last() {
                    Some(last) if *last == c && n.repeats => *counts.last_mut().unwrap() += 1,
                    _ => {
                        chars.push(c);
                        counts.push(1);
                    }
                }
            }
            let latin = !chars.iter().any(|c| normalize::is_cjk(*c));
            (chars, counts, latin, e)
        })
        .filter(|(chars, ..)| !chars.is_empty())
        .collect()
}

/// Verified spans (view indices) and their entries, at run `r` and pattern length `len`.
/// Whether `word` reads at the start of `text`: as written or, with
/// homophones on anywhere, by sound.
fn reads(text: &[char], word: &[char], sound: Option<&BTreeSet<String>>) -> bool {
    match sound {
        None => text.starts_with(word),
        Some(_) => {
            let key = normalize::homophone_key;
            text.len() >= word.len() && text.iter().zip(word).all(|(t, w)| key(*t) == key(*w))
        }
    }
}

fn best_at<'e>(
    words: &[(Vec<char>, Vec<u32>, bool, &'e Entry)],
    view: &View,
    runs: &Runs,
    r: usize,
    len: usize,
    sound: Option<&BTreeSet<String>>,
) -> Option<(usize, usize, &'e Entry)> {
    let text: Vec<char> = runs.text.chars().collect();
    let mut best: Option<(usize, usize, &Entry)> = None;
    for (chars, counts, latin, entry) in words {
        if chars.len() != len || !reads(&text[r..], chars, sound) {
            continue;
        }
        // By sound, a swapped character is allowed only to a homophone
        // category's word of three or more, one in three at most.
        let swapped = (0..len).filter(|k| text[r + k] != chars[*k]).count();
        let takes = sound.is_some_and(|s| s.contains(&entry.category));
        if swapped > 0 && !(takes && len >= 3 && swapped * 3 <= len) {
            continue;
        }
        if !(0..len).all(|k| runs.len[r + k] >= counts[k]) {
            continue;
        }
        let (start, end) = if len == 1 {
            (runs.start[r], runs.start[r] + counts[0])
        } else {
            (
                runs.start[r] + runs.len[r] - counts[0],
                runs.start[r + len - 1] + counts[len - 1],
            )
        };
        let (start, end) = (start as usize, end as usize);
        if *latin && !whole_token(view, start, end) {
            continue;
        }
        if best.is_none_or(|(s, e, _)| (end - start, s) > (e - s, start)) {
            best = Some((start, end, entry));
        }
    }
    best
}

fn expected(
    list: &WordList,
    text: &str,
    n: Normalization,
    sound: Option<&BTreeSet<String>>,
) -> Vec<(String, String, usize, usize)> {
    let mut view = View::default();
    view.build(text, n);
    let mut runs = Runs::default();
    runs.build(view.chars.iter().copied(), n.repeats, false);
    let text_runs: Vec<char> = runs.text.chars().collect();
    let deny = collapsed(&list.deny, n);
    let allow = collapsed(&list.allow, n);
    let lengths_at = |words: &[(Vec<char>, Vec<u32>, bool, &Entry)], r: usize| {
        let mut lens: Vec<usize> = words
            .iter()
            .filter(|w| reads(&text_runs[r..], &w.0, sound))
            .map(|w| w.0.len())
            .collect();
        lens.sort_unstable_by(|a, b| b.cmp(a));
        lens.dedup();
        lens
    };
    let mut found = Vec::new();
    let mut r = 0;
    while r < text_runs.len() {
        let hit = lengths_at(&deny, r)
            .into_iter()
            .find_map(|len| best_at(&deny, &view, &runs, r, len, sound).map(|h| (h, len)));
        match hit {
            Some((h, len)) => {
                found.push(h);
                r += len;
            }
            None => r += 1,
        }
    }
    let allowed: Vec<(usize, usize)> = (0..text_runs.len())
        .flat_map(|r| {
            lengths_at(&allow, r)
                .into_iter()
                .filter_map(|len| best_at(&allow, &view, &runs, r, len, sound))
                .map(|(s, e, _)| (s, e))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut hits: Vec<(String, String, usize, usize)> = found
        .into_iter()
        .filter(|(s, e, _)| !allowed.iter().any(|(a, b)| a <= s && e <= b))
        .map(|(s, e, entry)| {
            (
                entry.word.clone(),
                entry.category.clone(),
                view.origin[s] as usize,
                view.origin[e - 1] as usize + 1,
            )
        })
        .collect();
    if n != Normalization::OFF {
        // Pinyin hits join where no allow phrase covers them and no other
        // hit overlaps them.
        let before = hits.len();
        for (s, e, entry) in pinyin_matches(list, &view) {
            if allowed.iter().any(|(a, b)| *a <= s && e <= *b) {
                continue;
            }
            let (start, end) = (view.origin[s] as usize, view.origin[e - 1] as usize + 1);
            if hits[..before].iter().any(|h| h.2 < end && start < h.3) {
                continue;
            }
            hits.push((entry.word.clone(), entry.category.clone(), start, end));
        }
        hits.sort_by_key(|h| (h.2, h.3));
    }
    hits
}

/// Every span of the view that spells a word of two to eight characters
/// with at least one in pinyin, by trying them all: Latin ends are whole
/// tokens, pinyin and characters touch, nothing written like a name. Taken
/// leftmost-longest, the word listed first on equal spans.
fn pinyin_matches<'e>(list: &'e WordList, view: &View) -> Vec<(usize, usize, &'e Entry)> {
    let eligible: Vec<(&Entry, String)> = list
        .deny
        .iter()
        .filter(|e| {
            let w: Vec<char> = e.normalized.chars().collect();
            (2..=pinyin::MAX_PINYIN_CHARS).contains(&w.len())
                && w.iter()
                    .all(|c| normalize::is_cjk(*c) && pinyin::readings(*c).next().is_some())
        })
        .map(|e| (e, e.normalized.clone()))
        .collect();
    let n = view.chars.len();
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    let latin = |i: usize| view.chars[i].is_ascii_alphabetic();
    let mut spans = Vec::new();
    for s in 0..n {
        for e in s + 1..=n {
            let left = s == 0 || view.gap_before[s] || !alnum(s) || !alnum(s - 1);
            let right = e == n || view.gap_before[e] || !alnum(e - 1) || !alnum(e);
            let apart = (s + 1..e).any(|i| view.gap_before[i] && latin(i - 1) != latin(i));
            let name = (s..e)
                .all(|i| latin(i) && (i == s || view.gap_before[i]) == (view.via[i] != Via::Exact));
            if !left || !right || apart || name {
                continue;
            }
            let cut: String = view.chars[s..e].iter().collect();
            if let Some((entry, _)) = eligible.iter().find(|(_, w)| spelled_in_pinyin(w, &cut)) {
                spans.push((s, e, *entry));
            }
        }
    }
    // Spans come by start, then end ascending: the last one per start is
    // its longest. Then leftmost-longest, none overlapping.
    let mut longest: Vec<(usize, usize, &Entry)> = Vec::new();
    for span in spans {
        if longest.last().is_some_and(|l| l.0 == span.0) {
            longest.pop();
        }
        longest.push(span);
    }
    let mut out: Vec<(usize, usize, &Entry)> = Vec::new();
    for (s, e, entry) in longest {
        if out.last().is_none_or(|(_, le, _)| s >= *le) {
            out.push((s, e, entry));
        }
    }
    out
}

const WORD_CHARS: &[&str] = &["a", "b", "c", "e", "加", "群", "嘻", "哈", "傻", "逼", "卖"];
// Besides plain pieces: a variant (売 for 卖), look-alikes (Cyrillic е and
// Е, Greek α) and a Cyrillic letter that looks like nothing Latin (д).
const TEXT_PIECES: &[&str] = &[
    "a", "b", "c", "e", "A", "ｂ", "加", "群", "嘻", "哈", "傻", "逼", "卖", "嘻嘻", "哈哈", "aa",
    " ", "@", "，", "😀", "x", "1", "売", "е", "Е", "α", "д", "西", "家", "佳", "jia", "Jia",
    "qun", "xi", "ha", "sha", "bi", "mai",
];

fn word_list() -> impl Strategy<Value = String> {
    let word = proptest::collection::vec(0..WORD_CHARS.len(), 1..5)
        .prop_map(|w| w.iter().map(|i| WORD_CHARS[*i]).collect::<String>());
    (
        proptest::collection::vec((0..3usize, word.clone()), 1..12),
        proptest::collection::vec(word, 0..3),
    )
        .prop_map(|(deny, allow)| {
            let mut text = String::new();
            for (category, word) in deny {
                text.push_str(&format!("[{}]\n{word}\n", ["x", "y", "z"][category]));
            }
            text.push_str("[allow]\n");
            for phrase in allow {
                text.push_str(&phrase);
                text.push('\n');
            }
            text
        })
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(0..TEXT_PIECES.len(), 0..30)
        .prop_map(|t| t.iter().map(|i| TEXT_PIECES[*i]).collect())
}

fn check(list_text: &str, text: &str, n: Normalization) -> Result<(), TestCaseError> {
    check_with(list_text, text, n, Folds::default())
}

fn check_with(
    list_text: &str,
    text: &str,
    n: Normalization,
    folds: Folds,
) -> Result<(), TestCaseError> {
    let list = WordList::parse(list_text, n);
    let sound =
        (!folds.homophones.is_empty() && n != Normalization::OFF).then(|| folds.homophones.clone());
    let filter = Filter::with_folds(&list, n, folds);
    let got: Vec<(String, String, usize, usize)> = filter
        .scan(text)
        .iter()
        .map(|h| (h.word.to_string(), h.category.to_string(), h.start, h.end))
        .collect();
    prop_assert_eq!(
        got,
        expected(&list, text, n, sound.as_ref()),
        "list {:?} text {:?}",
        list_text,
        text
    );
    Ok(())
}

proptest! {
    // The rare shapes (a mixed word after a refused Latin one, two words
    // collapsing alike to spans of one length) need more than the default cases.
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn with_every_normalisation_on_the_filter_finds_what_brute_force_finds(list in word_list(), text in text()) {
        check(&list, &text, Normalization::default())?;
    }

    /// With a category taking homophones, every text and word is matched in
    /// sound keys; words of other categories must still hit exactly as written.
    #[test]
    fn matching_in_sound_keys_finds_what_brute_force_finds_as_written(list in word_list(), text in text()) {
        let folds = Folds {
            homophones: ["sound".to_string()].into(),
            ..Folds::default()
        };
        check_with(&list, &text, Normalization::default(), folds)?;
    }

    /// Category z takes homophones: its words of three characters or more
    /// hit with one character in three swapped for one of the same sound.
    #[test]
    fn with_homophones_the_filter_finds_what_brute_force_finds(list in word_list(), text in text()) {
        let folds = Folds {
            homophones: ["z".to_string()].into(),
            ..Folds::default()
        };
        check_with(&list, &text, Normalization::default(), folds)?;
    }

    #[test]
    fn with_every_normalisation_off_the_filter_finds_what_brute_force_finds(list in word_list(), text in text()) {
        check(&list, &text, Normalization::OFF)?;
    }
}
