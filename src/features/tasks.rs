//! New-member tasks (新人任务): done by a keyword, a first message or a command;
//! rewarded with points and a coupon code; reminded once; expired after a while.
//!
//! Tasks are handed out with the welcome of a newcomer's wave
//! ([`hand_out`]). What a newcomer does while still waiting for it (says 已读
//! before the batched welcome) is remembered as an `early/…` record of this
//! feature, at most the configured tasks for each queued newcomer, forgotten
//! when they leave, and credited at the welcome: the reward goes out right
//! after it, and the reminder skips what is done.

use std::collections::HashMap;

use chrono::Duration as ChronoDuration;
use serde::{Deserialize, Serialize};

use super::points::{claim_coupon, Claim};
use super::{commands, reply, say, Change, Context, Decision, Feature, Timer};
use crate::config::{TaskConfig, Trigger};
use crate::domain::{
    command, Event, EventBody, GroupKey, GroupMessage, Id, MemberKey, Message, Segment,
};
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
        matches!(
            event.body,
            EventBody::GroupMessage(_) | EventBody::MemberLeft { .. }
        )
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

/// Tasks a queued newcomer did before their welcome, and their display name
/// then (for the ledger).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Early {
    tasks: Vec<String>,
    name: Option<String>,
}

fn early_key(member: &MemberKey) -> String {
    format!("early/{}/{}/{}", member.account, member.group, member.user)
}

pub fn on_event(event: &Event, ctx: &Context) -> Decision {
    let m = match &event.body {
        EventBody::GroupMessage(m) => m,
        EventBody::MemberLeft { group, user, .. } => {
            let key = early_key(&MemberKey::new(&event.account, group, user));
            return if ctx.state.has_record(NAME, &key) {
                Decision::default().change(Change::forget(NAME, key))
            } else {
                Decision::default()
            };
        }
        _ => return Decision::default(),
    };
    let member = MemberKey::new(&event.account, &m.group, &m.user);
    let queued = ctx
        .state
        .joiners
        .get(&member.group_key())
        .is_some_and(|q| q.iter().any(|j| j.user == m.user));
    if queued {
        return remember_early(&member, m, ctx);
    }
    let Some(progress) = ctx.state.tasks.get(&member) else {
        return Decision::default();
    };
    let done = ctx
        .config
        .tasks
        .iter()
        .filter(|task| progress.get(&task.id) == Some(&TaskState::Open) && does(task, m));

    let done: Vec<_> = done.collect();
    let mut decision = Decision::default();
    if finishes_every_task(progress, &done) {
        decision.changes.push(person_note("task.finished", &member));
    }
    let mut claimed: HashMap<String, usize> = HashMap::new();
    let mut balance = ctx.state.balance(&member);
    let name = m.sender.display_name();
    for task in done {
        let (d, text) = credit(&member, task, name, &mut balance, &mut claimed, ctx);
        decision.merge(d);
        decision.actions.push(reply(m, text));
    }
    decision
}

/// Whether `m` does `task`.
fn does(task: &TaskConfig, m: &GroupMessage) -> bool {
    match &task.trigger {
        Trigger::Keyword(k) => m.message.plain_text().contains(k.as_str()),
        Trigger::FirstMessage => true,
        Trigger::Command(c) => commands::parse(&m.message)
            .and_then(|c| command::lookup(&c.name))
            .is_some_and(|spec| spec.name == c),
    }
}

/// A newcomer waiting for the welcome did tasks: remembered for the welcome.
fn remember_early(member: &MemberKey, m: &GroupMessage, ctx: &Context) -> Decision {
    let key = early_key(member);
    let mut early: Early = ctx.state.record(NAME, &key).unwrap_or_default();
    let before = early.tasks.len();
    for task in &ctx.config.tasks {
        if !early.tasks.contains(&task.id) && does(task, m) {
            early.tasks.push(task.id.clone());
        }
    }
    if early.tasks.len() == before {
        return Decision::default();
    }
    early.name = m.sender.display_name().map(str::to_string).or(early.name);
    Decision::default().change(Change::record(NAME, key, &early))
}

/// `member` did `task`: its state, points and coupon, and the done reply to
/// send. `claimed` counts the codes of each pool the decision already took.
fn credit(
    member: &MemberKey,
    task: &TaskConfig,
    name: Option<&str>,
    balance: &mut i64,
    claimed: &mut HashMap<String, usize>,
    ctx: &Context,
) -> (Decision, Message) {
    let mut decision = Decision::default();
    decision
        .changes
        .extend(task_changes(member, &task.id, TaskState::Done));
    if task.points != 0 {
        *balance += task.points;
        decision.changes.push(Change::Points {
            member: member.clone(),
            amount: task.points,
            reason: format!("task:{}", task.id),
            name: name.map(str::to_string),
        });
    }
    let coupon = match &task.coupon {
        None => String::new(),
        Some(pool) => {
            let nth = claimed.entry(pool.clone()).or_default();
            let (claim, d) = claim_coupon(pool, *nth, member, ctx);
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
    (decision, text)
}

/// A wave is welcomed: its newcomers get the tasks, with their reminders and
/// expiries; what they did while waiting is credited at once, in one message
/// of done replies after the welcome (the caller sends the welcome first).
pub fn hand_out(group: &GroupKey, users: &[Id], ctx: &Context) -> Decision {
    let mut decision = Decision::default();
    let mut credited: Vec<Segment> = Vec::new();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    for user in users {
        let member = MemberKey::new(&group.account, &group.group, user);
        let key = early_key(&member);
        let early: Early = ctx.state.record(NAME, &key).unwrap_or_default();
        if ctx.state.has_record(NAME, &key) {
            decision.changes.push(Change::forget(NAME, key));
        }
        let mut balance = ctx.state.balance(&member);
        let tasks = &ctx.config.tasks;
        if !tasks.is_empty() {
            // The reports count people: one given tasks, and one done with all
            // of them before the welcome.
            decision.changes.push(person_note("task.newcomer", &member));
            if tasks.iter().all(|t| early.tasks.contains(&t.id)) {
                decision.changes.push(person_note("task.finished", &member));
            }
        }
        for task in tasks {
            // Handed out to all (the reports count from it), done at once by some.
            decision
                .changes
                .extend(task_changes(&member, &task.id, TaskState::Open));
            if !early.tasks.contains(&task.id) {
                continue;
            }
            let name = early.name.as_deref();
            let (d, text) = credit(&member, task, name, &mut balance, &mut claimed, ctx);
            decision.merge(d);
            if !credited.is_empty() {
                credited.push(Segment::Text { text: "\n".into() });
            }
            credited.extend(text.0);
        }
    }
    if !credited.is_empty() {
        decision
            .actions
            .push(say(&group.group, Message::from_segments(credited)));
    }
    for task in &ctx.config.tasks {
        if let Some(after) = task.remind_after {
            decision.timers.push(Timer::new(
                ctx.now + ChronoDuration::from_std(after).unwrap_or_default(),
                &group.account,
                NAME,
                &TaskWake::RemindTask {
                    group: group.clone(),
                    task: task.id.clone(),
                    users: users.to_vec(),
                },
            ));
        }
        decision.timers.push(Timer::new(
            ctx.now + ChronoDuration::from_std(task.expires_after).unwrap_or_default(),
            &group.account,
            NAME,
            &TaskWake::ExpireTask {
                group: group.clone(),
                task: task.id.clone(),
                users: users.to_vec(),
            },
        ));
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
