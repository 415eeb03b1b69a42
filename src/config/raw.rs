//! The file's shape, as operators write it. `Config::parse` turns it into the
//! validated [`Config`](super::Config).

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::domain::Id;

/// A human duration (`"2s"`, `"10m"`, `"7d"`, `"1h 30m"`, `"15分钟"`, `"1小时30分钟"`).
#[derive(Clone, Copy, Debug)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::domain::duration::parse(&text)
            .map(HumanDuration)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration; write e.g. \"30s\", \"10m\", \"7d\"。提示：时长可写成 {}",
                    crate::domain::duration::FORMS
                ))
            })
    }
}

/// A [`HumanDuration`] that must be more than zero: a time limit of `"0s"`
/// would refuse everything it limits.
#[derive(Clone, Copy, Debug)]
pub struct TimeLimit(pub Duration);

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let HumanDuration(d) = HumanDuration::deserialize(deserializer)?;
        if d.is_zero() {
            return Err(serde::de::Error::custom(
                "a time limit of zero would refuse everything; write e.g. \"10s\"",
            ));
        }
        Ok(TimeLimit(d))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub timezone: Option<Spanned<String>>,
    /// Spanned so that a warning about what the table lacks can point at it.
    pub gateway: Spanned<RawGateway>,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub outbox: RawOutbox,
    #[serde(default)]
    pub admins: RawAdmins,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub welcome: RawWelcome,
    #[serde(default)]
    pub join_requests: RawJoinRequests,
    #[serde(default)]
    pub verification: RawVerification,
    #[serde(default)]
    pub tasks: Vec<RawTask>,
    #[serde(default)]
    pub points: RawPoints,
    #[serde(default)]
    pub coupons: std::collections::BTreeMap<String, RawCouponPool>,
    #[serde(default)]
    pub commands: RawCommands,
    #[serde(default)]
    pub schedule: RawSchedule,
    #[serde(default)]
    pub announcements: Vec<RawAnnouncement>,
    #[serde(default)]
    pub flash_sales: Vec<RawFlashSale>,
    #[serde(default)]
    pub red_packets: RawRedPackets,
    pub reactivation: Option<Spanned<RawReactivation>>,
    #[serde(default)]
    pub notify: super::notify::RawNotify,

    pub filter: Option<RawFilter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    pub words_file: Spanned<String>,
    #[serde(default)]
    pub exempt: Vec<Id>,
    #[serde(default)]
    pub normalize: RawNormalize,
    #[serde(default)]
    pub categories: std::collections::BTreeMap<String, RawCategory>,
    pub escalation: Option<RawEscalation>,
    #[serde(default)]
    pub links: RawLinks,
    pub flood: Option<RawFlood>,
    pub warn_window: Option<HumanDuration>,
    /// `"recall"` (default) or `"allow"`: what becomes of members' phone numbers.
    pub phones: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinks {
    pub enabled: Option<bool>,
    /// Read QR codes in members' images (default true).
    pub qr_codes: Option<bool>,
    /// Extra rules: name = "regex".
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, Spanned<String>>,
    /// Domains whose links are welcome (`*.` for subdomains too).
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlood {
    pub messages: u32,
    pub within: HumanDuration,
    pub repeats: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNormalize {
    pub compatibility: Option<bool>,
    pub case: Option<bool>,
    pub traditional: Option<bool>,
    pub skip: Option<bool>,
    pub repeats: Option<bool>,
    pub lookalikes: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    /// What members read for the category in a warning (`广告`).
    pub label: Option<String>,
    /// Default: recall and warn.
    pub actions: Option<Spanned<Vec<String>>>,
    pub mute: Option<HumanDuration>,
    #[serde(default)]
    pub dry_run: bool,
    /// `full`, `initials` or `off`: which pinyin forms of the category's words hit.
    pub pinyin: Option<Spanned<String>>,
    /// Whether a common character of the same sound swapped into one of the
    /// category's words (three characters or more) still hits. Default false.
    #[serde(default)]
    pub homophones: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    pub strikes: u32,
    pub window: HumanDuration,
    pub then: Spanned<String>,
    pub mute: Option<HumanDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Onebot11,
}

/// How the default gateway reaches qunbot: `"http"` (HTTP POST in, HTTP API out)
/// or `"ws-reverse"` (the bridge dials qunbot's WebSocket).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    #[default]
    Http,
    WsReverse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    #[allow(dead_code)] // one protocol so far; the key is there so configs say which
    pub protocol: Option<Protocol>,
    pub api_url: Option<Spanned<String>>,
    pub access_token: Option<Spanned<String>>,
    pub listen: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub timeout: Option<TimeLimit>,
    pub header_timeout: Option<TimeLimit>,
    pub body_timeout: Option<TimeLimit>,
    pub max_connections: Option<std::num::NonZeroU32>,
    pub transport: Option<Transport>,
    pub sync_interval: Option<TimeLimit>,
    #[serde(default)]
    pub accounts: Vec<RawAccount>,
}

/// A bot account whose gateway is not the default one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub self_id: Spanned<Id>,
    pub api_url: Spanned<String>,
    pub access_token: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub database: Option<Spanned<String>>,
    pub busy_timeout: Option<TimeLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbox {
    pub group_interval: Option<HumanDuration>,
    pub account_interval: Option<HumanDuration>,
    pub retry_initial: Option<HumanDuration>,
    pub retry_max: Option<HumanDuration>,
    pub give_up_after: Option<HumanDuration>,
    pub group_messages_per_minute: Option<u32>,
    pub account_daily_cap: Option<u32>,
    pub risk_timeouts: Option<std::num::NonZeroU32>,
    pub risk_window: Option<TimeLimit>,
    pub risk_pause: Option<TimeLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmins {
    #[serde(default)]
    pub users: Vec<Id>,
    pub trust_group_roles: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub id: Spanned<Id>,
    pub name: Option<String>,
    /// Switches the welcome off (or on) for this group.
    pub welcome: Option<bool>,
    /// This group's rules, for `/rules` and `{rules}`.
    pub rules: Option<String>,
    /// The account that speaks in this group.
    pub account: Option<Id>,
}

/// `{ keyword = "..." }` or `{ regex = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnswer {
    pub keyword: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWelcome {
    pub enabled: Option<bool>,
    pub batch_window: Option<HumanDuration>,
    pub template: Option<Spanned<String>>,
    pub rejoin_window: Option<HumanDuration>,
    pub coupon: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnMismatch {
    Reject,
    Ignore,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJoinRequests {
    pub answer: Option<Spanned<RawAnswer>>,
    pub on_mismatch: Option<OnMismatch>,
    pub reject_reason: Option<String>,
    #[serde(default)]
    pub blocklist: Vec<Id>,
    pub blocked_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerification {
    pub enabled: Option<bool>,
    pub prompt: Option<Spanned<String>>,
    pub answer: Option<Spanned<RawAnswer>>,
    pub timeout: Option<HumanDuration>,
    pub exempt_invited: Option<bool>,
    pub passed_reply: Option<Spanned<String>>,
    pub removed_notice: Option<Spanned<String>>,
}

/// One of `{ keyword = "..." }`, `{ first_message = true }`, `{ command = "checkin" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub keyword: Option<String>,
    pub first_message: Option<bool>,
    pub command: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReward {
    #[serde(default)]
    pub points: i64,
    pub coupon: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub done_when: Spanned<RawTrigger>,
    #[serde(default)]
    pub reward: RawReward,
    pub remind_after: Option<HumanDuration>,
    pub remind: Option<Spanned<String>>,
    pub expires_after: Option<HumanDuration>,
    pub done_reply: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoints {
    pub checkin: Option<i64>,
    pub streak_bonus: Option<i64>,
    pub streak_cap: Option<u32>,
    pub rank_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCouponPool {
    pub file: Spanned<String>,
    pub title: Option<String>,
    pub low_warning: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommands {
    pub cooldown: Option<HumanDuration>,
    pub rules: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub quiet_hours: Option<Spanned<String>>,
    pub daily_cap: Option<u32>,
    pub stagger: Option<HumanDuration>,
}

/// `"all"` or a list of group ids.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawGroups {
    Word(String),
    List(Vec<Id>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedPacketSpec {
    pub points: u32,
    pub shares: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnnouncement {
    pub id: Spanned<String>,
    pub cron: Option<Spanned<String>>,
    pub at: Option<Spanned<String>>,
    pub groups: Option<Spanned<RawGroups>>,
    pub text: Spanned<String>,
    pub grace: Option<HumanDuration>,
    pub red_packet: Option<Spanned<RawRedPacketSpec>>,
    /// `false`: posts even in `schedule.quiet_hours`.
    pub quiet_hours: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlashSale {
    pub id: Spanned<String>,
    pub title: String,
    pub price: Option<String>,
    pub link: Option<String>,
    pub starts_at: Spanned<String>,
    pub duration: HumanDuration,
    #[serde(default)]
    pub remind_before: Vec<HumanDuration>,
    pub last_call: Option<HumanDuration>,
    pub groups: Option<Spanned<RawGroups>>,
    /// `false`: posts even in `schedule.quiet_hours`.
    pub quiet_hours: Option<bool>,
    /// The posts' templates. A table of their own because `last_call` already
    /// names the last call's lead time.
    #[serde(default)]
    pub texts: RawSaleTexts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSaleTexts {
    pub preview: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    pub last_call: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedPackets {
    pub grab_word: Option<Spanned<String>>,
    pub expires_after: Option<HumanDuration>,
    pub split: Option<Spanned<String>>,
    pub max_points: Option<Spanned<u32>>,
    pub answer_window: Option<HumanDuration>,
    pub paid_by: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReactivation {
    pub enabled: Option<bool>,
    pub silent_after: Option<HumanDuration>,
    pub scan: Option<Spanned<String>>,
    pub min_gap: Option<HumanDuration>,
    pub max_nudges: Option<u32>,
    pub per_message: Option<Spanned<u32>>,
    pub success_within: Option<HumanDuration>,
    pub holdout: Option<Spanned<f64>>,
    #[serde(default)]
    pub variants: Vec<RawVariant>,
    #[serde(default)]
    pub exempt: Vec<Id>,
    pub zombie_after: Option<HumanDuration>,
    pub zombie_action: Option<Spanned<String>>,
    pub zombie_max_per_run: Option<u32>,
    pub nudge_interval: Option<HumanDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub id: Spanned<String>,
    pub text: Spanned<String>,
    pub coupon: Option<Spanned<String>>,
}
