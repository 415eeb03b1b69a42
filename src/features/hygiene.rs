//! Group hygiene: messages from members (not admins, not the exempt list) are run
//! through the sensitive-word filter; each category's actions are taken (or only
//! logged, in dry-run), strikes are counted, and enough strikes within the window
//! escalate to a kick or a mute.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{commands, effect_kind, say, Change, Context, Decision, Feature, ImageCheck, Timer};
use crate::config::FilterConfig;
use crate::domain::{Event, EventBody, GroupKey, GroupMessage, Id, MemberKey, Message, Segment};
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

pub fn hit_json(h: &Hit) -> serde_json::Value {
    serde_json::to_value(h).unwrap_or_default()
}

mod act;
use act::act;

#[cfg(test)]
mod tests;
