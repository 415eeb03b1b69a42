//! Rows read back from the database, as typed values.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::StoreError;
use crate::domain::Outbound;

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

fn parse_time(table: &'static str, id: i64, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            table,
            id,
            reason: format!("bad time {text:?}: {e}"),
        })
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

impl PendingAction {
    pub(super) fn from_row(row: &SqliteRow) -> Result<Self, StoreError> {
        let id: i64 = row.try_get("id")?;
        let payload: String = row.try_get("payload")?;
        Ok(PendingAction {
            id,
            created_at: parse_time("outbox", id, &row.try_get::<String, _>("created_at")?)?,
            outbound: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
                table: "outbox",
                id,
                reason: e.to_string(),
            })?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: parse_time(
                "outbox",
                id,
                &row.try_get::<String, _>("next_attempt_at")?,
            )?,
        })
    }
}

/// One row of the event log.
#[derive(Clone, Debug)]
pub struct LoggedEvent {
    pub id: i64,
    pub at: String,
    pub direction: String,
    pub kind: String,
    pub account: Option<String>,
    pub group_id: Option<String>,
    pub user_id: Option<String>,
    pub detail: Value,
}

impl LoggedEvent {
    pub(super) fn from_row(row: &SqliteRow) -> Result<Self, StoreError> {
        let id: i64 = row.try_get("id")?;
        let detail: String = row.try_get("detail")?;
        Ok(LoggedEvent {
            id,
            at: row.try_get("at")?,
            direction: row.try_get("direction")?,
            kind: row.try_get("kind")?,
            account: row.try_get("account")?,
            group_id: row.try_get("group_id")?,
            user_id: row.try_get("user_id")?,
            detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt {
                table: "events",
                id,
                reason: e.to_string(),
            })?,
        })
    }
}

/// What the member table knows of one member of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub nickname: Option<String>,
    pub role: Option<String>,
    pub joined_at: Option<String>,
    pub left_at: Option<String>,
    pub last_spoke_at: Option<String>,
}

impl Member {
    pub(super) fn from_row(row: &SqliteRow) -> Result<Self, StoreError> {
        Ok(Member {
            nickname: row.try_get("nickname")?,
            role: row.try_get("role")?,
            joined_at: row.try_get("joined_at")?,
            left_at: row.try_get("left_at")?,
            last_spoke_at: row.try_get("last_spoke_at")?,
        })
    }
}
