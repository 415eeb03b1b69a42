//! The roll-up's reader: a thread of its own that reads the log ahead of the
//! writer, chunk after chunk, and sums each chunk's rows ([`Chunk`]) while the
//! writer ([`super::rollup`]) writes the one before. Reading the log is about
//! half a rebuild's work and writing the sums the other half, so a rebuild on
//! two cores takes about as long as the longer of the two.
//!
//! It has a read-only connection of its own (opened by path: the writer's
//! transactions go on meanwhile, and WAL gives each read a consistent view).
//! Each chunk says which marks it starts from, so the writer can tell when
//! another roll-up took those rows first (see `roll_up`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono_tz::Tz;
use rusqlite::OpenFlags;
use serde_json::json;
use tokio::sync::mpsc;

use super::rollup::parse_day;
use super::StoreError;
use crate::report::rollup::{Chunk, DayKey, EventRow, KINDS_WITH_DETAIL};

/// How far the roll-up has read each source: the last id (or rowid) taken.
pub(super) type Marks = BTreeMap<&'static str, i64>;

/// A ledger beside the event log, read in id (or rowid) order after its mark:
/// each row as (id, time, account, group, key, amount).
pub(super) struct Ledger {
    pub source: &'static str,
    read: &'static str,
    pub last: &'static str,
}

pub(super) const LEDGERS: [Ledger; 4] = [
    Ledger {
        source: "points_ledger",
        read: "SELECT id, at, account, group_id, reason, amount FROM points_ledger
               WHERE id > ?1 ORDER BY id LIMIT ?2",
        last: "SELECT MAX(id) FROM points_ledger",
    },
    Ledger {
        source: "checkins",
        read: "SELECT rowid, at, account, group_id, day, 1 FROM checkins
               WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        last: "SELECT MAX(rowid) FROM checkins",
    },
    Ledger {
        source: "coupon_claims",
        read: "SELECT rowid, at, account, group_id, pool, 1 FROM coupon_claims
               WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        last: "SELECT MAX(rowid) FROM coupon_claims",
    },
    Ledger {
        source: "strikes",
        read: "SELECT id, at, account, group_id, category, 1 FROM strikes
               WHERE id > ?1 ORDER BY id LIMIT ?2",
        last: "SELECT MAX(id) FROM strikes",
    },
];

/// The sources the roll-up reads: the event log, then the ledgers.
pub(super) fn sources() -> impl Iterator<Item = &'static str> {
    std::iter::once("events").chain(LEDGERS.iter().map(|l| l.source))
}

/// A chunk read and summed, with the marks it starts from and ends at.
#[derive(Debug)]
pub(super) struct ReadChunk {
    pub from: Marks,
    pub to: Marks,
    pub rows: u64,
    pub chunk: Chunk,
}

/// The reader thread's end of the hand-over: one chunk waits while the next is
/// read, so at most three are in memory.
pub(super) type Chunks = mpsc::Receiver<Result<ReadChunk, StoreError>>;

/// Starts reading the log at `from` on a blocking thread; chunks come in order
/// until none is left. `size` is how many rows of each source the next chunk
/// takes (the writer paces it). Dropping the receiver stops the thread.
pub(super) fn read_ahead(path: PathBuf, tz: Tz, from: Marks, size: Arc<AtomicI64>) -> Chunks {
    let (chunks, receiver) = mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let db = match open(&path) {
            Ok(db) => db,
            Err(e) => {
                let _ = chunks.blocking_send(Err(e));
                return;
            }
        };
        let mut marks = from;
        loop {
            match read_chunk(&db, tz, &marks, size.load(Ordering::Relaxed)) {
                Ok(None) => return,
                Ok(Some(read)) => {
                    marks = read.to.clone();
                    if chunks.blocking_send(Ok(read)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = chunks.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    receiver
}

fn open(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let db = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(db)
}

/// The next `size` rows of every source after `marks`, summed; `None` when no
/// source has any.
fn read_chunk(
    db: &rusqlite::Connection,
    tz: Tz,
    marks: &Marks,
    size: i64,
) -> Result<Option<ReadChunk>, StoreError> {
    let mark = |s: &str| marks.get(s).copied().unwrap_or(0);
    let mut chunk = Chunk::new(tz);
    let mut to = marks.clone();
    let mut rows = 0u64;
    if let Some((last, n)) = read_events(db, mark("events"), size, &mut chunk)? {
        to.insert("events", last);
        rows += n;
    }
    for ledger in &LEDGERS {
        if let Some((last, n)) = read_ledger(db, ledger, mark(ledger.source), size, &mut chunk)? {
            to.insert(ledger.source, last);
            rows += n;
        }
    }
    Ok((rows > 0).then(|| ReadChunk {
        from: marks.clone(),
        to,
        rows,
        chunk,
    }))
}

/// Reads up to `size` rows of the log after id `after` into `chunk`; returns
/// the last id read and how many rows, or `None` when none wait. Members'
/// messages (most of the log) are counted without a copy of the row.
fn read_events(
    db: &rusqlite::Connection,
    after: i64,
    size: i64,
    chunk: &mut Chunk,
) -> Result<Option<(i64, u64)>, StoreError> {
    let mut statement = db.prepare_cached(
        "SELECT id, at, direction, kind, account, group_id, user_id,
                CASE WHEN kind != 'message.group' AND kind IN (SELECT value FROM json_each(?3))
                     THEN detail END
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let kinds = json!(KINDS_WITH_DETAIL).to_string();
    let mut rows = statement.query(rusqlite::params![after, size, kinds])?;
    let mut read = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            row.get_ref(i)?
                .as_str_or_null()
                .map_err(|e| StoreError::Corrupt {
                    table: "events",
                    id,
                    reason: e.to_string(),
                })
        };
        let at = super::rows::parse_time("events", id, text(1)?.unwrap_or_default())?;
        let (direction, kind) = (text(2)?.unwrap_or_default(), text(3)?.unwrap_or_default());
        let (account, group, user) = (text(4)?, text(5)?, text(6)?);
        match (direction, kind, account, group, user) {
            ("in", "message.group", Some(account), Some(group), Some(user)) => {
                chunk.add_message(at, account, group, user)
            }
            _ => chunk.add_event(&EventRow {
                at,
                direction: direction.to_string(),
                kind: kind.to_string(),
                account: account.map(str::to_string),
                group: group.map(str::to_string),
                user: user.map(str::to_string),
                // A detail that does not parse adds what the columns say.
                detail: text(7)?.and_then(|d| serde_json::from_str(d).ok()),
            }),
        }
        read = Some(id);
        count += 1;
    }
    Ok(read.map(|id| (id, count)))
}

/// Reads up to `size` rows of a ledger after `after` into `chunk`, as
/// [`read_events`] does.
fn read_ledger(
    db: &rusqlite::Connection,
    ledger: &Ledger,
    after: i64,
    size: i64,
    chunk: &mut Chunk,
) -> Result<Option<(i64, u64)>, StoreError> {
    let mut statement = db.prepare_cached(ledger.read)?;
    let mut rows = statement.query(rusqlite::params![after, size])?;
    let mut read = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let (at, account, group, key, amount): (String, String, String, String, i64) = (
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        );
        let day = match ledger.source {
            // A check-in's day is the member's calendar day, as stored.
            "checkins" => parse_day("checkins", &key)?,
            table => chunk.day_of(super::rows::parse_time(table, id, &at)?),
        };
        let day = DayKey {
            account,
            group,
            day,
        };
        match ledger.source {
            "points_ledger" => chunk.add_points(day, amount, &key),
            "checkins" => chunk.add_checkin(day),
            "coupon_claims" => chunk.add_coupon(day, &key),
            _ => chunk.add_strike(day),
        }
        read = Some(id);
        count += 1;
    }
    Ok(read.map(|id| (id, count)))
}
