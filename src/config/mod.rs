//! `bot-config.toml`: parsed and validated as a whole into one immutable
//! [`Config`] snapshot, so a reload swaps everything or nothing.
//!
//! Two layers: [`raw`] is the file's shape (serde, unknown keys refused with their
//! position); [`Config::parse`] expands `${VAR}` references, applies the `QUNBOT_*`
//! overrides and checks what serde cannot, reporting every problem as
//! `FILE:LINE:COL: reason`.

mod checker;
mod community;
mod diff;
mod env;
mod flash_sale;
mod forecast;
mod gateway;
mod hint;
mod hygiene;
mod notify;
mod problem;
mod raw;
mod reactivation;
pub mod reload;
pub(crate) mod schedule;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use crate::domain::Id;
use checker::{Checker, Secrets};
pub use community::{
    Answer, CommandsConfig, CouponPool, JoinRequestsConfig, MismatchPolicy, PointsConfig,
    TaskConfig, Trigger, VerificationConfig, WelcomeConfig,
};
pub use env::Env;
pub use forecast::PlannedPost;
pub use gateway::{
    is_loopback, AccountGateway, Exposure, GatewayConfig, InsecureListen, OutboxConfig,
    StorageConfig,
};
pub use hygiene::{
    load_words, Escalation, FilterAction, FilterCategory, FilterConfig, Flood, DEFAULT_LABELS,
};
pub use notify::NotifyConfig;
pub use problem::{ConfigError, Location, Problem};
pub use raw::Transport;
use raw::{RawConfig, RawFilter, RawGroup};
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
        let mut check = Checker::new(&file, &text, &env, Secrets::Optional);
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
        let mut check = Checker::new(&file, text, env, secrets);
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

impl Checker<'_> {
    /// Every area's check in file order, so problems are reported in it.
    fn build(&mut self, path: &Path, raw: RawConfig) -> Option<Config> {
        let base = path.parent().unwrap_or(Path::new("."));
        let timezone = self.timezone(raw.timezone.as_ref());
        let gateway_span = raw.gateway.span();
        let g = raw.gateway.into_inner();
        let default_gateway = self.default_gateway(&g, gateway_span);
        let storage = self.storage(base, &raw.storage);
        let accounts = self.accounts(&g.accounts);
        let outbox = gateway::outbox(&raw.outbox);
        let groups = self.managed_groups(raw.groups);

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
        let filter = self.filter_beside_sales(base, raw.filter.as_ref(), flash_sales.as_deref());

        Some(Config {
            path: path.to_path_buf(),
            timezone: timezone?,
            gateway: default_gateway?.with(&g, accounts),
            storage: storage?,
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

    /// `timezone`, an IANA name; Asia/Shanghai when left out.
    fn timezone(&mut self, raw: Option<&Spanned<String>>) -> Option<chrono_tz::Tz> {
        match raw {
            None => Some(chrono_tz::Asia::Shanghai),
            Some(tz) => self.check(tz, |s| {
                chrono_tz::Tz::from_str(s).map_err(|_| {
                    format!("unknown time zone `{s}`; write an IANA name such as \"Asia/Shanghai\"")
                })
            }),
        }
    }

    /// `[[groups]]`: a group listed twice is a problem, and kept once.
    fn managed_groups(&mut self, raw: Vec<RawGroup>) -> Vec<GroupConfig> {
        let mut seen = HashSet::new();
        let mut groups = Vec::new();
        for group in raw {
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
        groups
    }

    /// `[filter]`, which lets the flash sales' own links through; `Some(None)`
    /// when there is none.
    fn filter_beside_sales(
        &mut self,
        base: &Path,
        raw: Option<&RawFilter>,
        flash_sales: Option<&[FlashSale]>,
    ) -> Option<Option<FilterConfig>> {
        let Some(f) = raw else {
            return Some(None);
        };
        let own: Vec<String> = flash_sales
            .into_iter()
            .flatten()
            .filter(|s| !s.link.is_empty())
            .map(|s| s.link.clone())
            .collect();
        self.filter(base, f, &own).map(Some)
    }
}

#[cfg(test)]
mod tests;
