//! [`View`]: one text normalised character by character, each kept character's
//! origin and fold remembered, and the letter runs the pinyin matcher reads.

use super::*;

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
