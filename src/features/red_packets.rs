//! 拼手气红包: lucky red packets of points, never cash.
//!
//! A packet is split **when it is opened** (in whole points, each share ≥ 1,
//! summing exactly to the total, shuffled) and stored as a record, so a restart
//! loses nothing and a replay draws the same. Members grab by sending exactly
//! the grab word (or the packet's 口令); the engine takes events one at a time
//! in log order, so grabs are served first come, first served, each member at
//! most once. Grabs within `answer_window` are answered in one message; an
//! empty or expired packet posts its result with 手气最佳.
//!
//! The sender pays: opening writes −total to the sender's points, each grab
//! +share to the grabber, and at expiry the rest goes back to the sender. A
//! packet's rows in the ledger sum to zero. Staff (and the bot itself, for an
//! announcement's packet) hand out the shop's points, so their balance may go
//! below zero: the ledger shows who handed out how many.

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{clip, group_note, human_duration, say, Change, Context, Decision, Feature, Timer};
use crate::config::SplitMethod;
use crate::domain::{Event, EventBody, GroupKey, Id, MemberKey, Mention, Message, Segment};
use crate::engine::WakeError;

pub const NAME: &str = "red_packets";

pub use crate::config::MAX_PACKET_SHARES as MAX_SHARES;
/// Grabbers mentioned in one answer; the rest are counted.
const MENTIONS: usize = 10;
/// Open packets `/redpacket status` lists (the oldest); the rest are counted.
const STATUS_LISTED: usize = 10;
/// The longest 口令 and name the bot repeats.
const WORD_CHARS: usize = 20;

/// An open packet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Packet {
    pub id: String,
    pub group: Id,
    pub sender: Id,
    pub total: u32,
    /// Shares not grabbed yet, in the order they are handed out.
    pub left: Vec<u32>,
    /// Who grabbed what, in order.
    pub grabbed: Vec<(Id, String, u32)>,
    /// The 口令; `None` takes the grab word.
    pub word: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Packet {
    fn left_points(&self) -> u32 {
        self.left.iter().sum()
    }
}

/// Grabs waiting to be answered in one message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Answers {
    grabs: Vec<(Id, u32)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RedPacketWake {
    Expire { packet: String },
    Answer { group: Id },
}

/// Cuts `total` points into `shares` whole shares, each ≥ 1, summing to
/// `total`, in random order. `shares` must be 1..=total.
pub fn split(total: u32, shares: u32, method: SplitMethod, rng: &mut impl Rng) -> Vec<u32> {
    let shares = shares.clamp(1, total.max(1));
    let mut out = match method {
        SplitMethod::DoubleMean => {
            let mut left = total;
            let mut out = Vec::with_capacity(shares as usize);
            for n in (2..=shares).rev() {
                // Uniform from 1 to twice the mean of what is left, leaving at
                // least one point for each share still to draw.
                let most = (2 * left / n).min(left - (n - 1)).max(1);
                let share = rng.random_range(1..=most);
                out.push(share);
                left -= share;
            }
            out.push(left);
            out
        }
        SplitMethod::Fair => {
            // shares − 1 distinct cuts among the total − 1 places between points.
            let mut cuts: Vec<u32> =
                rand::seq::index::sample(rng, (total - 1) as usize, (shares - 1) as usize)
                    .into_iter()
                    .map(|c| c as u32 + 1)
                    .collect();
            cuts.sort_unstable();
            let mut out = Vec::with_capacity(shares as usize);
            let mut last = 0;
            for cut in cuts.into_iter().chain(std::iter::once(total)) {
                out.push(cut - last);
                last = cut;
            }
            out
        }
    };
    out.shuffle(rng);
    out
}

fn packet_prefix(group: &GroupKey) -> String {
    format!("packet/{}/{}/", group.account, group.group)
}

fn answers_key(group: &GroupKey) -> String {
    format!("answers/{}/{}", group.account, group.group)
}

/// The open packets of a group, oldest first, with their record keys.
pub fn open_packets(group: &GroupKey, ctx: &Context) -> Vec<(String, Packet)> {
    packets_where(group, ctx, |_| true)
}

/// The group's open packets whose stored JSON passes `keep`, oldest first.
/// Every member's message asks, so a packet is only read in full once its
/// record passed: chat that grabs nothing costs no deserialising.
fn packets_where(
    group: &GroupKey,
    ctx: &Context,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Vec<(String, Packet)> {
    let prefix = packet_prefix(group);
    let mut packets: Vec<(String, Packet)> = ctx
        .state
        .records_of(NAME)
        .filter(|(k, v)| k.starts_with(&prefix) && keep(v))
        .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
        .collect();
    packets.sort_by(|a, b| a.1.opened_at.cmp(&b.1.opened_at).then(a.0.cmp(&b.0)));
    packets
}

/// A packet to open.
pub struct Opening<'a> {
    /// Unique in the group: the command's message id, or the announcement's fire.
    pub id: &'a str,
    /// Who pays: the admin, or the bot account itself.
    pub sender: &'a Id,
    pub sender_name: &'a str,
    pub points: u32,
    pub shares: u32,
    /// The 口令, if any.
    pub word: Option<String>,
}

/// Opens a packet in `group`: the decision that splits, stores and announces
/// it, or why it cannot be.
pub fn open(group: &GroupKey, opening: Opening, ctx: &Context) -> Result<Decision, String> {
    let Opening {
        id,
        sender,
        sender_name,
        points,
        shares,
        word,
    } = opening;
    let config = &ctx.config.red_packets;
    if shares == 0 || shares > MAX_SHARES {
        return Err(format!("红包份数需在 1 到 {MAX_SHARES} 之间"));
    }
    if points < shares {
        return Err("积分不够分：每份至少 1 积分".into());
    }
    if points > config.max_points {
        return Err(format!("一个红包最多 {} 积分", config.max_points));
    }
    let word = word
        .map(|w| clip(w.trim(), WORD_CHARS))
        .filter(|w| !w.is_empty());
    let left = split(points, shares, config.split, &mut ctx.rng("red_packet"));
    let expires_at = ctx.now + chrono::Duration::from_std(config.expires_after).unwrap_or_default();
    let packet = Packet {
        id: id.to_string(),
        group: group.group.clone(),
        sender: sender.clone(),
        total: points,
        left,
        grabbed: Vec::new(),
        word: word.clone(),
        opened_at: ctx.now,
        expires_at,
    };
    let key = format!("{}{id}", packet_prefix(group));
    let grab = word.unwrap_or_else(|| config.grab_word.clone());
    let text = format!(
        "🧧 {} 发了一个 {points} 积分的拼手气红包，共 {shares} 份！发送「{grab}」抢红包（{}内有效）",
        clip(sender_name, WORD_CHARS),
        human_duration(config.expires_after)
    );
    Ok(Decision::default()
        .act(say(&group.group, Message::text(text)))
        .change(Change::record(NAME, key.clone(), &packet))
        .change(Change::Points {
            member: MemberKey::new(&group.account, &group.group, sender),
            amount: -i64::from(points),
            reason: "red_packet.sent".into(),
            name: Some(sender_name.to_string()),
        })
        .change(group_note(
            "redpacket.opened",
            group,
            Some(sender),
            json!({
                "packet": id, "points": points, "shares": shares, "word": packet.word,
            }),
        ))
        .timer(Timer::new(
            expires_at,
            &group.account,
            NAME,
            &RedPacketWake::Expire { packet: key },
        )))
}

pub struct RedPackets;

impl Feature for RedPackets {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(event.body, EventBody::GroupMessage(_))
    }

    /// A grab: a member's message that is exactly the grab word or a 口令.
    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        let EventBody::GroupMessage(m) = &event.body else {
            return Decision::default();
        };
        if m.user == event.account || !ctx.config.is_managed(&m.group) {
            return Decision::default();
        }
        let text = m.message.plain_text();
        let text = text.trim();
        let group = GroupKey {
            account: event.account.clone(),
            group: m.group.clone(),
        };
        let grab_word = &ctx.config.red_packets.grab_word;
        // A packet is grabbed with its 口令, or with the grab word when it has none.
        let grabs_it = |packet: &serde_json::Value| match packet["word"].as_str() {
            Some(word) => word == text,
            None => grab_word == text,
        };
        let found = packets_where(&group, ctx, grabs_it)
            .into_iter()
            .find(|(_, p)| !p.grabbed.iter().any(|(u, ..)| u == &m.user));
        let Some((key, mut packet)) = found else {
            return Decision::default();
        };
        let Some(share) = packet.left.pop() else {
            return Decision::default();
        };
        let name = clip(
            m.sender.display_name().unwrap_or(&m.user.to_string()),
            WORD_CHARS,
        );
        packet.grabbed.push((m.user.clone(), name.clone(), share));
        let mut d = Decision::default()
            .change(Change::Points {
                member: MemberKey::new(&group.account, &group.group, &m.user),
                amount: i64::from(share),
                reason: "red_packet.grab".into(),
                name: m.sender.display_name().map(str::to_string),
            })
            .change(group_note(
                "redpacket.grabbed",
                &group,
                Some(&m.user),
                json!({
                    "packet": packet.id, "points": share,
                }),
            ));
        let mut answers: Answers = ctx
            .state
            .record(NAME, &answers_key(&group))
            .unwrap_or_default();
        if answers.grabs.is_empty() {
            let due = ctx.now
                + chrono::Duration::from_std(ctx.config.red_packets.answer_window)
                    .unwrap_or_default();
            d = d.timer(Timer::new(
                due,
                &group.account,
                NAME,
                &RedPacketWake::Answer {
                    group: group.group.clone(),
                },
            ));
        }
        answers.grabs.push((m.user.clone(), share));
        if packet.left.is_empty() {
            // The answers go out before the result.
            d = d
                .act(say(&group.group, answer_message(&answers.grabs)))
                .change(Change::forget(NAME, answers_key(&group)));
            d.merge(finish(&group, &key, &packet));
        } else {
            d = d
                .change(Change::record(NAME, answers_key(&group), &answers))
                .change(Change::record(NAME, key, &packet));
        }
        d
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, WakeError> {
        let group_of = |group: Id| GroupKey {
            account: timer.account.clone(),
            group,
        };
        Ok(match timer.wake::<RedPacketWake>()? {
            RedPacketWake::Answer { group } => {
                let group = group_of(group);
                let answers: Answers = ctx
                    .state
                    .record(NAME, &answers_key(&group))
                    .unwrap_or_default();
                if answers.grabs.is_empty() {
                    return Ok(Decision::default());
                }
                Decision::default()
                    .act(say(&group.group, answer_message(&answers.grabs)))
                    .change(Change::forget(NAME, answers_key(&group)))
            }
            RedPacketWake::Expire { packet: key } => {
                let Some(packet) = ctx.state.record::<Packet>(NAME, &key) else {
                    return Ok(Decision::default()); // emptied before it expired
                };
                let group = group_of(packet.group.clone());
                finish(&group, &key, &packet)
            }
        })
    }
}

/// "@A 抢到 12 积分 @B 抢到 3 积分 …".
fn answer_message(grabs: &[(Id, u32)]) -> Message {
    let mut segments = Vec::new();
    for (user, points) in grabs.iter().take(MENTIONS) {
        segments.push(Segment::At {
            target: Mention::User(user.clone()),
        });
        segments.push(Segment::Text {
            text: format!(" 抢到 {points} 积分 "),
        });
    }
    if grabs.len() > MENTIONS {
        segments.push(Segment::Text {
            text: format!("等 {} 人", grabs.len()),
        });
    }
    Message::from_segments(segments)
}

/// Closes a packet (empty, or expired): the rest back to the sender, the
/// result posted with 手气最佳.
fn finish(group: &GroupKey, key: &str, packet: &Packet) -> Decision {
    let rest = packet.left_points();
    let paid: u32 = packet.grabbed.iter().map(|(.., p)| p).sum();
    let best = packet
        .grabbed
        .iter()
        .fold(None::<&(Id, String, u32)>, |best, g| match best {
            Some(b) if b.2 >= g.2 => Some(b),
            _ => Some(g),
        });
    let mut text = if rest == 0 {
        format!(
            "🧧 红包已被抢完：{} 人抢到 {paid} 积分",
            packet.grabbed.len()
        )
    } else {
        format!(
            "🧧 红包已过期：{} 人抢到 {paid} 积分，剩余 {rest} 积分已退回",
            packet.grabbed.len()
        )
    };
    if let Some((_, name, points)) = best {
        text.push_str(&format!("。手气最佳：{name}（{points} 积分）"));
    }
    let mut d = Decision::default()
        .act(say(&group.group, Message::text(text)))
        .change(Change::forget(NAME, key))
        .change(group_note(
            "redpacket.finished",
            group,
            Some(&packet.sender),
            json!({
                "packet": packet.id,
                "total": packet.total,
                "paid_out": paid,
                "refunded": rest,
                "grabbers": packet.grabbed.len(),
                "best": best.map(|(u, _, p)| json!({"user": u, "points": p})),
            }),
        ));
    if rest > 0 {
        d = d.change(Change::Points {
            member: MemberKey::new(&group.account, &group.group, &packet.sender),
            amount: i64::from(rest),
            reason: "red_packet.refund".into(),
            name: None,
        });
    }
    d
}

/// `/redpacket 100 10 [口令]` and `/redpacket status`; `Err` is the usage complaint.
pub fn command(
    args: &[String],
    m: &crate::domain::GroupMessage,
    group: GroupKey,
    ctx: &Context,
) -> Result<Decision, String> {
    if args.first().map(String::as_str) == Some("status") {
        let packets = open_packets(&group, ctx);
        let text = if packets.is_empty() {
            "本群没有未抢完的红包".to_string()
        } else {
            let tz = ctx.config.timezone;
            let mut lines: Vec<String> = packets
                .iter()
                .take(STATUS_LISTED)
                .map(|(_, p)| {
                    format!(
                        "🧧 {} 积分：剩 {} 份 {} 积分{}，{} 过期",
                        p.total,
                        p.left.len(),
                        p.left_points(),
                        p.word
                            .as_ref()
                            .map_or(String::new(), |w| format!("，口令「{w}」")),
                        p.expires_at.with_timezone(&tz).format("%m-%d %H:%M")
                    )
                })
                .collect();
            if packets.len() > STATUS_LISTED {
                lines.push(format!(
                    "……另有 {} 个未抢完的红包",
                    packets.len() - STATUS_LISTED
                ));
            }
            lines.join("\n")
        };
        return Ok(Decision::default().act(super::reply(m, Message::text(text))));
    }
    let number = |i: usize, what: &str| {
        args.get(i)
            .and_then(|a| a.parse::<u32>().ok())
            .ok_or_else(|| format!("请写明{what}"))
    };
    let points = number(0, "红包总积分")?;
    let shares = number(1, "红包份数")?;
    let name = m.sender.display_name().unwrap_or("管理员").to_string();
    let word = (args.len() > 2).then(|| args[2..].join(" "));
    let id = m.message_id.to_string();
    let opening = Opening {
        id: &id,
        sender: &m.user,
        sender_name: &name,
        points,
        shares,
        word,
    };
    open(&group, opening, ctx)
}

#[cfg(test)]
mod tests;
