//! Automatic messages: `[schedule]` (quiet hours, the daily cap), the
//! `[[announcements]]`, and `[red_packets]`; the `[[flash_sales]]` with their
//! countdown posts are in [`super::flash_sale`]. What fires when is computed
//! from the config alone, so `qunbot check` can show the next fires and the
//! scheduler feature can plan them.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use toml::Spanned;

pub use super::flash_sale::{FlashSale, SalePhase};
use super::raw::{RawAnnouncement, RawGroups, RawRedPacketSpec, RawRedPackets, RawSchedule};
use super::{Checker, Problem};
use crate::domain::{Id, Template};

/// Variables of an announcement's text.
pub const ANNOUNCEMENT_VARS: &[&str] = &["group"];

#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    /// Automatic messages wait for the window's end; `None` = no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// Automatic messages per group per local day.
    pub daily_cap: u32,
    /// Time between one automatic message's posts to two groups, so a schedule
    /// for many groups never posts in a burst.
    pub stagger: Duration,
}

/// A daily window of local time, `start` inclusive, `end` exclusive; it wraps
/// midnight when `start > end` (`22:00-08:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("`{s}` is not a window such as \"22:00-08:00\""))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("`{}` is not a time such as \"22:00\"", t.trim()))
        };
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(format!(
                "`{s}` starts and ends at the same time; write \"\" for no quiet hours"
            ));
        }
        Ok(QuietHours { start, end })
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When the window that holds `now` ends; `now` itself when it is outside.
    pub fn end_after(&self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = now.with_timezone(&tz);
        if !self.contains(local.time()) {
            return now;
        }
        let mut day = local.date_naive();
        if local.time() >= self.end {
            day = day.succ_opt().unwrap_or(day);
        }
        local_time(tz, day.and_time(self.end)).unwrap_or(now)
    }
}

/// The groups a schedule posts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Groups {
    All,
    List(Vec<Id>),
}

impl Groups {
    /// The managed groups meant, in config order.
    pub fn resolve(&self, managed: &[super::GroupConfig]) -> Vec<Id> {
        match self {
            Groups::All => managed.iter().map(|g| g.id.clone()).collect(),
            Groups::List(ids) => ids.clone(),
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Groups::All => "all".into(),
            Groups::List(ids) => ids.iter().map(Id::to_string).collect::<Vec<_>>().join(","),
        }
    }
}

/// When an announcement fires: on a cron schedule in the config's zone, or once.
#[derive(Clone, Debug)]
pub enum When {
    Cron(Box<cron::Schedule>),
    At(DateTime<Utc>),
}

impl When {
    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            When::Cron(schedule) => schedule
                .after(&after.with_timezone(&tz))
                .next()
                .map(|t| t.with_timezone(&Utc)),
            When::At(at) => (*at > after).then_some(*at),
        }
    }

    fn describe(&self) -> String {
        match self {
            When::Cron(s) => format!("cron {}", s.source()),
            When::At(at) => format!("at {}", at.to_rfc3339()),
        }
    }
}

/// How a red packet is cut into shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitMethod {
    /// 二倍均值法: each share uniform from 1 to twice the mean of what is left.
    DoubleMean,
    /// 线段切割法: the line of points cut at random places.
    Fair,
}

/// Whose points an admin's `/红包` is paid from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaidBy {
    /// The shop's ledger account in the group (see
    /// [`crate::features::red_packets::shop_account`]): staff hand out the
    /// shop's points and their own balance is untouched.
    #[default]
    Shop,
    /// The admin who sends it, who must have the points.
    Sender,
}

/// `[red_packets]`: lucky red packets of points.
#[derive(Clone, Debug)]
pub struct RedPacketsConfig {
    /// Members grab by sending exactly this (or the packet's 口令).
    pub grab_word: String,
    /// What is left then goes back to whoever paid, and the result is posted.
    pub expires_after: Duration,
    pub split: SplitMethod,
    /// The most one packet may hold.
    pub max_points: u32,
    /// Grabs within this window are answered together in one message.
    pub answer_window: Duration,
    /// Whose points an admin's packet is paid from; an announcement's packet is
    /// always the shop's.
    pub paid_by: PaidBy,
}

/// The most shares one red packet may have: a packet is a game for a group,
/// and its result names every grabber.
pub const MAX_PACKET_SHARES: u32 = 100;

/// A red packet opened with an announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    pub points: u32,
    pub shares: u32,
}

#[derive(Clone, Debug)]
pub struct Announcement {
    pub id: String,
    pub when: When,
    pub groups: Groups,
    pub text: Template,
    /// A fire late by at most this is sent once; later, it is missed.
    pub grace: Duration,
    pub red_packet: Option<PacketSpec>,
    /// Whether its posts wait out `schedule.quiet_hours` (`quiet_hours = false`: no).
    pub quiet_hours: bool,
    /// Changes whenever anything that decides what is posted when changes, so a
    /// reload drops the occurrences planned from the old definition.
    pub fingerprint: String,
}

/// A local date and time in `tz` as UTC (the earlier one when a clock change
/// makes it ambiguous; `None` when it does not exist).
pub fn local_time(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `"YYYY-MM-DD HH:MM[:SS]"` in `tz`, or RFC 3339.
pub fn parse_instant(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .map_err(|_| format!("`{s}` is not a time such as \"2026-11-25 20:00\" (or RFC 3339)"))?;
    local_time(tz, naive).ok_or_else(|| format!("`{s}` does not exist in {tz} (a clock change)"))
}

/// Parses a cron expression in the `cron` crate's format (sec min hour day
/// month weekday [year]).
pub(crate) fn parse_cron(s: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(s).map_err(|e| {
        // The crate's message repeats the expression with a caret; its last line says why.
        let e = e.to_string();
        let e = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        format!(
            "`{s}` is not a cron schedule ({e}); write six fields: sec min hour day month weekday, e.g. \"0 0 9 * * *\""
        )
    })
}

/// The `cron` crate counts weekdays from Sunday = 1, unlike Unix cron (Monday =
/// 1): a numeric weekday field almost always means something else than written.
fn numeric_weekday_warning(s: &str) -> Option<String> {
    let weekday = s.split_whitespace().nth(5)?;
    if !weekday.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let named: String = weekday
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d @ 1..=7) => NAMES[d as usize - 1].to_string(),
            _ => c.to_string(),
        })
        .collect();
    Some(format!(
        "warning: the weekday field `{weekday}` is numeric, and the cron format used here counts \
         Sunday = 1, so it means `{named}`; write day names (e.g. `Mon-Fri`) to say what you mean"
    ))
}

impl Checker<'_> {
    pub(super) fn red_packets(&mut self, raw: &RawRedPackets) -> Option<RedPacketsConfig> {
        let grab_word = match &raw.grab_word {
            None => Some("抢".to_string()),
            Some(w) => self.check(w, |s| {
                let s = s.trim();
                if s.is_empty() || s.chars().count() > 20 {
                    Err("grab_word must be 1 to 20 characters".to_string())
                } else {
                    Ok(s.to_string())
                }
            }),
        };
        let split = match &raw.split {
            None => Some(SplitMethod::DoubleMean),
            Some(v) => self.check(v, |s| match s {
                "double_mean" => Ok(SplitMethod::DoubleMean),
                "fair" => Ok(SplitMethod::Fair),
                other => Err(format!(
                    "split = \"{other}\": write \"double_mean\" (二倍均值法) or \"fair\" (线段切割法)"
                )),
            }),
        };
        let paid_by = match &raw.paid_by {
            None => Some(PaidBy::Shop),
            Some(v) => self.check(v, |s| match s {
                "shop" => Ok(PaidBy::Shop),
                "sender" => Ok(PaidBy::Sender),
                other => Err(format!(
                    "paid_by = \"{other}\": write \"shop\" (the shop's points) or \"sender\" (the admin's own points)"
                )),
            }),
        };
        let max_points = match &raw.max_points {
            None => Some(10_000),
            Some(v) if *v.get_ref() == 0 => {
                self.problem(v, "max_points must be at least 1".into());
                None
            }
            Some(v) => Some(*v.get_ref()),
        };
        Some(RedPacketsConfig {
            grab_word: grab_word?,
            expires_after: raw
                .expires_after
                .map_or(Duration::from_secs(86_400), |d| d.0),
            split: split?,
            max_points: max_points?,
            answer_window: raw.answer_window.map_or(Duration::from_secs(2), |d| d.0),
            paid_by: paid_by?,
        })
    }

    pub(super) fn schedule(&mut self, raw: &RawSchedule) -> Option<ScheduleConfig> {
        let quiet_hours = match &raw.quiet_hours {
            None => Some(QuietHours::parse("22:00-08:00").ok()),
            Some(v) if v.get_ref().trim().is_empty() => Some(None),
            Some(v) => self.check(v, |s| QuietHours::parse(s).map(Some)),
        }?;
        Some(ScheduleConfig {
            quiet_hours,
            daily_cap: raw.daily_cap.unwrap_or(6),
            stagger: raw.stagger.map_or(Duration::from_secs(5), |d| d.0),
        })
    }

    /// The `groups` a schedule posts to: "all", or managed groups only.
    pub(super) fn groups(
        &mut self,
        raw: Option<&Spanned<RawGroups>>,
        managed: &[super::GroupConfig],
    ) -> Option<Groups> {
        let Some(raw) = raw else {
            return Some(Groups::All);
        };
        match raw.get_ref() {
            RawGroups::Word(w) if w == "all" => Some(Groups::All),
            RawGroups::Word(w) => {
                self.problem(
                    raw,
                    format!("groups = \"{w}\": write \"all\" or a list of group ids"),
                );
                None
            }
            RawGroups::List(ids) if ids.is_empty() => {
                self.problem(
                    raw,
                    "groups is empty: write \"all\" or some group ids".into(),
                );
                None
            }
            RawGroups::List(ids) => {
                if let Some(stranger) = ids.iter().find(|id| !managed.iter().any(|g| &g.id == *id))
                {
                    self.problem(
                        raw,
                        format!(
                            "group {stranger} is not a managed group (list it under [[groups]])"
                        ),
                    );
                    return None;
                }
                Some(Groups::List(ids.clone()))
            }
        }
    }

    /// Whether a schedule's `id` is usable and not taken yet (in `seen`).
    pub(super) fn unique_id(
        &mut self,
        seen: &mut HashSet<String>,
        id: &Spanned<String>,
        what: &str,
    ) -> bool {
        let text = id.get_ref().trim();
        if text.is_empty() || text.contains('/') {
            self.problem(id, format!("{what} id `{text}` is empty or has a `/`"));
            return false;
        }
        if !seen.insert(text.to_string()) {
            self.problem(
                id,
                format!("{what} id `{text}` is used twice; ids key the fire log, so each must be unique"),
            );
            return false;
        }
        true
    }

    pub(super) fn announcements(
        &mut self,
        raw: &[RawAnnouncement],
        tz: Tz,
        managed: &[super::GroupConfig],
        max_points: u32,
    ) -> Option<Vec<Announcement>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut ok = true;
        for a in raw {
            if !self.unique_id(&mut seen, &a.id, "announcement") {
                ok = false;
                continue;
            }
            let when = self.announcement_when(a, tz);
            let groups = self.groups(a.groups.as_ref(), managed);
            let text = self.check(&a.text, |s| Template::parse(s, ANNOUNCEMENT_VARS));
            let red_packet = self.packet_spec(a.red_packet.as_ref(), max_points);
            let grace = a.grace.map_or(Duration::from_secs(600), |d| d.0);
            match (when, groups, text, red_packet) {
                (Some(when), Some(groups), Some(text), Some(red_packet)) => {
                    let fingerprint = format!(
                        "{}|{}|{}|{}|{:?}",
                        when.describe(),
                        groups.describe(),
                        a.text.get_ref(),
                        grace.as_secs(),
                        red_packet
                    );
                    out.push(Announcement {
                        id: a.id.get_ref().trim().to_string(),
                        when,
                        groups,
                        text,
                        grace,
                        red_packet,
                        quiet_hours: a.quiet_hours.unwrap_or(true),
                        fingerprint,
                    });
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Exactly one of `cron` (a numeric weekday warned about) or `at`.
    fn announcement_when(&mut self, a: &RawAnnouncement, tz: Tz) -> Option<When> {
        match (&a.cron, &a.at) {
            (Some(c), None) => {
                if let Some(w) = numeric_weekday_warning(c.get_ref()) {
                    self.warnings
                        .push(Problem::at_span(self.file, self.text, Some(c.span()), w));
                }
                self.check(c, parse_cron).map(|s| When::Cron(Box::new(s)))
            }
            (None, Some(at)) => self.check(at, |s| parse_instant(s, tz)).map(When::At),
            _ => {
                self.problem(&a.id, "write exactly one of `cron` or `at`".into());
                None
            }
        }
    }

    /// An announcement's red packet, within the shares and `max_points` allowed;
    /// `Some(None)` when it has none.
    fn packet_spec(
        &mut self,
        raw: Option<&Spanned<RawRedPacketSpec>>,
        max_points: u32,
    ) -> Option<Option<PacketSpec>> {
        let Some(p) = raw else {
            return Some(None);
        };
        let spec = p.get_ref();
        if spec.shares == 0
            || spec.shares > MAX_PACKET_SHARES
            || spec.points < spec.shares
            || spec.points > max_points
        {
            self.problem(
                p,
                format!(
                    "a red packet needs 1 to {MAX_PACKET_SHARES} shares, at least one point a share, and at most red_packets.max_points ({max_points}) points"
                ),
            );
            None
        } else {
            Some(Some(PacketSpec {
                points: spec.points,
                shares: spec.shares,
            }))
        }
    }
}
