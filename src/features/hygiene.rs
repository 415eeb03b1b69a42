//! Group hygiene: messages from members (not admins, not the exempt list) are run
//! through the sensitive-word filter; each category's actions are taken (or only
//! logged, in dry-run), strikes are counted, and enough strikes within the window
//! escalate to a kick or a mute.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    clip, commands, effect_kind, say, Change, Context, Decision, Feature, ImageCheck, Timer,
};
use crate::config::{FilterAction, FilterConfig};
use crate::domain::{
    Action, Event, EventBody, GroupKey, GroupMessage, Id, MemberKey, Message, Segment,
};
use crate::engine::{Effect, WakeError};
use crate::filter::rules::LINK;
use crate::filter::{Hit, Via};

/// The rule name of a QR code read in an image (category `link`).
pub const QR_CODE: &str = "qr_code";

/// How long a removal covers a member's burst: messages already on their way
/// when the kick was decided are not acted on again.
pub const BURST: std::time::Duration = std::time::Duration::from_secs(600);

/// The record key of a member being muted or removed.
/// A member's removals and mutes by the filter's escalation, kept after their
/// strikes are cleared so `/违规` still shows them (the latest few).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escalated {
    pub at: DateTime<Utc>,
    pub strikes: usize,
    /// What it brought: `被移出本群`, `被禁言 1 小时`.
    pub outcome: String,
}

/// The escalations kept per member.
const ESCALATIONS_KEPT: usize = 5;

fn escalated_key(member: &MemberKey) -> String {
    format!(
        "escalated/{}/{}/{}",
        member.account, member.group, member.user
    )
}

/// A member's escalations by the filter, oldest first.
pub fn escalations(member: &MemberKey, ctx: &Context) -> Vec<Escalated> {
    ctx.state
        .record(NAME, &escalated_key(member))
        .unwrap_or_default()
}

/// Forgets a member's escalations (`/pardon`).
pub fn forget_escalations(member: &MemberKey) -> Change {
    Change::forget(NAME, escalated_key(member))
}

fn punished_key(member: &MemberKey) -> String {
    format!(
        "punished/{}/{}/{}",
        member.account, member.group, member.user
    )
}

/// Distinct words a warning (or an operator's notice) names before "…".
pub const WORDS_SHOWN: usize = 3;
/// Characters of a filtered message quoted to operators.
pub const EVIDENCE_CHARS: usize = 200;
/// Hits kept in a `filter.hit` log row (`hit_count` says how many there were).
pub const LOGGED_HITS: usize = 50;

/// The category of flooding: too many messages, or the same one repeated.
pub const FLOOD: &str = "flood";

/// Segment types that are shared cards, mini-programs or contacts: category `link`.
const CARDS: &[&str] = &[
    "share", "json", "xml", "contact", "miniapp", "card", "location",
];

fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.trim().hash(&mut h);
    h.finish()
}

/// A word as the chat may see it: its first character, the rest masked.
pub fn mask(word: &str) -> String {
    let mut chars = word.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    first + &"*".repeat(chars.count())
}

/// The name hygiene's records and log rows go under.
pub const NAME: &str = "hygiene";

pub struct Hygiene;

impl Feature for Hygiene {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(
            event.body,
            EventBody::GroupMessage(_) | EventBody::QrCodes { .. }
        )
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        on_event(event, ctx)
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        match timer.wake()? {
            HygieneWake::FlushWarnings { group } => Ok(flush_warnings(&group, ctx)),
        }
    }
}

/// Hygiene's wake-ups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HygieneWake {
    /// A group's warning window closed: warn everyone who offended in it, at once.
    FlushWarnings { group: GroupKey },
}

/// The members to warn together when a group's warning window closes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WarnBatch {
    pub until: DateTime<Utc>,
    pub members: Vec<Id>,
    pub categories: Vec<String>,
}

/// Members a merged warning @mentions before "等 N 人".
pub const MENTIONS_SHOWN: usize = 10;

fn warn_batch_key(group: &GroupKey) -> String {
    format!("warn_batch/{}/{}", group.account, group.group)
}

/// Warns `member`: at once when no warning went to the group within the window
/// (which then opens), else in the one message that closes the window.
fn warn(
    decision: &mut Decision,
    member: &MemberKey,
    categories: &[&str],
    text: String,
    filter: &FilterConfig,
    ctx: &Context,
) {
    let group = member.group_key();
    let key = warn_batch_key(&group);
    let open = ctx
        .state
        .record::<WarnBatch>(NAME, &key)
        .filter(|b| b.until > ctx.now && !filter.warn_window.is_zero());
    match open {
        Some(mut batch) => {
            if !batch.members.contains(&member.user) {
                batch.members.push(member.user.clone());
            }
            for c in categories {
                if !batch.categories.iter().any(|b| b == c) {
                    batch.categories.push(c.to_string());
                }
            }
            decision.changes.push(Change::record(NAME, key, &batch));
        }
        None => {
            decision.actions.push(say(
                &member.group,
                Message::mentioning(std::slice::from_ref(&member.user), Message::text(text)),
            ));
            if filter.warn_window.is_zero() {
                return;
            }
            let until =
                ctx.now + chrono::Duration::from_std(filter.warn_window).unwrap_or_default();
            let batch = WarnBatch {
                until,
                ..WarnBatch::default()
            };
            decision.changes.push(Change::record(NAME, key, &batch));
            decision.timers.push(Timer::new(
                until,
                &member.account,
                NAME,
                &HygieneWake::FlushWarnings { group },
            ));
        }
    }
}

/// The categories as members read them, joined: `广告、链接`.
fn labels<S: AsRef<str>>(categories: &[S], ctx: &Context) -> String {
    let label = |c: &str| {
        ctx.config
            .filter
            .as_ref()
            .map_or_else(|| c.to_string(), |f| f.label(c))
    };
    categories
        .iter()
        .map(|c| label(c.as_ref()))
        .collect::<Vec<_>>()
        .join("、")
}

/// The window closed: one message mentioning everyone warned in it.
fn flush_warnings(group: &GroupKey, ctx: &Context) -> Decision {
    let key = warn_batch_key(group);
    let Some(batch) = ctx.state.record::<WarnBatch>(NAME, &key) else {
        return Decision::default();
    };
    let mut decision = Decision::default().change(Change::forget(NAME, key));
    if batch.members.is_empty() {
        return decision;
    }
    let shown = &batch.members[..batch.members.len().min(MENTIONS_SHOWN)];
    let more = batch.members.len() - shown.len();
    let others = if more > 0 {
        format!(" 等 {} 人", batch.members.len())
    } else {
        String::new()
    };
    decision.actions.push(say(
        &group.group,
        Message::mentioning(
            shown,
            Message::text(format!(
                "{others}⚠ 你们的消息违反群规（{}），请遵守群规",
                labels(&batch.categories, ctx)
            )),
        ),
    ));
    decision
}

pub fn on_event(event: &Event, ctx: &Context) -> Decision {
    let (m, qr_codes) = match &event.body {
        EventBody::GroupMessage(m) => (m, None),
        EventBody::QrCodes { message, codes } => (message, Some(codes)),
        _ => return Decision::default(),
    };
    let Some(filter) = &ctx.config.filter else {
        return Decision::default();
    };
    if !ctx.config.is_managed(&m.group)
        || commands::is_admin(m, ctx)
        || filter.exempt.contains(&m.user)
    {
        return Decision::default();
    }
    if let Some(codes) = qr_codes {
        if !filter.reads_qr_codes() {
            return Decision::default();
        }
        let hits = codes
            .iter()
            .map(|_| Hit {
                word: QR_CODE,
                category: LINK,
                start: 0,
                end: 0,
                via: Via::Rule,
            })
            .collect();
        return act(event, m, filter, hits, Decision::default(), ctx);
    }
    let member = MemberKey::new(&event.account, &m.group, &m.user);
    let text = m.message.plain_text();
    let mut hits = filter.text_hits(&text);
    for segment in m.message.segments() {
        if let Segment::Other { kind, .. } = segment {
            if CARDS.contains(&kind.as_str()) {
                hits.push(Hit {
                    word: kind,
                    category: LINK,
                    start: 0,
                    end: 0,
                    via: Via::Rule,
                });
            }
        }
    }
    let mut spoke = None;
    if let Some(flood) = &filter.flood {
        let within = chrono::Duration::from_std(flood.within).unwrap_or_default();
        let digest = digest(&text);
        let recent = ctx.state.recent.get(&member);
        let in_window: Vec<u64> = recent
            .map(|r| {
                r.iter()
                    .filter(|(t, _)| ctx.now - *t <= within)
                    .map(|(_, d)| *d)
                    .collect()
            })
            .unwrap_or_default();
        let same = in_window.iter().filter(|d| **d == digest).count() + 1;
        let word = if in_window.len() + 1 > flood.messages as usize {
            Some("too_many_messages")
        } else if !text.trim().is_empty() && same >= flood.repeats as usize {
            Some("repeated_message")
        } else {
            None
        };
        if let Some(word) = word {
            hits.push(Hit {
                word,
                category: FLOOD,
                start: 0,
                end: text.chars().count(),
                via: Via::Rule,
            });
        }
        spoke = Some(Change::Spoke {
            member: member.clone(),
            at: ctx.now,
            digest,
            keep: within,
        });
    }
    let decision = Decision {
        changes: spoke.into_iter().collect(),
        ..Decision::default()
    };
    if hits.is_empty() {
        // A clean text may come with a picture of a QR code: it is read off the
        // engine, and comes back as a `QrCodes` event if one is found.
        return Decision {
            effects: image_check(event, m, filter)
                .map(|check| Effect::new(effect_kind::CHECK_IMAGES, &check))
                .into_iter()
                .collect(),
            ..decision
        };
    }
    act(event, m, filter, hits, decision, ctx)
}

/// The pictures of `m` to read for QR codes, if any and if the link rules and
/// QR reading are on.
fn image_check(event: &Event, m: &GroupMessage, filter: &FilterConfig) -> Option<ImageCheck> {
    if !filter.reads_qr_codes() {
        return None;
    }
    let urls: Vec<String> = m
        .message
        .segments()
        .iter()
        .filter_map(|s| match s {
            Segment::Image { url: Some(url), .. } => Some(url.clone()),
            _ => None,
        })
        .collect();
    (!urls.is_empty()).then(|| ImageCheck {
        account: event.account.clone(),
        heard_by: event.heard_by.clone(),
        message: m.clone(),
        urls,
    })
}

/// Takes the live categories' actions on a filtered message, counts the strike
/// and escalates; logs it all as `filter.hit`.
fn act(
    event: &Event,
    m: &GroupMessage,
    filter: &FilterConfig,
    hits: Vec<Hit>,
    mut decision: Decision,
    ctx: &Context,
) -> Decision {
    let member = MemberKey::new(&event.account, &m.group, &m.user);
    let punished = punished_key(&member);

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
                    "hit_count": hits.len(),
                    "punished_until": until,
                }),
            });
        }
        decision
            .changes
            .push(Change::forget(NAME, punished.clone()));
    }

    // Categories in the order they appear; the live ones decide what happens.
    let mut categories: Vec<&str> = Vec::new();
    for h in &hits {
        if !categories.contains(&h.category) {
            categories.push(h.category);
        }
    }
    let mut live: Vec<FilterAction> = Vec::new();
    let mut live_categories = Vec::new();
    let mut dry = Vec::new();
    let mut mute = std::time::Duration::ZERO;
    for c in &categories {
        let rule = filter.category(c);
        if rule.dry_run {
            dry.push(json!({"category": c, "would": rule.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>()}));
            continue;
        }
        live_categories.push(*c);
        for a in rule.actions {
            if a == FilterAction::Mute {
                mute = mute.max(rule.mute);
            }
            if !live.contains(&a) {
                live.push(a);
            }
        }
    }

    // Word hits show masked, each word once and a few at most; rule hits (links,
    // flooding) are named by their category alone. A warning stays short however
    // long the message was.
    let mut words: Vec<&str> = Vec::new();
    for h in hits
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
    // Where this strike leaves the member, told with the warning: nobody loyal
    // is removed without having been told that one more would do it.
    let standing = match (&filter.escalation, live_categories.is_empty()) {
        (Some(e), false) => {
            let since = ctx.now - chrono::Duration::from_std(e.window).unwrap_or_default();
            let n = ctx.state.strikes_since(&member, since) + 1;
            let fate = match e.then {
                FilterAction::Kick => "将被移出本群".to_string(),
                _ => format!("将被禁言 {}", super::human_duration(e.mute)),
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
        _ => String::new(),
    };
    for action in &live {
        match action {
            FilterAction::Recall => decision.actions.push(Action::DeleteMsg {
                message_id: m.message_id.clone(),
                group: Some(m.group.clone()),
            }),
            FilterAction::Warn => {
                let what = if masked.is_empty() {
                    format!(
                        "⚠ 你的消息违反群规（{}），请注意{standing}",
                        labels(&live_categories, ctx)
                    )
                } else {
                    format!(
                        "⚠ 你的消息含有违规内容（{}：{}），请遵守群规{standing}",
                        labels(&live_categories, ctx),
                        masked.join("、")
                    )
                };
                warn(&mut decision, &member, &live_categories, what, filter, ctx);
            }
            FilterAction::Mute => decision.actions.push(Action::SetGroupBan {
                group: m.group.clone(),
                user: m.user.clone(),
                duration_secs: mute.as_secs(),
            }),
            FilterAction::Kick => decision.actions.push(Action::SetGroupKick {
                group: m.group.clone(),
                user: m.user.clone(),
                reject_add_request: false,
            }),
            FilterAction::Notify => {
                let who = m.sender.display_name().unwrap_or(m.user.as_str());
                let mut found: Vec<String> = Vec::new();
                for h in &hits {
                    let named = format!("{}/{}", h.category, h.word);
                    if !found.contains(&named) {
                        found.push(named);
                    }
                }
                let more = if found.len() > WORDS_SHOWN { "…" } else { "" };
                found.truncate(WORDS_SHOWN);
                let evidence = format!(
                    "[{}] {who}（{}）的消息被过滤：「{}」命中 {}{more}",
                    ctx.config.group_name(&m.group),
                    m.user,
                    clip(&m.message.plain_text(), EVIDENCE_CHARS),
                    found.join("、")
                );
                for operator in &ctx.config.admins.users {
                    decision.actions.push(Action::SendPrivateMsg {
                        user: operator.clone(),
                        message: Message::text(evidence.clone()),
                    });
                }
            }
        }
    }

    // A mute or a removal covers the burst: until the mute ends (a removal, for
    // BURST), the member's further messages are not acted on again.
    let mut punished_for = if live.contains(&FilterAction::Kick) {
        Some(BURST)
    } else if live.contains(&FilterAction::Mute) {
        Some(mute)
    } else {
        None
    };

    let mut strikes = 0;
    let mut escalated = None;
    if let Some(category) = live_categories.first() {
        decision.changes.push(Change::Strike {
            member: member.clone(),
            at: ctx.now,
            category: category.to_string(),
        });
        if let Some(e) = &filter.escalation {
            let since = ctx.now - chrono::Duration::from_std(e.window).unwrap_or_default();
            strikes = ctx.state.strikes_since(&member, since) + 1;
            if strikes >= e.strikes as usize {
                escalated = Some(e.then.as_str());
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
                        format!("已被禁言 {}", super::human_duration(e.mute)),
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
                            "{} 内违规 {strikes} 次，{what}",
                            super::human_duration(e.window)
                        )),
                    ),
                ));
                // The count starts again; the history stays for `/违规`.
                decision.changes.push(Change::StrikesCleared {
                    member: member.clone(),
                });
                let mut history = escalations(&member, ctx);
                history.push(Escalated {
                    at: ctx.now,
                    strikes,
                    outcome: format!(
                        "被{}",
                        what.trim_start_matches('已').trim_start_matches('被')
                    ),
                });
                let excess = history.len().saturating_sub(ESCALATIONS_KEPT);
                history.drain(..excess);
                decision
                    .changes
                    .push(Change::record(NAME, escalated_key(&member), &history));
                punished_for = Some(match e.then {
                    FilterAction::Kick => BURST,
                    _ => e.mute,
                });
            }
        }
    }

    // The owner hears of every removal and mute the filter made.
    let outcome = match escalated.map(|_| filter.escalation.as_ref()) {
        Some(Some(e)) if e.then == FilterAction::Kick => Some("被移出本群".to_string()),
        Some(Some(e)) => Some(format!("被禁言 {}", super::human_duration(e.mute))),
        _ if live.contains(&FilterAction::Kick) => Some("被移出本群".to_string()),
        _ if live.contains(&FilterAction::Mute) => {
            Some(format!("被禁言 {}", super::human_duration(mute)))
        }
        _ => None,
    };
    if let Some(outcome) = outcome {
        let total = ctx.state.strikes.get(&member).map_or(0, Vec::len) + 1;
        decision.merge(super::notify::tell(
            super::notify::Notice::Punished {
                group: m.group.clone(),
                user: m.user.clone(),
                name: m.sender.display_name().map(str::to_string),
                rules: labels(&live_categories, ctx),
                strikes: strikes.max(total),
                outcome,
            },
            ctx,
        ));
    }

    if let Some(window) = punished_for {
        let until = ctx.now + chrono::Duration::from_std(window).unwrap_or_default();
        decision
            .changes
            .push(Change::record(NAME, punished, &until));
    }

    decision.changes.push(Change::Note {
        kind: "filter.hit".into(),
        account: event.account.clone(),
        group: Some(m.group.clone()),
        user: Some(m.user.clone()),
        detail: json!({
            "message_id": m.message_id,
            "hits": hits.iter().take(LOGGED_HITS).map(hit_json).collect::<Vec<_>>(),
            "hit_count": hits.len(),
            "actions": live.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "dry_run": dry,
            "strikes": strikes,
            "escalated": escalated,
        }),
    });
    decision
}

pub fn hit_json(h: &Hit) -> serde_json::Value {
    serde_json::to_value(h).unwrap_or_default()
}

#[cfg(test)]
mod tests;
