//! Announcements and flash-sale posts on a restart-safe schedule.
//!
//! Each schedule's next occurrence is **materialised** before it is due: a
//! record keyed by (schedule, instant) holding the groups still to post to, and
//! a timer. A fire posts to one group and is one transaction with that post's
//! outbox row, so no key can post twice, a restart loses nothing, and the groups
//! of one occurrence are posted to [`stagger`](crate::config::ScheduleConfig)
//! apart, never in a burst.
//!
//! Planning happens at the engine's ticks (at start, on a config change, every
//! 30 s) and after each occurrence is done:
//! - a recurring announcement whose fires were missed (daemon down, clock jump)
//!   posts the latest of them once if it is late by at most `grace`, and logs
//!   the others as one `schedule.missed`; nothing is replayed in a burst;
//! - a schedule seen for the first time starts from now: a time already past
//!   is not posted (a flash sale's post still within its deadline is);
//! - a changed or removed schedule drops its planned occurrence
//!   (`schedule.dropped`), and the new definition plans from now.
//!
//! Every post obeys [`super::automatic`]: quiet hours and the daily cap defer it
//! to their end when its deadline allows, otherwise it is missed with that
//! reason; a flash sale's countdown post is never sent after the sale started.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::automatic::{self, Gate};
use super::{
    group_note, human_duration, notify, red_packets, say, Change, Context, Decision, Feature, Timer,
};
use crate::config::{Announcement, Config, FlashSale, SalePhase};
use crate::domain::{Event, GroupKey, Id, Message};
use crate::engine::WakeError;

pub const NAME: &str = "schedule";

/// How many past fires of one schedule planning looks at, at most, to count
/// what was missed while the daemon was down.
const MISSED_SCAN: usize = 10_000;

/// A planned occurrence: what is left of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    pub schedule: String,
    pub instant: DateTime<Utc>,
    /// The latest time a post of it may go out.
    pub deadline: DateTime<Utc>,
    pub fingerprint: String,
    /// Groups not posted to yet, each with the earliest time it may be.
    pub pending: Vec<(Id, DateTime<Utc>)>,
    /// Groups posted to or missed: for `groups = "all"`, a group added by a
    /// reload is any managed group in neither list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<Id>,
}

/// The last occurrence of a schedule that is done (posted or missed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Done {
    instant: DateTime<Utc>,
    fingerprint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScheduleWake {
    /// The occurrence's record key.
    pub occurrence: String,
}

/// What a schedule key names, resolved against the config in force.
enum Source<'a> {
    Announcement(&'a Announcement),
    Sale(&'a FlashSale, SalePhase, DateTime<Utc>, DateTime<Utc>),
}

impl Source<'_> {
    fn fingerprint(&self) -> &str {
        match self {
            Source::Announcement(a) => &a.fingerprint,
            Source::Sale(s, ..) => &s.fingerprint,
        }
    }

    fn groups(&self) -> &crate::config::Groups {
        match self {
            Source::Announcement(a) => &a.groups,
            Source::Sale(s, ..) => &s.groups,
        }
    }

    fn obeys_quiet_hours(&self) -> bool {
        match self {
            Source::Announcement(a) => a.quiet_hours,
            Source::Sale(s, ..) => s.quiet_hours,
        }
    }
}

fn announcement_key(a: &Announcement) -> String {
    format!("a:{}", a.id)
}

fn sale_key(s: &FlashSale, phase: SalePhase) -> String {
    format!("s:{}:{}", s.id, phase.key())
}

fn occurrence_key(schedule: &str, instant: DateTime<Utc>) -> String {
    format!("occ/{schedule}/{}", instant.to_rfc3339())
}

/// Every schedule key of the config with what it names.
fn sources(config: &Config) -> BTreeMap<String, Source<'_>> {
    let mut all = BTreeMap::new();
    for a in &config.announcements {
        all.insert(announcement_key(a), Source::Announcement(a));
    }
    for s in &config.flash_sales {
        for (phase, due, deadline) in s.posts() {
            all.insert(sale_key(s, phase), Source::Sale(s, phase, due, deadline));
        }
    }
    all
}

/// What one schedule key names, found without building the whole map.
fn source_of<'a>(config: &'a Config, key: &str) -> Option<Source<'a>> {
    if let Some(id) = key.strip_prefix("a:") {
        return config
            .announcements
            .iter()
            .find(|a| a.id == id)
            .map(Source::Announcement);
    }
    let (id, phase) = key.strip_prefix("s:")?.split_once(':')?;
    let sale = config.flash_sales.iter().find(|s| s.id == id)?;
    sale.posts()
        .into_iter()
        .find(|(p, ..)| p.key() == phase)
        .map(|(p, due, deadline)| Source::Sale(sale, p, due, deadline))
}

/// Whether a flash sale was cancelled by `/flashsale cancel`.
pub fn is_cancelled(sale: &FlashSale, ctx: &Context) -> bool {
    ctx.state
        .record::<String>(NAME, &format!("cancelled/{}", sale.id))
        .is_some_and(|f| f == sale.fingerprint)
}

/// The bot account that posts in `group`: its responder.
pub fn account_of(group: &Id, ctx: &Context) -> Option<Id> {
    super::accounts::responder(group, ctx)
}

pub struct Schedule;

impl Feature for Schedule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, _event: &Event) -> bool {
        false
    }

    fn on_event(&self, _event: &Event, _ctx: &Context) -> Decision {
        Decision::default()
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        let wake: ScheduleWake = timer.wake()?;
        Ok(fire(&wake.occurrence, &timer.account, ctx))
    }

    fn on_tick(&self, ctx: &Context) -> Decision {
        plan(ctx, None)
    }
}

/// A log row about a schedule as a whole (no one group).
use super::system_note as note;

/// Plans every schedule (or only `only`): drops occurrences whose schedule
/// changed or went, and materialises the next occurrence of each schedule that
/// has none.
pub fn plan(ctx: &Context, only: Option<&str>) -> Decision {
    let mut d = Decision::default();
    let sources = sources(ctx.config);
    let mut planned = std::collections::HashSet::new();
    for (key, value) in ctx.state.records_of(NAME) {
        if !key.starts_with("occ/") {
            continue;
        }
        let Ok(occ) = serde_json::from_value::<Occurrence>(value.clone()) else {
            d = d.change(Change::forget(NAME, key.clone()));
            continue;
        };
        if only.is_some_and(|o| o != occ.schedule) {
            continue;
        }
        let reason = match sources.get(&occ.schedule) {
            None => Some("removed"),
            Some(s) if s.fingerprint() != occ.fingerprint => Some("changed"),
            Some(Source::Sale(sale, ..)) if is_cancelled(sale, ctx) => Some("cancelled"),
            Some(_) => None,
        };
        match reason {
            Some(reason) => {
                d = d.change(Change::forget(NAME, key.clone())).change(note(
                    "schedule.dropped",
                    json!({"schedule": occ.schedule, "instant": occ.instant, "reason": reason}),
                ));
            }
            None => {
                planned.insert(occ.schedule.clone());
            }
        }
    }
    for (key, source) in &sources {
        if planned.contains(key) || only.is_some_and(|o| o != key) {
            continue;
        }
        let done = ctx
            .state
            .record::<Done>(NAME, &format!("last/{key}"))
            .filter(|d| d.fingerprint == source.fingerprint());
        d.merge(plan_one(key, source, done, ctx));
    }
    d
}

/// Plans the next occurrence of one schedule, given its last done one.
fn plan_one(key: &str, source: &Source, done: Option<Done>, ctx: &Context) -> Decision {
    let now = ctx.now;
    let tz = ctx.config.timezone;
    let mut d = Decision::default();
    let (instant, deadline, groups) = match source {
        Source::Announcement(a) => {
            let grace = chrono::Duration::from_std(a.grace).unwrap_or_default();
            let Some(last) = done else {
                // First seen: from now on.
                let Some(next) = a.when.next_after(now, tz) else {
                    return d;
                };
                return materialise(key, source, next, next + grace, &a.groups, ctx);
            };
            // Every fire since the last done one that is already due: the
            // latest within grace is posted once, the rest are missed.
            let mut due = Vec::new();
            let mut t = last.instant;
            while let Some(next) = a.when.next_after(t, tz) {
                if next > now || due.len() >= MISSED_SCAN {
                    break;
                }
                due.push(next);
                t = next;
            }
            let send = due.last().copied().filter(|t| *t + grace >= now);
            let missed = due.len() - usize::from(send.is_some());
            if missed > 0 {
                d = d.change(note(
                    "schedule.missed",
                    json!({"schedule": key, "reason": "daemon_down", "count": missed,
                           "first": due.first(), "last": due.get(missed - 1)}),
                ));
                d.merge(notify::tell(
                    notify::Notice::PostMissed {
                        post: title(key, ctx),
                        group: None,
                        reason: "daemon_down".into(),
                    },
                    ctx,
                ));
            }
            let next = match send {
                Some(t) => t,
                None => match a.when.next_after(t.max(now), tz) {
                    Some(t) => t,
                    None => {
                        // A one-shot whose time is gone: done.
                        if let Some(last_due) = due.last() {
                            d = d.change(done_record(key, *last_due, source));
                        }
                        return d;
                    }
                },
            };
            (next, next + grace, &a.groups)
        }
        Source::Sale(sale, _, due, deadline) => {
            if done.is_some() || is_cancelled(sale, ctx) {
                return d;
            }
            if *deadline < now {
                // Already past when first planned: the operator set it so, and
                // `qunbot check` said it; the owner is not told again.
                return d.change(done_record(key, *due, source)).change(note(
                    "schedule.missed",
                    json!({"schedule": key, "instant": due, "reason": "in_past"}),
                ));
            }
            (*due, *deadline, &sale.groups)
        }
    };
    d.merge(materialise(key, source, instant, deadline, groups, ctx));
    d
}

fn done_record(key: &str, instant: DateTime<Utc>, source: &Source) -> Change {
    Change::record(
        NAME,
        format!("last/{key}"),
        &Done {
            instant,
            fingerprint: source.fingerprint().to_string(),
        },
    )
}

fn materialise(
    key: &str,
    source: &Source,
    instant: DateTime<Utc>,
    deadline: DateTime<Utc>,
    groups: &crate::config::Groups,
    ctx: &Context,
) -> Decision {
    let groups: Vec<Id> = groups
        .resolve(&ctx.config.groups)
        .into_iter()
        .filter(|g| ctx.config.is_managed(g))
        .collect();
    let occ = Occurrence {
        schedule: key.to_string(),
        instant,
        deadline,
        fingerprint: source.fingerprint().to_string(),
        pending: groups.iter().map(|g| (g.clone(), instant)).collect(),
        done: Vec::new(),
    };
    let record = occurrence_key(key, instant);
    let account = groups
        .iter()
        .find_map(|g| account_of(g, ctx))
        .unwrap_or(Id::number(0));
    Decision::default()
        .change(Change::record(NAME, record.clone(), &occ))
        .timer(Timer::new(
            instant.max(ctx.now),
            &account,
            NAME,
            &ScheduleWake { occurrence: record },
        ))
}

/// An occurrence's timer came due: post to the next group whose turn it is, or
/// defer, or log what is missed; then re-arm for the groups left.
fn fire(record: &str, account: &Id, ctx: &Context) -> Decision {
    let mut d = Decision::default();
    let Some(mut occ) = ctx.state.record::<Occurrence>(NAME, record) else {
        return d; // dropped, or done by an earlier timer
    };
    let Some(source) =
        source_of(ctx.config, &occ.schedule).filter(|s| s.fingerprint() == occ.fingerprint)
    else {
        return d.change(Change::forget(NAME, record));
    };
    let now = ctx.now;
    // "all" means the managed groups now: one added by a reload gets the post.
    if let crate::config::Groups::All = source.groups() {
        for g in &ctx.config.groups {
            let known = occ.done.contains(&g.id) || occ.pending.iter().any(|(p, _)| *p == g.id);
            if !known {
                occ.pending.push((g.id.clone(), now));
            }
        }
    }
    let mut posted = false;
    let mut i = 0;
    while i < occ.pending.len() {
        let (group, not_before) = occ.pending[i].clone();
        if now > occ.deadline {
            d.merge(missed(&occ, &group, "late", ctx));
            occ.done.push(occ.pending.remove(i).0);
            continue;
        }
        if not_before > now || posted {
            i += 1;
            continue;
        }
        let Some(group_account) = account_of(&group, ctx) else {
            d.merge(missed(&occ, &group, "no_account", ctx));
            occ.done.push(occ.pending.remove(i).0);
            continue;
        };
        if &group_account != account {
            // Actions of a wake-up go out through its timer's account.
            d = d.timer(Timer::new(
                now,
                &group_account,
                NAME,
                &ScheduleWake {
                    occurrence: record.to_string(),
                },
            ));
            return d.change(Change::record(NAME, record, &occ));
        }
        let key = GroupKey {
            account: group_account,
            group: group.clone(),
        };
        match automatic::gate_as(&key, source.obeys_quiet_hours(), ctx) {
            Gate::Open => {
                d = d
                    .act_posted(
                        say(&group, text(&source, &group, ctx)),
                        &occ.schedule,
                        occ.deadline,
                    )
                    .changes(automatic::count_sent(&key, ctx))
                    .change(group_note(
                        "schedule.sent",
                        &key,
                        None,
                        json!({"schedule": occ.schedule, "instant": occ.instant}),
                    ));
                if let Source::Announcement(Announcement {
                    red_packet: Some(spec),
                    ..
                }) = &source
                {
                    // The shop's packet, sent by the bot account and paid
                    // by the shop whatever `paid_by` says of admins' packets.
                    let id = format!("{}@{}", occ.schedule, occ.instant.timestamp());
                    let opening = red_packets::Opening {
                        id: &id,
                        sender: &key.account,
                        sender_name: "群助手",
                        points: spec.points,
                        shares: spec.shares,
                        word: None,
                        paid_by: crate::config::PaidBy::Shop,
                    };
                    match red_packets::open(&key, opening, ctx) {
                        Ok(packet) => d.merge(packet),
                        // The config is checked against this; a reload may still race it.
                        Err(why) => {
                            d = d.change(group_note(
                                "redpacket.refused",
                                &key,
                                None,
                                json!({"schedule": occ.schedule, "reason": why}),
                            ))
                        }
                    }
                }
                occ.done.push(occ.pending.remove(i).0);
                posted = true;
            }
            Gate::Wait(until, why) if until <= occ.deadline => {
                d = d.change(group_note(
                    "schedule.deferred",
                    &key,
                    None,
                    json!({"schedule": occ.schedule, "instant": occ.instant, "reason": why, "until": until}),
                ));
                occ.pending[i].1 = until;
                i += 1;
            }
            Gate::Wait(_, why) | Gate::Closed(why) => {
                d.merge(missed(&occ, &group, why, ctx));
                occ.done.push(occ.pending.remove(i).0);
            }
        }
    }
    if occ.pending.is_empty() {
        d = d.change(Change::forget(NAME, record)).change(done_record(
            &occ.schedule,
            occ.instant,
            &source,
        ));
        let done = Done {
            instant: occ.instant,
            fingerprint: occ.fingerprint.clone(),
        };
        d.merge(plan_one(&occ.schedule, &source, Some(done), ctx));
        return d;
    }
    let stagger = chrono::Duration::from_std(ctx.config.schedule.stagger).unwrap_or_default();
    let earliest = occ.pending.iter().map(|(_, t)| *t).min().unwrap_or(now);
    let due = if posted {
        earliest.max(now + stagger)
    } else {
        earliest.max(now)
    };
    let next_account = occ
        .pending
        .iter()
        .find_map(|(g, _)| account_of(g, ctx))
        .unwrap_or_else(|| account.clone());
    d.change(Change::record(NAME, record, &occ))
        .timer(Timer::new(
            due,
            &next_account,
            NAME,
            &ScheduleWake {
                occurrence: record.to_string(),
            },
        ))
}

/// A post that will not go out in `group`: logged, and the owner told.
fn missed(occ: &Occurrence, group: &Id, reason: &str, ctx: &Context) -> Decision {
    let key = GroupKey {
        account: account_of(group, ctx).unwrap_or(Id::number(0)),
        group: group.clone(),
    };
    let notice = notify::Notice::PostMissed {
        post: title(&occ.schedule, ctx),
        group: Some(group.clone()),
        reason: reason.to_string(),
    };
    notify::tell(notice, ctx).change(group_note(
        "schedule.missed",
        &key,
        None,
        json!({"schedule": occ.schedule, "instant": occ.instant, "reason": reason}),
    ))
}

/// The post's text for `group`.
fn text(source: &Source, group: &Id, ctx: &Context) -> Message {
    match source {
        Source::Announcement(a) => a
            .text
            .render(&[], &[("group", ctx.config.group_name(group))]),
        Source::Sale(sale, phase, ..) => sale_text(sale, *phase, ctx),
    }
}

/// A flash sale's post, its `{left}` counted from now.
pub fn sale_text(sale: &FlashSale, phase: SalePhase, ctx: &Context) -> Message {
    let tz = ctx.config.timezone;
    let until = match phase {
        SalePhase::Preview(_) => sale.starts_at,
        _ => sale.ends_at(),
    };
    let left = (until - ctx.now).to_std().unwrap_or_default();
    // Rounded up to whole minutes: "还有 59 分钟" reads better than seconds.
    let left = Duration::from_secs(left.as_secs().div_ceil(60) * 60);
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%m-%d %H:%M").to_string();
    sale.template(phase).render(
        &[],
        &[
            ("title", sale.title.clone()),
            ("price", sale.price.clone()),
            ("link", sale.link.clone()),
            ("starts_at", local(sale.starts_at)),
            ("ends_at", local(sale.ends_at())),
            ("left", human_duration(left)),
        ],
    )
}

mod listing;
pub use listing::{describe_upcoming, flash_sale_command, title, upcoming, will_not_go, Upcoming};

#[cfg(test)]
mod tests;
