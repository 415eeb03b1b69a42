//! Intake over the reverse WebSocket next to HTTP, on the same load, in one run.
//!
//! Each transport gets a fresh daemon on the shipped config (every feature on)
//! with 100 managed groups, and the same `BENCH_EVENTS` distinct group messages
//! from 50,000 members (one in 100 an ad the link rules catch):
//! - **HTTP**: signed pushes from `BENCH_CLIENTS` concurrent clients, each
//!   answered 204 once committed;
//! - **reverse WebSocket**: one socket, as a bridge has (its calls answered on
//!   the same socket): once with the frames sent as fast as the socket takes
//!   them (the ceiling; the latency is then the queue the sender built), and
//!   once paced at the rate the HTTP run reached (the latency at the same load).
//!
//! Both are timed from send to stored. A push is answered 204 only once
//! committed, so over HTTP that is the request latency. A WebSocket event has
//! no answer: every 100th event is a probe, and a watcher polls the store (a
//! unique-index lookup by the probe's key, every millisecond) for when it is
//! committed (events of one socket are committed in order). Reported per
//! transport: events/s until the last event is stored, and the send-to-stored
//! latency p50, p99 and max. The reference, in the same run: a bare sqlx insert loop, 512 rows a
//! transaction, `synchronous = FULL`.
//!
//! `cargo bench --bench ws_intake` (env: BENCH_EVENTS, default 50000;
//! BENCH_CLIENTS, default 32)

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use qunbot::simulator::events::{EventFactory, VirtualMember};
use qunbot::simulator::Simulator;
use qunbot::startup::Daemon;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{env_usize, percentile, push_all, reference_inserts, sign};

const SECRET: &str = "bench-secret";
const TOKEN: &str = "bench-token";
const GROUPS: i64 = 100;
const MEMBERS: usize = 50_000;
const PROBE_EVERY: usize = 100;
const HTTP_ACCOUNT: i64 = 10001000;
const WS_ACCOUNT: i64 = 10002000;

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(async {
        let events = env_usize("BENCH_EVENTS", 50_000);
        let clients = env_usize("BENCH_CLIENTS", 32);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "intake over HTTP and over the reverse WebSocket: {events} distinct events each, \
             {GROUPS} groups, {MEMBERS} members, {cores} cores (load generator on the same machine)"
        );
        let http = http_run(events, clients).await?;
        println!("http:      {http}");
        let ws = ws_run(events, None).await?;
        println!("ws:        {ws}  (sent as fast as the socket takes them)");
        let paced = ws_run(events, Some(http.rate)).await?;
        println!("ws paced:  {paced}  (sent at the HTTP run's rate)");
        let dir = tempfile::tempdir()?;
        let reference = reference_inserts(dir.path(), events).await?;
        println!("reference: {reference:>7.0} rows/s  bare sqlx insert loop, 512 rows a transaction, synchronous=FULL");
        println!(
            "ratio:     http ÷ reference = {:.2}, ws ÷ reference = {:.2}, ws ÷ http = {:.2}",
            http.rate / reference,
            ws.rate / reference,
            ws.rate / http.rate
        );
        Ok(())
    })
}

struct Outcome {
    rate: f64,
    /// Probes' send-to-stored latencies, sorted.
    stored: Vec<Duration>,
    /// HTTP only: the request line of the load generator.
    requests: Option<String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>7.0} events/s until the last is stored  stored p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms ({} probes)",
            self.rate,
            percentile(&self.stored, 0.50),
            percentile(&self.stored, 0.99),
            percentile(&self.stored, 1.0),
            self.stored.len()
        )?;
        if let Some(requests) = &self.requests {
            write!(f, "\n           requests: {requests}")?;
        }
        Ok(())
    }
}

/// A daemon on the shipped config with the groups `first..first + GROUPS`,
/// the HTTP account on the simulator and every other account on its socket.
async fn start(dir: &std::path::Path, first: i64) -> anyhow::Result<(Simulator, Daemon)> {
    // The simulator's account stays on HTTP; every other account dials in.
    let edit = |text: String| {
        let mut text = text.replacen("[gateway]\n", "[gateway]\ntransport = \"ws-reverse\"\n", 1);
        text.push_str(&format!(
            "\n[[gateway.accounts]]\nself_id = {HTTP_ACCOUNT}\napi_url = \"${{QUNBOT_GATEWAY_API_URL}}\"\n\
             access_token = \"${{QUNBOT_ACCESS_TOKEN}}\"\n"
        ));
        text
    };
    support::shipped_daemon(dir, SECRET, edit, first..first + GROUPS).await
}

/// The load: distinct messages from members scattered over the groups.
fn load(account: i64, first_group: i64, events: usize) -> Vec<Value> {
    let mut factory = EventFactory::new(account);
    let members: Vec<VirtualMember> = (0..MEMBERS)
        .map(|i| VirtualMember::new(3_000_000 + i as i64, &format!("会员{i}"), "member"))
        .collect();
    (0..events)
        .map(|i| {
            let m = (i * 7919) % MEMBERS;
            let group = json!(first_group + (m as i64 % GROUPS));
            let text = if i % 100 == 0 {
                format!("好物推荐 shop{i}.top 下单立减")
            } else {
                format!("今天的秒杀什么时候开始？第{i}条 [CQ:face,id=178]")
            };
            factory.group_message(&group, &members[m], json!(text))
        })
        .collect()
}

/// Watches the store for each probe (every [`PROBE_EVERY`]th event, by its
/// key), in order, polling every millisecond; `sent` gives each probe's send
/// time as the sender records it. Returns the latencies and when the last
/// event was stored.
async fn watch_probes(
    database: std::path::PathBuf,
    account: i64,
    events: &[Value],
    sent: Arc<std::sync::Mutex<Vec<Option<Instant>>>>,
) -> anyhow::Result<(Vec<Duration>, Instant)> {
    let mut conn = SqliteConnectOptions::new()
        .filename(&database)
        .read_only(true)
        .connect()
        .await?;
    let probes: Vec<usize> = (0..events.len())
        .filter(|i| i % PROBE_EVERY == PROBE_EVERY - 1 || *i == events.len() - 1)
        .collect();
    let mut latencies = Vec::new();
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(600);
    for i in probes {
        let key = format!("msg:{}", events[i]["message_id"]);
        loop {
            anyhow::ensure!(Instant::now() < deadline, "not stored in 10 minutes");
            let found: Option<i64> =
                sqlx::query_scalar("SELECT id FROM events WHERE account = ? AND dedup_key = ?")
                    .bind(account.to_string())
                    .bind(&key)
                    .fetch_optional(&mut conn)
                    .await?;
            if found.is_some() {
                let now = Instant::now();
                let sent_at = sent.lock().unwrap()[i];
                if let Some(t) = sent_at {
                    latencies.push(now - t);
                }
                last = now;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    latencies.sort();
    Ok((latencies, last))
}

async fn http_run(events: usize, clients: usize) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let (sim, daemon) = start(dir.path(), 800_000).await?;
    let signed = sign(SECRET, load(HTTP_ACCOUNT, 800_000, events));
    let url = format!("http://{}/onebot", daemon.addr());
    // A push is answered 204 only once committed: the request latency is the
    // send-to-stored latency, and the last answer is the last event stored.
    let run = push_all(&url, signed, clients).await?;
    daemon.stop().await;
    sim.stop().await;
    anyhow::ensure!(run.failures == 0, "{} pushes failed", run.failures);
    Ok(Outcome {
        rate: run.rate(),
        stored: run.latencies.clone(),
        requests: Some(run.line()),
    })
}

/// Over one socket: as fast as it takes frames, or at `rate` events/s.
async fn ws_run(events: usize, rate: Option<f64>) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let (sim, daemon) = start(dir.path(), 900_000).await?;
    let bodies = load(WS_ACCOUNT, 900_000, events);
    let frames: Vec<String> = bodies.iter().map(Value::to_string).collect();
    let url = format!("ws://{}/onebot/ws", daemon.addr());
    let socket = qunbot::simulator::ws::dial(
        &url,
        Some(&WS_ACCOUNT.to_string()),
        Some(TOKEN),
        "Universal",
    )
    .await?;
    let (mut sink, mut stream) = socket.split();
    // The bridge's side of the calls (the account sync): answered at once.
    let (answers_tx, mut answers) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            let Ok(call) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let data = match call["action"].as_str() {
                Some("get_login_info") => json!({"user_id": WS_ACCOUNT, "nickname": "bench"}),
                Some("get_group_list") => json!((0..GROUPS)
                    .map(|g| json!({"group_id": 900_000 + g, "group_name": format!("群{g}")}))
                    .collect::<Vec<_>>()),
                Some("send_group_msg") => json!({"message_id": 1}),
                _ => Value::Null,
            };
            let answer = json!({"status": "ok", "retcode": 0, "data": data, "echo": call["echo"]});
            if answers_tx.send(answer.to_string()).is_err() {
                break;
            }
        }
    });
    let sent = Arc::new(std::sync::Mutex::new(vec![None; events]));
    let watcher = tokio::spawn({
        let (database, bodies, sent) = (dir.path().join("bench.db"), bodies.clone(), sent.clone());
        async move { watch_probes(database, WS_ACCOUNT, &bodies, sent).await }
    });
    let started = Instant::now();
    for (i, frame) in frames.into_iter().enumerate() {
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        while let Ok(answer) = answers.try_recv() {
            sink.send(Message::text(answer)).await?;
        }
        sink.send(Message::text(frame)).await?;
        if i % PROBE_EVERY == PROBE_EVERY - 1 || i == events - 1 {
            sent.lock().unwrap()[i] = Some(Instant::now());
        }
    }
    let (stored, last) = watcher.await??;
    let rate = events as f64 / (last - started).as_secs_f64();
    let _ = sink.close().await;
    reader.abort();
    daemon.stop().await;
    sim.stop().await;
    Ok(Outcome {
        rate,
        stored,
        requests: None,
    })
}
