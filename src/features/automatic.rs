//! The rules every message the bot sends on its own obeys (announcements,
//! flash-sale posts, red packets opened by a schedule, reactivation nudges):
//! nothing in quiet hours, at most `schedule.daily_cap` a group and local day,
//! nothing in a paused group. Answers to members and admins are not automatic.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Change, Context};
use crate::domain::GroupKey;

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

/// May an automatic message go to `group` now?
pub fn gate(group: &GroupKey, ctx: &Context) -> Gate {
    let config = ctx.config;
    if ctx.state.is_paused(group) {
        return Gate::Closed("paused");
    }
    if let Some(quiet) = config.schedule.quiet_hours {
        let end = quiet.end_after(ctx.now, config.timezone);
        if end > ctx.now {
            return Gate::Wait(end, "quiet_hours");
        }
    }
    if sent_today(group, ctx) >= config.schedule.daily_cap {
        let tomorrow = today(ctx).succ_opt().unwrap_or(today(ctx));
        let midnight =
            crate::config::local_time(config.timezone, tomorrow.and_time(Default::default()))
                .unwrap_or(ctx.now);
        let opens = match config.schedule.quiet_hours {
            Some(quiet) => quiet.end_after(midnight, config.timezone),
            None => midnight,
        };
        return Gate::Wait(opens, "daily_cap");
    }
    Gate::Open
}

/// Counts one automatic message sent to `group` now.
pub fn count_sent(group: &GroupKey, ctx: &Context) -> Change {
    Change::record(
        FEATURE,
        key(group),
        &DayCount {
            day: today(ctx),
            sent: sent_today(group, ctx) + 1,
        },
    )
}
