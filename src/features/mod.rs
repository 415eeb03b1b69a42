//! What the bot decides. Each feature is plain code over an event (or a timer),
//! the [`State`], the config snapshot and the time, returning a [`Decision`]: no
//! HTTP, no SQL, no clock of its own, so each is unit-tested without a server.
//!
//! - [`onboarding`]: join requests, waves of newcomers welcomed together, verification.
//! - [`tasks`]: new-member tasks, their rewards, reminders and expiry.
//! - [`points`]: the points ledger's rules: check-in and streaks, ranks, coupons.
//! - [`hygiene`]: the sensitive-word filter's actions, strikes and escalation.
//! - [`commands`]: slash-commands, permissions, cooldowns, answers.
//! - [`state`]: what features remember, and the changes they make to it.

pub mod commands;
pub mod hygiene;
pub mod onboarding;
pub mod points;
pub mod state;
pub mod tasks;
#[cfg(test)]
pub mod testkit;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{Event, GroupMessage, Id, Message, Segment};
pub use state::{Change, Decision, ImageCheck, State, Timer, Wake};

/// What a feature may look at besides the event.
pub struct Context<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub now: DateTime<Utc>,
}

type OnEvent = fn(&Event, &Context) -> Decision;

/// The features that react to events, in order: commands answer first, so a task
/// done by a command is acknowledged after the command's own answer.
const ON_EVENT: [OnEvent; 4] = [
    hygiene::on_event,
    onboarding::on_event,
    commands::on_event,
    tasks::on_event,
];

/// Every feature's reaction to one event. Each feature sees the changes of those
/// before it.
pub fn react(event: &Event, state: &mut State, config: &Config, now: DateTime<Utc>) -> Decision {
    let mut all = Decision::default();
    for feature in ON_EVENT {
        let decision = feature(event, &Context { config, state, now });
        apply(state, &mut all, decision);
    }
    all
}

/// The reaction to a timer coming due.
pub fn wake(wake: &Wake, state: &mut State, config: &Config, now: DateTime<Utc>) -> Decision {
    let ctx = Context { config, state, now };
    let decision = match wake {
        Wake::Onboard { group } => onboarding::welcome_wave(group, &ctx),
        Wake::VerifyDeadline { group, users } => {
            onboarding::verification_deadline(group, users, &ctx)
        }
        Wake::RemindTask { group, task, users } => tasks::remind(group, task, users, &ctx),
        Wake::ExpireTask { group, task, users } => tasks::expire(group, task, users, &ctx),
    };
    let mut all = Decision::default();
    apply(state, &mut all, decision);
    all
}

fn apply(state: &mut State, all: &mut Decision, decision: Decision) {
    for change in &decision.changes {
        state.apply(change);
    }
    all.merge(decision);
}

/// A group message quoting the one it answers.
pub fn reply(to: &GroupMessage, body: Message) -> crate::domain::Action {
    let mut segments = vec![Segment::Reply {
        id: to.message_id.clone(),
    }];
    segments.extend(body.0);
    crate::domain::Action::SendGroupMsg {
        group: to.group.clone(),
        message: Message::from_segments(segments),
    }
}

/// A plain message to a group.
pub fn say(group: &Id, body: Message) -> crate::domain::Action {
    crate::domain::Action::SendGroupMsg {
        group: group.clone(),
        message: body,
    }
}

/// A duration as members read it: `10 分钟`, `2 小时`, `1 天`.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} 秒"),
        60..=3599 if s % 60 == 0 => format!("{} 分钟", s / 60),
        3600..=86399 if s % 3600 == 0 => format!("{} 小时", s / 3600),
        _ if s >= 86400 && s % 86400 == 0 => format!("{} 天", s / 86400),
        _ if s >= 3600 => format!("{} 小时 {} 分钟", s / 3600, s % 3600 / 60),
        _ => format!("{} 分钟 {} 秒", s / 60, s % 60),
    }
}
