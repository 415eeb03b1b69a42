//! The outbox's storage port: the queue of actions as the worker sees it. The
//! store implements [`OutboxStore`]; the worker never sees SQL.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::Outbound;

/// What the outbox worker reads and writes.
pub trait OutboxStore: Clone + Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Pending actions in queue order, due or not (the worker keeps per-group order).
    fn pending_actions(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<PendingAction>, Self::Error>> + Send;

    /// The oldest pending action of each lane (an account's group, or the
    /// account itself for actions outside groups), oldest first, at most `limit`
    /// lanes: what the worker may send next, whatever the backlog of one group.
    fn lane_heads(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<PendingAction>, Self::Error>> + Send;

    /// Reschedules an action after a retryable failure.
    fn retry_action(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Closes an action as delivered or failed and logs its outcome, atomically;
    /// `followup` (a report of the failure to the chat) is queued with it.
    fn finish_action(
        &self,
        action: &PendingAction,
        outcome: &Outcome,
        followup: Option<&Outbound>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Delivered,
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }
}

/// An action waiting in the outbox.
#[derive(Clone, Debug)]
pub struct PendingAction {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub outbound: Outbound,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
}

/// The outcome of an outbound action, as the outbox worker concluded it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub state: OutboxState,
    pub attempts: i64,
    pub error: Option<String>,
    /// What to keep in the event log about the result (the gateway's data, retcode, ...).
    pub result: Value,
}
