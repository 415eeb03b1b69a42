//! 拼手气红包: lucky red packets of points, never cash.
//!
//! A packet is split **when it is opened** (in whole points, each share ≥ 1,
//! summing exactly to the total, shuffled) and stored as a record, so a restart
//! loses nothing and a replay draws the same. Members grab by sending exactly
//! the grab word (or the packet's 口令); the engine takes events one at a time
//! in log order, so grabs are served first come, first served, each member at
//! most once. Grabs within `answer_window` are answered in one message, a line
//! per packet naming it ([`Packet::title`]); a member who grabs again a packet
//! already theirs is told so once, in the same message. An empty or expired
//! packet posts its result with 手气最佳.
//!
//! Who pays is `red_packets.paid_by`: the shop's ledger account in the group
//! ([`shop_account`], the default and always for an announcement's packet), or
//! the admin who sends it, who must have the points. Opening writes −total to
//! the payer, each grab +share to the grabber, and at expiry the rest goes back
//! to the payer: a packet's rows in the ledger sum to zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{clip, group_note, human_duration, say, Change, Context, Decision, Feature, Timer};
use crate::config::PaidBy;
use crate::domain::{Event, EventBody, GroupKey, Id, MemberKey, Message};
use crate::engine::WakeError;

mod answers;
mod split;

use answers::{Answers, Grab};
pub use split::split;

pub const NAME: &str = "red_packets";

pub use crate::config::MAX_PACKET_SHARES as MAX_SHARES;
/// The user of the shop's ledger account in each group, which pays packets
/// under `paid_by = "shop"`. A `#` is in no QQ number and no WeChat id, so it
/// names no member; its balance is what the shop handed out (≤ 0), and ranks
/// list only positive balances.
pub const SHOP_USER: &str = "#shop";
/// The name the shop's account goes by in the ledger.
pub const SHOP_NAME: &str = "店铺";
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
    /// The sender's name as announced (empty in packets of earlier versions).
    #[serde(default)]
    pub sender_name: String,
    /// Whose points paid it, and get the rest back: the shop's account or the
    /// sender (`None`: the sender, as in packets of earlier versions).
    #[serde(default)]
    pub payer: Option<Id>,
    /// Grabbers already told they grabbed it (once each).
    #[serde(default)]
    pub told: Vec<Id>,
}

impl Packet {
    fn left_points(&self) -> u32 {
        self.left.iter().sum()
    }

    /// How answers name it: "群管的 100 积分红包".
    pub fn title(&self) -> String {
        if self.sender_name.is_empty() {
            format!("{} 积分红包", self.total)
        } else {
            format!("{}的 {} 积分红包", self.sender_name, self.total)
        }
    }

    fn payer(&self, group: &GroupKey) -> MemberKey {
        MemberKey::new(
            &group.account,
            &group.group,
            self.payer.as_ref().unwrap_or(&self.sender),
        )
    }

    fn grabbed_by(&self, user: &Id) -> bool {
        self.grabbed.iter().any(|(u, ..)| u == user)
    }
}

/// The shop's ledger account in `group` (see [`SHOP_USER`]).
pub fn shop_account(group: &GroupKey) -> MemberKey {
    MemberKey::new(&group.account, &group.group, &Id::text(SHOP_USER))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RedPacketWake {
    Expire { packet: String },
    Answer { group: Id },
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
    /// Who sends it: the admin, or the bot account itself.
    pub sender: &'a Id,
    pub sender_name: &'a str,
    pub points: u32,
    pub shares: u32,
    /// The 口令, if any.
    pub word: Option<String>,
    /// Whose points pay it.
    pub paid_by: PaidBy,
}

/// Whether a packet of `points` in `shares` may be opened at all.
fn check_size(points: u32, shares: u32, ctx: &Context) -> Result<(), String> {
    let max = ctx.config.red_packets.max_points;
    if shares == 0 || shares > MAX_SHARES {
        Err(format!("红包份数需在 1 到 {MAX_SHARES} 之间"))
    } else if points < shares {
        Err("积分不够分：每份至少 1 积分".into())
    } else if points > max {
        Err(format!("一个红包最多 {max} 积分"))
    } else {
        Ok(())
    }
}

/// Whose points pay a packet `sender` opens.
fn payer(group: &GroupKey, sender: &Id, paid_by: PaidBy) -> MemberKey {
    match paid_by {
        PaidBy::Shop => shop_account(group),
        PaidBy::Sender => MemberKey::new(&group.account, &group.group, sender),
    }
}

/// Why a sender who pays cannot pay `points`; the shop always can.
fn short_of_points(
    payer: &MemberKey,
    paid_by: PaidBy,
    points: u32,
    ctx: &Context,
) -> Option<String> {
    let balance = ctx.state.balance(payer);
    (paid_by == PaidBy::Sender && balance < i64::from(points))
        .then(|| format!("你的积分不够发这个红包：当前 {balance} 积分，需要 {points} 积分"))
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
        paid_by,
    } = opening;
    let config = &ctx.config.red_packets;
    check_size(points, shares, ctx)?;
    let payer = payer(group, sender, paid_by);
    if let Some(why) = short_of_points(&payer, paid_by, points, ctx) {
        return Err(why);
    }
    let word = word
        .map(|w| clip(w.trim(), WORD_CHARS))
        .filter(|w| !w.is_empty());
    let sender_name = clip(sender_name, WORD_CHARS);
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
        sender_name: sender_name.clone(),
        payer: Some(payer.user.clone()),
        told: Vec::new(),
    };
    let key = format!("{}{id}", packet_prefix(group));
    let grab = word.unwrap_or_else(|| config.grab_word.clone());
    let text = format!(
        "🧧 {sender_name} 发了一个 {points} 积分的拼手气红包，共 {shares} 份！发送「{grab}」抢红包（{}内有效）",
        human_duration(config.expires_after)
    );
    Ok(Decision::default()
        .act(say(&group.group, Message::text(text)))
        .change(Change::record(NAME, key.clone(), &packet))
        .change(Change::Points {
            name: Some(match paid_by {
                PaidBy::Shop => SHOP_NAME.to_string(),
                PaidBy::Sender => sender_name,
            }),
            member: payer,
            amount: -i64::from(points),
            reason: "red_packet.sent".into(),
        })
        .change(group_note(
            "redpacket.opened",
            group,
            Some(sender),
            json!({
                "packet": id, "points": points, "shares": shares, "word": packet.word,
                "paid_by": packet.payer,
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
        let packets = packets_where(&group, ctx, grabs_it);
        // The oldest packet the member has not grabbed; else the oldest they
        // grabbed and were not told so yet; else nothing (told once a packet).
        let fresh = packets.iter().find(|(_, p)| !p.grabbed_by(&m.user));
        if let Some((key, packet)) = fresh {
            return grab(&group, key, packet.clone(), m, ctx);
        }
        let repeat = packets
            .into_iter()
            .find(|(_, p)| p.grabbed_by(&m.user) && !p.told.contains(&m.user));
        let Some((key, mut packet)) = repeat else {
            return Decision::default();
        };
        packet.told.push(m.user.clone());
        let (mut answers, d) = pending_answers(&group, ctx);
        answers.repeats.push(Grab {
            user: m.user.clone(),
            points: 0,
            packet: packet.title(),
        });
        d.change(Change::record(NAME, answers_key(&group), &answers))
            .change(Change::record(NAME, key, &packet))
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
                if answers.is_empty() {
                    return Ok(Decision::default());
                }
                Decision::default()
                    .act(say(&group.group, answers.message()))
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

/// The answers waiting in `group`'s window, and the decision that opens the
/// window when none are waiting.
fn pending_answers(group: &GroupKey, ctx: &Context) -> (Answers, Decision) {
    let answers: Answers = ctx
        .state
        .record(NAME, &answers_key(group))
        .unwrap_or_default();
    let mut d = Decision::default();
    if answers.is_empty() {
        let due = ctx.now
            + chrono::Duration::from_std(ctx.config.red_packets.answer_window).unwrap_or_default();
        d = d.timer(Timer::new(
            due,
            &group.account,
            NAME,
            &RedPacketWake::Answer {
                group: group.group.clone(),
            },
        ));
    }
    (answers, d)
}

/// `m`'s sender grabs the next share of `packet`.
fn grab(
    group: &GroupKey,
    key: &str,
    mut packet: Packet,
    m: &crate::domain::GroupMessage,
    ctx: &Context,
) -> Decision {
    let Some(share) = packet.left.pop() else {
        return Decision::default();
    };
    let name = clip(
        m.sender.display_name().unwrap_or(&m.user.to_string()),
        WORD_CHARS,
    );
    packet.grabbed.push((m.user.clone(), name, share));
    let (mut answers, mut d) = pending_answers(group, ctx);
    d = d
        .change(Change::Points {
            member: MemberKey::new(&group.account, &group.group, &m.user),
            amount: i64::from(share),
            reason: "red_packet.grab".into(),
            name: m.sender.display_name().map(str::to_string),
        })
        .change(group_note(
            "redpacket.grabbed",
            group,
            Some(&m.user),
            json!({
                "packet": packet.id, "points": share,
            }),
        ));
    answers.grabs.push(Grab {
        user: m.user.clone(),
        points: share,
        packet: packet.title(),
    });
    if packet.left.is_empty() {
        // The answers go out before the result.
        d = d
            .act(say(&group.group, answers.message()))
            .change(Change::forget(NAME, answers_key(group)));
        d.merge(finish(group, key, &packet));
    } else {
        d = d
            .change(Change::record(NAME, answers_key(group), &answers))
            .change(Change::record(NAME, key, &packet));
    }
    d
}

/// Closes a packet (empty, or expired): the rest back to whoever paid, the
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
    let title = packet.title();
    let mut text = if rest == 0 {
        format!(
            "🧧 {title}已被抢完：{} 人抢到 {paid} 积分",
            packet.grabbed.len()
        )
    } else {
        format!(
            "🧧 {title}已过期：{} 人抢到 {paid} 积分，剩余 {rest} 积分已退回",
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
            member: packet.payer(group),
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
                        "🧧 {}：剩 {} 份 {} 积分{}，{} 过期",
                        p.title(),
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
    let paid_by = ctx.config.red_packets.paid_by;
    check_size(points, shares, ctx)?;
    if let Some(why) = short_of_points(&payer(&group, &m.user, paid_by), paid_by, points, ctx) {
        // Not a usage mistake: the answer says what is missing, nothing more.
        return Ok(Decision::default()
            .act(super::reply(m, Message::text(why.clone())))
            .change(group_note(
                "redpacket.refused",
                &group,
                Some(&m.user),
                json!({"reason": why, "points": points}),
            )));
    }
    let id = m.message_id.to_string();
    let opening = Opening {
        id: &id,
        sender: &m.user,
        sender_name: &name,
        points,
        shares,
        word,
        paid_by,
    };
    open(&group, opening, ctx)
}

#[cfg(test)]
mod tests;
