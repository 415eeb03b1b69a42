//! What admins read of the schedules: `/计划` and `/秒杀 列表`, by the posts'
//! titles and phases in Chinese, never by the config's ids, each post marked
//! when it will not go out and why, so nothing planned fails unseen; and
//! `/秒杀 立即` and `/秒杀 取消`, which take a sale's number in the list, its
//! title or its id.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    account_of, automatic, human_duration, is_cancelled, note, notify, sale_text, say, source_of,
    Change, Context, Decision, Occurrence, Source, NAME,
};
use crate::config::{FlashSale, SalePhase};
use crate::domain::{GroupKey, Id, Message};
use crate::features::{clip, ECHO_CHARS};

/// How much of an announcement's text names it in `/计划`.
const OPENING_CHARS: usize = 12;

/// A schedule's name as admins and the owner read it: `公告「早上好…」`, or
/// `秒杀「标题」` and which of its posts (预告/开抢/最后机会/已结束).
pub fn title(key: &str, ctx: &Context) -> String {
    match source_of(ctx.config, key) {
        Some(Source::Announcement(a)) => {
            let text = a.text.render(&[], &[("group", String::new())]).plain_text();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            format!("公告「{}」", clip(first.trim(), OPENING_CHARS))
        }
        Some(Source::Sale(sale, phase, ..)) => {
            format!("秒杀「{}」{}", sale.title, phase_title(phase))
        }
        // Planned under a config since changed: the next plan drops it.
        None => "已改动的定时消息".to_string(),
    }
}

/// A post planned in a group: when, until when it may still go out, and
/// which schedule's.
pub struct Upcoming {
    pub at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub schedule: String,
}

/// The planned occurrences that will post in `group`, soonest first (with
/// `groups = "all"`, a group added since the occurrence was planned too).
pub fn upcoming(group: &Id, ctx: &Context) -> Vec<Upcoming> {
    let managed = ctx.config.is_managed(group);
    let mut out: Vec<Upcoming> = ctx
        .state
        .records_of(NAME)
        .filter(|(k, _)| k.starts_with("occ/"))
        .filter_map(|(_, v)| serde_json::from_value::<Occurrence>(v.clone()).ok())
        .filter_map(|occ| {
            let at = match occ.pending.iter().find(|(g, _)| g == group) {
                Some((_, at)) => *at,
                None => {
                    let source = source_of(ctx.config, &occ.schedule)?;
                    let all = matches!(source.groups(), crate::config::Groups::All);
                    (all && managed && !occ.done.contains(group)).then_some(occ.instant)?
                }
            };
            Some(Upcoming {
                at,
                deadline: occ.deadline,
                schedule: occ.schedule,
            })
        })
        .collect();
    out.sort_by_key(|u| u.at);
    out
}

/// Why a post planned in `group` will not go out, if something the bot knows
/// now stops it: no account in the group, the group paused, quiet hours past
/// its deadline, or the day's cap already taken by `earlier` posts that day.
pub fn will_not_go(
    group: &Id,
    post: &Upcoming,
    earlier: u32,
    ctx: &Context,
) -> Option<&'static str> {
    let Some(account) = account_of(group, ctx) else {
        return Some("no_account");
    };
    let key = GroupKey {
        account,
        group: group.clone(),
    };
    if ctx.state.is_paused(&key) {
        return Some("paused");
    }
    let obeys = source_of(ctx.config, &post.schedule).is_none_or(|s| s.obeys_quiet_hours());
    if ctx.config.quiet_hours_stop(post.at, post.deadline, obeys) {
        return Some("quiet_hours");
    }
    let tz = ctx.config.timezone;
    let same_day =
        post.at.with_timezone(&tz).date_naive() == ctx.now.with_timezone(&tz).date_naive();
    let sent = if same_day {
        automatic::sent_today(&key, ctx)
    } else {
        0
    };
    (sent + earlier >= ctx.config.schedule.daily_cap).then_some("daily_cap")
}

/// `/schedule`: the next automatic posts in `group`, in local time, each
/// marked when it will not go out and why.
pub fn describe_upcoming(group: &Id, ctx: &Context) -> String {
    let tz = ctx.config.timezone;
    let mut per_day: BTreeMap<chrono::NaiveDate, u32> = BTreeMap::new();
    let lines: Vec<String> = upcoming(group, ctx)
        .into_iter()
        .take(5)
        .map(|post| {
            let earlier = per_day
                .entry(post.at.with_timezone(&tz).date_naive())
                .or_default();
            let fate = match will_not_go(group, &post, *earlier, ctx) {
                Some(why) => format!("（不会发出：{}）", notify::why(why)),
                None => {
                    *earlier += 1;
                    String::new()
                }
            };
            format!(
                "{} {}{fate}",
                post.at.with_timezone(&tz).format("%m-%d %H:%M"),
                title(&post.schedule, ctx)
            )
        })
        .collect();
    if lines.is_empty() {
        "本群暂无定时消息".to_string()
    } else {
        format!("本群接下来的定时消息：\n{}", lines.join("\n"))
    }
}

/// `预告（开抢前 10 分钟）`, `开抢`, `最后机会`, `已结束`.
fn phase_title(phase: SalePhase) -> String {
    match phase {
        SalePhase::Preview(lead) if !lead.is_zero() => {
            format!("{}（开抢前 {}）", phase.title(), human_duration(lead))
        }
        phase => phase.title().to_string(),
    }
}

/// The sale `/秒杀 立即 X` means: X its number in `/秒杀 列表`, its title or its id.
fn find<'a>(ctx: &'a Context, which: Option<&String>) -> Result<&'a FlashSale, String> {
    let which = which.ok_or("请写明秒杀编号（发送 /秒杀 列表 查看）")?;
    let sales = &ctx.config.flash_sales;
    which
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| sales.get(i))
        .or_else(|| sales.iter().find(|s| &s.title == which || &s.id == which))
        .ok_or(format!("没有编号为 {} 的秒杀", clip(which, ECHO_CHARS)))
}

/// `/秒杀 列表 | 立即 编号 | 取消 编号`; `Err` is the usage complaint.
pub fn flash_sale_command(
    args: &[String],
    m: &crate::domain::GroupMessage,
    ctx: &Context,
) -> Result<Decision, String> {
    let tz = ctx.config.timezone;
    let answer =
        |text: String| Decision::default().act(crate::features::reply(m, Message::text(text)));
    match args.first().map(String::as_str) {
        None | Some("list") => {
            let lines: Vec<String> = ctx
                .config
                .flash_sales
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let state = if is_cancelled(s, ctx) {
                        "已取消"
                    } else if ctx.now < s.starts_at {
                        "未开始"
                    } else if ctx.now < s.ends_at() {
                        "进行中"
                    } else {
                        "已结束"
                    };
                    // Posts ahead that quiet hours will hold past their deadline.
                    let held: Vec<String> = s
                        .posts()
                        .into_iter()
                        .filter(|(_, due, deadline)| {
                            *due > ctx.now
                                && ctx.config.quiet_hours_stop(*due, *deadline, s.quiet_hours)
                        })
                        .map(|(phase, ..)| phase_title(phase))
                        .collect();
                    let held = if held.is_empty() || state == "已取消" {
                        String::new()
                    } else {
                        format!("（{} 不会发出：免打扰时段）", held.join("、"))
                    };
                    format!(
                        "{}. {} {} {state}{held}",
                        i + 1,
                        s.title,
                        s.starts_at.with_timezone(&tz).format("%m-%d %H:%M")
                    )
                })
                .collect();
            Ok(answer(if lines.is_empty() {
                "没有配置限时秒杀".to_string()
            } else {
                format!(
                    "限时秒杀（编号 标题 开始时间 状态）：\n{}",
                    lines.join("\n")
                )
            }))
        }
        Some("now") => {
            let sale = find(ctx, args.get(1))?;
            if is_cancelled(sale, ctx) || ctx.now >= sale.ends_at() {
                return Ok(answer(format!("{} 已结束或已取消", sale.title)));
            }
            let phase = if ctx.now < sale.starts_at {
                SalePhase::Preview(Duration::ZERO)
            } else {
                SalePhase::Start
            };
            Ok(Decision::default().act(say(&m.group, sale_text(sale, phase, ctx))))
        }
        Some("cancel") => {
            let sale = find(ctx, args.get(1))?;
            let prefix = format!("occ/s:{}:", sale.id);
            let mut d = answer(format!("已取消 {}，不再发送它的预告和提醒", sale.title))
                .change(Change::record(
                    NAME,
                    format!("cancelled/{}", sale.id),
                    &sale.fingerprint,
                ))
                .change(note(
                    "schedule.cancelled",
                    json!({"flash_sale": sale.id, "by": m.user}),
                ));
            for (key, _) in ctx.state.records_of(NAME) {
                if key.starts_with(&prefix) {
                    d = d.change(Change::forget(NAME, key.clone()));
                }
            }
            Ok(d)
        }
        Some(other) => Err(format!("不认识的子命令 {}", clip(other, ECHO_CHARS))),
    }
}
