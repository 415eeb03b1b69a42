//! Character tables: traditional and variant → simplified, GB 2312 and its
//! homophone keys, look-alike letters of other scripts, and the CJK ranges.

use std::sync::OnceLock;

/// The ideograph range the fold table covers (the BMP's CJK blocks); other
/// ideographs are rare and left as they are.
pub(super) const T2S_FIRST: u32 = 0x3400;
pub(super) const T2S_LAST: u32 = 0x9FFF;
/// Marks a table entry that a variant table made (rather than plain
/// traditional → simplified), so a hit through it says `variant`.
const VARIANT_BIT: u32 = 1 << 31;

/// Traditional and variant characters → simplified for the BMP ideograph
/// blocks, built once from OpenCC's tables (Apache-2.0, through
/// `ferrous-opencc`) so that a lookup is an array index.
///
/// One character at a time: no phrase context, so the mapping is stable and a
/// word folds exactly as a text does. The variant tables (Taiwan, Hong Kong and
/// Japanese shinjitai forms → OpenCC's standard traditional form) apply only to
/// characters outside GB 2312: a character of the simplified standard set is
/// never remapped as someone else's variant (Taiwan's 么 is 幺, but 什么 is not 什幺).
fn fold_table() -> &'static [u32] {
    static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use ferrous_opencc::{config::BuiltinConfig, OpenCC};
        let open = |config| OpenCC::from_config(config).ok();
        let t2s = open(BuiltinConfig::T2s);
        let variants: Vec<OpenCC> = [
            BuiltinConfig::Tw2s,
            BuiltinConfig::Hk2s,
            BuiltinConfig::Jp2t,
        ]
        .into_iter()
        .filter_map(open)
        .collect();
        let single = |s: String| {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        };
        let simplified = |c: char| {
            t2s.as_ref()
                .and_then(|t| single(t.convert(c.encode_utf8(&mut [0; 4]))))
                .unwrap_or(c)
        };
        (T2S_FIRST..=T2S_LAST)
            .map(|u| {
                let Some(c) = char::from_u32(u) else {
                    return u;
                };
                let plain = simplified(c);
                if in_gb2312(c) {
                    return plain as u32;
                }
                let variant = variants.iter().find_map(|v| {
                    single(v.convert(c.encode_utf8(&mut [0; 4])))
                        .map(simplified)
                        .filter(|s| *s != plain && *s != c)
                });
                match variant {
                    Some(s) => s as u32 | VARIANT_BIT,
                    None => plain as u32,
                }
            })
            .collect()
    })
}

/// Whether `c` is one of GB 2312's 6,763 hanzi: the simplified characters in
/// everyday use (its level 1 is the 3,755 most common, [`is_common`]).
fn in_gb2312(c: char) -> bool {
    gb2312_bytes(c).is_some()
}

/// `c`'s GB 2312 code (row byte, cell byte) when it is one of its hanzi.
fn gb2312_bytes(c: char) -> Option<(u8, u8)> {
    if !is_cjk(c) {
        return None;
    }
    let mut utf8 = [0; 4];
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut utf8));
    match *bytes {
        [row, cell] if !unmappable && (0xB0..=0xF7).contains(&row) && cell >= 0xA1 => {
            Some((row, cell))
        }
        _ => None,
    }
}

/// Whether `c` is a common hanzi: GB 2312 level 1 (rows 16–55), the 3,755
/// characters every reader knows.
pub fn is_common(c: char) -> bool {
    gb2312_bytes(c).is_some_and(|(row, _)| row <= 0xD7)
}

/// The sound class of a character: common hanzi (see [`is_common`]) that
/// share their main reading, tone included, share a key (the first of them in
/// code order); any other character is its own key. 微 and 威 (wēi) share one;
/// 微 and 为 (wèi) do not.
pub fn homophone_key(c: char) -> char {
    SoundKeys::get().key(c)
}

/// The sound-key table ([`homophone_key`]), fetched once for a whole text.
#[derive(Clone, Copy)]
pub struct SoundKeys(&'static [u16]);

impl SoundKeys {
    pub fn get() -> SoundKeys {
        // Offsets from T2S_FIRST in 16 bits: half the cache lines of chars.
        static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
        SoundKeys(TABLE.get_or_init(|| {
            use pinyin::ToPinyin;
            let mut first: std::collections::HashMap<&'static str, u32> = Default::default();
            (T2S_FIRST..=T2S_LAST)
                .map(|u| {
                    let sound = char::from_u32(u)
                        .filter(|c| is_common(*c))
                        .and_then(|c| c.to_pinyin())
                        .map(|p| p.with_tone_num_end());
                    let key = match sound {
                        Some(sound) => *first.entry(sound).or_insert(u),
                        None => u,
                    };
                    (key - T2S_FIRST) as u16
                })
                .collect()
        }))
    }

    pub fn key(self, c: char) -> char {
        let u = c as u32;
        if !(T2S_FIRST..=T2S_LAST).contains(&u) {
            return c;
        }
        char::from_u32(T2S_FIRST + u32::from(self.0[(u - T2S_FIRST) as usize])).unwrap_or(c)
    }
}

/// Simplified form of an ideograph (others unchanged), and whether a variant
/// table (rather than traditional → simplified) made it.
pub fn fold_ideograph(c: char) -> (char, bool) {
    let u = c as u32;
    if !(T2S_FIRST..=T2S_LAST).contains(&u) {
        return (c, false);
    }
    let entry = fold_table()[(u - T2S_FIRST) as usize];
    let folded = char::from_u32(entry & !VARIANT_BIT).unwrap_or(c);
    (folded, entry & VARIANT_BIT != 0)
}

/// Simplified form of an ideograph (others unchanged).
pub fn simplify(c: char) -> char {
    fold_ideograph(c).0
}

/// The ASCII letter or digit a letter of another script is made to look like
/// (Cyrillic а, Greek ο, Cherokee Ꭺ), by Unicode's confusables (UTS #39
/// skeletons, through `unicode-security`); None for anything else.
pub fn lookalike(c: char) -> Option<char> {
    static TABLE: OnceLock<Vec<(char, char)>> = OnceLock::new();
    if c.is_ascii() || is_cjk(c) {
        return None;
    }
    let table = TABLE.get_or_init(|| {
        use unicode_security::confusable_detection::skeleton;
        let one = |c: char| {
            let mut s = skeleton(c.encode_utf8(&mut [0; 4])).collect::<Vec<char>>();
            (s.len() == 1).then(|| s.pop()).flatten()
        };
        // Several ASCII characters share a prototype (I, l and 1 all look
        // like l): a letter takes the one of its own case first.
        let ascii: Vec<(char, char)> = ('0'..='9')
            .chain('a'..='z')
            .chain('A'..='Z')
            .filter_map(|a| one(a).map(|p| (p, a)))
            .collect();
        let pick = |c: char, prototype: char| {
            let rank = |a: char| match (c.is_uppercase(), a) {
                (true, 'A'..='Z') | (false, 'a'..='z') => 0,
                (_, 'a'..='z' | 'A'..='Z') => 1,
                _ => 2,
            };
            ascii
                .iter()
                .filter(|(p, _)| *p == prototype)
                .map(|(_, a)| *a)
                .min_by_key(|a| rank(*a))
        };
        (0x80u32..=0x2FFF)
            .chain(0xA640..=0xABFF)
            .chain(0x10400..=0x104FF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_alphabetic() && !is_cjk(*c))
            .filter_map(|c| one(c).and_then(|p| pick(c, p)).map(|a| (c, a)))
            .collect()
    });
    table
        .binary_search_by_key(&c, |(from, _)| *from)
        .ok()
        .map(|i| table[i].1)
}

/// Whether `c` is a CJK ideograph (a word with one is not a Latin token).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}
