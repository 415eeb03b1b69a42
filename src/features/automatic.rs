//! The rules every message the bot sends on its own obeys (announcements,
//! flash-sale posts, red packets opened by a schedule, reactivation nudges):
//! nothing in quiet hours, at most `schedule.daily_cap` a group and local day,
//! at most `outbox.account_daily_cap` an account and local day across its
//! groups (welcomes count too), nothing from an account suspect of risk
//! control until its pause ends, nothing in a paused group. Answers to members
//! and admins are not automatic.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Change, Context};
use crate::domain::{GroupKey, Id};

/// Where the per-group day counts are kept (records of this name).
const FEATURE: &str = "automatic";

/// A group's automatic messages on one local day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub sent: u32,
}

/// Whether an automatic message may go to a group now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Not before this time; why.
    Wait(DateTime<Utc>, &'static str),
    /// Not at all; why.
    Closed(&'static str),
}

fn key(group: &GroupKey) -> String {
    format!("{}/{}", group.account, group.group)
}

fn account_key(account: &Id) -> String {
    format!("account/{account}")
}

fn today(ctx: &Context) -> NaiveDate {
    ctx.now.with_timezone(&ctx.config.timezone).date_naive()
}

/// Automatic messages sent to `group` today (local day).
pub fn sent_today(group: &GroupKey, ctx: &Context) -> u32 {
    let count: DayCount = ctx.state.record(FEATURE, &key(group)).unwrap_or_default();
    if count.day == today(ctx) {
        count.sent
    } else {
        0
    }
}

/// Automatic messages `account` sent today (local day), across its groups.
pub fn account_sent_today(account: &Id, ctx: &Context) -> u32 {
    let count: DayCount = ctx
        .state
        .record(FEATURE, &account_key(account))
        .unwrap_or_default();
    if count.day == today(ctx) {
        count.sent
    } else {
        0
    }
}

/// When the next local day starts, then the quiet hours after it.
fn next_day_opens(ctx: &Context) -> DateTime<Utc> {
    let config = ctx.config;
    let tomorrow = today(ctx).succ_opt().unwrap_or(today(ctx));
    let midnight =
        crate::config::local_time(config.timezone, tomorrow.and_time(Default::default()))
            .unwrap_or(ctx.now);
    match config.schedule.quiet_hours {
        Some(quiet) => quiet.end_after(midnight, config.timezone),
        None => midnight,
    }
}

/// What holds back every automatic message of `account`, whatever the group:
/// its daily cap, or a pause after signs of risk control.
pub fn account_gate(account: &Id, ctx: &Context) -> Gate {
    if let Some(until) = super::accounts::paused_until(account, ctx) {
        return Gate::Wait(until, "account_suspect");
    }
    if account_sent_today(account, ctx) >= ctx.config.outbox.account_daily_cap {
        return Gate::Wait(next_day_opens(ctx), "account_cap");
    }
    Gate::Open
}

/// May an automatic message go to `group` now?
pub fn gate(group: &GroupKey, ctx: &Context) -> Gate {
    gate_as(group, true, ctx)
}

/// As [`gate`], for a message that waits out quiet hours or not (a schedule
/// with `quiet_hours = false`).
pub fn gate_as(group: &GroupKey, obeys_quiet_hours: bool, ctx: &Context) -> Gate {
    let config = ctx.config;
    if ctx.state.is_paused(group) {
        return Gate::Closed("paused");
    }
    if let Some(quiet) = config.schedule.quiet_hours.filter(|_| obeys_quiet_hours) {
        let end = quiet.end_after(ctx.now, config.timezone);
        if end > ctx.now {
            return Gate::Wait(end, "quiet_hours");
        }
    }
    if sent_today(group, ctx) >= config.schedule.daily_cap {
        return Gate::Wait(next_day_opens(ctx), "daily_cap");
    }
    account_gate(&group.account, ctx)
}

/// Counts one automatic message sent to `group` now, in the group's and the
/// account's day.
pub fn count_sent(group: &GroupKey, ctx: &Context) -> [Change; 2] {
    [
        Change::record(
            FEATURE,
            key(group),
            &DayCount {
                day: today(ctx),
                sent: sent_today(group, ctx) + 1,
            },
        ),
        count_for_account(&group.account, ctx),
    ]
}

/// Counts one automatic message of `account` (a welcome) in its day.
pub fn count_for_account(account: &Id, ctx: &Context) -> Change {
    Change::record(
        FEATURE,
        account_key(account),
        &DayCount {
            day: today(ctx),
            sent: account_sent_today(account, ctx) + 1,
        },
    )
}
