//! Delivers queued actions to the gateway: in queue order per group, paced per
//! group and per account, retried with backoff while the gateway is unreachable,
//! and closed as delivered or failed with the outcome logged.
//!
//! Delivery is at-least-once with one narrow resend window: an action stays
//! `pending` while its HTTP call is in flight, and is marked `delivered` in a
//! single-row transaction the moment the gateway answers. If the process dies
//! between the gateway acting and that commit, or a call times out after the
//! gateway acted, the action is sent again. OneBot v11 has no idempotency key, so
//! no client can close that window; every other crash point resends nothing. An
//! outcome the store cannot write (disk full, a lock held too long) is kept in
//! memory and written on a later pass, never answered by calling again.
//!
//! Every time decision (an action's age, its next attempt, backoff, pacing) reads
//! the injected [`Clock`], so tests drive the worker with a manual clock one
//! [`OutboxWorker::pass`] at a time and never wait; only the daemon's idle sleep
//! between passes is real time.
//!
//! The worker reads and writes its queue through [`queue::OutboxStore`], which
//! the store implements.

mod outage;
pub mod queue;
pub mod risk;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, OutboxConfig};
use crate::domain::{Action, Event, EventBody, Id, Outbound};
use crate::engine::journal::WeakJournal;
use crate::features::commands;
use crate::gateway::onebot::api::{ApiError, Reply};
use crate::gateway::onebot::wire;
use crate::gateway::GatewayClient;
pub use queue::{OutboxState, OutboxStore, Outcome, PendingAction};

/// Pending actions read per pass.
const PASS_SIZE: i64 = 256;
/// Longest idle sleep; a safety net, since queueing wakes the worker anyway, and
/// the most a clock that jumps (or a test's manual clock) can leave it asleep.
const IDLE: Duration = Duration::from_secs(30);
/// How long to wait before reading or writing the store again after it failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

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
fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What one [`OutboxWorker::pass`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Actions the gateway carried out (or accepted for later), closed as delivered.
    pub delivered: usize,
    /// Actions closed as failed: refused by the gateway, rejected for good, or
    /// older than `outbox.give_up_after`.
    pub failed: usize,
    /// Actions tried while the gateway was unreachable, set to be tried again later.
    pub rescheduled: usize,
    /// Outcomes the store could not write: those actions stay pending, and the
    /// next pass writes the kept outcome instead of calling again.
    pub unrecorded: usize,
    /// When, in clock time, the earliest action left waiting (for its backoff or
    /// its turn in the pacing) becomes due; `None` when nothing read is waiting.
    pub next_due: Option<DateTime<Utc>>,
}

impl Pass {
    /// Whether the queue moved: something was closed or rescheduled.
    pub fn progressed(&self) -> bool {
        self.delivered + self.failed + self.rescheduled > 0
    }

    fn wait_until(&mut self, at: DateTime<Utc>) {
        self.next_due = Some(self.next_due.map_or(at, |due| due.min(at)));
    }
}

/// Delivers the outbox: [`OutboxWorker::run`] in the daemon, or one
/// [`OutboxWorker::pass`] at a time where a test drives it on a manual clock.
pub struct OutboxWorker<S: OutboxStore> {
    store: S,
    api: GatewayClient,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    pacer: Pacer,
    /// Outcomes of calls made whose record failed, by outbox id.
    unrecorded: HashMap<i64, Outcome>,
    /// When each lane last had its turn.
    served: HashMap<String, DateTime<Utc>>,
    /// Where answers the features read (a member list) go back in as events.
    answers: Option<WeakJournal>,
    /// Signs of risk control per account, and the pauses they caused.
    risk: risk::RiskWatch,
    /// What `/metrics` counts of the deliveries.
    metrics: crate::metrics::Metrics,
    outages: outage::Outages,
}

/// What the worker did with one pending action.
enum Step {
    Delivered,
    Failed,
    Rescheduled(DateTime<Utc>),
    /// The outcome could not be written; the action stays pending.
    Unrecorded,
    /// Not yet (backoff or pacing): due at this clock time.
    Wait(DateTime<Utc>),
}

impl<S: OutboxStore> OutboxWorker<S> {
    /// A worker reading time from `clock`, woken early by `wake` when actions are
    /// queued, and stopping when `shutdown` is cancelled.
    pub fn new(
        store: S,
        api: GatewayClient,
        config: watch::Receiver<Arc<Config>>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> OutboxWorker<S> {
        OutboxWorker {
            store,
            api,
            config,
            clock,
            wake,
            shutdown,
            pacer: Pacer::default(),
            unrecorded: HashMap::new(),
            served: HashMap::new(),
            answers: None,
            risk: risk::RiskWatch::default(),
            metrics: crate::metrics::Metrics::default(),
            outages: outage::Outages::default(),
        }
    }

    /// Counts outcomes and timeouts into `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Takes up the pauses found before a restart: `(account, since, until, repeat)`.
    pub fn with_pauses(
        mut self,
        pauses: impl IntoIterator<Item = (Id, DateTime<Utc>, DateTime<Utc>, u32)>,
    ) -> Self {
        for (account, since, until, repeat) in pauses {
            self.risk.restore(&account, since, until, repeat);
        }
        self
    }

    /// Counts a sign of risk control on `account`; when it makes the account
    /// suspect, logs that through the journal (the features pause its
    /// automatic messages and tell the operators).
    async fn risk_sign(&mut self, account: &Id, reason: String) {
        let now = self.clock.now();
        let settings = self.config.borrow().outbox.clone();
        // Spreads the resumes of accounts found together; no need for a real random source.
        let jitter = f64::from(now.timestamp_subsec_nanos() % 1000) / 1000.0;
        let Some(found) = self.risk.sign(account, now, &reason, &settings, jitter) else {
            tracing::warn!(%account, "a sign of risk control: {reason}");
            return;
        };
        tracing::warn!(
            %account, until = %found.until,
            "account suspect of risk control ({reason}): its automatic messages pause"
        );
        let event = Event {
            account: account.clone(),
            time: now.timestamp(),
            body: EventBody::AccountSuspect {
                reason,
                until: found.until.timestamp(),
                repeat: found.repeat,
            },
            heard_by: None,
        };
        self.tell(event).await;
    }

    /// Notes something the features should know (a suspicion, an outage, a
    /// post that did not go out) through the journal.
    async fn tell(&self, event: Event) {
        if let Some(journal) = &self.answers {
            let kind = event.kind();
            if let Err(e) = journal.submit(event).await {
                tracing::error!("{kind} not noted: {e}");
            }
        }
    }

    /// Hands answers that carry news (a group's member list) back through
    /// `journal` as events, so the roster and the features learn from them.
    pub fn with_answers(mut self, journal: WeakJournal) -> Self {
        self.answers = Some(journal);
        self
    }

    /// What to record of a call's answer; an answer the features read is logged
    /// as an event first, so a crash before the outcome's commit sends the call
    /// again rather than losing the answer. A member list is recorded by its
    /// size, not in full: the event holds it.
    async fn take_answer(&self, action: &PendingAction, data: Value) -> Value {
        let Action::GetGroupMemberList { group } = &action.outbound.action else {
            return json!({"status": "ok", "data": data});
        };
        let members = match wire::member_list(&data) {
            Ok(members) => members,
            Err(e) => return json!({"status": "ok", "unreadable": e.to_string()}),
        };
        let listed = members.len();
        let Some(journal) = &self.answers else {
            return json!({"status": "ok", "listed": listed});
        };
        let event = Event {
            account: action.outbound.account.clone(),
            time: self.clock.now().timestamp(),
            body: EventBody::MemberList {
                group: group.clone(),
                members,
            },
            heard_by: None,
        };
        match journal.submit(event).await {
            Ok(_) => json!({"status": "ok", "listed": listed}),
            Err(e) => {
                tracing::error!(id = action.id, "member list not logged: {e}");
                json!({"status": "ok", "listed": listed, "not_logged": e.to_string()})
            }
        }
    }

    /// Runs until shutdown; an in-flight call is finished and recorded first.
    ///
    /// Passes follow each other while the queue moves; otherwise the worker
    /// sleeps (in real time) until the next action is due by the clock, until
    /// something is queued, or for [`IDLE`] at most.
    pub async fn run(mut self) {
        while !self.shutdown.is_cancelled() {
            match self.pass().await {
                Ok(pass) if pass.progressed() => {}
                Ok(pass) => {
                    let wait = match pass.next_due {
                        Some(due) => (due - self.clock.now()).to_std().unwrap_or_default(),
                        None => IDLE,
                    };
                    let wait = if pass.unrecorded > 0 {
                        wait.min(STORE_RETRY)
                    } else {
                        wait
                    };
                    self.idle(wait.min(IDLE)).await;
                }
                Err(e) => {
                    tracing::error!("cannot read the outbox: {e}");
                    self.idle(STORE_RETRY).await;
                }
            }
        }
    }

    async fn idle(&self, wait: Duration) {
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    /// Reads the head of every lane once (a group's oldest pending action, or an
    /// account's for actions outside groups) and sends each that is due by the
    /// clock. Lanes take turns: the one served least recently goes first, so one
    /// group's backlog never delays another group's actions. Stops early, between
    /// calls, on shutdown.
    pub async fn pass(&mut self) -> Result<Pass, S::Error> {
        let mut heads = self.store.lane_heads(PASS_SIZE).await?;
        heads.sort_by_cached_key(|a| (self.served.get(&lane_of(a)).copied(), a.id));
        let mut pass = Pass::default();
        for action in heads {
            if self.shutdown.is_cancelled() {
                break;
            }
            match self.step(&action).await {
                Step::Delivered => pass.delivered += 1,
                Step::Failed => pass.failed += 1,
                Step::Rescheduled(at) => {
                    pass.rescheduled += 1;
                    pass.wait_until(at);
                }
                Step::Unrecorded => pass.unrecorded += 1,
                Step::Wait(at) => {
                    pass.wait_until(at);
                    continue;
                }
            }
            self.served.insert(lane_of(&action), self.clock.now());
        }
        Ok(pass)
    }

    async fn step(&mut self, action: &PendingAction) -> Step {
        // Its call was made and answered, but the outcome could not be written:
        // write it now instead of calling again.
        if let Some(outcome) = self.unrecorded.get(&action.id).cloned() {
            return self
                .finish(
                    action,
                    outcome.state,
                    outcome.attempts,
                    outcome.error,
                    outcome.result,
                )
                .await;
        }
        let config = self.config.borrow().clone();
        let settings = &config.outbox;
        let now = self.clock.now();

        let age = (now - action.created_at).to_std().unwrap_or_default();
        let too_late = if age > settings.give_up_after {
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
        };
        if let Some((error, result)) = too_late {
            return self
                .finish(
                    action,
                    OutboxState::Failed,
                    action.attempts,
                    Some(error),
                    result,
                )
                .await;
        }
        if action.next_attempt_at > now {
            return Step::Wait(action.next_attempt_at);
        }
        let account = &action.outbound.account;
        if action.outbound.automatic {
            if let Some(until) = self.risk.paused_until(account, now) {
                return Step::Wait(until);
            }
        }
        let keys = pace_keys(action, settings, self.risk.slowed(account, now));
        let ready = self.pacer.ready_at(&keys, now);
        if ready > now {
            return Step::Wait(ready);
        }
        self.pacer.record(&keys, now);

        let attempts = action.attempts + 1;
        let a = &action.outbound.action;
        let reply = self
            .api
            .call(&config.gateway, &action.outbound.account, a)
            .await;
        match &reply {
            Err(e) if e.is_retryable() => {
                let now = self.clock.now();
                if let Some(since) = self
                    .outages
                    .failed(account, now, config.notify.gateway_down)
                {
                    tracing::warn!(%account, %since, "the gateway has not answered since {since}");
                    let body = EventBody::GatewayDown {
                        since: since.timestamp(),
                    };
                    self.tell(Event::new(account.clone(), now.timestamp(), body))
                        .await;
                }
            }
            _ => self.outages.answered(account),
        }
        match reply {
            Ok(Reply::Ok(data)) => {
                tracing::info!(id = action.id, action = a.name(), "delivered");
                let result = self.take_answer(action, data).await;
                self.finish(action, OutboxState::Delivered, attempts, None, result)
                    .await
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
                .await
            }
            Ok(reply @ Reply::Failed { .. })
                if reply.risk_sign().is_some() && a.is_chat_message() =>
            {
                let sign = reply.risk_sign().unwrap_or_default();
                self.risk_sign(account, sign.clone()).await;
                self.finish(
                    action,
                    OutboxState::Failed,
                    attempts,
                    Some(format!("gateway refused: {sign}")),
                    json!({"status": "failed", "risk": sign}),
                )
                .await
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
                .await
            }
            Err(e) if e.is_retryable() => {
                if matches!(e, ApiError::Timeout) {
                    self.metrics.timeout(account);
                }
                if matches!(e, ApiError::Timeout) && a.is_chat_message() {
                    self.risk_sign(account, format!("{} timed out", a.name()))
                        .await;
                }
                let delay = backoff(settings, attempts);
                tracing::warn!(
                    id = action.id,
                    action = a.name(),
                    attempts,
                    "{e}; retrying in {}",
                    humantime::format_duration(delay)
                );
                // From when the call ended: a call that hung until its timeout
                // does not eat into the backoff.
                let next = after(self.clock.now(), delay);
                match self
                    .store
                    .retry_action(action.id, attempts, next, &e.to_string())
                    .await
                {
                    Ok(()) => Step::Rescheduled(next),
                    Err(se) => {
                        tracing::error!(id = action.id, "cannot reschedule: {se}");
                        Step::Unrecorded
                    }
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
                .await
            }
        }
    }

    /// Closes `action` with its outcome; the step it was, or `Unrecorded`, in
    /// which case the outcome is kept to be written on the next pass.
    async fn finish(
        &mut self,
        action: &PendingAction,
        state: OutboxState,
        attempts: i64,
        error: Option<String>,
        result: serde_json::Value,
    ) -> Step {
        let step = if matches!(state, OutboxState::Failed) {
            Step::Failed
        } else {
            Step::Delivered
        };
        // An admin action the gateway refused is reported back in the chat, queued
        // atomically with the outcome. One given up for age is not: after an outage
        // those come by the hundred, and the log and `qunbot status` count them.
        let gave_up = result.get("gave_up").is_some();
        // A post that did not go out, or anything given up: the owner hears of it.
        let undelivered = match (&state, &error) {
            (OutboxState::Failed, Some(error)) if gave_up || action.outbound.tag.is_some() => {
                let reason = if gave_up {
                    "gave_up".to_string()
                } else if result.get("missed").is_some() {
                    "late".to_string()
                } else {
                    error.clone()
                };
                Some(Event::new(
                    action.outbound.account.clone(),
                    self.clock.now().timestamp(),
                    EventBody::Undelivered {
                        group: action.outbound.action.group().cloned(),
                        tag: action.outbound.tag.clone(),
                        reason,
                    },
                ))
            }
            _ => None,
        };
        let followup = match (&state, &error) {
            (OutboxState::Failed, Some(error)) if !gave_up => {
                commands::report_failure(&action.outbound.action, error)
                    .map(|report| Outbound::new(action.outbound.account.clone(), report))
            }
            _ => None,
        };
        let outcome = Outcome {
            state,
            attempts,
            error,
            result,
        };
        match self
            .store
            .finish_action(action, &outcome, followup.as_ref())
            .await
        {
            Ok(()) => {
                self.metrics.outcome(
                    &action.outbound.account,
                    action.outbound.action.name(),
                    outcome.state.as_str(),
                );
                self.unrecorded.remove(&action.id);
                if let Some(event) = undelivered {
                    self.tell(event).await;
                }
                step
            }
            Err(e) => {
                // Left pending, its outcome kept here: the next pass writes it
                // rather than sending again. Only a stop before then resends.
                tracing::error!(id = action.id, "cannot record the outcome yet: {e}");
                self.unrecorded.insert(action.id, outcome);
                Step::Unrecorded
            }
        }
    }
}

/// The queue an action waits in: its group, or its account for actions outside
/// groups; automatic messages in a queue of their own beside it.
fn lane_of(action: &PendingAction) -> String {
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
fn pace_keys(
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
