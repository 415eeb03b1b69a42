//! Zombies: members still silent `zombie_after` past their last nudge with
//! `max_nudges` used up. Marking them, telling the operators, and removing
//! them on an admin's `/silent confirm`.

use serde_json::json;

use super::records::{name_and_id, subject, subject_key, subjects, Subject};
use super::{secs, NAME};
use crate::config::ZombieAction;
use crate::domain::{Action, GroupKey, GroupMessage, Id, Message};
use crate::features::{group_note, reply, Change, Context, Decision};

/// Marks a member out of nudges a zombie once silent `zombie_after` past their
/// last nudge (else since their last word); whether newly marked.
pub(super) fn mark_zombie(s: &mut Subject, ctx: &Context) -> bool {
    let quiet_since = s.last_nudge.or(s.since);
    let zombie_after = secs(ctx.config.reactivation.zombie_after);
    let long_enough = quiet_since.is_none_or(|t| ctx.now - t >= zombie_after);
    if s.zombie.is_none() && long_enough {
        s.zombie = Some(ctx.now);
        return true;
    }
    false
}

/// Logs the zombies a scan newly found, and with `zombie_action = "remove"`
/// tells the operators.
pub(super) fn found_zombies(group: &GroupKey, zombies: &[Id], ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    if zombies.is_empty() {
        return Decision::default();
    }
    let mut d = Decision::default().change(group_note(
        "reactivation.zombies",
        group,
        None,
        json!({"users": zombies, "action": format!("{:?}", config.zombie_action).to_lowercase()}),
    ));
    if config.zombie_action == ZombieAction::Remove {
        d.merge(tell_operators(group, zombies, ctx));
    }
    d
}

/// With `zombie_action = "remove"`: the new zombies, privately to each operator.
fn tell_operators(group: &GroupKey, zombies: &[Id], ctx: &Context) -> Decision {
    let operators = &ctx.config.admins.users;
    let mut d = Decision::default();
    if operators.is_empty() {
        return d.change(group_note(
            "warning.no_operators",
            group,
            None,
            json!({"why": "zombie_action = remove, but [admins] users is empty: nobody was told"}),
        ));
    }
    let names: Vec<String> = zombies.iter().map(|u| name_and_id(group, u, ctx)).collect();
    let text = format!(
        "群 {} 有 {} 位僵尸成员待清理：{}。在群里发送 /沉默 确认 移出（每次最多 {} 位）",
        ctx.config.group_name(&group.group),
        zombies.len(),
        names.join("、"),
        ctx.config.reactivation.zombie_max_per_run
    );
    for user in operators {
        d = d.act(Action::SendPrivateMsg {
            user: user.clone(),
            message: Message::text(text.clone()),
        });
    }
    d
}

/// Made admin: admins are never nudged nor removed.
pub(super) fn promoted(group: &GroupKey, user: &Id, ctx: &Context) -> Decision {
    let Some(mut s) = subject(group, user, ctx) else {
        return Decision::default();
    };
    if s.zombie.take().is_none() {
        return Decision::default();
    }
    Decision::default().change(Change::record(NAME, subject_key(group, user), &s))
}

/// `/silent confirm`: removes this group's zombies, at most
/// `zombie_max_per_run`, never admins, the owner or exempt members.
pub(super) fn confirm(group: &GroupKey, m: &GroupMessage, ctx: &Context) -> Decision {
    let config = &ctx.config.reactivation;
    let answer = |text: String| Decision::default().act(reply(m, Message::text(text)));
    if config.zombie_action != ZombieAction::Remove {
        return answer("当前设置为只列出僵尸成员，不会移出".into());
    }
    let operators = &ctx.config.admins.users;
    let mut d = Decision::default();
    let mut removed = 0;
    let mut skipped = 0;
    let zombies: Vec<(Id, Subject)> = subjects(group, ctx)
        .into_iter()
        .filter(|(_, s)| s.zombie.is_some())
        .collect();
    for (user, s) in &zombies {
        if removed >= config.zombie_max_per_run {
            break;
        }
        if config.exempt.contains(user) || operators.contains(user) || *user == group.account {
            skipped += 1;
            continue;
        }
        removed += 1;
        d.merge(remove(group, user, s, m));
    }
    let left = zombies.len() - removed as usize - skipped;
    let text = if removed == 0 {
        "没有可移出的僵尸成员".to_string()
    } else if left > 0 {
        format!("已移出 {removed} 位僵尸成员，还有 {left} 位，再发送 /沉默 确认 继续")
    } else {
        format!("已移出 {removed} 位僵尸成员")
    };
    d.merge(answer(text));
    d
}

/// Removes one zombie, logged with its evidence and the confirming admin.
fn remove(group: &GroupKey, user: &Id, s: &Subject, m: &GroupMessage) -> Decision {
    Decision::default()
        .act(Action::SetGroupKick {
            group: group.group.clone(),
            user: user.clone(),
            reject_add_request: false,
        })
        .change(Change::record(
            NAME,
            subject_key(group, user),
            &Subject {
                zombie: None,
                ..s.clone()
            },
        ))
        .change(group_note(
            "reactivation.zombie_removed",
            group,
            Some(user),
            json!({"joined": s.joined, "last_spoke": s.since, "nudges": s.nudges,
                   "last_nudge": s.last_nudge, "confirmed_by": m.user}),
        ))
}
