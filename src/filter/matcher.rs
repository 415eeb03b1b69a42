//! The compiled automaton behind [`Filter`](super::Filter): each word's packed
//! record and run lengths, the Aho-Corasick tables over collapsed patterns, and
//! the checks (run lengths, whole tokens, homophones) a candidate must pass.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap};

use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};

use super::normalize::{self, is_cjk, Normalization, View};
use super::words::Entry;

/// "None" in the packed tables below.
pub(super) const NONE: u32 = u32::MAX;

/// A dictionary word as a candidate for one automaton pattern.
///
/// The first word of each pattern sits at the pattern's own index in
/// [`Matcher::words`], so the common case (one word per pattern, no repeated
/// characters) is verified and reported from this one record: with a big
/// dictionary every extra table read per match is a cache miss, and those misses
/// cost more than the checks themselves. Words that collapse to the same
/// pattern follow in a chain after the patterns' first words.
#[derive(Debug)]
pub(super) struct Word {
    /// The entry as written. Its own allocation, so that a hit borrows it
    /// without reading its bytes.
    pub(super) text: Box<str>,
    /// The length of each run of the collapsed word is at `counts[counts_at..]`;
    /// NONE when every run is one character.
    pub(super) counts_at: u32,
    /// The next word that collapses to the same pattern, or NONE.
    pub(super) next: u32,
    /// On a pattern's first word: the other patterns that are its prefixes,
    /// longest first, at `prefixes[prefixes_at..]` up to a NONE; NONE when there
    /// are none. They are the alternatives at the same start when a candidate
    /// fails its check.
    pub(super) prefixes_at: u32,
    /// Characters in the collapsed pattern.
    pub(super) runs: u32,
    /// Bytes in the collapsed pattern.
    pub(super) pattern_len: u32,
    /// Index into `Matcher::categories`.
    pub(super) category: u16,
    /// With sound keys on: the character of each run at
    /// `Matcher::spelled[spelled_at..]`, to tell the word as written from a
    /// homophone of it; NONE otherwise.
    pub(super) spelled_at: u32,
    /// A digest of those characters: a text spelling the word as written is
    /// told from this record alone, without reading `spelled`.
    pub(super) spelled_digest: u32,
}

/// The digest of run characters [`Word::spelled_digest`] keeps.
pub(super) fn digest(chars: impl Iterator<Item = char>) -> u32 {
    chars.fold(0x811C_9DC5, |h, c| (h ^ c as u32).wrapping_mul(0x0100_0193))
}

/// One automaton over collapsed words; several words may collapse alike.
pub(super) struct Matcher {
    /// Charwise double-array Aho-Corasick (`daachorse`): over CJK text it
    /// builds about three times faster than the `aho-corasick` crate's
    /// automaton and searches faster; None when there are no patterns.
    pub(super) automaton: Option<CharwiseDoubleArrayAhoCorasick<u32>>,
    /// Per automaton pattern its first word, then the chained ones.
    pub(super) words: Vec<Word>,
    pub(super) counts: Vec<u32>,
    pub(super) prefixes: Vec<u32>,
    /// Patterns below this number are Latin (no CJK character): patterns are
    /// numbered Latin first, so the token check knows without a table read.
    pub(super) latin_patterns: usize,
    pub(super) categories: Vec<Box<str>>,
    /// ASCII characters that begin a word with a CJK character in it (`qq群`).
    pub(super) mixed_first: [bool; 128],
    /// Whether patterns and texts are spelled in sound keys
    /// ([`normalize::homophone_key`]): on when any category takes homophones.
    pub(super) keys: bool,
    /// Per category: whether its words hit through homophones.
    pub(super) homophones: Vec<bool>,
    /// The words' run characters (see [`Word::spelled_at`]).
    pub(super) spelled: Vec<char>,
}

/// A verified match: view indices (or byte offsets when nothing is normalised)
/// and the index of the word in [`Matcher::words`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) word: u32,
    /// Found through a homophone rather than as written.
    pub(super) homophone: bool,
}

/// The collapsed text: one character per run, with the runs' places in the view.
#[derive(Debug, Default)]
pub(super) struct Runs {
    pub(super) text: String,
    /// First view index of each run.
    pub(super) start: Vec<u32>,
    pub(super) len: Vec<u32>,
    /// For each byte of `text`, the run it belongs to.
    pub(super) run_of_byte: Vec<u32>,
}

impl Runs {
    /// Collapses `chars` (a text's view, or a dictionary word) into runs; with
    /// `repeats` off every character is its own run. With `keys` each run is
    /// written as its character's sound key: runs stay runs of one character,
    /// so 是事 is two runs that both read as the key of shì.
    pub(super) fn build(
        &mut self,
        chars: impl IntoIterator<Item = char>,
        repeats: bool,
        keys: bool,
    ) {
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

/// A word's automaton pattern (its runs collapsed when repeats are on), its
/// record, and whether it is Latin; the run lengths go to `counts` unless every
/// run is one character. With nothing normalised the word is taken as written.
pub(super) fn compile(
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

/// Every entry's pattern, record and Latin flag in list order, with the tables
/// [`compile`] fills as it goes.
struct Compiled {
    patterns: Vec<String>,
    words: Vec<Word>,
    latin: Vec<bool>,
    counts: Vec<u32>,
    categories: Vec<Box<str>>,
    spelled: Vec<char>,
}

impl Compiled {
    fn new(entries: &[Entry], n: Normalization, keys: bool) -> Compiled {
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
        Compiled {
            patterns,
            words,
            latin,
            counts,
            categories,
            spelled,
        }
    }
}

impl Matcher {
    /// `homophones`: the categories whose words also hit through homophones;
    /// None when no category does (texts are then matched as spelled).
    pub(super) fn build(
        entries: &[Entry],
        n: Normalization,
        kind: MatchKind,
        homophones: Option<&BTreeSet<String>>,
    ) -> Matcher {
        let keys = homophones.is_some() && n != Normalization::OFF;
        let Compiled {
            patterns,
            words,
            latin,
            counts,
            categories,
            spelled,
        } = Compiled::new(entries, n, keys);
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
    pub(super) fn chain(&self, p: usize) -> impl Iterator<Item = (u32, &Word)> {
        let mut at = p as u32;
        std::iter::from_fn(move || {
            let word = self.words.get(at as usize)?;
            let this = at;
            at = word.next;
            Some((this, word))
        })
    }

    /// The shorter patterns that are prefixes of pattern `p`, longest first.
    pub(super) fn prefixes_of(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
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
    pub(super) fn need(&self, w: &Word, k: usize) -> u32 {
        if w.counts_at == NONE {
            1
        } else {
            self.counts[w.counts_at as usize + k]
        }
    }

    /// Verified matches, leftmost-longest, in order. `check` turns a pattern
    /// matched at a byte range into a span, or refuses it.
    pub(super) fn leftmost(
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
    pub(super) fn all(
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
    pub(super) fn entry(&self, span: &Span) -> (&str, &str) {
        let w = &self.words[span.word as usize];
        (&w.text, &self.categories[w.category as usize])
    }

    pub(super) fn memory_usage(&self) -> usize {
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
    pub(super) fn check_runs(
        &self,
        view: &View,
        runs: &Runs,
        p: usize,
        start_byte: usize,
    ) -> Option<Span> {
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
    pub(super) fn spelled_as(&self, w: &Word, view: &View, runs: &Runs, first: usize) -> Spelled {
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
    pub(super) fn check_raw(&self, text: &str, p: usize, start: usize, end: usize) -> Option<Span> {
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
pub(super) enum Spelled {
    AsWritten,
    Homophone,
    Otherwise,
}

/// The length rule for homophones: a word of three characters or more, at
/// most one character in three swapped. Two-character words never hit by
/// sound: too many everyday phrases sound like one (给技能加威力 holds 加威,
/// which sounds like 加微).
pub(super) fn homophone_allowed(chars: usize, swapped: usize) -> bool {
    chars >= 3 && swapped * 3 <= chars
}

/// A Latin word's neighbours (after folding) must not be letters or digits; a
/// skipped character between counts as a boundary (`w.e.i.x.i.n` is a token).
pub(super) fn whole_token(view: &View, start: usize, end: usize) -> bool {
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    let left = start == 0 || view.gap_before[start] || !alnum(start - 1);
    let right = end == view.chars.len() || view.gap_before[end] || !alnum(end);
    left && right
}
