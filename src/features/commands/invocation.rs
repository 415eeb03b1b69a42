//! A command as a member typed it: the name after the slash (or the
//! full-width one), the words after it, the members it @mentions.

use super::MAX_TARGETS;
use crate::domain::{Id, Message};

/// A command as typed: its name without the slash, the words after it, and the
/// members it @mentions.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    pub name: String,
    pub args: Vec<String>,
    pub targets: Vec<Id>,
}

/// Reads a command from a message; `None` if it does not start with a slash.
pub fn parse(message: &Message) -> Option<Invocation> {
    let text = message.plain_text();
    let rest = text.trim_start();
    let rest = rest.strip_prefix('/').or_else(|| rest.strip_prefix('／'))?;
    let mut words = rest.split_whitespace();
    let name = words.next()?.to_string();
    let mut targets: Vec<Id> = Vec::new();
    for target in message.mentions() {
        if !targets.contains(target) {
            targets.push(target.clone());
        }
        // Enough to know the command has too many; the rest is not read.
        if targets.len() > MAX_TARGETS {
            break;
        }
    }
    Some(Invocation {
        name,
        args: words.map(str::to_string).collect(),
        targets,
    })
}
