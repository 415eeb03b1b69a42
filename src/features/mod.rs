//! What the bot decides. Each feature is plain code over an event, the config
//! snapshot and the time, returning typed actions: no HTTP, no SQL, no clock of its
//! own, so each is unit-tested without a server.
//!
//! - [`commands`]: slash-commands typed in a managed group (`/ping`).

pub mod commands;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{Action, Event};

/// What a feature may look at besides the event.
pub struct Context<'a> {
    pub config: &'a Config,
    pub now: DateTime<Utc>,
}

/// Every feature's reaction to one event, in a stable order.
pub fn react(event: &Event, ctx: &Context) -> Vec<Action> {
    let mut actions = Vec::new();
    actions.extend(commands::react(event, ctx));
    actions
}
