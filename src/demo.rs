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
use crate::domain::Id;
use crate::gateway::onebot::signature;
use crate::simulator::events::{id_text, EventFactory, VirtualMember};
use crate::simulator::{Simulator, SimulatorOptions};
use crate::startup::Daemon;

/// The configuration the demo runs on: the one shipped beside the binary's source.
pub const SHIPPED_CONFIG: &str = include_str!("../bot-config.toml");
/// The word list shipped with it.
pub const SHIPPED_WORDS: &str = include_str!("../sensitive-words.txt");
/// The coupon pool it names.
pub const SHIPPED_COUPONS: &str = include_str!("../coupons-newcomer.txt");

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
    /// Points per member: (group, member, balance).
    pub ledger: Vec<(String, String, i64)>,
    /// Coupons handed out: (pool, code, user).
    pub coupons: Vec<(String, String, String)>,
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

    async fn wait_for(&self, action: &str, n: usize) {
        self.sim.wait_for(action, n, Duration::from_secs(10)).await;
    }

    async fn wait_for_pongs(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while pongs(&self.sim) < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runs the demo, writing the transcript and summary to `out`.
pub async fn run(out: &mut impl Write) -> anyhow::Result<DemoReport> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let config_path = dir.path().join("bot-config.toml");
    std::fs::write(&config_path, SHIPPED_CONFIG)?;
    std::fs::write(dir.path().join("sensitive-words.txt"), SHIPPED_WORDS)?;
    std::fs::write(dir.path().join("coupons-newcomer.txt"), SHIPPED_COUPONS)?;

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
    config.welcome.batch_window = Duration::from_secs(1);
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
    writeln!(out, "points ledger, by member:")?;
    for (group, member, balance) in &report.ledger {
        writeln!(out, "  {balance:>4}  {member} ({group})")?;
    }
    writeln!(out, "coupons handed out:")?;
    for (pool, code, user) in &report.coupons {
        writeln!(
            out,
            "        {code} ({pool}) → {}",
            name_of(&stage.names, user)
        )?;
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
    let mei = VirtualMember::new(10004, "小美", "member");
    let spam = VirtualMember::new(10666, "广告号", "member");
    let ahua = VirtualMember::new("wxid_ahua2024", "阿花", "member");
    for m in [&owner, &hong, &ming, &mei, &spam, &ahua] {
        stage.names.push((id_text(&m.id), m.nickname.clone()));
    }

    stage.say("── the gateway connects ──");
    stage.push(&f.lifecycle("connect")).await?;

    stage.say("── join requests are decided by their answer ──");
    stage
        .push(&f.join_request(&shop, &mei, "我是宝妈，想进群", "request-10004"))
        .await?;
    stage
        .push(&f.join_request(&shop, &spam, "加我看高收益项目", "request-10666"))
        .await?;
    stage.wait_for("set_group_add_request", 2).await;

    stage.say("── a wave of newcomers gets one welcome ──");
    stage.push(&f.joined(&shop, &hong, None)).await?;
    stage.push(&f.joined(&shop, &ming, Some(&owner))).await?;
    stage.push(&f.joined(&shop, &mei, None)).await?;
    stage.wait_for("send_group_msg", 1).await;

    stage.say("── new-member tasks, points and coupons ──");
    stage
        .push(&f.group_message(&shop, &hong, json!("大家好！群规已读[CQ:face,id=178]")))
        .await?;
    stage.wait_for("send_group_msg", 2).await;
    stage
        .push(&f.group_message(&shop, &hong, json!("/签到")))
        .await?;
    stage.wait_for("send_group_msg", 4).await;
    // Members' commands have a cooldown; wait it out to show the daily limit.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    stage
        .push(&f.group_message(&shop, &hong, json!("/签到")))
        .await?;
    stage
        .push(&f.group_message(
            &shop,
            &ming,
            json!([{"type": "text", "data": {"text": "/排行"}}]),
        ))
        .await?;
    stage.wait_for("send_group_msg", 6).await;

    stage.say("── an admin mutes a member; a member may not kick ──");
    let mute = json!([
        {"type": "text", "data": {"text": "/禁言 "}},
        {"type": "at", "data": {"qq": "10003"}},
        {"type": "text", "data": {"text": " 10m"}}
    ]);
    stage.push(&f.group_message(&shop, &owner, mute)).await?;
    let kick = json!([{"type": "text", "data": {"text": "/kick "}}, {"type": "at", "data": {"qq": "10001"}}]);
    stage.push(&f.group_message(&shop, &mei, kick)).await?;
    stage.wait_for("send_group_msg", 8).await;

    stage
        .say("── the word filter: an ad is recalled and its sender warned; harmless words pass ──");
    stage
        .push(&f.group_message(&shop, &mei, json!("想赚零花钱的加 群，兼职日结")))
        .await?;
    stage.wait_for("delete_msg", 1).await;
    stage
        .push(&f.group_message(&shop, &hong, json!("今年出口交易额涨了，路口交通也顺了")))
        .await?;

    stage.say("── a picture with a QR code: read off the engine, recalled like a link ──");
    let qr = stage
        .sim
        .host_qr_code("group-qr.png", "https://weixin.qq.com/g/AbCdEf");
    let picture = json!([{"type": "image", "data": {"file": "group-qr.png", "url": qr}}]);
    stage.push(&f.group_message(&shop, &mei, picture)).await?;
    stage.wait_for("delete_msg", 2).await;

    stage.say("── /ping travels webhook → SQLite → engine → outbox → gateway ──");
    let ping = f.group_message(&shop, &owner, json!("/ping"));
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
        .push(&f.group_message(&shop, &owner, json!("/ping")))
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

/// `pong` replies the simulator carried out.
fn pongs(sim: &Simulator) -> usize {
    sim.performed("send_group_msg")
        .iter()
        .filter(|c| render_message(&[], &c.params["message"]).ends_with("pong"))
        .count()
}

async fn summarise(stage: &Stage, groups: &[(String, String)]) -> anyhow::Result<DemoReport> {
    let names = &stage.names;
    let mut timeline: Vec<((u64, u8), String)> = Vec::new();
    for p in &stage.sim.pushed() {
        timeline.push((
            (p.seq, 0),
            describe_push(groups, names, &p.body, p.status, &p.answer),
        ));
    }
    for c in &stage.sim.calls() {
        timeline.push((
            (c.seq, 0),
            describe_call(groups, names, &c.action, &c.params, c.status),
        ));
    }
    for n in &stage.notes {
        timeline.push(((n.after, 1), n.text.clone()));
    }
    timeline.sort_by_key(|(k, _)| *k);

    let store = stage.daemon.store();
    let mut ledger = Vec::new();
    for (id, _) in groups {
        let group = Id::text(id.clone());
        for (user, name, balance) in store.balances(&Id::number(10001000), &group).await? {
            ledger.push((name_of(groups, id), name.unwrap_or(user), balance));
        }
    }
    Ok(DemoReport {
        transcript: timeline.into_iter().map(|(_, line)| line).collect(),
        event_counts: store.event_counts().await?,
        outbox_counts: store.outbox_counts().await?,
        pongs: pongs(&stage.sim),
        ledger,
        coupons: store.coupon_claims().await?,
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
    let who = body
        .get("user_id")
        .map(|id| name_of(names, &id_text(id)))
        .unwrap_or_default();
    let what = match (body["post_type"].as_str(), body["notice_type"].as_str()) {
        (Some("message"), _) => format!("{who}: {}", render_message(names, &body["message"])),
        (Some("request"), _) => format!(
            "📝 {who} asks to join: 「{}」",
            body["comment"].as_str().unwrap_or_default()
        ),
        (Some("notice"), Some("group_increase")) => format!("➕ {who} joined"),
        (Some("notice"), Some("group_decrease")) => format!("➖ {who} left"),
        (Some("notice"), Some("group_upload")) => {
            format!(
                "📎 {who} uploaded {}",
                body["file"]["name"].as_str().unwrap_or("a file")
            )
        }
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

fn describe_call(
    groups: &[(String, String)],
    names: &[(String, String)],
    action: &str,
    params: &Value,
    status: u16,
) -> String {
    let group = params.get("group_id").map(|g| name_of(groups, &id_text(g)));
    let where_ = group.map(|g| format!("[{g}] ")).unwrap_or_default();
    let user = params
        .get("user_id")
        .map(|u| name_of(names, &id_text(u)))
        .unwrap_or_default();
    if status != 200 {
        return format!("{where_}   ⚠ {action} answered HTTP {status}: the outbox will retry");
    }
    match action {
        "send_group_msg" => format!(
            "{where_}🤖 qunbot: {}",
            render_message(names, &params["message"])
        ),
        "set_group_add_request" => {
            let flag = params["flag"].as_str().unwrap_or_default();
            let requester = name_of(names, flag.trim_start_matches("request-"));
            if params["approve"] == true {
                format!("🤖 qunbot approves {requester}'s request")
            } else {
                format!(
                    "🤖 qunbot rejects {requester}'s request: {}",
                    params["reason"].as_str().unwrap_or_default()
                )
            }
        }
        "set_group_ban" => match params["duration"].as_u64() {
            Some(0) | None => format!("{where_}🤖 qunbot lifts {user}'s mute"),
            Some(secs) => format!("{where_}🤖 qunbot mutes {user} for {} min", secs / 60),
        },
        "set_group_kick" => format!("{where_}🤖 qunbot removes {user}"),
        "delete_msg" => format!("🤖 qunbot recalls message {}", params["message_id"]),
        _ => format!("{where_}🤖 qunbot calls {action}"),
    }
}

/// A message value (CQ string or segment array) as a person would read it.
fn render_message(names: &[(String, String)], message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        Value::Array(segments) => segments
            .iter()
            .map(|s| {
                let data = &s["data"];
                match s["type"].as_str() {
                    Some("text") => data["text"].as_str().unwrap_or_default().to_string(),
                    Some("at") => format!(
                        "@{}",
                        name_of(names, data["qq"].as_str().unwrap_or_default())
                    ),
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
