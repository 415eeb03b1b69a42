//! Turns committed events and due timers into decisions: runs the features over
//! each, applies their state changes, and stores actions, changes, new timers,
//! effects and the "handled"/"fired" marks in one transaction per batch, so an
//! event or a timer is acted on exactly once even across a crash. Effects outside
//! the database run after that commit ([`effect`]).
//!
//! The engine is the single writer of the features' state, so it keeps that state
//! in memory (loaded at start) and features read it without touching SQLite.
//!
//! # Failures
//!
//! Nothing accepted is dropped. A batch that cannot be committed is retried one
//! input at a time, so one poison event does not take its neighbours with it; an
//! input that still fails after [`ATTEMPTS`] tries (with backoff) is marked done
//! and logged as `engine.failed`, which `qunbot status` counts. When the store
//! itself cannot write, not even that mark, the inputs are kept and retried after
//! a growing delay: they are durable in the log, and the engine never spins.
//!
//! Intake comes through the [`journal`], which group-commits inbound events into
//! the event log and hands each new one to the engine. The journal's transaction
//! only logs: whatever derives from an event (the member roster included) is
//! written in the engine's batch, which gathers for a few milliseconds so that
//! one commit covers many journal batches. Both share SQLite's one writer; the
//! request waits only on the small one.
//!
//! # Steps
//!
//! [`Engine::run`] is the daemon's loop. Tests drive the same steps one at a
//! time: [`Engine::decide`] (decide and commit), [`Engine::carry_out_effects`],
//! [`Engine::fire_due_timers`], [`Engine::replay_unhandled`], with time from the
//! injected clock.

pub mod effect;
pub mod feature;
mod inputs;
pub mod journal;
pub mod model;
mod outgoing;
pub mod storage;
mod told;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch, Notify};

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
pub use effect::{Effect, EffectFuture, EffectHandler, EffectOutcome, Effects};
pub use feature::{Context, Feature, Features, WakeError};
use inputs::{panic_message, seed, AttemptError};
pub use inputs::{Input, Replay};
pub use model::{Change, Decision, Joiner, State, TaskState, Timer};
use outgoing::ChatBudget;
pub use storage::{
    Commit, Committed, EffectLog, EventLog, Failure, NextTimer, Recorded, StateStore, Storage,
    StoredEvent, StoredTimer,
};

/// Most events handled in one transaction.
const MAX_BATCH: usize = 512;
/// How long the engine keeps gathering events after the first one arrives, so
/// that under load one commit covers many journal batches instead of each
/// taking the writer for its own transaction (measured: 11,000 → 12,900
/// events/s). A reply waits at most this long more; nobody in a chat notices.
const GATHER: Duration = Duration::from_millis(5);
/// Longest sleep between two looks at the clock: the loop re-reads the wall
/// clock at least this often, so a suspended machine or a clock change cannot
/// make it oversleep a schedule, and features get a tick ([`Feature::on_tick`]).
pub const TICK: Duration = Duration::from_secs(30);
/// Tries of one input on its own before it is given up as `engine.failed`.
pub const ATTEMPTS: u32 = 3;
/// First delay after a store failure; doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

pub struct Engine<S: Storage> {
    store: S,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    /// Woken whenever actions were queued.
    outbox: Arc<Notify>,
    features: Features,
    effects: Effects,
    state: State,
    /// When the next timer is due, as last read; `None` until read again after a
    /// batch added or fired timers, so the loop does not query SQLite every batch.
    next_timer: Option<Option<DateTime<Utc>>>,
    /// Inputs received but not yet committed because the store could not write.
    backlog: Vec<Input>,
    /// Committed effects whose run is not yet recorded as done.
    effects_waiting: bool,
    /// Store failures in a row; sets the next retry delay.
    failures_in_a_row: u32,
    /// When chat messages were queued for each group in the last minute.
    chat_queued: ChatBudget,
    /// When the loop next offers the features a tick.
    next_tick: tokio::time::Instant,
    /// Whether a tick was committed since this process started.
    ticked: bool,
    /// Makes the loop look at the clock now (see [`Engine::waker`]).
    wake: Arc<Notify>,
    /// What `/metrics` counts of the engine's work.
    metrics: Metrics,
}

impl<S: Storage> Engine<S> {
    /// Loads the features' state from the store.
    pub async fn new(
        store: S,
        config: watch::Receiver<Arc<Config>>,
        clock: Arc<dyn Clock>,
        outbox: Arc<Notify>,
        features: Features,
        effects: Effects,
    ) -> Result<Self, S::Error> {
        let pools = config.borrow().coupons.clone();
        let state = store.load_state(&pools).await?;
        Ok(Engine {
            store,
            config,
            clock,
            outbox,
            features,
            effects,
            state,
            next_timer: None,
            backlog: Vec::new(),
            effects_waiting: true,
            failures_in_a_row: 0,
            chat_queued: ChatBudget::default(),
            next_tick: tokio::time::Instant::now(),
            ticked: false,
            wake: Arc::new(Notify::new()),
            metrics: Metrics::default(),
        })
    }

    /// Counts handled events and the features' log rows into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// A handle that makes the running loop fire due timers and tick at once,
    /// for a clock that moved without the loop seeing it (a test's manual clock).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Offers every feature a tick and commits what they plan. A tick that fails
    /// leaves nothing behind: the state is read back and the next tick plans again.
    pub async fn tick(&mut self) -> Result<(), S::Error> {
        self.next_tick = tokio::time::Instant::now() + TICK;
        let config = self.config.borrow().clone();
        let now = self.clock.now();
        let (state, features, first) = (&mut self.state, &self.features, !self.ticked);
        let seed = seed(now.timestamp(), 2);
        let decided = std::panic::catch_unwind(AssertUnwindSafe(|| {
            features.tick(state, &config, now, seed, first)
        }));
        let decision = match decided {
            Ok(decision) => decision,
            Err(panic) => {
                tracing::error!(
                    "a feature panicked while planning at a tick: {}",
                    panic_message(panic.as_ref())
                );
                return self.reload_state().await;
            }
        };
        if !decision.actions.is_empty() {
            tracing::error!(
                "a tick decided {} action(s); dropped: ticks only plan",
                decision.actions.len()
            );
        }
        let commit = Commit {
            changes: decision.changes,
            timers: decision.timers,
            ..Commit::default()
        };
        if !commit.is_empty() {
            self.next_timer = None;
            if let Err(e) = self.store.commit(&commit).await {
                self.reload_state().await?;
                return Err(e);
            }
        }
        self.ticked = true;
        Ok(())
    }

    /// Fires due timers, then ticks if a tick is due.
    async fn look_at_the_clock(&mut self, tick_now: bool) {
        if let Err(e) = self.fire_due_timers().await {
            tracing::error!("cannot fire timers yet: {e}");
            self.failures_in_a_row += 1;
        }
        if tick_now || tokio::time::Instant::now() >= self.next_tick {
            if let Err(e) = self.tick().await {
                tracing::error!("cannot plan at this tick: {e}");
            }
        }
    }

    /// The features' state as the engine holds it.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Handles events that were logged but not acted on before the last stop, and
    /// carries out effects a stop cut short. Run before the webhook opens, so
    /// nothing new interleaves. Never fails on an event: unreadable ones are
    /// quarantined, failing ones isolated, and if the store cannot write the rest
    /// waits for the run loop.
    pub async fn replay_unhandled(&mut self) -> Result<Replay, S::Error> {
        let mut replay = Replay::default();
        if let Err(e) = self.carry_out_effects().await {
            tracing::error!("effects left from before the last stop not carried out yet: {e}");
        }
        let mut inputs = Vec::new();
        let mut unreadable = Vec::new();
        for stored in self.store.unhandled_inbound().await? {
            match stored {
                StoredEvent::Readable { id, event } => inputs.push(Input::Event(id, *event)),
                StoredEvent::Unreadable { id, reason } => {
                    tracing::error!(
                        event_id = id,
                        "stored event unreadable, quarantined: {reason}"
                    );
                    unreadable.push(Failure::UnreadableEvent { id, error: reason });
                }
            }
        }
        replay.quarantined = unreadable.len();
        self.give_up(Commit {
            failed: unreadable,
            ..Commit::default()
        })
        .await?;
        while !inputs.is_empty() {
            let rest = inputs.split_off(inputs.len().min(MAX_BATCH));
            let n = inputs.len();
            if let Err(e) = self.decide(&inputs).await {
                tracing::error!("cannot act on events left from before the last stop yet: {e}");
                replay.deferred = n + rest.len();
                self.backlog.extend(inputs);
                self.backlog.extend(rest);
                break;
            }
            replay.handled += n;
            inputs = rest;
        }
        Ok(replay)
    }

    /// Handles committed events and due timers until the journal closes the channel.
    pub async fn run(mut self, mut committed: mpsc::Receiver<Committed>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut config_changes = self.config.clone();
        let mut config_open = true;
        let wake = self.wake.clone();
        self.look_at_the_clock(true).await;
        loop {
            if !self.backlog.is_empty() || self.failures_in_a_row > 0 {
                tokio::time::sleep(self.retry_delay()).await;
                let backlog = std::mem::take(&mut self.backlog);
                if !backlog.is_empty() {
                    self.process(backlog).await;
                    continue;
                }
            }
            if self.effects_waiting {
                if let Err(e) = self.carry_out_effects().await {
                    tracing::error!("cannot carry out effects yet: {e}");
                    self.failures_in_a_row += 1;
                    continue;
                }
            }
            let until_tick = self
                .next_tick
                .saturating_duration_since(tokio::time::Instant::now());
            let sleep = self.until_next_timer().await.min(until_tick);
            tokio::select! {
                received = committed.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    let deadline = tokio::time::Instant::now() + GATHER;
                    while batch.len() < MAX_BATCH {
                        let room = MAX_BATCH - batch.len();
                        let more = committed.recv_many(&mut batch, room);
                        match tokio::time::timeout_at(deadline, more).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    let inputs = batch.drain(..).map(|(id, e)| Input::Event(id, e)).collect();
                    self.process(inputs).await;
                    if tokio::time::Instant::now() >= self.next_tick {
                        self.look_at_the_clock(true).await;
                    }
                }
                _ = tokio::time::sleep(sleep) => self.look_at_the_clock(false).await,
                _ = wake.notified() => self.look_at_the_clock(true).await,
                changed = config_changes.changed(), if config_open => match changed {
                    Ok(()) => self.look_at_the_clock(true).await,
                    Err(_) => config_open = false,
                },
            }
        }
        if !self.backlog.is_empty() {
            tracing::warn!(
                "{} event(s) not acted on yet; they are handled after the next start",
                self.backlog.len()
            );
        }
    }

    /// Decides and commits `inputs`, then carries out their effects; on a store
    /// failure the inputs are kept for a later retry.
    async fn process(&mut self, inputs: Vec<Input>) {
        match self.decide(&inputs).await {
            Ok(()) => {
                self.failures_in_a_row = 0;
                if self.effects_waiting {
                    if let Err(e) = self.carry_out_effects().await {
                        tracing::error!("cannot carry out effects yet: {e}");
                    }
                }
            }
            Err(e) => {
                self.failures_in_a_row += 1;
                tracing::error!(
                    "cannot act on {} input(s) yet, retrying in {:?}: {e}",
                    inputs.len(),
                    self.retry_delay()
                );
                self.backlog.extend(inputs);
            }
        }
    }

    fn retry_delay(&self) -> Duration {
        let doublings = self.failures_in_a_row.saturating_sub(1).min(10);
        FIRST_RETRY_DELAY
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY)
    }

    async fn until_next_timer(&mut self) -> Duration {
        let next = match self.next_timer {
            Some(known) => Ok(known.map_or(NextTimer::None, NextTimer::At)),
            None => self.store.next_timer().await,
        };
        match next {
            Ok(NextTimer::None | NextTimer::At(_)) => {
                // The store answers again: no more waiting before the next receive.
                self.failures_in_a_row = 0;
                let due = match next {
                    Ok(NextTimer::At(at)) => Some(at),
                    _ => None,
                };
                self.next_timer = Some(due);
                due.map_or(TICK, |due| {
                    (due - self.clock.now())
                        .to_std()
                        .unwrap_or_default()
                        .min(TICK)
                })
            }
            Ok(NextTimer::Unreadable { id, reason }) => {
                tracing::error!(timer_id = id, "timer unreadable, quarantined: {reason}");
                let quarantined = vec![Failure::Timer { id, error: reason }];
                if let Err(e) = self
                    .give_up(Commit {
                        failed: quarantined,
                        ..Commit::default()
                    })
                    .await
                {
                    tracing::error!("cannot quarantine timer {id}: {e}");
                    self.failures_in_a_row += 1;
                    return self.retry_delay();
                }
                Duration::ZERO
            }
            Err(e) => {
                tracing::error!("cannot read timers: {e}");
                self.failures_in_a_row += 1;
                self.retry_delay()
            }
        }
    }

    /// Fires the timers due by the clock's now: unreadable ones are quarantined,
    /// the others handled. Returns how many were due.
    pub async fn fire_due_timers(&mut self) -> Result<usize, S::Error> {
        let due = self
            .store
            .due_timers(self.clock.now(), MAX_BATCH as i64)
            .await?;
        let n = due.len();
        let mut inputs = Vec::new();
        let mut unreadable = Vec::new();
        for stored in due {
            match stored {
                StoredTimer::Readable { id, timer } => inputs.push(Input::Timer(id, timer)),
                StoredTimer::Unreadable { id, reason } => {
                    tracing::error!(timer_id = id, "timer unreadable, quarantined: {reason}");
                    unreadable.push(Failure::Timer { id, error: reason });
                }
            }
        }
        self.give_up(Commit {
            failed: unreadable,
            ..Commit::default()
        })
        .await?;
        if !inputs.is_empty() {
            self.decide(&inputs).await?;
            self.failures_in_a_row = 0;
            self.carry_out_effects().await?;
        }
        Ok(n)
    }

    /// Decides on `inputs` and commits the decisions. A batch that fails is
    /// retried one input at a time; an input that keeps failing is given up as
    /// `engine.failed`. Fails only when the store cannot write at all, leaving
    /// every input of the batch not done.
    pub async fn decide(&mut self, inputs: &[Input]) -> Result<(), S::Error> {
        if inputs.is_empty() {
            return Ok(());
        }
        let Err(e) = self.attempt(inputs).await else {
            return Ok(());
        };
        if inputs.len() > 1 {
            tracing::warn!(
                "a batch of {} input(s) failed, handling each alone: {e}",
                inputs.len()
            );
        }
        self.reload_state().await?;
        for input in inputs {
            self.decide_alone(input).await?;
        }
        Ok(())
    }

    async fn decide_alone(&mut self, input: &Input) -> Result<(), S::Error> {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.attempt(std::slice::from_ref(input)).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last = e.to_string();
                    self.reload_state().await?;
                    if attempt < ATTEMPTS {
                        let delay = FIRST_RETRY_DELAY.saturating_mul(1 << (attempt - 1));
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        let failure = input.failure(last);
        tracing::error!("given up after {ATTEMPTS} tries: {failure:?}");
        // The event still happened: its membership facts are kept.
        let mut commit = Commit {
            failed: vec![failure],
            ..Commit::default()
        };
        if let Input::Event(_, event) = input {
            commit.roster.extend(event.roster_update());
            commit.synced.extend(event.roster_sync());
        }
        // If even this cannot be written, the store is down and the input stays not done.
        self.give_up(commit).await
    }

    /// Marks inputs done without acting on them (`commit.failed`), logging why.
    async fn give_up(&mut self, commit: Commit) -> Result<(), S::Error> {
        if commit.failed.is_empty() {
            return Ok(());
        }
        self.next_timer = None;
        self.store.commit(&commit).await
    }

    /// The in-memory state took changes that were not written: read it back.
    async fn reload_state(&mut self) -> Result<(), S::Error> {
        let pools = self.config.borrow().coupons.clone();
        self.state = self.store.load_state(&pools).await?;
        self.next_timer = None;
        Ok(())
    }

    /// One try at deciding and committing a batch.
    async fn attempt(&mut self, inputs: &[Input]) -> Result<(), AttemptError<S::Error>> {
        if self.config.has_changed().unwrap_or(false) {
            let pools = self.config.borrow_and_update().coupons.clone();
            self.state.coupons = self
                .store
                .unclaimed_coupons(&pools)
                .await
                .map_err(AttemptError::Store)?;
        }
        let config = self.config.borrow().clone();
        let now = self.clock.now();
        let mut commit = Commit::default();
        for input in inputs {
            let (state, features) = (&mut self.state, &self.features);
            // Seeded by the input (events and timers apart), so a replay draws the same.
            let decided = std::panic::catch_unwind(AssertUnwindSafe(|| match input {
                Input::Event(id, event) => Ok((
                    Some(*id),
                    event.account.clone(),
                    features.react(event, state, &config, now, seed(*id, 0)),
                )),
                Input::Timer(id, timer) => features
                    .wake(timer, state, &config, now, seed(*id, 1))
                    .map(|d| (None, timer.account.clone(), d)),
            }));
            let (cause, account, decision) = decided
                .map_err(|panic| AttemptError::Panicked(panic_message(panic.as_ref())))??;
            outgoing::add_to(&mut commit, input, cause, &account, decision);
        }
        if !commit.timers.is_empty() || !commit.fired_timers.is_empty() {
            self.next_timer = None;
        }
        let queued = self.chat_queued.limit(
            &mut commit,
            now,
            config.outbox.group_messages_per_minute as usize,
        );
        self.store
            .commit(&commit)
            .await
            .map_err(AttemptError::Store)?;
        self.chat_queued.record(queued, now);
        self.committed(inputs, &commit);
        Ok(())
    }

    /// Carries out every committed effect not yet done, each by its handler, and
    /// records each outcome with its follow-up actions. Returns how many ran.
    pub async fn carry_out_effects(&mut self) -> Result<usize, S::Error> {
        let pending = self.store.pending_effects().await?;
        if pending.is_empty() {
            self.effects_waiting = false;
            return Ok(0);
        }
        let ids: Vec<i64> = pending.iter().map(|e| e.id).collect();
        self.store.start_effects(&ids).await?;
        for effect in &pending {
            let outcome = self
                .effects
                .run(&effect.kind, &effect.payload, effect.attempts > 0)
                .await;
            self.store
                .finish_effect(effect.id, &outcome.detail, &outcome.followups)
                .await?;
            if !outcome.followups.is_empty() {
                self.outbox.notify_one();
            }
        }
        self.effects_waiting = false;
        Ok(pending.len())
    }
}

#[cfg(test)]
mod tests;
