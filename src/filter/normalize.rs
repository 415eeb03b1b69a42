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
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization {
            compatibility: true,
            case: true,
            traditional: true,
            skip: true,
            repeats: true,
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
    };
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

fn class(c: char) -> Class {
    match get_general_category(c) {
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

/// Traditional → simplified for the BMP ideograph blocks, built once from the
/// `fast2s` table (MIT) so that a lookup is an array index.
const T2S_FIRST: u32 = 0x3400;
const T2S_LAST: u32 = 0x9FFF;

fn t2s_table() -> &'static [char] {
    static TABLE: OnceLock<Vec<char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (T2S_FIRST..=T2S_LAST)
            .map(|u| {
                let c = char::from_u32(u).unwrap_or('\0');
                // One character at a time: no phrase context, so the mapping is stable.
                let converted = fast2s::convert(c.encode_utf8(&mut [0; 4]));
                let mut chars = converted.chars();
                match (chars.next(), chars.next()) {
                    (Some(s), None) => s,
                    _ => c,
                }
            })
            .collect()
    })
}

/// Simplified form of an ideograph (others unchanged).
pub fn simplify(c: char) -> char {
    let u = c as u32;
    if (T2S_FIRST..=T2S_LAST).contains(&u) {
        t2s_table()[(u - T2S_FIRST) as usize]
    } else {
        c
    }
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
}

impl View {
    pub fn clear(&mut self) {
        self.chars.clear();
        self.origin.clear();
        self.gap_before.clear();
        self.gap_at_end = false;
    }

    /// Normalises `text` into this view.
    pub fn build(&mut self, text: &str, n: Normalization) {
        self.clear();
        let mut gap = false;
        for (index, c) in text.chars().enumerate() {
            let index = index as u32;
            if is_hard_boundary(c) {
                self.push(BOUNDARY, index, gap);
                gap = false;
                continue;
            }
            // Fast path: ASCII letters and digits, and common ideographs.
            if c.is_ascii_alphanumeric() {
                let c = if n.case { c.to_ascii_lowercase() } else { c };
                self.push(c, index, gap);
                gap = false;
                continue;
            }
            if c.is_ascii() && n.skip {
                gap = true;
                continue;
            }
            if (0x4E00..=0x9FFF).contains(&(c as u32)) {
                let c = if n.traditional { simplify(c) } else { c };
                self.push(c, index, gap);
                gap = false;
                continue;
            }
            let mut emit = |d: char| {
                if n.skip && class(d) == Class::Skip {
                    gap = true;
                    return;
                }
                let d = if n.traditional { simplify(d) } else { d };
                if n.case && d.is_uppercase() {
                    for l in d.to_lowercase() {
                        self.push(l, index, gap);
                    }
                } else {
                    self.push(d, index, gap);
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
    }

    fn push(&mut self, c: char, origin: u32, gap: bool) {
        self.chars.push(c);
        self.origin.push(origin);
        self.gap_before.push(gap);
    }

    /// The folded characters as a string (for dictionary words and tests).
    pub fn text(&self) -> String {
        self.chars.iter().collect()
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
