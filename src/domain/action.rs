use serde::{Deserialize, Serialize};

use super::{Id, Message};

/// Something qunbot asks the gateway to do. Features return these; the outbox
/// persists, paces and delivers them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    SendGroupMsg {
        group: Id,
        message: Message,
    },
    SendPrivateMsg {
        user: Id,
        message: Message,
    },
    DeleteMsg {
        message_id: Id,
        /// The group the message was in, for pacing and the log.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<Id>,
    },
    SetGroupBan {
        group: Id,
        user: Id,
        /// Seconds; 0 lifts the mute.
        duration_secs: u64,
    },
    SetGroupKick {
        group: Id,
        user: Id,
        reject_add_request: bool,
    },
    SetGroupAddRequest {
        group: Id,
        flag: String,
        invite: bool,
        approve: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    GetGroupMemberList {
        group: Id,
    },
    /// Which account the gateway is logged in as (`get_login_info`): the account sync.
    GetLoginInfo,
    /// The groups the account is in (`get_group_list`): the account sync.
    GetGroupList,
}

impl Action {
    /// The action's name, as logged (it matches the OneBot action name).
    pub fn name(&self) -> &'static str {
        match self {
            Action::SendGroupMsg { .. } => "send_group_msg",
            Action::SendPrivateMsg { .. } => "send_private_msg",
            Action::DeleteMsg { .. } => "delete_msg",
            Action::SetGroupBan { .. } => "set_group_ban",
            Action::SetGroupKick { .. } => "set_group_kick",
            Action::SetGroupAddRequest { .. } => "set_group_add_request",
            Action::GetGroupMemberList { .. } => "get_group_member_list",
            Action::GetLoginInfo => "get_login_info",
            Action::GetGroupList => "get_group_list",
        }
    }

    pub fn group(&self) -> Option<&Id> {
        match self {
            Action::SendGroupMsg { group, .. }
            | Action::SetGroupBan { group, .. }
            | Action::SetGroupKick { group, .. }
            | Action::SetGroupAddRequest { group, .. }
            | Action::GetGroupMemberList { group } => Some(group),
            Action::DeleteMsg { group, .. } => group.as_ref(),
            Action::SendPrivateMsg { .. } | Action::GetLoginInfo | Action::GetGroupList => None,
        }
    }

    pub fn user(&self) -> Option<&Id> {
        match self {
            Action::SendPrivateMsg { user, .. }
            | Action::SetGroupBan { user, .. }
            | Action::SetGroupKick { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Whether this is a message members see in the chat: those are paced per group,
    /// since platforms ban accounts that post in bursts.
    pub fn is_chat_message(&self) -> bool {
        matches!(
            self,
            Action::SendGroupMsg { .. } | Action::SendPrivateMsg { .. }
        )
    }
}

/// An action on behalf of one bot account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    pub account: Id,
    pub action: Action,
    /// What the action is part of (a schedule's id for its posts), logged with its
    /// outcome so a report can say how many of a campaign's posts got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A message the bot sends on its own (a post, a nudge, a welcome), not an
    /// answer: it waits while its account is suspect of risk control, and has
    /// a lane of its own so a recall never waits behind it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automatic: bool,
    /// The latest time it is worth sending (a scheduled post's deadline): one
    /// still undelivered then (its account disconnected or paused) is closed as
    /// missed rather than sent late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
}

impl Outbound {
    pub fn new(account: Id, action: Action) -> Outbound {
        Outbound {
            account,
            action,
            tag: None,
            automatic: false,
            deadline: None,
        }
    }
}
