//! `bot-config.toml`: parsed and validated as a whole into one immutable
//! [`Config`] snapshot, so a reload swaps everything or nothing.
//!
//! Two layers: [`raw`] is the file's shape (serde, unknown keys refused with their
//! position); [`Config::parse`] expands `${VAR}` references, applies the `QUNBOT_*`
//! overrides and checks what serde cannot, reporting every problem as
//! `FILE:LINE:COL: reason`.

mod community;
mod diff;
mod env;
mod forecast;
mod hint;
mod hygiene;
mod notify;
mod problem;
mod raw;
mod reactivation;
pub mod reload;
pub(crate) mod schedule;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use toml::Spanned;

use crate::domain::Id;
pub use community::{
    Answer, CommandsConfig, CouponPool, JoinRequestsConfig, MismatchPolicy, PointsConfig,
    TaskConfig, Trigger, VerificationConfig, WelcomeConfig,
};
pub use env::Env;
pub use forecast::PlannedPost;
pub use hygiene::{
    load_words, Escalation, FilterAction, FilterCategory, FilterConfig, Flood, DEFAULT_LABELS,
};
pub use notify::NotifyConfig;
pub use problem::{ConfigError, Location, Problem};
use raw::RawConfig;
pub use raw::Transport;
pub use reactivation::{ReactivationConfig, Variant, ZombieAction, NUDGE_VARS};
pub use schedule::{
    local_time, Announcement, FlashSale, Groups, PacketSpec, PaidBy, QuietHours, RedPacketsConfig,
    SalePhase, ScheduleConfig, SplitMethod, When, MAX_PACKET_SHARES,
};

/// The file the daemon reads when `--config` is not given.
pub const DEFAULT_PATH: &str = "bot-config.toml";

/// Environment variables that override the file, and what they override.
pub const OVERRIDES: [(&str, &str); 5] = [
    ("QUNBOT_GATEWAY_API_URL", "gateway.api_url"),
    ("QUNBOT_LISTEN", "gateway.listen"),
    ("QUNBOT_DATABASE", "storage.database"),
    ("QUNBOT_ACCESS_TOKEN", "gateway.access_token"),
    ("QUNBOT_SECRET", "gateway.secret"),
];

/// One validated configuration. Secrets print as `[REDACTED]` in `Debug`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file this was read from; relative paths inside it are resolved from its folder.
    pub path: PathBuf,
    pub timezone: chrono_tz::Tz,
    pub gateway: GatewayConfig,
    pub storage: StorageConfig,
    pub outbox: OutboxConfig,
    pub admins: AdminsConfig,
    pub groups: Vec<GroupConfig>,
    pub welcome: WelcomeConfig,
    pub join_requests: JoinRequestsConfig,
    pub verification: VerificationConfig,
    pub tasks: Vec<TaskConfig>,
    pub points: PointsConfig,
    /// Coupon pools by name.
    pub coupons: std::collections::BTreeMap<String, CouponPool>,
    pub commands: CommandsConfig,
    /// Quiet hours and the daily cap of automatic messages.
    pub schedule: ScheduleConfig,
    pub announcements: Vec<Announcement>,
    pub flash_sales: Vec<FlashSale>,
    pub red_packets: RedPacketsConfig,
    /// Nudging silent members, and zombies.
    pub reactivation: ReactivationConfig,
    /// Who hears about what went wrong ([`crate::features::notify`]).
    pub notify: NotifyConfig,

    /// The sensitive-word filter, when `[filter]` is configured.
    pub filter: Option<FilterConfig>,
    /// Things worth telling the operator that do not stop the config from loading.
    pub warnings: Vec<Problem>,
    /// A digest per section and named file, to tell what a reload changed.
    sections: std::collections::BTreeMap<String, u64>,
}

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

#[derive(Clone, Debug)]
pub struct AdminsConfig {
    /// Operators: may command every managed group.
    pub users: Vec<Id>,
    /// Whether a group's owner and admins may command their own group.
    pub trust_group_roles: bool,
}

#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub id: Id,
    pub name: String,
    /// `Some(false)` switches the welcome off in this group.
    pub welcome: Option<bool>,
    pub rules: Option<String>,
    /// The account that speaks in this group, when several of the shop's
    /// accounts are in it.
    pub account: Option<Id>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse(path, &text, env)
    }

    /// Reads only the `[filter]` section of the file at `path` (and the word
    /// list it names): what `qunbot scan` needs. Nothing else is checked and no
    /// environment variable is read, so a shell without the daemon's secrets
    /// can try the filter. `None` when the file has no `[filter]`.
    pub fn load_filter(path: &Path) -> Result<Option<FilterConfig>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        let file = path.display().to_string();
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            ConfigError::Invalid(vec![Problem::at_span(&file, &text, e.span(), e.message())])
        })?;
        let Some(raw_filter) = &raw.filter else {
            return Ok(None);
        };
        let env = Env::default();
        let mut check = Checker {
            file: &file,
            text: &text,
            env: &env,
            problems: Vec::new(),
            warnings: Vec::new(),
            secrets: Secrets::Optional,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        // Read alone, the filter does not know the flash sales' own links.
        match check.filter(base, raw_filter, &[]) {
            Some(filter) if check.problems.is_empty() => Ok(Some(filter)),
            _ => Err(ConfigError::Invalid(check.problems)),
        }
    }

    /// Reads the file at `path` for a command that only reads (`check`,
    /// `status`, `report`): a secret whose `${VAR}` is not set is a warning,
    /// not an error, so the operator's shell needs none of the daemon's
    /// secrets to look. The daemon itself loads with [`Config::load`].
    pub fn load_for_reading(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse_as(path, &text, env, Secrets::Optional)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str, env: &Env) -> Result<Config, ConfigError> {
        Config::parse_as(path, text, env, Secrets::Required)
    }

    fn parse_as(
        path: &Path,
        text: &str,
        env: &Env,
        secrets: Secrets,
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Invalid(vec![hint::syntax(&file, text, &e)]))?;
        let mut check = Checker {
            file: &file,
            text,
            env,
            problems: Vec::new(),
            warnings: Vec::new(),
            secrets,
        };
        let config = check.build(path, raw);
        match config {
            Some(mut config) if check.problems.is_empty() => {
                config.sections = diff::digests(text, &config);
                Ok(config)
            }
            _ => Err(ConfigError::Invalid(check.problems)),
        }
    }

    pub fn group(&self, id: &Id) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| &g.id == id)
    }

    /// Groups not listed in the config are logged but never acted in.
    pub fn is_managed(&self, group: &Id) -> bool {
        self.group(group).is_some()
    }

    /// Whether newcomers to `group` are welcomed.
    pub fn welcomes_in(&self, group: &Id) -> bool {
        self.group(group)
            .and_then(|g| g.welcome)
            .unwrap_or(self.welcome.enabled)
    }

    /// The rules text of `group`.
    pub fn rules_of(&self, group: &Id) -> &str {
        self.group(group)
            .and_then(|g| g.rules.as_deref())
            .unwrap_or(&self.commands.rules)
    }

    /// The display name of `group`.
    pub fn group_name(&self, group: &Id) -> String {
        self.group(group)
            .map_or_else(|| group.to_string(), |g| g.name.clone())
    }

    /// Whether `user` is an operator (admin in every managed group).
    pub fn is_operator(&self, user: &Id) -> bool {
        self.admins.users.contains(user)
    }

    /// Whether the daemon may start with this config, and how exposed its webhook
    /// is. Without a secret, a non-loopback `gateway.listen` is refused unless
    /// `insecure` (the `--insecure` flag of `qunbot run`) says the operator means it.
    pub fn exposure(&self, insecure: bool) -> Result<Exposure, InsecureListen> {
        let listen = self.gateway.listen;
        // The webhook checks the secret; the reverse WebSocket the access token.
        let missing = if self.gateway.secret.is_none() {
            Some("no gateway.secret (QUNBOT_SECRET, the gateway's HTTP POST secret) is set")
        } else if self.gateway.transport == Transport::WsReverse
            && self.gateway.access_token.is_none()
        {
            Some("no gateway.access_token is set for the reverse WebSocket")
        } else {
            None
        };
        match (missing, is_loopback(&listen)) {
            (None, _) => Ok(Exposure::Signed),
            (Some(_), true) => Ok(Exposure::UnsignedLoopback),
            (Some(_), false) if insecure => Ok(Exposure::UnsignedExposed),
            (Some(missing), false) => Err(InsecureListen { listen, missing }),
        }
    }

    /// Settings that changed between two snapshots but only take effect on restart.
    pub fn needs_restart_for(&self, newer: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.gateway.listen != newer.gateway.listen {
            changed.push("gateway.listen");
        }
        if self.gateway.header_timeout != newer.gateway.header_timeout {
            changed.push("gateway.header_timeout");
        }
        if self.gateway.max_connections != newer.gateway.max_connections {
            changed.push("gateway.max_connections");
        }
        if self.storage.database != newer.storage.database {
            changed.push("storage.database");
        }
        if self.storage.busy_timeout != newer.storage.busy_timeout {
            changed.push("storage.busy_timeout");
        }
        changed
    }

    /// A one-line description for `qunbot check` and the start-up log.
    pub fn summary(&self) -> String {
        let filter = self.filter.as_ref().map_or_else(
            || "no word filter".to_string(),
            |f| {
                format!(
                    "word filter {} words ({:.1} MiB)",
                    f.filter.len(),
                    f.filter.memory_usage() as f64 / (1024.0 * 1024.0)
                )
            },
        );
        format!(
            "{}: valid; {} managed group(s), {} operator(s), {filter}, gateway {}, webhook on {}, database {}",
            self.path.display(),
            self.groups.len(),
            self.admins.users.len(),
            self.gateway.api_url,
            self.gateway.listen,
            self.storage.database.display()
        )
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

/// Collects problems while turning the raw file into a `Config`.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    env: &'a Env,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    secrets: Secrets,
}

/// Whether a secret whose `${VAR}` is not set stops the config from loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Secrets {
    /// The daemon: it cannot authenticate without them.
    Required,
    /// A command that only reads: a warning, and no secret.
    Optional,
}

impl Checker<'_> {
    fn build(&mut self, path: &Path, raw: RawConfig) -> Option<Config> {
        let base = path.parent().unwrap_or(Path::new("."));
        let timezone = match &raw.timezone {
            None => Some(chrono_tz::Asia::Shanghai),
            Some(tz) => self.check(tz, |s| {
                chrono_tz::Tz::from_str(s).map_err(|_| {
                    format!("unknown time zone `{s}`; write an IANA name such as \"Asia/Shanghai\"")
                })
            }),
        };

        let gateway_span = raw.gateway.span();
        let g = raw.gateway.into_inner();
        let api_url = self.setting(
            "QUNBOT_GATEWAY_API_URL",
            g.api_url.as_ref(),
            "http://127.0.0.1:5700",
            |s| {
                let url = reqwest::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
                match url.scheme() {
                    "http" | "https" => Ok(url),
                    other => Err(format!(
                        "the gateway URL must be http or https, not {other}"
                    )),
                }
            },
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
        let database = self.setting(
            "QUNBOT_DATABASE",
            raw.storage.database.as_ref(),
            "qunbot.db",
            |s| {
                let path = base.join(s);
                match path.parent() {
                    _ if s.is_empty() => Err("the database path is empty".to_string()),
                    Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => Err(
                        format!("the database's folder {} does not exist", folder.display()),
                    ),
                    _ => Ok(path),
                }
            },
        );
        let mut accounts = Vec::new();
        let mut seen_accounts = HashSet::new();
        for account in &g.accounts {
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

        let o = raw.outbox;
        let d = OutboxConfig::default();
        let outbox = OutboxConfig {
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
        };

        let mut seen = HashSet::new();
        let mut groups = Vec::new();
        for group in raw.groups {
            let id = group.id.get_ref().clone();
            if !seen.insert(id.clone()) {
                self.problem(&group.id, format!("group {id} is listed twice"));
                continue;
            }
            groups.push(GroupConfig {
                name: group.name.unwrap_or_else(|| id.to_string()),
                id,
                welcome: group.welcome,
                rules: group.rules,
                account: group.account,
            });
        }

        let coupons = self.coupons(base, &raw.coupons);
        let empty = std::collections::BTreeMap::new();
        let pools = coupons.as_ref().unwrap_or(&empty);
        let welcome = self.welcome(&raw.welcome, pools);
        let join_requests = self.join_requests(&raw.join_requests);
        let verification = self.verification(&raw.verification);
        let tasks = self.tasks(&raw.tasks, pools);
        let points = self.points(&raw.points);
        let commands = self.commands(&raw.commands);
        let schedule = self.schedule(&raw.schedule);
        let tz = timezone.unwrap_or(chrono_tz::Asia::Shanghai);
        let red_packets = self.red_packets(&raw.red_packets);
        let reactivation = self.reactivation(raw.reactivation.as_ref(), pools);
        let max_points = red_packets.as_ref().map_or(u32::MAX, |r| r.max_points);
        let announcements = self.announcements(&raw.announcements, tz, &groups, max_points);
        let flash_sales = self.flash_sales(&raw.flash_sales, tz, chrono::Utc::now(), &groups);
        let notify = self.notify(&raw.notify, &raw.admins.users, &groups);

        let filter = match &raw.filter {
            Some(f) => {
                let own: Vec<String> = flash_sales
                    .iter()
                    .flatten()
                    .filter(|s| !s.link.is_empty())
                    .map(|s| s.link.clone())
                    .collect();
                self.filter(base, f, &own).map(Some)
            }
            None => Some(None),
        };

        Some(Config {
            path: path.to_path_buf(),
            timezone: timezone?,
            gateway: GatewayConfig {
                api_url: api_url?,
                access_token: access_token?,
                listen: listen?,
                secret: secret?,
                timeout: g.timeout.map_or(Duration::from_secs(10), |d| d.0),
                header_timeout: g.header_timeout.map_or(Duration::from_secs(10), |d| d.0),
                body_timeout: g.body_timeout.map_or(Duration::from_secs(10), |d| d.0),
                max_connections: g.max_connections.map_or(256, |n| n.get() as usize),
                accounts,
                transport: g.transport.unwrap_or_default(),
                sync_interval: g.sync_interval.map_or(Duration::from_secs(3600), |d| d.0),
            },
            storage: StorageConfig {
                database: database?,
                busy_timeout: raw
                    .storage
                    .busy_timeout
                    .map_or(crate::store::DEFAULT_BUSY_TIMEOUT, |d| d.0),
            },
            outbox,
            admins: AdminsConfig {
                users: raw.admins.users,
                trust_group_roles: raw.admins.trust_group_roles.unwrap_or(true),
            },
            groups,
            welcome: welcome?,
            join_requests: join_requests?,
            verification: verification?,
            tasks: tasks?,
            points,
            coupons: coupons?,
            commands,
            schedule: schedule?,
            announcements: announcements?,
            flash_sales: flash_sales?,
            red_packets: red_packets?,
            reactivation: reactivation?,
            notify,

            filter: filter?,
            warnings: std::mem::take(&mut self.warnings),
            sections: Default::default(),
        })
    }

    fn problem<T>(&mut self, at: &Spanned<T>, reason: String) {
        self.problems.push(Problem::at_span(
            self.file,
            self.text,
            Some(at.span()),
            reason,
        ));
    }

    /// Expands `${VAR}` in a file value and validates it, recording a problem at its position.
    fn check<T>(
        &mut self,
        value: &Spanned<String>,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let expanded = env::expand(value.get_ref(), self.env).map_err(|e| e.to_string());
        match expanded.and_then(|s| validate(&s)) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.problem(value, reason);
                None
            }
        }
    }

    /// A setting the `var` environment variable overrides, else the file's value, else `default`.
    fn setting<T>(
        &mut self,
        var: &str,
        value: Option<&Spanned<String>>,
        default: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if let Some(from_env) = self.env.get(var) {
            return validate(from_env)
                .map_err(|reason| self.problems.push(Problem::in_env(var, reason)))
                .ok();
        }
        match value {
            Some(value) => self.check(value, validate),
            None => match validate(default) {
                Ok(v) => Some(v),
                Err(reason) => {
                    let problem = Problem::at_span(
                        self.file,
                        self.text,
                        None,
                        format!("default {default:?}: {reason}"),
                    );
                    self.problems.push(problem);
                    None
                }
            },
        }
    }

    /// A secret: the override variable, else the file's value, else none. Set but
    /// empty (`""`, or a `${VAR}` that expands to nothing) is a problem, never
    /// "none": an unset variable in a compose file or a blank secrets-manager entry
    /// yields `""`, and reading that as "no secret" would switch authentication off
    /// without a word. Leaving the key out is how to say "none".
    fn secret(
        &mut self,
        var: &str,
        value: Option<&Spanned<String>>,
        why_not_empty: &str,
    ) -> Option<Option<SecretString>> {
        if let Some(from_env) = self.env.get(var) {
            return non_empty(from_env, why_not_empty)
                .map_err(|reason| self.problems.push(Problem::in_env(var, reason)))
                .ok()
                .map(Some);
        }
        match value {
            Some(value) => self.secret_in_file(value, why_not_empty),
            None => Some(None),
        }
    }

    /// A secret written in the file (often as `${VAR}`).
    fn secret_in_file(
        &mut self,
        value: &Spanned<String>,
        why_not_empty: &str,
    ) -> Option<Option<SecretString>> {
        if self.secrets == Secrets::Optional {
            if let Err(env::ExpandError::Unset(name)) = env::expand(value.get_ref(), self.env) {
                self.warnings.push(Problem::at_span(
                    self.file,
                    self.text,
                    Some(value.span()),
                    format!(
                        "warning: environment variable {name} is not set; this command reads \
                         without it, but `qunbot run` needs it。{}",
                        hint::unset_variable(&name)
                    ),
                ));
                return Some(None);
            }
        }
        self.check(value, |s| non_empty(s, why_not_empty)).map(Some)
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

fn non_empty(value: &str, why: &str) -> Result<SecretString, String> {
    if value.is_empty() {
        Err(why.to_string())
    } else {
        Ok(SecretString::from(value))
    }
}

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

#[cfg(test)]
mod tests;
