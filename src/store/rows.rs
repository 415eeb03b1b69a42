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

/// What the member table knows of one member of one group. Times decode as
/// RFC 3339; one that does not is a decode error, never a default.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub nickname: Option<String>,
    pub role: Option<String>,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    pub last_spoke_at: Option<DateTime<Utc>>,
}

/// A present member silent since before some time: due a nudge, unless the
/// reactivation feature's own records say otherwise.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SilentMember {
    pub account: String,
    pub group_id: String,
    pub user_id: String,
    pub nickname: Option<String>,
    pub joined_at: Option<DateTime<Utc>>,
    pub last_spoke_at: Option<DateTime<Utc>>,
}

/// A name (an event kind, an outbox state, a group) and how many rows carry it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Count {
    pub name: String,
    pub n: i64,
}

/// One movement in the points ledger.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerEntry {
    pub amount: i64,
    pub reason: String,
}

/// A coupon code handed out, and to whom.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CouponClaim {
    pub pool: String,
    pub code: String,
    pub user_id: String,
}

/// A member's points balance in a group, with their last known name.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Balance {
    pub user_id: String,
    pub name: Option<String>,
    pub balance: i64,
}

// Rows compare with plain tuples, so assertions read as the values they expect.
impl PartialEq<(String, i64)> for Count {
    fn eq(&self, (name, n): &(String, i64)) -> bool {
        &self.name == name && self.n == *n
    }
}

impl PartialEq<(i64, String)> for LedgerEntry {
    fn eq(&self, (amount, reason): &(i64, String)) -> bool {
        self.amount == *amount && &self.reason == reason
    }
}

impl PartialEq<(String, String, String)> for CouponClaim {
    fn eq(&self, (pool, code, user): &(String, String, String)) -> bool {
        &self.pool == pool && &self.code == code && &self.user_id == user
    }
}
