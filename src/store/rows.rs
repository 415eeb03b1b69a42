//! Rows read back from the database, as typed values, and the one rule for
//! stored times: RFC 3339 text, and a time that does not parse is an error naming
//! its table and row, never a default.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;
use crate::outbox::queue::PendingAction;

/// Reads a stored time; unreadable is an error naming the row.
pub fn parse_time(table: &'static str, id: i64, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            table,
            id,
            reason: format!("bad time {text:?}: {e}"),
        })
}

/// Reads a stored JSON document; unreadable is an error naming the row.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: i64,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        id,
        reason: e.to_string(),
    })
}

/// An `outbox` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: i64,
    created_at: String,
    payload: String,
    attempts: i64,
    next_attempt_at: String,
}

impl TryFrom<OutboxRow> for PendingAction {
    type Error = StoreError;

    fn try_from(row: OutboxRow) -> Result<Self, StoreError> {
        Ok(PendingAction {
            id: row.id,
            created_at: parse_time("outbox", row.id, &row.created_at)?,
            outbound: parse_json("outbox", row.id, &row.payload)?,
            attempts: row.attempts,
            next_attempt_at: parse_time("outbox", row.id, &row.next_attempt_at)?,
        })
    }
}

/// An `events` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: i64,
    at: String,
    direction: String,
    kind: String,
    account: Option<String>,
    group_id: Option<String>,
    user_id: Option<String>,
    detail: String,
}

/// One row of the event log.
#[derive(Clone, Debug)]
pub struct LoggedEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub direction: String,
    pub kind: String,
    pub account: Option<String>,
    pub group_id: Option<String>,
    pub user_id: Option<String>,
    pub detail: Value,
}

impl TryFrom<EventRow> for LoggedEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(LoggedEvent {
            id: row.id,
            at: parse_time("events", row.id, &row.at)?,
            direction: row.direction,
            kind: row.kind,
            account: row.account,
            group_id: row.group_id,
            user_id: row.user_id,
            detail: parse_json("events", row.id, &row.detail)?,
        })
    }
}

/// What the member table knows of one member of one group.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub nickname: Option<String>,
    pub role: Option<String>,
    pub joined_at: Option<String>,
    pub left_at: Option<String>,
    pub last_spoke_at: Option<String>,
}
