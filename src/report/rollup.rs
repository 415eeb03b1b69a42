//! What each row of the log adds to the daily roll-up: plain code over rows, so
//! the store only reads rows and writes the sums. A [`Chunk`] gathers a run of
//! rows; membership (lists, joins, leaves) is kept in log order, because a head
//! count and a stay depend on what came before.
//!
//! The sources are the event log and the append-only ledgers beside it (points,
//! check-ins, coupon claims, strikes); each is read in id order, so the roll-up
//! of a log read in one chunk or in many is the same.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::metrics::{Counts, Metric};

/// A group on a calendar day.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DayKey {
    pub account: String,
    pub group: String,
    pub day: NaiveDate,
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberRef {
    pub account: String,
    pub group: String,
    pub user: String,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRef {
    pub account: String,
    pub group: String,
}

/// A change of membership, in log order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberOp {
    /// The gateway listed the group's members (the bot left out).
    Listed {
        group: GroupRef,
        day: NaiveDate,
        users: Vec<String>,
    },
    Joined {
        member: MemberRef,
        day: NaiveDate,
    },
    Left {
        member: MemberRef,
        day: NaiveDate,
    },
}

/// A row of the event log, as the roll-up reads it. `detail` is read only for
/// the kinds that need it (messages are counted from the columns alone).
#[derive(Clone, Debug)]
pub struct EventRow {
    pub at: DateTime<Utc>,
    pub direction: String,
    pub kind: String,
    pub account: Option<String>,
    pub group: Option<String>,
    pub user: Option<String>,
    pub detail: Option<Value>,
}

/// The kinds whose detail the roll-up reads.
pub const KINDS_WITH_DETAIL: &[&str] = &[
    "sync.member_list",
    "filter.hit",
    "action.set_group_ban",
    "action.set_group_kick",
    "action.send_group_msg",
    "schedule.sent",
    "schedule.missed",
    "redpacket.grabbed",
    "redpacket.finished",
    "reactivation.due",
    "reactivation.nudged",
    "reactivation.reactivated",
    "reactivation.expired",
    "reactivation.zombies",
    "command.refused",
    "command.unknown",
    "command.cooldown",
];

/// Breakdown metrics (the `metric` column of `rollup_breakdown`).
pub mod breakdown {
    pub const FILTER_CATEGORY: &str = "filter_hits_by_category";
    pub const FILTER_ACTION: &str = "filter_actions";
    pub const REFUSED: &str = "commands_refused_by_reason";
    pub const ADMIN: &str = "admin_commands_by_admin";
    pub const POSTS_SENT: &str = "posts_sent_by_kind";
    pub const POSTS_DELIVERED: &str = "posts_delivered_by_kind";
    pub const POSTS_FAILED: &str = "posts_failed_by_kind";
    pub const POSTS_MISSED: &str = "posts_missed_by_reason";
    /// Each announcement's or flash sale's posts, by schedule id (`a:…`, `s:…`).
    pub const SCHEDULE_SENT: &str = "posts_sent_by_schedule";
    pub const SCHEDULE_DELIVERED: &str = "posts_delivered_by_schedule";
    pub const SCHEDULE_FAILED: &str = "posts_failed_by_schedule";
    pub const SCHEDULE_MISSED: &str = "posts_missed_by_schedule";
    pub const POINTS: &str = "points_by_reason";
    pub const COUPONS: &str = "coupons_by_pool";
    pub const ARM_DUE: &str = "reactivation_due";
    pub const ARM_NUDGED: &str = "reactivation_nudged";
    pub const ARM_REACTIVATED: &str = "reactivation_reactivated";
    pub const ARM_EXPIRED: &str = "reactivation_expired";
}

/// The ledgers' reasons for red-packet points: moves between members, counted
/// as red packets rather than as points granted or spent.
const RED_PACKET_REASONS: &str = "red_packet.";

/// One member's messages on one day, as a chunk counted them. Ordered as the
/// speakers table is keyed: account, group, day, member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Spoke<'a> {
    pub account: &'a str,
    pub group: &'a str,
    pub day: NaiveDate,
    pub user: &'a str,
    pub messages: i64,
}

impl Spoke<'_> {
    pub fn key(&self) -> DayKey {
        DayKey {
            account: self.account.to_string(),
            group: self.group.to_string(),
            day: self.day,
        }
    }
}

/// Members' messages (most of the log): account → group → member → (day,
/// messages), nested so that counting a message allocates nothing once its
/// member is known.
#[derive(Debug, Default)]
pub struct Speech(Nested<Nested<Nested<Days>>>);

/// A member's messages per day, the latest last.
type Days = Vec<(NaiveDate, i64)>;

/// A map by name that looks a name up without copying it (`entry_ref`).
pub(crate) type Nested<T> = hashbrown::HashMap<String, T>;

impl Speech {
    fn add(&mut self, account: &str, group: &str, user: &str, day: NaiveDate) {
        let days = self
            .0
            .entry_ref(account)
            .or_default()
            .entry_ref(group)
            .or_default()
            .entry_ref(user)
            .or_default();
        // Rows come in time order: a member's latest day is nearly always last.
        match days.iter_mut().rev().find(|(d, _)| *d == day) {
            Some((_, n)) => *n += 1,
            None => days.push((day, 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every member's messages per day, in [`Spoke`]'s order.
    pub fn entries(&self) -> Vec<Spoke<'_>> {
        let mut all = Vec::new();
        for (account, groups) in &self.0 {
            for (group, users) in groups {
                for (user, days) in users {
                    all.extend(days.iter().map(|(day, messages)| Spoke {
                        account,
                        group,
                        day: *day,
                        user,
                        messages: *messages,
                    }));
                }
            }
        }
        all.sort_unstable();
        all
    }
}

/// What a run of rows adds to the roll-up.
#[derive(Debug)]
pub struct Chunk {
    tz: Tz,
    pub counts: HashMap<DayKey, Counts>,
    pub breakdown: HashMap<(DayKey, &'static str, String), i64>,
    /// Members' messages. The days' messages and speakers are summed from this
    /// where the rows are written (only there is it known who spoke before).
    pub spoke: Speech,
    pub membership: Vec<MemberOp>,
    /// The day of the last row's minute, for the rows that follow (they come in
    /// time order, so nearly every row's day is this one).
    day_cache: Option<(i64, NaiveDate)>,
}

impl Chunk {
    pub fn new(tz: Tz) -> Chunk {
        Chunk {
            tz,
            counts: HashMap::new(),
            breakdown: HashMap::new(),
            spoke: Speech::default(),
            membership: Vec::new(),
            day_cache: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
            && self.breakdown.is_empty()
            && self.spoke.is_empty()
            && self.membership.is_empty()
    }

    /// The calendar day of `at` in the report's time zone.
    pub fn day_of(&mut self, at: DateTime<Utc>) -> NaiveDate {
        // Every zone in use is offset by whole minutes, so a minute has one day.
        let minute = at.timestamp().div_euclid(60);
        if let Some((m, day)) = self.day_cache {
            if m == minute {
                return day;
            }
        }
        let day = at.with_timezone(&self.tz).date_naive();
        self.day_cache = Some((minute, day));
        day
    }

    fn add(&mut self, key: &DayKey, metric: Metric, n: i64) {
        if n != 0 {
            self.counts.entry(key.clone()).or_default()[metric] += n;
        }
    }

    fn add_by(&mut self, key: &DayKey, metric: &'static str, by: impl Into<String>, n: i64) {
        *self
            .breakdown
            .entry((key.clone(), metric, by.into()))
            .or_default() += n;
    }

    /// Adds a member's message (the bulk of the log, so the store hands it over
    /// without building an [`EventRow`]): the bot's own words are not the group's.
    pub fn add_message(&mut self, at: DateTime<Utc>, account: &str, group: &str, user: &str) {
        if user == account {
            return;
        }
        let day = self.day_of(at);
        self.spoke.add(account, group, user, day);
    }

    /// Adds one row of the event log. Rows without a group (heartbeats, config
    /// reloads) add nothing: every figure is a group's.
    pub fn add_event(&mut self, row: &EventRow) {
        let (Some(account), Some(group)) = (&row.account, &row.group) else {
            return;
        };
        let day = self.day_of(row.at);
        let key = DayKey {
            account: account.clone(),
            group: group.clone(),
            day,
        };
        let detail = row.detail.as_ref().unwrap_or(&Value::Null);
        let user = row.user.as_deref();
        // The bot's own words and comings and goings are not the group's.
        let by_member = user.is_some_and(|u| u != account);
        let member = |user: &str| MemberRef {
            account: account.clone(),
            group: group.clone(),
            user: user.to_string(),
        };
        match (row.direction.as_str(), row.kind.as_str()) {
            ("in", "message.group") => {
                if let Some(u) = user {
                    self.add_message(row.at, account, group, u);
                }
            }
            ("in", "notice.member_joined") if by_member => {
                self.add(&key, Metric::Joins, 1);
                if let Some(u) = user {
                    self.membership.push(MemberOp::Joined {
                        member: member(u),
                        day,
                    });
                }
            }
            ("in", "notice.member_left") if by_member => {
                self.add(&key, Metric::Leaves, 1);
                if let Some(u) = user {
                    self.membership.push(MemberOp::Left {
                        member: member(u),
                        day,
                    });
                }
            }
            ("in", "sync.member_list") => {
                let users = detail["body"]["members"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|m| id_text(&m["user"]))
                            .filter(|u| u != account)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                // An empty list is a gateway glitch (a group always lists the bot).
                if !users.is_empty() {
                    self.membership.push(MemberOp::Listed {
                        group: GroupRef {
                            account: account.clone(),
                            group: group.clone(),
                        },
                        day,
                        users,
                    });
                }
            }
            ("system", "task.handed_out") => self.add(&key, Metric::TasksHandedOut, 1),
            ("system", "task.done") => self.add(&key, Metric::TasksDone, 1),
            // People, not tasks: one row per newcomer given tasks, and per newcomer done with all.
            ("system", "task.newcomer") => self.add(&key, Metric::NewcomersTasked, 1),
            ("system", "task.finished") => self.add(&key, Metric::NewcomersFinished, 1),
            ("system", "filter.hit") => {
                self.add(&key, Metric::FilterHits, 1);
                let categories: HashSet<&str> = detail["hits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h["category"].as_str())
                    .collect();
                for c in categories {
                    self.add_by(&key, breakdown::FILTER_CATEGORY, c, 1);
                }
                for a in detail["actions"].as_array().into_iter().flatten() {
                    if let Some(a) = a.as_str() {
                        self.add_by(&key, breakdown::FILTER_ACTION, a, 1);
                    }
                }
            }
            ("out", "action.set_group_ban")
                if delivered(detail)
                    && detail["action"]["duration_secs"].as_u64().unwrap_or(0) > 0 =>
            {
                self.add(&key, Metric::Mutes, 1)
            }
            ("out", "action.set_group_kick") if delivered(detail) => {
                self.add(&key, Metric::Removals, 1)
            }
            ("out", "action.send_group_msg") => {
                let schedule = detail["tag"].as_str();
                if let Some((schedule, kind)) = schedule.and_then(|s| Some((s, post_kind(s)?))) {
                    if delivered(detail) {
                        self.add(&key, Metric::PostsDelivered, 1);
                        self.add_by(&key, breakdown::POSTS_DELIVERED, kind, 1);
                        self.add_by(&key, breakdown::SCHEDULE_DELIVERED, schedule, 1);
                    } else {
                        self.add(&key, Metric::PostsFailed, 1);
                        self.add_by(&key, breakdown::POSTS_FAILED, kind, 1);
                        self.add_by(&key, breakdown::SCHEDULE_FAILED, schedule, 1);
                    }
                }
            }
            ("system", kind @ ("command.refused" | "command.unknown" | "command.cooldown")) => {
                self.add(&key, Metric::CommandsRefused, 1);
                let reason = kind.trim_start_matches("command.");
                self.add_by(&key, breakdown::REFUSED, reason, 1);
            }
            ("system", "command.admin") => {
                self.add(&key, Metric::AdminCommands, 1);
                if let Some(u) = user {
                    self.add_by(&key, breakdown::ADMIN, u, 1);
                }
            }
            ("system", "schedule.sent") => {
                self.add(&key, Metric::PostsSent, 1);
                let schedule = detail["schedule"].as_str();
                let kind = schedule.and_then(post_kind);
                self.add_by(&key, breakdown::POSTS_SENT, kind.unwrap_or("other"), 1);
                if let Some(schedule) = schedule {
                    self.add_by(&key, breakdown::SCHEDULE_SENT, schedule, 1);
                }
            }
            ("system", "schedule.missed") => {
                self.add(&key, Metric::PostsMissed, 1);
                let reason = detail["reason"].as_str().unwrap_or("unknown");
                self.add_by(&key, breakdown::POSTS_MISSED, reason, 1);
                if let Some(schedule) = detail["schedule"].as_str() {
                    self.add_by(&key, breakdown::SCHEDULE_MISSED, schedule, 1);
                }
            }
            ("system", "redpacket.opened") => self.add(&key, Metric::RedPackets, 1),
            ("system", "redpacket.grabbed") => {
                self.add(&key, Metric::RedPacketGrabs, 1);
                let points = detail["points"].as_i64().unwrap_or(0);
                self.add(&key, Metric::RedPacketPaidOut, points);
            }
            ("system", "redpacket.finished") => {
                let refunded = detail["refunded"].as_i64().unwrap_or(0);
                self.add(&key, Metric::RedPacketRefunded, refunded);
            }
            ("system", "reactivation.due") => {
                // Rows written before the arm was logged with each are not guessed at.
                if let Some(arm) = detail["arm"].as_str() {
                    let n = detail["users"].as_array().map_or(0, Vec::len) as i64;
                    self.add_by(&key, breakdown::ARM_DUE, arm, n);
                }
            }
            ("system", "reactivation.nudged") => {
                // Rows written before the arm was logged with each are not guessed at.
                if let Some(arm) = detail["arm"].as_str() {
                    let n = detail["users"].as_array().map_or(0, Vec::len) as i64;
                    self.add_by(&key, breakdown::ARM_NUDGED, arm, n);
                }
            }
            ("system", "reactivation.reactivated") => {
                if let Some(arm) = detail["arm"].as_str() {
                    self.add_by(&key, breakdown::ARM_REACTIVATED, arm, 1);
                }
            }
            ("system", "reactivation.expired") => {
                for arm in detail["users"].as_array().into_iter().flatten() {
                    if let Some(arm) = arm["arm"].as_str() {
                        self.add_by(&key, breakdown::ARM_EXPIRED, arm, 1);
                    }
                }
            }
            ("system", "reactivation.zombies") => {
                let n = detail["users"].as_array().map_or(0, Vec::len) as i64;
                self.add(&key, Metric::ZombiesReported, n);
            }
            ("system", "reactivation.zombie_removed") => self.add(&key, Metric::ZombiesRemoved, 1),
            _ => {}
        }
    }

    /// A row of the points ledger. Red-packet moves are counted as red packets.
    pub fn add_points(&mut self, key: DayKey, amount: i64, reason: &str) {
        if !reason.starts_with(RED_PACKET_REASONS) {
            if amount > 0 {
                self.add(&key, Metric::PointsGranted, amount);
            } else {
                self.add(&key, Metric::PointsSpent, -amount);
            }
        }
        self.add_by(&key, breakdown::POINTS, reason, amount);
    }

    /// A check-in (its day is the member's calendar day, as stored).
    pub fn add_checkin(&mut self, key: DayKey) {
        self.add(&key, Metric::Checkins, 1);
    }

    pub fn add_coupon(&mut self, key: DayKey, pool: &str) {
        self.add(&key, Metric::Coupons, 1);
        self.add_by(&key, breakdown::COUPONS, pool, 1);
    }

    pub fn add_strike(&mut self, key: DayKey) {
        self.add(&key, Metric::Strikes, 1);
    }
}

/// A schedule id's kind: `a:…` announcements, `s:…` flash sales.
fn post_kind(schedule: &str) -> Option<&'static str> {
    if schedule.starts_with("a:") {
        Some("announcement")
    } else if schedule.starts_with("s:") {
        Some("flash_sale")
    } else {
        None
    }
}

fn delivered(detail: &Value) -> bool {
    detail["state"].as_str() == Some("delivered")
}

/// An id as the log's columns store it (numbers and strings alike as text).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

mod membership;
pub use membership::{last_spoke, replay, Known, Replayed, Stay};

#[cfg(test)]
mod tests;
