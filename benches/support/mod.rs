//! The load generator the benchmarks share: signed bodies built up front, sent
//! by concurrent HTTP clients over loopback, each answer timed. Each bench uses
//! part of it.

#![allow(dead_code)]

pub mod chat;

use std::sync::Arc;
use std::time::{Duration, Instant};

use qunbot::gateway::onebot::signature;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::ConnectOptions;

/// A setting from the environment, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Signs each event with `secret`, before the clock starts, so the clients only do HTTP.
pub fn sign(secret: &str, events: Vec<serde_json::Value>) -> Arc<Vec<(Vec<u8>, String)>> {
    Arc::new(
        events
            .into_iter()
            .map(|event| {
                let body = serde_json::to_vec(&event).expect("json");
                let sig = signature::sign(secret.as_bytes(), &body);
                (body, sig)
            })
            .collect(),
    )
}

/// What one load run saw: its duration and each answered request's latency, sorted.
pub struct Run {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub failures: usize,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "{:>7.0} events/s  p50 {:.2} ms  p99 {:.2} ms  p999 {:.2} ms  max {:.2} ms  answered 204: {}  failed: {}",
            self.rate(),
            percentile(&self.latencies, 0.50),
            percentile(&self.latencies, 0.99),
            percentile(&self.latencies, 0.999),
            percentile(&self.latencies, 1.0),
            self.latencies.len(),
            self.failures
        )
    }
}

/// Pushes every body to `url` from `clients` concurrent clients (client `c`
/// sends bodies c, c + clients, …); a 204 counts, anything else is a failure.
///
/// The clients run on a thread and runtime of their own, as `wrk -t1` would:
/// they compete with the daemon for the cores, not for its runtime's threads.
pub async fn push_all(
    url: &str,
    bodies: Arc<Vec<(Vec<u8>, String)>>,
    clients: usize,
) -> anyhow::Result<Run> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(push_from_one_thread(&url, bodies, clients))
    })
    .await?
}

async fn push_from_one_thread(
    url: &str,
    bodies: Arc<Vec<(Vec<u8>, String)>>,
    clients: usize,
) -> anyhow::Result<Run> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, url, bodies) = (http.clone(), url.to_string(), bodies.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            for (body, sig) in bodies.iter().skip(c).step_by(clients) {
                let t = Instant::now();
                let result = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-signature", sig)
                    .body(body.clone())
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status() == 204 => latencies.push(t.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        });
    }
    let mut run = Run {
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(bodies.len()),
        failures: 0,
    };
    while let Some(done) = tasks.join_next().await {
        let (l, f) = done?;
        run.latencies.extend(l);
        run.failures += f;
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    Ok(run)
}

/// The reference every bench measures beside itself: a bare sqlx insert loop
/// of `n` rows (400-byte detail, a unique index, like the event log), 512 rows
/// a transaction, `synchronous = FULL`, into a fresh file in `dir`. Rows/s.
pub async fn reference_inserts(dir: &std::path::Path, n: usize) -> anyhow::Result<f64> {
    let mut conn = reference_table(&dir.join("reference.db")).await?;
    let detail = "x".repeat(400);
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(512) {
        sqlx::query("BEGIN").execute(&mut conn).await?;
        for i in chunk {
            sqlx::query("INSERT INTO events (at, kind, account, dedup_key, detail) VALUES (?, 'message.group', '10001000', ?, ?)")
                .bind("2026-11-23T00:00:00.000Z")
                .bind(format!("msg:{i}"))
                .bind(&detail)
                .execute(&mut conn)
                .await?;
        }
        sqlx::query("COMMIT").execute(&mut conn).await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// A fresh file at `path` with a bare table like `events` (a unique index on
/// the dedup key), WAL and `synchronous = FULL` as the daemon runs SQLite.
pub async fn reference_table(path: &std::path::Path) -> anyhow::Result<sqlx::SqliteConnection> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, account TEXT, dedup_key TEXT, detail TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    sqlx::query("CREATE UNIQUE INDEX events_dedup ON events (account, dedup_key)")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// A daemon on the shipped config (every feature on) as `edit` changes it, with
/// `groups` managed, beside the shipped word list and coupon pools, on a fresh
/// database in `dir`; the simulator (token `bench-token`, `secret`) as its gateway.
pub async fn shipped_daemon(
    dir: &std::path::Path,
    secret: &str,
    edit: impl FnOnce(String) -> String,
    groups: impl IntoIterator<Item = i64>,
) -> anyhow::Result<(qunbot::simulator::Simulator, qunbot::startup::Daemon)> {
    let sim = qunbot::simulator::Simulator::start(
        ([127, 0, 0, 1], 0).into(),
        qunbot::simulator::SimulatorOptions::new("bench-token", secret),
    )
    .await?;
    let mut text = edit(qunbot::demo::SHIPPED_CONFIG.to_string());
    for (i, id) in groups.into_iter().enumerate() {
        text.push_str(&format!("\n[[groups]]\nid = {id}\nname = \"群{i}\"\n"));
    }
    std::fs::write(dir.join("bot-config.toml"), text)?;
    qunbot::demo::write_shipped_files(dir)?;
    let env = sim.daemon_env(&dir.join("bench.db"));
    let config = qunbot::config::Config::load(&dir.join("bot-config.toml"), &env)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let daemon = qunbot::startup::Daemon::start(config, env).await?;
    sim.set_webhook(format!("http://{}/onebot", daemon.addr()));
    Ok((sim, daemon))
}

/// Runs a bench's body on a multi-threaded runtime, as the daemon runs.
pub fn run_on_runtime(
    body: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(body)
}
