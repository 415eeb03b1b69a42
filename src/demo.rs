//! `qunbot demo`: the simulator and the daemon on free loopback ports, the shipped
//! `bot-config.toml`, a fresh SQLite file, and a scripted stretch of group life.
//! Prints the chat as a transcript and a summary read back from the database.

mod scenes;
mod stage;
mod transcript;

use scenes::play;
use stage::{pongs, Stage};
use transcript::{describe_call, describe_push, name_of};

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;

use crate::clock::{Clock, SkippingClock};
use crate::config::Config;
use crate::domain::Id;
use crate::features::reactivation::{sum_arms, ArmCount, ARMS_PREFIX};
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
    speed_up(&mut config, &sim)?;
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
    print_summary(out, &report, &stage, &groups, page).await?;
    stage.daemon.stop().await;
    stage.sim.stop().await;
    Ok(report)
}

/// The shipped config, made to play a scripted afternoon in a minute.
fn speed_up(config: &mut Config, sim: &Simulator) -> anyhow::Result<()> {
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
    *config.reactivation.scan = "0 0 10 1 1 * 2099"
        .parse()
        .context("the demo's scan cron")?;
    config.reactivation.nudge_interval = Duration::from_secs(1);
    // The scripted offences come seconds apart, each shown with its own warning;
    // merging a raid's warnings into one message is the raid test's subject.
    if let Some(filter) = config.filter.as_mut() {
        filter.warn_window = Duration::ZERO;
    }
    Ok(())
}

/// The transcript, then the summary read back from the database.
async fn print_summary(
    out: &mut impl Write,
    report: &DemoReport,
    stage: &Stage,
    groups: &[(String, String)],
    page: &Path,
) -> anyhow::Result<()> {
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
        writeln!(out, "  {n:>4}  {}", name_of(groups, &name))?;
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
    Ok(())
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
