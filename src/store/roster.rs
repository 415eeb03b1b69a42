//! The `members` table: who is in which group, since when, and when they last
//! spoke. Written from the roster facts of each engine batch (see
//! [`crate::domain::RosterUpdate`]), in the batch's own transaction.

use std::collections::HashMap;

use super::script::Script;
use super::{timestamp, INSERT_CHUNK};
use crate::domain::{MemberKey, RosterChange, RosterUpdate};
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
