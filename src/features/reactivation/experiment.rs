//! The A/B test: drawing each member's arm, the life of a trial (opened when
//! found due, won by a word within the window, lost when it closes), and the
//! counts per arm with `/silent stats`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::nudges::{unqueue, Queued};
use super::records::{arms, arms_key, count, group_path, subject, subject_key, Subject, Trial};
use super::{secs, Wake, HOLDOUT, NAME};
use crate::config::ReactivationConfig;
use crate::domain::{GroupKey, Id};
use crate::features::{group_note, Change, Context, Decision, Timer};
use crate::stats::Rate;

/// Where each group's counts per arm are kept, among the feature's records.
pub const ARMS_PREFIX: &str = "arms/";

/// One arm's counts in one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmCount {
    pub due: u64,
    pub nudged: u64,
    pub reactivated: u64,
    /// Trials whose window closed without a word.
    pub expired: u64,
}

impl ArmCount {
    /// Resolved trials: reactivated out of reactivated + expired.
    pub fn rate(&self) -> Rate {
        Rate::new(self.reactivated, self.reactivated + self.expired)
    }

    fn add(&mut self, other: &ArmCount) {
        self.due += other.due;
        self.nudged += other.nudged;
        self.reactivated += other.reactivated;
        self.expired += other.expired;
    }
}

/// FNV-1a: stable across Rust releases and machines, unlike the std hasher.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A member's arm, from a hash of (group, member, variant ids): the holdout
/// with probability `holdout`, else one of the variants, evenly.
pub fn draw_arm(group: &GroupKey, user: &Id, config: &ReactivationConfig) -> String {
    let ids: Vec<&str> = config.variants.iter().map(|v| v.id.as_str()).collect();
    let h = fnv(&format!("{}/{user}|{}", group_path(group), ids.join(",")));
    // The top 53 bits as a uniform number in [0, 1); the rest picks the variant.
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    if u < config.holdout || ids.is_empty() {
        return HOLDOUT.to_string();
    }
    ids[(h % ids.len() as u64) as usize].to_string()
}

/// Opens a trial for `user`, found due, in their arm: a holdout member is
/// treated at once (a virtual nudge), the others join the nudge queue.
/// Whether they were queued.
pub(super) fn open_trial(
    user: &Id,
    s: &mut Subject,
    counts: &mut BTreeMap<String, ArmCount>,
    q: &mut Vec<Queued>,
    now: DateTime<Utc>,
) -> bool {
    counts.entry(s.arm.clone()).or_default().due += 1;
    if s.arm == HOLDOUT {
        s.trial = Some(Trial {
            due: now,
            treated: Some(now),
        });
        s.nudges += 1;
        s.last_nudge = Some(now);
        false
    } else {
        s.trial = Some(Trial {
            due: now,
            treated: None,
        });
        q.push(Queued {
            user: user.clone(),
            arm: s.arm.clone(),
        });
        true
    }
}

/// Logs the members a scan found due: the `holdout` ones (whose window starts
/// now) and the last `queued` of the queue `q`, one row per arm, so a report
/// counts each arm's due members.
pub(super) fn due_notes(
    group: &GroupKey,
    holdout: &[Id],
    q: &[Queued],
    queued: usize,
    ctx: &Context,
) -> Decision {
    let mut d = Decision::default();
    if !holdout.is_empty() {
        d = d
            .change(group_note(
                "reactivation.due",
                group,
                None,
                json!({"arm": HOLDOUT, "users": holdout}),
            ))
            .timer(window_closes(group, holdout.to_vec(), ctx));
    }
    if queued > 0 {
        let mut by_arm: BTreeMap<&str, Vec<&Id>> = BTreeMap::new();
        for e in q.iter().rev().take(queued) {
            by_arm.entry(&e.arm).or_default().push(&e.user);
        }
        for (arm, users) in by_arm {
            d = d.change(group_note(
                "reactivation.due",
                group,
                None,
                json!({"arm": arm, "users": users, "queued": true}),
            ));
        }
    }
    d
}

/// The end of the success window of `users`, treated now.
pub(super) fn window_closes(group: &GroupKey, users: Vec<Id>, ctx: &Context) -> Timer {
    Timer::new(
        ctx.now + secs(ctx.config.reactivation.success_within),
        &group.account,
        NAME,
        &Wake::Expire {
            group: group.clone(),
            users,
            treated: ctx.now,
        },
    )
}

/// A member spoke: an open trial within its window succeeds; any word ends
/// zombiehood and resets the nudge count.
pub(super) fn spoke(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
    let Some(mut s) = subject(group, user, ctx) else {
        return Decision::default();
    };
    let mut d = Decision::default();
    if let Some(trial) = s.trial.take() {
        let window = secs(ctx.config.reactivation.success_within);
        let within = trial.treated.is_none_or(|t| ctx.now <= t + window);
        if within {
            d = d
                .change(count(group, &s.arm, ctx, |c| c.reactivated += 1))
                .change(group_note(
                    "reactivation.reactivated",
                    group,
                    Some(user),
                    json!({"arm": s.arm, "nudged": trial.treated.is_some() && s.arm != HOLDOUT,
                           "after_secs": trial.treated.map(|t| (ctx.now - t).num_seconds())}),
                ));
            if trial.treated.is_none() {
                d = d.change(unqueue(group, user, ctx));
            }
        } else {
            // Its expiry timer closes it; keep it open until then.
            s.trial = Some(trial);
        }
    } else if s.nudges == 0 && s.zombie.is_none() {
        return d;
    }
    s.nudges = 0;
    s.zombie = None;
    d.change(Change::record(NAME, subject_key(group, user), &s))
}

/// A member left: never nudged, never removed.
pub(super) fn left(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
    let Some(mut s) = subject(group, user, ctx) else {
        return Decision::default();
    };
    let queued = s.trial.as_ref().is_some_and(|t| t.treated.is_none());
    s.zombie = None;
    let mut d = Decision::default();
    if queued {
        // Assigned and gone before the nudge: a failure for the arm (by assignment).
        s.trial = None;
        d = d
            .change(unqueue(group, user, ctx))
            .change(count(group, &s.arm, ctx, |c| c.expired += 1));
    }
    d.change(Change::record(NAME, subject_key(group, user), &s))
}

/// Closes the trials treated at `treated` that are still open: no word in time.
pub(super) fn expire(
    group: &GroupKey,
    users: &[Id],
    treated: DateTime<Utc>,
    ctx: &Context,
) -> Decision {
    let mut d = Decision::default();
    let mut counts = arms(group, ctx);
    let mut closed = Vec::new();
    for user in users {
        let Some(mut s) = subject(group, user, ctx) else {
            continue;
        };
        if s.trial.as_ref().and_then(|t| t.treated) != Some(treated) {
            continue; // already closed (spoke), or a later trial
        }
        s.trial = None;
        counts.entry(s.arm.clone()).or_default().expired += 1;
        closed.push((user.clone(), s.arm.clone()));
        d = d.change(Change::record(NAME, subject_key(group, user), &s));
    }
    if closed.is_empty() {
        return d;
    }
    d.change(Change::record(NAME, arms_key(group), &counts))
        .change(group_note(
            "reactivation.expired",
            group,
            None,
            json!({"users": closed.iter().map(|(u, a)| json!({"user": u, "arm": a})).collect::<Vec<_>>()}),
        ))
}

/// Every group's counts, summed per arm: one experiment across the shop.
pub fn arms_all(ctx: &Context) -> BTreeMap<String, ArmCount> {
    sum_arms(ctx.state.records_of(NAME))
}

/// The counts per arm of these records (the feature's, as the state or the
/// store holds them), summed over groups; other records are skipped.
pub fn sum_arms<'a>(
    records: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> BTreeMap<String, ArmCount> {
    let mut all: BTreeMap<String, ArmCount> = BTreeMap::new();
    for (key, value) in records {
        if !key.starts_with(ARMS_PREFIX) {
            continue;
        }
        let Ok(arms) = BTreeMap::<String, ArmCount>::deserialize(value) else {
            continue;
        };
        for (arm, c) in arms {
            all.entry(arm).or_default().add(&c);
        }
    }
    all
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// `/silent stats`: per arm, and each variant against the holdout and the others.
pub fn stats_text(arms: &BTreeMap<String, ArmCount>) -> String {
    if arms.is_empty() {
        return "还没有到期的沉默成员，没有数据".into();
    }
    let mut lines = vec!["沉默唤醒（全部群合计，按分组计）：".to_string()];
    for (arm, c) in arms {
        let rate = c.rate();
        let (lo, hi) = rate.wilson95();
        let open = c.due.saturating_sub(c.reactivated + c.expired);
        lines.push(format!(
            "{}：到期 {} 人，已提醒 {} 人，唤醒 {} 人，唤醒率 {}（95% 区间 {}–{}，已结束 {} 人，进行中 {} 人）",
            crate::stats::arm_label(arm),
            c.due,
            c.nudged,
            c.reactivated,
            if rate.trials == 0 { "—".to_string() } else { percent(rate.successes as f64 / rate.trials as f64) },
            percent(lo),
            percent(hi),
            rate.trials,
            open
        ));
    }
    for (a, b) in crate::stats::pairs(arms.keys()) {
        let comparison = crate::stats::compare(arms[a].rate(), arms[b].rate());
        lines.push(crate::stats::verdict_text(a, b, comparison));
    }
    lines.join("\n")
}
