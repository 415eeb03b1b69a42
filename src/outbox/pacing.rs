//! When an action may go: when each account and group last sent, the keys an
//! action is paced by, the queue (lane) it waits in, retry backoff, and when it
//! is too late to go at all.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::PendingAction;
use crate::config::OutboxConfig;

/// Remembers when each account and group last sent, to space sends out.
///
/// Times are the injected clock's, like every other time the outbox compares
/// (ages, next attempts), so a test moving a manual clock moves pacing with it.
#[derive(Default)]
pub struct Pacer {
    last: HashMap<String, DateTime<Utc>>,
}

impl Pacer {
    /// The earliest time all of `keys` allow another send.
    ///
    /// A last send that lies after `now` (the wall clock was set back) counts as
    /// sent `now`: a clock stepping back an hour then costs one interval, not an
    /// hour of silence in every group.
    pub fn ready_at(&self, keys: &[(String, Duration)], now: DateTime<Utc>) -> DateTime<Utc> {
        keys.iter()
            .filter_map(|(key, interval)| {
                self.last.get(key).map(|t| after((*t).min(now), *interval))
            })
            .fold(now, DateTime::max)
    }

    pub fn record(&mut self, keys: &[(String, Duration)], at: DateTime<Utc>) {
        for (key, _) in keys {
            self.last.insert(key.clone(), at);
        }
    }
}

/// Retry delay after `attempts` failed tries: doubling from `retry_initial`, capped.
pub fn backoff(config: &OutboxConfig, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    config
        .retry_initial
        .saturating_mul(1 << exp)
        .min(config.retry_max)
}

/// `d` after `t` on the clock; a duration past the calendar's end (a config
/// saying "a million years") saturates instead of panicking.
pub(super) fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The queue an action waits in: its group, or its account for actions outside
/// groups; automatic messages in a queue of their own beside it.
pub(super) fn lane_of(action: &PendingAction) -> String {
    let account = &action.outbound.account;
    let lane = match action.outbound.action.group() {
        Some(group) => format!("{account}/{group}"),
        None => account.to_string(),
    };
    if action.outbound.automatic {
        format!("{lane}/automatic")
    } else {
        lane
    }
}

/// Every call counts against its account; chat messages also against their
/// group (both queues of it). `slowed`: the hour after a risk pause, at half
/// the rate.
pub(super) fn pace_keys(
    action: &PendingAction,
    settings: &OutboxConfig,
    slowed: bool,
) -> Vec<(String, Duration)> {
    let factor = if slowed { 2 } else { 1 };
    let account = &action.outbound.account;
    let mut keys = vec![(account.to_string(), settings.account_interval * factor)];
    if action.outbound.action.is_chat_message() {
        let group = match action.outbound.action.group() {
            Some(group) => format!("{account}/{group}"),
            None => account.to_string(),
        };
        keys.push((group, settings.group_interval * factor));
    }
    keys
}

/// Why `action` is closed unsent, if it is: undelivered past
/// `outbox.give_up_after`, or a post past its deadline (its account was away
/// or paused: a countdown after the sale began misleads). The error and the
/// outcome's result.
pub(super) fn too_late(
    action: &PendingAction,
    settings: &OutboxConfig,
    now: DateTime<Utc>,
) -> Option<(String, Value)> {
    let age = (now - action.created_at).to_std().unwrap_or_default();
    if age > settings.give_up_after {
        Some((
            format!(
                "gave up after {} undelivered ({} attempts)",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                action.attempts
            ),
            json!({"gave_up": true}),
        ))
    } else {
        // A post past its deadline (its account was away or paused) is
        // missed, not sent late: a countdown after the sale began misleads.
        action
            .outbound
            .deadline
            .filter(|d| *d < now)
            .map(|deadline| {
                let a = &action.outbound.action;
                tracing::warn!(
                    id = action.id,
                    "missed {} to group {} through account {}: still undelivered at its \
                     deadline {deadline}",
                    a.name(),
                    a.group().map_or_else(|| "-".to_string(), |g| g.to_string()),
                    action.outbound.account,
                );
                (
                    format!("missed: still undelivered at its deadline {deadline}"),
                    json!({"missed": "late"}),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OutboxConfig {
        OutboxConfig {
            group_interval: Duration::from_secs(3),
            account_interval: Duration::from_millis(500),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
            group_messages_per_minute: 20,
            ..OutboxConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let s = settings();
        let delays: Vec<u64> = (1..=8).map(|n| backoff(&s, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(&s, 1_000_000), Duration::from_secs(60));
    }

    fn pace(keys: &[(&str, u64)]) -> Vec<(String, Duration)> {
        keys.iter()
            .map(|(k, ms)| (k.to_string(), Duration::from_millis(*ms)))
            .collect()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ms(n: i64) -> chrono::Duration {
        chrono::Duration::milliseconds(n)
    }

    #[test]
    fn a_group_waits_its_interval_while_another_group_only_waits_for_the_account() {
        let mut pacer = Pacer::default();
        let t0 = t0();
        let a = pace(&[("bot", 500), ("bot/A", 3000)]);
        let b = pace(&[("bot", 500), ("bot/B", 3000)]);
        assert_eq!(pacer.ready_at(&a, t0), t0);
        pacer.record(&a, t0);
        assert_eq!(pacer.ready_at(&a, t0), t0 + ms(3000));
        assert_eq!(pacer.ready_at(&b, t0), t0 + ms(500));
        assert_eq!(pacer.ready_at(&b, t0 + ms(1000)), t0 + ms(1000));
    }

    #[test]
    fn a_clock_set_back_costs_one_interval_not_the_size_of_the_step() {
        let mut pacer = Pacer::default();
        let a = pace(&[("bot", 500), ("bot/A", 3000)]);
        pacer.record(&a, t0());
        let an_hour_earlier = t0() - chrono::Duration::hours(1);
        assert_eq!(
            pacer.ready_at(&a, an_hour_earlier),
            an_hour_earlier + ms(3000)
        );
    }

    #[test]
    fn an_interval_past_the_calendar_saturates_instead_of_panicking() {
        let mut pacer = Pacer::default();
        let forever = vec![("bot".to_string(), Duration::from_secs(u64::MAX))];
        pacer.record(&forever, t0());
        assert_eq!(pacer.ready_at(&forever, t0()), DateTime::<Utc>::MAX_UTC);
    }
}
