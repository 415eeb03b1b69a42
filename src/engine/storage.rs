//! The engine's storage port: what the engine needs from a store, and the
//! types that cross it. The store implements [`Storage`] (SQLite today; a
//! PostgreSQL store would implement the same trait), so the engine and the
//! features never see SQL, and nothing here imports the store.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Change, Effect, State, Timer};
use crate::config::CouponPool;
use crate::domain::{Event, Outbound, RosterSync, RosterUpdate};

/// A committed new event, on its way from the journal to the engine.
pub type Committed = (i64, Event);

/// The event log: inbound events are recorded once (a redelivery is
/// recognised) and read back when they were not acted on before a stop. Its
/// error type is the store's.
pub trait EventLog: Clone + Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Logs a batch of inbound events in one transaction; for each, its new row
    /// id or that it is a redelivery.
    fn record_inbound(
        &self,
        events: &[Event],
    ) -> impl Future<Output = Result<Vec<Recorded>, Self::Error>> + Send;

    /// Inbound events logged but not yet acted on, oldest first.
    fn unhandled_inbound(
        &self,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, Self::Error>> + Send;

    /// Makes a small real write, to learn whether the log can take events now.
    fn probe_write(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// The features' state, their timers, and the atomic commit of a batch.
pub trait StateStore: EventLog {
    /// The features' state as stored, with each coupon pool's unclaimed codes.
    fn load_state(
        &self,
        pools: &BTreeMap<String, CouponPool>,
    ) -> impl Future<Output = Result<State, Self::Error>> + Send;

    /// Each pool's codes that have not been handed out, in file order.
    fn unclaimed_coupons(
        &self,
        pools: &BTreeMap<String, CouponPool>,
    ) -> impl Future<Output = Result<HashMap<String, VecDeque<String>>, Self::Error>> + Send;

    /// Writes one batch's decisions and marks, all or nothing.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Timers due at `now` or before, oldest first.
    fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredTimer>, Self::Error>> + Send;

    /// The next unfired timer.
    fn next_timer(&self) -> impl Future<Output = Result<NextTimer, Self::Error>> + Send;
}

/// Effects committed with their decisions, until they are carried out.
pub trait EffectLog: EventLog {
    /// Effects committed but not yet carried out, oldest first.
    fn pending_effects(&self) -> impl Future<Output = Result<Vec<EffectRow>, Self::Error>> + Send;

    /// Records that these effects are about to run.
    fn start_effects(&self, ids: &[i64]) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Closes an effect with its outcome, queueing its follow-up actions with it.
    fn finish_effect(
        &self,
        id: i64,
        outcome: &Value,
        followups: &[Outbound],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Everything the engine needs from a store.
pub trait Storage: StateStore + EffectLog {}

impl<S: StateStore + EffectLog> Storage for S {}

/// What one inbound event made of the log: its row id, or that it was a redelivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    New(i64),
    Duplicate,
}

/// When the next timer is due, if any; a due time that cannot be read names its
/// timer, so the engine can quarantine it.
#[derive(Clone, Debug, PartialEq)]
pub enum NextTimer {
    None,
    At(DateTime<Utc>),
    Unreadable { id: i64, reason: String },
}

/// Everything one engine batch decided, written atomically.
#[derive(Debug, Default)]
pub struct Commit {
    /// Inbound events now handled, by id.
    pub handled: Vec<i64>,
    /// Timers that fired in this batch.
    pub fired_timers: Vec<i64>,
    /// Inputs the engine gave up on: marked done so they are not retried, and
    /// logged with the reason.
    pub failed: Vec<Failure>,
    /// Actions to queue, with the inbound event that caused each.
    pub actions: Vec<(Option<i64>, Outbound)>,
    pub changes: Vec<Change>,
    pub timers: Vec<Timer>,
    /// Side effects to carry out once this commits, with their cause.
    pub effects: Vec<(Option<i64>, Effect)>,
    /// What the handled events tell about membership (joined, left, spoke).
    pub roster: Vec<RosterUpdate>,
    /// Whole member lists the handled events carry; written before `roster`,
    /// so what events of the same batch say wins over an older list.
    pub synced: Vec<RosterSync>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.handled.is_empty()
            && self.fired_timers.is_empty()
            && self.failed.is_empty()
            && self.actions.is_empty()
            && self.changes.is_empty()
            && self.timers.is_empty()
            && self.effects.is_empty()
            && self.roster.is_empty()
            && self.synced.is_empty()
    }
}

/// An input the engine gave up on, and why.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// An event whose handling kept failing: marked handled, logged as `engine.failed`.
    Event { id: i64, error: String },
    /// A stored event that cannot be read back: marked handled, logged as `engine.quarantined`.
    UnreadableEvent { id: i64, error: String },
    /// A timer that cannot be read back or whose wake-up kept failing: marked
    /// fired, logged as `timer.quarantined`.
    Timer { id: i64, error: String },
}

impl Failure {
    /// The log kind and the detail of its row.
    pub fn log_row(&self) -> (&'static str, Value) {
        match self {
            Failure::Event { id, error } => (
                "engine.failed",
                serde_json::json!({"event_id": id, "error": error}),
            ),
            Failure::UnreadableEvent { id, error } => (
                "engine.quarantined",
                serde_json::json!({"event_id": id, "error": error}),
            ),
            Failure::Timer { id, error } => (
                "timer.quarantined",
                serde_json::json!({"timer_id": id, "error": error}),
            ),
        }
    }
}

/// An inbound event read back for the engine, or the reason it cannot be.
#[derive(Clone, Debug)]
pub enum StoredEvent {
    Readable { id: i64, event: Box<Event> },
    Unreadable { id: i64, reason: String },
}

impl StoredEvent {
    pub fn decode(id: i64, detail: &str) -> StoredEvent {
        match serde_json::from_str(detail) {
            Ok(event) => StoredEvent::Readable {
                id,
                event: Box::new(event),
            },
            Err(e) => StoredEvent::Unreadable {
                id,
                reason: e.to_string(),
            },
        }
    }
}

/// A due timer read back for the engine, or the reason it cannot be.
#[derive(Clone, Debug)]
pub enum StoredTimer {
    Readable { id: i64, timer: Timer },
    Unreadable { id: i64, reason: String },
}

/// A side effect committed by the engine and not yet carried out.
#[derive(Clone, Debug)]
pub struct EffectRow {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    /// Runs started before this one (a crash may have cut one short).
    pub attempts: i64,
}
