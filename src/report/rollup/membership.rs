//! Membership replayed in log order: each member's stays, each group's head
//! count at the end of each day, and who was listed again by a member list.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::{DayKey, GroupRef, MemberOp, MemberRef};

/// A stay as stored: the day it began and, once over, the day it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub joined: NaiveDate,
    pub left: Option<NaiveDate>,
}

/// Members of one group by user id.
pub type ByUser<T> = HashMap<String, T>;

/// What the membership replay starts from, read from the roll-up. Kept by group:
/// a member list replaces a group's members, and must not walk everyone's.
#[derive(Debug, Default)]
pub struct Known {
    /// Whether each member named by a join or leave is present.
    pub present: HashMap<GroupRef, ByUser<bool>>,
    /// The head count of each group the ops touch, once a member list was seen.
    pub members: HashMap<GroupRef, i64>,
    /// The open stay (its join day) of each member named by a join or leave, and
    /// of every member of a listed group.
    pub open_stays: HashMap<GroupRef, ByUser<NaiveDate>>,
}

impl Known {
    pub fn set_present(&mut self, m: &MemberRef, present: bool) {
        self.present
            .entry(group_of(m))
            .or_default()
            .insert(m.user.clone(), present);
    }

    pub fn set_open_stay(&mut self, m: &MemberRef, joined: NaiveDate) {
        let stays = self.open_stays.entry(group_of(m)).or_default();
        // A member with two open stays (a missed leave): the later one counts.
        let e = stays.entry(m.user.clone()).or_insert(joined);
        *e = (*e).max(joined);
    }

    fn is_present(&self, m: &MemberRef) -> bool {
        self.present
            .get(&group_of(m))
            .and_then(|g| g.get(&m.user))
            .copied()
            .unwrap_or(false)
    }
}

/// What the membership replay writes back.
#[derive(Debug, Default, PartialEq)]
pub struct Replayed {
    /// Groups whose presence is replaced: their members at the end of the chunk.
    pub relisted: BTreeMap<GroupRef, HashSet<String>>,
    /// Members of other groups whose presence changed.
    pub present: HashMap<GroupRef, ByUser<bool>>,
    pub members: HashMap<GroupRef, i64>,
    /// The head count at the end of each day a change happened on.
    pub day_end: HashMap<DayKey, i64>,
    pub stays_opened: Vec<(MemberRef, NaiveDate)>,
    /// (member, join day of the stay, day it ended).
    pub stays_closed: Vec<(MemberRef, NaiveDate, NaiveDate)>,
}

/// Replays the membership ops in order over what is known.
pub fn replay(ops: &[MemberOp], mut known: Known) -> Replayed {
    let mut out = Replayed::default();
    for op in ops {
        match op {
            MemberOp::Listed { group, day, users } => {
                let listed: HashSet<String> = users.iter().cloned().collect();
                // Open stays of members the list lacks are over.
                if let Some(stays) = known.open_stays.get_mut(group) {
                    let gone: Vec<String> = stays
                        .keys()
                        .filter(|u| !listed.contains(*u))
                        .cloned()
                        .collect();
                    for user in gone {
                        if let Some(joined) = stays.remove(&user) {
                            let m = MemberRef {
                                account: group.account.clone(),
                                group: group.group.clone(),
                                user,
                            };
                            out.stays_closed.push((m, joined, *day));
                        }
                    }
                }
                out.present.remove(group);
                known.present.insert(
                    group.clone(),
                    listed.iter().map(|u| (u.clone(), true)).collect(),
                );
                let count = listed.len() as i64;
                out.relisted.insert(group.clone(), listed);
                known.members.insert(group.clone(), count);
                out.members.insert(group.clone(), count);
                out.day_end.insert(day_key(group, *day), count);
            }
            MemberOp::Joined { member, day } => {
                let group = group_of(member);
                if !known.is_present(member) {
                    // A head count starts at a member list: joins alone would
                    // count the newcomers and none of the members before them.
                    if let Some(count) = known.members.get_mut(&group) {
                        *count += 1;
                        out.members.insert(group.clone(), *count);
                        out.day_end.insert(day_key(&group, *day), *count);
                    }
                    set_present(&mut known, &mut out, member, true);
                }
                let stays = known.open_stays.entry(group).or_default();
                if !stays.contains_key(&member.user) {
                    stays.insert(member.user.clone(), *day);
                    out.stays_opened.push((member.clone(), *day));
                }
            }
            MemberOp::Left { member, day } => {
                let group = group_of(member);
                if known.is_present(member) {
                    if let Some(count) = known.members.get_mut(&group) {
                        *count = (*count - 1).max(0);
                        out.members.insert(group.clone(), *count);
                        out.day_end.insert(day_key(&group, *day), *count);
                    }
                    set_present(&mut known, &mut out, member, false);
                }
                let joined = known
                    .open_stays
                    .get_mut(&group)
                    .and_then(|s| s.remove(&member.user));
                if let Some(joined) = joined {
                    out.stays_closed.push((member.clone(), joined, *day));
                }
            }
        }
    }
    out
}

fn set_present(known: &mut Known, out: &mut Replayed, member: &MemberRef, present: bool) {
    known.set_present(member, present);
    match out.relisted.get_mut(&group_of(member)) {
        Some(list) => {
            if present {
                list.insert(member.user.clone());
            } else {
                list.remove(&member.user);
            }
        }
        None => {
            out.present
                .entry(group_of(member))
                .or_default()
                .insert(member.user.clone(), present);
        }
    }
}

fn group_of(m: &MemberRef) -> GroupRef {
    GroupRef {
        account: m.account.clone(),
        group: m.group.clone(),
    }
}

fn day_key(g: &GroupRef, day: NaiveDate) -> DayKey {
    DayKey {
        account: g.account.clone(),
        group: g.group.clone(),
        day,
    }
}

/// The last day a member spoke during each stay, from the days they spoke in a
/// chunk: a day counts for the stay it falls in.
pub fn last_spoke(stays: &[Stay], days: &[NaiveDate]) -> Vec<Option<NaiveDate>> {
    stays
        .iter()
        .map(|s| {
            days.iter()
                .filter(|d| **d >= s.joined && s.left.is_none_or(|l| **d <= l))
                .max()
                .copied()
        })
        .collect()
}
