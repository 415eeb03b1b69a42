//! The roll-up's membership: what the replay needs to know of the members a
//! chunk names, and writing back their stays, head counts and listings.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sqlx::SqliteConnection;

use super::rollup::{day_text, direct, parse_day};
use super::StoreError;
use crate::report::rollup::{GroupRef, Known, MemberOp, MemberRef, Replayed};

/// What the membership replay needs from the roll-up.
pub(super) async fn known(
    conn: &mut SqliteConnection,
    ops: &[MemberOp],
) -> Result<Known, StoreError> {
    let mut named: BTreeSet<&MemberRef> = BTreeSet::new();
    let mut groups: BTreeSet<&GroupRef> = BTreeSet::new();
    let mut listed: BTreeSet<&GroupRef> = BTreeSet::new();
    let mut named_groups: Vec<GroupRef> = Vec::new();
    for op in ops {
        match op {
            MemberOp::Joined { member, .. } | MemberOp::Left { member, .. } => {
                named.insert(member);
            }
            MemberOp::Listed { group, .. } => {
                listed.insert(group);
                groups.insert(group);
            }
        }
    }
    for m in &named {
        if named_groups
            .last()
            .is_none_or(|g| (&g.account, &g.group) != (&m.account, &m.group))
        {
            named_groups.push(GroupRef {
                account: m.account.clone(),
                group: m.group.clone(),
            });
        }
    }
    groups.extend(named_groups.iter());
    // In the tables' key order, one prepared statement per question.
    direct(conn, |db| {
        let mut known = Known::default();
        let mut is_present = db.prepare(
            "SELECT 1 FROM rollup_presence WHERE account = ?1 AND group_id = ?2 AND user_id = ?3",
        )?;
        let mut open_stay_of = db.prepare(
            "SELECT joined_day FROM rollup_stays
             WHERE account = ?1 AND group_id = ?2 AND user_id = ?3 AND left_day IS NULL",
        )?;
        let mut open_stays_in = db.prepare(
            "SELECT user_id, joined_day FROM rollup_stays
             WHERE account = ?1 AND group_id = ?2 AND left_day IS NULL",
        )?;
        let mut members_of =
            db.prepare("SELECT members FROM rollup_groups WHERE account = ?1 AND group_id = ?2")?;
        for m in &named {
            let key = rusqlite::params![m.account, m.group, m.user];
            known.set_present(m, is_present.exists(key)?);
            let mut stays = open_stay_of.query(key)?;
            while let Some(row) = stays.next()? {
                let joined: String = row.get(0)?;
                known.set_open_stay(m, parse_day("rollup_stays", &joined)?);
            }
        }
        for g in &listed {
            let mut stays = open_stays_in.query(rusqlite::params![g.account, g.group])?;
            while let Some(row) = stays.next()? {
                let (user, joined): (String, String) = (row.get(0)?, row.get(1)?);
                let m = MemberRef {
                    account: g.account.clone(),
                    group: g.group.clone(),
                    user,
                };
                known.set_open_stay(&m, parse_day("rollup_stays", &joined)?);
            }
        }
        for g in &groups {
            let mut found = members_of.query(rusqlite::params![g.account, g.group])?;
            if let Some(row) = found.next()? {
                known.members.insert((*g).clone(), row.get(0)?);
            }
        }
        Ok(known)
    })
    .await
}

/// Writes the replayed membership: presence, head counts and stays, each
/// table's rows in its key order through one prepared statement.
pub(super) async fn write_membership(
    conn: &mut SqliteConnection,
    r: &Replayed,
) -> Result<(), StoreError> {
    let mut now_in: Vec<(&GroupRef, &str)> = Vec::new();
    let mut now_out: Vec<(&GroupRef, &str)> = Vec::new();
    for (g, users) in &r.present {
        for (u, present) in users {
            if *present {
                now_in.push((g, u));
            } else {
                now_out.push((g, u));
            }
        }
    }
    for (g, users) in &r.relisted {
        now_in.extend(users.iter().map(|u| (g, u.as_str())));
    }
    now_in.sort_unstable();
    now_out.sort_unstable();
    let mut members: Vec<(&GroupRef, &i64)> = r.members.iter().collect();
    members.sort_unstable();
    let mut opened: Vec<&(MemberRef, NaiveDate)> = r.stays_opened.iter().collect();
    opened.sort_unstable();
    let mut closed: Vec<&(MemberRef, NaiveDate, NaiveDate)> = r.stays_closed.iter().collect();
    closed.sort_unstable();
    direct(conn, |db| {
        // A relisted group's presence is its list at the end of the chunk.
        let mut forget_group =
            db.prepare("DELETE FROM rollup_presence WHERE account = ?1 AND group_id = ?2")?;
        for g in r.relisted.keys() {
            forget_group.execute(rusqlite::params![g.account, g.group])?;
        }
        let mut add = db.prepare(
            "INSERT OR IGNORE INTO rollup_presence (account, group_id, user_id) VALUES (?1, ?2, ?3)",
        )?;
        for (g, u) in now_in {
            add.execute(rusqlite::params![g.account, g.group, u])?;
        }
        let mut remove = db.prepare(
            "DELETE FROM rollup_presence WHERE account = ?1 AND group_id = ?2 AND user_id = ?3",
        )?;
        for (g, u) in now_out {
            remove.execute(rusqlite::params![g.account, g.group, u])?;
        }
        let mut set_members = db.prepare(
            "INSERT INTO rollup_groups (account, group_id, members) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, group_id) DO UPDATE SET members = excluded.members",
        )?;
        for (g, n) in members {
            set_members.execute(rusqlite::params![g.account, g.group, n])?;
        }
        // A rejoin on the day of the leave continues that stay.
        let mut open = db.prepare(
            "INSERT INTO rollup_stays (account, group_id, user_id, joined_day) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account, group_id, user_id, joined_day) DO UPDATE SET left_day = NULL",
        )?;
        for (m, joined) in opened {
            open.execute(rusqlite::params![m.account, m.group, m.user, day_text(*joined)])?;
        }
        let mut close = db.prepare(
            "UPDATE rollup_stays SET left_day = ?5
             WHERE account = ?1 AND group_id = ?2 AND user_id = ?3 AND joined_day = ?4",
        )?;
        for (m, joined, left) in closed {
            close.execute(rusqlite::params![
                m.account,
                m.group,
                m.user,
                day_text(*joined),
                day_text(*left)
            ])?;
        }
        Ok(())
    })
    .await
}
