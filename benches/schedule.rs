//! The scheduler at scale: 10,000 cron announcements across 2,000 managed
//! groups (five a group, under the default daily cap of six), materialised at
//! one tick and fired through the engine into a real SQLite file, with the
//! daemon's own rules (stagger, daily cap, the per-group chat cap). Reports the
//! time to materialise them all, the time per fire, and the time until the
//! outbox holds every post; a bare sqlx insert loop into the same kind of file
//! runs in the same process as the reference.
//!
//! `cargo bench --bench schedule` (env: BENCH_GROUPS, default 2000;
//! BENCH_PER_GROUP, default 5)

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use qunbot::clock::ManualClock;
use qunbot::config::{Config, Env};
use qunbot::domain::{Event, EventBody, GroupMessage, Id, Message, Sender};
use qunbot::engine::{Effects, Engine, EventLog, Input, Recorded};
use qunbot::store::{ReadModel, Store};
use tokio::sync::{watch, Notify};

mod support;

use support::{env_usize, reference_inserts};

const ACCOUNT: i64 = 10001000;

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(run())
}

async fn run() -> anyhow::Result<()> {
    let groups = env_usize("BENCH_GROUPS", 2000);
    let per_group = env_usize("BENCH_PER_GROUP", 5);
    let schedules = groups * per_group;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "schedule benchmark: {schedules} cron announcements across {groups} groups, {cores} cores"
    );

    let dir = tempfile::tempdir()?;
    // 2026-11-25 09:00 in Shanghai; the announcements fire from 10:00 to 10:59.
    let t0 = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("a local time"))?
        .with_timezone(&Utc);
    let mut text = String::from("[gateway]\n[schedule]\nquiet_hours = \"\"\n");
    for g in 0..groups {
        text.push_str(&format!(
            "[[groups]]\nid = {}\nname = \"群{g}\"\n",
            900_000 + g
        ));
    }
    for i in 0..schedules {
        let g = i % groups;
        let minute = i % 60;
        let second = (i / 60) % 60;
        text.push_str(&format!(
            "[[announcements]]\nid = \"a{i}\"\ncron = \"{second} {minute} 10 * * *\"\ngroups = [{}]\ntext = \"今天的团购清单 {i}\"\n",
            900_000 + g
        ));
    }
    let started = Instant::now();
    let config = Config::parse(&dir.path().join("bot-config.toml"), &text, &Env::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "config parsed in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let clock = Arc::new(ManualClock::at(t0));
    let store = Store::open_with_clock(&dir.path().join("bench.db"), clock.clone()).await?;
    let (_config_tx, config_rx) = watch::channel(Arc::new(config));
    let mut engine = Engine::new(
        store.clone(),
        config_rx,
        clock.clone(),
        Arc::new(Notify::new()),
        qunbot::features::all(),
        Effects::default(),
    )
    .await?;

    // Each group has spoken once, so the bot knows the account that posts there.
    let hello: Vec<Event> = (0..groups)
        .map(|g| Event {
            account: Id::number(ACCOUNT),
            time: t0.timestamp(),
            body: EventBody::GroupMessage(GroupMessage {
                message_id: Id::number(g as i64 + 1),
                group: Id::number(900_000 + g as i64),
                user: Id::number(3_000_000 + g as i64),
                sender: Sender::default(),
                message: Message::text("大家好"),
                anonymous: false,
            }),
            heard_by: None,
        })
        .collect();
    let recorded = store.record_inbound(&hello).await?;
    let inputs: Vec<Input> = recorded
        .into_iter()
        .zip(hello)
        .filter_map(|(r, e)| match r {
            Recorded::New(id) => Some(Input::Event(id, e)),
            Recorded::Duplicate => None,
        })
        .collect();
    for chunk in inputs.chunks(512) {
        engine.decide(chunk).await?;
    }

    let started = Instant::now();
    engine.tick().await?;
    let planned = started.elapsed();
    println!(
        "materialised: {schedules} occurrences and timers in {:.0} ms ({:.1} µs each)",
        planned.as_secs_f64() * 1e3,
        planned.as_secs_f64() * 1e6 / schedules as f64
    );

    // The clock walks from 10:00 to 11:00 ten seconds at a time; at each step
    // the engine fires what is due, as its loop would.
    clock.advance(chrono::Duration::hours(1));
    let started = Instant::now();
    let mut fired = 0;
    for _ in 0..=360 {
        loop {
            let n = engine.fire_due_timers().await?;
            fired += n;
            if n == 0 {
                break;
            }
        }
        clock.advance(chrono::Duration::seconds(10));
    }
    let firing = started.elapsed();
    let outbox = store.outbox_counts().await?;
    let queued: i64 = outbox.iter().map(|c| c.n).sum();
    println!(
        "fired:       {fired} timers in {:.0} ms: {:.1} µs a fire, {:.0} fires/s; the outbox holds {queued} posts ({:?})",
        firing.as_secs_f64() * 1e3,
        firing.as_secs_f64() * 1e6 / fired.max(1) as f64,
        fired as f64 / firing.as_secs_f64(),
        outbox
    );
    let missed = store.events_of_kind("schedule.missed").await?.len();
    let sent = store.events_of_kind("schedule.sent").await?.len();
    println!("             schedule.sent rows: {sent}, schedule.missed rows: {missed}");
    anyhow::ensure!(
        queued as usize == schedules,
        "every announcement queued once"
    );

    let reference = reference_inserts(dir.path(), schedules).await?;
    println!("reference:   {reference:>7.0} rows/s  bare sqlx insert loop, 512 rows a transaction, synchronous=FULL");
    println!(
        "ratio:       fires/s ÷ reference rows/s = {:.2}",
        fired as f64 / firing.as_secs_f64() / reference
    );
    Ok(())
}
