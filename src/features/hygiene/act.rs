//! What the filter does about a message that hit: the live categories'
//! actions (recall, warn with the member's standing, mute, kick, notify), the
//! strike and its escalation, the owner told of a removal or mute, all logged
//! as one `filter.hit`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{
    escalated_key, escalations, hit_json, labels, mask, punished_key, warn, Escalated, BURST,
    ESCALATIONS_KEPT, EVIDENCE_CHARS, FLOOD, LOGGED_HITS, NAME, WORDS_SHOWN,
};
use crate::config::{FilterAction, FilterConfig};
use crate::domain::{Action, Event, GroupMessage, MemberKey, Message};
use crate::features::{clip, human_duration, notify, say, Change, Context, Decision};
use crate::filter::rules::LINK;
use crate::filter::Hit;

/// A filtered message and what its hits ask for.
struct Offence<'a> {
    m: &'a GroupMessage,
    member: MemberKey,
    filter: &'a FilterConfig,
    hits: Vec<Hit<'a>>,
    /// The categories hit that are live (not dry runs), in order of appearance.
    live_categories: Vec<&'a str>,
    /// Their actions, each once.
    live: Vec<FilterAction>,
    /// What the dry-run categories would have done, for the log.
    dry: Vec<Value>,
    /// The longest mute a live category asks for.
    mute: Duration,
}

impl<'a> Offence<'a> {
    fn new(
        event: &Event,
        m: &'a GroupMessage,
        filter: &'a FilterConfig,
        hits: Vec<Hit<'a>>,
    ) -> Offence<'a> {
        let mut categories: Vec<&str> = Vec::new();
        for h in &hits {
            if !categories.contains(&h.category) {
                categories.push(h.category);
            }
        }
        let mut offence = Offence {
            m,
            member: MemberKey::new(&event.account, &m.group, &m.user),
            filter,
            hits,
            live_categories: Vec::new(),
            live: Vec::new(),
            dry: Vec::new(),
            mute: Duration::ZERO,
        };
        for c in categories {
            let rule = filter.category(c);
            if rule.dry_run {
                offence.dry.push(json!({"category": c, "would": rule.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>()}));
                continue;
            }
            offence.live_categories.push(c);
            for a in rule.actions {
                if a == FilterAction::Mute {
                    offence.mute = offence.mute.max(rule.mute);
                }
                if !offence.live.contains(&a) {
                    offence.live.push(a);
                }
            }
        }
        offence
    }

    /// Word hits masked, each word once and a few at most; rule hits (links,
    /// flooding) are named by their category alone. A warning stays short
    /// however long the message was.
    fn masked_words(&self) -> Vec<String> {
        let mut words: Vec<&str> = Vec::new();
        for h in self
            .hits
            .iter()
            .filter(|h| h.category != LINK && h.category != FLOOD)
        {
            if !words.contains(&h.word) {
                words.push(h.word);
            }
        }
        let mut masked: Vec<String> = words.iter().take(WORDS_SHOWN).map(|w| mask(w)).collect();
        if words.len() > WORDS_SHOWN {
            masked.push("…".into());
        }
        masked
    }

    /// Where this strike leaves the member, told with the warning: nobody
    /// loyal is removed without having been told that one more would do it.
    fn standing(&self, ctx: &Context) -> String {
        let Some(e) = self
            .filter
            .escalation
            .as_ref()
            .filter(|_| !self.live_categories.is_empty())
        else {
            return String::new();
        };
        let since = ctx.now - chrono::Duration::from_std(e.window).unwrap_or_default();
        let n = ctx.state.strikes_since(&self.member, since) + 1;
        let fate = match e.then {
            FilterAction::Kick => "将被移出本群".to_string(),
            _ => format!("将被禁言 {}", human_duration(e.mute)),
        };
        let limit = e.strikes as usize;
        if n + 1 == limit {
            format!("（第 {n} 次，再犯{fate}）")
        } else if n < limit {
            format!("（第 {n} 次，满 {limit} 次{fate}）")
        } else {
            String::new()
        }
    }

    /// The private message to the operators for a category whose action is `notify`.
    fn evidence(&self, ctx: &Context) -> String {
        let m = self.m;
        let who = m.sender.display_name().unwrap_or(m.user.as_str());
        let mut found: Vec<String> = Vec::new();
        for h in &self.hits {
            let named = format!("{}/{}", self.filter.label(h.category), h.word);
            if !found.contains(&named) {
                found.push(named);
            }
        }
        let more = if found.len() > WORDS_SHOWN { "…" } else { "" };
        found.truncate(WORDS_SHOWN);
        format!(
            "[{}] {who}（{}）的消息被过滤：「{}」命中 {}{more}",
            ctx.config.group_name(&m.group),
            m.user,
            clip(&m.message.plain_text(), EVIDENCE_CHARS),
            found.join("、")
        )
    }
}

/// Takes the live categories' actions on a filtered message, counts the strike
/// and escalates; logs it all as `filter.hit`.
pub(super) fn act(
    event: &Event,
    m: &GroupMessage,
    filter: &FilterConfig,
    hits: Vec<Hit>,
    mut decision: Decision,
    ctx: &Context,
) -> Decision {
    let offence = Offence::new(event, m, filter, hits);
    let member = &offence.member;
    let punished = punished_key(member);

    // A member being muted or removed for this burst gets nothing more for it:
    // no second mute, warning or strike. The message is logged, not acted on.
    if let Some(until) = ctx.state.record::<DateTime<Utc>>(NAME, &punished) {
        if until > ctx.now {
            return decision.change(Change::Note {
                kind: "filter.suppressed".into(),
                account: event.account.clone(),
                group: Some(m.group.clone()),
                user: Some(m.user.clone()),
                detail: json!({
                    "message_id": m.message_id,
                    "hit_count": offence.hits.len(),
                    "punished_until": until,
                }),
            });
        }
        decision
            .changes
            .push(Change::forget(NAME, punished.clone()));
    }

    take_actions(&mut decision, &offence, ctx);

    // A mute or a removal covers the burst: until the mute ends (a removal, for
    // BURST), the member's further messages are not acted on again.
    let mut punished_for = if offence.live.contains(&FilterAction::Kick) {
        Some(BURST)
    } else if offence.live.contains(&FilterAction::Mute) {
        Some(offence.mute)
    } else {
        None
    };
    let strike = strike(&mut decision, &offence, ctx);
    if let Some(window) = strike.escalated.as_ref().map(|e| e.covers) {
        punished_for = Some(window);
    }
    tell_owner(&mut decision, &offence, &strike, ctx);

    if let Some(window) = punished_for {
        let until = ctx.now + chrono::Duration::from_std(window).unwrap_or_default();
        decision
            .changes
            .push(Change::record(NAME, punished, &until));
    }

    let hits = &offence.hits;
    decision.changes.push(Change::Note {
        kind: "filter.hit".into(),
        account: event.account.clone(),
        group: Some(m.group.clone()),
        user: Some(m.user.clone()),
        detail: json!({
            "message_id": m.message_id,
            "hits": hits.iter().take(LOGGED_HITS).map(hit_json).collect::<Vec<_>>(),
            "hit_count": hits.len(),
            "actions": offence.live.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "dry_run": offence.dry,
            "strikes": strike.count,
            "escalated": strike.escalated.as_ref().map(|e| e.then.as_str()),
        }),
    });
    decision
}

/// Each live action, once.
fn take_actions(decision: &mut Decision, offence: &Offence, ctx: &Context) {
    let m = offence.m;
    let standing = offence.standing(ctx);
    let masked = offence.masked_words();
    for action in &offence.live {
        match action {
            FilterAction::Recall => decision.actions.push(Action::DeleteMsg {
                message_id: m.message_id.clone(),
                group: Some(m.group.clone()),
            }),
            FilterAction::Warn => {
                let categories = labels(&offence.live_categories, ctx);
                let what = if masked.is_empty() {
                    format!("⚠ 你的消息违反群规（{categories}），请注意{standing}")
                } else {
                    format!(
                        "⚠ 你的消息含有违规内容（{categories}：{}），请遵守群规{standing}",
                        masked.join("、")
                    )
                };
                warn(
                    decision,
                    &offence.member,
                    &offence.live_categories,
                    what,
                    offence.filter,
                    ctx,
                );
            }
            FilterAction::Mute => decision.actions.push(Action::SetGroupBan {
                group: m.group.clone(),
                user: m.user.clone(),
                duration_secs: offence.mute.as_secs(),
            }),
            FilterAction::Kick => decision.actions.push(Action::SetGroupKick {
                group: m.group.clone(),
                user: m.user.clone(),
                reject_add_request: false,
            }),
            FilterAction::Notify => {
                let evidence = offence.evidence(ctx);
                for operator in &ctx.config.admins.users {
                    decision.actions.push(Action::SendPrivateMsg {
                        user: operator.clone(),
                        message: Message::text(evidence.clone()),
                    });
                }
            }
        }
    }
}

/// The strike a message counts, and the escalation it brought, if any.
struct Strike {
    /// Strikes within the escalation window, this one included (0 without escalation).
    count: usize,
    escalated: Option<Escalation>,
}

struct Escalation {
    then: FilterAction,
    /// How long the member's further messages are not acted on again.
    covers: Duration,
}

/// Counts the strike of a message in a live category, and escalates when it
/// is the last the window allows: the removal or mute, its message, the count
/// started again and the escalation kept for `/违规`.
fn strike(decision: &mut Decision, offence: &Offence, ctx: &Context) -> Strike {
    let (m, member) = (offence.m, &offence.member);
    let none = Strike {
        count: 0,
        escalated: None,
    };
    let Some(category) = offence.live_categories.first() else {
        return none;
    };
    decision.changes.push(Change::Strike {
        member: member.clone(),
        at: ctx.now,
        category: category.to_string(),
    });
    let Some(e) = &offence.filter.escalation else {
        return none;
    };
    let since = ctx.now - chrono::Duration::from_std(e.window).unwrap_or_default();
    let count = ctx.state.strikes_since(member, since) + 1;
    if count < e.strikes as usize {
        return Strike {
            count,
            escalated: None,
        };
    }
    let (action, what) = match e.then {
        FilterAction::Kick => (
            Action::SetGroupKick {
                group: m.group.clone(),
                user: m.user.clone(),
                reject_add_request: false,
            },
            "已被移出本群".to_string(),
        ),
        _ => (
            Action::SetGroupBan {
                group: m.group.clone(),
                user: m.user.clone(),
                duration_secs: e.mute.as_secs(),
            },
            format!("已被禁言 {}", human_duration(e.mute)),
        ),
    };
    if !decision.actions.contains(&action) {
        decision.actions.push(action);
    }
    decision.actions.push(say(
        &m.group,
        Message::mentioning(
            std::slice::from_ref(&m.user),
            Message::text(format!(
                "{} 内违规 {count} 次，{what}",
                human_duration(e.window)
            )),
        ),
    ));
    // The count starts again; the history stays for `/违规`.
    decision.changes.push(Change::StrikesCleared {
        member: member.clone(),
    });
    let mut history = escalations(member, ctx);
    history.push(Escalated {
        at: ctx.now,
        strikes: count,
        outcome: format!(
            "被{}",
            what.trim_start_matches('已').trim_start_matches('被')
        ),
    });
    let excess = history.len().saturating_sub(ESCALATIONS_KEPT);
    history.drain(..excess);
    decision
        .changes
        .push(Change::record(NAME, escalated_key(member), &history));
    Strike {
        count,
        escalated: Some(Escalation {
            then: e.then,
            covers: match e.then {
                FilterAction::Kick => BURST,
                _ => e.mute,
            },
        }),
    }
}

/// The owner hears of every removal and mute the filter made.
fn tell_owner(decision: &mut Decision, offence: &Offence, strike: &Strike, ctx: &Context) {
    let escalation = strike
        .escalated
        .as_ref()
        .and(offence.filter.escalation.as_ref());
    let outcome = match escalation {
        Some(e) if e.then == FilterAction::Kick => "被移出本群".to_string(),
        Some(e) => format!("被禁言 {}", human_duration(e.mute)),
        None if offence.live.contains(&FilterAction::Kick) => "被移出本群".to_string(),
        None if offence.live.contains(&FilterAction::Mute) => {
            format!("被禁言 {}", human_duration(offence.mute))
        }
        None => return,
    };
    let m = offence.m;
    let total = ctx.state.strikes.get(&offence.member).map_or(0, Vec::len) + 1;
    decision.merge(notify::tell(
        notify::Notice::Punished {
            group: m.group.clone(),
            user: m.user.clone(),
            name: m.sender.display_name().map(str::to_string),
            rules: labels(&offence.live_categories, ctx),
            strikes: strike.count.max(total),
            outcome,
        },
        ctx,
    ));
}
