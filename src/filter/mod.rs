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

pub mod normalize;
pub mod pinyin;
pub mod rules;
pub mod words;

use std::cell::RefCell;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};

use normalize::{is_cjk, is_numeral, View};
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

/// "None" in the packed tables below.
const NONE: u32 = u32::MAX;

/// A dictionary word as a candidate for one automaton pattern.
///
/// The first word of each pattern sits at the pattern's own index in
/// [`Matcher::words`], so the common case (one word per pattern, no repeated
/// characters) is verified and reported from this one record: with a big
/// dictionary every extra table read per match is a cache miss, and those misses
/// cost more than the checks themselves. Words that collapse to the same
/// pattern follow in a chain after the patterns' first words.
#[derive(Debug)]
struct Word {
    /// The entry as written. Its own allocation, so that a hit borrows it
    /// without reading its bytes.
    text: Box<str>,
    /// The length of each run of the collapsed word is at `counts[counts_at..]`;
    /// NONE when every run is one character.
    counts_at: u32,
    /// The next word that collapses to the same pattern, or NONE.
    next: u32,
    /// On a pattern's first word: the other patterns that are its prefixes,
    /// longest first, at `prefixes[prefixes_at..]` up to a NONE; NONE when there
    /// are none. They are the alternatives at the same start when a candidate
    /// fails its check.
    prefixes_at: u32,
    /// Characters in the collapsed pattern.
    runs: u32,
    /// Bytes in the collapsed pattern.
    pattern_len: u32,
    /// Index into `Matcher::categories`.
    category: u16,
    /// With sound keys on: the character of each run at
    /// `Matcher::spelled[spelled_at..]`, to tell the word as written from a
    /// homophone of it; NONE otherwise.
    spelled_at: u32,
    /// A digest of those characters: a text spelling the word as written is
    /// told from this record alone, without reading `spelled`.
    spelled_digest: u32,
}

/// The digest of run characters [`Word::spelled_digest`] keeps.
fn digest(chars: impl Iterator<Item = char>) -> u32 {
    chars.fold(0x811C_9DC5, |h, c| (h ^ c as u32).wrapping_mul(0x0100_0193))
}

/// One automaton over collapsed words; several words may collapse alike.
struct Matcher {
    /// Charwise double-array Aho-Corasick (`daachorse`): over CJK text it
    /// builds about three times faster than the `aho-corasick` crate's
    /// automaton and searches faster; None when there are no patterns.
    automaton: Option<CharwiseDoubleArrayAhoCorasick<u32>>,
    /// Per automaton pattern its first word, then the chained ones.
    words: Vec<Word>,
    counts: Vec<u32>,
    prefixes: Vec<u32>,
    /// Patterns below this number are Latin (no CJK character): patterns are
    /// numbered Latin first, so the token check knows without a table read.
    latin_patterns: usize,
    categories: Vec<Box<str>>,
    /// ASCII characters that begin a word with a CJK character in it (`qq群`).
    mixed_first: [bool; 128],
    /// Whether patterns and texts are spelled in sound keys
    /// ([`normalize::homophone_key`]): on when any category takes homophones.
    keys: bool,
    /// Per category: whether its words hit through homophones.
    homophones: Vec<bool>,
    /// The words' run characters (see [`Word::spelled_at`]).
    spelled: Vec<char>,
}

/// A verified match: view indices (or byte offsets when nothing is normalised)
/// and the index of the word in [`Matcher::words`].
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    word: u32,
    /// Found through a homophone rather than as written.
    homophone: bool,
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
    /// Collapses `chars` (a text's view, or a dictionary word) into runs; with
    /// `repeats` off every character is its own run. With `keys` each run is
    /// written as its character's sound key: runs stay runs of one character,
    /// so 是事 is two runs that both read as the key of shì.
    fn build(&mut self, chars: impl IntoIterator<Item = char>, repeats: bool, keys: bool) {
        self.text.clear();
        self.start.clear();
        self.len.clear();
        self.run_of_byte.clear();
        let mut chars = chars.into_iter().peekable();
        let mut at = 0;
        let sound = keys.then(normalize::SoundKeys::get);
        while let Some(c) = chars.next() {
            let mut len = 1;
            while repeats && chars.next_if_eq(&c).is_some() {
                len += 1;
            }
            let run = self.start.len() as u32;
            self.start.push(at);
            self.len.push(len);
            let c = sound.map_or(c, |s| s.key(c));
            self.text.push(c);
            self.run_of_byte
                .extend(std::iter::repeat_n(run, c.len_utf8()));
            at += len;
        }
    }
}

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

/// A word's automaton pattern (its runs collapsed when repeats are on), its
/// record, and whether it is Latin; the run lengths go to `counts` unless every
/// run is one character. With nothing normalised the word is taken as written.
fn compile(
    entry: &Entry,
    n: Normalization,
    category: u16,
    counts: &mut Vec<u32>,
    runs: &mut Runs,
    spelled: Option<&mut Vec<char>>,
) -> Option<(String, Word, bool)> {
    let word = if n == Normalization::OFF {
        &entry.word
    } else {
        &entry.normalized
    };
    runs.build(word.chars(), n.repeats, spelled.is_some());
    if runs.text.is_empty() {
        return None;
    }
    let counts_at = if runs.len.iter().all(|c| *c == 1) {
        NONE
    } else {
        counts.extend_from_slice(&runs.len);
        (counts.len() - runs.len.len()) as u32
    };
    let (spelled_at, spelled_digest) = match spelled {
        Some(spelled) => {
            let at = spelled.len();
            let mut chars = word.chars().peekable();
            while let Some(c) = chars.next() {
                while n.repeats && chars.next_if_eq(&c).is_some() {}
                spelled.push(c);
            }
            (at as u32, digest(spelled[at..].iter().copied()))
        }
        None => (NONE, 0),
    };
    let word = Word {
        text: entry.word.as_str().into(),
        counts_at,
        next: NONE,
        prefixes_at: NONE,
        runs: runs.len.len() as u32,
        pattern_len: runs.text.len() as u32,
        category,
        spelled_at,
        spelled_digest,
    };
    Some((runs.text.clone(), word, !runs.text.chars().any(is_cjk)))
}

impl Matcher {
    /// `homophones`: the categories whose words also hit through homophones;
    /// None when no category does (texts are then matched as spelled).
    fn build(
        entries: &[Entry],
        n: Normalization,
        kind: MatchKind,
        homophones: Option<&BTreeSet<String>>,
    ) -> Matcher {
        let keys = homophones.is_some() && n != Normalization::OFF;
        let mut spelled = Vec::new();
        let mut counts = Vec::new();
        let mut categories: Vec<Box<str>> = Vec::new();
        let mut scratch = Runs::default();
        let mut patterns: Vec<String> = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        let mut latin: Vec<bool> = Vec::new();
        for entry in entries {
            let category = match categories.iter().position(|c| **c == *entry.category) {
                Some(c) => c,
                None => {
                    categories.push(entry.category.as_str().into());
                    categories.len() - 1
                }
            };
            if let Some((pattern, word, is_latin)) = compile(
                entry,
                n,
                category as u16,
                &mut counts,
                &mut scratch,
                keys.then_some(&mut spelled),
            ) {
                patterns.push(pattern);
                words.push(word);
                latin.push(is_latin);
            }
        }
        // Patterns are numbered Latin first (their order decides nothing else:
        // they are distinct, so leftmost-longest never ties between them). A
        // word whose pattern is already numbered joins that pattern's chain.
        let mut order: Vec<usize> = (0..patterns.len()).collect();
        order.sort_by_key(|i| !latin[*i]);
        let mut index: HashMap<&str, u32> = HashMap::with_capacity(order.len());
        let mut first: Vec<usize> = Vec::new();
        let mut chained: Vec<(u32, usize)> = Vec::new();
        for i in order {
            match index.entry(&patterns[i]) {
                Slot::Occupied(p) => chained.push((*p.get(), i)),
                Slot::Vacant(slot) => {
                    slot.insert(first.len() as u32);
                    first.push(i);
                }
            }
        }
        let latin_patterns = first.iter().take_while(|i| latin[**i]).count();
        let mut unplaced: Vec<Option<Word>> = words.into_iter().map(Some).collect();
        let mut words: Vec<Word> = first.iter().filter_map(|i| unplaced[*i].take()).collect();
        let mut tail: Vec<u32> = (0..words.len() as u32).collect();
        for (p, i) in chained {
            if let Some(word) = unplaced[i].take() {
                let at = words.len() as u32;
                words.push(word);
                words[tail[p as usize] as usize].next = at;
                tail[p as usize] = at;
            }
        }
        let mut prefixes = Vec::new();
        let mut mixed_first = [false; 128];
        for (p, pattern) in first.iter().map(|i| patterns[*i].as_str()).enumerate() {
            let before = prefixes.len();
            prefixes.extend(
                pattern
                    .char_indices()
                    .rev()
                    .filter(|(b, _)| *b > 0)
                    .filter_map(|(b, _)| index.get(&pattern[..b]).copied()),
            );
            if prefixes.len() > before {
                words[p].prefixes_at = before as u32;
                prefixes.push(NONE);
            }
            if let Some(c) = pattern.chars().next().filter(char::is_ascii) {
                if p >= latin_patterns {
                    mixed_first[c as usize] = true;
                }
            }
        }
        // Patterns are distinct and never empty; an empty list has no automaton.
        let automaton = CharwiseDoubleArrayAhoCorasickBuilder::new()
            .match_kind(kind)
            .build_with_values(
                first
                    .iter()
                    .enumerate()
                    .map(|(p, i)| (&patterns[*i], p as u32)),
            )
            .ok();
        Matcher {
            automaton,
            words,
            counts,
            prefixes,
            latin_patterns,
            homophones: categories
                .iter()
                .map(|c| homophones.is_some_and(|h| h.contains(&**c)))
                .collect(),
            categories,
            mixed_first,
            keys,
            spelled,
        }
    }

    /// The words pattern `p` stands for, with their indices.
    fn chain(&self, p: usize) -> impl Iterator<Item = (u32, &Word)> {
        let mut at = p as u32;
        std::iter::from_fn(move || {
            let word = self.words.get(at as usize)?;
            let this = at;
            at = word.next;
            Some((this, word))
        })
    }

    /// The shorter patterns that are prefixes of pattern `p`, longest first.
    fn prefixes_of(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
        let at = self.words[p].prefixes_at;
        let list = if at == NONE {
            &[][..]
        } else {
            &self.prefixes[at as usize..]
        };
        list.iter()
            .take_while(|id| **id != NONE)
            .map(|id| *id as usize)
    }

    /// The run length word `w` needs at its `k`th run.
    fn need(&self, w: &Word, k: usize) -> u32 {
        if w.counts_at == NONE {
            1
        } else {
            self.counts[w.counts_at as usize + k]
        }
    }

    /// Verified matches, leftmost-longest, in order. `check` turns a pattern
    /// matched at a byte range into a span, or refuses it.
    fn leftmost(
        &self,
        hay: &str,
        out: &mut Vec<Span>,
        check: impl Fn(usize, usize, usize) -> Option<Span>,
        token_start: impl Fn(usize) -> bool,
    ) {
        out.clear();
        let Some(automaton) = &self.automaton else {
            return;
        };
        let mut pos = 0;
        while pos < hay.len() {
            // `pos` is always on a character boundary: a match's end or a
            // character past a refused start.
            let Some(m) = automaton.leftmost_find_iter(&hay[pos..]).next() else {
                break;
            };
            let (start, end) = (pos + m.start(), pos + m.end());
            let longest = m.value() as usize;
            // The next search starts from the end of this one's match, known
            // without a table read: the search waits for nothing.
            let hit = check(longest, start, end)
                .map(|span| (span, end))
                .or_else(|| {
                    self.prefixes_of(longest).find_map(|p| {
                        let end = start + self.words[p].pattern_len as usize;
                        check(p, start, end).map(|span| (span, end))
                    })
                });
            match hit {
                Some((span, end)) => {
                    pos = end;
                    out.push(span);
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

    /// Every verified match, overlapping (for allow phrases, which must cover hits).
    fn all(
        &self,
        hay: &str,
        out: &mut Vec<Span>,
        check: impl Fn(usize, usize, usize) -> Option<Span>,
    ) {
        out.clear();
        let Some(automaton) = &self.automaton else {
            return;
        };
        for m in automaton.find_overlapping_iter(hay) {
            if let Some(span) = check(m.value() as usize, m.start(), m.end()) {
                out.push(span);
            }
        }
    }

    /// The dictionary entry and category of a verified span.
    fn entry(&self, span: &Span) -> (&str, &str) {
        let w = &self.words[span.word as usize];
        (&w.text, &self.categories[w.category as usize])
    }

    fn memory_usage(&self) -> usize {
        self.automaton
            .as_ref()
            .map_or(0, CharwiseDoubleArrayAhoCorasick::heap_bytes)
            + self.words.capacity() * std::mem::size_of::<Word>()
            + (self.counts.capacity() + self.prefixes.capacity()) * 4
            + self.words.iter().map(|w| w.text.len() + 16).sum::<usize>()
            + self.categories.iter().map(|c| c.len() + 16).sum::<usize>()
    }

    /// Checks a match over collapsed runs: run lengths, then token boundaries for
    /// Latin words. Among words collapsing alike, the longest span that fits
    /// wins, the leftmost of equally long ones (so entry order never decides).
    fn check_runs(&self, view: &View, runs: &Runs, p: usize, start_byte: usize) -> Option<Span> {
        let first = runs.run_of_byte[start_byte] as usize;
        // Words collapsing alike share their characters, so Latin or not is the pattern's.
        let latin = p < self.latin_patterns;
        let mut best: Option<Span> = None;
        for (at, w) in self.chain(p) {
            let n = w.runs as usize;
            let last = first + n - 1;
            if w.counts_at != NONE && !(0..n).all(|k| runs.len[first + k] >= self.need(w, k)) {
                continue;
            }
            let (start, end) = if n == 1 {
                let s = runs.start[first];
                (s, s + self.need(w, 0))
            } else {
                (
                    runs.start[first] + runs.len[first] - self.need(w, 0),
                    runs.start[last] + self.need(w, n - 1),
                )
            };
            let (start, end) = (start as usize, end as usize);
            if latin && !whole_token(view, start, end) {
                continue;
            }
            let homophone = match self.keys {
                false => false,
                true => match self.spelled_as(w, view, runs, first) {
                    Spelled::AsWritten => false,
                    Spelled::Homophone => true,
                    Spelled::Otherwise => continue,
                },
            };
            if best.is_none_or(|b| (end - start, b.start) > (b.end - b.start, start)) {
                best = Some(Span {
                    start,
                    end,
                    word: at,
                    homophone,
                });
            }
        }
        best
    }

    /// How the text's runs from `first` spell word `w`, when their sound keys
    /// match: as written, or through homophones the word's category takes
    /// under the length rule ([`homophone_allowed`]).
    fn spelled_as(&self, w: &Word, view: &View, runs: &Runs, first: usize) -> Spelled {
        let n = w.runs as usize;
        let text = (0..n).map(|k| view.chars[runs.start[first + k] as usize]);
        // Equal digests are taken as the same spelling: a collision (about one
        // candidate in four billion) could only pass a text that sounds like
        // the word, since the keys already match.
        if digest(text) == w.spelled_digest {
            return Spelled::AsWritten;
        }
        let word = &self.spelled[w.spelled_at as usize..w.spelled_at as usize + n];
        let swapped = (0..n)
            .filter(|k| view.chars[runs.start[first + k] as usize] != word[*k])
            .count();
        if swapped == 0 {
            Spelled::AsWritten
        } else if self.homophones[w.category as usize] && homophone_allowed(n, swapped) {
            Spelled::Homophone
        } else {
            Spelled::Otherwise
        }
    }

    /// The same over raw text, when nothing is normalised: the pattern is the
    /// word as written, so only a Latin word's neighbours are left to check.
    fn check_raw(&self, text: &str, p: usize, start: usize, end: usize) -> Option<Span> {
        if p < self.latin_patterns {
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
            word: p as u32,
            homophone: false,
        })
    }
}

/// How a text spells a word whose sound keys it matches.
enum Spelled {
    AsWritten,
    Homophone,
    Otherwise,
}

/// The length rule for homophones: a word of three characters or more, at
/// most one character in three swapped. Two-character words never hit by
/// sound: too many everyday phrases sound like one (给技能加威力 holds 加威,
/// which sounds like 加微).
fn homophone_allowed(chars: usize, swapped: usize) -> bool {
    chars >= 3 && swapped * 3 <= chars
}

/// A Latin word's neighbours (after folding) must not be letters or digits; a
/// skipped character between counts as a boundary (`w.e.i.x.i.n` is a token).
fn whole_token(view: &View, start: usize, end: usize) -> bool {
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    let left = start == 0 || view.gap_before[start] || !alnum(start - 1);
    let right = end == view.chars.len() || view.gap_before[end] || !alnum(end);
    left && right
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
