//! What an event tells about a group's membership: who joined, left, spoke or
//! changed role. The store keeps these facts as its `members` table, written in
//! the engine batch that handles the event, so each is applied exactly once and
//! the webhook's write stays small.

use serde::{Deserialize, Serialize};

use super::{Event, EventBody, GroupKey, Id, MemberKey, Role};

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

/// A member as a group's member list shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedMember {
    pub user: Id,
    /// The group card, else the nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Unix seconds, when the gateway knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<i64>,
    /// Unix seconds of their last message, when the gateway knows: it covers
    /// what was said while the daemon was down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_spoke: Option<i64>,
}

/// A group as the gateway's group list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGroup {
    pub group: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A group's whole member list at one time: the listed members are present
/// (and those who never spoke become known); anyone else the table holds as
/// present, who neither joined nor spoke after the list was taken, has left.
#[derive(Clone, Debug, PartialEq)]
pub struct RosterSync {
    pub group: GroupKey,
    /// Unix seconds: when the list was taken.
    pub time: i64,
    pub members: Vec<ListedMember>,
}

/// A silent member as a reactivation scan found them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SilentEntry {
    pub user: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unix seconds of their last word, else of their joining; `None`: known
    /// only from a member list, silent as far as the bot knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<i64>,
}

impl Event {
    /// The member list this event carries, without the bot account itself.
    pub fn roster_sync(&self) -> Option<RosterSync> {
        let EventBody::MemberList { group, members } = &self.body else {
            return None;
        };
        Some(RosterSync {
            group: GroupKey {
                account: self.account.clone(),
                group: group.clone(),
            },
            time: self.time,
            members: members
                .iter()
                .filter(|m| m.user != self.account)
                .cloned()
                .collect(),
        })
    }

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
