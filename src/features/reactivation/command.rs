//! `/silent` (`/沉默`): the chat command, and its lists of due members and
//! of zombies.

use super::experiment::{arms_all, stats_text};
use super::records::{display_name, name_and_id, subjects, Subject, Trial};
use super::scan::scan_request;
use super::zombies::confirm;
use super::HOLDOUT;
use crate::config::ZombieAction;
use crate::domain::{GroupKey, GroupMessage, Id, Message};
use crate::features::{clip, reply, Context, Decision, ECHO_CHARS};

/// Members listed in one chat answer.
const LIST_LINES: usize = 20;

/// `/silent list|nudge|stats|zombies|confirm`, in the group of `m`.
pub fn command(
    args: &[String],
    m: &GroupMessage,
    group: GroupKey,
    ctx: &Context,
) -> Result<Decision, String> {
    let config = &ctx.config.reactivation;
    let answer = |text: String| Decision::default().act(reply(m, Message::text(text)));
    if !config.enabled && args.first().is_none_or(|a| a != "stats") {
        return Ok(answer(
            "沉默唤醒没有开启（在配置文件中加上 [reactivation] 一节即可开启）".into(),
        ));
    }
    match args.first().map(String::as_str) {
        None | Some("list") => Ok(answer(list_due(&group, ctx))),
        Some("nudge") => {
            let asked_by = Some(m.message_id.clone());
            let mut d = answer("正在扫描本群的沉默成员……".into());
            d.merge(scan_request(vec![group], asked_by, ctx));
            Ok(d)
        }
        Some("stats") => Ok(answer(stats_text(&arms_all(ctx)))),
        Some("zombies") => Ok(answer(list_zombies(&group, ctx))),
        Some("confirm") => Ok(confirm(&group, m, ctx)),
        Some(other) => Err(format!("不认识的子命令「{}」", clip(other, ECHO_CHARS))),
    }
}

fn days_silent(s: &Subject, ctx: &Context) -> String {
    match s.since {
        Some(t) => format!("{} 天", (ctx.now - t).num_days()),
        None => "从未发言".into(),
    }
}

fn list_due(group: &GroupKey, ctx: &Context) -> String {
    let mut due: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.trial.is_some())
        .collect();
    if due.is_empty() {
        return "本群目前没有到期待唤醒的沉默成员（发送 /沉默 扫描 立即扫描）".into();
    }
    due.sort_by_key(|(_, s)| s.since);
    let lines: Vec<String> = due
        .iter()
        .take(LIST_LINES)
        .map(|(user, s)| {
            let state = match (&s.trial, s.arm.as_str()) {
                (_, HOLDOUT) => "对照组，不提醒".to_string(),
                (Some(Trial { treated: None, .. }), _) => format!("待提醒（方案 {}）", s.arm),
                _ => format!("已提醒 {} 次（方案 {}）", s.nudges, s.arm),
            };
            format!(
                "{} 沉默 {}，{state}",
                display_name(group, user, ctx),
                days_silent(s, ctx)
            )
        })
        .collect();
    let more = due.len().saturating_sub(LIST_LINES);
    format!(
        "到期的沉默成员 {} 人：\n{}{}",
        due.len(),
        lines.join("\n"),
        if more > 0 {
            format!("\n……另有 {more} 人")
        } else {
            String::new()
        }
    )
}

fn list_zombies(group: &GroupKey, ctx: &Context) -> String {
    let zombies: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.zombie.is_some())
        .collect();
    if zombies.is_empty() {
        return "本群没有僵尸成员".into();
    }
    let lines: Vec<String> = zombies
        .iter()
        .take(LIST_LINES)
        .map(|(user, s)| {
            format!(
                "{} 沉默 {}，已提醒 {} 次",
                name_and_id(group, user, ctx),
                days_silent(s, ctx),
                s.nudges
            )
        })
        .collect();
    let how = match ctx.config.reactivation.zombie_action {
        ZombieAction::Report => "（当前设置为只列出，不移出）".to_string(),
        ZombieAction::Remove => format!(
            "（发送 /沉默 确认 移出，每次最多 {} 位）",
            ctx.config.reactivation.zombie_max_per_run
        ),
    };
    format!("僵尸成员 {} 人{how}：\n{}", zombies.len(), lines.join("\n"))
}
