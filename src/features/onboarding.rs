//! Newcomers: join requests decided by their answer, waves of joiners welcomed in
//! one message, verification (入群验证) with removal after the time limit, and the
//! new-member tasks handed out with the welcome.

use chrono::Duration as ChronoDuration;
use serde_json::json;

use serde::{Deserialize, Serialize};

use super::tasks::{self, TaskWake};
use super::{human_duration, reply, say, Change, Context, Decision, Feature, Timer};
use crate::config::MismatchPolicy;
use crate::domain::{Action, Event, EventBody, GroupKey, Id, MemberKey};
use crate::engine::{Joiner, TaskState, WakeError};

/// The name onboarding's timers are addressed to.
pub const NAME: &str = "onboarding";

pub struct Onboarding;

/// Onboarding's wake-ups (the names match the stored timers of earlier versions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OnboardingWake {
    /// The welcome window of a group closed: welcome its wave.
    Onboard { group: GroupKey },
    /// Newcomers who had to verify by now.
    VerifyDeadline { group: GroupKey, users: Vec<Id> },
}

impl Feature for Onboarding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(
            event.body,
            EventBody::MemberJoined { .. }
                | EventBody::MemberLeft { .. }
                | EventBody::JoinRequest { .. }
                | EventBody::GroupMessage(_)
        )
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        on_event(event, ctx)
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        Ok(match timer.wake()? {
            OnboardingWake::Onboard { group } => welcome_wave(&group, ctx),
            OnboardingWake::VerifyDeadline { group, users } => {
                verification_deadline(&group, &users, ctx)
            }
        })
    }
}

pub fn on_event(event: &Event, ctx: &Context) -> Decision {
    match &event.body {
        EventBody::MemberJoined {
            group,
            user,
            invited,
            ..
        } if ctx.config.is_managed(group) => on_join(&event.account, group, user, *invited, ctx),
        EventBody::MemberLeft { group, user, .. } => {
            let member = MemberKey::new(&event.account, group, user);
            let queued = ctx
                .state
                .joiners
                .get(&member.group_key())
                .is_some_and(|q| q.iter().any(|j| &j.user == user));
            if queued || ctx.state.verifying.contains(&member) {
                Decision::default().change(Change::JoinerLeft { member })
            } else {
                Decision::default()
            }
        }
        EventBody::JoinRequest {
            group,
            user,
            comment,
            flag,
            invite,
        } if ctx.config.is_managed(group) => {
            join_request(&event.account, group, user, comment, flag, *invite, ctx)
        }
        EventBody::GroupMessage(m) => {
            let member = MemberKey::new(&event.account, &m.group, &m.user);
            if ctx.state.verifying.contains(&member)
                && ctx
                    .config
                    .verification
                    .answer
                    .matches(&m.message.plain_text())
            {
                let v = &ctx.config.verification;
                let text = v.passed_reply.render(
                    std::slice::from_ref(&m.user),
                    &[("timeout", human_duration(v.timeout))],
                );
                Decision::default()
                    .act(reply(m, text))
                    .change(Change::Verification {
                        member,
                        pending: false,
                    })
            } else {
                Decision::default()
            }
        }
        _ => Decision::default(),
    }
}

fn on_join(account: &Id, group: &Id, user: &Id, invited: bool, ctx: &Context) -> Decision {
    if user == account {
        return Decision::default();
    }
    let member = MemberKey::new(account, group, user);
    let window =
        ChronoDuration::from_std(ctx.config.welcome.rejoin_window).unwrap_or(ChronoDuration::MAX);
    if let Some(at) = ctx.state.welcomed.get(&member) {
        if ctx.now - *at < window {
            return Decision::default().change(note(
                "welcome.skipped_rejoin",
                &member,
                json!({"welcomed_at": at}),
            ));
        }
    }
    let group_key = member.group_key();
    let first_of_wave = ctx.state.joiners.get(&group_key).is_none_or(Vec::is_empty);
    let mut decision = Decision::default().change(Change::JoinerQueued {
        group: group_key.clone(),
        joiner: Joiner {
            user: user.clone(),
            invited,
        },
    });
    if first_of_wave {
        let due =
            ctx.now + ChronoDuration::from_std(ctx.config.welcome.batch_window).unwrap_or_default();
        let account = group_key.account.clone();
        decision.timers.push(Timer::new(
            due,
            &account,
            NAME,
            &OnboardingWake::Onboard { group: group_key },
        ));
    }
    decision
}

fn note(kind: &str, member: &MemberKey, detail: serde_json::Value) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: member.account.clone(),
        group: Some(member.group.clone()),
        user: Some(member.user.clone()),
        detail,
    }
}

#[allow(clippy::too_many_arguments)]
fn join_request(
    account: &Id,
    group: &Id,
    user: &Id,
    comment: &str,
    flag: &str,
    invite: bool,
    ctx: &Context,
) -> Decision {
    let rules = &ctx.config.join_requests;
    let member = MemberKey::new(account, group, user);
    let answer = |approve: bool, reason: Option<&str>| Action::SetGroupAddRequest {
        group: group.clone(),
        flag: flag.to_string(),
        invite,
        approve,
        reason: reason.map(str::to_string),
    };
    let detail = json!({"comment": comment});
    if invite {
        // The bot itself is invited into a group: that is the operators' call.
        return Decision::default().change(note("join_request.left_to_admins", &member, detail));
    }
    if rules.blocklist.contains(user) {
        return Decision::default()
            .act(answer(false, Some(&rules.blocked_reason)))
            .change(note("join_request.rejected_blocklisted", &member, detail));
    }
    match &rules.answer {
        Some(expected) if expected.matches(comment) => Decision::default()
            .act(answer(true, None))
            .change(note("join_request.approved", &member, detail)),
        Some(_) if rules.on_mismatch == MismatchPolicy::Reject => Decision::default()
            .act(answer(false, Some(&rules.reject_reason)))
            .change(note("join_request.rejected", &member, detail)),
        _ => Decision::default().change(note("join_request.left_to_admins", &member, detail)),
    }
}

/// The welcome window closed: one welcome for the whole wave, the verification
/// prompt for those who must answer, and the new-member tasks.
pub fn welcome_wave(group: &GroupKey, ctx: &Context) -> Decision {
    let joiners = ctx.state.joiners.get(group).cloned().unwrap_or_default();
    let users: Vec<Id> = joiners.iter().map(|j| j.user.clone()).collect();
    let mut decision = Decision::default().change(Change::WaveWelcomed {
        group: group.clone(),
        users: users.clone(),
        at: ctx.now,
    });
    if users.is_empty() {
        return decision;
    }
    let config = ctx.config;
    let paused = ctx.state.is_paused(group);
    // A welcome is an automatic message: it counts in the account's day and
    // waits for nobody (a late welcome is worse than none), so an account at
    // its cap or paused for risk control skips it, and says so in the log.
    let held = match super::automatic::account_gate(&group.account, ctx) {
        super::automatic::Gate::Open => None,
        super::automatic::Gate::Wait(_, why) | super::automatic::Gate::Closed(why) => Some(why),
    };
    if let (Some(why), true) = (held, config.welcomes_in(&group.group) && !paused) {
        decision = decision.change(super::group_note(
            "welcome.missed",
            group,
            None,
            serde_json::json!({"reason": why, "users": users}),
        ));
    } else if config.welcomes_in(&group.group) && !paused {
        let coupon = config
            .welcome
            .coupon
            .as_ref()
            .and_then(|c| config.coupons.get(c))
            .map(|p| p.title.clone())
            .unwrap_or_default();
        let text = config.welcome.template.render(
            &users,
            &[
                ("group", config.group_name(&group.group)),
                ("count", users.len().to_string()),
                ("rules", config.rules_of(&group.group).to_string()),
                ("coupon", coupon),
            ],
        );
        decision = decision
            .act_automatic(say(&group.group, text))
            .change(super::automatic::count_for_account(&group.account, ctx));
    }

    let v = &config.verification;
    if v.enabled && !paused {
        let must_verify: Vec<Id> = joiners
            .iter()
            .filter(|j| !(j.invited && v.exempt_invited))
            .map(|j| j.user.clone())
            .collect();
        if !must_verify.is_empty() {
            let text = v
                .prompt
                .render(&must_verify, &[("timeout", human_duration(v.timeout))]);
            decision.actions.push(say(&group.group, text));
            for user in &must_verify {
                decision.changes.push(Change::Verification {
                    member: MemberKey::new(&group.account, &group.group, user),
                    pending: true,
                });
            }
            decision.timers.push(Timer::new(
                ctx.now + ChronoDuration::from_std(v.timeout).unwrap_or_default(),
                &group.account,
                NAME,
                &OnboardingWake::VerifyDeadline {
                    group: group.clone(),
                    users: must_verify,
                },
            ));
        }
    }

    if !config.tasks.is_empty() {
        for user in &users {
            let member = MemberKey::new(&group.account, &group.group, user);
            decision
                .changes
                .push(tasks::person_note("task.newcomer", &member));
        }
    }
    for task in &config.tasks {
        for user in &users {
            let member = MemberKey::new(&group.account, &group.group, user);
            decision
                .changes
                .extend(tasks::task_changes(&member, &task.id, TaskState::Open));
        }
        if let Some(after) = task.remind_after {
            decision.timers.push(Timer::new(
                ctx.now + ChronoDuration::from_std(after).unwrap_or_default(),
                &group.account,
                tasks::NAME,
                &TaskWake::RemindTask {
                    group: group.clone(),
                    task: task.id.clone(),
                    users: users.clone(),
                },
            ));
        }
        decision.timers.push(Timer::new(
            ctx.now + ChronoDuration::from_std(task.expires_after).unwrap_or_default(),
            &group.account,
            tasks::NAME,
            &TaskWake::ExpireTask {
                group: group.clone(),
                task: task.id.clone(),
                users: users.clone(),
            },
        ));
    }
    decision
}

/// Time is up: newcomers who have not answered are removed, with one notice.
pub fn verification_deadline(group: &GroupKey, users: &[Id], ctx: &Context) -> Decision {
    let late: Vec<Id> = users
        .iter()
        .filter(|u| {
            ctx.state
                .verifying
                .contains(&MemberKey::new(&group.account, &group.group, u))
        })
        .cloned()
        .collect();
    let mut decision = Decision::default();
    if late.is_empty() {
        return decision;
    }
    let v = &ctx.config.verification;
    decision.actions.push(say(
        &group.group,
        v.removed_notice
            .render(&late, &[("timeout", human_duration(v.timeout))]),
    ));
    for user in &late {
        let member = MemberKey::new(&group.account, &group.group, user);
        decision.actions.push(Action::SetGroupKick {
            group: group.group.clone(),
            user: user.clone(),
            reject_add_request: false,
        });
        decision.changes.push(Change::Verification {
            member: member.clone(),
            pending: false,
        });
        decision
            .changes
            .push(note("verification.removed", &member, json!({})));
    }
    decision
}

#[cfg(test)]
mod tests;
