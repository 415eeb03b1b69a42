//! What members ask about themselves and the bot: `/帮助` and `/任务`.

use super::{answer, Decision};
use crate::domain::command::{CommandSpec, COMMANDS};
use crate::domain::{Action, GroupMessage, MemberKey, Message};
use crate::engine::TaskState;
use crate::features::Context;

/// `/帮助`: the members' commands by their Chinese names. An admin asking in
/// the group gets the same list there and the admin commands by private
/// message from the same account: a customer group never reads the admin list.
pub(super) fn help(m: &GroupMessage, admin: bool) -> Decision {
    let members: Vec<String> = COMMANDS
        .iter()
        .filter(|c| c.listed_for_members())
        .map(|c| format!("/{} {}", c.chinese(), c.summary))
        .collect();
    let members = format!("可用命令：\n{}", members.join("\n"));
    if !admin {
        return answer(m, members);
    }
    let admins: Vec<String> = COMMANDS
        .iter()
        .filter(|c| !c.listed_for_members())
        .map(admin_line)
        .collect();
    answer(m, format!("{members}\n管理命令已私信发给你")).act(Action::SendPrivateMsg {
        user: m.user.clone(),
        message: Message::text(format!("管理与运维命令：\n{}", admins.join("\n"))),
    })
}

/// `禁言成员：/禁言 @成员 时长（如 10分钟、2小时、1天）`.
fn admin_line(c: &CommandSpec) -> String {
    format!("{}：{}", c.summary, c.usage)
}

pub(super) fn tasks_of(member: &MemberKey, ctx: &Context) -> String {
    let Some(progress) = ctx.state.tasks.get(member) else {
        return "你没有新人任务".to_string();
    };
    let lines: Vec<String> = ctx
        .config
        .tasks
        .iter()
        .filter_map(|t| {
            let mark = match progress.get(&t.id)? {
                TaskState::Done => "✅",
                TaskState::Open => "⬜",
                TaskState::Expired => "⌛",
            };
            let hint = if progress.get(&t.id) == Some(&TaskState::Open) {
                format!("（{}）", t.hint())
            } else {
                String::new()
            };
            Some(format!("{mark} {}{hint}", t.name))
        })
        .collect();
    if lines.is_empty() {
        "你没有新人任务".to_string()
    } else {
        format!("你的新人任务：\n{}", lines.join("\n"))
    }
}
