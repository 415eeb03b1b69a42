//! `/统计` (`/stats`): the span asked for and the answer with the group's figures.

use super::{clip, parse_duration, ECHO_CHARS};
use crate::domain::StatsSummary;

/// The longest span `/stats` reads; `qunbot report` reads any.
const STATS_MAX_DAYS: u32 = 90;

/// `/stats [7d]`: the days to sum, 7 when not given.
pub(super) fn stats_days(args: &[String]) -> Result<u32, String> {
    let Some(arg) = args.first() else {
        return Ok(7);
    };
    let secs = parse_duration(arg)
        .map(|d| d.as_secs())
        .filter(|s| *s > 0 && s % 86_400 == 0)
        .ok_or_else(|| format!("「{}」不是天数", clip(arg, ECHO_CHARS)))?;
    let days = u32::try_from(secs / 86_400).unwrap_or(u32::MAX);
    if days > STATS_MAX_DAYS {
        return Err(format!("最多看 {STATS_MAX_DAYS} 天"));
    }
    Ok(days)
}

/// The `/stats` answer: the group's figures over the span.
pub fn stats_text(days: u32, s: &StatsSummary) -> String {
    use crate::report::ratio;
    use crate::report::render::{count, percent};
    let per_speaker = ratio(s.messages, s.speakers).map_or("—".into(), |x| format!("{x:.1} 条"));
    let mut lines = vec![
        format!("本群近 {days} 天（{} 至 {}）：", s.from, s.to),
        format!(
            "消息 {} 条，发言 {} 人，人均 {per_speaker}",
            s.messages, s.speakers
        ),
        format!(
            "成员 {} 人，活跃率 {}",
            count(s.members),
            percent(s.members.and_then(|m| ratio(s.speakers, m)))
        ),
        format!(
            "入群 {}，退群 {}，净增长 {:+}",
            s.joins,
            s.leaves,
            s.joins - s.leaves
        ),
        format!(
            "签到 {} 次，新人任务完成 {}/{}（{}）",
            s.checkins,
            s.tasks_done,
            s.tasks_handed_out,
            percent(ratio(s.tasks_done, s.tasks_handed_out))
        ),
        format!("违规消息 {} 条", s.filter_hits),
    ];
    if s.posts_sent > 0 {
        lines.push(format!(
            "公告与秒杀 发出 {}，送达 {}",
            s.posts_sent, s.posts_delivered
        ));
    }
    lines.join("\n")
}
