//! Sustained intake: what users live with, not a short burst. Distinct signed
//! group messages (no redeliveries, which are answered without a write) from
//! 50,000 members who each speak rarely, in 100 managed groups, on the shipped
//! config with every feature on, pushed by concurrent clients over loopback until
//! the database holds more than 200,000 events. Reports events/s, p50, p99,
//! p999 and max, the database's size, and the time until the engine has handled
//! everything; a bare sqlx insert loop into the same kind of file runs in the
//! same process as the reference.
//!
//! Then a raid: 300 members flooding one group as fast as the clients can send.
//! Reports the same latencies and what the raid left queued for that group.
//!
//! `cargo bench --bench sustained` (env: BENCH_EVENTS, default 250000;
//! BENCH_CLIENTS, default 32; BENCH_RAID_EVENTS, default 30000)

use std::time::{Duration, Instant};

use qunbot::simulator::events::{EventFactory, VirtualMember};
use qunbot::simulator::Simulator;
use qunbot::startup::Daemon;
use qunbot::store::ReadModel;
use serde_json::json;

mod support;

use support::{env_usize, push_all, reference_inserts, sign};

const SECRET: &str = "bench-secret";
const GROUPS: i64 = 100;
const MEMBERS: usize = 50_000;

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(async {
        let events = env_usize("BENCH_EVENTS", 250_000);
        let clients = env_usize("BENCH_CLIENTS", 32);
        let raid = env_usize("BENCH_RAID_EVENTS", 30_000);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("sustained benchmark: {events} distinct events, {clients} clients, {GROUPS} groups, {MEMBERS} members, {cores} cores (load generator on the same machine)");
        sustained(events, clients).await?;
        raid_run(raid, clients).await
    })
}

/// The shipped config (every feature on) with 100 managed groups, beside the
/// shipped word list and coupon pool, on a fresh database.
async fn start(dir: &std::path::Path) -> anyhow::Result<(Simulator, Daemon)> {
    support::shipped_daemon(dir, SECRET, |text| text, 800_000..800_000 + GROUPS).await
}

/// Waits (bounded) until the engine has handled every stored event.
async fn handled(daemon: &Daemon) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while daemon.store().unhandled_count().await? > 0 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not handled in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

async fn sustained(events: usize, clients: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sim, daemon) = start(dir.path()).await?;
    let url = format!("http://{}/onebot", daemon.addr());
    let mut factory = EventFactory::new(10001000);
    let members: Vec<VirtualMember> = (0..MEMBERS)
        .map(|i| VirtualMember::new(3_000_000 + i as i64, &format!("会员{i}"), "member"))
        .collect();
    let bodies = sign(
        SECRET,
        (0..events)
            .map(|i| {
                // Members take turns in a scattered order, each in their own group.
                let m = (i * 7919) % MEMBERS;
                let group = json!(800_000 + (m as i64 % GROUPS));
                let text = if i % 100 == 0 {
                    format!("好物推荐 shop{i}.top 下单立减")
                } else {
                    format!("今天的秒杀什么时候开始？第{i}条 [CQ:face,id=178]")
                };
                factory.group_message(&group, &members[m], json!(text))
            })
            .collect(),
    );
    let run = push_all(&url, bodies, clients).await?;
    let drain = handled(&daemon).await?;
    let stored: i64 = daemon
        .store()
        .event_counts()
        .await?
        .iter()
        .map(|c| c.n)
        .sum();
    let size = std::fs::metadata(dir.path().join("bench.db"))?.len()
        + std::fs::metadata(dir.path().join("bench.db-wal")).map_or(0, |m| m.len());
    println!("sustained: {}", run.line());
    println!(
        "           {stored} events in the log (member messages and the bot's outcomes), database {:.0} MiB, every event handled {:.1} s after the last answer",
        size as f64 / (1 << 20) as f64,
        drain.as_secs_f64()
    );
    daemon.stop().await;
    sim.stop().await;
    anyhow::ensure!(run.failures == 0, "{} pushes failed", run.failures);

    let reference = reference_inserts(dir.path(), events.min(50_000)).await?;
    println!("reference: {reference:>7.0} rows/s  bare sqlx insert loop, one transaction per 512 rows (the journal's batch), synchronous=FULL");
    println!(
        "ratio:     daemon ÷ reference = {:.2}",
        run.rate() / reference
    );
    Ok(())
}

async fn raid_run(events: usize, clients: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sim, daemon) = start(dir.path()).await?;
    let url = format!("http://{}/onebot", daemon.addr());
    let mut factory = EventFactory::new(10001000);
    let raiders: Vec<VirtualMember> = (0..300)
        .map(|i| VirtualMember::new(9_000_000 + i, &format!("水军{i}"), "member"))
        .collect();
    let group = json!(800_000);
    let bodies = sign(
        SECRET,
        (0..events)
            .map(|i| {
                factory.group_message(
                    &group,
                    &raiders[i % raiders.len()],
                    json!(format!("刷屏 {i}")),
                )
            })
            .collect(),
    );
    let run = push_all(&url, bodies, clients).await?;
    let drain = handled(&daemon).await?;
    let counts = daemon.store().outbox_counts().await?;
    let chat = daemon.store().events_of_kind("chat.dropped").await?;
    let dropped: i64 = chat
        .iter()
        .filter_map(|e| e.detail["dropped"].as_i64())
        .sum();
    println!("raid:      {}", run.line());
    println!(
        "           300 members in one group; handled {:.1} s after the last answer; outbox {:?}; bot chat messages dropped over the cap: {dropped}",
        drain.as_secs_f64(),
        counts.iter().map(|c| (c.name.as_str(), c.n)).collect::<Vec<_>>()
    );
    daemon.stop().await;
    sim.stop().await;
    Ok(())
}
