//! [`PinyinMatcher`]: the anchors of every eligible word in one automaton over
//! the sound view, and the walk that verifies a word outwards from an anchor.

use std::collections::HashMap;

use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, MatchKind};

use super::*;
use crate::filter::normalize::{is_cjk, Via, View};
use crate::filter::words::Entry;

/// A word an anchor stands in.
#[derive(Debug)]
struct Form {
    /// Index into [`PinyinMatcher::entries`].
    entry: u32,
    /// The word's character the anchor starts at.
    at: u8,
    /// The word's characters just before and just after the anchor ('\0':
    /// none), kept here so that most candidates are refused without reading
    /// the word: the text's neighbour is a character, and not this one.
    before: char,
    after: char,
    /// The letters a reading of `before` can end with, and one of `after` can
    /// begin with, a bit each: the same refusal where the neighbour is Latin.
    before_ends: u32,
    after_begins: u32,
    /// Whether the anchor spells initials (`jw`) rather than readings.
    initials: bool,
}

/// One eligible word.
#[derive(Debug)]
struct Word {
    /// As listed.
    text: Box<str>,
    category: u16,
    /// Its characters (folded) at `PinyinMatcher::chars[at..at + len]`.
    at: u32,
    len: u8,
}

/// The anchors of every eligible word, and what each stands for.
pub struct PinyinMatcher {
    /// Over the sound view's bytes (ASCII letters): a bytewise double array.
    automaton: DoubleArrayAhoCorasick<u32>,
    /// Every anchor's forms, pattern by pattern: pattern `p`'s are
    /// `forms[first_form[p]..first_form[p + 1]]`.
    forms: Vec<Form>,
    first_form: Vec<u32>,
    chars: Vec<char>,
    entries: Vec<Word>,
    categories: Vec<Box<str>>,
    /// The longest initials pattern, in letters; 0 when no category asks for initials.
    initials_up_to: usize,
}

impl std::fmt::Debug for PinyinMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinyinMatcher({} forms)", self.forms.len())
    }
}

/// A verified pinyin match: view indices, end exclusive, and the entry.
#[derive(Clone, Copy, Debug)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    entry: u32,
}

/// The anchors of each two neighbouring characters of `word` (entry `e`),
/// every reading of each.
fn pair_anchors(word: &[char], e: u32, add: &mut impl FnMut(String, Form)) {
    for k in 0..word.len() - 1 {
        let pair: Vec<Vec<&str>> = word[k..k + 2]
            .iter()
            .map(|c| readings(*c).collect())
            .collect();
        for spelling in combinations(&pair, MAX_ANCHORS_PER_WORD) {
            let form = Form {
                entry: e,
                at: k as u8,
                before: k.checked_sub(1).map_or('\0', |b| word[b]),
                after: word.get(k + 2).copied().unwrap_or('\0'),
                before_ends: k.checked_sub(1).map_or(0, |b| letters(word[b], false)),
                after_begins: word.get(k + 2).map_or(0, |c| letters(*c, true)),
                initials: false,
            };
            add(spelling.concat(), form);
        }
    }
}

/// The anchors spelling `word`'s initials (`jw`), every initial of each character.
fn initials_anchors(word: &[char], e: u32, add: &mut impl FnMut(String, Form)) {
    let initials: Vec<Vec<&str>> = word
        .iter()
        .map(|c| {
            let mut firsts: Vec<&str> = readings(*c).map(|r| &r[..1]).collect();
            firsts.sort_unstable();
            firsts.dedup();
            firsts
        })
        .collect();
    for spelling in combinations(&initials, MAX_ANCHORS_PER_WORD) {
        let form = Form {
            entry: e,
            at: 0,
            before: '\0',
            after: '\0',
            before_ends: 0,
            after_begins: 0,
            initials: true,
        };
        add(spelling.concat(), form);
    }
}

impl PinyinMatcher {
    /// The pinyin forms of `deny`'s words whose category's mode (by `mode`) is
    /// not off; None when no word has one.
    pub fn build(deny: &[Entry], mode: impl Fn(&str) -> PinyinMode) -> Option<PinyinMatcher> {
        let mut patterns: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut forms: Vec<(u32, Form)> = Vec::new();
        let mut chars: Vec<char> = Vec::new();
        let mut entries: Vec<Word> = Vec::new();
        let mut categories: Vec<Box<str>> = Vec::new();
        let mut initials_up_to = 0;
        let mut add = |pattern: String, form: Form| {
            let p = match index.get(&pattern) {
                Some(p) => *p,
                None => {
                    let p = patterns.len() as u32;
                    index.insert(pattern.clone(), p);
                    patterns.push(pattern);
                    p
                }
            };
            forms.push((p, form));
        };
        for entry in deny {
            let mode = mode(&entry.category);
            let word: Vec<char> = entry.normalized.chars().collect();
            if mode == PinyinMode::Off
                || word.len() < 2
                || word.len() > MAX_PINYIN_CHARS
                || !word
                    .iter()
                    .all(|c| is_cjk(*c) && readings(*c).next().is_some())
            {
                continue;
            }
            let category = match categories.iter().position(|c| **c == *entry.category) {
                Some(c) => c,
                None => {
                    categories.push(entry.category.as_str().into());
                    categories.len() - 1
                }
            } as u16;
            let e = entries.len() as u32;
            entries.push(Word {
                text: entry.word.as_str().into(),
                category,
                at: chars.len() as u32,
                len: word.len() as u8,
            });
            chars.extend(&word);
            pair_anchors(&word, e, &mut add);
            if mode == PinyinMode::Initials {
                initials_up_to = initials_up_to.max(word.len());
                initials_anchors(&word, e, &mut add);
            }
        }
        if patterns.is_empty() {
            return None;
        }
        // Each anchor's forms side by side: a candidate reads them in one sweep
        // of memory, most refused by their own neighbour characters.
        forms.sort_by_key(|(p, _)| *p);
        let mut first_form = vec![0u32; patterns.len() + 1];
        for (p, _) in &forms {
            first_form[*p as usize + 1] += 1;
        }
        for p in 0..patterns.len() {
            first_form[p + 1] += first_form[p];
        }
        let forms: Vec<Form> = forms.into_iter().map(|(_, form)| form).collect();
        // Built on the second thread while the main automaton is built.
        let automaton = DoubleArrayAhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build_with_values(patterns.iter().enumerate().map(|(p, a)| (a, p as u32)))
            .ok()?;
        Some(PinyinMatcher {
            automaton,
            forms,
            first_form,
            chars,
            entries,
            categories,
            initials_up_to,
        })
    }

    pub fn memory_usage(&self) -> usize {
        self.automaton.heap_bytes()
            + self.forms.capacity() * std::mem::size_of::<Form>()
            + self.first_form.capacity() * 4
            + self.chars.capacity() * 4
            + self
                .entries
                .iter()
                .map(|e| e.text.len() + 32)
                .sum::<usize>()
    }

    /// The listed word and category of a found match.
    pub fn entry(&self, found: &Found) -> (&str, &str) {
        let word = &self.entries[found.entry as usize];
        (&word.text, &self.categories[word.category as usize])
    }

    /// Every pinyin match in `view`, verified, leftmost-longest. Only the
    /// stretches around a run of ASCII letters that could be pinyin (one that
    /// splits into syllables, or short enough to be initials) are read: a
    /// match holds at least one such letter and is at most
    /// [`MAX_PINYIN_CHARS`] characters long.
    pub fn scan(&self, view: &View, sound: &mut SoundView, out: &mut Vec<Found>) {
        out.clear();
        // A word reaches past a run by at most its other characters, each a
        // character or up to six letters.
        let mut candidates: Vec<Found> = Vec::new();
        let mut run: Vec<u8> = std::mem::take(&mut sound.run);
        let runs = &view.letter_runs;
        // A Latin part of a match is whole runs side by side with only skipped
        // characters between them (`jia wei`, `j i a`): look for stretches of
        // runs whose letters split into syllables, or could be initials. An
        // anchor with a letter of one in it starts at most one element before it.
        let mut anchored: Vec<std::ops::Range<usize>> = Vec::new();
        for first in 0..runs.len() {
            // The letters of this run and the runs joined after it (across
            // skipped characters only), split into syllables once.
            run.clear();
            let mut ends = Vec::new();
            let mut last = first;
            loop {
                let r = &runs[last];
                run.extend(
                    view.chars[r.start as usize..r.end as usize]
                        .iter()
                        .map(|c| c.to_ascii_lowercase() as u8),
                );
                ends.push(run.len());
                let joins = runs.get(last + 1).is_some_and(|next| {
                    next.start == r.end && view.gap_before[next.start as usize]
                });
                if !joins || run.len() >= MAX_PINYIN_LETTERS {
                    break;
                }
                last += 1;
            }
            // Most English runs die within their first letters (no syllable
            // begins with "ht" or "i"): a few lookups each.
            let splits = segment(&run);
            let start = runs[first].start as usize;
            for end in ends {
                let spells =
                    end <= self.initials_up_to || (end <= MAX_PINYIN_LETTERS && splits[end]);
                if spells {
                    let range = start.saturating_sub(1)..start + end + 1;
                    match anchored.last_mut() {
                        Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                        _ => anchored.push(range),
                    }
                }
            }
        }
        if !anchored.is_empty() {
            // One sound view of the whole text: a word may reach any way from its letters.
            sound.build(view, 0..view.chars.len());
            for range in anchored {
                let anchors = sound.bytes_of(range);
                self.candidates(view, sound, anchors, &mut candidates);
            }
        }
        sound.run = run;
        // Of matches with one span, the word listed first.
        candidates.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end), f.entry));
        let mut reached = 0;
        for found in candidates {
            if found.start >= reached {
                reached = found.end;
                out.push(found);
            }
        }
    }

    /// The verified matches of every anchor in the sound view.
    fn candidates(
        &self,
        view: &View,
        sound: &SoundView,
        anchors: std::ops::Range<usize>,
        out: &mut Vec<Found>,
    ) {
        // Anchors that start among `anchors`, so end at most two readings of
        // six letters later (matches come in order of their ends, so those
        // starting later are passed over, not cut off).
        let from = anchors.start;
        let to = (anchors.end + 12).min(sound.text.len());
        for m in self
            .automaton
            .find_overlapping_iter(&sound.text.as_bytes()[from..to])
        {
            let (start, end) = (from + m.start(), from + m.end());
            if start >= anchors.end {
                continue;
            }
            if !sound.element[start..end]
                .iter()
                .any(|e| view.chars[*e as usize].is_ascii_alphabetic())
            {
                continue;
            }
            let p = m.value() as usize;
            let forms = &self.forms[self.first_form[p] as usize..self.first_form[p + 1] as usize];
            for form in forms {
                out.extend(self.verify(view, sound, form, start, end));
            }
        }
    }

    /// Walks the word of `form` outwards from its anchor at byte `anchor` of
    /// the sound view: each character is the word's own character in the text
    /// (one whole element) or Latin letters spelling one of its readings (its
    /// initial, for an initials form). The Latin letters at either end must
    /// make whole tokens; the longest walk that fits wins. A name's last
    /// syllable before a sentence (`Zhang Wei 大家好`) is not half of a word:
    /// pinyin and characters must touch, and a match written like a name is none.
    fn verify(
        &self,
        view: &View,
        sound: &SoundView,
        form: &Form,
        anchor: usize,
        anchor_end: usize,
    ) -> Option<Found> {
        if !sound.starts(anchor) || !self.neighbours_may_fit(view, sound, form, anchor, anchor_end)
        {
            return None;
        }
        let word = &self.entries[form.entry as usize];
        let chars = &self.chars[word.at as usize..word.at as usize + word.len as usize];
        let (before, from_anchor) = chars.split_at(form.at as usize);
        let mut start: Option<usize> = None;
        self.walk(
            view,
            sound,
            before,
            form.initials,
            anchor,
            false,
            &mut |b| {
                if whole_token_start(view, sound.element[b] as usize) && start.is_none_or(|s| b < s)
                {
                    start = Some(b);
                }
            },
        );
        let start = start?;
        let mut end: Option<usize> = None;
        self.walk(
            view,
            sound,
            from_anchor,
            form.initials,
            anchor,
            true,
            &mut |e| {
                if whole_token_end(view, sound.element[e - 1] as usize) && end.is_none_or(|b| e > b)
                {
                    end = Some(e);
                }
            },
        );
        let found = Found {
            start: sound.element[start] as usize,
            end: sound.element[end? - 1] as usize + 1,
            entry: form.entry,
        };
        let apart = (found.start + 1..found.end).any(|i| {
            view.gap_before[i]
                && view.chars[i - 1].is_ascii_alphabetic() != view.chars[i].is_ascii_alphabetic()
        });
        (!apart && !written_like_a_name(view, found.start, found.end)).then_some(found)
    }

    /// A quick refusal: the word goes on past the anchor, but the text there
    /// ends, or holds a character that is not the word's.
    fn neighbours_may_fit(
        &self,
        view: &View,
        sound: &SoundView,
        form: &Form,
        anchor: usize,
        anchor_end: usize,
    ) -> bool {
        let fits = |want: char, spelled: u32, at: Option<usize>| {
            if want == '\0' {
                return true;
            }
            match at.and_then(|b| sound.element.get(b)) {
                None => false,
                Some(e) => {
                    let have = view.chars[*e as usize];
                    if have.is_ascii_alphabetic() {
                        spelled & letter_bit(have) != 0
                    } else {
                        have == want
                    }
                }
            }
        };
        fits(form.before, form.before_ends, anchor.checked_sub(1))
            && fits(form.after, form.after_begins, Some(anchor_end))
    }

    /// Calls `each` with the bytes one character can take of the sound view
    /// at byte `b` (forwards) or up to it (backwards): the Latin spellings of
    /// its readings there (initials: its initial), or the whole element when
    /// it is the character itself.
    #[allow(clippy::too_many_arguments)]
    fn spellings_at(
        &self,
        view: &View,
        sound: &SoundView,
        c: char,
        initials: bool,
        b: usize,
        forward: bool,
        each: &mut impl FnMut(usize),
    ) {
        let element = if forward {
            sound.element.get(b)
        } else {
            b.checked_sub(1).and_then(|p| sound.element.get(p))
        };
        let Some(&element) = element else {
            return;
        };
        let bytes = sound.text.as_bytes();
        if view.chars[element as usize].is_ascii_alphabetic() {
            let latin = |from: usize, to: usize| {
                sound.element[from..to]
                    .iter()
                    .all(|e| view.chars[*e as usize].is_ascii_alphabetic())
            };
            let mut tried: [usize; 4] = [0; 4];
            for r in readings(c).map(|r| if initials { &r[..1] } else { r }) {
                let n = r.len();
                let fits = if forward {
                    bytes[b..].starts_with(r.as_bytes()) && latin(b, b + n)
                } else {
                    bytes[..b].ends_with(r.as_bytes()) && latin(b - n, b)
                };
                // Readings that differ only in tone spell alike: each length once.
                if fits && !tried.contains(&n) {
                    if let Some(slot) = tried.iter_mut().find(|t| **t == 0) {
                        *slot = n;
                    }
                    each(n);
                }
            }
        } else if !initials && view.chars[element as usize] == c {
            let len = sound.text_len_of(element, b, forward);
            if len > 0 {
                each(len);
            }
        }
    }

    /// Calls `done` with every byte where `chars` can end when read forwards
    /// from byte `b`, or where they can start when read backwards to it.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        view: &View,
        sound: &SoundView,
        chars: &[char],
        initials: bool,
        b: usize,
        forward: bool,
        done: &mut impl FnMut(usize),
    ) {
        let next = if forward {
            chars.split_first()
        } else {
            chars.split_last()
        };
        let Some((c, rest)) = next else {
            done(b);
            return;
        };
        self.spellings_at(view, sound, *c, initials, b, forward, &mut |len| {
            let to = if forward { b + len } else { b - len };
            self.walk(view, sound, rest, initials, to, forward, done)
        });
    }
}

/// Whether view elements `start..end` are all Latin letters written the way
/// pinyin names are: each piece (between separators) a capital and then
/// lower case (`Jiawei`, `Li Na`). Such a match is read as a name, not as a
/// word spelled out: a word is only ever half-written (`jia微`), run together
/// in one case (`jiawei`, `JIAWEI`) or mixed (`JiaWei`) to slip past a filter.
fn written_like_a_name(view: &View, start: usize, end: usize) -> bool {
    // Case folding marks an upper-case ASCII letter Normalized, a lower-case one Exact.
    let upper = |i: usize| view.via[i] != Via::Exact;
    (start..end).all(|i| {
        view.chars[i].is_ascii_alphabetic() && {
            let piece_starts = i == start || view.gap_before[i];
            piece_starts == upper(i)
        }
    })
}

/// A bit per lower-case ASCII letter.
fn letter_bit(c: char) -> u32 {
    1 << ((c.to_ascii_lowercase() as u32).wrapping_sub('a' as u32) & 31)
}

/// The letters `c`'s readings begin (`first`) or end with, a bit each.
fn letters(c: char, first: bool) -> u32 {
    readings(c)
        .filter_map(|r| {
            if first {
                r.chars().next()
            } else {
                r.chars().next_back()
            }
        })
        .fold(0, |bits, l| bits | letter_bit(l))
}

/// A match's first element begins a Latin token, or is no Latin letter.
fn whole_token_start(view: &View, first: usize) -> bool {
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    first == 0 || view.gap_before[first] || !alnum(first) || !alnum(first - 1)
}

/// A match's last element ends a Latin token, or is no Latin letter.
fn whole_token_end(view: &View, last: usize) -> bool {
    let alnum = |i: usize| view.chars[i].is_ascii_alphanumeric();
    last + 1 == view.chars.len() || view.gap_before[last + 1] || !alnum(last) || !alnum(last + 1)
}

/// Every way to pick one spelling per character, main readings first, at most `cap`.
pub(super) fn combinations<'a>(per_char: &[Vec<&'a str>], cap: usize) -> Vec<Vec<&'a str>> {
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for options in per_char {
        let mut next = Vec::new();
        'grow: for prefix in &out {
            for option in options {
                if next.len() == cap {
                    break 'grow;
                }
                let mut spelling = prefix.clone();
                spelling.push(*option);
                next.push(spelling);
            }
        }
        out = next;
    }
    out
}
