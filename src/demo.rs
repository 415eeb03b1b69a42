//! `qunbot demo`: the simulator and the daemon on free loopback ports, the shipped
//! `bot-config.toml`, a fresh SQLite file, and a scripted stretch of group life.
//! Prints the chat as a transcript and a summary read back from the database.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::{json, Value};

use crate::clock::{Clock, SkippingClock};
use crate::config::Config;
use crate::domain::{GroupKey, Id};
use crate::features::reactivation::{draw_arm, sum_arms, ArmCount, ARMS_PREFIX, HOLDOUT};
use crate::gateway::onebot::signature;
use crate::simulator::events::{id_text, EventFactory, VirtualMember};
use crate::simulator::{Simulator, SimulatorOptions};
use crate::startup::Daemon;
use crate::store::{Count, CouponClaim, ReadModel};

/// The configuration the demo runs on: the one shipped beside the binary's source.
pub const SHIPPED_CONFIG: &str = include_str!("../bot-config.toml");
/// The word list shipped with it.
pub const SHIPPED_WORDS: &str = include_str!("../sensitive-words.txt");
/// The coupon pools it names, by file name.
pub const SHIPPED_COUPONS: &[(&str, &str)] = &[
    (
        "coupons-newcomer.txt",
        include_str!("../coupons-newcomer.txt"),
    ),
    (
        "coupons-comeback.txt",
        include_str!("../coupons-comeback.txt"),
    ),
];

/// Writes the shipped config's companion files (word list, coupon pools) into `dir`.
pub fn write_shipped_files(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("sensitive-words.txt"), SHIPPED_WORDS)?;
    for (name, text) in SHIPPED_COUPONS {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// How long the demo waits for the outbox to drain before it gives up.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How long a scene waits for what it causes before the demo gives up: its
/// transcript would be wrong, so the demo fails instead of printing it.
const SCENE_LIMIT: Duration = Duration::from_secs(10);
/// How often a scene looks again at what the gateway saw.
const POLL: Duration = Duration::from_millis(20);

/// What the demo saw, for callers that check it (the tests do).
#[derive(Debug)]
pub struct DemoReport {
    pub transcript: Vec<String>,
    pub event_counts: Vec<Count>,
    pub outbox_counts: Vec<Count>,
    /// `pong` messages the simulator received.
    pub pongs: usize,
    /// Points per member: (group, member, balance).
    pub ledger: Vec<(String, String, i64)>,
    pub coupons: Vec<CouponClaim>,
    /// Reactivation's counts per arm, summed over groups.
    pub reactivation: std::collections::BTreeMap<String, ArmCount>,
    /// The report of the demo's week, as `qunbot report` builds it.
    pub report: crate::report::Report,
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
    clock: Arc<SkippingClock>,
    notes: Vec<Note>,
}

/// Each scene waits until the gateway saw everything the scene causes before the
/// next heading goes into the timeline, so its results print under its own heading.
impl Stage {
    fn say(&mut self, text: &str) {
        self.notes.push(Note {
            after: self.sim.position(),
            text: text.to_string(),
        });
    }

    async fn push(&self, event: &Value) -> anyhow::Result<u16> {
        self.sim
            .push(event)
            .await
            .context("pushing an event to the daemon")
    }

    /// Waits (polling, at most [`SCENE_LIMIT`]) until `done` holds of what the
    /// gateway saw; fails naming `what` if it does not.
    async fn until(&self, what: &str, done: impl Fn(&Simulator) -> bool) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SCENE_LIMIT;
        while !done(&self.sim) {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("waited {SCENE_LIMIT:?} for {what}; the gateway saw too little");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Until the gateway carried out `n` calls of `action` since the demo began.
    async fn performed(&self, action: &str, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} {action} call(s)"), |sim| {
            sim.performed(action).len() >= n
        })
        .await
    }

    /// Until the daemon logged `n` events of `kind`.
    async fn logged(&self, kind: &str, n: usize) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SCENE_LIMIT;
        while self.daemon.store().events_of_kind(kind).await?.len() < n {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("waited {SCENE_LIMIT:?} for {n} {kind} event(s)");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Until `n` of the bot's group messages since the demo began contain `text`.
    async fn bot_said(&self, text: &str, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} bot message(s) saying {text:?}"), |sim| {
            bot_messages(sim)
                .iter()
                .filter(|m| m.contains(text))
                .count()
                >= n
        })
        .await
    }

    /// Moves the daemon's clock ahead and has it look at its timers at once.
    fn skip(&self, by: chrono::Duration) {
        self.clock.skip(by);
        self.daemon.look_at_the_clock();
    }

    async fn pongs(&self, n: usize) -> anyhow::Result<()> {
        self.until(&format!("{n} pong(s)"), |sim| pongs(sim) >= n)
            .await
    }
}

/// Runs the demo, writing the transcript and summary to `out`.
/// Runs the demo, writing the transcript and summary to `out` and the shop
/// owner's report page to `page` (`qunbot-report.html` from the command line).
pub async fn run(out: &mut impl Write, page: &Path) -> anyhow::Result<DemoReport> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let config_path = dir.path().join("bot-config.toml");
    // A flash sale an hour from now in the shop's group, for the countdown scene.
    let starts_at = (Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sale = format!(
        "\n[[flash_sales]]\nid = \"demo-luosifen\"\ntitle = \"螺蛳粉限时秒杀\"\nprice = \"9.9元/3袋\"\nlink = \"https://shop.example/p/123\"\nstarts_at = \"{starts_at}\"\nduration = \"30m\"\nremind_before = [\"10m\"]\nlast_call = \"5m\"\ngroups = [123456]\n"
    );
    std::fs::write(&config_path, format!("{SHIPPED_CONFIG}{sale}"))?;
    write_shipped_files(dir.path())?;

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
    // The shop's first account stays on HTTP; a second one dials in over the
    // reverse WebSocket in its own scene.
    config.gateway.transport = crate::config::Transport::WsReverse;
    config.gateway.accounts.push(crate::config::AccountGateway {
        self_id: Id::number(10001000),
        api_url: reqwest::Url::parse(&sim.api_url()).context("the simulator's URL")?,
        access_token: config.gateway.access_token.clone(),
    });
    // The demo runs at any hour; its flash sale must not wait for the morning.
    config.schedule.quiet_hours = None;
    // A week of automatic posts happens in one scripted afternoon.
    config.schedule.daily_cap = 20;
    // The owner asks for the scan (/沉默 nudge); the 10:00 cron would fire at
    // whatever point of the script the clock passes 10:00.
    config.reactivation.scan = Box::new(
        "0 0 10 1 1 * 2099"
            .parse()
            .context("the demo's scan cron")?,
    );
    config.reactivation.nudge_interval = Duration::from_secs(1);
    // The scripted offences come seconds apart, each shown with its own warning;
    // merging a raid's warnings into one message is the raid test's subject.
    if let Some(filter) = config.filter.as_mut() {
        filter.warn_window = Duration::ZERO;
    }
    let groups: Vec<(String, String)> = config
        .groups
        .iter()
        .map(|g| (g.id.to_string(), g.name.clone()))
        .collect();
    // The bot account is in the shop's groups, as the gateway's group list says.
    for g in &config.groups {
        let id =
            g.id.as_str()
                .parse::<i64>()
                .map_or_else(|_| json!(g.id.as_str()), |n| json!(n));
        sim.join_group(id, &g.name);
    }

    let clock = Arc::new(SkippingClock::default());
    let daemon = Daemon::start_with_clock(config, env, clock.clone())
        .await
        .context("starting the daemon")?;
    sim.set_webhook(format!("http://{}/onebot", daemon.addr()));
    let mut stage = Stage {
        sim,
        secret: "demo-secret".to_string(),
        names: Vec::new(),
        daemon,
        clock,
        notes: Vec::new(),
    };
    play(&mut stage).await?;
    drain(&stage.daemon).await?;

    let report = summarise(&stage, &groups).await?;
    let html = crate::reporting::render(&report.report, crate::reporting::Format::Html)?;
    std::fs::write(page, html).with_context(|| format!("writing {}", page.display()))?;
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
    for Count { name, n } in &report.event_counts {
        writeln!(out, "  {n:>4}  {name}")?;
    }
    writeln!(out, "outbox:")?;
    for Count { name, n } in &report.outbox_counts {
        writeln!(out, "  {n:>4}  {name}")?;
    }
    writeln!(out, "points ledger, by member:")?;
    for (group, member, balance) in &report.ledger {
        writeln!(out, "  {balance:>4}  {member} ({group})")?;
    }
    writeln!(out, "coupons handed out:")?;
    for CouponClaim {
        pool,
        code,
        user_id,
    } in &report.coupons
    {
        writeln!(
            out,
            "        {code} ({pool}) → {}",
            name_of(&stage.names, user_id)
        )?;
    }
    writeln!(out, "reactivation, by arm (all groups):")?;
    for (arm, c) in &report.reactivation {
        let rate = c.rate();
        let (lo, hi) = rate.wilson95();
        writeln!(
            out,
            "  {arm:>8}  due {}, nudged {}, reactivated {}, resolved {}, rate {} (95 % CI {:.0}–{:.0} %)",
            c.due,
            c.nudged,
            c.reactivated,
            rate.trials,
            if rate.trials == 0 {
                "— (windows still open)".to_string()
            } else {
                format!("{:.0} %", 100.0 * rate.successes as f64 / rate.trials as f64)
            },
            lo * 100.0,
            hi * 100.0
        )?;
    }
    writeln!(out, "members present, by group:")?;
    for Count { name, n } in stage.daemon.store().member_counts().await? {
        writeln!(out, "  {n:>4}  {}", name_of(&groups, &name))?;
    }
    let t = &report.report.totals;
    writeln!(
        out,
        "\n── the shop owner's report (qunbot report --format html) ──\n\
         this week: {} messages from {} members, {} joined, {} filtered, {} scheduled posts\n\
         written to {} (one file, opens offline in any browser)",
        t.counts[crate::report::Metric::Messages],
        t.counts[crate::report::Metric::Speakers],
        t.counts[crate::report::Metric::Joins],
        t.counts[crate::report::Metric::FilterHits],
        t.counts[crate::report::Metric::PostsSent],
        page.display()
    )?;
    stage.daemon.stop().await;
    stage.sim.stop().await;
    Ok(report)
}

async fn play(stage: &mut Stage) -> anyhow::Result<()> {
    let cooldown = stage.daemon.config().commands.cooldown;
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
    // The gateway's member list of the shop's group: the owner, the newcomers
    // to come, and six members who joined two months ago and never spoke.
    let now = Utc::now().timestamp();
    stage
        .sim
        .seat(123456, 10001000, "群助手", "admin", now - 90 * 86_400);
    for m in [&owner, &hong, &ming, &mei] {
        stage
            .sim
            .seat(123456, id_number(&m.id), &m.nickname, m.role, now);
    }
    let silent = silent_members(stage);
    for m in &silent {
        stage.names.push((id_text(&m.id), m.nickname.clone()));
        stage.sim.seat(
            123456,
            id_number(&m.id),
            &m.nickname,
            "member",
            now - 60 * 86_400,
        );
    }

    // Before anything the simulator saw: the daemon asks at its start.
    stage.notes.push(Note {
        after: 0,
        text:
            "── the gateway connects; qunbot asks which account it is and which groups it is in ──"
                .into(),
    });
    stage.push(&f.lifecycle("connect")).await?;
    stage.performed("get_group_list", 1).await?;
    // Each group's member list is read once the account is known to be in it.
    stage.performed("get_group_member_list", 2).await?;

    stage.say("── join requests are decided by their answer ──");
    stage
        .push(&f.join_request(&shop, &mei, "我是宝妈，想进群", "request-10004"))
        .await?;
    stage
        .push(&f.join_request(&shop, &spam, "加我看高收益项目", "request-10666"))
        .await?;
    stage.performed("set_group_add_request", 2).await?;
    // The group's first event also asks for its member list (reactivation).
    stage.performed("get_group_member_list", 1).await?;

    stage.say("── a wave of newcomers gets one welcome ──");
    stage.push(&f.joined(&shop, &hong, None)).await?;
    stage.push(&f.joined(&shop, &ming, Some(&owner))).await?;
    stage.push(&f.joined(&shop, &mei, None)).await?;
    // The welcome goes out when the wave's window closes.
    stage.bot_said("欢迎", 1).await?;

    stage.say("── new-member tasks, points and coupons ──");
    stage
        .push(&f.group_message(&shop, &hong, json!("大家好！群规已读[CQ:face,id=178]")))
        .await?;
    stage.bot_said("完成新人任务「阅读群规」", 1).await?;
    stage
        .push(&f.group_message(&shop, &hong, json!("/签到")))
        .await?;
    stage.bot_said("签到成功", 1).await?;
    stage.bot_said("完成新人任务「首次签到」", 1).await?;
    // Members' commands have a cooldown: move the daemon's clock past it, so the
    // second check-in shows the daily limit rather than the cooldown.
    stage
        .clock
        .skip(chrono::Duration::from_std(cooldown).unwrap_or_default());
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
    stage.bot_said("今天已经签到过了", 1).await?;
    stage.bot_said("本群积分排行", 1).await?;

    stage.say("── an admin mutes a member; a member may not kick ──");
    let mute = json!([
        {"type": "text", "data": {"text": "/禁言 "}},
        {"type": "at", "data": {"qq": "10003"}},
        {"type": "text", "data": {"text": " 10分钟"}}
    ]);
    stage.push(&f.group_message(&shop, &owner, mute)).await?;
    let kick = json!([{"type": "text", "data": {"text": "/踢 "}}, {"type": "at", "data": {"qq": "10001"}}]);
    stage.push(&f.group_message(&shop, &mei, kick)).await?;
    stage.bot_said("已禁言", 1).await?;
    stage.performed("set_group_ban", 1).await?;
    stage.bot_said("只有管理员可以使用", 1).await?;

    stage
        .say("── the word filter: harmless words pass; an ad is recalled and its sender warned ──");
    stage
        .push(&f.group_message(&shop, &hong, json!("今年出口交易额涨了，路口交通也顺了")))
        .await?;
    stage
        .push(&f.group_message(&shop, &mei, json!("想赚零花钱的加 群，兼职日结")))
        .await?;
    // The ad is the barrier for the harmless message: the engine acts on events in
    // order and the outbox delivers a group's actions in order, so once the ad's
    // recall and warning are out, anything about the message before it would be too.
    stage.performed("delete_msg", 1).await?;
    stage.bot_said("违规内容（广告", 1).await?;

    stage.say("── a picture with a QR code: read off the engine, recalled like a link ──");
    let qr = stage
        .sim
        .host_qr_code("group-qr.png", "https://weixin.qq.com/g/AbCdEf");
    let picture = json!([{"type": "image", "data": {"file": "group-qr.png", "url": qr}}]);
    stage.push(&f.group_message(&shop, &mei, picture)).await?;
    stage.performed("delete_msg", 2).await?;
    stage.bot_said("违反群规（链接）", 1).await?;

    stage.say("── a flash sale counts down (the clock is moved ahead to each post) ──");
    stage.skip(chrono::Duration::minutes(50));
    stage.bot_said("【预告】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(10));
    stage.bot_said("【开抢】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(25));
    stage.bot_said("【最后机会】螺蛳粉限时秒杀", 1).await?;
    stage.skip(chrono::Duration::minutes(5));
    stage.bot_said("【已结束】螺蛳粉限时秒杀", 1).await?;

    stage.say("── a lucky red packet: split when opened, grabbed to the end ──");
    stage
        .push(&f.group_message(&shop, &owner, json!("/红包 30 3")))
        .await?;
    stage.bot_said("30 积分的拼手气红包，共 3 份", 1).await?;
    for grabber in [&hong, &ming, &owner] {
        stage
            .push(&f.group_message(&shop, grabber, json!("抢")))
            .await?;
    }
    stage.bot_said("红包已被抢完：3 人抢到 30 积分", 1).await?;

    reactivation_scene(stage, &mut f, &owner, &silent).await?;

    stage.say("── /ping travels webhook → SQLite → engine → outbox → gateway ──");
    let ping = f.group_message(&shop, &owner, json!("/ping"));
    stage.push(&ping).await?;
    stage.pongs(1).await?;

    stage.say("── the gateway redelivers the same event: logged once, answered once ──");
    // The 204 is the whole effect: the journal recognises a redelivery in the
    // transaction it answers after, and never passes it on to the engine.
    stage.push(&ping).await?;

    stage
        .say("── someone forges a push, and a broken one arrives: both refused, neither logged ──");
    // Refused before the journal: the daemon's answer is the whole effect.
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
    stage.pongs(2).await?;
    stage.performed("get_group_member_list", 2).await?;

    second_account_scene(stage, &mut f, &snacks, &ahua).await?;

    stage.say(
        "── the gateway is down (503) for three tries: the outbox retries until it is back ──",
    );
    // An outage of a number of tries, not of seconds: the transcript does not
    // depend on how fast the machine runs the retries.
    stage.sim.fail_next(3, 503);
    stage
        .push(&f.group_message(&shop, &owner, json!("/ping")))
        .await?;
    stage.pongs(4).await?;

    stage.say("── events qunbot does not act on are still logged ──");
    stage
        .push(&f.file_uploaded(&shop, &owner, "本周团购清单.xlsx"))
        .await?;
    stage.push(&f.left(&shop, &ming)).await?;
    stage.push(&f.heartbeat()).await?;
    Ok(())
}

/// A second account of the shop's (a WeChat bridge behind NAT) dials the
/// daemon's reverse WebSocket and is in the WeChat group too: both accounts see
/// 阿花's message; it is logged and answered once, by the group's one voice.
async fn second_account_scene(
    stage: &mut Stage,
    f: &mut EventFactory,
    snacks: &Value,
    ahua: &VirtualMember,
) -> anyhow::Result<()> {
    stage.say(
        "── a second account dials in over reverse WebSocket; in the group both are in, \
         a message is logged and answered once ──",
    );
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let bridge = Simulator::start(
        loopback,
        SimulatorOptions::new("demo-access-token", "demo-secret").as_account(SECOND_ACCOUNT),
    )
    .await
    .context("starting the second account's bridge")?;
    bridge.join_group(snacks.clone(), "零食团购群");
    let url = format!("ws://{}/onebot/ws", stage.daemon.addr());
    bridge
        .dial_daemon(&url)
        .await
        .context("dialling the daemon's reverse WebSocket")?;
    stage.logged("sync.account", 2).await?;
    stage.say(&format!(
        "🔌 {SECOND_ACCOUNT} dialled {url} (X-Self-ID, bearer token, role Universal); \
         qunbot asked it which account it is and which groups it is in"
    ));
    // 阿花 just asked: past her command cooldown, as a member would be.
    let cooldown = stage.daemon.config().commands.cooldown;
    stage.skip(chrono::Duration::from_std(cooldown)? + chrono::Duration::seconds(1));
    let ping = f.group_message(snacks, ahua, json!("/ping"));
    let mut copy = ping.clone();
    copy["self_id"] = json!(SECOND_ACCOUNT);
    copy["message_id"] = json!(880_001);
    // The first account's copy first (answered 204 once stored), so the answer
    // quotes the message by the id the voice gave it; the second copy is then
    // recognised as the same message.
    stage.push(&ping).await?;
    bridge
        .push(&copy)
        .await
        .context("pushing over the socket")?;
    stage.pongs(3).await?;
    let copies = stage
        .daemon
        .store()
        .events_of_kind("message.group")
        .await?
        .into_iter()
        .filter(|e| !e.detail["heard_by"].is_null())
        .count();
    stage.say(&format!(
        "(阿花's message came in through both accounts: logged {copies} time(s); \
         {SECOND_ACCOUNT} sent {} message(s), the group's first account answered)",
        bridge.performed("send_group_msg").len()
    ));
    bridge.stop().await;
    Ok(())
}

/// The demo's second account: a WeChat bridge that dials in.
const SECOND_ACCOUNT: &str = "wxid_shop2";

/// The member list synced at the group's first event brought in six members
/// who never spoke; the owner scans, they are nudged by arm (the holdout is
/// recorded, not mentioned), and one of them comes back.
async fn reactivation_scene(
    stage: &mut Stage,
    f: &mut EventFactory,
    owner: &VirtualMember,
    silent: &[VirtualMember],
) -> anyhow::Result<()> {
    let shop = json!(123456);
    stage.say(
        "── silent members: the owner scans; they are nudged by arm (20 % holdout, not nudged); one comes back ──",
    );
    let config = stage.daemon.config();
    let reactivation = &config.reactivation;
    let group = GroupKey {
        account: Id::number(10001000),
        group: Id::number(123456),
    };
    let arm_of = |m: &VirtualMember| draw_arm(&group, &Id::number(id_number(&m.id)), reactivation);
    let mut per_arm: std::collections::BTreeMap<String, usize> = Default::default();
    for m in silent {
        *per_arm.entry(arm_of(m)).or_default() += 1;
    }
    let per_message = reactivation.per_message as usize;
    let messages: usize = per_arm
        .iter()
        .filter(|(arm, _)| arm.as_str() != HOLDOUT)
        .map(|(_, n)| n.div_ceil(per_message))
        .sum();
    let returner = silent
        .iter()
        .find(|m| arm_of(m) != HOLDOUT)
        .context("a silent member in a nudged arm")?;
    stage
        .push(&f.group_message(&shop, owner, json!("/沉默 扫描")))
        .await?;
    stage.bot_said("扫描完成", 1).await?;
    stage.logged("reactivation.nudged", messages).await?;
    stage
        .until(&format!("{messages} nudge message(s)"), |sim| {
            bot_messages(sim)
                .iter()
                .filter(|m| m.contains("好久不见") || m.contains("返场券"))
                .count()
                >= messages
        })
        .await?;
    stage
        .push(&f.group_message(&shop, returner, json!("我回来啦，最近太忙了")))
        .await?;
    stage.logged("reactivation.reactivated", 1).await?;
    stage
        .push(&f.group_message(&shop, owner, json!("/沉默 效果")))
        .await?;
    stage.bot_said("唤醒率", 1).await?;
    Ok(())
}

/// Six members who never spoke, with ids picked so that one of them falls in
/// the holdout: six draws at 20 % often hold none, and the scene shows both.
fn silent_members(stage: &Stage) -> Vec<VirtualMember> {
    let config = stage.daemon.config();
    let group = GroupKey {
        account: Id::number(10001000),
        group: Id::number(123456),
    };
    let in_holdout = |id: i64| draw_arm(&group, &Id::number(id), &config.reactivation) == HOLDOUT;
    let first = (10011..10111).find(|id| in_holdout(*id)).unwrap_or(10011);
    let others = (10011..)
        .filter(|id| *id != first && !in_holdout(*id))
        .take(5);
    ["老李", "阿珍", "大刘", "小芳", "阿May", "老周"]
        .iter()
        .zip(std::iter::once(first).chain(others))
        .map(|(name, id)| VirtualMember::new(id, name, "member"))
        .collect()
}

/// An id value as a number (the demo's QQ-style members).
fn id_number(id: &Value) -> i64 {
    id.as_i64().unwrap_or_default()
}

async fn drain(daemon: &Daemon) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    loop {
        let counts = daemon.store().outbox_counts().await?;
        let pending = counts.iter().any(|c| c.name == "pending" && c.n > 0);
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

/// The group messages the simulator carried out, as read in the chat.
fn bot_messages(sim: &Simulator) -> Vec<String> {
    sim.performed("send_group_msg")
        .iter()
        .map(|c| render_message(&[], &c.params["message"]))
        .collect()
}

/// `pong` replies the simulator carried out.
fn pongs(sim: &Simulator) -> usize {
    bot_messages(sim)
        .iter()
        .filter(|m| m.ends_with("pong"))
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
    let query = crate::reporting::Query {
        timezone: stage.daemon.config().timezone,
        range: crate::reporting::Range::Last(7),
        group: None,
        group_names: groups.iter().cloned().collect(),
        labels: crate::reporting::labels(Some(&*stage.daemon.config())),
        rebuild: false,
    };
    let week = crate::reporting::build(store, &query, stage.clock.now(), |_| {}).await?;
    let mut ledger = Vec::new();
    for (id, _) in groups {
        let group = Id::text(id.clone());
        for b in store.balances(&Id::number(10001000), &group).await? {
            ledger.push((name_of(groups, id), b.name.unwrap_or(b.user_id), b.balance));
        }
    }
    Ok(DemoReport {
        transcript: timeline.into_iter().map(|(_, line)| line).collect(),
        event_counts: store.event_counts().await?,
        outbox_counts: store.outbox_counts().await?,
        pongs: pongs(&stage.sim),
        ledger,
        coupons: store.coupon_claims().await?,
        reactivation: {
            let records = store
                .feature_records(crate::features::reactivation::NAME, ARMS_PREFIX)
                .await?;
            sum_arms(records.iter().map(|(k, v)| (k, v)))
        },
        report: week,
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
        "get_group_member_list" => format!("{where_}🤖 qunbot reads the member list"),
        "get_login_info" => "🤖 qunbot asks the gateway which account it is".to_string(),
        "get_group_list" => "🤖 qunbot asks which groups the account is in".to_string(),
        "send_private_msg" => format!(
            "🤖 qunbot → {user} (private): {}",
            render_message(names, &params["message"])
        ),
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
