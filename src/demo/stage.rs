//! The demo's stage: the simulator, the daemon and its clock, and the
//! narration placed between what the gateway saw; each scene waits on it until
//! the gateway saw everything the scene causes.

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::Value;

use super::transcript::render_message;
use super::{POLL, SCENE_LIMIT};
use crate::clock::SkippingClock;
use crate::simulator::Simulator;
use crate::startup::Daemon;
use crate::store::ReadModel;

/// A line of narration placed in the timeline after simulator entry `after`.
pub(super) struct Note {
    pub(super) after: u64,
    pub(super) text: String,
}

pub(super) struct Stage {
    pub(super) sim: Simulator,
    pub(super) secret: String,
    /// Display names of the virtual members, by id.
    pub(super) names: Vec<(String, String)>,
    pub(super) daemon: Daemon,
    pub(super) clock: Arc<SkippingClock>,
    pub(super) notes: Vec<Note>,
}

/// Each scene waits until the gateway saw everything the scene causes before the
/// next heading goes into the timeline, so its results print under its own heading.
impl Stage {
    pub(super) fn say(&mut self, text: &str) {
        self.notes.push(Note {
            after: self.sim.position(),
            text: text.to_string(),
        });
    }

    pub(super) async fn push(&self, event: &Value) -> anyhow::Result<u16> {
        self.sim
            .push(event)
            .await
            .context("pushing an event to the daemon")
    }

    /// Waits (polling, at most [`SCENE_LIMIT`]) until `done` holds of what the
    /// gateway saw; fails naming `what` if it does not.
    pub(super) async fn until(
        &self,
        what: &str,
        done: impl Fn(&Simulator) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SCENE_LIMIT;
        while !done(&self.sim) {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("waited {SCENE_LIMIT:?} for {what}; the gateway saw too little");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Until the gateway carried out `n` calls of `action` since the demo began.
    pub(super) async fn performed(&self, action: &str, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} {action} call(s)"), |sim| {
            sim.performed(action).len() >= n
        })
        .await
    }

    /// Until the daemon logged `n` events of `kind`.
    pub(super) async fn logged(&self, kind: &str, n: usize) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SCENE_LIMIT;
        while self.daemon.store().events_of_kind(kind).await?.len() < n {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("waited {SCENE_LIMIT:?} for {n} {kind} event(s)");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Until the daemon acted on every event it logged.
    pub(super) async fn handled(&self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SCENE_LIMIT;
        while self.daemon.store().unhandled_count().await? > 0 {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("waited {SCENE_LIMIT:?} for the daemon to act on its events");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Until `n` of the bot's group messages since the demo began contain `text`.
    pub(super) async fn bot_said(&self, text: &str, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} bot message(s) saying {text:?}"), |sim| {
            bot_messages(sim)
                .iter()
                .filter(|m| m.contains(text))
                .count()
                >= n
        })
        .await
    }

    /// Moves the daemon's clock ahead and has it look at its timers at once.
    pub(super) fn skip(&self, by: chrono::Duration) {
        self.clock.skip(by);
        self.daemon.look_at_the_clock();
    }

    pub(super) async fn pongs(&self, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} pong(s)"), |sim| pongs(sim) >= n)
            .await
    }
}

/// The group messages the simulator carried out, as read in the chat.
pub(super) fn bot_messages(sim: &Simulator) -> Vec<String> {
    sim.performed("send_group_msg")
        .iter()
        .map(|c| render_message(&[], &c.params["message"]))
        .collect()
}

/// `pong` replies the simulator carried out.
pub(super) fn pongs(sim: &Simulator) -> usize {
    bot_messages(sim)
        .iter()
        .filter(|m| m.ends_with("pong"))
        .count()
}
