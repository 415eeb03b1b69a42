//! Learns which bot accounts there are and which groups each is in, so a
//! scheduled post reaches a group nobody has spoken in since the start.
//!
//! At start, every `gateway.sync_interval` and whenever an account's WebSocket
//! connects (or says `lifecycle connect`), each gateway is asked
//! `get_login_info` and `get_group_list`. The answer goes in through the
//! journal as an [`EventBody::AccountSynced`] event, so it is logged and the
//! [`accounts`](crate::features::accounts) feature learns from it like from
//! any other event. A gateway that does not answer is asked again a minute
//! later; the rest of the daemon does not wait on it.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Action, Event, EventBody, Id, ListedGroup};
use crate::engine::journal::Journal;
use crate::gateway::onebot::api::{ApiError, Reply};
use crate::gateway::onebot::wire;
use crate::gateway::voices::Voices;
use crate::gateway::GatewayClient;

/// How soon a gateway that did not answer is asked again.
const RETRY: Duration = Duration::from_secs(60);

/// Where a sync asks: an HTTP gateway (which says which account it is), or
/// an account's WebSocket.
enum Target {
    Http(reqwest::Url, Option<SecretString>),
    Socket(Id),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http(url, _) => write!(f, "the gateway at {url}"),
            Target::Socket(account) => write!(f, "account {account}'s WebSocket"),
        }
    }
}

/// What one gateway said.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountInfo {
    pub account: Id,
    pub nickname: Option<String>,
    pub groups: Vec<ListedGroup>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Call(#[from] ApiError),
    #[error("{action} was refused (retcode {retcode})")]
    Refused { action: &'static str, retcode: i64 },
    #[error("{0}")]
    Unreadable(String),
}

/// Asks one HTTP gateway which account it serves and its groups (`qunbot check` too).
pub async fn ask_http(
    client: &GatewayClient,
    url: &reqwest::Url,
    token: Option<&SecretString>,
    timeout: Duration,
) -> Result<AccountInfo, SyncError> {
    let call = |action: Action| async move {
        let reply = client.http().call_at(url, token, timeout, &action).await?;
        data(action.name(), reply)
    };
    read(
        call(Action::GetLoginInfo).await?,
        call(Action::GetGroupList).await?,
    )
}

async fn ask_socket(
    client: &GatewayClient,
    account: &Id,
    timeout: Duration,
) -> Result<AccountInfo, SyncError> {
    let call = |action: Action| async move {
        let reply = client.sockets().call(account, &action, timeout).await?;
        data(action.name(), reply)
    };
    let mut info = read(
        call(Action::GetLoginInfo).await?,
        call(Action::GetGroupList).await?,
    )?;
    if info.account != *account {
        tracing::warn!(
            %account, said = %info.account,
            "the bridge's get_login_info names another account than its X-Self-ID; using the X-Self-ID"
        );
        info.account = account.clone();
    }
    Ok(info)
}

fn data(action: &'static str, reply: Reply) -> Result<serde_json::Value, SyncError> {
    match reply {
        Reply::Ok(data) => Ok(data),
        Reply::Async => Err(SyncError::Unreadable(format!(
            "{action} was answered `async`, with no data"
        ))),
        Reply::Failed { retcode, .. } => Err(SyncError::Refused { action, retcode }),
    }
}

fn read(login: serde_json::Value, groups: serde_json::Value) -> Result<AccountInfo, SyncError> {
    let (account, nickname) =
        wire::login_info(&login).map_err(|e| SyncError::Unreadable(e.to_string()))?;
    let groups = wire::group_list(&groups).map_err(|e| SyncError::Unreadable(e.to_string()))?;
    Ok(AccountInfo {
        account,
        nickname,
        groups,
    })
}

/// Starts the sync. It stops when `stop` is cancelled, dropping its journal handle.
pub fn spawn(
    client: GatewayClient,
    voices: Voices,
    journal: Journal,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    mut connected: mpsc::UnboundedReceiver<Id>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let config_now = config.borrow().clone();
            let mut targets: Vec<Target> = config_now
                .gateway
                .http_gateways()
                .into_iter()
                .map(|(url, token)| Target::Http(url.clone(), token.cloned()))
                .collect();
            targets.extend(
                client
                    .sockets()
                    .links()
                    .into_iter()
                    .map(|l| Target::Socket(l.account)),
            );
            let mut failed = false;
            let mut learnt = Vec::new();
            for target in &targets {
                match sync(
                    &client,
                    &voices,
                    &journal,
                    &config_now,
                    clock.as_ref(),
                    target,
                    false,
                )
                .await
                {
                    Some(info) => learnt.push(info),
                    None => failed = true,
                }
            }
            if first && !targets.is_empty() {
                warn_unreachable(&config_now, &learnt);
            }
            first = false;
            let wait = if failed {
                config_now.gateway.sync_interval.min(RETRY)
            } else {
                config_now.gateway.sync_interval
            };
            let deadline = tokio::time::Instant::now() + wait;
            // Connects between rounds are synced at once, one account at a time.
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(deadline) => break,
                    account = connected.recv() => match account {
                        Some(account) => {
                            let config_now = config.borrow().clone();
                            let target = Target::Socket(account);
                            sync(&client, &voices, &journal, &config_now, clock.as_ref(), &target, true).await;
                        }
                        None => return,
                    },
                }
            }
        }
    })
}

/// Syncs one target and logs what it said; `None` when it could not be asked.
async fn sync(
    client: &GatewayClient,
    voices: &Voices,
    journal: &Journal,
    config: &Config,
    clock: &dyn Clock,
    target: &Target,
    reconnected: bool,
) -> Option<AccountInfo> {
    let timeout = config.gateway.timeout;
    let asked = match target {
        Target::Http(url, token) => ask_http(client, url, token.as_ref(), timeout).await,
        Target::Socket(account) => ask_socket(client, account, timeout).await,
    };
    let info = match asked {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!("account sync: {target} did not say which groups it is in: {e}");
            return None;
        }
    };
    voices.synced(&info.account, &info.groups);
    let event = Event {
        account: info.account.clone(),
        time: clock.now().timestamp(),
        body: EventBody::AccountSynced {
            nickname: info.nickname.clone(),
            groups: info.groups.clone(),
            reconnected,
        },
        heard_by: None,
    };
    if let Err(e) = journal.submit(event).await {
        tracing::warn!(account = %info.account, "account sync not logged: {e}");
        return None;
    }
    tracing::info!(
        account = %info.account,
        groups = info.groups.len(),
        "account sync: {target} answered"
    );
    Some(info)
}

/// Managed groups none of `learnt` is in and no `account` is pinned for.
pub fn unreachable<'a>(
    config: &'a Config,
    learnt: &[AccountInfo],
) -> Vec<&'a crate::config::GroupConfig> {
    config
        .groups
        .iter()
        .filter(|g| g.account.is_none())
        .filter(|g| {
            !learnt
                .iter()
                .any(|i| i.groups.iter().any(|l| l.group == g.id))
        })
        .collect()
}

fn warn_unreachable(config: &Config, learnt: &[AccountInfo]) {
    for group in unreachable(config, learnt) {
        tracing::warn!(
            group = %group.id,
            "no known bot account is in managed group {} ({}): its scheduled posts, nudges and \
             packets will be missed (no_account) until an account in it answers the sync or \
             speaks there",
            group.id,
            group.name
        );
    }
}
