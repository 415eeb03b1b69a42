//! What the bot decides. Each feature is plain code over an event (or a timer),
//! the [`State`], the config snapshot and the time, returning a [`Decision`]: no
//! HTTP, no SQL, no clock of its own, so each is unit-tested without a server.
//!
//! - [`accounts`]: which bot account speaks in which group (the group's responder).
//! - [`onboarding`]: join requests, waves of newcomers welcomed together, verification.
//! - [`tasks`]: new-member tasks, their rewards, reminders and expiry.
//! - [`points`]: the points ledger's rules: check-in and streaks, ranks, coupons.
//! - [`hygiene`]: the sensitive-word filter's actions, strikes and escalation.
//! - [`commands`]: slash-commands, permissions, cooldowns, answers.
//! - [`red_packets`]: lucky red packets of points: split at opening, grabbed first come first served.
//! - [`schedule`]: announcements and flash-sale posts on a restart-safe schedule,
//!   under the rules of [`automatic`] messages (quiet hours, the daily cap).
//! - [`reactivation`]: nudging silent members, measured against a holdout; zombies.
//! - [`notify`]: the owner told, in the chat, what went wrong (merged, capped).
//!
//! Each plugs into the engine through [`Feature`] (see [`crate::engine::feature`]);
//! [`all`] is the list the daemon runs. What they remember and the changes they
//! make to it are the engine's model ([`crate::engine::model`]).

pub mod accounts;
pub mod automatic;
pub mod commands;
pub mod hygiene;
#[cfg(test)]
mod member_texts_tests;
pub mod notify;
pub mod onboarding;
pub mod points;
pub mod reactivation;
pub mod red_packets;
pub mod schedule;
pub mod tasks;
#[cfg(test)]
pub mod testkit;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::{GroupMessage, Id, Message, Segment};
pub use crate::engine::{Change, Context, Decision, Feature, Features, State, Timer};

/// The features the daemon runs, in the order they see each event: hygiene
/// first (a filtered message does nothing else), then onboarding, then commands
/// (which answer before a task done by the command is acknowledged), then tasks.
pub fn all() -> Features {
    Features::new(vec![
        Arc::new(accounts::Accounts),
        Arc::new(hygiene::Hygiene),
        Arc::new(onboarding::Onboarding),
        Arc::new(commands::Commands),
        Arc::new(red_packets::RedPackets),
        Arc::new(tasks::Tasks),
        Arc::new(schedule::Schedule),
        Arc::new(reactivation::Reactivation),
        Arc::new(notify::Notify),
    ])
}

/// A member's message whose images are to be read for QR codes; what is found
/// comes back as [`crate::domain::EventBody::QrCodes`] carrying this message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageCheck {
    pub account: Id,
    /// The account whose copy of the message this was, in a shared group: the
    /// recall of a QR code goes through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard_by: Option<Id>,
    pub message: crate::domain::GroupMessage,
    pub urls: Vec<String>,
}

/// An admin's `/stats`: the group, the last `days` days, the message to answer.
/// The figures come back as [`crate::domain::EventBody::StatsFound`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsRequest {
    pub account: Id,
    pub group: Id,
    pub days: u32,
    pub message_id: Id,
}

/// A word-list edit and the message to answer once it is done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordEditRequest {
    pub edit: crate::filter::WordEdit,
    pub account: Id,
    pub group: Id,
    pub message_id: Id,
}

/// Effect kinds the features ask for; [`crate::effects`] carries them out.
pub mod effect_kind {
    /// Read the config and the files it names again (`/reload`).
    pub const RELOAD: &str = "config.reload";
    /// Edit the word-list file ([`super::WordEditRequest`]).
    pub const EDIT_WORDS: &str = "words.edit";
    /// Read pictures for QR codes ([`super::ImageCheck`]).
    pub const CHECK_IMAGES: &str = "media.check_images";
    /// A group's figures for `/stats` ([`super::StatsRequest`]).
    pub const STATS: &str = "stats.request";
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

/// A log row about something the bot did in a group, about one member or none.
pub fn group_note(
    kind: &str,
    group: &crate::domain::GroupKey,
    user: Option<&Id>,
    detail: serde_json::Value,
) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: group.account.clone(),
        group: Some(group.group.clone()),
        user: user.cloned(),
        detail,
    }
}

/// A log row about the bot as a whole, in no group.
pub fn system_note(kind: &str, detail: serde_json::Value) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: Id::number(0),
        group: None,
        user: None,
        detail,
    }
}

/// A plain message to a group.
pub fn say(group: &Id, body: Message) -> crate::domain::Action {
    crate::domain::Action::SendGroupMsg {
        group: group.clone(),
        message: body,
    }
}

/// `text` cut to `max` characters, with "…" when it was longer: what the bot
/// repeats of anything a member typed, so a 100 KB argument is never echoed.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The most characters of a mistyped name or argument an answer repeats.
pub const ECHO_CHARS: usize = 20;

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
