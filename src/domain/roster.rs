//! What an event tells about a group's membership: who joined, left, spoke or
//! changed role. The store keeps these facts as its `members` table, written in
//! the engine batch that handles the event, so each is applied exactly once and
//! the webhook's write stays small.

use super::{Event, EventBody, MemberKey, Role};

/// One membership fact, at the event's own time (unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct RosterUpdate {
    pub member: MemberKey,
    pub time: i64,
    pub change: RosterChange,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RosterChange {
    /// The member spoke; the gateway's name and role for them come along.
    Spoke {
        name: Option<String>,
        role: Option<Role>,
    },
    Joined,
    Left,
    /// Made admin, or made a plain member again.
    RoleChanged {
        admin: bool,
    },
}

impl Event {
    /// The membership fact this event carries, if any.
    pub fn roster_update(&self) -> Option<RosterUpdate> {
        let (group, user, change) = match &self.body {
            EventBody::GroupMessage(m) => (
                &m.group,
                &m.user,
                RosterChange::Spoke {
                    name: m.sender.display_name().map(str::to_string),
                    role: m.sender.role,
                },
            ),
            EventBody::MemberJoined { group, user, .. } => (group, user, RosterChange::Joined),
            EventBody::MemberLeft { group, user, .. } => (group, user, RosterChange::Left),
            EventBody::AdminChanged {
                group,
                user,
                promoted,
            } => (group, user, RosterChange::RoleChanged { admin: *promoted }),
            _ => return None,
        };
        Some(RosterUpdate {
            member: MemberKey::new(&self.account, group, user),
            time: self.time,
            change,
        })
    }
}
