//! Nudges: each group's queue of members waiting for theirs, and the nudge
//! messages, sent under the rules of automatic messages, at most
//! `per_message` members of one arm each, `nudge_interval` apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::experiment::window_closes;
use super::records::{arms, arms_key, count, display_name, queue_key, subject, subject_key};
use super::{secs, Wake, NAME};
use crate::config::Variant;
use crate::domain::{GroupKey, Id, MemberKey};
use crate::features::automatic::{self, Gate};
use crate::features::points::{claim_coupon, Claim};
use crate::features::{group_note, say, Change, Context, Decision, Timer};

/// A member waiting for their nudge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Queued {
    pub(super) user: Id,
    pub(super) arm: String,
}

pub(super) fn queue(group: &GroupKey, ctx: &Context) -> Vec<Queued> {
    ctx.state
        .record(NAME, &queue_key(group))
        .unwrap_or_default()
}

/// Takes `user` off the group's queue.
pub(super) fn unqueue(group: &GroupKey, user: &Id, ctx: &Context) -> Change {
    let mut q = queue(group, ctx);
    q.retain(|e| &e.user != user);
    Change::record(NAME, queue_key(group), &q)
}

/// The group's next nudge message, at `at`.
pub(super) fn next_nudge(group: &GroupKey, at: DateTime<Utc>) -> Timer {
    Timer::new(
        at,
        &group.account,
        NAME,
        &Wake::Nudge {
            group: group.clone(),
        },
    )
}

/// The group's next nudge message, under the rules of automatic messages.
pub(super) fn nudge(group: &GroupKey, ctx: &Context) -> Decision {
    let q = queue(group, ctx);
    let Some(first) = q.first().cloned() else {
        return Decision::default();
    };
    match automatic::gate(group, ctx) {
        Gate::Open => {}
        Gate::Wait(until, reason) => {
            return Decision::default()
                .timer(next_nudge(group, until))
                .change(group_note(
                    "reactivation.deferred",
                    group,
                    None,
                    json!({"reason": reason, "until": until, "queued": q.len()}),
                ));
        }
        Gate::Closed(reason) => return skip_queue(group, &q, reason, ctx),
    }
    let variants = &ctx.config.reactivation.variants;
    let Some(variant) = variants.iter().find(|v| v.id == first.arm) else {
        return drop_arm(group, q, &first.arm, ctx);
    };
    send(group, q, variant, ctx)
}

/// Ends the trials of these queued members unnudged.
fn end_unnudged(group: &GroupKey, entries: &[Queued], ctx: &Context) -> Decision {
    let mut d = Decision::default();
    for e in entries {
        if let Some(mut s) = subject(group, &e.user, ctx) {
            s.trial = None;
            d = d.change(Change::record(NAME, subject_key(group, &e.user), &s));
        }
    }
    d
}

/// A paused group: the queued trials end unnudged, counted by assignment.
fn skip_queue(group: &GroupKey, q: &[Queued], reason: &str, ctx: &Context) -> Decision {
    let d = end_unnudged(group, q, ctx);
    let mut counts = arms(group, ctx);
    for e in q {
        counts.entry(e.arm.clone()).or_default().expired += 1;
    }
    let users: Vec<&Id> = q.iter().map(|e| &e.user).collect();
    d.change(Change::record(NAME, arms_key(group), &counts))
        .change(Change::forget(NAME, queue_key(group)))
        .change(group_note(
            "reactivation.skipped",
            group,
            None,
            json!({"reason": reason, "users": users}),
        ))
}

/// The variant `arm` was removed from the config: its members leave the queue
/// and are drawn again at the next scan.
fn drop_arm(group: &GroupKey, q: Vec<Queued>, arm: &str, ctx: &Context) -> Decision {
    let (gone, rest): (Vec<Queued>, Vec<Queued>) = q.into_iter().partition(|e| e.arm == arm);
    let mut d =
        end_unnudged(group, &gone, ctx).change(Change::record(NAME, queue_key(group), &rest));
    if !rest.is_empty() {
        d = d.timer(next_nudge(group, ctx.now));
    }
    d
}

/// Mentions the queue's next members of `variant`'s arm in one message, and
/// plans the next message while any are left.
fn send(group: &GroupKey, mut q: Vec<Queued>, variant: &Variant, ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let arm = &variant.id;
    let batch = take_batch(&mut q, arm, config.per_message as usize);
    let (codes, mut d) = coupon_codes(group, variant, &batch, ctx);
    let text = variant.text.render(
        &batch,
        &[
            ("coupon", codes.join("，")),
            ("group", ctx.config.group_name(&group.group)),
        ],
    );
    d.merge(treated_now(group, &batch, ctx));
    d = d
        .act_automatic(say(&group.group, text))
        .changes(automatic::count_sent(group, ctx))
        .change(count(group, arm, ctx, |c| c.nudged += batch.len() as u64))
        .change(group_note(
            "reactivation.nudged",
            group,
            None,
            json!({"arm": arm, "users": batch}),
        ))
        .change(Change::record(NAME, queue_key(group), &q))
        .timer(window_closes(group, batch, ctx));
    if !q.is_empty() {
        d = d.timer(next_nudge(group, ctx.now + secs(config.nudge_interval)));
    }
    d
}

/// Takes the first `max` members of `arm` off the queue.
fn take_batch(q: &mut Vec<Queued>, arm: &str, max: usize) -> Vec<Id> {
    let mut batch = Vec::new();
    q.retain(|e| {
        if e.arm == arm && batch.len() < max {
            batch.push(e.user.clone());
            false
        } else {
            true
        }
    });
    batch
}

/// A coupon for each mentioned member, by the rule of task rewards: the codes
/// (each after the member's name when several are mentioned), and the claims.
fn coupon_codes(
    group: &GroupKey,
    variant: &Variant,
    batch: &[Id],
    ctx: &Context,
) -> (Vec<String>, Decision) {
    let mut d = Decision::default();
    let mut codes = Vec::new();
    let Some(pool) = &variant.coupon else {
        return (codes, d);
    };
    for (nth, user) in batch.iter().enumerate() {
        let member = MemberKey::new(&group.account, &group.group, user);
        let (claim, cd) = claim_coupon(pool, nth, &member, ctx);
        d.merge(cd);
        let code = match claim {
            Claim::Code(code) => code,
            Claim::PoolEmpty => "（券已发完，请联系管理员）".into(),
        };
        codes.push(if batch.len() == 1 {
            code
        } else {
            format!("{} {code}", display_name(group, user, ctx))
        });
    }
    (codes, d)
}

/// The batch was nudged now: their success windows start.
fn treated_now(group: &GroupKey, batch: &[Id], ctx: &Context) -> Decision {
    let mut d = Decision::default();
    for user in batch {
        if let Some(mut s) = subject(group, user, ctx) {
            if let Some(t) = &mut s.trial {
                t.treated = Some(ctx.now);
            }
            s.nudges += 1;
            s.last_nudge = Some(ctx.now);
            d = d.change(Change::record(NAME, subject_key(group, user), &s));
        }
    }
    d
}
