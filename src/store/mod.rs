//! The only module that speaks SQL. SQLite is the embedded default; the SQL stays
//! portable (no SQLite-only functions in queries, times as sortable RFC 3339 text)
//! so a PostgreSQL store can sit behind the same methods later.
//!
//! The store implements the engine's storage traits
//! ([`crate::engine::storage`]): [`EventLog`], [`StateStore`], [`EffectLog`].
//!
//! - `rows`: what reads return, as typed rows, and the one rule for stored times.
//! - `state`: the features' state and timers: loading them, and writing an engine batch.
//! - this file: opening, the write discipline, the event log, the outbox and the
//!   read queries (counts, members) the demo, `status` and the tests use.
//!
//! # Writes
//!
//! Every write runs on the one writer connection (SQLite takes one writer at a
//! time anyway; queueing in the pool is fairer than SQLite's busy-wait). A
//! connection that saw any error during a write is closed, never reused: sqlx
//! loses track of a transaction whose `COMMIT` failed (disk full, I/O error), and
//! such a connection runs every later "transaction" as a savepoint inside one that
//! never commits, so writes would be reported done and then vanish. The pool
//! opens a fresh connection for the next write, which is how the daemon recovers
//! by itself once the fault clears.

mod read;
mod report_rows;
mod rollup;
mod rollup_membership;
mod rollup_reader;
mod roster;
mod rows;
mod script;
mod state;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use crate::clock::{Clock, SystemClock};
use crate::domain::{Event, Id, Outbound};
pub use crate::engine::storage::{
    Commit, EffectLog, EventLog, Failure, Recorded, StateStore, Storage, StoredEvent,
};
pub use crate::outbox::queue::{OutboxState, OutboxStore, Outcome, PendingAction};
pub use read::{AccountDelivery, ReadModel, Since, Trouble};
pub use rollup::RollupProgress;
pub use rows::{
    parse_time, Balance, Count, CouponClaim, LedgerEntry, LoggedEvent, Member, SilentMember,
};

/// How long a write waits for a lock another process holds (`storage.busy_timeout`).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per multi-row INSERT, well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot prepare database {path} (is it writable?): {source}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("{path} is not a qunbot database: {reason}")]
    Foreign { path: PathBuf, reason: String },
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// From the roll-up's direct reads and writes (see `store::rollup`).
    #[error("database error: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("stored row {id} of {table} is unreadable: {reason}")]
    Corrupt {
        table: &'static str,
        id: i64,
        reason: String,
    },
    /// A row of a table keyed by its columns rather than an id.
    #[error("stored row ({key}) of {table} is unreadable: {reason}")]
    CorruptKeyed {
        table: &'static str,
        key: String,
        reason: String,
    },
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Readers: WAL lets them run beside the writer.
    read: SqlitePool,
    /// The one writer connection.
    write: SqlitePool,
    clock: Arc<dyn Clock>,
    /// Fault injection: while set, every write fails, as on a full disk.
    refusing: Arc<AtomicBool>,
}

/// Formats a time the way every time column stores it.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if missing) the database at `path` and runs the migrations;
    /// stored times come from the wall clock.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_clock(path, Arc::new(SystemClock)).await
    }

    /// As [`Store::open`], with the times it stores read from `clock`.
    pub async fn open_with_clock(path: &Path, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::open_configured(path, clock, DEFAULT_BUSY_TIMEOUT).await
    }

    /// As [`Store::open_with_clock`]; a write that finds the database locked by
    /// another process waits at most `busy_timeout` before it fails.
    pub async fn open_configured(
        path: &Path,
        clock: Arc<dyn Clock>,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an event answered 204 survives a power cut, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(busy_timeout);
        let refusing = Arc::new(AtomicBool::new(false));
        let fault = refusing.clone();
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // No ping before each write: a broken connection fails the write
            // itself, and `settle` replaces it.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                let refuse = fault.load(Ordering::Acquire);
                Box::pin(async move { set_refusing(conn, refuse).await })
            })
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations")
            .run(&write)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            })?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Ok(Store {
            read,
            write,
            clock,
            refusing,
        })
    }

    /// Opens a database qunbot wrote, for reading it (reports): a file that is
    /// not SQLite, or SQLite without qunbot's event log, is refused before
    /// anything is written to it.
    pub async fn open_existing(path: &Path) -> Result<Store, StoreError> {
        let foreign = |reason: String| StoreError::Foreign {
            path: path.to_path_buf(),
            reason,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?
            .filename(path)
            .read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&options)
            .await
            .map_err(|e| foreign(e.to_string()))?;
        let ours: Result<Option<(String,)>, sqlx::Error> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
        )
        .fetch_optional(&mut conn)
        .await;
        let _ = sqlx::Connection::close(conn).await;
        match ours {
            Err(e) => return Err(foreign(e.to_string())),
            Ok(None) => return Err(foreign("it has no qunbot event log (table events)".into())),
            Ok(Some(_)) => {}
        }
        Store::open(path).await
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    fn now(&self) -> String {
        timestamp(self.clock.now())
    }

    /// The writer connection, for one write. Hand it back through
    /// [`Store::settle`], which closes it if the write failed.
    async fn writer(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        Ok(self.write.acquire().await?)
    }

    /// Closes the writer connection if the write failed in any way (see the module docs).
    fn settle<T>(
        mut conn: PoolConnection<Sqlite>,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }

    /// Fault injection for tests: while `refuse` is true every write fails (SQLite's
    /// `query_only`), as when the disk is full or the file system fails; reads
    /// still work, as they do on a full disk.
    pub async fn refuse_writes(&self, refuse: bool) -> Result<(), StoreError> {
        self.refusing.store(refuse, Ordering::Release);
        let mut conn = self.write.acquire().await?;
        set_refusing(&mut conn, refuse).await?;
        Ok(())
    }

    /// Logs something the daemon itself did (a config reload, ...).
    pub async fn log_system(&self, kind: &str, detail: Value) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = sqlx::query(
            "INSERT INTO events (at, direction, kind, detail) VALUES (?, 'system', ?, ?)",
        )
        .bind(self.now())
        .bind(kind)
        .bind(detail.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        Store::settle(conn, result)
    }
}

impl OutboxStore for Store {
    type Error = StoreError;

    /// Pending actions in queue order, due or not (the worker keeps per-group order).
    async fn pending_actions(&self, limit: i64) -> Result<Vec<PendingAction>, StoreError> {
        let rows: Vec<rows::OutboxRow> = sqlx::query_as(
            "SELECT id, created_at, payload, attempts, next_attempt_at FROM outbox
             WHERE state = 'pending' ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(PendingAction::try_from).collect()
    }

    async fn lane_heads(&self, limit: i64) -> Result<Vec<PendingAction>, StoreError> {
        let rows: Vec<rows::OutboxRow> = sqlx::query_as(
            "SELECT id, created_at, payload, attempts, next_attempt_at FROM outbox
             WHERE id IN (SELECT MIN(id) FROM outbox WHERE state = 'pending' GROUP BY account, group_id, automatic)
             ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(PendingAction::try_from).collect()
    }

    /// Reschedules an action after a retryable failure.
    async fn retry_action(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = sqlx::query("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'")
            .bind(attempts)
            .bind(timestamp(next_attempt_at))
            .bind(error)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(StoreError::from);
        Store::settle(conn, result)
    }

    /// Closes an action as delivered or failed and logs its outcome, in one
    /// transaction; `followup` (a report of the failure to the chat) is queued with it.
    async fn finish_action(
        &self,
        action: &PendingAction,
        outcome: &Outcome,
        followup: Option<&Outbound>,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = finish_action(&mut conn, action, outcome, followup, self.now()).await;
        Store::settle(conn, result)
    }
}

impl EventLog for Store {
    type Error = StoreError;

    /// Logs a batch of inbound events in one transaction and updates the member
    /// table from the new ones. Redeliveries (same account and dedup key, in the log
    /// or earlier in the batch) are recognised and not logged again.
    async fn record_inbound(&self, events: &[Event]) -> Result<Vec<Recorded>, StoreError> {
        let mut conn = self.writer().await?;
        let result = record_inbound(&mut conn, events, self.now()).await;
        Store::settle(conn, result)
    }

    async fn probe_write(&self) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = sqlx::query(
            "INSERT INTO health (id, checked_at) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(self.now())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        Store::settle(conn, result)
    }

    /// Inbound events logged but not yet acted on (after a crash), oldest first.
    /// A row that cannot be read back comes as `Unreadable` with its id, so the
    /// engine can quarantine it instead of stopping.
    async fn unhandled_inbound(&self) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, detail FROM events WHERE handled = 0 ORDER BY id")
                .fetch_all(&self.read)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, detail)| StoredEvent::decode(id, &detail))
            .collect())
    }
}

/// Makes the connection refuse writes, or lifts that.
async fn set_refusing(conn: &mut SqliteConnection, refuse: bool) -> Result<(), sqlx::Error> {
    let pragma = if refuse {
        "PRAGMA query_only = ON"
    } else {
        "PRAGMA query_only = OFF"
    };
    sqlx::query(pragma).execute(&mut *conn).await?;
    Ok(())
}

async fn finish_action(
    conn: &mut SqliteConnection,
    action: &PendingAction,
    outcome: &Outcome,
    followup: Option<&Outbound>,
    now: String,
) -> Result<(), StoreError> {
    let state = outcome.state.as_str();
    let detail = serde_json::json!({
        "outbox_id": action.id,
        "state": state,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "action": action.outbound.action,
        "result": outcome.result,
    });
    let mut detail = detail;
    if let Some(tag) = &action.outbound.tag {
        detail["tag"] = tag.as_str().into();
    }
    if action.outbound.automatic {
        detail["automatic"] = true.into();
    }
    let a = &action.outbound.action;
    let mut script = script::Script::begin();
    script.add(
        "UPDATE outbox SET state = ?, attempts = ?, last_error = ?, finished_at = ? WHERE id = ?",
        [
            state.into(),
            outcome.attempts.into(),
            outcome.error.as_ref().into(),
            now.as_str().into(),
            action.id.into(),
        ],
    );
    script.add(
        "INSERT INTO events (at, direction, kind, account, group_id, user_id, detail) VALUES (?, 'out', ?, ?, ?, ?, ?)",
        [
            now.as_str().into(),
            format!("action.{}", a.name()).into(),
            action.outbound.account.to_string().into(),
            a.group().map(Id::to_string).into(),
            a.user().map(Id::to_string).into(),
            detail.to_string().into(),
        ],
    );
    if let Some(followup) = followup {
        state::insert_action(&mut script, &now, None, followup);
    }
    script.commit(conn).await
}

async fn record_inbound(
    conn: &mut SqliteConnection,
    events: &[Event],
    at: String,
) -> Result<Vec<Recorded>, StoreError> {
    let keyed: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.account.to_string(), e.dedup_key()))
        .collect();
    // One script: the whole batch is one hand-off to the connection's thread.
    let mut script = script::Script::begin();
    for (chunk, keys) in events.chunks(INSERT_CHUNK).zip(keyed.chunks(INSERT_CHUNK)) {
        script.add_built(|q| {
            q.push("INSERT INTO events (at, direction, kind, account, group_id, user_id, dedup_key, handled, detail) ");
            q.push_values(
                chunk.iter().zip(keys),
                |mut row, (event, (account, key))| {
                    row.push_bind(&at)
                        .push_bind("in")
                        .push_bind(event.kind())
                        .push_bind(account)
                        .push_bind(event.group().map(Id::to_string))
                        .push_bind(event.user().map(Id::to_string))
                        .push_bind(key)
                        .push_bind(0)
                        .push_bind(serde_json::to_string(event).unwrap_or_default());
                },
            );
            q.push(" ON CONFLICT (account, dedup_key) DO NOTHING RETURNING id, account, dedup_key");
        });
    }
    let rows: Vec<(i64, String, String)> = script.commit_returning(conn).await?;
    let mut inserted: std::collections::HashMap<_, _> = rows
        .into_iter()
        .map(|(id, account, key)| ((account, key), id))
        .collect();
    // The first occurrence of a key takes the row; any later one in the batch is a duplicate.
    let recorded: Vec<Recorded> = keyed
        .into_iter()
        .map(|key| {
            inserted
                .remove(&key)
                .map_or(Recorded::Duplicate, Recorded::New)
        })
        .collect();
    Ok(recorded)
}

#[cfg(test)]
mod tests;
