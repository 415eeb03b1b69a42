//! The merged answer to the grabs of one window: each grab named with its
//! packet, and each repeat grab told once.

use serde::{Deserialize, Serialize};

use crate::domain::{Id, Mention, Message, Segment};

/// Members mentioned in one answer; the rest are counted.
const MENTIONS: usize = 10;

/// One grab (or one repeat grab) waiting to be answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grab {
    pub user: Id,
    pub points: u32,
    /// The packet's title ([`super::Packet::title`]); empty in the answers of
    /// earlier versions, which stored `[user, points]`.
    #[serde(default)]
    pub packet: String,
}

/// Grabs waiting to be answered in one message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    #[serde(default)]
    pub grabs: Vec<Grab>,
    /// Members who grabbed a packet again (points 0): at most once per member
    /// and packet, as the packet's `told` keeps.
    #[serde(default)]
    pub repeats: Vec<Grab>,
}

impl Answers {
    pub fn is_empty(&self) -> bool {
        self.grabs.is_empty() && self.repeats.is_empty()
    }

    /// "🧧 群管的 100 积分红包：@A 抢到 12 积分 @B 抢到 3 积分", a line per
    /// packet, then "@C 你已经抢过群管的 100 积分红包了" for repeat grabs. At
    /// most ten members are mentioned; the rest are counted.
    pub fn message(&self) -> Message {
        let mut segments = Vec::new();
        let mut mentioned = 0;
        let line = |segments: &mut Vec<Segment>, text: String| {
            if !segments.is_empty() {
                segments.push(Segment::Text { text: "\n".into() });
            }
            segments.push(Segment::Text { text });
        };
        let mut titles: Vec<&str> = Vec::new();
        for g in &self.grabs {
            if !titles.contains(&g.packet.as_str()) {
                titles.push(&g.packet);
            }
        }
        for title in titles {
            line(&mut segments, format!("🧧 {}：", shown(title)));
            for g in self.grabs.iter().filter(|g| g.packet == title) {
                if mentioned < MENTIONS {
                    segments.push(mention(&g.user));
                    segments.push(Segment::Text {
                        text: format!(" 抢到 {} 积分 ", g.points),
                    });
                }
                mentioned += 1;
            }
        }
        if self.grabs.len() > MENTIONS {
            segments.push(Segment::Text {
                text: format!("等 {} 人", self.grabs.len()),
            });
        }
        let mut unnamed = 0;
        for r in &self.repeats {
            if mentioned < MENTIONS {
                line(&mut segments, String::new());
                segments.push(mention(&r.user));
                segments.push(Segment::Text {
                    text: format!(" 你已经抢过{}了", shown(&r.packet)),
                });
            } else {
                unnamed += 1;
            }
            mentioned += 1;
        }
        if unnamed > 0 {
            line(&mut segments, format!("另有 {unnamed} 人已经抢过了"));
        }
        Message::from_segments(segments)
    }
}

fn shown(title: &str) -> &str {
    if title.is_empty() {
        "红包"
    } else {
        title
    }
}

fn mention(user: &Id) -> Segment {
    Segment::At {
        target: Mention::User(user.clone()),
    }
}
