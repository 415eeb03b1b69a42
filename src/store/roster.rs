//! The `members` table: who is in which group, since when, and when they last
//! spoke. Written from the roster facts of each engine batch (see
//! [`crate::domain::RosterUpdate`]), in the batch's own transaction.

use std::collections::HashMap;

use super::script::Script;
use super::{timestamp, INSERT_CHUNK};
use crate::domain::{MemberKey, RosterChange, RosterSync, RosterUpdate};
use chrono::DateTime;

/// A member seen speaking: the bulk of every batch.
struct Speaker<'a> {
    member: &'a MemberKey,
    name: Option<&'a str>,
    role: Option<&'static str>,
    at: String,
}

pub(super) fn write_roster(script: &mut Script, updates: &[RosterUpdate]) {
    // Speakers go in one multi-row upsert per chunk; a member's last message wins.
    let mut speakers: Vec<Speaker> = Vec::new();
    let mut index: HashMap<&MemberKey, usize> = HashMap::new();
    for update in updates {
        let at = timestamp(DateTime::from_timestamp(update.time, 0).unwrap_or_default());
        let m = &update.member;
        let (sql, value) = match &update.change {
            RosterChange::Spoke { name, role } => {
                let row = Speaker {
                    member: m,
                    name: name.as_deref(),
                    role: role.map(|r| r.as_str()),
                    at,
                };
                match index.get(m) {
                    Some(&i) => speakers[i] = row,
                    None => {
                        index.insert(m, speakers.len());
                        speakers.push(row);
                    }
                }
                continue;
            }
            RosterChange::Joined => (
                "INSERT INTO members (account, group_id, user_id, joined_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (account, group_id, user_id)
                 DO UPDATE SET joined_at = excluded.joined_at, left_at = NULL",
                at,
            ),
            RosterChange::Left => (
                "INSERT INTO members (account, group_id, user_id, left_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (account, group_id, user_id) DO UPDATE SET left_at = excluded.left_at",
                at,
            ),
            RosterChange::RoleChanged { admin } => (
                "INSERT INTO members (account, group_id, user_id, role) VALUES (?, ?, ?, ?)
                 ON CONFLICT (account, group_id, user_id) DO UPDATE SET role = excluded.role",
                if *admin { "admin" } else { "member" }.to_string(),
            ),
        };
        script.add(
            sql,
            [
                m.account.to_string().into(),
                m.group.to_string().into(),
                m.user.to_string().into(),
                value.into(),
            ],
        );
    }
    for chunk in speakers.chunks(INSERT_CHUNK) {
        script.add_built(|q| {
            q.push(
                "INSERT INTO members (account, group_id, user_id, nickname, role, last_spoke_at) ",
            );
            q.push_values(chunk, |mut row, s| {
                row.push_bind(s.member.account.to_string())
                    .push_bind(s.member.group.to_string())
                    .push_bind(s.member.user.to_string())
                    .push_bind(s.name.map(str::to_string))
                    .push_bind(s.role)
                    .push_bind(s.at.clone());
            });
            q.push(
                " ON CONFLICT (account, group_id, user_id) DO UPDATE SET
                  nickname = COALESCE(excluded.nickname, members.nickname),
                  role = COALESCE(excluded.role, members.role),
                  last_spoke_at = excluded.last_spoke_at",
            );
        });
    }
}

/// A group's member list: every listed member present (a newer join time from
/// the list when they had left; the later of the two last-spoke times), and
/// every other present member who neither joined nor spoke after the list was
/// taken marked as left then. An empty list marks nobody as left: a group
/// always lists at least the bot, so an empty one is the gateway's glitch.
pub(super) fn write_sync(script: &mut Script, sync: &RosterSync) {
    let unix = |t: Option<i64>| {
        t.and_then(|t| DateTime::from_timestamp(t, 0))
            .map(timestamp)
    };
    let account = sync.group.account.to_string();
    let group = sync.group.group.to_string();
    for chunk in sync.members.chunks(INSERT_CHUNK) {
        script.add_built(|q| {
            q.push("INSERT INTO members (account, group_id, user_id, nickname, role, joined_at, last_spoke_at) ");
            q.push_values(chunk, |mut row, m| {
                row.push_bind(account.clone())
                    .push_bind(group.clone())
                    .push_bind(m.user.to_string())
                    .push_bind(m.name.clone())
                    .push_bind(m.role.map(|r| r.as_str()))
                    .push_bind(unix(m.joined))
                    .push_bind(unix(m.last_spoke));
            });
            q.push(
                " ON CONFLICT (account, group_id, user_id) DO UPDATE SET
                  nickname = COALESCE(excluded.nickname, members.nickname),
                  role = COALESCE(excluded.role, members.role),
                  joined_at = CASE WHEN members.left_at IS NOT NULL
                      THEN COALESCE(excluded.joined_at, members.joined_at)
                      ELSE COALESCE(members.joined_at, excluded.joined_at) END,
                  left_at = NULL,
                  last_spoke_at = CASE WHEN excluded.last_spoke_at > COALESCE(members.last_spoke_at, '')
                      THEN excluded.last_spoke_at ELSE members.last_spoke_at END",
            );
        });
    }
    if sync.members.is_empty() {
        return;
    }
    let listed: Vec<String> = sync.members.iter().map(|m| m.user.to_string()).collect();
    let taken = timestamp(DateTime::from_timestamp(sync.time, 0).unwrap_or_default());
    script.add(
        "UPDATE members SET left_at = ?
         WHERE account = ? AND group_id = ? AND left_at IS NULL
           AND COALESCE(joined_at, '') <= ? AND COALESCE(last_spoke_at, '') <= ?
           AND user_id NOT IN (SELECT value FROM json_each(?))",
        [
            taken.clone().into(),
            account.into(),
            group.into(),
            taken.clone().into(),
            taken.into(),
            serde_json::Value::from(listed).to_string().into(),
        ],
    );
}
