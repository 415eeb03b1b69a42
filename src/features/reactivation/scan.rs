//! Scans for silent members: planning them at the `scan` cron, asking
//! [`crate::roster_scan`] for them (an effect), and deciding on what one finds
//! in a group (trials for the members due, zombies marked).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::experiment::{draw_arm, due_notes, open_trial, ArmCount};
use super::nudges::{next_nudge, queue, Queued};
use super::records::{arms, arms_key, queue_key, subject, subject_key, Subject};
use super::sync::groups;
use super::zombies::{found_zombies, mark_zombie};
use super::{secs, Wake, HOLDOUT, NAME};
use crate::domain::{Action, GroupKey, Id, Message, Segment, SilentEntry};
use crate::engine::Effect;
use crate::features::{human_duration, say, Change, Context, Decision, Timer};

/// Most silent members one scan reports per group: the largest QQ groups hold 3,000.
pub const SCAN_LIMIT: u32 = 3_000;

/// Effect kind of a scan.
pub const SCAN: &str = "reactivation.scan";

/// What a scan effect asks [`crate::roster_scan`] for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanRequest {
    pub groups: Vec<GroupKey>,
    /// Silent since before this: due.
    pub cutoff: DateTime<Utc>,
    pub limit: u32,
    /// The `/silent nudge` message to answer, in the one group it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_by: Option<Id>,
}

/// The next planned scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Plan {
    instant: DateTime<Utc>,
    cron: String,
}

/// Plans the next scan when none is planned or the cron changed.
pub(super) fn plan_scan(ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let cron = config.scan.to_string();
    let planned: Option<Plan> = ctx.state.record(NAME, "plan");
    if planned.is_some_and(|p| p.cron == cron) {
        return Decision::default();
    }
    plan_after(ctx.now, ctx)
}

fn plan_after(t: DateTime<Utc>, ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let tz = ctx.config.timezone;
    let Some(next) = config
        .scan
        .after(&t.with_timezone(&tz))
        .next()
        .map(|n| n.with_timezone(&Utc))
    else {
        return Decision::default();
    };
    let plan = Plan {
        instant: next,
        cron: config.scan.to_string(),
    };
    let account = groups(ctx)
        .first()
        .map_or(Id::number(0), |g| g.account.clone());
    Decision::default()
        .change(Change::record(NAME, "plan", &plan))
        .timer(Timer::new(
            next,
            &account,
            NAME,
            &Wake::Scan { instant: next },
        ))
}

/// The planned scan came due: ask for it, and plan the next.
pub(super) fn scan_due(instant: DateTime<Utc>, ctx: &Context) -> Decision {
    let planned: Option<Plan> = ctx.state.record(NAME, "plan");
    if !ctx.config.reactivation.enabled || planned.is_none_or(|p| p.instant != instant) {
        return Decision::default(); // re-planned since
    }
    let mut d = scan_request(groups(ctx), None, ctx);
    d.merge(plan_after(ctx.now, ctx));
    d
}

pub(super) fn scan_request(groups: Vec<GroupKey>, asked_by: Option<Id>, ctx: &Context) -> Decision {
    let request = ScanRequest {
        groups,
        cutoff: ctx.now - secs(ctx.config.reactivation.silent_after),
        limit: SCAN_LIMIT,
        asked_by,
    };
    Decision::default().effect(Effect::new(SCAN, &request))
}

fn unix(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
}

/// What one group's scan turned up.
#[derive(Default)]
struct Findings {
    /// Holdout members due: recorded, not mentioned.
    holdout: Vec<Id>,
    /// Members due who joined the nudge queue (its last ones).
    queued: usize,
    /// Members newly found zombies.
    zombies: Vec<Id>,
}

/// A scan's list for one group: open trials for the members due, zombies marked.
pub(super) fn found(
    group: &GroupKey,
    asked_by: Option<&Id>,
    members: &[SilentEntry],
    ctx: &Context,
) -> Decision {
    let config = &ctx.config.reactivation;
    let mut d = Decision::default();
    if !config.enabled {
        return d;
    }
    let mut counts = arms(group, ctx);
    let mut q = queue(group, ctx);
    let was_empty = q.is_empty();
    let mut findings = Findings::default();
    for entry in members {
        if entry.user == group.account || config.exempt.contains(&entry.user) {
            continue;
        }
        if let Some(change) = review(group, entry, &mut counts, &mut q, &mut findings, ctx) {
            d = d.change(change);
        }
    }
    d = d.change(Change::record(NAME, arms_key(group), &counts));
    if findings.queued > 0 {
        d = d.change(Change::record(NAME, queue_key(group), &q));
        if was_empty {
            d = d.timer(next_nudge(group, ctx.now));
        }
    }
    d.merge(due_notes(
        group,
        &findings.holdout,
        &q,
        findings.queued,
        ctx,
    ));
    d.merge(found_zombies(group, &findings.zombies, ctx));
    if let Some(message) = asked_by {
        let text = summary(members.len(), &findings, ctx);
        d = d.act(reply_to(&group.group, message, text));
    }
    d
}

/// One listed member: their subject refreshed from the scan, then a trial
/// opened if they are due, or marked a zombie; the record, if it changed.
fn review(
    group: &GroupKey,
    entry: &SilentEntry,
    counts: &mut BTreeMap<String, ArmCount>,
    q: &mut Vec<Queued>,
    findings: &mut Findings,
    ctx: &Context,
) -> Option<Change> {
    let config = &ctx.config.reactivation;
    let stored = subject(group, &entry.user, ctx);
    let is_new = stored.is_none();
    let mut s = stored
        .unwrap_or_else(|| Subject::new(entry.user.clone(), draw_arm(group, &entry.user, config)));
    if s.arm != HOLDOUT && !config.variants.iter().any(|v| v.id == s.arm) {
        // Their variant was removed from the config: drawn again.
        s.arm = draw_arm(group, &entry.user, config);
    }
    s.name = entry.name.clone().or(s.name);
    s.since = unix(entry.since);
    s.joined = unix(entry.joined).or(s.joined);
    let before = s.clone();
    if s.trial.is_none() {
        if s.nudges >= config.max_nudges {
            if mark_zombie(&mut s, ctx) {
                findings.zombies.push(entry.user.clone());
            }
        } else if s
            .last_nudge
            .is_none_or(|t| ctx.now - t >= secs(config.min_gap))
        {
            if open_trial(&entry.user, &mut s, counts, q, ctx.now) {
                findings.queued += 1;
            } else {
                findings.holdout.push(entry.user.clone());
            }
        }
    }
    (s != before || is_new).then(|| Change::record(NAME, subject_key(group, &entry.user), &s))
}

/// The answer to `/silent nudge`, once its scan is in.
fn summary(listed: usize, findings: &Findings, ctx: &Context) -> String {
    let Findings {
        holdout,
        queued,
        zombies,
    } = findings;
    format!(
        "扫描完成：沉默超过 {} 的成员 {} 人；本次到期 {} 人（待提醒 {} 人，对照组 {} 人），新发现僵尸成员 {} 人",
        human_duration(ctx.config.reactivation.silent_after),
        listed,
        queued + holdout.len(),
        queued,
        holdout.len(),
        zombies.len()
    )
}

fn reply_to(group: &Id, message: &Id, text: String) -> Action {
    say(
        group,
        Message::from_segments([
            Segment::Reply {
                id: message.clone(),
            },
            Segment::Text { text },
        ]),
    )
}
