//! The normalised view of a text: every character folded (compatibility forms,
//! case, traditional → simplified), the characters that evasions slip between
//! words skipped, and each kept character's position in the original remembered.

use std::sync::OnceLock;

use unicode_general_category::{get_general_category, GeneralCategory as G};

/// Which normalisations are on. All are on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Normalization {
    /// Compatibility folding (full-width, circled, math-styled → plain).
    pub compatibility: bool,
    pub case: bool,
    pub traditional: bool,
    /// Skip spaces, punctuation, symbols, emoji and format characters between letters.
    pub skip: bool,
    /// A run of one character matches a shorter run of it in a word.
    pub repeats: bool,
    /// Letters of other scripts that look like Latin ones (Cyrillic а, Greek ο)
    /// fold to them inside Latin tokens.
    pub lookalikes: bool,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization {
            compatibility: true,
            case: true,
            traditional: true,
            skip: true,
            repeats: true,
            lookalikes: true,
        }
    }
}

impl Normalization {
    pub const OFF: Normalization = Normalization {
        compatibility: false,
        case: false,
        traditional: false,
        skip: false,
        repeats: false,
        lookalikes: false,
    };
}

/// How a hit was found: the fold that made the text match the listed word
/// (`"via"` in `qunbot scan` and `/words test`). Within a hit, the latest in
/// this order names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// The word as listed: nothing folded, nothing skipped.
    #[default]
    Exact,
    /// The folds every word gets: width, case, traditional characters,
    /// separators and repeats.
    Normalized,
    /// Variant characters (異體字) beyond traditional → simplified.
    Variant,
    /// Digits of other scripts, and enclosed or dingbat digits (`❶`, `⓵`).
    Digits,
    /// Letters of other scripts that look like Latin ones, in a Latin token.
    Lookalike,
    /// Chinese numerals (一二三, 壹贰叁) in a word listed with digits.
    Numerals,
    /// The word written (partly) in pinyin, or its initials.
    Pinyin,
    /// A character of the word swapped for a common one of the same sound.
    Homophone,
    /// Not the word list: links, QR codes, cards, flooding.
    Rule,
}

impl serde::Serialize for Via {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Exact => "exact",
            Via::Normalized => "normalized",
            Via::Variant => "variant",
            Via::Digits => "digits",
            Via::Lookalike => "lookalike",
            Via::Numerals => "numerals",
            Via::Pinyin => "pinyin",
            Via::Homophone => "homophone",
            Via::Rule => "rule",
        }
    }

    /// What `/words test` says in the chat.
    pub fn label(self) -> &'static str {
        match self {
            Via::Exact => "原词",
            Via::Normalized => "变形",
            Via::Variant => "异体字",
            Via::Digits => "数字变体",
            Via::Lookalike => "形近字母",
            Via::Numerals => "中文数字",
            Via::Pinyin => "拼音",
            Via::Homophone => "同音字",
            Via::Rule => "规则",
        }
    }
}

/// The value of a digit written in another form than ASCII: a decimal digit
/// of any script (general category Nd), or an enclosed or dingbat digit that
/// compatibility decomposition leaves alone. Circled ① and the like decompose
/// already; ❿ and ⓫–⓴ stand for 10 to 20.
pub fn digit_value(c: char) -> Option<u32> {
    enclosed_digit(c).or_else(|| {
        (!c.is_ascii() && get_general_category(c) == G::DecimalNumber).then(|| decimal_value(c))
    })
}

/// The enclosed and dingbat digits compatibility decomposition leaves alone.
fn enclosed_digit(c: char) -> Option<u32> {
    let u = c as u32;
    let from = |first: u32, value: u32| Some(u - first + value);
    match u {
        0x2776..=0x277F => from(0x2776, 1), // ❶–❿ dingbat negative circled
        0x2780..=0x2789 => from(0x2780, 1), // ➀–➉ dingbat circled sans-serif
        0x278A..=0x2793 => from(0x278A, 1), // ➊–➓ dingbat negative circled sans-serif
        0x24EB..=0x24F4 => from(0x24EB, 11), // ⓫–⓴ negative circled
        0x24F5..=0x24FE => from(0x24F5, 1), // ⓵–⓾ double circled
        0x24FF | 0x1F10B | 0x1F10C => Some(0), // ⓿ 🄋 🄌
        _ => None,
    }
}

/// The value of a decimal digit (general category Nd) of any script: Unicode
/// encodes each script's digits as contiguous runs of ten, zero first, so the
/// value is the place in its run.
fn decimal_value(c: char) -> u32 {
    let run = (0..c as u32)
        .rev()
        .map_while(char::from_u32)
        .take_while(|p| get_general_category(*p) == G::DecimalNumber)
        .count() as u32;
    run % 10
}

/// The digits a Chinese numeral stands for, as a word listed with digits
/// means them (十 as 10, as in 一十一 for 11).
pub fn numeral_digits(c: char) -> Option<&'static str> {
    Some(match c {
        '〇' | '零' => "0",
        '一' | '壹' | '幺' => "1",
        '二' | '贰' | '两' => "2",
        '三' | '叁' => "3",
        '四' | '肆' => "4",
        '五' | '伍' => "5",
        '六' | '陆' => "6",
        '七' | '柒' => "7",
        '八' | '捌' => "8",
        '九' | '玖' => "9",
        '十' | '拾' => "10",
        _ => return None,
    })
}

/// Whether `c` is a Chinese numeral, by a bit per ideograph: the filter asks
/// this of every character of every message.
pub fn is_numeral(c: char) -> bool {
    static NUMERALS: OnceLock<Vec<u64>> = OnceLock::new();
    let u = c as u32;
    if !(T2S_FIRST..=T2S_LAST).contains(&u) {
        return c == '〇';
    }
    let bits = NUMERALS.get_or_init(|| {
        let mut bits = vec![0u64; ((T2S_LAST - T2S_FIRST) / 64 + 1) as usize];
        for u in T2S_FIRST..=T2S_LAST {
            if char::from_u32(u).and_then(numeral_digits).is_some() {
                let i = (u - T2S_FIRST) as usize;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    });
    let i = (u - T2S_FIRST) as usize;
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// Stands in the normalised view for a hard boundary (newline, CJK clause marks):
/// no dictionary word contains it, so no match crosses one.
pub const BOUNDARY: char = '\n';

/// Newline and the CJK clause marks occur in normal prose; evasions through them
/// are an accepted miss rather than a source of false hits across sentences.
fn is_hard_boundary(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '。' | '，' | '、' | '；' | '：' | '？' | '！'
    )
}

/// What a folded character is to the matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Keep,
    Skip,
}

fn class(category: G) -> Class {
    match category {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::ModifierLetter
        | G::OtherLetter
        | G::DecimalNumber
        | G::LetterNumber
        | G::OtherNumber
        | G::PrivateUse
        | G::Unassigned => Class::Keep,
        _ => Class::Skip,
    }
}

/// The ideograph range the fold table covers (the BMP's CJK blocks); other
/// ideographs are rare and left as they are.
const T2S_FIRST: u32 = 0x3400;
const T2S_LAST: u32 = 0x9FFF;
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

/// The normalised view of one text, reused between texts to spare allocations.
#[derive(Debug, Default)]
pub struct View {
    /// Kept characters, folded; hard boundaries as [`BOUNDARY`].
    pub chars: Vec<char>,
    /// For each kept character, the index (in chars) of the original character it came from.
    pub origin: Vec<u32>,
    /// For each kept character, whether a skipped character stood right before it.
    pub gap_before: Vec<bool>,
    /// Whether a skipped character stands after the last kept one.
    pub gap_at_end: bool,
    /// For each kept character, the fold that made it (Exact: none).
    pub via: Vec<Via>,
    /// Kept characters folded as look-alikes, with what they were before:
    /// undone in tokens that turn out not to be Latin.
    lookalikes: Vec<(u32, char, Via)>,
    /// The runs of kept ASCII letters as view ranges, a skipped character
    /// between two letters ending a run (`jia wei` is two): the pinyin matcher
    /// reads only around these.
    pub letter_runs: Vec<std::ops::Range<u32>>,
}

impl View {
    pub fn clear(&mut self) {
        self.chars.clear();
        self.origin.clear();
        self.gap_before.clear();
        self.gap_at_end = false;
        self.via.clear();
        self.lookalikes.clear();
        self.letter_runs.clear();
    }

    /// Normalises `text` into this view.
    pub fn build(&mut self, text: &str, n: Normalization) {
        self.fill(text, n, false);
    }

    /// As [`View::build`], with Chinese numerals read as digits: the view the
    /// words listed with digits are matched in (and only they: 一起 and 十分
    /// keep their meaning everywhere else).
    pub fn build_numerals(&mut self, text: &str, n: Normalization) {
        self.fill(text, n, true);
    }

    fn fill(&mut self, text: &str, n: Normalization, numerals: bool) {
        self.clear();
        let mut gap = false;
        for (index, c) in text.chars().enumerate() {
            let index = index as u32;
            if is_hard_boundary(c) {
                self.push(BOUNDARY, index, gap, Via::Exact);
                gap = false;
                continue;
            }
            // Fast path: ASCII letters and digits, and common ideographs.
            if c.is_ascii_alphanumeric() {
                let folded = if n.case { c.to_ascii_lowercase() } else { c };
                self.push(folded, index, gap, via_if(folded != c, Via::Normalized));
                gap = false;
                continue;
            }
            if c.is_ascii() && n.skip {
                gap = true;
                continue;
            }
            if (0x4E00..=0x9FFF).contains(&(c as u32)) {
                let (folded, variant) = if n.traditional {
                    fold_ideograph(c)
                } else {
                    (c, false)
                };
                match if numerals {
                    numeral_digits(folded)
                } else {
                    None
                } {
                    Some(digits) => {
                        for d in digits.chars() {
                            self.push(d, index, gap, Via::Numerals);
                            gap = false;
                        }
                    }
                    None => {
                        let via = if variant {
                            Via::Variant
                        } else {
                            Via::Normalized
                        };
                        self.push(folded, index, gap, via_if(folded != c, via));
                        gap = false;
                    }
                }
                continue;
            }
            if let Some(value) = enclosed_digit(c).filter(|_| n.compatibility) {
                for d in value.to_string().chars() {
                    self.push(d, index, gap, Via::Digits);
                    gap = false;
                }
                continue;
            }
            let mut emit = |d: char| {
                let category = get_general_category(d);
                if n.skip && class(category) == Class::Skip {
                    gap = true;
                    return;
                }
                if n.compatibility && category == G::DecimalNumber && !d.is_ascii() {
                    let digit = char::from_digit(decimal_value(d), 10).unwrap_or(d);
                    self.push(digit, index, gap, Via::Digits);
                    gap = false;
                    return;
                }
                let (d, variant) = if n.traditional {
                    fold_ideograph(d)
                } else {
                    (d, false)
                };
                let latin = if n.lookalikes { lookalike(d) } else { None };
                if let Some(latin) = latin {
                    let latin = if n.case {
                        latin.to_ascii_lowercase()
                    } else {
                        latin
                    };
                    let before = if n.case {
                        d.to_lowercase().next().unwrap_or(d)
                    } else {
                        d
                    };
                    let via = via_if(before != c, Via::Normalized);
                    self.lookalikes.push((self.chars.len() as u32, before, via));
                    self.push(latin, index, gap, Via::Lookalike);
                } else if variant {
                    self.push(d, index, gap, Via::Variant);
                } else if n.case && d.is_uppercase() {
                    for l in d.to_lowercase() {
                        self.push(l, index, gap, Via::Normalized);
                    }
                } else {
                    self.push(d, index, gap, via_if(d != c, Via::Normalized));
                }
                gap = false;
            };
            if n.compatibility {
                unicode_normalization::char::decompose_compatible(c, &mut emit);
            } else {
                emit(c);
            }
        }
        self.gap_at_end = gap;
        if !self.lookalikes.is_empty() {
            self.settle_lookalikes();
        }
    }

    /// Keeps a look-alike fold only inside a Latin token: one with a real
    /// ASCII letter in it (`wеixin` with a Cyrillic е), or one that folds
    /// wholly to ASCII (`ѕех`). In any other token (a Russian or Greek word) the
    /// letters go back to what they were: only Latin words are disguised this way.
    fn settle_lookalikes(&mut self) {
        let letter = |c: char| c != BOUNDARY && c.is_alphanumeric() && !is_cjk(c);
        let mut undo = Vec::new();
        for &(at, _, _) in &self.lookalikes {
            let at = at as usize;
            let mut start = at;
            while start > 0 && !self.gap_before[start] && letter(self.chars[start - 1]) {
                start -= 1;
            }
            let mut end = at + 1;
            while end < self.chars.len() && !self.gap_before[end] && letter(self.chars[end]) {
                end += 1;
            }
            let token = start..end;
            let real_latin = token
                .clone()
                .any(|i| self.via[i] != Via::Lookalike && self.chars[i].is_ascii_alphabetic());
            let all_ascii = token.clone().all(|i| self.chars[i].is_ascii_alphanumeric());
            if !real_latin && !all_ascii {
                undo.push(at);
            }
        }
        for &(at, before, via) in &self.lookalikes {
            if undo.contains(&(at as usize)) {
                self.chars[at as usize] = before;
                self.via[at as usize] = via;
            }
        }
        if !undo.is_empty() {
            // Letters given back split the runs of ASCII letters.
            self.letter_runs.clear();
            for (i, c) in self.chars.iter().enumerate() {
                let at = i as u32;
                if !c.is_ascii_alphabetic() {
                    continue;
                }
                match self.letter_runs.last_mut() {
                    Some(run) if run.end == at && !self.gap_before[i] => run.end += 1,
                    _ => self.letter_runs.push(at..at + 1),
                }
            }
        }
    }

    fn push(&mut self, c: char, origin: u32, gap: bool, via: Via) {
        if c.is_ascii_alphabetic() {
            let at = self.chars.len() as u32;
            match self.letter_runs.last_mut() {
                Some(run) if run.end == at && !gap => run.end += 1,
                _ => self.letter_runs.push(at..at + 1),
            }
        }
        self.chars.push(c);
        self.origin.push(origin);
        self.gap_before.push(gap);
        self.via.push(via);
    }

    /// Whether two numerals read as digits stand side by side (separators
    /// between them skipped) among the kept characters that come from the
    /// original text's `start..end` (character offsets).
    pub fn numerals_side_by_side(&self, start: usize, end: usize) -> bool {
        let kept = self
            .origin
            .iter()
            .zip(&self.via)
            .filter(|(origin, _)| (start..end).contains(&(**origin as usize)));
        let mut previous: Option<(u32, Via)> = None;
        for (origin, via) in kept {
            if *via == Via::Numerals
                && previous.is_some_and(|(o, v)| v == Via::Numerals && o != *origin)
            {
                return true;
            }
            previous = Some((*origin, *via));
        }
        false
    }

    /// How the kept characters `start..end` were found: the latest fold among
    /// them, or Normalized when nothing was folded but separators were skipped
    /// or repeats collapsed between them.
    pub fn via(&self, start: usize, end: usize) -> Via {
        let folded = self.via[start..end]
            .iter()
            .copied()
            .max()
            .unwrap_or_default();
        let original = (self.origin[end - 1] - self.origin[start] + 1) as usize;
        if folded == Via::Exact
            && (original != end - start || self.gap_before[start + 1..end].iter().any(|g| *g))
        {
            Via::Normalized
        } else {
            folded
        }
    }

    /// The folded characters as a string (for dictionary words and tests).
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }
}

fn via_if(folded: bool, via: Via) -> Via {
    if folded {
        via
    } else {
        Via::Exact
    }
}

/// Normalises a dictionary word the same way as texts.
pub fn normalize_word(word: &str, n: Normalization) -> String {
    let mut view = View::default();
    view.build(word, n);
    view.text()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize_word(s, Normalization::default())
    }

    #[test]
    fn full_width_circled_and_math_styled_fold_to_plain_lower_case() {
        assert_eq!(norm("ｗｅｉｘｉｎ"), "weixin");
        assert_eq!(norm("①②"), "12");
        assert_eq!(norm("𝐀𝐁"), "ab");
        assert_eq!(norm("ＳＢ"), "sb");
    }

    #[test]
    fn traditional_folds_to_simplified() {
        assert_eq!(norm("傻逼"), norm("傻逼"));
        assert_eq!(norm("賭博"), "赌博");
        assert_eq!(norm("發財"), "发财");
    }

    #[test]
    fn spaces_symbols_emoji_and_zero_width_characters_are_skipped() {
        assert_eq!(norm("傻@￥逼"), "傻逼");
        assert_eq!(norm("加 群"), "加群");
        assert_eq!(norm("加\u{200b}群😀"), "加群");
        assert_eq!(norm("w.e.i-x_i~n"), "weixin");
    }

    #[test]
    fn newlines_and_clause_marks_are_hard_boundaries() {
        assert_eq!(norm("加\n群"), "加\n群");
        assert_eq!(norm("加，群"), "加\n群");
        assert_eq!(norm("加？群"), "加\n群");
    }

    #[test]
    fn each_kept_character_remembers_where_it_came_from() {
        let mut v = View::default();
        v.build("a.Ｂ㎏", Normalization::default());
        assert_eq!(v.text(), "abkg");
        assert_eq!(v.origin, [0, 2, 3, 3]);
        assert_eq!(v.gap_before, [false, true, false, false]);
    }

    #[test]
    fn with_everything_off_the_text_is_kept_as_is() {
        assert_eq!(normalize_word("Ａ b", Normalization::OFF), "Ａ b");
    }
}
