//! `qunbot status`: what an operator should look at, read from the config's
//! database without the daemon's secrets, and an exit code a cron job or a
//! monitor can alert on.

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qunbot::config::Config;
use qunbot::store::{AccountDelivery, Count, ReadModel, Since, Store, StoreError, Trouble};

/// The outbox states `status` always prints, so scripts find each line even at zero.
const OUTBOX_STATES: [&str; 3] = ["pending", "delivered", "failed"];

/// Events and timers the engine gave up on: what `status` exits 1 for. Unhandled
/// events and pending effects are work in flight in a running daemon, shown but
/// not alarming.
pub fn given_up(trouble: &Trouble) -> i64 {
    trouble.failed_events + trouble.quarantined_events + trouble.quarantined_timers
}

/// `qunbot status`: one `name: count` line each, each account's delivery, the
/// last day's troubles, then one `attention:` line per thing that needs a look;
/// exits 1 when there is any.
///
/// A database that does not exist yet is reported as such with zero counts, and
/// not created: looking must not leave a file behind.
pub async fn status(config: &Config) -> anyhow::Result<ExitCode> {
    let database = &config.storage.database;
    if !database.exists() {
        println!("database: {} (none yet)", database.display());
        print_counts(&Trouble::default(), &[]);
        print_accounts(config, Vec::new());
        print_last_day(&Since::default());
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let store = Store::open(database).await?;
    let read = async {
        Ok::<_, StoreError>((
            store.trouble().await?,
            store.outbox_counts().await?,
            store
                .feature_records(qunbot::features::accounts::NAME, "")
                .await?,
            store.deliveries().await?,
            store.since(now - chrono::Duration::hours(24)).await?,
        ))
    };
    let read = read.await;
    store.close().await;
    let (trouble, outbox, accounts, deliveries, last_day) = read?;
    println!("database: {}", database.display());
    print_counts(&trouble, &outbox);
    let unreachable = print_accounts(config, accounts);
    print_deliveries(config, &deliveries, now);
    print_last_day(&last_day);

    let mut attention = Vec::new();
    if given_up(&trouble) > 0 {
        attention.push(format!(
            "{} input(s) failed or were quarantined; their reasons are logged as \
             engine.failed, engine.quarantined and timer.quarantined events",
            given_up(&trouble)
        ));
    }
    let down = config.notify.gateway_down;
    for d in &deliveries {
        let waiting = d.oldest_pending.map(|t| age(t, now)).unwrap_or_default();
        if waiting > down {
            attention.push(format!(
                "account {}: its oldest pending action has waited {} (over notify.gateway_down, {}): \
                 is its gateway reachable?",
                d.account,
                humantime::format_duration(waiting),
                humantime::format_duration(down)
            ));
        }
    }
    if last_day.last_reload_rejected {
        attention.push(
            "the last config edit was refused; the previous config keeps running \
             (qunbot check shows why)"
                .to_string(),
        );
    }
    if last_day.missed_posts > 0 {
        attention.push(format!(
            "{} planned post(s) did not go out in the last 24 h (schedule.missed events say why)",
            last_day.missed_posts
        ));
    }
    if last_day.failed_actions > 0 {
        attention.push(format!(
            "{} action(s) failed in the last 24 h (outbox rows in state failed carry the error)",
            last_day.failed_actions
        ));
    }
    if !unreachable.is_empty() {
        attention.push(format!(
            "{} managed group(s) have no known account in them (no_account above)",
            unreachable.len()
        ));
    }
    for line in &attention {
        println!("attention: {line}");
        eprintln!("qunbot: {line}");
    }
    Ok(if attention.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    // Whole seconds: a status line need not show milliseconds.
    Duration::from_secs((now - since).num_seconds().max(0) as u64)
}

/// One line per account with outbox actions: what waits, since when, and the
/// last delivery.
fn print_deliveries(config: &Config, deliveries: &[AccountDelivery], now: DateTime<Utc>) {
    let at = |t: DateTime<Utc>| {
        t.with_timezone(&config.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    for d in deliveries {
        let oldest = d.oldest_pending.map_or_else(
            || "none waiting".to_string(),
            |t| format!("oldest waiting {}", humantime::format_duration(age(t, now))),
        );
        let last = d.last_delivered.map_or_else(
            || "nothing delivered yet".to_string(),
            |t| format!("last delivered {}", at(t)),
        );
        println!(
            "delivery {}: {} pending, {oldest}; {last}",
            d.account, d.pending
        );
    }
}

/// The last day's troubles, one `name: count` line each.
fn print_last_day(s: &Since) {
    println!("missed_posts_24h: {}", s.missed_posts);
    println!("rejected_configs_24h: {}", s.rejected_configs);
    println!("filter_kicks_24h: {}", s.filter_kicks);
    println!("failed_actions_24h: {}", s.failed_actions);
}

/// One line per account the daemon knows (its state, transport, groups, last
/// sync), then one `no_account:` line per managed group no account is in;
/// returns those groups when any account is known (before the first sync,
/// every group lacks one and that is no news).
fn print_accounts(
    config: &Config,
    records: Vec<(String, serde_json::Value)>,
) -> Vec<qunbot::domain::Id> {
    let (accounts, unreachable) =
        qunbot::features::accounts::overview(records, config, chrono::Utc::now());
    println!("accounts: {}", accounts.len());
    for a in &accounts {
        let transport = if config.gateway.over_socket(&a.account) {
            "ws-reverse"
        } else {
            "http"
        };
        let groups: Vec<String> = a.groups.iter().map(|g| g.to_string()).collect();
        let synced = a.synced_at.map_or_else(
            || "never synced".to_string(),
            |t| {
                format!(
                    "synced {}",
                    t.with_timezone(&config.timezone).format("%Y-%m-%d %H:%M")
                )
            },
        );
        println!(
            "account {}{}: {}; {transport}; managed groups: [{}]; {synced}",
            a.account,
            a.nickname
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            a.state(config.timezone),
            groups.join(", ")
        );
    }
    for group in &unreachable {
        println!(
            "no_account: {group} ({}): no known account is in it; its automatic posts are missed",
            config.group_name(group)
        );
    }
    if accounts.is_empty() {
        Vec::new()
    } else {
        unreachable
    }
}

fn print_counts(trouble: &Trouble, outbox: &[Count]) {
    let Trouble {
        failed_events,
        quarantined_events,
        quarantined_timers,
        unhandled_events,
        pending_effects,
    } = trouble;
    println!("failed_events: {failed_events}");
    println!("quarantined_events: {quarantined_events}");
    println!("quarantined_timers: {quarantined_timers}");
    println!("unhandled_events: {unhandled_events}");
    println!("pending_effects: {pending_effects}");
    let count = |state: &str| outbox.iter().find(|c| c.name == state).map_or(0, |c| c.n);
    for state in OUTBOX_STATES {
        println!("outbox_{state}: {}", count(state));
    }
    for Count { name, n } in outbox {
        if !OUTBOX_STATES.contains(&name.as_str()) {
            println!("outbox_{name}: {n}");
        }
    }
}
