//! `qunbot demo`: the simulator and the daemon on free loopback ports, the shipped
//! `bot-config.toml`, a fresh SQLite file, and a scripted stretch of group life.
//! Prints the chat as a transcript and a summary read back from the database.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::config::Config;
use crate::gateway::onebot::signature;
use crate::simulator::events::{id_text, EventFactory, VirtualMember};
use crate::simulator::{Simulator, SimulatorOptions};
use crate::startup::Daemon;

/// The configuration the demo runs on: the one shipped beside the binary's source.
pub const SHIPPED_CONFIG: &str = include_str!("../bot-config.toml");
/// The word list shipped with it.
pub const SHIPPED_WORDS: &str = include_str!("../sensitive-words.txt");

/// How long the demo waits for the outbox to drain before it gives up.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// What the demo saw, for callers that check it (the tests do).
#[derive(Debug)]
pub struct DemoReport {
    pub transcript: Vec<String>,
    pub event_counts: Vec<(String, i64)>,
    pub outbox_counts: Vec<(String, i64)>,
    /// `pong` messages the simulator received.
    pub pongs: usize,
}

/// A line of narration placed in the timeline after simulator entry `after`.
struct Note {
    after: u64,
    text: String,
}

struct Stage {
    sim: Simulator,
    secret: String,
    /// Display names of the virtual members, by id.
    names: Vec<(String, String)>,
    daemon: Daemon,
    notes: Vec<Note>,
}

impl Stage {
    fn say(&mut self, text: &str) {
        let after = self.sim.calls().len() as u64 + self.sim.pushed().len() as u64;
        self.notes.push(Note {
            after,
            text: text.to_string(),
        });
    }

    async fn push(&self, event: &Value) -> anyhow::Result<u16> {
        self.sim
            .push(event)
            .await
            .context("pushing an event to the daemon")
    }

    async fn wait_for_pongs(&self, n: usize) {
        self.sim
            .wait_for("send_group_msg", n, Duration::from_secs(10))
            .await;
    }
}

/// Runs the demo, writing the transcript and summary to `out`.
pub async fn run(out: &mut impl Write) -> anyhow::Result<DemoReport> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let config_path = dir.path().join("bot-config.toml");
    std::fs::write(&config_path, SHIPPED_CONFIG)?;
    std::fs::write(dir.path().join("sensitive-words.txt"), SHIPPED_WORDS)?;

    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sim = Simulator::start(
        loopback,
        SimulatorOptions::new("demo-access-token", "demo-secret"),
    )
    .await
    .context("starting the gateway simulator")?;
    let env = sim.daemon_env(&dir.path().join("qunbot.db"));
    let mut config = Config::load(&config_path, &env).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The shipped pacing is minutes of waiting for a scripted minute; speed it up.
    config.outbox.group_interval = Duration::from_millis(300);
    config.outbox.account_interval = Duration::from_millis(100);
    config.outbox.retry_initial = Duration::from_millis(300);
    config.outbox.retry_max = Duration::from_secs(1);
    let groups: Vec<(String, String)> = config
        .groups
        .iter()
        .map(|g| (g.id.to_string(), g.name.clone()))
        .collect();

    let daemon = Daemon::start(config, env)
        .await
        .context("starting the daemon")?;
    sim.set_webhook(format!("http://{}/onebot", daemon.addr()));
    let mut stage = Stage {
        sim,
        secret: "demo-secret".to_string(),
        names: Vec::new(),
        daemon,
        notes: Vec::new(),
    };
    play(&mut stage).await?;
    drain(&stage.daemon).await?;

    let report = summarise(&stage, &groups).await?;
    for line in &report.transcript {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "── summary, read back from {} ──",
        Path::new("qunbot.db").display()
    )?;
    writeln!(out, "events logged, by kind:")?;
    for (kind, n) in &report.event_counts {
        writeln!(out, "  {n:>4}  {kind}")?;
    }
    writeln!(out, "outbox:")?;
    for (state, n) in &report.outbox_counts {
        writeln!(out, "  {n:>4}  {state}")?;
    }
    writeln!(out, "members present, by group:")?;
    for (group, n) in stage.daemon.store().member_counts().await? {
        writeln!(out, "  {n:>4}  {}", name_of(&groups, &group))?;
    }
    stage.daemon.stop().await;
    stage.sim.stop().await;
    Ok(report)
}

async fn play(stage: &mut Stage) -> anyhow::Result<()> {
    let mut f = EventFactory::new(10001000);
    let shop = json!(123456);
    let snacks = json!("35214638@chatroom");
    let owner = VirtualMember::new(10001, "王姐", "owner");
    let hong = VirtualMember::new(10002, "小红", "member");
    let ming = VirtualMember::new(10003, "小明", "member");
    let ahua = VirtualMember::new("wxid_ahua2024", "阿花", "member");
    for m in [&owner, &hong, &ming, &ahua] {
        stage.names.push((id_text(&m.id), m.nickname.clone()));
    }

    stage.say("── the gateway connects ──");
    stage.push(&f.lifecycle("connect")).await?;
    stage.push(&f.joined(&shop, &hong, None)).await?;
    stage.push(&f.joined(&shop, &ming, Some(&owner))).await?;
    stage
        .push(&f.group_message(&shop, &hong, json!("大家好，我是新来的！[CQ:face,id=178]")))
        .await?;
    stage
        .push(&f.group_message(
            &shop,
            &ming,
            json!([{"type": "text", "data": {"text": "今天有什么优惠？"}}]),
        ))
        .await?;

    stage.say("── /ping travels webhook → SQLite → engine → outbox → gateway ──");
    let ping = f.group_message(&shop, &ming, json!("/ping"));
    stage.push(&ping).await?;
    stage.wait_for_pongs(1).await;

    stage.say("── the gateway redelivers the same event: logged once, answered once ──");
    stage.push(&ping).await?;

    stage
        .say("── someone forges a push, and a broken one arrives: both refused, neither logged ──");
    let forged = serde_json::to_vec(&f.group_message(&shop, &owner, json!("/ping")))?;
    stage
        .sim
        .push_raw(
            forged,
            Some("sha1=0000000000000000000000000000000000000000".into()),
        )
        .await?;
    let broken = b"{\"post_type\": ".to_vec();
    let signed = signature::sign(stage.secret.as_bytes(), &broken);
    stage.sim.push_raw(broken, Some(signed)).await?;

    stage.say("── a WeChat group: string ids go in and come back out as strings ──");
    stage
        .push(&f.group_message(&snacks, &ahua, json!("/ping")))
        .await?;
    stage.wait_for_pongs(2).await;

    stage.say("── the gateway goes down (503) for two seconds: the outbox retries ──");
    stage.sim.fail_with(Some(503));
    stage
        .push(&f.group_message(&shop, &hong, json!("/ping")))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stage.sim.fail_with(None);
    stage.wait_for_pongs(3).await;

    stage.say("── events qunbot does not act on are still logged ──");
    stage
        .push(&f.file_uploaded(&shop, &owner, "本周团购清单.xlsx"))
        .await?;
    stage.push(&f.left(&shop, &ming)).await?;
    stage.push(&f.heartbeat()).await?;
    Ok(())
}

async fn drain(daemon: &Daemon) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    loop {
        let counts = daemon.store().outbox_counts().await?;
        let pending = counts.iter().any(|(state, n)| state == "pending" && *n > 0);
        if !pending {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("the outbox did not drain within {DRAIN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The name listed for `id` in `(id, name)` pairs, else the id itself.
fn name_of(names: &[(String, String)], id: &str) -> String {
    names
        .iter()
        .find(|(g, _)| g == id)
        .map_or_else(|| id.to_string(), |(_, name)| name.clone())
}

async fn summarise(stage: &Stage, groups: &[(String, String)]) -> anyhow::Result<DemoReport> {
    let calls = stage.sim.calls();
    let pushed = stage.sim.pushed();
    let mut timeline: Vec<((u64, u8), String)> = Vec::new();
    for p in &pushed {
        timeline.push((
            (p.seq, 0),
            describe_push(groups, &stage.names, &p.body, p.status, &p.answer),
        ));
    }
    for c in &calls {
        timeline.push((
            (c.seq, 0),
            describe_call(groups, &c.action, &c.params, c.status),
        ));
    }
    for n in &stage.notes {
        timeline.push(((n.after, 1), n.text.clone()));
    }
    timeline.sort_by_key(|(k, _)| *k);

    let pongs = stage
        .sim
        .performed("send_group_msg")
        .iter()
        .filter(|c| render_message(&c.params["message"]).contains("pong"))
        .count();
    Ok(DemoReport {
        transcript: timeline.into_iter().map(|(_, line)| line).collect(),
        event_counts: stage.daemon.store().event_counts().await?,
        outbox_counts: stage.daemon.store().outbox_counts().await?,
        pongs,
    })
}

fn describe_push(
    groups: &[(String, String)],
    names: &[(String, String)],
    body: &Value,
    status: u16,
    answer: &str,
) -> String {
    let group = body.get("group_id").map(|g| name_of(groups, &id_text(g)));
    let where_ = group.map(|g| format!("[{g}] ")).unwrap_or_default();
    let who = body["sender"]["nickname"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body.get("user_id").map(|id| name_of(names, &id_text(id))))
        .unwrap_or_default();
    let what = match (body["post_type"].as_str(), body["notice_type"].as_str()) {
        (Some("message"), _) => format!("{who}: {}", render_message(&body["message"])),
        (Some("notice"), Some("group_increase")) => format!("➕ {who} joined"),
        (Some("notice"), Some("group_decrease")) => format!("➖ {who} left"),
        (Some("notice"), Some("group_upload")) => format!(
            "📎 {who} uploaded {}",
            body["file"]["name"].as_str().unwrap_or("a file")
        ),
        (Some("notice"), Some(other)) => format!("(notice {other})"),
        (Some("meta_event"), _) => format!(
            "(gateway {})",
            body["meta_event_type"].as_str().unwrap_or("meta event")
        ),
        (Some(other), _) => format!("({other})"),
        (None, _) => "(a body that is not an event)".to_string(),
    };
    let verdict = match status {
        204 => String::new(),
        _ => format!("   ⟵ daemon answered {status}: {}", answer.trim()),
    };
    format!("{where_}{what}{verdict}")
}

fn describe_call(groups: &[(String, String)], action: &str, params: &Value, status: u16) -> String {
    let group = params.get("group_id").map(|g| name_of(groups, &id_text(g)));
    let where_ = group.map(|g| format!("[{g}] ")).unwrap_or_default();
    match (action, status) {
        ("send_group_msg", 200) => {
            format!("{where_}🤖 qunbot: {}", render_message(&params["message"]))
        }
        (_, 200) => format!("{where_}🤖 qunbot calls {action}"),
        (_, status) => {
            format!("{where_}   ⚠ {action} answered HTTP {status}: the outbox will retry")
        }
    }
}

/// A message value (CQ string or segment array) as a person would read it.
fn render_message(message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        Value::Array(segments) => segments
            .iter()
            .map(|s| {
                let data = &s["data"];
                match s["type"].as_str() {
                    Some("text") => data["text"].as_str().unwrap_or_default().to_string(),
                    Some("at") => format!("@{}", data["qq"].as_str().unwrap_or_default()),
                    Some("reply") => "↩ ".to_string(),
                    Some("face") => "🙂".to_string(),
                    Some(other) => format!("[{other}]"),
                    None => String::new(),
                }
            })
            .collect(),
        _ => String::new(),
    }
}
