//! Tells the shop's owner, in Chinese and in the chat, what went wrong: a
//! rejected config, a reload, a missed post, a kick or mute by the filter, a
//! coupon pool running low or empty, join requests left waiting, an account
//! paused, a gateway unreachable.
//!
//! Other features hand a typed [`Notice`] to [`tell`]; it waits as a record
//! until the next flush, which merges everything pending into one message sent
//! privately to `notify.admins` and to `notify.group` (an admin group, never a
//! customer group). The first notice after a quiet spell waits up to a minute
//! for company; after a message, the next waits `notify.every`. At most
//! `notify.daily_cap` messages go out a day; what is left over is counted in
//! the log (`notify.suppressed`); `qunbot status` shows the troubles anyway.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{accounts, clip, human_duration, Change, Context, Decision, Feature, Timer};
use crate::domain::{Action, Event, EventBody, Id, Message};
use crate::engine::WakeError;

pub const NAME: &str = "notify";

/// The record holding when the pending notices go out.
const FLUSH: &str = "flush";
/// The record holding when the last message went out.
const LAST_SENT: &str = "last_sent";
/// The first notice after a quiet spell waits at most this for others.
const GATHER: Duration = Duration::from_secs(60);
/// Lines of one kind shown in a message; the rest are counted.
const LINES_PER_KIND: usize = 5;

/// Something the owner should hear about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// A config edit refused; the previous config keeps running.
    ConfigRejected {
        problems: Vec<String>,
    },
    /// A config edit applied.
    ConfigReloaded {
        changes: Vec<String>,
        restart_needed: Vec<String>,
    },
    /// A planned automatic post that did not go out in a group.
    PostMissed {
        post: String,
        /// None: in every group it was for.
        group: Option<Id>,
        reason: String,
    },
    /// The gateway never took an action (given up after an outage, refused).
    Undelivered {
        group: Option<Id>,
        reason: String,
    },
    /// The filter removed or muted a member.
    Punished {
        group: Id,
        user: Id,
        name: Option<String>,
        rules: String,
        strikes: usize,
        outcome: String,
    },
    CouponsLow {
        pool: String,
        left: usize,
    },
    CouponsEmpty {
        pool: String,
    },
    /// A join request the admins have not answered within `notify.join_wait`.
    JoinWaiting {
        group: Id,
        user: Id,
        comment: String,
    },
    /// The bot was invited into a group: the operators' call.
    BotInvited {
        group: Id,
        by: Id,
    },
    /// An account's automatic messages are paused for risk control.
    AccountPaused {
        account: Id,
        until: DateTime<Utc>,
        reason: String,
    },
    /// An account's gateway has not answered since `since`.
    GatewayDown {
        account: Id,
        since: DateTime<Utc>,
    },
}

/// What the feature's wake-ups do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "wake", rename_all = "snake_case")]
enum Wake {
    /// Send what is pending, if this is still the flush planned for `due`.
    Flush { due: DateTime<Utc> },
    /// A join request left to the admins: still unanswered?
    JoinWait { group: Id, user: Id },
    /// An account's socket went down: still down?
    LinkDown { account: Id },
}

/// Queues `notice` for the owner's next message.
pub fn tell(notice: Notice, ctx: &Context) -> Decision {
    let settings = &ctx.config.notify;
    if !settings.has_audience() {
        return Decision::default();
    }
    let body = serde_json::to_string(&notice).unwrap_or_default();
    let key = format!(
        "pending/{:020}/{:016x}",
        ctx.now.timestamp_micros().max(0),
        fnv(&body)
    );
    let d = Decision::default().change(Change::record(NAME, key, &notice));
    if ctx.state.has_record(NAME, FLUSH) {
        return d;
    }
    let every = chrono::Duration::from_std(settings.every).unwrap_or_default();
    let gather = chrono::Duration::from_std(settings.every.min(GATHER)).unwrap_or_default();
    let after_last = ctx
        .state
        .record::<DateTime<Utc>>(NAME, LAST_SENT)
        .map_or(ctx.now, |t| t + every);
    let due = (ctx.now + gather).max(after_last);
    d.change(Change::record(NAME, FLUSH, &due))
        .timer(Timer::new(due, &sender(ctx), NAME, &Wake::Flush { due }))
}

/// A join request was left to the admins: the owner hears of it if it is
/// still waiting after `notify.join_wait`.
pub fn awaiting_admins(
    account: &Id,
    group: &Id,
    user: &Id,
    comment: &str,
    ctx: &Context,
) -> Decision {
    let due = ctx.now + chrono::Duration::from_std(ctx.config.notify.join_wait).unwrap_or_default();
    Decision::default()
        .change(Change::record(
            NAME,
            waiting_key(group, user),
            &clip(comment, 40),
        ))
        .timer(Timer::new(
            due,
            account,
            NAME,
            &Wake::JoinWait {
                group: group.clone(),
                user: user.clone(),
            },
        ))
}

/// No code left in `pool` for a member: the owner is told once, until a code
/// is handed out again (the pool was refilled).
pub fn pool_empty(pool: &str, ctx: &Context) -> Decision {
    let told = format!("empty/{pool}");
    if ctx.state.has_record(NAME, &told) {
        return Decision::default();
    }
    tell(
        Notice::CouponsEmpty {
            pool: pool.to_string(),
        },
        ctx,
    )
    .change(Change::record(NAME, told, &ctx.now))
}

/// A code of `pool` was handed out: an emptied pool is worth telling again.
pub fn pool_used(pool: &str, ctx: &Context) -> Decision {
    let told = format!("empty/{pool}");
    if ctx.state.has_record(NAME, &told) {
        Decision::default().change(Change::forget(NAME, told))
    } else {
        Decision::default()
    }
}

fn waiting_key(group: &Id, user: &Id) -> String {
    format!("waiting/{group}/{user}")
}

/// The account that speaks to the owner: the admin group's voice, else an
/// account not paused for risk control, else any the shop has.
fn sender(ctx: &Context) -> Id {
    let healthy = |a: &Id| accounts::paused_until(a, ctx).is_none();
    if let Some(voice) = ctx
        .config
        .notify
        .group
        .as_ref()
        .and_then(|g| accounts::responder(g, ctx))
        .filter(healthy)
    {
        return voice;
    }
    let known = accounts::known(ctx);
    known
        .iter()
        .find(|a| healthy(a))
        .or(known.first())
        .cloned()
        .unwrap_or(Id::number(0))
}

pub struct Notify;

impl Feature for Notify {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(
            event.body,
            EventBody::ConfigReloaded { .. }
                | EventBody::Undelivered { .. }
                | EventBody::GatewayDown { .. }
                | EventBody::AccountLink { .. }
                | EventBody::MemberJoined { .. }
        )
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        match &event.body {
            EventBody::ConfigReloaded {
                applied: false,
                problems,
                ..
            } => tell(
                Notice::ConfigRejected {
                    problems: problems.clone(),
                },
                ctx,
            ),
            EventBody::ConfigReloaded {
                changes,
                restart_needed,
                ..
            } => tell(
                Notice::ConfigReloaded {
                    changes: changes.clone(),
                    restart_needed: restart_needed.clone(),
                },
                ctx,
            ),
            EventBody::Undelivered { group, reason, tag } => tell(
                match tag {
                    Some(post) => Notice::PostMissed {
                        post: super::schedule::title(post, ctx),
                        group: group.clone(),
                        reason: reason.clone(),
                    },
                    None => Notice::Undelivered {
                        group: group.clone(),
                        reason: reason.clone(),
                    },
                },
                ctx,
            ),
            EventBody::GatewayDown { since } => tell(
                Notice::GatewayDown {
                    account: event.account.clone(),
                    since: DateTime::from_timestamp(*since, 0).unwrap_or(ctx.now),
                },
                ctx,
            ),
            EventBody::AccountLink {
                connected: false, ..
            } => {
                let due = ctx.now
                    + chrono::Duration::from_std(ctx.config.notify.gateway_down)
                        .unwrap_or_default();
                let wake = Wake::LinkDown {
                    account: event.account.clone(),
                };
                Decision::default().timer(Timer::new(due, &event.account, NAME, &wake))
            }
            EventBody::MemberJoined { group, user, .. }
                if ctx.state.has_record(NAME, &waiting_key(group, user)) =>
            {
                Decision::default().change(Change::forget(NAME, waiting_key(group, user)))
            }
            _ => Decision::default(),
        }
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        Ok(match timer.wake()? {
            Wake::Flush { due } => flush(due, &timer.account, ctx),
            Wake::JoinWait { group, user } => {
                let key = waiting_key(&group, &user);
                match ctx.state.record::<String>(NAME, &key) {
                    Some(comment) => tell(
                        Notice::JoinWaiting {
                            group,
                            user,
                            comment,
                        },
                        ctx,
                    )
                    .change(Change::forget(NAME, key)),
                    None => Decision::default(),
                }
            }
            Wake::LinkDown { account } => match accounts::link(&account, ctx) {
                Some(link) if !link.connected => tell(
                    Notice::GatewayDown {
                        account,
                        since: link.since,
                    },
                    ctx,
                ),
                _ => Decision::default(),
            },
        })
    }
}

/// Sends everything pending as one message, within the day's cap.
fn flush(due: DateTime<Utc>, account: &Id, ctx: &Context) -> Decision {
    if ctx.state.record::<DateTime<Utc>>(NAME, FLUSH) != Some(due) {
        return Decision::default(); // an older plan, overtaken
    }
    // Chosen again now: the account planned may have been paused since.
    let voice = sender(ctx);
    if &voice != account && voice != Id::number(0) {
        return Decision::default().timer(Timer::new(ctx.now, &voice, NAME, &Wake::Flush { due }));
    }
    let mut d = Decision::default().change(Change::forget(NAME, FLUSH));
    let mut pending = Vec::new();
    for (key, value) in ctx.state.records_of(NAME) {
        if key.starts_with("pending/") {
            d = d.change(Change::forget(NAME, key.clone()));
            if let Ok(notice) = Notice::deserialize(value) {
                pending.push(notice);
            }
        }
    }
    if pending.is_empty() {
        return d;
    }
    let settings = &ctx.config.notify;
    let today = ctx.now.with_timezone(&ctx.config.timezone).date_naive();
    let day_key = format!("day/{today}");
    let sent_today = ctx.state.record::<u32>(NAME, &day_key).unwrap_or(0);
    if sent_today >= settings.daily_cap {
        return d.change(super::system_note(
            "notify.suppressed",
            json!({"notices": pending.len(), "daily_cap": settings.daily_cap}),
        ));
    }
    let mut text = render(&pending, ctx);
    if sent_today + 1 == settings.daily_cap {
        text.push_str(&format!(
            "\n今天的提醒已达上限（{} 条），之后的只记在日志里，明天再发。",
            settings.daily_cap
        ));
    }
    d = d
        .change(Change::record(NAME, LAST_SENT, &ctx.now))
        .change(Change::record(NAME, day_key, &(sent_today + 1)));
    // Yesterday's count is no longer needed.
    for (key, _) in ctx.state.records_of(NAME) {
        let old = key
            .strip_prefix("day/")
            .and_then(|day| day.parse::<NaiveDate>().ok())
            .is_some_and(|day| day < today);
        if old {
            d = d.change(Change::forget(NAME, key.clone()));
        }
    }
    for admin in &settings.admins {
        d = d.act(Action::SendPrivateMsg {
            user: admin.clone(),
            message: Message::text(text.clone()),
        });
    }
    if let Some(group) = &settings.group {
        d = d.act(super::say(group, Message::text(text.clone())));
    }
    d.change(super::system_note(
        "notify.sent",
        json!({"notices": pending.len(), "to": settings.admins, "group": settings.group}),
    ))
}

/// The owner's message: one heading, then the notices by kind, oldest first,
/// a few lines of each kind and a count of the rest.
pub fn render(notices: &[Notice], ctx: &Context) -> String {
    let mut kinds: BTreeMap<u8, Vec<String>> = BTreeMap::new();
    for n in notices {
        let (order, line) = line(n, ctx);
        let lines = kinds.entry(order).or_default();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let mut text = String::from("【群助手提醒】");
    for lines in kinds.values() {
        for line in lines.iter().take(LINES_PER_KIND) {
            text.push('\n');
            text.push_str(line);
        }
        if lines.len() > LINES_PER_KIND {
            text.push_str(&format!(
                "\n…另有 {} 条同类提醒",
                lines.len() - LINES_PER_KIND
            ));
        }
    }
    text
}

fn group(g: &Id, ctx: &Context) -> String {
    let name = ctx.config.group_name(g);
    if name == g.as_str() {
        format!("群 {g}")
    } else {
        format!("「{name}」")
    }
}

fn local(t: DateTime<Utc>, ctx: &Context) -> String {
    t.with_timezone(&ctx.config.timezone)
        .format("%m-%d %H:%M")
        .to_string()
}

/// A notice's line, and where its kind sorts in the message.
fn line(n: &Notice, ctx: &Context) -> (u8, String) {
    match n {
        Notice::ConfigRejected { problems } => (
            0,
            format!(
                "❌ 配置修改未生效，旧配置继续运行：{}",
                problems
                    .iter()
                    .map(|p| clip(p, 200))
                    .collect::<Vec<_>>()
                    .join("；")
            ),
        ),
        Notice::ConfigReloaded {
            changes,
            restart_needed,
        } => (1, reloaded(changes, restart_needed)),
        Notice::GatewayDown { account, since } => (
            2,
            format!(
                "📡 账号 {account} 的网关从 {} 起连不上，消息暂存待发",
                local(*since, ctx)
            ),
        ),
        Notice::AccountPaused {
            account,
            until,
            reason,
        } => (
            3,
            format!(
                "⚠ 机器人账号 {account} 疑似被风控（{reason}）。自动消息（公告、秒杀提醒、唤醒、欢迎）暂停到 {}，\
                 之后一小时内以一半的速度恢复；撤回、禁言和对命令的回答照常。",
                local(*until, ctx)
            ),
        ),
        Notice::PostMissed {
            post,
            group: g,
            reason,
        } => (
            4,
            format!(
                "⏰ 定时消息「{post}」没有在{}发出：{}",
                g.as_ref().map_or("各群".to_string(), |g| group(g, ctx)),
                why(reason)
            ),
        ),
        Notice::Undelivered { group: g, reason } => (
            5,
            format!(
                "📭 {}有消息没能送达：{}",
                g.as_ref().map(|g| group(g, ctx)).unwrap_or_default(),
                why(reason)
            ),
        ),
        Notice::Punished {
            group: g,
            user,
            name,
            rules,
            strikes,
            outcome,
        } => (
            6,
            format!(
                "🚫 {}（{user}）在{}因{rules}{outcome}（累计违规 {strikes} 次），用 /违规 @TA 可查记录",
                name.as_deref().unwrap_or("成员"),
                group(g, ctx)
            ),
        ),
        Notice::CouponsEmpty { pool } => (7, format!("🎫 优惠券「{pool}」已发完，请补充券码")),
        Notice::CouponsLow { pool, left } => {
            (7, format!("🎫 优惠券「{pool}」只剩 {left} 张，请及时补充"))
        }
        Notice::JoinWaiting {
            group: g,
            user,
            comment,
        } => (
            8,
            format!(
                "🙋 {user} 申请加入{}，已等待超过 {}：「{comment}」",
                group(g, ctx),
                human_duration(ctx.config.notify.join_wait)
            ),
        ),
        Notice::BotInvited { group: g, by } => (
            9,
            format!("📨 {by} 邀请机器人加入{}，请在客户端处理", group(g, ctx)),
        ),
    }
}

/// A reload applied, as the owner and the admin who asked read it.
pub fn reloaded(changes: &[String], restart_needed: &[String]) -> String {
    let what = if changes.is_empty() {
        "内容没有变化".to_string()
    } else {
        format!("改动了 {}", changes.join("、"))
    };
    let restart = if restart_needed.is_empty() {
        String::new()
    } else {
        format!("；{} 要重启后才生效", restart_needed.join("、"))
    };
    format!("✅ 配置已重新加载：{what}{restart}")
}

/// Why something did not go out, as the owner reads it; a code of none of
/// ours is the gateway's refusal.
pub fn why(reason: &str) -> String {
    match crate::domain::reasons::missed_reason(reason) {
        same if same == reason => format!("网关拒绝：{}", clip(reason, 60)),
        known => known.to_string(),
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
