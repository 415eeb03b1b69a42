use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Id;

/// A chat message as a list of segments, independent of how the gateway encodes it
/// (CQ-code string or segment array).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Message(pub Vec<Segment>);

/// Who an `at` segment points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mention {
    User(Id),
    All,
}

/// One piece of a message. Segment types qunbot does not interpret are kept as
/// `Other`, so nothing a member sent is lost from the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Segment {
    Text {
        text: String,
    },
    At {
        target: Mention,
    },
    Face {
        id: String,
    },
    Image {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    Reply {
        id: Id,
    },
    Other {
        kind: String,
        data: BTreeMap<String, String>,
    },
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::text(text)
    }
}

impl Message {
    /// A message made of one text segment.
    pub fn text(text: impl Into<String>) -> Self {
        Message(vec![Segment::Text { text: text.into() }])
    }

    /// Builds a message from segments, merging neighbouring text so that two
    /// encodings of the same content compare equal.
    pub fn from_segments(segments: impl IntoIterator<Item = Segment>) -> Self {
        let mut out: Vec<Segment> = Vec::new();
        for segment in segments {
            match (out.last_mut(), segment) {
                (_, Segment::Text { text }) if text.is_empty() => {}
                (Some(Segment::Text { text: prev }), Segment::Text { text }) => {
                    prev.push_str(&text)
                }
                (_, segment) => out.push(segment),
            }
        }
        Message(out)
    }

    /// Puts `at` segments for `users` in front of the message, each followed by a space.
    pub fn mentioning(users: &[Id], rest: Message) -> Self {
        let mut segments = Vec::with_capacity(users.len() * 2 + rest.0.len());
        for user in users {
            segments.push(Segment::At {
                target: Mention::User(user.clone()),
            });
            segments.push(Segment::Text { text: " ".into() });
        }
        segments.extend(rest.0);
        Message::from_segments(segments)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The text segments joined: what a command parser or a word filter reads.
    pub fn plain_text(&self) -> String {
        self.0
            .iter()
            .filter_map(|s| match s {
                Segment::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The users this message @mentions, in order.
    pub fn mentions(&self) -> impl Iterator<Item = &Id> {
        self.0.iter().filter_map(|s| match s {
            Segment::At {
                target: Mention::User(id),
            } => Some(id),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_text_is_merged_and_empty_text_dropped() {
        let m = Message::from_segments([
            Segment::Text { text: "a".into() },
            Segment::Text { text: "".into() },
            Segment::Text { text: "b".into() },
            Segment::Face { id: "1".into() },
        ]);
        assert_eq!(
            m.0,
            vec![
                Segment::Text { text: "ab".into() },
                Segment::Face { id: "1".into() }
            ]
        );
    }

    #[test]
    fn mentions_come_first_and_are_listed() {
        let m = Message::mentioning(&[Id::number(1), Id::text("wxid_b")], Message::text("hi"));
        let ids: Vec<_> = m.mentions().map(|i| i.as_str().to_string()).collect();
        assert_eq!(ids, ["1", "wxid_b"]);
        assert_eq!(m.plain_text(), "  hi");
    }
}
