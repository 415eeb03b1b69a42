use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::{Id, Message};

/// Something that happened on a bot account, as the gateway reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The bot account (`self_id`) the event belongs to: in a group several of
    /// the shop's accounts are in, the group's responder (see [`Event::heard_by`]).
    pub account: Id,
    /// When it happened, in unix seconds, as the gateway says.
    pub time: i64,
    pub body: EventBody,
    /// In a group several of the shop's accounts are in, the account whose copy
    /// this was. Every account sees each message; each copy is addressed to the
    /// group's responder and keyed by its content, so the first copy is logged
    /// and handled and the others are recognised as the same event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard_by: Option<Id>,
}

/// A group member's standing, as the gateway reports it on each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// What the gateway tells about a message's author; every field is best effort.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sender {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The member's group card (群名片), preferred over the nickname for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Sender {
    /// The name a member shows in the group: the card if set, else the nickname.
    pub fn display_name(&self) -> Option<&str> {
        self.card
            .as_deref()
            .filter(|c| !c.is_empty())
            .or(self.nickname.as_deref())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMessage {
    pub message_id: Id,
    pub group: Id,
    pub user: Id,
    pub sender: Sender,
    pub message: Message,
    /// Sent anonymously (匿名); `user` is then the gateway's placeholder.
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivateMessage {
    pub message_id: Id,
    pub user: Id,
    pub sender: Sender,
    pub message: Message,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    Kicked,
    /// The bot account itself was removed from the group.
    BotKicked,
}

/// The events qunbot understands, plus `Unhandled` for everything else a gateway
/// sends: those are accepted and logged, never refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    GroupMessage(GroupMessage),
    PrivateMessage(PrivateMessage),
    MemberJoined {
        group: Id,
        user: Id,
        operator: Option<Id>,
        /// Invited by a member rather than approved on request.
        invited: bool,
    },
    MemberLeft {
        group: Id,
        user: Id,
        operator: Option<Id>,
        reason: LeaveReason,
    },
    /// A mute set (duration > 0) or lifted (0).
    MemberMuted {
        group: Id,
        user: Id,
        operator: Option<Id>,
        duration_secs: u64,
    },
    MessageRecalled {
        group: Id,
        user: Id,
        operator: Option<Id>,
        message_id: Id,
    },
    AdminChanged {
        group: Id,
        user: Id,
        promoted: bool,
    },
    JoinRequest {
        group: Id,
        user: Id,
        comment: String,
        flag: String,
        /// The bot was invited into a group, rather than a user asking to join.
        invite: bool,
    },
    /// QR codes read in the images of a member's message (found by
    /// [`crate::media`], not sent by the gateway).
    QrCodes {
        message: GroupMessage,
        codes: Vec<String>,
    },
    /// A group's whole member list, as the gateway answered
    /// `get_group_member_list` (a sync, asked for by the bot).
    MemberList {
        group: Id,
        members: Vec<super::ListedMember>,
    },
    /// Members of a group silent since before `cutoff`, found by a reactivation
    /// scan of the members table (see [`crate::features::reactivation`]).
    SilentFound {
        group: Id,
        /// Unix seconds: silent since before this.
        cutoff: i64,
        /// The admin's `/silent nudge` message that asked for the scan, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asked_by: Option<Id>,
        members: Vec<super::SilentEntry>,
    },
    /// A group's figures over its last `days` days, read from the report
    /// roll-up for an admin's `/stats` (see [`crate::features::commands`]).
    StatsFound {
        group: Id,
        days: u32,
        /// The `/stats` message to answer.
        asked_by: Id,
        summary: StatsSummary,
    },
    /// What the account sync learnt of an account: its name and the groups it is
    /// in, as the gateway answered `get_login_info` and `get_group_list`.
    AccountSynced {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nickname: Option<String>,
        groups: Vec<super::ListedGroup>,
        /// Asked because the account's socket (re)connected: bridges keep no
        /// queue, so what happened while it was away is learnt again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reconnected: bool,
    },
    /// The outbox saw signs of risk control on this account (send timeouts,
    /// the gateways' risk-control answers) and pauses its automatic messages
    /// until `until` (unix seconds).
    AccountSuspect {
        reason: String,
        until: i64,
        /// The repeat this is within a day (1 for the first pause).
        repeat: u32,
    },
    /// An account's reverse WebSocket came up or went down (closed, or silent
    /// for three heartbeat intervals): noted by the gateway, not sent by it.
    AccountLink {
        connected: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A config reload's outcome (noted by the reloader, not sent by a
    /// gateway), with the admins' `/reload` messages it answers.
    ConfigReloaded {
        applied: bool,
        /// What changed, by section (`filter`, `flash_sales`, the word list…).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        changes: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        restart_needed: Vec<String>,
        /// Why it was refused: `file:line:col: reason` each.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        problems: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        asked: Vec<Asker>,
    },
    /// An action the outbox closed without the gateway taking it (a post past
    /// its deadline, one given up after an outage, one refused): noted by the
    /// outbox for the owner.
    Undelivered {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<Id>,
        /// The schedule a post was part of.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        /// `late`, `gave_up`, or the gateway's refusal.
        reason: String,
    },
    /// The account's gateway has not answered since `since` (unix seconds):
    /// noted by the outbox once the outage lasts `notify.gateway_down`.
    GatewayDown {
        since: i64,
    },
    Heartbeat {
        interval_ms: Option<u64>,
    },
    Lifecycle {
        phase: String,
    },
    Unhandled {
        /// A short name of what it was (`notice.group_upload`, `message_sent`, ...).
        what: String,
        raw: serde_json::Value,
    },
}

/// An admin's message asking for something done outside the engine, to be
/// answered once it is done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asker {
    pub account: Id,
    pub group: Id,
    pub message_id: Id,
}

impl Event {
    pub fn new(account: Id, time: i64, body: EventBody) -> Event {
        Event {
            account,
            time,
            body,
            heard_by: None,
        }
    }

    /// Addresses this copy of a group event to `responder`, the one voice of a
    /// group that several of the shop's accounts are in.
    pub fn address_to(&mut self, responder: Id) {
        let heard_by = std::mem::replace(&mut self.account, responder);
        self.heard_by = Some(heard_by);
    }

    /// A short dotted name for logs and the `events.kind` column.
    pub fn kind(&self) -> String {
        let fixed = match &self.body {
            EventBody::GroupMessage(_) => "message.group",
            EventBody::PrivateMessage(_) => "message.private",
            EventBody::MemberJoined { .. } => "notice.member_joined",
            EventBody::MemberLeft { .. } => "notice.member_left",
            EventBody::MemberMuted { .. } => "notice.member_muted",
            EventBody::MessageRecalled { .. } => "notice.message_recalled",
            EventBody::AdminChanged { .. } => "notice.admin_changed",
            EventBody::JoinRequest { .. } => "request.join",
            EventBody::QrCodes { .. } => "media.qr_codes",
            EventBody::MemberList { .. } => "sync.member_list",
            EventBody::SilentFound { .. } => "reactivation.scanned",
            EventBody::StatsFound { .. } => "report.stats",
            EventBody::AccountSynced { .. } => "sync.account",
            EventBody::AccountSuspect { .. } => "account.suspect",
            EventBody::AccountLink { .. } => "account.link",
            EventBody::ConfigReloaded { .. } => "config.reload",
            EventBody::Undelivered { .. } => "outbox.undelivered",
            EventBody::GatewayDown { .. } => "gateway.down",
            EventBody::Heartbeat { .. } => "meta.heartbeat",
            EventBody::Lifecycle { .. } => "meta.lifecycle",
            EventBody::Unhandled { what, .. } => return format!("unhandled.{what}"),
        };
        fixed.to_string()
    }

    pub fn group(&self) -> Option<&Id> {
        match &self.body {
            EventBody::GroupMessage(m) | EventBody::QrCodes { message: m, .. } => Some(&m.group),
            EventBody::MemberJoined { group, .. }
            | EventBody::MemberLeft { group, .. }
            | EventBody::MemberMuted { group, .. }
            | EventBody::MessageRecalled { group, .. }
            | EventBody::AdminChanged { group, .. }
            | EventBody::JoinRequest { group, .. }
            | EventBody::MemberList { group, .. }
            | EventBody::SilentFound { group, .. }
            | EventBody::StatsFound { group, .. } => Some(group),
            _ => None,
        }
    }

    pub fn user(&self) -> Option<&Id> {
        match &self.body {
            EventBody::GroupMessage(m) | EventBody::QrCodes { message: m, .. } => Some(&m.user),
            EventBody::PrivateMessage(m) => Some(&m.user),
            EventBody::MemberJoined { user, .. }
            | EventBody::MemberLeft { user, .. }
            | EventBody::MemberMuted { user, .. }
            | EventBody::MessageRecalled { user, .. }
            | EventBody::AdminChanged { user, .. }
            | EventBody::JoinRequest { user, .. } => Some(user),
            _ => None,
        }
    }

    /// What makes two deliveries "the same event", so a redelivery or a replayed
    /// request is recognised. Messages are identified by their id on the account;
    /// anything else by a digest of its whole content, time included.
    pub fn dedup_key(&self) -> String {
        match &self.body {
            // Each account numbers messages its own way: copies of one message
            // seen by several accounts are known by their content and time.
            // Only what every account sees alike: a picture's URL and a quote's
            // message id are each account's own.
            EventBody::GroupMessage(m) if self.heard_by.is_some() => {
                let mut hasher = Sha1::new();
                hasher.update(self.time.to_le_bytes());
                hasher.update(m.user.as_str().as_bytes());
                for segment in &m.message.0 {
                    let part = match segment {
                        super::Segment::Text { text } => format!("t{text}"),
                        super::Segment::At { target } => format!("@{target:?}"),
                        super::Segment::Face { id } => format!("f{id}"),
                        super::Segment::Image { file, .. } => format!("i{file}"),
                        super::Segment::Reply { .. } => "r".to_string(),
                        super::Segment::Other { kind, .. } => format!("o{kind}"),
                    };
                    hasher.update(part.len().to_le_bytes());
                    hasher.update(part.as_bytes());
                }
                format!("gmsg:{}:{}", m.group, hex::encode(hasher.finalize()))
            }
            EventBody::GroupMessage(m) => format!("msg:{}", m.message_id),
            // A join request's flag is its account's own.
            EventBody::JoinRequest {
                group,
                user,
                comment,
                invite,
                ..
            } if self.heard_by.is_some() => {
                let mut hasher = Sha1::new();
                hasher.update(self.time.to_le_bytes());
                hasher.update(
                    serde_json::to_vec(&(group, user, comment, invite)).unwrap_or_default(),
                );
                format!("req:{}", hex::encode(hasher.finalize()))
            }
            EventBody::PrivateMessage(m) => format!("msg:{}", m.message_id),
            body => {
                let mut hasher = Sha1::new();
                hasher.update(self.time.to_le_bytes());
                // Serialising our own types cannot fail; an empty digest input would
                // still be a stable key.
                hasher.update(serde_json::to_vec(body).unwrap_or_default());
                format!("sha1:{}", hex::encode(hasher.finalize()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(time: i64, user: i64) -> Event {
        Event {
            account: Id::number(1),
            time,
            body: EventBody::MemberJoined {
                group: Id::number(10),
                user: Id::number(user),
                operator: None,
                invited: false,
            },
            heard_by: None,
        }
    }

    #[test]
    fn the_same_notice_has_the_same_key_and_a_different_one_does_not() {
        assert_eq!(joined(5, 2).dedup_key(), joined(5, 2).dedup_key());
        assert_ne!(joined(5, 2).dedup_key(), joined(5, 3).dedup_key());
        assert_ne!(joined(5, 2).dedup_key(), joined(6, 2).dedup_key());
    }

    #[test]
    fn the_card_is_preferred_over_the_nickname() {
        let s = Sender {
            nickname: Some("nick".into()),
            card: Some("card".into()),
            role: None,
        };
        assert_eq!(s.display_name(), Some("card"));
        let s = Sender {
            card: Some(String::new()),
            ..s
        };
        assert_eq!(s.display_name(), Some("nick"));
    }
}

/// A group's figures for `/stats`: the same numbers `qunbot report` shows for
/// the group, over the span from `from` to `to` (calendar days).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSummary {
    pub from: String,
    pub to: String,
    pub messages: i64,
    /// Distinct members who spoke in the span.
    pub speakers: i64,
    /// Head count at the end of the span, once a member list was seen.
    pub members: Option<i64>,
    pub joins: i64,
    pub leaves: i64,
    pub checkins: i64,
    pub tasks_handed_out: i64,
    pub tasks_done: i64,
    pub filter_hits: i64,
    pub posts_sent: i64,
    pub posts_delivered: i64,
}
