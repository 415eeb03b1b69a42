//! `qunbot report` over a long log: 10,000,000 events across 2,000 groups and
//! 90 days, as the daemon writes them (its schema and row formats: member
//! messages, joins and leaves, member lists, replies and their outcomes, filter
//! hits, mutes, admin commands, tasks, announcements with their delivery), plus
//! check-ins and points in their ledgers.
//!
//! Each run is the real binary (`qunbot report --db …`), timed from the outside,
//! its peak memory its own maximum resident set (`wait4`):
//!
//! - cold: `--rebuild`, the roll-up emptied and read again from the whole log;
//! - warm: the same report again (nothing new in the log), as JSON over all 90
//!   days (every group and day: 180,000 rows), as HTML over 90 days, and the
//!   default table over 7 days.
//!
//! References in the same run, in-process: a bare scan of the log's table
//! (`SELECT COUNT(user_id), MAX(at) FROM events`: every row's page read once,
//! the least any roll-up must read) for cold, and a bare scan of the roll-up's
//! day rows for warm.
//!
//! `cargo bench --bench report` (env: BENCH_EVENTS, default 10000000;
//! BENCH_GROUPS, default 2000; BENCH_DAYS, default 90; BENCH_DB, a file to keep
//! the generated database in between runs, default a temporary folder)

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{Days, TimeZone, Utc};
use qunbot::store::Store;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

mod support;

use support::env_usize;

const ACCOUNT: i64 = 10001000;
/// Members per group (a dozen of them do most of the talking).
const MEMBERS: i64 = 300;

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(run())
}

async fn run() -> anyhow::Result<()> {
    let events = env_usize("BENCH_EVENTS", 10_000_000) as i64;
    let groups = env_usize("BENCH_GROUPS", 2000) as i64;
    let days = env_usize("BENCH_DAYS", 90) as i64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("qunbot report: {events} events, {groups} groups, {days} days, {cores} cores");

    let dir = tempfile::tempdir()?;
    let db = std::env::var("BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("report.db"));
    // The span ends today (Shanghai), as a shop reading its last quarter.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let first = today - Days::new(days as u64 - 1);
    let start = chrono_tz::Asia::Shanghai
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    if !db.exists() {
        let t = Instant::now();
        generate(&db, events, groups, days, start.timestamp()).await?;
        println!("generated in {:.1} s", t.elapsed().as_secs_f64());
    } else {
        println!("reusing {}", db.display());
    }
    let size = std::fs::metadata(&db)?.len() as f64 / 1e9;
    println!("database: {size:.2} GB");

    // Not `SELECT kind, COUNT(*) … GROUP BY kind`: that reads an index, not the log.
    let log_scan = reference(&db, "SELECT COUNT(user_id), MAX(at) FROM events").await?;
    let span = ["--from", &first.to_string(), "--to", &today.to_string()];
    let cold = report(
        &db,
        &[&["--rebuild", "--format", "json"][..], &span].concat(),
    )?;
    let days_scan = reference(
        &db,
        "SELECT COUNT(*), SUM(messages), SUM(speakers) FROM rollup_days",
    )
    .await?;
    let warm_json = report(&db, &[&["--format", "json"][..], &span].concat())?;
    let warm_html = report(&db, &[&["--format", "html"][..], &span].concat())?;
    let warm_table = report(&db, &["--since", "7d"])?;

    println!("{:<40} {:>9} {:>10}", "run", "seconds", "peak MiB");
    for (name, (secs, mib)) in [
        ("cold: --rebuild, JSON, 90 days", cold),
        ("warm: JSON, 90 days, every group-day", warm_json),
        ("warm: HTML, 90 days", warm_html),
        ("warm: table, last 7 days", warm_table),
    ] {
        println!("{name:<40} {secs:>9.3} {mib:>10.1}");
    }
    println!(
        "reference: bare log scan {log_scan:.3} s (cold ratio {:.1}); bare roll-up scan {days_scan:.3} s (warm JSON ratio {:.1})",
        cold.0 / log_scan,
        warm_json.0 / days_scan
    );
    println!(
        "goals: warm < 1 s: {}; cold < 30 s: {}",
        if warm_json.0 < 1.0 && warm_html.0 < 1.0 && warm_table.0 < 1.0 {
            "met"
        } else {
            "MISSED"
        },
        if cold.0 < 30.0 { "met" } else { "MISSED" }
    );
    Ok(())
}

/// Runs `qunbot report --db DB ARGS > /dev/null`; its wall time and peak memory.
fn report(db: &Path, args: &[&str]) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .arg("report")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(waited == pid, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    anyhow::ensure!(status.success(), "qunbot report {args:?} failed: {status}");
    // ru_maxrss is in KiB on Linux.
    Ok((secs, usage.ru_maxrss as f64 / 1024.0))
}

async fn reference(db: &Path, sql: &str) -> anyhow::Result<f64> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await?;
    let started = Instant::now();
    sqlx::query(sql).fetch_all(&mut conn).await?;
    let secs = started.elapsed().as_secs_f64();
    conn.close().await?;
    Ok(secs)
}

/// Writes the log with SQL inside SQLite (a recursive counter), a million rows a
/// transaction: the rows are what the daemon writes, generated without a round
/// trip each.
async fn generate(
    db: &Path,
    events: i64,
    groups: i64,
    days: i64,
    start: i64,
) -> anyhow::Result<()> {
    Store::open(db).await?.close().await;
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .connect()
        .await?;
    // Each group's member list, once at the start.
    sqlx::query(
        "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < ?1),
              m(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM m WHERE j + 1 < ?2)
         INSERT INTO events (at, direction, kind, account, group_id, user_id, dedup_key, handled, detail)
         SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?3, 'unixepoch'), 'in', 'sync.member_list', ?4,
                100000 + i, NULL, 'sync-' || i, 1,
                json_object('account', ?4, 'time', ?3, 'body', json_object('type', 'member_list',
                  'group', 100000 + i, 'members',
                  (SELECT json_group_array(json_object('user', 1000000 + i * 1000 + j,
                     'name', '会员' || j, 'role', 'member')) FROM m)))
         FROM g",
    )
    .bind(groups)
    .bind(MEMBERS)
    .bind(start)
    .bind(ACCOUNT)
    .execute(&mut conn)
    .await?;
    let step = (days * 86_400) as f64 / events as f64;
    let chunk = 1_000_000;
    let mut from = 0;
    while from < events {
        let to = (from + chunk).min(events);
        let mut tx = conn.begin().await?;
        sqlx::query(GENERATE)
            .bind(from)
            .bind(to)
            .bind(start)
            .bind(step)
            .bind(groups)
            .bind(ACCOUNT)
            .execute(&mut *tx)
            .await?;
        // A check-in and its points for one message in fifty.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 50 FROM n WHERE i + 50 < ?2)
             INSERT OR IGNORE INTO checkins (account, group_id, user_id, day, streak, at)
             SELECT ?6, 100000 + (i * 7) % ?5, 1000000 + ((i * 7) % ?5) * 1000 + i % 300,
                    date(?3 + i * ?4, 'unixepoch', '+8 hours'), 1,
                    strftime('%Y-%m-%dT%H:%M:%fZ', ?3 + i * ?4, 'unixepoch')
             FROM n",
        )
        .bind(from)
        .bind(to)
        .bind(start)
        .bind(step)
        .bind(groups)
        .bind(ACCOUNT)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO points_ledger (at, account, group_id, user_id, amount, reason, name)
             SELECT at, account, group_id, user_id, 5, 'checkin', NULL FROM checkins
             WHERE rowid > (SELECT COALESCE(MAX(id), 0) FROM points_ledger)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        from = to;
    }
    conn.close().await?;
    Ok(())
}

/// Event `i` of the log: its kind, group and member drawn from the high bits of
/// independent multiplicative hashes of `i` (the low bits of one hash would tie
/// a group to a few members): 85 % member messages, 85 % of those from each
/// group's dozen regulars.
const GENERATE: &str = "
WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2),
r AS (
  SELECT i, ((i * 2654435761) / 65536) % 100 AS k, ((i * 2246822519) / 4096) % ?5 AS g,
         CASE WHEN ((i * 3266489917) / 8192) % 100 < 85 THEN ((i * 668265263) / 1024) % 12
              ELSE ((i * 668265263) / 1024) % 300 END AS u,
         strftime('%Y-%m-%dT%H:%M:%fZ', ?3 + i * ?4, 'unixepoch') AS at,
         CAST(?3 + i * ?4 AS INTEGER) AS t
  FROM n)
INSERT INTO events (at, direction, kind, account, group_id, user_id, dedup_key, handled, detail)
SELECT at,
  CASE WHEN k < 90 THEN 'in' WHEN k IN (90, 91, 92, 94, 99) THEN 'out' ELSE 'system' END,
  CASE WHEN k < 85 THEN 'message.group'
       WHEN k < 88 THEN 'notice.member_joined'
       WHEN k < 90 THEN 'notice.member_left'
       WHEN k < 93 THEN 'action.send_group_msg'
       WHEN k = 93 THEN 'filter.hit'
       WHEN k = 94 THEN 'action.set_group_ban'
       WHEN k = 95 THEN 'command.admin'
       WHEN k = 96 THEN 'task.handed_out'
       WHEN k = 97 THEN 'task.done'
       WHEN k = 98 THEN 'schedule.sent'
       ELSE 'action.send_group_msg' END,
  ?6, 100000 + g,
  CASE WHEN k < 85 THEN 1000000 + g * 1000 + u
       WHEN k < 88 THEN 5000000 + i
       WHEN k < 90 THEN 5000000 + i - 1000
       WHEN k IN (93, 94, 95, 96, 97) THEN 1000000 + g * 1000 + u
       ELSE NULL END,
  CASE WHEN k < 90 THEN 'e' || i END,
  1,
  CASE WHEN k < 85 THEN json_object('account', ?6, 'time', t, 'body', json_object(
         'type', 'group_message', 'message_id', i, 'group', 100000 + g, 'user', 1000000 + g * 1000 + u,
         'sender', json_object('nickname', '会员' || u, 'card', '', 'role', 'member'),
         'message', json_array(json_object('type', 'text', 'text', '今天的团购几点开始？有优惠券吗')),
         'anonymous', json('false')))
       WHEN k < 88 THEN json_object('account', ?6, 'time', t, 'body', json_object(
         'type', 'member_joined', 'group', 100000 + g, 'user', 5000000 + i, 'operator', 0, 'invited', json('false')))
       WHEN k < 90 THEN json_object('account', ?6, 'time', t, 'body', json_object(
         'type', 'member_left', 'group', 100000 + g, 'user', 5000000 + i - 1000, 'operator', 0, 'reason', 'left'))
       WHEN k < 93 THEN json_object('outbox_id', i, 'state', 'delivered', 'attempts', 1, 'error', NULL,
         'action', json_object('action', 'send_group_msg', 'group', 100000 + g,
           'message', json_array(json_object('type', 'text', 'text', '签到成功！连续签到 1 天，积分 +5'))),
         'result', json_object('status', 'ok'))
       WHEN k = 93 THEN json_object('actions', json_array('recall', 'warn'), 'dry_run', json_array(),
         'hit_count', 1, 'hits', json_array(json_object('category', 'ad', 'word', '加群', 'start', 0, 'end', 2)),
         'message_id', i, 'strikes', 1)
       WHEN k = 94 THEN json_object('outbox_id', i, 'state', 'delivered', 'attempts', 1, 'error', NULL,
         'action', json_object('action', 'set_group_ban', 'group', 100000 + g, 'user', 1000000 + g * 1000 + u,
           'duration_secs', 600), 'result', json_object('status', 'ok'))
       WHEN k = 95 THEN json_object('command', 'mute')
       WHEN k IN (96, 97) THEN json_object('task', 'read_rules')
       WHEN k = 98 THEN json_object('schedule', 'a:morning', 'instant', at)
       ELSE json_object('outbox_id', i, 'state', 'delivered', 'attempts', 1, 'error', NULL, 'tag', 'a:morning',
         'action', json_object('action', 'send_group_msg', 'group', 100000 + g,
           'message', json_array(json_object('type', 'text', 'text', '早上好！今日清单已更新'))),
         'result', json_object('status', 'ok'))
  END
FROM r";
