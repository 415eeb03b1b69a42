//! Where a decision's actions go: through the account whose copy of an
//! event it was (a recall names the message by that account's id) or the
//! group's voice, and within the per-group cap on the bot's chat messages.

use chrono::{DateTime, Utc};

use super::{told, Change, Commit, Decision, Engine, Input, Storage};
use crate::domain::{Action, Event, Id, Outbound};

/// An event taken from another account's copy (in a group several of the
/// shop's accounts are in): its ids are that account's own.
struct Copy {
    heard_by: Id,
    message_id: Option<Id>,
}

impl Copy {
    fn of(event: &Event, account: &Id) -> Option<Copy> {
        let heard_by = event.heard_by.clone().filter(|h| h != account)?;
        let message_id = match &event.body {
            crate::domain::EventBody::GroupMessage(m)
            | crate::domain::EventBody::QrCodes { message: m, .. } => Some(m.message_id.clone()),
            _ => None,
        };
        Some(Copy {
            heard_by,
            message_id,
        })
    }

    /// A recall or a join decision names the message or request by that
    /// account's id: it goes through that account. Anything else goes through
    /// the group's voice; a reply there does not quote (the quote would name
    /// the message by an id the voice does not know).
    fn route(&self, action: Action, account: &Id) -> (Id, Action) {
        match action {
            Action::DeleteMsg { .. } | Action::SetGroupAddRequest { .. } => {
                (self.heard_by.clone(), action)
            }
            Action::SendGroupMsg { group, message } => {
                let segments = message.0.into_iter().filter(|s| {
                    !matches!(s, crate::domain::Segment::Reply { id } if Some(id) == self.message_id.as_ref())
                });
                let message = crate::domain::Message::from_segments(segments);
                (account.clone(), Action::SendGroupMsg { group, message })
            }
            action => (account.clone(), action),
        }
    }
}

/// The per-group cap on the bot's chat messages: at most `cap` queued for one
/// group in any minute (by decision time). A raid that would make the bot warn
/// hundreds of members is answered by the first warnings and a `chat.dropped`
/// log row per group and batch, never by hours of queued posts.
#[derive(Default)]
pub(super) struct ChatBudget(
    std::collections::HashMap<(Id, Id), std::collections::VecDeque<DateTime<Utc>>>,
);

impl ChatBudget {
    /// Drops the batch's chat messages beyond the cap (logging how many), and
    /// returns how many each group queued, to [`ChatBudget::record`] once committed.
    pub(super) fn limit(
        &mut self,
        commit: &mut Commit,
        now: DateTime<Utc>,
        cap: usize,
    ) -> Vec<((Id, Id), usize)> {
        let minute_ago = now - chrono::Duration::minutes(1);
        let mut queued: Vec<((Id, Id), usize)> = Vec::new();
        let mut dropped: Vec<((Id, Id), usize)> = Vec::new();
        let actions = std::mem::take(&mut commit.actions);
        for (cause, outbound) in actions {
            if let Action::SendGroupMsg { group, .. } = &outbound.action {
                let key = (outbound.account.clone(), group.clone());
                let recent = self.0.get_mut(&key).map_or(0, |times| {
                    while times.front().is_some_and(|t| *t <= minute_ago) {
                        times.pop_front();
                    }
                    times.len()
                });
                let slot = match queued.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        queued.push((key.clone(), 0));
                        queued.len() - 1
                    }
                };
                if recent + queued[slot].1 >= cap {
                    match dropped.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, n)) => *n += 1,
                        None => dropped.push((key, 1)),
                    }
                    continue;
                }
                queued[slot].1 += 1;
            }
            commit.actions.push((cause, outbound));
        }
        for ((account, group), n) in dropped {
            tracing::warn!(%group, dropped = n, "chat messages over the group's per-minute cap dropped");
            commit.changes.push(Change::Note {
                kind: "chat.dropped".into(),
                account,
                group: Some(group),
                user: None,
                detail: serde_json::json!({"dropped": n, "cap_per_minute": cap}),
            });
        }
        queued
    }

    pub(super) fn record(&mut self, queued: Vec<((Id, Id), usize)>, now: DateTime<Utc>) {
        for (key, n) in queued {
            self.0
                .entry(key)
                .or_default()
                .extend(std::iter::repeat_n(now, n));
        }
    }
}

/// Adds one input's decision to its batch's commit: the input's mark and
/// roster news, its actions (routed, with how each is delivered), changes,
/// timers and effects.
pub(super) fn add_to(
    commit: &mut Commit,
    input: &Input,
    cause: Option<i64>,
    account: &Id,
    decision: Decision,
) {
    match input {
        Input::Event(id, event) => {
            commit.handled.push(*id);
            commit.roster.extend(event.roster_update());
            commit.synced.extend(event.roster_sync());
        }
        Input::Timer(id, _) => commit.fired_timers.push(*id),
    }
    for change in &decision.changes {
        if let Change::Note { kind, detail, .. } = change {
            if kind.starts_with("warning.") {
                tracing::warn!(%detail, "{kind}");
            }
        }
    }
    let mut delivery = decision.delivery;
    let copy = match input {
        Input::Event(_, event) => Copy::of(event, account),
        Input::Timer(..) => None,
    };
    commit
        .actions
        .extend(decision.actions.into_iter().enumerate().map(|(i, action)| {
            let (via, action) = match &copy {
                Some(copy) => copy.route(action, account),
                None => (account.clone(), action),
            };
            let mut outbound = Outbound::new(via, action);
            if let Some(d) = delivery.remove(&i) {
                outbound.tag = d.tag;
                outbound.automatic = d.automatic;
                outbound.deadline = d.deadline;
            }
            (cause, outbound)
        }));
    commit.changes.extend(decision.changes);
    commit.timers.extend(decision.timers);
    commit
        .effects
        .extend(decision.effects.into_iter().map(|e| (cause, e)));
}

impl<S: Storage> Engine<S> {
    /// What follows a batch's commit: counts, a log line for what an operator
    /// reads in the log, and the outbox and the effects woken.
    pub(super) fn committed(&mut self, inputs: &[Input], commit: &Commit) {
        for input in inputs {
            if let Input::Event(_, event) = input {
                self.metrics.handled(&event.account);
            }
        }
        for change in &commit.changes {
            if let Change::Note {
                kind,
                group,
                user,
                detail,
                ..
            } = change
            {
                self.metrics.noted(kind, detail);
                if let Some(line) = told::line(kind, group.as_ref(), user.as_ref(), detail) {
                    tracing::warn!("{line}");
                }
            }
        }
        if !commit.actions.is_empty() {
            self.outbox.notify_one();
        }
        if !commit.effects.is_empty() {
            self.effects_waiting = true;
        }
    }
}
