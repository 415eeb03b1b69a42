//! Notices an account in trouble before the platform bans it. IM platforms
//! freeze accounts that keep sending while restricted (a stall followed by a
//! burst of queued messages froze several bots), and the gateways report a
//! restricted account mostly as sends timing out.
//!
//! `outbox.risk_timeouts` signs (send timeouts, or answers the gateways give a
//! blocked send: [`Reply::risk_sign`](crate::gateway::onebot::api::Reply::risk_sign))
//! within `outbox.risk_window` make the account *suspect*: its automatic
//! messages pause for `outbox.risk_pause`, doubled for each pause in the day
//! before (at most a day), plus up to a tenth more at random so several
//! accounts do not resume together. After the pause the account sends at half
//! its usual rate for an hour. Recalls, mutes and answers never pause.
//!
//! The watch lives in the outbox's memory; the finding goes into the journal
//! as an `account.suspect` event, so the features hold back new automatic
//! messages too and the operators are told. After a restart the outbox reads
//! the pauses back from what the features recorded.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::OutboxConfig;
use crate::domain::Id;

/// The longest pause, whatever the repeats.
const LONGEST_PAUSE: Duration = Duration::from_secs(24 * 3600);
/// How long after a pause the account sends at half its rate.
pub const SLOW_AFTER: Duration = Duration::from_secs(3600);

/// A pause decided now.
#[derive(Clone, Debug, PartialEq)]
pub struct Suspicion {
    pub reason: String,
    pub until: DateTime<Utc>,
    /// Which pause of the last day this is (1 for the first).
    pub repeat: u32,
}

#[derive(Default)]
struct Watch {
    signs: VecDeque<DateTime<Utc>>,
    paused_until: Option<DateTime<Utc>>,
    /// When each pause of the last day began.
    pauses: VecDeque<DateTime<Utc>>,
}

#[derive(Default)]
pub struct RiskWatch {
    accounts: HashMap<Id, Watch>,
}

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl RiskWatch {
    /// Counts one sign of risk control on `account` at `at`; the pause when this
    /// one tips it over. `jitter` in [0, 1) stretches the pause by up to a tenth.
    pub fn sign(
        &mut self,
        account: &Id,
        at: DateTime<Utc>,
        reason: &str,
        settings: &OutboxConfig,
        jitter: f64,
    ) -> Option<Suspicion> {
        let watch = self.accounts.entry(account.clone()).or_default();
        if watch.paused_until.is_some_and(|until| until > at) {
            return None; // already paused: one finding per pause
        }
        let window = chrono::Duration::from_std(settings.risk_window).unwrap_or_default();
        watch.signs.retain(|t| at - *t < window);
        watch.signs.push_back(at);
        if (watch.signs.len() as u32) < settings.risk_timeouts.max(1) {
            return None;
        }
        watch.signs.clear();
        let day = chrono::Duration::days(1);
        watch.pauses.retain(|t| at - *t < day);
        let repeat = watch.pauses.len() as u32;
        let doubled = settings
            .risk_pause
            .saturating_mul(1 << repeat.min(16))
            .min(LONGEST_PAUSE);
        let pause = doubled.mul_f64(1.0 + jitter.clamp(0.0, 1.0) / 10.0);
        let until = after(at, pause);
        watch.pauses.push_back(at);
        watch.paused_until = Some(until);
        Some(Suspicion {
            reason: reason.to_string(),
            until,
            repeat: repeat + 1,
        })
    }

    /// Takes up a pause found before (read back after a restart): it began at
    /// `since` and was the day's `repeat`th, so the next one doubles on from it.
    pub fn restore(
        &mut self,
        account: &Id,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        repeat: u32,
    ) {
        let watch = self.accounts.entry(account.clone()).or_default();
        watch.paused_until = Some(watch.paused_until.map_or(until, |u| u.max(until)));
        // The earlier pauses' starts are not kept: counted at the last one's.
        watch.pauses = std::iter::repeat_n(since, repeat.min(32) as usize).collect();
    }

    /// While `account`'s automatic messages pause: until when.
    pub fn paused_until(&self, account: &Id, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.accounts
            .get(account)?
            .paused_until
            .filter(|until| *until > now)
    }

    /// Whether `account` sends at half its rate now (the hour after a pause).
    pub fn slowed(&self, account: &Id, now: DateTime<Utc>) -> bool {
        self.accounts
            .get(account)
            .and_then(|w| w.paused_until)
            .is_some_and(|until| until <= now && now < after(until, SLOW_AFTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn settings() -> OutboxConfig {
        OutboxConfig::default()
    }

    #[test]
    fn three_timeouts_within_the_window_pause_the_account_for_an_hour() {
        let mut watch = RiskWatch::default();
        let bot = Id::number(1);
        assert_eq!(watch.sign(&bot, t(0), "timeout", &settings(), 0.0), None);
        assert_eq!(watch.sign(&bot, t(60), "timeout", &settings(), 0.0), None);
        let found = watch
            .sign(&bot, t(120), "timeout", &settings(), 0.0)
            .expect("the third sign tips it over");
        assert_eq!(found.until, t(120 + 3600));
        assert_eq!(found.repeat, 1);
        assert_eq!(watch.paused_until(&bot, t(121)), Some(t(3720)));
        assert!(!watch.slowed(&bot, t(121)));
        assert!(watch.slowed(&bot, t(3720)));
        assert!(!watch.slowed(&bot, t(3720 + 3600)));
        assert_eq!(watch.paused_until(&Id::number(2), t(121)), None);
    }

    #[test]
    fn a_pause_read_back_after_a_restart_holds_and_the_next_one_doubles_on() {
        let mut watch = RiskWatch::default();
        let bot = Id::number(1);
        watch.restore(&bot, t(0), t(3600), 1);
        assert_eq!(watch.paused_until(&bot, t(10)), Some(t(3600)));
        let mut found = None;
        let mut at = 3600;
        while found.is_none() {
            at += 1;
            found = watch.sign(&bot, t(at), "timeout", &settings(), 0.0);
        }
        assert_eq!(found.unwrap().repeat, 2, "the second pause of the day");
    }

    #[test]
    fn signs_further_apart_than_the_window_do_not_add_up() {
        let mut watch = RiskWatch::default();
        let bot = Id::number(1);
        for i in 0..10 {
            assert_eq!(
                watch.sign(&bot, t(i * 301), "timeout", &settings(), 0.0),
                None,
                "two signs at most in any ten minutes"
            );
        }
    }

    #[test]
    fn each_pause_within_a_day_doubles_up_to_a_day_with_at_most_a_tenth_of_jitter() {
        let mut watch = RiskWatch::default();
        let bot = Id::number(1);
        let mut at = 0;
        let mut pauses = Vec::new();
        for _ in 0..7 {
            let mut found = None;
            while found.is_none() {
                at += 1;
                found = watch.sign(&bot, t(at), "timeout", &settings(), 0.999);
            }
            let found = found.unwrap();
            pauses.push((found.until - t(at)).num_seconds());
            at = (found.until - t(0)).num_seconds();
        }
        assert_eq!(pauses[0], 3959, "an hour and up to a tenth");
        assert_eq!(pauses[1], 7919);
        assert!(
            pauses.iter().all(|p| *p <= 24 * 3600 * 11 / 10),
            "{pauses:?}"
        );
    }
}
