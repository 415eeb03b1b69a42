//! Webhook throughput: signed events pushed over loopback HTTP by concurrent
//! clients into the real daemon (signature check, parse, group commit into SQLite,
//! engine), with per-request latency. Every answered event is then counted in the
//! database. Two references run in the same process on the same kind of file: a
//! bare sqlx insert loop with one transaction per row (what a naive durable
//! webhook does) and one with a single transaction for all rows (SQLite's ceiling
//! through sqlx).
//!
//! `cargo bench --bench webhook` (env: BENCH_EVENTS, default 60000; BENCH_CLIENTS, default 64)

use std::time::Instant;

use qunbot::config::Config;
use qunbot::simulator::events::{EventFactory, VirtualMember};
use qunbot::simulator::{Simulator, SimulatorOptions};
use qunbot::startup::Daemon;
use qunbot::store::ReadModel;
use serde_json::json;

mod support;

use support::{env_usize, percentile, push_all, reference_table, sign};

const SECRET: &str = "bench-secret";

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(bench())
}

async fn bench() -> anyhow::Result<()> {
    let events = env_usize("BENCH_EVENTS", 60_000);
    let clients = env_usize("BENCH_CLIENTS", 64);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("webhook benchmark: {events} events, {clients} concurrent clients, {cores} cores (load generator on the same machine)");

    let dir = tempfile::tempdir()?;
    let sim = Simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimulatorOptions::new("bench-token", SECRET),
    )
    .await?;
    let config_path = dir.path().join("bot-config.toml");
    std::fs::write(
        &config_path,
        "[gateway]\nsecret = \"${QUNBOT_SECRET}\"\n[[groups]]\nid = 123456\n",
    )?;
    let env = sim.daemon_env(&dir.path().join("bench.db"));
    let config = Config::load(&config_path, &env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let daemon = Daemon::start(config, env).await?;
    let url = format!("http://{}/onebot", daemon.addr());

    // Bodies are built and signed up front, so the clients only do HTTP.
    let mut factory = EventFactory::new(10001000);
    let group = json!(123456);
    let members: Vec<VirtualMember> = (0..500)
        .map(|i| VirtualMember::new(30000 + i, &format!("会员{i}"), "member"))
        .collect();
    let bodies = sign(
        SECRET,
        (0..events)
            .map(|i| {
                let text = format!("今天的秒杀什么时候开始？第{i}条 [CQ:face,id=178]");
                factory.group_message(&group, &members[i % members.len()], json!(text))
            })
            .collect(),
    );
    let run = push_all(&url, bodies.clone(), clients).await?;
    let (latencies, failures, rate) = (&run.latencies, run.failures, run.rate());

    let logged: i64 = daemon
        .store()
        .event_counts()
        .await?
        .iter()
        .filter(|c| c.name == "message.group")
        .map(|c| c.n)
        .sum();
    daemon.stop().await;
    sim.stop().await;

    println!(
        "daemon:    {rate:>9.0} events/s   p50 {:>7.2} ms   p99 {:>7.2} ms   answered 204: {}   failed: {failures}   durable in SQLite: {logged}",
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        latencies.len(),
    );
    if logged as usize != latencies.len() {
        anyhow::bail!(
            "{} events answered 204 but {logged} logged",
            latencies.len()
        );
    }

    let per_row = reference_inserts(dir.path(), &bodies, events.min(5_000), false).await?;
    let one_txn = reference_inserts(dir.path(), &bodies, events, true).await?;
    println!("reference: {per_row:>9.0} rows/s     bare sqlx insert loop, one transaction per row (synchronous=FULL)");
    println!(
        "reference: {one_txn:>9.0} rows/s     bare sqlx insert loop, one transaction for all rows"
    );
    println!(
        "ratio:     daemon ÷ per-row reference = {:.1}×;  daemon ÷ single-transaction reference = {:.2}",
        rate / per_row,
        rate / one_txn
    );
    Ok(())
}

/// Inserts the same bodies into a bare table like `events`, returning rows/s.
async fn reference_inserts(
    dir: &std::path::Path,
    bodies: &[(Vec<u8>, String)],
    n: usize,
    one_transaction: bool,
) -> anyhow::Result<f64> {
    let path = dir.join(if one_transaction {
        "ref-batch.db"
    } else {
        "ref-row.db"
    });
    let mut conn = reference_table(&path).await?;
    let started = Instant::now();
    if one_transaction {
        sqlx::query("BEGIN").execute(&mut conn).await?;
    }
    for (i, (body, _)) in bodies.iter().take(n).enumerate() {
        sqlx::query("INSERT INTO events (at, kind, account, dedup_key, detail) VALUES (?, 'message.group', '10001000', ?, ?)")
            .bind("2026-11-23T00:00:00.000Z")
            .bind(format!("msg:{i}"))
            .bind(String::from_utf8_lossy(body).into_owned())
            .execute(&mut conn)
            .await?;
    }
    if one_transaction {
        sqlx::query("COMMIT").execute(&mut conn).await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
