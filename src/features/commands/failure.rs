//! Telling the group that an admin action the bot took did not go through.

use super::about;
use crate::domain::{Action, Id, Message};
use crate::features::say;

/// A chat message telling the group that the gateway refused an admin action (the
/// bot is not a group admin, the target outranks it, ...). `None` for actions whose
/// failure members need not hear about.
pub fn report_failure(action: &Action, error: &str) -> Option<Action> {
    let why = format!("（{error}）。机器人可能不是群管理员，或对方权限更高。");
    let target =
        |user: &Id, before: &str, after: &str| about(std::slice::from_ref(user), before, after);
    let (group, text) = match action {
        Action::SetGroupBan {
            group,
            user,
            duration_secs: 0,
        } => (
            group,
            target(user, "⚠ 操作没有成功：解除 ", &format!(" 的禁言{why}")),
        ),
        Action::SetGroupBan { group, user, .. } => {
            (group, target(user, "⚠ 操作没有成功：禁言 ", &why))
        }
        Action::SetGroupKick { group, user, .. } => {
            (group, target(user, "⚠ 操作没有成功：移出 ", &why))
        }
        Action::DeleteMsg {
            group: Some(group), ..
        } => (
            group,
            Message::text(format!("⚠ 操作没有成功：撤回消息{why}")),
        ),
        _ => return None,
    };
    Some(say(group, text))
}
