//! The daily roll-up behind `qunbot report` and `/stats`: read the log after the
//! last row taken, let [`crate::report::rollup`] say what each row adds, and write
//! the sums, a chunk per transaction.
//!
//! A reader thread ([`super::rollup_reader`]) reads and sums the next chunk
//! while this side writes the one before. The writes (speakers, day rows,
//! breakdowns, membership, stays) go through rusqlite on the writer
//! connection's own handle ([`direct`]), each table's rows in its key order
//! through one prepared statement: sqlx hands rows to and from its worker
//! thread one at a time, which for millions of rows costs more than the work.
//!
//! A chunk is written inside one `BEGIN IMMEDIATE` that first checks the stored
//! marks are the ones it was read from, so two roll-ups (the daemon's and a
//! `qunbot report` beside it) never count the same rows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::SqliteConnection;

use super::rollup_membership::{known, write_membership};
use super::rollup_reader::{read_ahead, sources, Marks, ReadChunk, LEDGERS};
use super::{Store, StoreError};
use crate::report::rollup::{last_spoke, replay, Chunk, DayKey, Spoke, Stay};
use crate::report::{Counts, Metric};

/// Rows of each source taken per transaction: the first chunk's size, and the
/// bounds the pace below keeps it in.
const FIRST_CHUNK: i64 = 50_000;
const CHUNK_BOUNDS: (i64, i64) = (10_000, 800_000);

/// How long a chunk should hold the write lock: long enough that a commit's cost
/// is spread over many rows, short enough that the daemon's intake beside a
/// rebuild waits at most about this long (its busy timeout is 10 s).
const CHUNK_PACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// The next chunk's size after one of `rows` rows took `took`: grows while
/// chunks are quick, shrinks when one ran long.
fn next_chunk(rows: i64, took: std::time::Duration) -> i64 {
    let pace = CHUNK_PACE.as_secs_f64();
    let took = took.as_secs_f64().max(1e-3);
    let scaled = (rows as f64 * (pace / took).clamp(0.5, 2.0)) as i64;
    scaled.clamp(CHUNK_BOUNDS.0, CHUNK_BOUNDS.1)
}

const ROLLUP_TABLES: [&str; 7] = [
    "rollup_state",
    "rollup_days",
    "rollup_breakdown",
    "rollup_speakers",
    "rollup_presence",
    "rollup_groups",
    "rollup_stays",
];

/// How far a roll-up got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollupProgress {
    /// Log rows taken so far in this run.
    pub taken: u64,
    /// Log rows waiting when the run began.
    pub waiting: u64,
}

/// A day as the roll-up stores it: `2026-11-24` (`NaiveDate`'s own text,
/// without the formatter's parsing of a pattern per call).
pub(super) fn day_text(d: NaiveDate) -> String {
    d.to_string()
}

pub(super) fn parse_day(table: &'static str, text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StoreError::CorruptKeyed {
        table,
        key: text.to_string(),
        reason: e.to_string(),
    })
}

impl Store {
    /// Gives the writer a page cache (128 MiB) sized for reading a long log
    /// (`qunbot report`): SQLite's default 2 MiB cache re-reads every page of a
    /// roll-up's lookups from the file.
    pub async fn tune_for_reports(&self) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = async {
            sqlx::query("PRAGMA cache_size = -131072")
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        .await;
        Store::settle(conn, result)
    }

    /// Log rows the roll-up has not taken yet.
    pub async fn rollup_waiting(&self) -> Result<u64, StoreError> {
        let mut conn = self.read.acquire().await?;
        let marks = marks(&mut conn).await?;
        let lasts = std::iter::once(("events", "SELECT MAX(id) FROM events"))
            .chain(LEDGERS.iter().map(|l| (l.source, l.last)));
        let mut waiting = 0;
        for (source, sql) in lasts {
            let (last,): (Option<i64>,) = sqlx::query_as(sql).fetch_one(&mut *conn).await?;
            let mark = marks.get(source).copied().unwrap_or(0);
            waiting += (last.unwrap_or(0) - mark).max(0) as u64;
        }
        Ok(waiting)
    }

    /// Log rows the roll-up has taken (what a rebuild reads again).
    pub async fn rolled_up(&self) -> Result<u64, StoreError> {
        let mut conn = self.read.acquire().await?;
        let marks = marks(&mut conn).await?;
        Ok(marks.values().map(|m| (*m).max(0) as u64).sum())
    }

    /// Brings the roll-up up to the end of the log, with days in `tz` (a roll-up
    /// in another zone is rebuilt). `progress` hears after each chunk.
    ///
    /// A reader thread reads and sums the log a chunk ahead
    /// ([`super::rollup_reader`]) while this task writes each chunk in a
    /// transaction of its own. A chunk whose starting marks are not the stored
    /// ones (another roll-up, the daemon's or a second `qunbot report`, took
    /// those rows first) is dropped, and reading starts again from the marks.
    pub async fn roll_up(
        &self,
        tz: Tz,
        mut progress: impl FnMut(RollupProgress),
    ) -> Result<RollupProgress, StoreError> {
        let mut done = RollupProgress {
            taken: 0,
            waiting: self.rollup_waiting().await?,
        };
        let path = self.read.connect_options().get_filename().to_path_buf();
        'pass: loop {
            let from = self.start_rollup(tz).await?;
            let size = Arc::new(AtomicI64::new(FIRST_CHUNK));
            let mut chunks = read_ahead(path.clone(), tz, from, size.clone());
            while let Some(read) = chunks.recv().await {
                let read = read?;
                let rows = read.rows;
                let started = std::time::Instant::now();
                let mut conn = self.writer().await?;
                let result = async {
                    // The roll-up is derived from the log and its marks commit
                    // with it, so a chunk lost to a power cut is read again: no
                    // fsync per chunk (WAL keeps the file consistent either way).
                    sqlx::query("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 32768")
                        .execute(&mut *conn)
                        .await?;
                    let written = write_read_chunk(&mut conn, tz, read).await?;
                    sqlx::query("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(written)
                }
                .await;
                if !Store::settle(conn, result)? {
                    continue 'pass;
                }
                let next = next_chunk(size.load(Ordering::Relaxed), started.elapsed());
                size.store(next, Ordering::Relaxed);
                done.taken += rows;
                done.waiting = done.waiting.max(done.taken);
                progress(done);
            }
            return Ok(done);
        }
    }

    /// Checks the roll-up's time zone (emptying a roll-up in another zone) and
    /// returns its marks.
    async fn start_rollup(&self, tz: Tz) -> Result<Marks, StoreError> {
        let mut conn = self.writer().await?;
        let result = async {
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            if stored_zone(&mut conn).await?.as_deref() != Some(tz.name()) {
                // Days in another zone are other days: start again.
                clear(&mut conn).await?;
                sqlx::query("INSERT INTO rollup_state (key, value) VALUES ('timezone', ?)")
                    .bind(tz.name())
                    .execute(&mut *conn)
                    .await?;
            }
            let marks = marks(&mut conn).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(marks)
        }
        .await;
        Store::settle(conn, result)
    }

    /// Empties the roll-up and reads the whole log again.
    pub async fn rebuild_rollup(
        &self,
        tz: Tz,
        progress: impl FnMut(RollupProgress),
    ) -> Result<RollupProgress, StoreError> {
        let mut conn = self.writer().await?;
        let result = async {
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            clear(&mut conn).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(())
        }
        .await;
        Store::settle(conn, result)?;
        self.roll_up(tz, progress).await
    }
}

/// How far the roll-up has read each source (0: not at all).
async fn marks(conn: &mut SqliteConnection) -> Result<Marks, StoreError> {
    let rows: HashMap<String, String> = sqlx::query_as("SELECT key, value FROM rollup_state")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    Ok(sources()
        .map(|s| (s, rows.get(s).and_then(|v| v.parse().ok()).unwrap_or(0)))
        .collect())
}

async fn stored_zone(conn: &mut SqliteConnection) -> Result<Option<String>, StoreError> {
    let zone: Option<(String,)> =
        sqlx::query_as("SELECT value FROM rollup_state WHERE key = 'timezone'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(zone.map(|(z,)| z))
}

/// Empties every roll-up table, in the transaction the connection is in.
async fn clear(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    for table in ROLLUP_TABLES {
        // The table names are the fixed list above.
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes a chunk the reader summed, with its marks, in one transaction;
/// `false` (nothing written) when the stored marks or zone are no longer the
/// ones it was read from.
async fn write_read_chunk(
    conn: &mut SqliteConnection,
    tz: Tz,
    read: ReadChunk,
) -> Result<bool, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let current =
        stored_zone(conn).await?.as_deref() == Some(tz.name()) && marks(conn).await? == read.from;
    if current {
        write_chunk(conn, read.chunk).await?;
        for (source, last) in &read.to {
            sqlx::query(
                "INSERT INTO rollup_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(source)
            .bind(last.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(current)
}

/// Runs `f` over this connection's own SQLite handle through rusqlite, for
/// the roll-up's bulk reads and writes: sqlx hands rows over one at a time
/// between threads, which for a chunk's hundreds of thousands of rows costs
/// more than the work. It runs inside the transaction the connection is in.
pub(super) async fn direct<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the lock keeps sqlx's worker off the handle while `db` lives
    // (`db` is dropped first), and a connection made by `from_handle` never
    // closes the handle it was given.
    let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }?;
    let result = f(&db);
    drop(db);
    result
}

/// As [`direct`], over two connections at once: `first` on a thread of its own,
/// `second` on this one (a report reads its day rows beside the rest).
pub(super) async fn direct_parallel<A: Send, B>(
    (a, first): (
        &mut SqliteConnection,
        impl FnOnce(&rusqlite::Connection) -> Result<A, StoreError> + Send,
    ),
    (b, second): (
        &mut SqliteConnection,
        impl FnOnce(&rusqlite::Connection) -> Result<B, StoreError>,
    ),
) -> Result<(A, B), StoreError> {
    let mut handle_a = a.lock_handle().await?;
    let mut handle_b = b.lock_handle().await?;
    // SAFETY: as in `direct`: both locks are held until both connections are
    // dropped (the scope joins the thread that owns `db_a` before it returns).
    let db_a = unsafe { rusqlite::Connection::from_handle(handle_a.as_raw_handle().as_ptr()) }?;
    let db_b = unsafe { rusqlite::Connection::from_handle(handle_b.as_raw_handle().as_ptr()) }?;
    let (result_a, result_b) = std::thread::scope(|scope| {
        let thread = scope.spawn(move || {
            let result = first(&db_a);
            drop(db_a);
            result
        });
        let result_b = second(&db_b);
        (thread.join(), result_b)
    });
    drop(db_b);
    let result_a = result_a.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    Ok((result_a?, result_b?))
}

async fn write_chunk(conn: &mut SqliteConnection, chunk: Chunk) -> Result<(), StoreError> {
    let Chunk {
        mut counts,
        breakdown,
        spoke,
        membership,
        ..
    } = chunk;
    let spoken = spoke.entries();
    let speaker_ids = add_speakers(conn, &spoken, &mut counts).await?;

    // Membership first: the head counts go in with the day's counts.
    let replayed = if membership.is_empty() {
        Default::default()
    } else {
        let known = known(conn, &membership).await?;
        replay(&membership, known)
    };
    let mut members: HashMap<DayKey, i64> = HashMap::new();
    for (key, n) in &replayed.day_end {
        counts.entry(key.clone()).or_default();
        members.insert(key.clone(), *n);
    }

    // Thousands of rows a chunk, in the tables' key order: prepared
    // statements on the handle, one row each.
    let mut days: Vec<(&DayKey, &Counts)> = counts.iter().collect();
    days.sort_unstable_by_key(|(k, _)| (k.day, &k.account, &k.group));
    let mut breakdown: Vec<_> = breakdown.into_iter().collect();
    breakdown.sort_unstable_by(|((a, am, ak), _), ((b, bm, bk), _)| {
        (a.day, &a.account, &a.group, am, ak).cmp(&(b.day, &b.account, &b.group, bm, bk))
    });
    direct(conn, |db| {
        let mut upsert_day = db.prepare(&upsert_days_sql())?;
        for (k, c) in days {
            let mut row: Vec<rusqlite::types::Value> = vec![
                k.account.clone().into(),
                k.group.clone().into(),
                day_text(k.day).into(),
                members.get(k).copied().into(),
            ];
            row.extend(Metric::ALL.iter().map(|m| c[*m].into()));
            row.push(speaker_ids.get(k).cloned().into());
            upsert_day.execute(rusqlite::params_from_iter(row))?;
        }
        let mut upsert_breakdown = db.prepare(
            "INSERT INTO rollup_breakdown (account, group_id, day, metric, key, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day, account, group_id, metric, key)
             DO UPDATE SET value = value + excluded.value",
        )?;
        for ((k, metric, key), n) in &breakdown {
            upsert_breakdown.execute(rusqlite::params![
                k.account,
                k.group,
                day_text(k.day),
                metric,
                key,
                n
            ])?;
        }
        Ok(())
    })
    .await?;

    write_membership(conn, &replayed).await?;
    // After the membership: a stay opened in this chunk hears its words.
    last_spoke_in_stays(conn, &spoken).await
}

/// Adds the chunk's messages to its days' counts, and each member who spoke
/// on a day to that day's speakers unless they were heard already that day
/// (the speakers table). Returns the ids of each day's new speakers, one per
/// line, for the day row's list that answers distinct speakers over a span.
async fn add_speakers(
    conn: &mut SqliteConnection,
    spoken: &[Spoke<'_>],
    counts: &mut HashMap<DayKey, Counts>,
) -> Result<HashMap<DayKey, String>, StoreError> {
    let mut ids: HashMap<DayKey, String> = HashMap::new();
    direct(conn, |db| {
        let mut insert = db.prepare(
            "INSERT OR IGNORE INTO rollup_speakers (account, group_id, day, user_id)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let same_day =
            |a: &Spoke, b: &Spoke| (a.account, a.group, a.day) == (b.account, b.group, b.day);
        for day in spoken.chunk_by(same_day) {
            let key = day[0].key();
            let c = counts.entry(key.clone()).or_default();
            let mut new_ids = String::new();
            for s in day {
                let new = insert.execute(rusqlite::params![
                    s.account,
                    s.group,
                    day_text(s.day),
                    s.user
                ])? == 1;
                c[Metric::Messages] += s.messages;
                if new {
                    c[Metric::Speakers] += 1;
                    if !new_ids.is_empty() {
                        new_ids.push('\n');
                    }
                    new_ids.push_str(s.user);
                }
            }
            if !new_ids.is_empty() {
                ids.insert(key, new_ids);
            }
        }
        Ok(())
    })
    .await?;
    Ok(ids)
}

/// Moves each stay's last spoken day forward by the days its member spoke in
/// the chunk.
async fn last_spoke_in_stays(
    conn: &mut SqliteConnection,
    spoken: &[Spoke<'_>],
) -> Result<(), StoreError> {
    let mut by_member: Vec<&Spoke> = spoken.iter().collect();
    by_member.sort_unstable_by_key(|s| (s.account, s.group, s.user, s.day));
    direct(conn, |db| {
        let mut stays_of = db.prepare(
            "SELECT joined_day, left_day, last_spoke_day FROM rollup_stays
             WHERE account = ?1 AND group_id = ?2 AND user_id = ?3",
        )?;
        let mut set_last = db.prepare(
            "UPDATE rollup_stays SET last_spoke_day = ?5
             WHERE account = ?1 AND group_id = ?2 AND user_id = ?3 AND joined_day = ?4",
        )?;
        let same_member =
            |a: &&Spoke, b: &&Spoke| (a.account, a.group, a.user) == (b.account, b.group, b.user);
        for member in by_member.chunk_by(same_member) {
            let m = member[0];
            let days: Vec<NaiveDate> = member.iter().map(|s| s.day).collect();
            let stays = stays_of
                .query_map(rusqlite::params![m.account, m.group, m.user], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            for (joined, left, last) in stays {
                let stay = Stay {
                    joined: parse_day("rollup_stays", &joined)?,
                    left: left
                        .as_deref()
                        .map(|l| parse_day("rollup_stays", l))
                        .transpose()?,
                };
                let Some(day) = last_spoke(std::slice::from_ref(&stay), &days)[0] else {
                    continue;
                };
                let day = day_text(day);
                if last.as_ref().is_none_or(|l| *l < day) {
                    set_last.execute(rusqlite::params![m.account, m.group, m.user, joined, day])?;
                }
            }
        }
        Ok(())
    })
    .await
}

/// `INSERT … ON CONFLICT DO UPDATE` adding a chunk's counts to `rollup_days`.
fn upsert_days_sql() -> String {
    let columns: Vec<&str> = Metric::ALL.iter().map(|m| m.column()).collect();
    let values: Vec<String> = (0..columns.len()).map(|i| format!("?{}", i + 5)).collect();
    let sums: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect();
    let ids = columns.len() + 5;
    format!(
        "INSERT INTO rollup_days (account, group_id, day, members, {}, speaker_ids)
         VALUES (?1, ?2, ?3, ?4, {}, ?{ids})
         ON CONFLICT (day, account, group_id)
         DO UPDATE SET members = coalesce(excluded.members, members), {},
            speaker_ids = CASE WHEN speaker_ids IS NULL THEN excluded.speaker_ids
                               WHEN excluded.speaker_ids IS NULL THEN speaker_ids
                               ELSE speaker_ids || char(10) || excluded.speaker_ids END",
        columns.join(", "),
        values.join(", "),
        sums.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::engine::storage::EventLog as _;
    use crate::report::Span;
    use crate::store::tests::said;

    /// The daemon rolls up every minute and `qunbot report` may run beside it:
    /// a chunk read ahead before the other took its rows must not count them again.
    #[tokio::test]
    async fn a_chunk_read_before_another_rollup_took_its_rows_is_dropped_not_counted_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let start = chrono::Utc.with_ymd_and_hms(2026, 5, 4, 2, 0, 0).unwrap();
        let clock = Arc::new(crate::clock::ManualClock::at(start));
        let store = Store::open_with_clock(&path, clock).await.unwrap();
        store
            .record_inbound(&[said(1, 7, "甲", 0), said(2, 8, "乙", 0)])
            .await
            .unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        let from = store.start_rollup(tz).await.unwrap();
        let mut chunks = read_ahead(path, tz, from, Arc::new(AtomicI64::new(FIRST_CHUNK)));
        let stale = chunks.recv().await.unwrap().unwrap();
        assert_eq!(stale.rows, 2);

        store.roll_up(tz, |_| {}).await.unwrap();
        let mut conn = store.writer().await.unwrap();
        let written = write_read_chunk(&mut conn, tz, stale).await.unwrap();
        drop(conn);
        assert!(!written, "a stale chunk is not written");

        let day = NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let span = Span {
            from: day,
            to: day,
            today: day,
            timezone: tz.name().into(),
        };
        let rows = store.report_rows(&span, None).await.unwrap();
        let messages: i64 = rows.days.iter().map(|r| r.counts[Metric::Messages]).sum();
        assert_eq!(messages, 2);
        // And a roll-up now finds nothing left to take.
        assert_eq!(store.roll_up(tz, |_| {}).await.unwrap().taken, 0);
    }
}
