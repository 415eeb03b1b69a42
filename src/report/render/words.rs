//! The page's Chinese for the codes the log keeps: why a post was missed, what
//! a schedule is, a filter category's name.

use std::collections::{BTreeMap, HashMap};

pub use crate::domain::reasons::missed_reason;

/// A schedule id as the page names it: `a:早安` is 公告「早安」, a flash sale's
/// post `s:双十二:start` is 秒杀「双十二」开抢 (the phases as `/计划` names them).
pub fn schedule_name(id: &str) -> String {
    match id.split_once(':') {
        Some(("a", name)) => format!("公告「{name}」"),
        Some(("s", rest)) => match rest.rsplit_once(':') {
            Some((sale, phase)) => format!("秒杀「{sale}」{}", sale_phase(phase)),
            None => format!("秒杀「{rest}」"),
        },
        _ => id.to_string(),
    }
}

/// A flash sale's post by its phase key (`SalePhase::key`).
fn sale_phase(key: &str) -> String {
    match key {
        "start" => "开抢".into(),
        "last_call" => "最后机会".into(),
        "end" => "已结束".into(),
        other => match other.strip_prefix("preview-") {
            Some(lead) => format!("预告（开抢前 {lead}）"),
            None => other.into(),
        },
    }
}

/// A filter category's Chinese name (or a coupon pool's title), else the name as written.
pub fn category<'a>(labels: &'a HashMap<String, String>, code: &'a str) -> &'a str {
    labels.get(code).map_or(code, String::as_str)
}

/// `免打扰时段 2，已到群每日自动消息上限 1`, most first.
pub fn counted<'a>(keys: &'a BTreeMap<String, i64>, name: impl Fn(&'a str) -> String) -> String {
    let mut parts: Vec<(&String, &i64)> = keys.iter().filter(|(_, n)| **n != 0).collect();
    parts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(k, n)| format!("{} {n}", name(k)))
        .collect();
    parts.join("，")
}

/// `较上期 +3（+12.5%）`, `较上期持平`, or against nothing `较上期 +3（上期 0）`.
pub fn week_over_week(now: i64, before: i64) -> String {
    let diff = now - before;
    if diff == 0 {
        return "较上期持平".into();
    }
    match before {
        b if b > 0 => format!(
            "较上期 {}（{:+.1}%）",
            signed(diff),
            diff as f64 * 100.0 / b as f64
        ),
        _ => format!("较上期 {}（上期 {before}）", signed(diff)),
    }
}

/// A change with its sign: `+2`, `0`, `-1`.
pub fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_named_in_chinese_with_their_sale_phase() {
        assert_eq!(schedule_name("a:早安"), "公告「早安」");
        assert_eq!(schedule_name("s:双十二:start"), "秒杀「双十二」开抢");
        assert_eq!(
            schedule_name("s:双十二:preview-10m"),
            "秒杀「双十二」预告（开抢前 10m）"
        );
        assert_eq!(schedule_name("other"), "other");
        assert_eq!(missed_reason("quiet_hours"), "免打扰时段");
        assert_eq!(week_over_week(30, 20), "较上期 +10（+50.0%）");
        assert_eq!(week_over_week(3, 0), "较上期 +3（上期 0）");
    }
}
