//! Chinese hints for the operator's most common mistakes, added after the
//! problem's own reason so the `file:line:col: reason` form stays as it was.

use std::ops::Range;

use super::Problem;

/// The quotes a Chinese input method types instead of `"` and `'`.
const FULL_WIDTH_QUOTES: &[char] = &['“', '”', '‘', '’', '＂', '＇'];

/// The hint for full-width quotes.
pub const QUOTES: &str = "提示：引号是全角的（“”），请改成半角英文引号 \"";

/// A file the TOML reader refused: at the reader's position with its reason,
/// or, when the mistake is a full-width quote, at the quote with a hint.
pub fn syntax(file: &str, text: &str, e: &toml::de::Error) -> Problem {
    let reason = e.message().trim().replace('\n', "; ");
    match full_width_quote(text, e.span()) {
        Some(quote) => Problem::at_span(file, text, Some(quote), format!("{reason}。{QUOTES}")),
        None => Problem::at_span(file, text, e.span(), reason),
    }
}

/// Where a syntax error at `span` of `text` is a full-width quote: the first
/// such quote on the error's line outside a `"…"` string, as a byte span of
/// one character. A quote inside a string is text, not the mistake.
pub fn full_width_quote(text: &str, span: Option<Range<usize>>) -> Option<Range<usize>> {
    let at = span.map_or(0, |s| s.start).min(text.len());
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let mut in_string = false;
    for (i, c) in text[line_start..line_end].char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return None,
            c if !in_string && FULL_WIDTH_QUOTES.contains(&c) => {
                let start = line_start + i;
                return Some(start..start + c.len_utf8());
            }
            _ => {}
        }
    }
    None
}

/// How to set a missing environment variable.
pub fn unset_variable(name: &str) -> String {
    format!(
        "提示：环境变量 {name} 没有设置：在启动 qunbot 的终端里先 export {name}=...，\
         或在 systemd 服务的 EnvironmentFile（如 /etc/qunbot/env）里写一行 {name}=..."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_outside_a_string_on_the_errors_line_is_the_mistake() {
        let text = "a = 1\nname = “宝妈群”\n";
        let at = text.find('“').unwrap();
        assert_eq!(full_width_quote(text, Some(at..at + 1)), Some(at..at + 3));
        assert_eq!(full_width_quote(text, Some(0..1)), None, "another line");
        let quoted = "text = \"他说“你好”\"\n";
        assert_eq!(
            full_width_quote(quoted, Some(0..1)),
            None,
            "inside a string"
        );
    }
}
