//! `qunbot check`: the config validated, then what would go wrong with it:
//! inputs the database gave up on, days over the cap, posts quiet hours will
//! stop, and the accounts each gateway answers for.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use qunbot::config::Config;
use qunbot::store::{ReadModel, Store};

use super::status::given_up;

/// Warnings on stderr, the summary and the schedules' next posts on stdout.
pub async fn check(c: &Config) -> ExitCode {
    for warning in &c.warnings {
        eprintln!("{warning}");
    }
    if let Some(warning) = trouble_warning(&c.storage.database).await {
        eprintln!("{warning}");
    }
    for warning in c.daily_cap_warnings(chrono::Utc::now()) {
        eprintln!("{warning}");
    }
    println!("{}", c.summary());
    for line in c.schedule_preview(chrono::Utc::now()) {
        println!("{line}");
    }
    check_accounts(c).await;
    ExitCode::SUCCESS
}

/// For `qunbot check`: asks each HTTP gateway which account it is and which
/// groups it is in, prints one line per account, and warns (on stderr) of
/// each managed group no account is in. A gateway that does not answer is
/// noted, not an error: the daemon may be checked before its gateway runs.
async fn check_accounts(config: &Config) {
    let client = qunbot::gateway::GatewayClient::default();
    let patience = config.gateway.timeout.min(Duration::from_secs(3));
    let mut learnt = Vec::new();
    let mut all_answered = true;
    for (url, token) in config.gateway.http_gateways() {
        match qunbot::account_sync::ask_http(&client, url, token, patience).await {
            Ok(info) => {
                let managed: Vec<String> = info
                    .groups
                    .iter()
                    .filter(|g| config.is_managed(&g.group))
                    .map(|g| g.group.to_string())
                    .collect();
                println!(
                    "account {}{}: answers at {url}; managed groups: [{}]",
                    info.account,
                    info.nickname
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    managed.join(", ")
                );
                learnt.push(info);
            }
            Err(e) => {
                all_answered = false;
                eprintln!("note: the gateway at {url} did not answer ({e}); its accounts were not checked");
            }
        }
    }
    if config.gateway.transport == qunbot::config::Transport::WsReverse {
        eprintln!(
            "note: accounts that dial in over the reverse WebSocket are known once they connect \
             (`qunbot status` lists them)"
        );
    } else if all_answered {
        for group in qunbot::account_sync::unreachable(config, &learnt) {
            eprintln!(
                "warning: managed group {} ({}) has no known account in it: its scheduled posts, \
                 nudges and packets would be missed (no_account)",
                group.id, group.name
            );
        }
    }
}

/// For `qunbot check`: one line when the config's database holds inputs the
/// engine gave up on, since a valid config can still run a daemon that quietly
/// drops events. Nothing when there is no database yet.
async fn trouble_warning(database: &Path) -> Option<String> {
    if !database.exists() {
        return None;
    }
    let trouble = match Store::open(database).await {
        Ok(store) => {
            let trouble = store.trouble().await;
            store.close().await;
            trouble
        }
        Err(e) => Err(e),
    };
    match trouble {
        Ok(t) if given_up(&t) > 0 => Some(format!(
            "{}: warning: {} event(s) failed, {} event(s) and {} timer(s) quarantined; \
             see qunbot status",
            database.display(),
            t.failed_events,
            t.quarantined_events,
            t.quarantined_timers
        )),
        Ok(_) => None,
        Err(e) => Some(format!(
            "{}: warning: cannot look for failed events: {e}",
            database.display()
        )),
    }
}
