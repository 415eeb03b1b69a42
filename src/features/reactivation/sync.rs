//! Member-list syncs: reading each managed group's roster when it is first
//! heard from, when its account (re)connects, and daily.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::records::sync_key;
use super::{Wake, NAME};
use crate::domain::{Action, GroupKey, Id, ListedGroup};
use crate::features::{schedule, Change, Context, Decision, Timer};

/// A group's member list is synced at each start and then this often.
const SYNC_EVERY: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Asks for the member list of a managed group heard from for the first time.
pub(super) fn first_heard(group: &Id, ctx: &Context) -> Decision {
    // Every group message passes here: the cheap lookup first.
    if !ctx.state.has_record(NAME, &sync_key(group)) && ctx.config.is_managed(group) {
        return read_roster(group, ctx);
    }
    Decision::default()
}

fn read_roster(group: &Id, ctx: &Context) -> Decision {
    Decision::default()
        .act(Action::GetGroupMemberList {
            group: group.clone(),
        })
        .change(Change::record(NAME, sync_key(group), &ctx.now))
}

/// Asks for the member list of each managed group `account` speaks in that
/// has never been read (a group known from the account sync, before anyone
/// spoke), or of every such group when the account `reconnected`: what
/// happened while its bridge was away is not sent again.
pub(super) fn rosters(
    account: &Id,
    listed: &[ListedGroup],
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
            d.merge(read_roster(group, ctx));
        }
    }
    d
}

/// The managed groups whose bot account is known.
pub(super) fn groups(ctx: &Context) -> Vec<GroupKey> {
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
pub(super) fn sync(ctx: &Context, all: bool) -> Decision {
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
