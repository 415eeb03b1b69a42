//! [`SoundView`]: a text as it sounds, built only around Latin stretches that
//! could be pinyin.

use super::*;

/// themselves (lower case), anything else as a byte no pattern holds.
#[derive(Debug, Default)]
pub struct SoundView {
    pub text: String,
    /// For each byte of `text`, the view index it comes from.
    pub(super) element: Vec<u32>,
    /// The Latin run being read (kept to spare an allocation per message).
    pub(super) run: Vec<u8>,
}

impl SoundView {
    /// Reads the view's elements `range`.
    pub(super) fn build(&mut self, view: &View, range: std::ops::Range<usize>) {
        self.text.clear();
        self.element.clear();
        for (i, c) in view
            .chars
            .iter()
            .enumerate()
            .take(range.end)
            .skip(range.start)
        {
            let before = self.text.len();
            if c.is_ascii_alphabetic() {
                self.text.push(c.to_ascii_lowercase());
            } else {
                match readings(*c).next() {
                    Some(reading) => self.text.push_str(reading),
                    None => self.text.push('#'),
                }
            }
            self.element
                .extend(std::iter::repeat_n(i as u32, self.text.len() - before));
        }
    }

    /// The bytes of the view's elements `elements` (those of them read).
    pub(super) fn bytes_of(&self, elements: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let inside = |e: &u32| elements.contains(&(*e as usize));
        let start = self.element.iter().position(inside).unwrap_or(0);
        let end = self.element.iter().rposition(inside).map_or(0, |b| b + 1);
        start..end.max(start)
    }

    /// Whether byte `b` starts an element (or is the end).
    pub(super) fn starts(&self, b: usize) -> bool {
        b == 0 || b == self.element.len() || self.element[b - 1] != self.element[b]
    }

    /// The bytes of `element`, which starts at byte `b` (forward) or ends there
    /// (backward); 0 when `b` is not on its edge.
    pub(super) fn text_len_of(&self, element: u32, b: usize, forward: bool) -> usize {
        let len = self.element.iter().filter(|e| **e == element).count();
        let on_edge = if forward {
            self.starts(b)
        } else {
            b == self.element.len() || self.element[b] != element
        };
        if on_edge {
            len
        } else {
            0
        }
    }
}
