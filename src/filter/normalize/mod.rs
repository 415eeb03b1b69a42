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

mod fold;
#[cfg(test)]
mod tests;
mod view;

pub use fold::*;
pub use view::*;
