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
//!
//! **Map.** This file holds the [`Feature`] impl and the public API;
//! `records` the members' [`Subject`]s and the keys they are kept under;
//! `sync` the member-list syncs; `scan` planning scans and deciding on what
//! they find; `experiment` arms, trials, counts and `/silent stats`; `nudges`
//! the queue and the nudge messages; `zombies` marking and removing zombies;
//! `command` the `/silent` command.

mod command;
mod experiment;
mod nudges;
mod records;
mod scan;
mod sync;
mod zombies;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Decision, Feature, Timer};
use crate::domain::{Action, Event, EventBody, GroupKey, Id};
use crate::engine::WakeError;

pub use command::command;
pub use experiment::{arms_all, draw_arm, stats_text, sum_arms, ArmCount, ARMS_PREFIX};
pub use records::{Subject, Trial};
pub use scan::{ScanRequest, SCAN, SCAN_LIMIT};

pub const NAME: &str = "reactivation";
/// The control arm's name.
pub use crate::stats::HOLDOUT;

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

fn secs(d: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
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
            return sync::rosters(&event.account, groups, *reconnected, ctx);
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
        let mut d = sync::first_heard(group, ctx);
        d.merge(match &event.body {
            EventBody::GroupMessage(m) => experiment::spoke(&key, &m.user, ctx),
            EventBody::MemberLeft { user, .. } => experiment::left(&key, user, ctx),
            EventBody::AdminChanged {
                user,
                promoted: true,
                ..
            } => zombies::promoted(&key, user, ctx),
            EventBody::SilentFound {
                asked_by, members, ..
            } => scan::found(&key, asked_by.as_ref(), members, ctx),
            _ => Decision::default(),
        });
        d
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        Ok(match timer.wake()? {
            Wake::Scan { instant } => scan::scan_due(instant, ctx),
            Wake::Sync { groups } => Decision {
                actions: groups
                    .into_iter()
                    .map(|group| Action::GetGroupMemberList { group })
                    .collect(),
                ..Decision::default()
            },
            Wake::Nudge { group } => nudges::nudge(&group, ctx),
            Wake::Expire {
                group,
                users,
                treated,
            } => experiment::expire(&group, &users, treated, ctx),
        })
    }

    fn on_tick(&self, ctx: &Context) -> Decision {
        if !ctx.config.reactivation.enabled {
            return Decision::default();
        }
        let mut d = scan::plan_scan(ctx);
        d.merge(sync::sync(ctx, false));
        d
    }

    fn on_start(&self, ctx: &Context) -> Decision {
        if !ctx.config.reactivation.enabled {
            return Decision::default();
        }
        sync::sync(ctx, true)
    }
}

#[cfg(test)]
mod tests;
