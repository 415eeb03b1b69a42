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

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

pub use normalize::Normalization;
use normalize::{is_cjk, View};
pub use words::{Entry, Remark, WordList};

/// One dictionary word found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The dictionary entry as written in the word list.
    pub word: String,
    pub category: String,
    /// Character offsets into the original text, end exclusive.
    pub start: usize,
    pub end: usize,
}

/// A dictionary word, compiled.
#[derive(Debug)]
struct Variant {
    entry: usize,
    /// Length of each run of the collapsed word.
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
}

/// A verified match in normalised-view indices.
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

fn collapse(word: &str, n: Normalization) -> (String, Vec<u32>, bool) {
    let mut view = View::default();
    view.build(word, n);
    let mut runs = Runs::default();
    runs.build(&view.chars, n.repeats);
    let latin = !view.chars.iter().any(|c| is_cjk(*c));
    (runs.text, runs.len, latin)
}

impl Matcher {
    fn build(entries: &[Entry], n: Normalization) -> Matcher {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut variants: Vec<Vec<Variant>> = Vec::new();
        for (entry, e) in entries.iter().enumerate() {
            let (text, counts, latin) = collapse(&e.word, n);
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
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
            })
            .unwrap_or_else(|_| {
                AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton builds")
            });
        Matcher {
            automaton,
            variants,
        }
    }

    /// Every verified match, in any order.
    fn find(&self, view: &View, runs: &Runs, out: &mut Vec<Span>) {
        out.clear();
        for m in self.automaton.find_overlapping_iter(runs.text.as_str()) {
            let first = runs.run_of_byte[m.start()] as usize;
            let last = runs.run_of_byte[m.end() - 1] as usize;
            for v in &self.variants[m.pattern().as_usize()] {
                let fits = v
                    .counts
                    .iter()
                    .zip(first..=last)
                    .all(|(need, run)| runs.len[run] >= *need);
                if !fits {
                    continue;
                }
                let (start, end) = if first == last {
                    let s = runs.start[first] as usize;
                    (s, s + v.counts[0] as usize)
                } else {
                    let s = (runs.start[first] + runs.len[first] - v.counts[0]) as usize;
                    let e = (runs.start[last] + v.counts[v.counts.len() - 1]) as usize;
                    (s, e)
                };
                if v.latin && !whole_token(view, start, end) {
                    continue;
                }
                out.push(Span {
                    start,
                    end,
                    entry: v.entry,
                });
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
    }
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
#[derive(Debug)]
pub struct Filter {
    normalization: Normalization,
    deny: Matcher,
    allow: Matcher,
    deny_entries: Vec<Entry>,
}

impl Filter {
    pub fn new(list: &WordList, normalization: Normalization) -> Filter {
        Filter {
            normalization,
            deny: Matcher::build(&list.deny, normalization),
            allow: Matcher::build(&list.allow, normalization),
            deny_entries: list.deny.clone(),
        }
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
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
                .map(|e| e.word.capacity() + e.category.capacity() + std::mem::size_of::<Entry>())
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
            view.build(text, self.normalization);
            runs.build(&view.chars, self.normalization.repeats);
            self.deny.find(view, runs, found);
            if found.is_empty() {
                return Vec::new();
            }
            found.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
            if !self.allow.variants.is_empty() {
                self.allow.find(view, runs, allowed);
            } else {
                allowed.clear();
            }
            let mut hits = Vec::new();
            let mut taken_to = 0;
            for span in found.iter() {
                if span.start < taken_to {
                    continue;
                }
                if allowed
                    .iter()
                    .any(|a| a.start <= span.start && span.end <= a.end)
                {
                    continue;
                }
                taken_to = span.end;
                let entry = &self.deny_entries[span.entry];
                hits.push(Hit {
                    word: entry.word.clone(),
                    category: entry.category.clone(),
                    start: view.origin[span.start] as usize,
                    end: view.origin[span.end - 1] as usize + 1,
                });
            }
            hits
        })
    }
}

#[cfg(test)]
mod tests;
