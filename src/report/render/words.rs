//! The page's Chinese for the codes the log keeps: why a post was missed, what
//! a schedule is, a filter category's name.

use std::collections::{BTreeMap, HashMap};

/// Why a scheduled post was missed (`schedule.missed`'s `reason`), for the shop owner.
pub fn missed_reason(code: &str) -> &str {
    match code {
        "quiet_hours" => "安静时段",
        "daily_cap" => "每日上限",
        "paused" => "群已暂停",
        "late" => "已过截止时间",
        "no_account" => "没有可用账号",
        "account_suspect" => "账号疑似风控",
        "account_cap" => "账号每日上限",
        "daemon_down" => "程序未运行",
        "in_past" => "时间已过",
        "unknown" => "原因不明",
        other => other,
    }
}

/// A schedule id as the page names it: `s:双十二` is 秒杀「双十二」.
pub fn schedule_name(id: &str) -> String {
    match id.split_once(':') {
        Some(("a", name)) => format!("公告「{name}」"),
        Some(("s", name)) => format!("秒杀「{name}」"),
        _ => id.to_string(),
    }
}

/// A filter category's Chinese name, else the name as written.
pub fn category<'a>(labels: &'a HashMap<String, String>, code: &'a str) -> &'a str {
    labels.get(code).map_or(code, String::as_str)
}

/// `安静时段 2，每日上限 1`, most first.
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
