//! Pinyin forms of listed words: `jiawei`, `jia微` and `加wei` for 加微, and
//! `jw` where the word's category asks for initials.
//!
//! Texts are never turned into pinyin wholesale: that would make every
//! homophone a hit (加威 sounds like 加微). Instead the text is read in a
//! *sound view* where each ideograph stands as its main reading and ASCII
//! letters as themselves, and each eligible word is looked for there by its
//! *anchors*: the spellings of each two neighbouring characters, every
//! reading. An anchor found with no Latin letter inside is passed over at
//! once (the word, if there, is in characters and the plain matcher's). From
//! one with a Latin letter the word is walked outwards character by character:
//! each is either the word's own character in the text or Latin letters
//! spelling one of its readings. The Latin letters at either end of a match
//! must make whole tokens, so English words and names that merely contain the
//! syllables never hit.
//!
//! Anchors rather than whole spellings keep the automaton small: the real
//! 65k list's words have 284,000 whole spellings (heteronyms multiply).
//!
//! The sound view is built only for texts with a stretch of ASCII letters
//! (runs joined by skipped characters only: `jia wei`, `j i a`) that splits into
//! pinyin syllables or could be initials, and anchors are looked for only
//! around such stretches: most messages never pay for it.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyinMulti;

use super::normalize::View;

/// Which pinyin forms of its words a category's list also catches
/// (`pinyin = "full" | "initials" | "off"` under `[filter.categories.NAME]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PinyinMode {
    /// Full pinyin and mixed forms, for words of two or more characters.
    #[default]
    Full,
    /// Full, and the initials (`jw` for 加微) too.
    Initials,
    Off,
}

impl PinyinMode {
    pub fn parse(s: &str) -> Option<PinyinMode> {
        Some(match s {
            "full" => PinyinMode::Full,
            "initials" => PinyinMode::Initials,
            "off" => PinyinMode::Off,
            _ => return None,
        })
    }
}

/// Two characters of many readings could spell dozens of anchors; past this
/// many the rarest combinations are left out (main readings come first).
const MAX_ANCHORS_PER_WORD: usize = 16;

/// Words longer than this get no pinyin form: a phrase that long is a
/// sentence, not a word anyone spells out to slip past a filter (89% of the
/// real 65k list's words are this short or shorter).
pub const MAX_PINYIN_CHARS: usize = 8;

/// The pinyin readings of common syllable spellings, interned: a character's
/// readings are indices into [`Syllables::names`].
struct Syllables {
    names: Vec<Box<str>>,
    /// Per ideograph 0x3400..=0x9FFF: its readings at `readings[at..at + len]`.
    table: Vec<(u32, u8)>,
    readings: Vec<u16>,
    /// Every spelling, for segmenting a Latin run.
    /// Every spelling and every beginning of one, packed five bits a letter,
    /// each with whether it is a whole spelling: segmenting a Latin
    /// run asks this for each piece, for every message with letters.
    packed: hashbrown::HashMap<u32, bool>,
    longest: usize,
}

const FIRST: u32 = 0x3400;
const LAST: u32 = 0x9FFF;

fn syllables() -> &'static Syllables {
    static TABLE: OnceLock<Syllables> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut ids: HashMap<String, u16> = HashMap::new();
        let mut names: Vec<Box<str>> = Vec::new();
        let mut table = Vec::with_capacity((LAST - FIRST + 1) as usize);
        let mut readings: Vec<u16> = Vec::new();
        for u in FIRST..=LAST {
            let at = readings.len() as u32;
            let spellings = char::from_u32(u)
                .and_then(|c| c.to_pinyin_multi())
                .into_iter()
                .flatten()
                .flat_map(|p| spellings(p.plain()));
            for spelling in spellings {
                let next = names.len() as u16;
                let id = *ids.entry(spelling.clone()).or_insert_with(|| {
                    names.push(spelling.as_str().into());
                    next
                });
                if !readings[at as usize..].contains(&id) {
                    readings.push(id);
                }
            }
            table.push((at, (readings.len() as u32 - at) as u8));
        }
        let mut packed: hashbrown::HashMap<u32, bool> = hashbrown::HashMap::new();
        for name in &names {
            let bytes = name.as_bytes();
            for len in 1..bytes.len() {
                packed.entry(pack(&bytes[..len])).or_insert(false);
            }
            packed.insert(pack(bytes), true);
        }
        let longest = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Syllables {
            names,
            table,
            readings,
            packed,
            longest,
        }
    })
}

/// How a reading is typed on a keyboard: ü as v (and as u, which many type),
/// ê as e; only ASCII letters remain.
fn spellings(plain: &str) -> Vec<String> {
    let ascii = |u: &str| plain.replace('ü', u).replace('ê', "e");
    let mut out = vec![ascii("v")];
    if plain.contains('ü') {
        out.push(ascii("u"));
    }
    out.retain(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()));
    out
}

/// A character's readings as typed, main reading first; empty when it has none.
pub fn readings(c: char) -> impl Iterator<Item = &'static str> {
    let s = syllables();
    let u = c as u32;
    let ids: &[u16] = if (FIRST..=LAST).contains(&u) {
        let (at, len) = s.table[(u - FIRST) as usize];
        &s.readings[at as usize..at as usize + len as usize]
    } else {
        &[]
    };
    ids.iter().map(move |id| &*s.names[*id as usize])
}

/// Runs longer than this are not pinyin tokens: a word of at most
/// [`MAX_PINYIN_CHARS`] syllables of at most six letters.
const MAX_PINYIN_LETTERS: usize = MAX_PINYIN_CHARS * 6;

/// Whether `letters` (lower-case ASCII) split wholly into pinyin syllables.
pub fn is_syllables(letters: &[u8]) -> bool {
    !letters.is_empty() && letters.len() <= MAX_PINYIN_LETTERS && segment(letters)[letters.len()]
}

/// For each length, whether the first that many of `letters` (at most
/// [`MAX_PINYIN_LETTERS`]) split wholly into syllables. Stops as soon as no
/// split can go on.
fn segment(letters: &[u8]) -> [bool; MAX_PINYIN_LETTERS + 1] {
    let s = syllables();
    let letters = &letters[..letters.len().min(MAX_PINYIN_LETTERS)];
    let mut reachable = [false; MAX_PINYIN_LETTERS + 1];
    reachable[0] = true;
    let mut furthest = 0;
    for i in 0..letters.len() {
        if i > furthest {
            break;
        }
        if !reachable[i] {
            continue;
        }
        // Longer pieces only while the piece so far begins some spelling.
        let mut piece = 0u32;
        for (len, letter) in letters[i..].iter().take(s.longest).enumerate() {
            piece = (piece << 5) | u32::from(letter.wrapping_sub(b'a' - 1) & 31);
            match s.packed.get(&piece) {
                None => break,
                Some(whole) => {
                    if *whole {
                        reachable[i + len + 1] = true;
                        furthest = furthest.max(i + len + 1);
                    }
                }
            }
        }
    }
    reachable
}

/// Up to six lower-case letters as one number, five bits each.
fn pack(letters: &[u8]) -> u32 {
    letters.iter().fold(0, |n, b| {
        (n << 5) | u32::from(b.wrapping_sub(b'a' - 1) & 31)
    })
}

mod matcher;
mod sound;
#[cfg(test)]
mod tests;

pub use matcher::{Found, PinyinMatcher};
pub use sound::SoundView;
