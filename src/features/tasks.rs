//! New-member tasks (新人任务): done by a keyword, a first message or a command;
//! rewarded with points and a coupon code; reminded once; expired after a while.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::points::{claim_coupon, Claim};
use super::{commands, reply, say, Change, Context, Decision, Feature, Timer};
use crate::config::Trigger;
use crate::domain::{command, Event, EventBody, GroupKey, Id, MemberKey};
use crate::engine::{TaskState, WakeError};

/// The name the tasks' timers are addressed to.
pub const NAME: &str = "tasks";

pub struct Tasks;

/// The tasks' wake-ups, set when a wave is welcomed (the names match the stored
/// timers of earlier versions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskWake {
    /// Remind a wave of newcomers of a task they have not done.
    RemindTask {
        group: GroupKey,
        task: String,
        users: Vec<Id>,
    },
    /// A task's time is up for a wave.
    ExpireTask {
        group: GroupKey,
        task: String,
        users: Vec<Id>,
    },
}

impl Feature for Tasks {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(event.body, EventBody::GroupMessage(_))
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        on_event(event, ctx)
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        Ok(match timer.wake()? {
            TaskWake::RemindTask { group, task, users } => remind(&group, &task, &users, ctx),
            TaskWake::ExpireTask { group, task, users } => expire(&group, &task, &users, ctx),
        })
    }
}

pub fn on_event(event: &Event, ctx: &Context) -> Decision {
    let EventBody::GroupMessage(m) = &event.body else {
        return Decision::default();
    };
    let member = MemberKey::new(&event.account, &m.group, &m.user);
    let Some(progress) = ctx.state.tasks.get(&member) else {
        return Decision::default();
    };
    let text = m.message.plain_text();
    let command = commands::parse(&m.message).and_then(|c| command::lookup(&c.name));
    let done = ctx.config.tasks.iter().filter(|task| {
        progress.get(&task.id) == Some(&TaskState::Open)
            && match &task.trigger {
                Trigger::Keyword(k) => text.contains(k.as_str()),
                Trigger::FirstMessage => true,
                Trigger::Command(c) => command.is_some_and(|spec| spec.name == c),
            }
    });

    let done: Vec<_> = done.collect();
    let mut decision = Decision::default();
    if finishes_every_task(progress, &done) {
        decision.changes.push(person_note("task.finished", &member));
    }
    let mut claimed: HashMap<&str, usize> = HashMap::new();
    let mut balance = ctx.state.balance(&member);
    for task in done {
        decision
            .changes
            .extend(task_changes(&member, &task.id, TaskState::Done));
        if task.points != 0 {
            balance += task.points;
            decision.changes.push(Change::Points {
                member: member.clone(),
                amount: task.points,
                reason: format!("task:{}", task.id),
                name: m.sender.display_name().map(str::to_string),
            });
        }
        let coupon = match &task.coupon {
            None => String::new(),
            Some(pool) => {
                let nth = claimed.entry(pool.as_str()).or_default();
                let (claim, d) = claim_coupon(pool, *nth, &member, ctx);
                *nth += 1;
                decision.merge(d);
                match claim {
                    Claim::Code(code) => format!("，优惠券：{code}"),
                    Claim::PoolEmpty => "，优惠券已经发完了，请联系管理员补发".to_string(),
                }
            }
        };
        let text = task.done_reply.render(
            std::slice::from_ref(&member.user),
            &[
                ("task", task.name.clone()),
                ("points", task.points.to_string()),
                ("coupon", coupon),
                ("balance", balance.to_string()),
            ],
        );
        decision.actions.push(reply(m, text));
    }
    decision
}

/// The reminder time of a wave came: one reminder to those who have not done the task.
pub fn remind(group: &GroupKey, task_id: &str, users: &[Id], ctx: &Context) -> Decision {
    let Some(task) = ctx.config.tasks.iter().find(|t| t.id == task_id) else {
        return Decision::default();
    };
    if ctx.state.is_paused(group) {
        return Decision::default();
    }
    let open = still_open(group, task_id, users, ctx);
    if open.is_empty() {
        return Decision::default();
    }
    let text = task
        .remind
        .render(&open, &[("task", task.name.clone()), ("hint", task.hint())]);
    Decision::default().act(say(&group.group, text))
}

/// A wave's time for a task is up.
pub fn expire(group: &GroupKey, task_id: &str, users: &[Id], ctx: &Context) -> Decision {
    let mut decision = Decision::default();
    for user in still_open(group, task_id, users, ctx) {
        let member = MemberKey::new(&group.account, &group.group, &user);
        decision
            .changes
            .extend(task_changes(&member, task_id, TaskState::Expired));
    }
    decision
}

/// A task's new state for a member, with its row in the log (`task.handed_out`,
/// `task.done`, `task.expired`), which the reports count.
pub fn task_changes(member: &MemberKey, task: &str, state: TaskState) -> [Change; 2] {
    let kind = match state {
        TaskState::Open => "task.handed_out",
        TaskState::Done => "task.done",
        TaskState::Expired => "task.expired",
    };
    [
        Change::Note {
            kind: kind.to_string(),
            account: member.account.clone(),
            group: Some(member.group.clone()),
            user: Some(member.user.clone()),
            detail: serde_json::json!({"task": task}),
        },
        Change::Task {
            member: member.clone(),
            task: task.to_string(),
            state,
        },
    ]
}

/// Whether the tasks done now leave none of the member's tasks open (an
/// expired task is never done: its member never finishes).
fn finishes_every_task(
    progress: &std::collections::BTreeMap<String, TaskState>,
    done_now: &[&crate::config::TaskConfig],
) -> bool {
    !done_now.is_empty()
        && progress
            .iter()
            .all(|(id, state)| *state == TaskState::Done || done_now.iter().any(|t| &t.id == id))
}

/// A row in the log about a newcomer rather than one task (`task.newcomer` when
/// tasks are handed out, `task.finished` when the last is done): the reports
/// count people with these, not tasks.
pub fn person_note(kind: &str, member: &MemberKey) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: member.account.clone(),
        group: Some(member.group.clone()),
        user: Some(member.user.clone()),
        detail: serde_json::json!({}),
    }
}

fn still_open(group: &GroupKey, task_id: &str, users: &[Id], ctx: &Context) -> Vec<Id> {
    users
        .iter()
        .filter(|u| {
            let member = MemberKey::new(&group.account, &group.group, u);
            ctx.state.tasks.get(&member).and_then(|t| t.get(task_id)) == Some(&TaskState::Open)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
