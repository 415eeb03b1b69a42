//! Delivers queued actions to the gateway: in queue order per group, paced per
//! group and per account, retried with backoff while the gateway is unreachable,
//! and closed as delivered or failed with the outcome logged.
//!
//! Delivery is at-least-once with one narrow resend window: an action stays
//! `pending` while its HTTP call is in flight, and is marked `delivered` in a
//! single-row transaction the moment the gateway answers. If the process dies
//! between the gateway acting and that commit, or a call times out after the
//! gateway acted, the action is sent again. OneBot v11 has no idempotency key, so
//! no client can close that window; every other crash point resends nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, OutboxConfig};
use crate::domain::Outbound;
use crate::features::commands;
use crate::gateway::onebot::api::{ApiClient, ApiError, Reply};
use crate::store::{OutboxState, Outcome, PendingAction, Store};

/// Pending actions read per pass.
const PASS_SIZE: i64 = 256;
/// Longest idle sleep; a safety net, since queueing wakes the worker anyway.
const IDLE: Duration = Duration::from_secs(30);

/// Remembers when each account and group last sent, to space sends out.
#[derive(Default)]
pub struct Pacer {
    last: HashMap<String, Instant>,
}

impl Pacer {
    /// The earliest moment all of `keys` allow another send.
    pub fn ready_at(&self, keys: &[(String, Duration)], now: Instant) -> Instant {
        keys.iter()
            .filter_map(|(key, interval)| self.last.get(key).map(|t| *t + *interval))
            .fold(now, Instant::max)
    }

    pub fn record(&mut self, keys: &[(String, Duration)], at: Instant) {
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

pub struct OutboxWorker {
    pub store: Store,
    pub api: ApiClient,
    pub config: watch::Receiver<Arc<Config>>,
    pub wake: Arc<Notify>,
    pub shutdown: CancellationToken,
}

/// What the worker did with one pending action in a pass.
enum Step {
    /// Sent or closed: the queue moved.
    Progressed,
    /// Not yet (backoff or pacing): try again at this instant.
    Wait(Instant),
}

impl OutboxWorker {
    /// Runs until shutdown; an in-flight call is finished and recorded first.
    pub async fn run(self) {
        let mut pacer = Pacer::default();
        while !self.shutdown.is_cancelled() {
            let pending = match self.store.pending_actions(PASS_SIZE).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("cannot read the outbox: {e}");
                    self.idle(Some(Instant::now() + Duration::from_secs(1)))
                        .await;
                    continue;
                }
            };
            let mut progressed = false;
            let mut wake_at: Option<Instant> = None;
            // Per-group order: once a group's head action must wait, the rest of that
            // group waits too. Actions outside any group queue per account.
            let mut waiting: HashSet<String> = HashSet::new();
            for action in pending {
                if self.shutdown.is_cancelled() {
                    break;
                }
                let lane = lane_of(&action);
                if waiting.contains(&lane) {
                    continue;
                }
                match self.step(&action, &mut pacer).await {
                    Step::Progressed => progressed = true,
                    Step::Wait(at) => {
                        waiting.insert(lane);
                        wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
                    }
                }
            }
            if !progressed {
                self.idle(wake_at).await;
            }
        }
    }

    async fn idle(&self, until: Option<Instant>) {
        let until = until.unwrap_or_else(|| Instant::now() + IDLE);
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }

    async fn step(&self, action: &PendingAction, pacer: &mut Pacer) -> Step {
        let config = self.config.borrow().clone();
        let settings = &config.outbox;
        let now = Utc::now();
        let clock = Instant::now();

        let age = (now - action.created_at).to_std().unwrap_or_default();
        if age > settings.give_up_after {
            let error = format!(
                "gave up after {} undelivered ({} attempts)",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                action.attempts
            );
            self.finish(
                action,
                OutboxState::Failed,
                action.attempts,
                Some(error),
                json!(null),
            )
            .await;
            return Step::Progressed;
        }
        if action.next_attempt_at > now {
            let wait = (action.next_attempt_at - now).to_std().unwrap_or_default();
            return Step::Wait(clock + wait);
        }
        let keys = pace_keys(action, settings);
        let ready = pacer.ready_at(&keys, clock);
        if ready > clock {
            return Step::Wait(ready);
        }
        pacer.record(&keys, clock);

        let attempts = action.attempts + 1;
        let a = &action.outbound.action;
        match self
            .api
            .call(&config.gateway, &action.outbound.account, a)
            .await
        {
            Ok(Reply::Ok(data)) => {
                tracing::info!(id = action.id, action = a.name(), "delivered");
                self.finish(
                    action,
                    OutboxState::Delivered,
                    attempts,
                    None,
                    json!({"status": "ok", "data": data}),
                )
                .await;
            }
            Ok(Reply::Async) => {
                tracing::info!(
                    id = action.id,
                    action = a.name(),
                    "accepted by the gateway (async)"
                );
                self.finish(
                    action,
                    OutboxState::Delivered,
                    attempts,
                    None,
                    json!({"status": "async"}),
                )
                .await;
            }
            Ok(Reply::Failed { retcode, reason }) => {
                let error = format!(
                    "gateway refused (retcode {retcode}){}",
                    reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                tracing::warn!(id = action.id, action = a.name(), "{error}");
                self.finish(
                    action,
                    OutboxState::Failed,
                    attempts,
                    Some(error),
                    json!({"status": "failed", "retcode": retcode, "reason": reason}),
                )
                .await;
            }
            Err(e) if e.is_retryable() => {
                let delay = backoff(settings, attempts);
                tracing::warn!(
                    id = action.id,
                    action = a.name(),
                    attempts,
                    "{e}; retrying in {}",
                    humantime::format_duration(delay)
                );
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                if let Err(se) = self
                    .store
                    .retry_action(action.id, attempts, next, &e.to_string())
                    .await
                {
                    tracing::error!(id = action.id, "cannot reschedule: {se}");
                }
            }
            Err(e) => {
                tracing::warn!(id = action.id, action = a.name(), "{e}; not retried");
                let status = match &e {
                    ApiError::Status { status } => json!(status),
                    _ => json!(null),
                };
                self.finish(
                    action,
                    OutboxState::Failed,
                    attempts,
                    Some(e.to_string()),
                    json!({"http_status": status}),
                )
                .await;
            }
        }
        Step::Progressed
    }

    async fn finish(
        &self,
        action: &PendingAction,
        state: OutboxState,
        attempts: i64,
        error: Option<String>,
        result: serde_json::Value,
    ) {
        // A refused admin action is reported back in the chat, queued atomically with the outcome.
        let followup = match (&state, &error) {
            (OutboxState::Failed, Some(error)) => {
                commands::report_failure(&action.outbound.action, error).map(|report| Outbound {
                    account: action.outbound.account.clone(),
                    action: report,
                })
            }
            _ => None,
        };
        let outcome = Outcome {
            state,
            attempts,
            error,
            result,
        };
        if let Err(e) = self
            .store
            .finish_action(action, &outcome, followup.as_ref())
            .await
        {
            // Left pending: it will be tried again, the one way it can be sent twice.
            tracing::error!(id = action.id, "cannot record the outcome: {e}");
        }
    }
}

/// The queue an action waits in: its group, or its account for actions outside groups.
fn lane_of(action: &PendingAction) -> String {
    let account = &action.outbound.account;
    match action.outbound.action.group() {
        Some(group) => format!("{account}/{group}"),
        None => account.to_string(),
    }
}

/// Every call counts against its account; chat messages also against their group.
fn pace_keys(action: &PendingAction, settings: &OutboxConfig) -> Vec<(String, Duration)> {
    let account = action.outbound.account.to_string();
    let mut keys = vec![(account, settings.account_interval)];
    if action.outbound.action.is_chat_message() {
        keys.push((lane_of(action), settings.group_interval));
    }
    keys
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
        }
    }

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let s = settings();
        let delays: Vec<u64> = (1..=8).map(|n| backoff(&s, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(&s, 1_000_000), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_group_waits_its_interval_while_another_group_only_waits_for_the_account() {
        let mut pacer = Pacer::default();
        let t0 = Instant::now();
        let a = vec![
            ("bot".to_string(), Duration::from_millis(500)),
            ("bot/A".to_string(), Duration::from_secs(3)),
        ];
        let b = vec![
            ("bot".to_string(), Duration::from_millis(500)),
            ("bot/B".to_string(), Duration::from_secs(3)),
        ];
        assert_eq!(pacer.ready_at(&a, t0), t0);
        pacer.record(&a, t0);
        assert_eq!(pacer.ready_at(&a, t0), t0 + Duration::from_secs(3));
        assert_eq!(pacer.ready_at(&b, t0), t0 + Duration::from_millis(500));
        assert_eq!(
            pacer.ready_at(&b, t0 + Duration::from_secs(1)),
            t0 + Duration::from_secs(1)
        );
    }
}
