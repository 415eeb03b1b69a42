//! Slash-commands typed in a managed group: `/name args`, with @mentions as the
//! targets, Chinese aliases (`/禁言`), and a full-width slash accepted.
//!
//! Every command gets an answer: done, refused (admin commands from members), or a
//! usage line. Members are held to a cooldown so they cannot make the bot spam the
//! group; admins are not.

mod answers;
mod failure;
mod invocation;
mod reload;
mod stats;

pub use invocation::{parse, Invocation};
use reload::reload_answers;

use std::time::Duration;

use serde_json::json;

use super::points::{check_in, rank, CheckIn};
use super::{
    clip, effect_kind, human_duration, reply, say, Change, Context, Decision, Feature,
    StatsRequest, WordEditRequest, ECHO_CHARS,
};
use crate::domain::command::{self, Audience, CommandSpec};
use crate::domain::MemberKey;
use crate::domain::{Action, Event, EventBody, GroupMessage, Id, Message, Role, Segment};
use crate::engine::Effect;
use crate::filter::WordEdit;
pub use failure::report_failure;
pub use stats::stats_text;

/// The most members one command may @mention (and act on): a message of a
/// thousand @mentions is never a thousand kicks.
pub const MAX_TARGETS: usize = 20;

/// The longest `/announce` text: a chat announcement, not a document; longer
/// posts belong in the config's scheduled posts.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 1000;
/// The longest `/warn` reason.
pub const MAX_REASON_CHARS: usize = 100;
/// The longest word `/words add` and `/words del` take: a phrase, not a sentence.
pub const MAX_WORD_CHARS: usize = 50;

/// The most distinct hits `/words test` names; the rest are counted.
const WORDS_TEST_NAMED: usize = 5;

/// The longest category name `/words add` takes.
pub const MAX_CATEGORY_CHARS: usize = 20;

/// `Err` naming the limit when `text` is longer than `max` characters (never
/// repeating the text itself).
fn at_most(text: &str, max: usize, what: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n > max {
        return Err(format!("{what}最长 {max} 字，这条有 {n} 字"));
    }
    Ok(())
}

/// The shortest and longest mute the platforms accept.
const MUTE_MIN: Duration = Duration::from_secs(60);
const MUTE_MAX: Duration = Duration::from_secs(30 * 86400);

/// Parses a duration as typed after a command (`10m`, `10分钟`, `1小时30分钟`):
/// the same reader as the config's durations.
pub fn parse_duration(text: &str) -> Option<Duration> {
    crate::domain::duration::parse(text).ok()
}

/// The name commands' log rows go under.
pub const NAME: &str = "commands";

pub struct Commands;

impl Feature for Commands {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(
            event.body,
            EventBody::GroupMessage(_)
                | EventBody::StatsFound { .. }
                | EventBody::ConfigReloaded { .. }
        )
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        on_event(event, ctx)
    }
}

pub fn on_event(event: &Event, ctx: &Context) -> Decision {
    if let EventBody::ConfigReloaded { .. } = &event.body {
        return reload_answers(event);
    }
    if let EventBody::StatsFound {
        group,
        asked_by,
        summary,
        days,
    } = &event.body
    {
        let answer = Message::from_segments([
            Segment::Reply {
                id: asked_by.clone(),
            },
            Segment::Text {
                text: stats_text(*days, summary),
            },
        ]);
        return Decision::default().act(Action::SendGroupMsg {
            group: group.clone(),
            message: answer,
        });
    }
    let EventBody::GroupMessage(m) = &event.body else {
        return Decision::default();
    };
    if !ctx.config.is_managed(&m.group) {
        return Decision::default();
    }
    let Some(mut invocation) = parse(&m.message) else {
        return Decision::default();
    };
    let member = MemberKey::new(&event.account, &m.group, &m.user);
    let admin = is_admin(m, ctx);
    if !admin {
        let cooldown = chrono::Duration::from_std(ctx.config.commands.cooldown).unwrap_or_default();
        if let Some(last) = ctx.state.last_command.get(&member) {
            if ctx.now - *last < cooldown {
                let d =
                    Decision::default().change(note("command.cooldown", &member, &invocation.name));
                // Every command gets an answer, but a member hammering one
                // gets one "wait" per command used, not one per message.
                let told_key = format!(
                    "cooldown/{}/{}/{}",
                    member.account, member.group, member.user
                );
                if ctx
                    .state
                    .record::<chrono::DateTime<chrono::Utc>>(NAME, &told_key)
                    == Some(*last)
                {
                    return d;
                }
                let left = (cooldown - (ctx.now - *last)).num_seconds().max(1);
                return d
                    .act(reply(
                        m,
                        Message::text(format!("⏳ 命令太频繁，请 {left} 秒后再试")),
                    ))
                    .change(Change::record(NAME, told_key, last));
            }
        }
    }
    let used = Change::CommandUsed {
        member: member.clone(),
        at: ctx.now,
    };
    let Some(spec) = command::lookup(&invocation.name) else {
        let typed = clip(&invocation.name, ECHO_CHARS);
        let help = command::chinese("help");
        let hint = match command::nearest(&invocation.name) {
            Some(near) => format!(
                "没有 /{typed} 这个命令，你是不是想用 /{}？发送 /{help} 查看全部命令",
                command::chinese(near)
            ),
            None => format!("没有 /{typed} 这个命令，发送 /{help} 查看全部命令"),
        };
        return Decision::default()
            .act(reply(m, Message::text(hint)))
            .change(used)
            .change(note("command.unknown", &member, &invocation.name));
    };
    if spec.audience == Audience::Admins && !admin {
        // Named as typed: whoever wrote `/踢` reads `/踢`.
        let typed = clip(&invocation.name, ECHO_CHARS);
        return Decision::default()
            .act(reply(
                m,
                Message::text(format!("/{typed} 只有管理员可以使用")),
            ))
            .change(used)
            .change(note("command.refused", &member, spec.name));
    }
    if invocation.targets.len() > MAX_TARGETS {
        let why = format!("一次最多 @ {MAX_TARGETS} 人");
        return usage(m, spec, &why).change(used);
    }
    if let Some(first) = invocation.args.first_mut() {
        *first = spec.subcommand(first).to_string();
    }
    let done = run(spec, &invocation, m, &member, ctx).change(used);
    if spec.audience == Audience::Admins {
        // The reports count admins' commands, by admin.
        return done.change(note("command.admin", &member, spec.name));
    }
    done
}

/// Operators everywhere; a group's owner and admins in their group when trusted.
pub fn is_admin(m: &GroupMessage, ctx: &Context) -> bool {
    ctx.config.is_operator(&m.user)
        || (ctx.config.admins.trust_group_roles
            && matches!(m.sender.role, Some(Role::Owner | Role::Admin)))
}

fn note(kind: &str, member: &MemberKey, command: &str) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: member.account.clone(),
        group: Some(member.group.clone()),
        user: Some(member.user.clone()),
        detail: json!({"command": command}),
    }
}

fn usage(m: &GroupMessage, spec: &CommandSpec, why: &str) -> Decision {
    // `why` may quote what was typed; each quote is clipped where it is made,
    // and the whole is clipped here too, so no path echoes a long argument.
    let why = clip(why, USAGE_WHY_CHARS);
    Decision::default().act(reply(
        m,
        Message::text(format!("{why}。用法：{}", spec.usage)),
    ))
}

/// The longest complaint before a usage line.
const USAGE_WHY_CHARS: usize = 120;

fn answer(m: &GroupMessage, text: impl Into<Message>) -> Decision {
    Decision::default().act(reply(m, text.into()))
}

fn run(
    spec: &CommandSpec,
    inv: &Invocation,
    m: &GroupMessage,
    member: &MemberKey,
    ctx: &Context,
) -> Decision {
    let group = member.group_key();
    if matches!(spec.name, "mute" | "kick") {
        if let Some(refusal) = out_of_reach(inv, member, m, ctx) {
            return answer(m, refusal);
        }
    }
    match spec.name {
        // Asked in Chinese, answered in Chinese; `/ping` keeps its `pong`.
        "ping" if inv.name.is_ascii() => answer(m, "pong"),
        "ping" => answer(m, "在的"),
        "help" => answers::help(m, is_admin(m, ctx)),
        "rules" => answer(m, format!("群规：{}", ctx.config.rules_of(&m.group))),
        "tasks" => answer(m, answers::tasks_of(member, ctx)),
        "points" => answer(m, format!("你当前有 {} 积分", ctx.state.balance(member))),
        "rank" => {
            let rows = rank(ctx.state, ctx.config, &member.account, &member.group);
            if rows.is_empty() {
                answer(m, "还没有人获得积分，发送 /签到 领积分吧")
            } else {
                let lines: Vec<String> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, (name, points))| format!("{}. {name} {points}", i + 1))
                    .collect();
                answer(m, format!("本群积分排行：\n{}", lines.join("\n")))
            }
        }
        "checkin" => match check_in(member, m.sender.display_name(), ctx) {
            (CheckIn::AlreadyToday, d) => {
                let mut d2 = answer(m, "今天已经签到过了，明天再来吧");
                d2.merge(d);
                d2
            }
            (
                CheckIn::Done {
                    streak,
                    points,
                    balance,
                },
                d,
            ) => {
                let mut d2 = answer(
                    m,
                    format!("签到成功！连续签到 {streak} 天，积分 +{points}，当前 {balance} 积分"),
                );
                d2.merge(d);
                d2
            }
        },
        "mute" => {
            if inv.targets.is_empty() {
                return usage(m, spec, "请 @ 要禁言的成员");
            }
            let Some(duration) = inv.args.iter().find_map(|a| parse_duration(a)) else {
                return usage(m, spec, "请写明禁言时长");
            };
            if !(MUTE_MIN..=MUTE_MAX).contains(&duration) {
                return usage(m, spec, "禁言时长需在 1 分钟到 30 天之间");
            }
            let after = format!(" {}", human_duration(duration));
            on_each_target(m, inv, ("已禁言 ", &after), |user| Action::SetGroupBan {
                group: m.group.clone(),
                user,
                duration_secs: duration.as_secs(),
            })
        }
        "unmute" if inv.targets.is_empty() => usage(m, spec, "请 @ 要解除禁言的成员"),
        "unmute" => on_each_target(m, inv, ("已解除 ", " 的禁言"), |user| {
            Action::SetGroupBan {
                group: m.group.clone(),
                user,
                duration_secs: 0,
            }
        }),
        "kick" if inv.targets.is_empty() => usage(m, spec, "请 @ 要移出的成员"),
        "kick" => on_each_target(m, inv, ("已将 ", " 移出本群"), |user| {
            Action::SetGroupKick {
                group: m.group.clone(),
                user,
                reject_add_request: false,
            }
        }),
        "warn" => {
            let [target] = inv.targets.as_slice() else {
                return usage(m, spec, "请 @ 一位要警告的成员");
            };
            let reason = if inv.args.is_empty() {
                "请遵守群规".to_string()
            } else {
                inv.args.join(" ")
            };
            if let Err(why) = at_most(&reason, MAX_REASON_CHARS, "警告原因") {
                return usage(m, spec, &why);
            }
            let warned = MemberKey::new(&member.account, &member.group, target);
            let count = ctx.state.warnings.get(&warned).copied().unwrap_or(0) + 1;
            let text = Message::mentioning(
                std::slice::from_ref(target),
                Message::text(format!("⚠ 警告（第 {count} 次）：{reason}")),
            );
            Decision::default()
                .act(say(&m.group, text))
                .change(Change::Warned {
                    member: warned,
                    by: m.user.clone(),
                    reason,
                })
        }
        "announce" => {
            if inv.args.is_empty() {
                return usage(m, spec, "请写明公告内容");
            }
            let text = inv.args.join(" ");
            if let Err(why) = at_most(&text, MAX_ANNOUNCEMENT_CHARS, "公告") {
                return usage(m, spec, &why);
            }
            Decision::default().act(say(&m.group, Message::text(format!("📢 公告：{text}"))))
        }
        "pause" => answer(
            m,
            "已暂停本群的自动消息（欢迎、提醒），发送 /恢复 可重新开启",
        )
        .change(Change::Paused {
            group,
            paused: true,
        }),
        "resume" => answer(m, "已恢复本群的自动消息").change(Change::Paused {
            group,
            paused: false,
        }),
        "schedule" => answer(m, super::schedule::describe_upcoming(&m.group, ctx)),
        "flashsale" => match super::schedule::flash_sale_command(&inv.args, m, ctx) {
            Ok(d) => d,
            Err(why) => usage(m, spec, &why),
        },
        "redpacket" => match super::red_packets::command(&inv.args, m, member.group_key(), ctx) {
            Ok(d) => d,
            Err(why) => usage(m, spec, &why),
        },
        "stats" => match stats::stats_days(&inv.args) {
            Ok(days) => Decision::default().effect(Effect::new(
                effect_kind::STATS,
                &StatsRequest {
                    account: member.account.clone(),
                    group: m.group.clone(),
                    days,
                    message_id: m.message_id.clone(),
                },
            )),
            Err(why) => usage(m, spec, &why),
        },
        "silent" => match super::reactivation::command(&inv.args, m, member.group_key(), ctx) {
            Ok(d) => d,
            Err(why) => usage(m, spec, &why),
        },
        "strikes" | "pardon" if inv.targets.is_empty() => usage(m, spec, "请 @ 一位成员"),
        "strikes" => {
            let Some(filter) = &ctx.config.filter else {
                return answer(m, "本群没有开启敏感词过滤");
            };
            let window = filter
                .escalation
                .as_ref()
                .map_or(std::time::Duration::from_secs(86400), |e| e.window);
            let since = ctx.now - chrono::Duration::from_std(window).unwrap_or_default();
            let tz = ctx.config.timezone;
            let counts: Vec<String> = inv
                .targets
                .iter()
                .map(|t| {
                    let target = MemberKey::new(&member.account, &member.group, t);
                    let n = ctx.state.strikes_since(&target, since);
                    // Escalations stay on record after their strikes are cleared.
                    let before: Vec<String> = super::hygiene::escalations(&target, ctx)
                        .iter()
                        .map(|e| {
                            format!(
                                "{} 违规 {} 次{}",
                                e.at.with_timezone(&tz).format("%m-%d %H:%M"),
                                e.strikes,
                                e.outcome
                            )
                        })
                        .collect();
                    if before.is_empty() {
                        format!("{n} 次")
                    } else {
                        format!("{n} 次（此前：{}）", before.join("；"))
                    }
                })
                .collect();
            answer(
                m,
                about(
                    &inv.targets,
                    "",
                    &format!(
                        " 最近 {} 内违规 {}",
                        human_duration(window),
                        counts.join("、")
                    ),
                ),
            )
        }
        "pardon" => {
            let mut d = answer(m, about(&inv.targets, "已清除 ", " 的违规记录"));
            for t in &inv.targets {
                let target = MemberKey::new(&member.account, &member.group, t);
                d.changes.push(super::hygiene::forget_escalations(&target));
                d.changes.push(Change::StrikesCleared { member: target });
            }
            d
        }
        "words" => match (inv.args.first().map(String::as_str), &ctx.config.filter) {
            (Some("test"), Some(filter)) if inv.args.len() > 1 => {
                let text = inv.args[1..].join(" ");
                // Judged as the live filter judges it: the word list and the rules.
                let hits = filter.text_hits(&text);
                if hits.is_empty() {
                    answer(m, "没有命中敏感词，也没有链接、手机号或微信号")
                } else {
                    let mut found: Vec<String> = Vec::new();
                    for h in &hits {
                        if found.len() == WORDS_TEST_NAMED {
                            break;
                        }
                        let named = if h.via == crate::filter::Via::Rule {
                            let matched: String =
                                text.chars().skip(h.start).take(h.end - h.start).collect();
                            format!(
                                "{}（{}）",
                                super::clip(&matched, 30),
                                crate::filter::rules::rule_label(h.word)
                            )
                        } else {
                            format!(
                                "{}（{}，{}）",
                                h.word,
                                filter.label(h.category),
                                h.via.label()
                            )
                        };
                        if !found.contains(&named) {
                            found.push(named);
                        }
                    }
                    let total = if hits.len() > found.len() {
                        format!("，共 {} 处", hits.len())
                    } else {
                        String::new()
                    };
                    answer(m, format!("命中：{}{total}", found.join("、")))
                }
            }
            (_, None) => answer(m, "没有配置敏感词过滤"),
            (Some("add"), Some(_)) if inv.args.len() >= 3 => {
                let (category, word) = (&inv.args[1], inv.args[2..].join(" "));
                match at_most(category, MAX_CATEGORY_CHARS, "分类名")
                    .and_then(|()| at_most(&word, MAX_WORD_CHARS, "敏感词"))
                {
                    Ok(()) => edit_words(
                        m,
                        member,
                        WordEdit::Add {
                            category: category.clone(),
                            word,
                        },
                    ),
                    Err(why) => usage(m, spec, &why),
                }
            }
            (Some("del"), Some(_)) if inv.args.len() >= 2 => {
                let word = inv.args[1..].join(" ");
                match at_most(&word, MAX_WORD_CHARS, "敏感词") {
                    Ok(()) => edit_words(m, member, WordEdit::Del { word }),
                    Err(why) => usage(m, spec, &why),
                }
            }
            _ => usage(m, spec, "请写明 检查、添加 或 删除"),
        },
        // Answered by the reload's outcome (see `reload_answers`).
        "reload" => Decision::default().effect(Effect::new(
            effect_kind::RELOAD,
            &crate::domain::Asker {
                account: member.account.clone(),
                group: m.group.clone(),
                message_id: m.message_id.clone(),
            },
        )),
        _ => answer(m, "这个命令还不能用"),
    }
}

/// Asks for an edit of the word list file, carried out after this decision
/// commits; the answer comes once the file is written.
fn edit_words(m: &GroupMessage, member: &MemberKey, edit: WordEdit) -> Decision {
    let request = WordEditRequest {
        edit,
        account: member.account.clone(),
        group: m.group.clone(),
        message_id: m.message_id.clone(),
    };
    Decision::default().effect(Effect::new(effect_kind::EDIT_WORDS, &request))
}

/// One admin action per @mentioned target, and an answer naming them all.
/// Why a mute or kick may not go ahead: it names the bot's own account, or
/// an operator while the one commanding is only a group admin.
fn out_of_reach(
    inv: &Invocation,
    member: &MemberKey,
    m: &GroupMessage,
    ctx: &Context,
) -> Option<&'static str> {
    if inv.targets.contains(&member.account) {
        return Some("不能对机器人自己执行这个命令");
    }
    let operator_named = inv.targets.iter().any(|t| ctx.config.is_operator(t));
    (operator_named && !ctx.config.is_operator(&m.user))
        .then_some("不能对运营者执行这个命令，请联系运营者")
}

fn on_each_target(
    m: &GroupMessage,
    inv: &Invocation,
    (before, after): (&str, &str),
    action: impl Fn(Id) -> Action,
) -> Decision {
    let mut d = answer(m, about(&inv.targets, before, after));
    d.actions.extend(inv.targets.iter().cloned().map(action));
    d
}

/// `before @a @b after`, with real @mentions so members see names, not ids.
fn about(targets: &[Id], before: &str, after: &str) -> Message {
    let mut segments = Message::text(before).0;
    segments.extend(Message::mentioning(targets, Message::text(after.trim_start())).0);
    Message::from_segments(segments)
}

#[cfg(test)]
mod chinese_tests;
#[cfg(test)]
mod tests;
