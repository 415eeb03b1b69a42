//! Slash-commands typed in a managed group: `/name args`.
//!
//! So far `/ping` (anyone; answered `pong`), which proves the whole path from
//! webhook to outbox.

use super::Context;
use crate::domain::{Action, Event, EventBody, GroupMessage, Message, Segment};

/// A command as typed: its name without the slash, and the words after it.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub name: &'a str,
    pub args: Vec<&'a str>,
}

/// Reads a command from the start of a message's text; `None` if it is not one.
pub fn parse(text: &str) -> Option<Command<'_>> {
    let rest = text.trim_start().strip_prefix('/')?;
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    Some(Command {
        name,
        args: words.collect(),
    })
}

pub fn react(event: &Event, ctx: &Context) -> Vec<Action> {
    let EventBody::GroupMessage(message) = &event.body else {
        return Vec::new();
    };
    if !ctx.config.is_managed(&message.group) {
        return Vec::new();
    }
    let text = message.message.plain_text();
    let Some(command) = parse(&text) else {
        return Vec::new();
    };
    match command.name {
        "ping" => vec![reply(message, Message::text("pong"))],
        _ => Vec::new(),
    }
}

/// A group message quoting the one it answers.
fn reply(to: &GroupMessage, body: Message) -> Action {
    let mut segments = vec![Segment::Reply {
        id: to.message_id.clone(),
    }];
    segments.extend(body.0);
    Action::SendGroupMsg {
        group: to.group.clone(),
        message: Message::from_segments(segments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env};
    use crate::domain::{Id, Sender};

    fn config() -> Config {
        let text = "[gateway]\n[[groups]]\nid = 100\n[[groups]]\nid = \"g@chatroom\"\n";
        Config::parse(std::path::Path::new("c.toml"), text, &Env::default()).unwrap()
    }

    fn message_in(group: Id, text: &str) -> Event {
        Event {
            account: Id::number(1),
            time: 0,
            body: EventBody::GroupMessage(GroupMessage {
                message_id: Id::number(7),
                group,
                user: Id::number(5),
                sender: Sender::default(),
                message: Message::text(text),
                anonymous: false,
            }),
        }
    }

    fn react_to(event: &Event) -> Vec<Action> {
        let config = config();
        react(
            event,
            &Context {
                config: &config,
                now: chrono::DateTime::UNIX_EPOCH,
            },
        )
    }

    #[test]
    fn commands_are_a_slash_a_name_and_words() {
        assert_eq!(
            parse("  /mute @x 10m"),
            Some(Command {
                name: "mute",
                args: vec!["@x", "10m"]
            })
        );
        assert_eq!(parse("/"), None);
        assert_eq!(parse("hello /ping"), None);
    }

    #[test]
    fn ping_in_a_managed_group_is_answered_pong_quoting_it() {
        for group in [Id::number(100), Id::text("g@chatroom")] {
            let actions = react_to(&message_in(group.clone(), " /ping "));
            let [Action::SendGroupMsg { group: to, message }] = actions.as_slice() else {
                panic!("{actions:?}")
            };
            assert_eq!(to, &group);
            assert_eq!(message.plain_text(), "pong");
            assert_eq!(message.0[0], Segment::Reply { id: Id::number(7) });
        }
    }

    #[test]
    fn ping_elsewhere_or_in_passing_is_ignored() {
        assert!(react_to(&message_in(Id::number(999), "/ping")).is_empty());
        assert!(react_to(&message_in(Id::number(100), "ping")).is_empty());
        assert!(react_to(&message_in(Id::number(100), "/pingx")).is_empty());
    }
}
