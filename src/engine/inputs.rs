//! What the engine reacts to (an event or a due timer), what a replay found,
//! and what a try at a batch may end in.

use super::{Failure, WakeError};
use crate::domain::Event;
use crate::engine::Timer;

/// Something the engine reacts to.
#[derive(Clone, Debug)]
pub enum Input {
    Event(i64, Event),
    Timer(i64, Timer),
}

impl Input {
    pub(super) fn failure(&self, error: String) -> Failure {
        match self {
            Input::Event(id, _) => Failure::Event { id: *id, error },
            Input::Timer(id, _) => Failure::Timer { id: *id, error },
        }
    }
}

/// What a caught panic said, if it said it as text.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Why an attempt at a batch failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum AttemptError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Store(E),
    #[error("a feature panicked: {0}")]
    Panicked(String),
    #[error(transparent)]
    Wake(#[from] WakeError),
}

/// What [`Engine::replay_unhandled`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// Events handled (or given up as `engine.failed`).
    pub handled: usize,
    /// Events that could not be read back and were quarantined.
    pub quarantined: usize,
    /// Events left for the run loop because the store could not write.
    pub deferred: usize,
}

/// The random seed of an input: its row id, with events and timers apart.
pub(super) fn seed(id: i64, kind: u64) -> u64 {
    (id as u64).wrapping_mul(2).wrapping_add(kind)
}
