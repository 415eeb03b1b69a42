//! `[gateway]`, `[storage]` and `[outbox]`: where qunbot talks to the
//! gateways, where it keeps its data, how fast it sends; and who may push
//! events to the webhook unchecked.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::raw::{RawAccount, RawGateway, RawOutbox, RawStorage, Transport};
use super::{Checker, Problem};
use crate::domain::Id;

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Base URL of the gateway's OneBot HTTP API.
    pub api_url: reqwest::Url,
    /// Sent as `Authorization: Bearer` on every API call. Never empty, like `secret`.
    pub access_token: Option<SecretString>,
    /// Where qunbot's webhook listens for pushed events.
    pub listen: SocketAddr,
    /// Key of the `X-Signature` HMAC on pushed events; unsigned pushes are refused when set.
    /// Never `Some("")`: a secret written but empty is a config error (see
    /// [`Config::parse`]), so `None` always means the operator left it out.
    pub secret: Option<SecretString>,
    /// Time limit of one API call.
    pub timeout: Duration,
    /// A webhook connection that has not sent a whole request head this long
    /// after it opened (or since its last request) is closed.
    pub header_timeout: Duration,
    /// A pushed event's body must arrive within this, or the answer is 408.
    pub body_timeout: Duration,
    /// Webhook connections served at once; more wait until one closes.
    pub max_connections: usize,
    /// Bot accounts served by another gateway than `api_url` (one gateway per
    /// account is common: each NapCat or bridge instance logs in one account).
    pub accounts: Vec<AccountGateway>,
    /// How the default gateway talks to qunbot: over HTTP (`api_url` and the
    /// webhook), or by dialling qunbot's reverse WebSocket. Accounts listed in
    /// `accounts` always use their own HTTP `api_url`.
    pub transport: Transport,
    /// How often each gateway is asked which account it is and which groups it
    /// is in (also at start and on every WebSocket connect).
    pub sync_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct AccountGateway {
    pub self_id: Id,
    pub api_url: reqwest::Url,
    pub access_token: Option<SecretString>,
}

impl GatewayConfig {
    /// Whether `account`'s calls go over its reverse WebSocket rather than HTTP.
    pub fn over_socket(&self, account: &Id) -> bool {
        self.transport == Transport::WsReverse
            && !self.accounts.iter().any(|a| &a.self_id == account)
    }

    /// The HTTP gateways the account sync asks, each as (URL, token): the
    /// default one unless the default transport is the reverse WebSocket, and
    /// each listed account's own.
    pub fn http_gateways(&self) -> Vec<(&reqwest::Url, Option<&SecretString>)> {
        let default = (self.transport == Transport::Http)
            .then_some((&self.api_url, self.access_token.as_ref()));
        default
            .into_iter()
            .chain(
                self.accounts
                    .iter()
                    .map(|a| (&a.api_url, a.access_token.as_ref())),
            )
            .collect()
    }

    /// The API URL and token to use for `account`'s calls.
    pub fn endpoint_for(&self, account: &Id) -> (&reqwest::Url, Option<&SecretString>) {
        match self.accounts.iter().find(|a| &a.self_id == account) {
            Some(a) => (&a.api_url, a.access_token.as_ref()),
            None => (&self.api_url, self.access_token.as_ref()),
        }
    }
}

/// Who can push events to the webhook unchecked, as `qunbot run` decides at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// A secret is set: unsigned and forged pushes are refused.
    Signed,
    /// No secret, but `gateway.listen` is a loopback address: only this machine
    /// can push, which is how a gateway on the same host is usually wired.
    UnsignedLoopback,
    /// No secret on an address other machines may reach, allowed by `--insecure`:
    /// anyone who reaches it can forge joins, messages and admin commands.
    UnsignedExposed,
}

/// Why `qunbot run` refuses to start: the webhook would take unsigned events from
/// the network. Refused rather than warned about, because a warning in a log
/// nobody reads does not stop forged admin commands.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to start: gateway.listen is {listen}, which is not a loopback address, and {missing}, \
     so anyone who can reach it could push forged events (fake joins, admin commands). Set it, \
     or pass --insecure to run without those checks anyway"
)]
pub struct InsecureListen {
    pub listen: SocketAddr,
    /// What is not set.
    pub missing: &'static str,
}

/// Whether only this machine can connect to `addr` (`127.0.0.0/8`, `::1`, and
/// IPv4-mapped `::ffff:127.x`). `0.0.0.0` and `::` listen on every interface, so
/// they are not.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.to_canonical().is_loopback(),
    }
}

#[derive(Clone, Debug)]
pub struct StorageConfig {
    pub database: PathBuf,
    /// How long a write waits for a lock another process holds before it fails
    /// (the webhook then answers 503).
    pub busy_timeout: Duration,
}

/// How the outbox spreads and retries sends. The defaults are deliberately slow:
/// IM platforms ban accounts that post in bursts (see the README).
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// Least time between two chat messages to one group.
    pub group_interval: Duration,
    /// Least time between two API calls of one bot account.
    pub account_interval: Duration,
    /// First retry delay after the gateway was unreachable or answered 5xx; doubles each time.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// An action still undelivered this long after it was queued is marked failed.
    pub give_up_after: Duration,
    /// Most chat messages the bot queues for one group in any minute; what
    /// would exceed it is dropped with a log line, never queued for hours.
    pub group_messages_per_minute: u32,
    /// Most automatic messages one account sends in a local day, across groups.
    pub account_daily_cap: u32,
    /// Send timeouts (or risk-control answers) within `risk_window` that mark an
    /// account suspect.
    pub risk_timeouts: u32,
    pub risk_window: Duration,
    /// How long a suspect account's automatic messages pause (doubled on each
    /// repeat, up to a day).
    pub risk_pause: Duration,
}

impl Default for OutboxConfig {
    /// The shipped defaults: slow on purpose.
    fn default() -> Self {
        OutboxConfig {
            group_interval: Duration::from_secs(3),
            account_interval: Duration::from_millis(500),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(6 * 3600),
            group_messages_per_minute: 20,
            account_daily_cap: 300,
            risk_timeouts: 3,
            risk_window: Duration::from_secs(600),
            risk_pause: Duration::from_secs(3600),
        }
    }
}

fn gateway_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "the gateway URL must be http or https, not {other}"
        )),
    }
}

/// The default gateway's address, webhook and secrets, before the settings
/// that cannot be wrong are added ([`DefaultGateway::with`]).
pub(super) struct DefaultGateway {
    api_url: reqwest::Url,
    listen: SocketAddr,
    access_token: Option<SecretString>,
    secret: Option<SecretString>,
}

impl DefaultGateway {
    /// The whole `[gateway]`, with the other gateways' `accounts`.
    pub(super) fn with(self, g: &RawGateway, accounts: Vec<AccountGateway>) -> GatewayConfig {
        GatewayConfig {
            api_url: self.api_url,
            access_token: self.access_token,
            listen: self.listen,
            secret: self.secret,
            timeout: g.timeout.map_or(Duration::from_secs(10), |d| d.0),
            header_timeout: g.header_timeout.map_or(Duration::from_secs(10), |d| d.0),
            body_timeout: g.body_timeout.map_or(Duration::from_secs(10), |d| d.0),
            max_connections: g.max_connections.map_or(256, |n| n.get() as usize),
            accounts,
            transport: g.transport.unwrap_or_default(),
            sync_interval: g.sync_interval.map_or(Duration::from_secs(3600), |d| d.0),
        }
    }
}

impl Checker<'_> {
    /// The default gateway's settings and secrets, each overridable from the
    /// environment; warns when no secret signs the webhook's events.
    pub(super) fn default_gateway(
        &mut self,
        g: &RawGateway,
        gateway_span: Range<usize>,
    ) -> Option<DefaultGateway> {
        let api_url = self.setting(
            "QUNBOT_GATEWAY_API_URL",
            g.api_url.as_ref(),
            "http://127.0.0.1:5700",
            gateway_url,
        );
        let listen = self.setting("QUNBOT_LISTEN", g.listen.as_ref(), "127.0.0.1:8080", |s| {
            SocketAddr::from_str(s)
                .map_err(|_| format!("`{s}` is not an address:port such as \"127.0.0.1:8080\""))
        });
        let access_token = self.secret(
            "QUNBOT_ACCESS_TOKEN",
            g.access_token.as_ref(),
            EMPTY_ACCESS_TOKEN,
        );
        let secret = self.secret("QUNBOT_SECRET", g.secret.as_ref(), EMPTY_SECRET);
        // Only when the file leaves it out: one whose `${VAR}` is unset in a
        // reading command's shell has its own warning.
        if let (Some(None), Some(listen), None) = (&secret, &listen, &g.secret) {
            let reason = unsigned_warning(listen);
            self.warnings.push(Problem::at_span(
                self.file,
                self.text,
                Some(gateway_span),
                reason,
            ));
        }
        Some(DefaultGateway {
            api_url: api_url?,
            listen: listen?,
            access_token: access_token?,
            secret: secret?,
        })
    }

    /// `[storage]`: the database path is resolved from the config's folder `base`.
    pub(super) fn storage(&mut self, base: &Path, raw: &RawStorage) -> Option<StorageConfig> {
        let database = self.setting("QUNBOT_DATABASE", raw.database.as_ref(), "qunbot.db", |s| {
            let path = base.join(s);
            match path.parent() {
                _ if s.is_empty() => Err("the database path is empty".to_string()),
                Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => Err(format!(
                    "the database's folder {} does not exist",
                    folder.display()
                )),
                _ => Ok(path),
            }
        });
        Some(StorageConfig {
            database: database?,
            busy_timeout: raw
                .busy_timeout
                .map_or(crate::store::DEFAULT_BUSY_TIMEOUT, |d| d.0),
        })
    }

    /// `[[gateway.accounts]]`: the accounts served by their own gateway; one
    /// listed twice, or with a bad URL or token, is left out with its problem.
    pub(super) fn accounts(&mut self, raw: &[RawAccount]) -> Vec<AccountGateway> {
        let mut accounts = Vec::new();
        let mut seen_accounts = HashSet::new();
        for account in raw {
            let self_id = account.self_id.get_ref().clone();
            if !seen_accounts.insert(self_id.clone()) {
                self.problem(
                    &account.self_id,
                    format!("account {self_id} is listed twice"),
                );
                continue;
            }
            let api_url = self.check(&account.api_url, gateway_url);
            let access_token = match &account.access_token {
                Some(token) => self.secret_in_file(token, EMPTY_ACCESS_TOKEN),
                None => Some(None),
            };
            if let (Some(api_url), Some(access_token)) = (api_url, access_token) {
                accounts.push(AccountGateway {
                    self_id,
                    api_url,
                    access_token,
                });
            }
        }
        accounts
    }
}

/// `[outbox]`: every setting has a default and none can be wrong.
pub(super) fn outbox(o: &RawOutbox) -> OutboxConfig {
    let d = OutboxConfig::default();
    OutboxConfig {
        group_interval: o.group_interval.map_or(d.group_interval, |v| v.0),
        account_interval: o.account_interval.map_or(d.account_interval, |v| v.0),
        retry_initial: o.retry_initial.map_or(d.retry_initial, |v| v.0),
        retry_max: o.retry_max.map_or(d.retry_max, |v| v.0),
        give_up_after: o.give_up_after.map_or(d.give_up_after, |v| v.0),
        group_messages_per_minute: o
            .group_messages_per_minute
            .unwrap_or(d.group_messages_per_minute),
        account_daily_cap: o.account_daily_cap.unwrap_or(d.account_daily_cap),
        risk_timeouts: o.risk_timeouts.map_or(d.risk_timeouts, |n| n.get()),
        risk_window: o.risk_window.map_or(d.risk_window, |v| v.0),
        risk_pause: o.risk_pause.map_or(d.risk_pause, |v| v.0),
    }
}

/// Why an empty `gateway.secret` / `QUNBOT_SECRET` is refused.
const EMPTY_SECRET: &str = "the secret is empty, which would accept unsigned events; set the \
     gateway's HTTP POST secret, or leave gateway.secret and QUNBOT_SECRET out entirely to run \
     without signature checks";

/// Why an empty access token is refused. Treated like the secret: an empty token
/// is almost always a variable that was meant to be set, and sending
/// `Authorization: Bearer ` would look configured while authenticating nothing.
const EMPTY_ACCESS_TOKEN: &str = "the access token is empty; set the gateway's access_token, \
     or leave the access_token key (and QUNBOT_ACCESS_TOKEN) out if the gateway has none";

/// The `qunbot check` warning for a config without a secret: it still loads
/// (a gateway on the same host may have no secret), but the operator should know.
fn unsigned_warning(listen: &SocketAddr) -> String {
    let run = if is_loopback(listen) {
        format!(
            "{listen} is loopback, so only this machine can push; `qunbot run` refuses a \
             non-loopback gateway.listen without a secret unless given --insecure"
        )
    } else {
        format!(
            "`qunbot run` will refuse to listen on {listen}, which is not a loopback address, \
             unless given --insecure"
        )
    };
    format!(
        "warning: no gateway.secret (or QUNBOT_SECRET) is set, so unsigned events pushed to \
         the webhook will be accepted; {run}"
    )
}
