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
mod pacing;
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
use crate::config::Config;
use crate::domain::{Action, Event, EventBody, Id, Outbound};
use crate::engine::journal::WeakJournal;
use crate::features::commands;
use crate::gateway::onebot::api::{ApiError, Reply};
use crate::gateway::onebot::wire;
use crate::gateway::GatewayClient;
use pacing::{after, lane_of, pace_keys, too_late};
pub use pacing::{backoff, Pacer};
pub use queue::{OutboxState, OutboxStore, Outcome, PendingAction};

/// Pending actions read per pass.
const PASS_SIZE: i64 = 256;
/// Longest idle sleep; a safety net, since queueing wakes the worker anyway, and
/// the most a clock that jumps (or a test's manual clock) can leave it asleep.
const IDLE: Duration = Duration::from_secs(30);
/// How long to wait before reading or writing the store again after it failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

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

        if let Some((error, result)) = too_late(action, settings, now) {
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

        let reply = self
            .api
            .call(&config.gateway, account, &action.outbound.action)
            .await;
        self.watch_outage(account, &reply, &config).await;
        self.settle(action, reply, settings).await
    }

    /// Notes a call the gateway did not answer; the owner hears of an outage
    /// once it lasts `notify.gateway_down`.
    async fn watch_outage(
        &mut self,
        account: &Id,
        reply: &Result<Reply, ApiError>,
        config: &Config,
    ) {
        match reply {
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
    }

    /// What the gateway's answer makes of `action`: delivered, failed, or
    /// retried after a backoff.
    async fn settle(
        &mut self,
        action: &PendingAction,
        reply: Result<Reply, ApiError>,
        settings: &crate::config::OutboxConfig,
    ) -> Step {
        let attempts = action.attempts + 1;
        let account = &action.outbound.account;
        let a = &action.outbound.action;
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
