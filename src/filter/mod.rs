//! The sensitive-word filter: a pure library, no I/O. [`Filter::scan`] finds
//! every dictionary word in a text, however it was disguised, and reports each hit
//! with its dictionary entry, its category and its character offsets in the
//! original text.
//!
//! How a text is matched:
//! 1. [`normalize`] folds every character (compatibility forms, case, traditional
//!    and variant characters → simplified, digits of every form, look-alike
//!    letters inside Latin tokens), skips what evasions put between letters, and
//!    keeps newline and CJK clause marks as hard boundaries. When a category
//!    takes homophones, the automaton reads each character as its sound key and
//!    every candidate is checked against the word as written.
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
//! Two more passes add hits where none overlaps: the words listed with digits
//! over a view where Chinese numerals are digits, and [`pinyin`] for words
//! written (partly) in pinyin.
//!
//! [`words`] parses the word list; [`rules`] finds links, phone numbers and
//! WeChat ids.

mod matcher;
pub mod normalize;
pub mod pinyin;
pub mod rules;
pub mod words;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use daachorse::MatchKind;

use matcher::{Matcher, Runs, Span};
use normalize::{is_numeral, View};
pub use normalize::{Normalization, Via};
pub use pinyin::PinyinMode;
use pinyin::{PinyinMatcher, SoundView};
pub use rules::{RuleHit, Rules, LINK};
pub use words::{apply_edit, edit_is_applied, Entry, Remark, WordEdit, WordList};

/// One dictionary word found in a text. It borrows the word and category from
/// the filter, so a hit costs no allocation and no reference count. Its JSON
/// (`qunbot scan`, the log) is `{"word", "category", "start", "end", "via"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Hit<'a> {
    /// The dictionary entry as written in the word list.
    pub word: &'a str,
    pub category: &'a str,
    /// Character offsets into the original text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// The fold that found it.
    pub via: Via,
}

/// The distinct categories of hits as the log keeps them (a `filter.hit` row's
/// `hits`, each `{"category": ...}`), sorted.
pub fn logged_categories(hits: &serde_json::Value) -> Vec<&str> {
    let mut categories: Vec<&str> = hits
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["category"].as_str())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// The folds chosen per category of the word list (`[filter.categories.NAME]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folds {
    /// Categories not named here get [`PinyinMode::Full`].
    pub pinyin: BTreeMap<String, PinyinMode>,
    /// The categories whose words also hit through homophones (`homophones = true`).
    pub homophones: BTreeSet<String>,
}

impl Folds {
    pub fn pinyin(&self, category: &str) -> PinyinMode {
        self.pinyin.get(category).copied().unwrap_or_default()
    }
}

/// Per-thread buffers for a scan, reused between texts.
#[derive(Default)]
struct Scratch {
    view: View,
    runs: Runs,
    found: Vec<Span>,
    allowed: Vec<Span>,
    /// The same for the numerals view (see [`Filter::numerals`]).
    numeral_view: View,
    numeral_runs: Runs,
    numeral_found: Vec<Span>,
    sound: SoundView,
    pinyin_found: Vec<pinyin::Found>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A compiled word list.
pub struct Filter {
    normalization: Normalization,
    folds: Folds,
    deny: Matcher,
    allow: Matcher,
    /// The deny words listed with digits, matched a second time in a view
    /// where Chinese numerals are digits (`加q一二三四五` hits `加q12345`), only
    /// when the text has a numeral: no other word ever sees 一 as 1.
    numerals: Matcher,
    /// The pinyin forms of the deny words (see [`pinyin`]); None when no word has one.
    pinyin: Option<PinyinMatcher>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filter({} words, {:?})", self.len(), self.normalization)
    }
}

impl Filter {
    /// Compiles `list` with every category's folds at their defaults.
    pub fn new(list: &WordList, normalization: Normalization) -> Filter {
        Filter::with_folds(list, normalization, Folds::default())
    }

    /// Compiles `list`. The deny automaton, the biggest piece, is built on
    /// this thread while the others are built on a second one.
    pub fn with_folds(list: &WordList, normalization: Normalization, folds: Folds) -> Filter {
        let folding = normalization != Normalization::OFF;
        let sounds = (folding && !folds.homophones.is_empty()).then_some(&folds.homophones);
        let (deny, (allow, numerals, pinyin)) = std::thread::scope(|scope| {
            let rest = scope.spawn(|| {
                let with_digits: Vec<Entry> = if folding {
                    list.deny
                        .iter()
                        .filter(|e| e.normalized.chars().any(|c| c.is_ascii_digit()))
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                (
                    Matcher::build(&list.allow, normalization, MatchKind::Standard, sounds),
                    Matcher::build(
                        &with_digits,
                        normalization,
                        MatchKind::LeftmostLongest,
                        sounds,
                    ),
                    folding
                        .then(|| PinyinMatcher::build(&list.deny, |c| folds.pinyin(c)))
                        .flatten(),
                )
            });
            let deny = Matcher::build(
                &list.deny,
                normalization,
                MatchKind::LeftmostLongest,
                sounds,
            );
            (
                deny,
                rest.join().expect("building the filter's other automata"),
            )
        });
        Filter {
            normalization,
            folds,
            deny,
            allow,
            numerals,
            pinyin,
        }
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    pub fn folds(&self) -> &Folds {
        &self.folds
    }

    /// The automaton kind in use (for benchmarks).
    pub fn automaton_kind(&self) -> String {
        "daachorse charwise double-array".to_string()
    }

    /// How many deny words are compiled.
    pub fn len(&self) -> usize {
        self.deny.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deny.words.is_empty()
    }

    /// Heap bytes held by the compiled automata and word tables.
    pub fn memory_usage(&self) -> usize {
        self.deny.memory_usage()
            + self.allow.memory_usage()
            + self.numerals.memory_usage()
            + self.pinyin.as_ref().map_or(0, PinyinMatcher::memory_usage)
    }

    /// What the live filter finds in `text`: this filter's word hits, then
    /// `rules`' (links, phone numbers, WeChat ids) as category `link`. The
    /// daemon, `/words test` and `qunbot scan` all judge a text by this.
    pub fn scan_with<'a>(&'a self, rules: Option<&'a Rules>, text: &str) -> Vec<Hit<'a>> {
        let mut hits = self.scan(text);
        if let Some(rules) = rules {
            hits.extend(rules.find(text).into_iter().map(|r| Hit {
                word: r.rule,
                category: LINK,
                start: r.start,
                end: r.end,
                via: Via::Rule,
            }));
        }
        hits
    }

    /// Every deny hit in `text`, leftmost-longest, in text order.
    pub fn scan(&self, text: &str) -> Vec<Hit<'_>> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                view,
                runs,
                found,
                allowed,
                numeral_view,
                numeral_runs,
                numeral_found,
                sound,
                pinyin_found,
            } = &mut *scratch;
            if self.normalization == Normalization::OFF {
                return self.scan_raw(text, found, allowed);
            }
            view.build(text, self.normalization);
            let mut hits = self.scan_view(&self.deny, view, runs, found, allowed);
            if !self.numerals.words.is_empty()
                && view
                    .chars
                    .windows(2)
                    .any(|w| is_numeral(w[1]) && is_numeral(w[0]))
            {
                numeral_view.build_numerals(text, self.normalization);
                let more = self.scan_view(
                    &self.numerals,
                    numeral_view,
                    numeral_runs,
                    numeral_found,
                    allowed,
                );
                // A hit of the plain view stands; a numerals hit is added where
                // none overlaps it, and only when two numerals side by side spell
                // its digits: a number written out, never a lone 十 or 一 of prose.
                let before = hits.len();
                for hit in more {
                    if numeral_view.numerals_side_by_side(hit.start, hit.end)
                        && !hits[..before]
                            .iter()
                            .any(|h| h.start < hit.end && hit.start < h.end)
                    {
                        hits.push(hit);
                    }
                }
                if hits.len() > before {
                    hits.sort_by_key(|h| (h.start, h.end));
                }
            }
            if let Some(pinyin) = self
                .pinyin
                .as_ref()
                .filter(|_| !view.letter_runs.is_empty())
            {
                pinyin.scan(view, sound, pinyin_found);
                if !pinyin_found.is_empty() {
                    self.add_pinyin_hits(pinyin, view, runs, pinyin_found, allowed, &mut hits);
                }
            }
            hits
        })
    }

    /// Adds the pinyin matches that no allow phrase covers and no other hit
    /// overlaps: a word found as written stands.
    fn add_pinyin_hits<'f>(
        &'f self,
        pinyin: &'f PinyinMatcher,
        view: &View,
        runs: &Runs,
        found: &[pinyin::Found],
        allowed: &mut Vec<Span>,
        hits: &mut Vec<Hit<'f>>,
    ) {
        // `runs` still holds the main view's runs from the deny scan.
        self.allow.all(&runs.text, allowed, |p, s, _| {
            self.allow.check_runs(view, runs, p, s)
        });
        let before = hits.len();
        for f in found {
            if allowed.iter().any(|a| a.start <= f.start && f.end <= a.end) {
                continue;
            }
            let (start, end) = (
                view.origin[f.start] as usize,
                view.origin[f.end - 1] as usize + 1,
            );
            if hits[..before]
                .iter()
                .any(|h| h.start < end && start < h.end)
            {
                continue;
            }
            let (word, category) = pinyin.entry(f);
            hits.push(Hit {
                word,
                category,
                start,
                end,
                via: Via::Pinyin,
            });
        }
        if hits.len() > before {
            hits.sort_by_key(|h| (h.start, h.end));
        }
    }

    /// Nothing to fold: search the text as it is, offsets in bytes.
    fn scan_raw(&self, text: &str, found: &mut Vec<Span>, allowed: &mut Vec<Span>) -> Vec<Hit<'_>> {
        let token_start = |p: usize| {
            !text[..p]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        };
        self.deny.leftmost(
            text,
            found,
            |p, s, e| self.deny.check_raw(text, p, s, e),
            token_start,
        );
        if found.is_empty() {
            return Vec::new();
        }
        self.allow
            .all(text, allowed, |p, s, e| self.allow.check_raw(text, p, s, e));
        // Spans come in text order: count characters from the previous one.
        let mut counted = (0, 0);
        let mut to_char = |byte: usize| {
            let (from_byte, from_char) = counted;
            let chars = from_char + text[from_byte..byte].chars().count();
            counted = (byte, chars);
            chars
        };
        self.hits(&self.deny, found, allowed, |s| {
            (to_char(s.start), to_char(s.end), Via::Exact)
        })
    }

    /// The hits of `matcher` in a text's normalised `view`.
    fn scan_view<'f>(
        &'f self,
        matcher: &'f Matcher,
        view: &View,
        runs: &mut Runs,
        found: &mut Vec<Span>,
        allowed: &mut Vec<Span>,
    ) -> Vec<Hit<'f>> {
        runs.build(
            view.chars.iter().copied(),
            self.normalization.repeats,
            self.deny.keys,
        );
        let runs = &*runs;
        // A token may start at a run's first character, or inside a run whose
        // repeats a skipped separator splits ("aba ab" collapses "a a" into one run).
        let token_start = |p: usize| {
            let run = runs.run_of_byte[p] as usize;
            let (at, len) = (runs.start[run] as usize, runs.len[run] as usize);
            at == 0
                || !view.chars[at - 1].is_ascii_alphanumeric()
                || view.gap_before[at..at + len].iter().any(|gap| *gap)
        };
        matcher.leftmost(
            &runs.text,
            found,
            |p, s, _| matcher.check_runs(view, runs, p, s),
            token_start,
        );
        if found.is_empty() {
            return Vec::new();
        }
        self.allow.all(&runs.text, allowed, |p, s, _| {
            self.allow.check_runs(view, runs, p, s)
        });
        self.hits(matcher, found, allowed, |s| {
            (
                view.origin[s.start] as usize,
                view.origin[s.end - 1] as usize + 1,
                if s.homophone {
                    Via::Homophone
                } else {
                    view.via(s.start, s.end)
                },
            )
        })
    }

    /// The found spans no allow phrase covers, as hits; `place` gives a span's
    /// character offsets in the original text and how it was found, called in
    /// text order.
    fn hits<'f>(
        &'f self,
        matcher: &'f Matcher,
        found: &[Span],
        allowed: &[Span],
        mut place: impl FnMut(&Span) -> (usize, usize, Via),
    ) -> Vec<Hit<'f>> {
        found
            .iter()
            .filter(|span| {
                !allowed
                    .iter()
                    .any(|a| a.start <= span.start && span.end <= a.end)
            })
            .map(|span| {
                let (start, end, via) = place(span);
                let (word, category) = matcher.entry(span);
                Hit {
                    word,
                    category,
                    start,
                    end,
                    via,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
