//! Durations as shop owners write them, in the config and in commands alike:
//! `30秒`, `15分钟`, `2小时`, `1天`, `1小时30分钟`, and the Latin `30s`, `15m`,
//! `2h`, `1d`, `1h 30m`. One reader, so `duration = "15分钟"` works wherever
//! `/禁言 @x 15分钟` does.

use std::time::Duration;

/// Chinese units and the Latin ones they stand for, longest first so that
/// `分钟` is read before `分`.
const UNITS: &[(&str, &str)] = &[
    ("个小时", "h"),
    ("小时", "h"),
    ("钟头", "h"),
    ("分钟", "m"),
    ("秒钟", "s"),
    ("星期", "w"),
    ("毫秒", "ms"),
    ("天", "d"),
    ("日", "d"),
    ("周", "w"),
    ("分", "m"),
    ("秒", "s"),
    ("时", "h"),
];

/// What a duration may look like, for the hints of those that are not one.
pub const FORMS: &str = "30秒、15分钟、2小时、1天、1小时30分钟（或 30s、15m、2h、1d）";

/// A text that is not a duration; it says, in Chinese, which forms are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("「{text}」不是时长，请写成 {FORMS}")]
pub struct BadDuration {
    /// What was written, clipped.
    pub text: String,
}

/// Reads a duration in Chinese or Latin units (see the module's examples).
pub fn parse(text: &str) -> Result<Duration, BadDuration> {
    let mut latin: String = text
        .trim()
        .chars()
        .map(|c| match c {
            // Full-width digits and spaces, as a Chinese keyboard may type them.
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    for (zh, en) in UNITS {
        if latin.contains(zh) {
            latin = latin.replace(zh, en);
        }
    }
    humantime::parse_duration(&latin).map_err(|_| BadDuration {
        text: text.chars().take(40).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<u64> {
        parse(text).ok().map(|d| d.as_secs())
    }

    #[test]
    fn chinese_and_latin_units_read_alike() {
        for (zh, latin, s) in [
            ("30秒", "30s", 30),
            ("15分钟", "15m", 900),
            ("15分", "15min", 900),
            ("2小时", "2h", 7200),
            ("1天", "1d", 86400),
            ("2周", "2w", 14 * 86400),
        ] {
            assert_eq!(secs(zh), Some(s), "{zh}");
            assert_eq!(secs(latin), Some(s), "{latin}");
        }
    }

    #[test]
    fn mixed_spaced_and_full_width_forms_are_read_too() {
        assert_eq!(secs("1小时30分钟"), Some(5400));
        assert_eq!(secs("1h 30m"), Some(5400));
        assert_eq!(secs(" 10 分钟 "), Some(600));
        assert_eq!(secs("１０分钟"), Some(600));
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_that_work() {
        for bad in ["soon", "", "分钟", "10年", "十分钟"] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains("15分钟"), "{bad}: {err}");
        }
    }
}
