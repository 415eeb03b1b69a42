//! The read model: what the demo, `qunbot status`, the tests and (next) the
//! reports read back. A narrow trait, so a report can be written against it and a
//! second store can answer the same questions.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::rows::{Balance, Count, CouponClaim, LedgerEntry, LoggedEvent, Member, SilentMember};
use super::{Store, StoreError};
use crate::domain::{GroupKey, Id};

/// What an operator should look at: inputs the engine gave up on, and work
/// still waiting. Shown by `qunbot status` and `qunbot check`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trouble {
    pub failed_events: i64,
    pub quarantined_events: i64,
    pub quarantined_timers: i64,
    pub unhandled_events: i64,
    pub pending_effects: i64,
}

/// How one account's messages are getting out: the oldest action still
/// waiting (its age says whether the gateway is down) and the last delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountDelivery {
    pub account: String,
    pub pending: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub last_delivered: Option<DateTime<Utc>>,
}

/// What went wrong since a time: what `qunbot status` shows of the last day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Since {
    /// Planned posts that did not go out in a group (quiet hours, the cap, no
    /// account, past their deadline).
    pub missed_posts: i64,
    /// Config edits refused.
    pub rejected_configs: i64,
    /// Whether the latest reload was refused (the previous config still runs).
    pub last_reload_rejected: bool,
    /// Members the filter removed.
    pub filter_kicks: i64,
    /// Outbox actions closed without the gateway taking them.
    pub failed_actions: i64,
}

/// Questions about what happened, answered from the log and the tables.
pub trait ReadModel {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Logged events of one kind (`message.group`, `action.send_group_msg`, ...), oldest first.
    fn events_of_kind(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<LoggedEvent>, Self::Error>> + Send;

    /// How many events of each kind the log holds, most frequent first.
    fn event_counts(&self) -> impl Future<Output = Result<Vec<Count>, Self::Error>> + Send;

    /// How many outbox actions are in each state.
    fn outbox_counts(&self) -> impl Future<Output = Result<Vec<Count>, Self::Error>> + Send;

    /// Inbound events not yet acted on.
    fn unhandled_count(&self) -> impl Future<Output = Result<i64, Self::Error>> + Send;

    /// Pending outbox actions per account (`name` is the account).
    fn pending_per_account(&self) -> impl Future<Output = Result<Vec<Count>, Self::Error>> + Send;

    fn member(
        &self,
        account: &Id,
        group: &Id,
        user: &Id,
    ) -> impl Future<Output = Result<Option<Member>, Self::Error>> + Send;

    /// Present members of `groups` (not left; not the owner or an admin) whose
    /// last word (or join, if they never spoke) is before `cutoff`, the longest
    /// silent first, at most `per_group` a group. Members known only from a
    /// member list sync, with neither time, count as silent since forever.
    fn silent_members(
        &self,
        groups: &[GroupKey],
        cutoff: DateTime<Utc>,
        per_group: u32,
    ) -> impl Future<Output = Result<Vec<SilentMember>, Self::Error>> + Send;

    /// A feature's records whose key starts with `prefix`, by key: what the
    /// reports read of a feature's own state (reactivation's counts per arm).
    fn feature_records(
        &self,
        feature: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<(String, serde_json::Value)>, Self::Error>> + Send;

    /// Members known per group (present, i.e. not left).
    fn member_counts(&self) -> impl Future<Output = Result<Vec<Count>, Self::Error>> + Send;

    /// How many inputs the engine gave up on (`engine.failed`), unreadable events
    /// and timers it quarantined, and effects not yet carried out.
    fn trouble(&self) -> impl Future<Output = Result<Trouble, Self::Error>> + Send;

    /// Per account with outbox actions: what waits and what was last delivered.
    fn deliveries(&self) -> impl Future<Output = Result<Vec<AccountDelivery>, Self::Error>> + Send;

    /// What went wrong since `since` (see [`Since`]).
    fn since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Since, Self::Error>> + Send;

    /// The points ledger of one member, oldest first.
    fn ledger(
        &self,
        account: &Id,
        group: &Id,
        user: &Id,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, Self::Error>> + Send;

    /// Every coupon handed out, in the order handed out.
    fn coupon_claims(&self) -> impl Future<Output = Result<Vec<CouponClaim>, Self::Error>> + Send;

    /// Points per member of a group, highest first.
    fn balances(
        &self,
        account: &Id,
        group: &Id,
    ) -> impl Future<Output = Result<Vec<Balance>, Self::Error>> + Send;
}

impl ReadModel for Store {
    type Error = StoreError;

    /// Logged events of one kind (`message.group`, `action.send_group_msg`, ...), oldest first.
    async fn events_of_kind(&self, kind: &str) -> Result<Vec<LoggedEvent>, StoreError> {
        let rows: Vec<super::rows::EventRow> = sqlx::query_as(
            "SELECT id, at, direction, kind, account, group_id, user_id, detail FROM events WHERE kind = ? ORDER BY id",
        )
        .bind(kind)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(LoggedEvent::try_from).collect()
    }

    /// How many events of each kind the log holds, most frequent first.
    async fn event_counts(&self) -> Result<Vec<Count>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind AS name, COUNT(*) AS n FROM events GROUP BY kind ORDER BY n DESC, kind",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// How many outbox actions are in each state.
    async fn outbox_counts(&self) -> Result<Vec<Count>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT state AS name, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.read)
        .await?)
    }

    async fn pending_per_account(&self) -> Result<Vec<Count>, StoreError> {
        // The lanes' partial index covers exactly the pending rows.
        Ok(sqlx::query_as(
            "SELECT account AS name, COUNT(*) AS n FROM outbox WHERE state = 'pending'
             GROUP BY account ORDER BY account",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// Inbound events not yet acted on.
    async fn unhandled_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE handled = 0")
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn member(
        &self,
        account: &Id,
        group: &Id,
        user: &Id,
    ) -> Result<Option<Member>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT nickname, role, joined_at, left_at, last_spoke_at FROM members
             WHERE account = ? AND group_id = ? AND user_id = ?",
        )
        .bind(account.to_string())
        .bind(group.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.read)
        .await?)
    }

    async fn silent_members(
        &self,
        groups: &[GroupKey],
        cutoff: DateTime<Utc>,
        per_group: u32,
    ) -> Result<Vec<SilentMember>, StoreError> {
        let cutoff = super::timestamp(cutoff);
        // One range of the member table's key a group, on one connection. No
        // index on silence: it changes with every message, and measured, it
        // took intake from 13,500 to 8,300 events/s for a scan no faster
        // (705 ms against 704 ms over 1,000,000 members). Each group's members
        // come back as one JSON row: sqlx hands rows over one by one between
        // threads, which cost 4 µs a member, five times SQLite's own work.
        let mut conn = self.read.acquire().await?;
        let mut out = Vec::new();
        for group in groups {
            let list: Option<String> = sqlx::query_scalar(
                "SELECT json_group_array(json_array(user_id, nickname, joined_at, last_spoke_at))
                 FROM (SELECT user_id, nickname, joined_at, last_spoke_at FROM members
                       WHERE account = ? AND group_id = ? AND left_at IS NULL
                         AND COALESCE(last_spoke_at, joined_at, '') < ?
                         AND COALESCE(role, 'member') NOT IN ('owner', 'admin')
                       ORDER BY COALESCE(last_spoke_at, joined_at, '')
                       LIMIT ?)",
            )
            .bind(group.account.to_string())
            .bind(group.group.to_string())
            .bind(&cutoff)
            .bind(i64::from(per_group))
            .fetch_one(&mut *conn)
            .await?;
            type Row = (String, Option<String>, Option<String>, Option<String>);
            let rows: Vec<Row> =
                serde_json::from_str(list.as_deref().unwrap_or("[]")).map_err(|e| {
                    StoreError::Corrupt {
                        table: "members",
                        id: 0,
                        reason: format!("unreadable silent members of {}: {e}", group.group),
                    }
                })?;
            let time = |t: Option<String>| -> Result<Option<DateTime<Utc>>, StoreError> {
                t.map(|t| super::parse_time("members", 0, &t)).transpose()
            };
            for (user_id, nickname, joined_at, last_spoke_at) in rows {
                out.push(SilentMember {
                    account: group.account.to_string(),
                    group_id: group.group.to_string(),
                    user_id,
                    nickname,
                    joined_at: time(joined_at)?,
                    last_spoke_at: time(last_spoke_at)?,
                });
            }
        }
        Ok(out)
    }

    async fn feature_records(
        &self,
        feature: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        // The prefix as a key range, so no LIKE pattern is built from input.
        let end = format!("{prefix}\u{10ffff}");
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM feature_records
             WHERE feature = ? AND key >= ? AND key < ? ORDER BY key",
        )
        .bind(feature)
        .bind(prefix)
        .bind(end)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_str(&v).ok()?)))
            .collect())
    }

    /// Members known per group (present, i.e. not left).
    async fn member_counts(&self) -> Result<Vec<Count>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT group_id AS name, COUNT(*) AS n FROM members WHERE left_at IS NULL GROUP BY group_id ORDER BY group_id",
        )
        .fetch_all(&self.read)
        .await?)
    }
    /// How many inputs the engine gave up on (`engine.failed`), unreadable events
    /// and timers it quarantined, and effects not yet carried out.
    async fn trouble(&self) -> Result<Trouble, StoreError> {
        let count = |kind: &'static str| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE kind = ?")
                .bind(kind)
                .fetch_one(&self.read)
        };
        Ok(Trouble {
            failed_events: count("engine.failed").await?,
            quarantined_events: count("engine.quarantined").await?,
            quarantined_timers: count("timer.quarantined").await?,
            unhandled_events: self.unhandled_count().await?,
            pending_effects: sqlx::query_scalar(
                "SELECT COUNT(*) FROM effects WHERE done_at IS NULL",
            )
            .fetch_one(&self.read)
            .await?,
        })
    }

    async fn deliveries(&self) -> Result<Vec<AccountDelivery>, StoreError> {
        let rows: Vec<(String, i64, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT account,
                    SUM(state = 'pending'),
                    MIN(CASE WHEN state = 'pending' THEN created_at END),
                    MAX(CASE WHEN state = 'delivered' THEN finished_at END)
             FROM outbox GROUP BY account ORDER BY account",
        )
        .fetch_all(&self.read)
        .await?;
        let time = |t: Option<String>| {
            t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Ok(rows
            .into_iter()
            .map(|(account, pending, oldest, last)| AccountDelivery {
                account,
                pending,
                oldest_pending: time(oldest),
                last_delivered: time(last),
            })
            .collect())
    }

    async fn since(&self, since: DateTime<Utc>) -> Result<Since, StoreError> {
        let since = super::timestamp(since);
        let count = |sql: &'static str| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(since.clone())
                .fetch_one(&self.read)
        };
        // A group's missed post is one row; a post missed while the daemon was
        // down is one row for all its groups.
        let missed_posts = count(
            "SELECT COUNT(*) FROM events WHERE kind = 'schedule.missed' AND at >= ?
               AND COALESCE(json_extract(detail, '$.reason'), '') != 'in_past'",
        )
        .await?
            + count(
                "SELECT COUNT(*) FROM events WHERE kind = 'outbox.undelivered' AND at >= ?
                   AND json_extract(detail, '$.body.tag') IS NOT NULL",
            )
            .await?;
        let last_reload: Option<String> = sqlx::query_scalar(
            "SELECT kind FROM events WHERE kind IN ('config.reloaded', 'config.rejected')
             ORDER BY at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        Ok(Since {
            missed_posts,
            rejected_configs: count(
                "SELECT COUNT(*) FROM events WHERE kind = 'config.rejected' AND at >= ?",
            )
            .await?,
            last_reload_rejected: last_reload.as_deref() == Some("config.rejected"),
            filter_kicks: count(
                "SELECT COUNT(*) FROM events WHERE kind = 'filter.hit' AND at >= ?
                   AND (json_extract(detail, '$.escalated') = 'kick'
                        OR EXISTS (SELECT 1 FROM json_each(detail, '$.actions') WHERE value = 'kick'))",
            )
            .await?,
            failed_actions: count(
                "SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND finished_at >= ?",
            )
            .await?,
        })
    }

    /// The points ledger of one member, oldest first.
    async fn ledger(
        &self,
        account: &Id,
        group: &Id,
        user: &Id,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT amount, reason FROM points_ledger WHERE account = ? AND group_id = ? AND user_id = ? ORDER BY id",
        )
        .bind(account.to_string())
        .bind(group.to_string())
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?)
    }

    /// Every coupon handed out, in the order handed out.
    async fn coupon_claims(&self) -> Result<Vec<CouponClaim>, StoreError> {
        Ok(
            sqlx::query_as("SELECT pool, code, user_id FROM coupon_claims ORDER BY at, code")
                .fetch_all(&self.read)
                .await?,
        )
    }

    /// Points per member of a group, highest first.
    async fn balances(&self, account: &Id, group: &Id) -> Result<Vec<Balance>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT user_id, MAX(name) AS name, SUM(amount) AS balance FROM points_ledger
             WHERE account = ? AND group_id = ? GROUP BY user_id ORDER BY balance DESC, user_id",
        )
        .bind(account.to_string())
        .bind(group.to_string())
        .fetch_all(&self.read)
        .await?)
    }
}
