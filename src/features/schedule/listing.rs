//! What admins read of the schedules: `/计划` and `/秒杀 列表`, by the posts'
//! titles and phases in Chinese, never by the config's ids; and `/秒杀 立即`
//! and `/秒杀 取消`, which take a sale's number in the list, its title or its id.

use std::time::Duration;

use serde_json::json;

use super::{
    human_duration, is_cancelled, note, sale_text, say, source_of, upcoming, Change, Context,
    Decision, Source, NAME,
};
use crate::config::{FlashSale, SalePhase};
use crate::domain::{Id, Message};
use crate::features::{clip, ECHO_CHARS};

/// How much of an announcement's text names it in `/计划`.
const OPENING_CHARS: usize = 12;

/// `/计划`: the next automatic posts in `group`, in local time.
pub fn describe_upcoming(group: &Id, ctx: &Context) -> String {
    let tz = ctx.config.timezone;
    let lines: Vec<String> = upcoming(group, ctx)
        .into_iter()
        .take(5)
        .map(|(at, schedule)| {
            let what = match source_of(ctx.config, &schedule) {
                Some(Source::Announcement(a)) => {
                    let text = a
                        .text
                        .render(&[], &[("group", ctx.config.group_name(group))])
                        .plain_text();
                    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    format!("公告「{}」", clip(first.trim(), OPENING_CHARS))
                }
                Some(Source::Sale(sale, phase, ..)) => {
                    format!("秒杀「{}」{}", sale.title, phase_title(phase))
                }
                // Planned under a config since changed: the next plan drops it.
                None => "已改动的定时消息".to_string(),
            };
            format!("{} {what}", at.with_timezone(&tz).format("%m-%d %H:%M"))
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
                    format!(
                        "{}. {} {} {state}",
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
