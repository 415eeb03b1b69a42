//! Silent-member reactivation (沉默唤醒) with an honest A/B test, and the
//! clean-up of zombies (清理僵尸用户).
//!
//! **Who is silent** is the store's to know (the `members` table, kept from every
//! event and from a member-list sync at each start and daily). A scan, at the
//! `scan` cron or on `/silent nudge`, is an effect: [`crate::roster_scan`] reads
//! the silent members off the engine and hands each group's list back as a
//! [`EventBody::SilentFound`] event, which this feature decides on.
//!
//! **The experiment.** Each member's arm (the holdout or a variant) is drawn once
//! from a hash of (group, member, variant ids) and recorded. A member due
//! (silent past `silent_after`, at least `min_gap` after their last nudge, under
//! `max_nudges`) opens a *trial* in their arm: holdout members are recorded and
//! not mentioned, the others wait in the group's nudge queue. A trial succeeds if
//! the member speaks within `success_within` of their nudge (of being found due,
//! in the holdout), and fails when that window closes. Counting is by
//! assignment (intention to treat): a member who speaks while still queued, or
//! whose nudge never went out (the group was paused), counts for their arm as
//! well, so deferring a nudge cannot flatter a variant. The rates compare
//! resolved trials only; open ones are shown apart.
//!
//! **Nudges** obey [`super::automatic`] (quiet hours, the daily cap, pause),
//! mention at most `per_message` members of one arm, and go out
//! `nudge_interval` apart in a group. Holdout members count a virtual nudge, so
//! both arms meet `min_gap`, `max_nudges` and zombiehood on the same schedule.
//!
//! **Zombies**: members still silent `zombie_after` past their last nudge when
//! `max_nudges` are used up. `report` lists them (`/silent zombies`); `remove`
//! sends the list to the operators and removes, on an admin's `/silent
//! confirm`, at most `zombie_max_per_run`, never admins, the owner or exempt
//! members, each removal logged with its evidence and nothing said in the group.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::automatic::{self, Gate};
use super::points::{claim_coupon, Claim};
use super::{clip, group_note, schedule, Change, Context, Decision, Feature, Timer, ECHO_CHARS};
use crate::config::ReactivationConfig;
use crate::domain::{
    Action, Event, EventBody, GroupKey, GroupMessage, Id, Message, Segment, SilentEntry,
};
use crate::engine::{Effect, WakeError};
use crate::stats::Rate;

pub const NAME: &str = "reactivation";
/// The control arm's name.
pub use crate::stats::HOLDOUT;
/// Most silent members one scan reports per group: the largest QQ groups hold 3,000.
pub const SCAN_LIMIT: u32 = 3_000;
/// A group's member list is synced at each start and then this often.
const SYNC_EVERY: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// Members listed in one chat answer.
const LIST_LINES: usize = 20;

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

/// Effect kind of a scan.
pub const SCAN: &str = "reactivation.scan";

/// One member's part in the experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// As the gateway wrote it (a number or a string).
    pub user: Id,
    pub arm: String,
    /// Nudges (virtual ones in the holdout) since they last spoke.
    pub nudges: u32,
    pub last_nudge: Option<DateTime<Utc>>,
    pub trial: Option<Trial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Silent since (last word, else joining), as the last scan saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<DateTime<Utc>>,
    /// Found a zombie at this time, and still one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zombie: Option<DateTime<Utc>>,
}

impl Subject {
    fn new(user: Id, arm: String) -> Subject {
        Subject {
            user,
            arm,
            nudges: 0,
            last_nudge: None,
            trial: None,
            name: None,
            since: None,
            joined: None,
            zombie: None,
        }
    }
}

/// An open trial: found due, and (once the nudge went out, or at once in the
/// holdout) treated, which starts the success window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub due: DateTime<Utc>,
    pub treated: Option<DateTime<Utc>>,
}

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

/// A member waiting for their nudge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Queued {
    user: Id,
    arm: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wake {
    /// The planned scan at `instant`.
    Scan { instant: DateTime<Utc> },
    /// Ask the gateway for these groups' member lists.
    Sync { groups: Vec<Id> },
    /// Send the group's next nudge message.
    Nudge { group: GroupKey },
    /// The success window of these trials (treated at `treated`) closes.
    Expire {
        group: GroupKey,
        users: Vec<Id>,
        treated: DateTime<Utc>,
    },
}

/// The next planned scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Plan {
    instant: DateTime<Utc>,
    cron: String,
}

fn group_path(g: &GroupKey) -> String {
    format!("{}/{}", g.account, g.group)
}

fn subject_key(g: &GroupKey, user: &Id) -> String {
    format!("m/{}/{user}", group_path(g))
}

fn queue_key(g: &GroupKey) -> String {
    format!("q/{}", group_path(g))
}

fn arms_key(g: &GroupKey) -> String {
    format!("{ARMS_PREFIX}{}", group_path(g))
}

fn sync_key(group: &Id) -> String {
    format!("sync/{group}")
}

fn secs(d: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
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

pub struct Reactivation;

impl Feature for Reactivation {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Any event of a group: the first one heard from a group asks for its
    /// member list; so does an account sync for the groups it lists.
    fn wants(&self, event: &Event) -> bool {
        event.group().is_some() || matches!(event.body, EventBody::AccountSynced { .. })
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        if let EventBody::AccountSynced {
            groups,
            reconnected,
            ..
        } = &event.body
        {
            return rosters(&event.account, groups, *reconnected, ctx);
        }
        let Some(group) = event.group() else {
            return Decision::default();
        };
        if !ctx.config.reactivation.enabled {
            return Decision::default();
        }
        let key = GroupKey {
            account: event.account.clone(),
            group: group.clone(),
        };
        let mut d = Decision::default();
        // Every group message passes here: the cheap lookup first.
        if !ctx.state.has_record(NAME, &sync_key(group)) && ctx.config.is_managed(group) {
            // A group heard from for the first time: learn its whole roster.
            d = d
                .act(Action::GetGroupMemberList {
                    group: group.clone(),
                })
                .change(Change::record(NAME, sync_key(group), &ctx.now));
        }
        d.merge(match &event.body {
            EventBody::GroupMessage(m) => spoke(&key, &m.user, ctx),
            EventBody::MemberLeft { user, .. } => left(&key, user, ctx),
            EventBody::AdminChanged {
                user,
                promoted: true,
                ..
            } => promoted(&key, user, ctx),
            EventBody::SilentFound {
                asked_by, members, ..
            } => found(&key, asked_by.as_ref(), members, ctx),
            _ => Decision::default(),
        });
        d
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        Ok(match timer.wake()? {
            Wake::Scan { instant } => scan_due(instant, ctx),
            Wake::Sync { groups } => Decision {
                actions: groups
                    .into_iter()
                    .map(|group| Action::GetGroupMemberList { group })
                    .collect(),
                ..Decision::default()
            },
            Wake::Nudge { group } => nudge(&group, ctx),
            Wake::Expire {
                group,
                users,
                treated,
            } => expire(&group, &users, treated, ctx),
        })
    }

    fn on_tick(&self, ctx: &Context) -> Decision {
        if !ctx.config.reactivation.enabled {
            return Decision::default();
        }
        let mut d = plan_scan(ctx);
        d.merge(sync(ctx, false));
        d
    }

    fn on_start(&self, ctx: &Context) -> Decision {
        if !ctx.config.reactivation.enabled {
            return Decision::default();
        }
        sync(ctx, true)
    }
}

/// Asks for the member list of each managed group `account` speaks in that
/// has never been read (a group known from the account sync, before anyone
/// spoke), or of every such group when the account `reconnected`: what
/// happened while its bridge was away is not sent again.
fn rosters(
    account: &Id,
    listed: &[crate::domain::ListedGroup],
    reconnected: bool,
    ctx: &Context,
) -> Decision {
    let mut d = Decision::default();
    if !ctx.config.reactivation.enabled {
        return d;
    }
    for g in listed {
        let group = &g.group;
        if ctx.config.is_managed(group)
            && (reconnected || !ctx.state.has_record(NAME, &sync_key(group)))
            && schedule::account_of(group, ctx).as_ref() == Some(account)
        {
            d = d
                .act(Action::GetGroupMemberList {
                    group: group.clone(),
                })
                .change(Change::record(NAME, sync_key(group), &ctx.now));
        }
    }
    d
}

/// The managed groups whose bot account is known.
fn groups(ctx: &Context) -> Vec<GroupKey> {
    ctx.config
        .groups
        .iter()
        .filter_map(|g| {
            schedule::account_of(&g.id, ctx).map(|account| GroupKey {
                account,
                group: g.id.clone(),
            })
        })
        .collect()
}

/// Syncs the member lists due (every known group when `all`): one timer per
/// account, so each request goes out through its own account.
fn sync(ctx: &Context, all: bool) -> Decision {
    let mut d = Decision::default();
    let mut by_account: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
    for g in groups(ctx) {
        let last: Option<DateTime<Utc>> = ctx.state.record(NAME, &sync_key(&g.group));
        if all || last.is_none_or(|t| ctx.now - t >= SYNC_EVERY) {
            d = d.change(Change::record(NAME, sync_key(&g.group), &ctx.now));
            by_account.entry(g.account).or_default().push(g.group);
        }
    }
    for (account, groups) in by_account {
        d = d.timer(Timer::new(ctx.now, &account, NAME, &Wake::Sync { groups }));
    }
    d
}

/// Plans the next scan when none is planned or the cron changed.
fn plan_scan(ctx: &Context) -> Decision {
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
fn scan_due(instant: DateTime<Utc>, ctx: &Context) -> Decision {
    let planned: Option<Plan> = ctx.state.record(NAME, "plan");
    if !ctx.config.reactivation.enabled || planned.is_none_or(|p| p.instant != instant) {
        return Decision::default(); // re-planned since
    }
    let mut d = scan_request(groups(ctx), None, ctx);
    d.merge(plan_after(ctx.now, ctx));
    d
}

fn scan_request(groups: Vec<GroupKey>, asked_by: Option<Id>, ctx: &Context) -> Decision {
    let request = ScanRequest {
        groups,
        cutoff: ctx.now - secs(ctx.config.reactivation.silent_after),
        limit: SCAN_LIMIT,
        asked_by,
    };
    Decision::default().effect(Effect::new(SCAN, &request))
}

fn subject(group: &GroupKey, user: &Id, ctx: &Context) -> Option<Subject> {
    ctx.state.record(NAME, &subject_key(group, user))
}

fn arms(group: &GroupKey, ctx: &Context) -> BTreeMap<String, ArmCount> {
    ctx.state.record(NAME, &arms_key(group)).unwrap_or_default()
}

fn queue(group: &GroupKey, ctx: &Context) -> Vec<Queued> {
    ctx.state
        .record(NAME, &queue_key(group))
        .unwrap_or_default()
}

/// Changes one arm's counts in a group.
fn count(group: &GroupKey, arm: &str, ctx: &Context, f: impl FnOnce(&mut ArmCount)) -> Change {
    let mut all = arms(group, ctx);
    f(all.entry(arm.to_string()).or_default());
    Change::record(NAME, arms_key(group), &all)
}

/// A member spoke: an open trial within its window succeeds; any word ends
/// zombiehood and resets the nudge count.
fn spoke(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
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

fn unqueue(group: &GroupKey, user: &Id, ctx: &Context) -> Change {
    let mut q = queue(group, ctx);
    q.retain(|e| &e.user != user);
    Change::record(NAME, queue_key(group), &q)
}

/// A member left: never nudged, never removed.
fn left(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
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

/// Made admin: admins are never nudged nor removed.
fn promoted(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
    let Some(mut s) = subject(group, user, ctx) else {
        return Decision::default();
    };
    if s.zombie.take().is_none() {
        return Decision::default();
    }
    Decision::default().change(Change::record(NAME, subject_key(group, user), &s))
}

fn unix(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
}

/// A scan's list for one group: open trials for the members due, zombies marked.
fn found(
    group: &GroupKey,
    asked_by: Option<&Id>,
    members: &[SilentEntry],
    ctx: &Context,
) -> Decision {
    let config = &ctx.config.reactivation;
    let now = ctx.now;
    let mut d = Decision::default();
    if !config.enabled {
        return d;
    }
    let mut counts = arms(group, ctx);
    let mut q = queue(group, ctx);
    let was_empty = q.is_empty();
    let (mut holdout, mut queued, mut zombies) = (Vec::new(), 0usize, Vec::new());
    for entry in members {
        if entry.user == group.account || config.exempt.contains(&entry.user) {
            continue;
        }
        let stored = subject(group, &entry.user, ctx);
        let is_new = stored.is_none();
        let mut s = stored.unwrap_or_else(|| {
            Subject::new(entry.user.clone(), draw_arm(group, &entry.user, config))
        });
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
                let quiet_since = s.last_nudge.or(s.since);
                let long_enough = quiet_since.is_none_or(|t| now - t >= secs(config.zombie_after));
                if s.zombie.is_none() && long_enough {
                    s.zombie = Some(now);
                    zombies.push(entry.user.clone());
                }
            } else if s.last_nudge.is_none_or(|t| now - t >= secs(config.min_gap)) {
                let c = counts.entry(s.arm.clone()).or_default();
                c.due += 1;
                if s.arm == HOLDOUT {
                    s.trial = Some(Trial {
                        due: now,
                        treated: Some(now),
                    });
                    s.nudges += 1;
                    s.last_nudge = Some(now);
                    holdout.push(entry.user.clone());
                } else {
                    s.trial = Some(Trial {
                        due: now,
                        treated: None,
                    });
                    q.push(Queued {
                        user: entry.user.clone(),
                        arm: s.arm.clone(),
                    });
                    queued += 1;
                }
            }
        }
        if s != before || is_new {
            d = d.change(Change::record(NAME, subject_key(group, &entry.user), &s));
        }
    }
    d = d.change(Change::record(NAME, arms_key(group), &counts));
    if queued > 0 {
        d = d.change(Change::record(NAME, queue_key(group), &q));
        if was_empty {
            d = d.timer(Timer::new(
                now,
                &group.account,
                NAME,
                &Wake::Nudge {
                    group: group.clone(),
                },
            ));
        }
    }
    if !holdout.is_empty() {
        d = d
            .change(group_note(
                "reactivation.due",
                group,
                None,
                json!({"arm": HOLDOUT, "users": holdout}),
            ))
            .timer(window_closes(group, holdout.clone(), ctx));
    }
    if queued > 0 {
        // One row per arm, so a report counts each arm's due members.
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
    if !zombies.is_empty() {
        d = d.change(group_note(
            "reactivation.zombies",
            group,
            None,
            json!({"users": zombies, "action": format!("{:?}", config.zombie_action).to_lowercase()}),
        ));
        if config.zombie_action == crate::config::ZombieAction::Remove {
            d.merge(tell_operators(group, &zombies, ctx));
        }
    }
    if let Some(message) = asked_by {
        let text = format!(
            "扫描完成：沉默超过 {} 的成员 {} 人；本次到期 {} 人（待提醒 {} 人，对照组 {} 人），新发现僵尸成员 {} 人",
            super::human_duration(config.silent_after),
            members.len(),
            queued + holdout.len(),
            queued,
            holdout.len(),
            zombies.len()
        );
        d = d.act(reply_to(&group.group, message, text));
    }
    d
}

fn reply_to(group: &Id, message: &Id, text: String) -> Action {
    super::say(
        group,
        Message::from_segments([
            Segment::Reply {
                id: message.clone(),
            },
            Segment::Text { text },
        ]),
    )
}

/// With `zombie_action = "remove"`: the new zombies, privately to each operator.
fn tell_operators(group: &GroupKey, zombies: &[Id], ctx: &Context) -> Decision {
    let operators = &ctx.config.admins.users;
    let mut d = Decision::default();
    if operators.is_empty() {
        return d.change(group_note(
            "warning.no_operators",
            group,
            None,
            json!({"why": "zombie_action = remove, but [admins] users is empty: nobody was told"}),
        ));
    }
    let names: Vec<String> = zombies.iter().map(|u| name_and_id(group, u, ctx)).collect();
    let text = format!(
        "群 {} 有 {} 位僵尸成员待清理：{}。在群里发送 /沉默 确认 移出（每次最多 {} 位）",
        ctx.config.group_name(&group.group),
        zombies.len(),
        names.join("、"),
        ctx.config.reactivation.zombie_max_per_run
    );
    for user in operators {
        d = d.act(Action::SendPrivateMsg {
            user: user.clone(),
            message: Message::text(text.clone()),
        });
    }
    d
}

fn name_and_id(group: &GroupKey, user: &Id, ctx: &Context) -> String {
    match subject(group, user, ctx).and_then(|s| s.name) {
        Some(name) => format!("{name}({user})"),
        None => user.to_string(),
    }
}

/// The group's next nudge message, under the rules of automatic messages.
fn nudge(group: &GroupKey, ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let mut q = queue(group, ctx);
    let mut d = Decision::default();
    let Some(first) = q.first().cloned() else {
        return d;
    };
    let again = |at: DateTime<Utc>| {
        Timer::new(
            at,
            &group.account,
            NAME,
            &Wake::Nudge {
                group: group.clone(),
            },
        )
    };
    match automatic::gate(group, ctx) {
        Gate::Open => {}
        Gate::Wait(until, reason) => {
            return d.timer(again(until)).change(group_note(
                "reactivation.deferred",
                group,
                None,
                json!({"reason": reason, "until": until, "queued": q.len()}),
            ));
        }
        Gate::Closed(reason) => {
            // A paused group: the queued trials end unnudged, counted by assignment.
            for e in &q {
                if let Some(mut s) = subject(group, &e.user, ctx) {
                    s.trial = None;
                    d = d.change(Change::record(NAME, subject_key(group, &e.user), &s));
                }
            }
            let mut counts = arms(group, ctx);
            for e in &q {
                counts.entry(e.arm.clone()).or_default().expired += 1;
            }
            let users: Vec<&Id> = q.iter().map(|e| &e.user).collect();
            return d
                .change(Change::record(NAME, arms_key(group), &counts))
                .change(Change::forget(NAME, queue_key(group)))
                .change(group_note(
                    "reactivation.skipped",
                    group,
                    None,
                    json!({"reason": reason, "users": users}),
                ));
        }
    }
    let Some(variant) = config.variants.iter().find(|v| v.id == first.arm) else {
        // The variant was removed from the config: these members are drawn again at the next scan.
        let (gone, rest): (Vec<Queued>, Vec<Queued>) =
            q.into_iter().partition(|e| e.arm == first.arm);
        for e in &gone {
            if let Some(mut s) = subject(group, &e.user, ctx) {
                s.trial = None;
                d = d.change(Change::record(NAME, subject_key(group, &e.user), &s));
            }
        }
        d = d.change(Change::record(NAME, queue_key(group), &rest));
        if !rest.is_empty() {
            d = d.timer(again(ctx.now));
        }
        return d;
    };
    let mut batch = Vec::new();
    q.retain(|e| {
        if e.arm == first.arm && batch.len() < config.per_message as usize {
            batch.push(e.user.clone());
            false
        } else {
            true
        }
    });
    // A coupon for each mentioned member, by the rule of task rewards.
    let mut codes = Vec::new();
    if let Some(pool) = &variant.coupon {
        for (nth, user) in batch.iter().enumerate() {
            let member = crate::domain::MemberKey::new(&group.account, &group.group, user);
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
    }
    let text = variant.text.render(
        &batch,
        &[
            ("coupon", codes.join("，")),
            ("group", ctx.config.group_name(&group.group)),
        ],
    );
    let now = ctx.now;
    for user in &batch {
        if let Some(mut s) = subject(group, user, ctx) {
            if let Some(t) = &mut s.trial {
                t.treated = Some(now);
            }
            s.nudges += 1;
            s.last_nudge = Some(now);
            d = d.change(Change::record(NAME, subject_key(group, user), &s));
        }
    }
    d = d
        .act_automatic(super::say(&group.group, text))
        .changes(automatic::count_sent(group, ctx))
        .change(count(group, &first.arm, ctx, |c| {
            c.nudged += batch.len() as u64
        }))
        .change(group_note(
            "reactivation.nudged",
            group,
            None,
            json!({"arm": first.arm, "users": batch}),
        ))
        .change(Change::record(NAME, queue_key(group), &q))
        .timer(window_closes(group, batch, ctx));
    if !q.is_empty() {
        d = d.timer(again(now + secs(config.nudge_interval)));
    }
    d
}

fn display_name(group: &GroupKey, user: &Id, ctx: &Context) -> String {
    subject(group, user, ctx)
        .and_then(|s| s.name)
        .unwrap_or_else(|| user.to_string())
}

/// The end of the success window of `users`, treated now.
fn window_closes(group: &GroupKey, users: Vec<Id>, ctx: &Context) -> Timer {
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

/// Closes the trials treated at `treated` that are still open: no word in time.
fn expire(group: &GroupKey, users: &[Id], treated: DateTime<Utc>, ctx: &Context) -> Decision {
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

/// `/silent list|nudge|stats|zombies|confirm`, in the group of `m`.
pub fn command(
    args: &[String],
    m: &GroupMessage,
    group: GroupKey,
    ctx: &Context,
) -> Result<Decision, String> {
    let config = &ctx.config.reactivation;
    let answer = |text: String| Decision::default().act(super::reply(m, Message::text(text)));
    if !config.enabled && args.first().is_none_or(|a| a != "stats") {
        return Ok(answer(
            "沉默唤醒没有开启（在配置文件中加上 [reactivation] 一节即可开启）".into(),
        ));
    }
    match args.first().map(String::as_str) {
        None | Some("list") => Ok(answer(list_due(&group, ctx))),
        Some("nudge") => {
            let asked_by = Some(m.message_id.clone());
            let mut d = answer("正在扫描本群的沉默成员……".into());
            d.merge(scan_request(vec![group], asked_by, ctx));
            Ok(d)
        }
        Some("stats") => Ok(answer(stats_text(&arms_all(ctx)))),
        Some("zombies") => Ok(answer(list_zombies(&group, ctx))),
        Some("confirm") => Ok(confirm(&group, m, ctx)),
        Some(other) => Err(format!("不认识的子命令「{}」", clip(other, ECHO_CHARS))),
    }
}

/// Subjects of one group, with their user ids.
fn subjects(group: &GroupKey, ctx: &Context) -> Vec<(Id, Subject)> {
    let prefix = format!("m/{}/", group_path(group));
    let Some(records) = ctx.state.records.get(NAME) else {
        return Vec::new();
    };
    records
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, v)| Subject::deserialize(v).ok())
        .map(|s| (s.user.clone(), s))
        .collect()
}

fn days_silent(s: &Subject, ctx: &Context) -> String {
    match s.since {
        Some(t) => format!("{} 天", (ctx.now - t).num_days()),
        None => "从未发言".into(),
    }
}

fn list_due(group: &GroupKey, ctx: &Context) -> String {
    let mut due: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.trial.is_some())
        .collect();
    if due.is_empty() {
        return "本群目前没有到期待唤醒的沉默成员（发送 /沉默 扫描 立即扫描）".into();
    }
    due.sort_by_key(|(_, s)| s.since);
    let lines: Vec<String> = due
        .iter()
        .take(LIST_LINES)
        .map(|(user, s)| {
            let state = match (&s.trial, s.arm.as_str()) {
                (_, HOLDOUT) => "对照组，不提醒".to_string(),
                (Some(Trial { treated: None, .. }), _) => format!("待提醒（方案 {}）", s.arm),
                _ => format!("已提醒 {} 次（方案 {}）", s.nudges, s.arm),
            };
            format!(
                "{} 沉默 {}，{state}",
                display_name(group, user, ctx),
                days_silent(s, ctx)
            )
        })
        .collect();
    let more = due.len().saturating_sub(LIST_LINES);
    format!(
        "到期的沉默成员 {} 人：\n{}{}",
        due.len(),
        lines.join("\n"),
        if more > 0 {
            format!("\n……另有 {more} 人")
        } else {
            String::new()
        }
    )
}

fn list_zombies(group: &GroupKey, ctx: &Context) -> String {
    let zombies: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.zombie.is_some())
        .collect();
    if zombies.is_empty() {
        return "本群没有僵尸成员".into();
    }
    let lines: Vec<String> = zombies
        .iter()
        .take(LIST_LINES)
        .map(|(user, s)| {
            format!(
                "{} 沉默 {}，已提醒 {} 次",
                name_and_id(group, user, ctx),
                days_silent(s, ctx),
                s.nudges
            )
        })
        .collect();
    let how = match ctx.config.reactivation.zombie_action {
        crate::config::ZombieAction::Report => "（当前设置为只列出，不移出）".to_string(),
        crate::config::ZombieAction::Remove => format!(
            "（发送 /沉默 确认 移出，每次最多 {} 位）",
            ctx.config.reactivation.zombie_max_per_run
        ),
    };
    format!("僵尸成员 {} 人{how}：\n{}", zombies.len(), lines.join("\n"))
}

/// `/silent confirm`: removes this group's zombies, at most
/// `zombie_max_per_run`, never admins, the owner or exempt members.
fn confirm(group: &GroupKey, m: &GroupMessage, ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let answer = |text: String| Decision::default().act(super::reply(m, Message::text(text)));
    if config.zombie_action != crate::config::ZombieAction::Remove {
        return answer("当前设置为只列出僵尸成员，不会移出".into());
    }
    let operators = &ctx.config.admins.users;
    let mut d = Decision::default();
    let mut removed = 0;
    let mut skipped = 0;
    let zombies: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.zombie.is_some())
        .collect();
    for (user, s) in &zombies {
        let user = user.clone();
        if removed >= config.zombie_max_per_run {
            break;
        }
        if config.exempt.contains(&user) || operators.contains(&user) || user == group.account {
            skipped += 1;
            continue;
        }
        removed += 1;
        d = d
            .act(Action::SetGroupKick {
                group: group.group.clone(),
                user: user.clone(),
                reject_add_request: false,
            })
            .change(Change::record(
                NAME,
                subject_key(group, &user),
                &Subject {
                    zombie: None,
                    ..s.clone()
                },
            ))
            .change(group_note(
                "reactivation.zombie_removed",
                group,
                Some(&user),
                json!({"joined": s.joined, "last_spoke": s.since, "nudges": s.nudges,
                       "last_nudge": s.last_nudge, "confirmed_by": m.user}),
            ));
    }
    let left = zombies.len() - removed as usize - skipped;
    let text = if removed == 0 {
        "没有可移出的僵尸成员".to_string()
    } else if left > 0 {
        format!("已移出 {removed} 位僵尸成员，还有 {left} 位，再发送 /沉默 确认 继续")
    } else {
        format!("已移出 {removed} 位僵尸成员")
    };
    d.merge(answer(text));
    d
}

/// Every group's counts, summed per arm: one experiment across the shop.
pub fn arms_all(ctx: &Context) -> BTreeMap<String, ArmCount> {
    sum_arms(ctx.state.records_of(NAME))
}

/// Where each group's counts per arm are kept, among the feature's records.
pub const ARMS_PREFIX: &str = "arms/";

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

#[cfg(test)]
mod tests;
