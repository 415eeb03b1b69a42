//! The feature seam. A feature is one module that implements [`Feature`]: it
//! names itself, says which events it wants, decides on those events and on its
//! own wake-ups, and keeps its state as [`Change`](super::Change)s (its own
//! [`Change::Record`](super::Change::Record)s when the community tables do not
//! fit). The daemon hands the engine a [`Features`] list; adding a feature adds
//! one entry to that list and edits nothing in the engine or the store.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::model::{Decision, State, Timer};
use crate::config::Config;
use crate::domain::Event;

/// What a feature may look at besides the event: the config snapshot, the state
/// (with the changes of the features before it), the time, and a random source
/// seeded by the input, so a replay of the same input decides the same.
pub struct Context<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub now: DateTime<Utc>,
    seed: u64,
}

impl<'a> Context<'a> {
    pub fn new(config: &'a Config, state: &'a State, now: DateTime<Utc>, seed: u64) -> Self {
        Context {
            config,
            state,
            now,
            seed,
        }
    }

    /// A random source for `purpose`: the same input and purpose always give the
    /// same numbers; different purposes give independent ones.
    pub fn rng(&self, purpose: &str) -> StdRng {
        // FNV-1a: stable across Rust releases, unlike the std hasher.
        let salt = purpose.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        StdRng::seed_from_u64(self.seed ^ salt)
    }
}

/// Why a wake-up could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum WakeError {
    #[error("no feature named {0} takes wake-ups")]
    NoFeature(String),
    #[error("unreadable wake-up for {feature}: {source}")]
    Unreadable {
        feature: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One thing the bot does, as the engine sees it.
pub trait Feature: Send + Sync {
    /// A stable name: it addresses the feature's timers and keys its records.
    fn name(&self) -> &'static str;

    /// Whether `event` concerns this feature; the engine does not offer it others.
    fn wants(&self, _event: &Event) -> bool {
        true
    }

    /// What the feature decides about an event.
    fn on_event(&self, event: &Event, ctx: &Context) -> Decision;

    /// One of the feature's timers came due. Features without timers keep the default.
    fn on_wake(&self, timer: &Timer, _ctx: &Context) -> Result<Decision, WakeError> {
        Err(WakeError::NoFeature(timer.feature.clone()))
    }

    /// The engine's periodic look at the time: at start, after each config
    /// change, and at least every [`TICK`](super::TICK). A feature that acts on
    /// its own (schedules) plans its timers here. A tick only plans: it may
    /// change state and set timers; actions it returns are dropped.
    fn on_tick(&self, _ctx: &Context) -> Decision {
        Decision::default()
    }

    /// The first tick since this process started (before that tick's
    /// `on_tick`): for work due at every start, like syncing what may have
    /// changed while the daemon was down. Like a tick, it only plans.
    fn on_start(&self, _ctx: &Context) -> Decision {
        Decision::default()
    }
}

/// The features, in the order they see each event: each sees the state changes
/// of those before it.
#[derive(Clone, Default)]
pub struct Features(Vec<Arc<dyn Feature>>);

impl Features {
    pub fn new(features: Vec<Arc<dyn Feature>>) -> Self {
        Features(features)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.name()).collect()
    }

    /// Every interested feature's reaction to one event; the changes are applied
    /// to `state` as they are decided.
    pub fn react(
        &self,
        event: &Event,
        state: &mut State,
        config: &Config,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Decision {
        let interested = self.0.iter().filter(|f| f.wants(event));
        each(interested, state, config, now, seed, |f, ctx| {
            f.on_event(event, ctx)
        })
    }

    /// The reaction of the timer's feature to its wake-up.
    pub fn wake(
        &self,
        timer: &Timer,
        state: &mut State,
        config: &Config,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Result<Decision, WakeError> {
        let feature = self
            .0
            .iter()
            .find(|f| f.name() == timer.feature)
            .ok_or_else(|| WakeError::NoFeature(timer.feature.clone()))?;
        let decision = feature.on_wake(timer, &Context::new(config, state, now, seed))?;
        let mut all = Decision::default();
        apply(state, &mut all, decision);
        Ok(all)
    }

    /// Every feature's plan at a tick (the process's `first`, or a later
    /// one); the changes are applied to `state`.
    pub fn tick(
        &self,
        state: &mut State,
        config: &Config,
        now: DateTime<Utc>,
        seed: u64,
        first: bool,
    ) -> Decision {
        each(self.0.iter(), state, config, now, seed, |f, ctx| {
            let mut d = if first {
                f.on_start(ctx)
            } else {
                Decision::default()
            };
            d.merge(f.on_tick(ctx));
            d
        })
    }
}

/// Runs `decide` for each feature in turn, each seeing the state with the
/// changes of those before it, and gathers their decisions.
fn each<'a>(
    features: impl Iterator<Item = &'a Arc<dyn Feature>>,
    state: &mut State,
    config: &Config,
    now: DateTime<Utc>,
    seed: u64,
    decide: impl Fn(&dyn Feature, &Context) -> Decision,
) -> Decision {
    let mut all = Decision::default();
    for feature in features {
        let decision = decide(feature.as_ref(), &Context::new(config, state, now, seed));
        apply(state, &mut all, decision);
    }
    all
}

fn apply(state: &mut State, all: &mut Decision, decision: Decision) {
    for change in &decision.changes {
        state.apply(change);
    }
    all.merge(decision);
}
