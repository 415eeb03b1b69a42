//! Time, injected: features read the clock they are given, so tests can set it.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, for tests.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(t))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The wall clock, which can be moved forward: time flows as usual (pacing,
/// retries), and a demo or a test jumps ahead where only the daemon needs time
/// to pass (a cooldown, the hour a schedule fires) instead of sleeping.
#[derive(Default)]
pub struct SkippingClock {
    ahead: Mutex<chrono::Duration>,
}

impl SkippingClock {
    pub fn skip(&self, by: chrono::Duration) {
        let mut ahead = self.ahead.lock().unwrap_or_else(|e| e.into_inner());
        *ahead += by;
    }
}

impl Clock for SkippingClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.ahead.lock().unwrap_or_else(|e| e.into_inner())
    }
}
