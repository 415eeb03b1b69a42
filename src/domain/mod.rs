//! The vocabulary every other module speaks: ids, messages, events in, actions out.
//!
//! Nothing here knows a wire format or SQL. The gateway turns OneBot JSON into these
//! types and back; the store persists them as their own serde JSON.

mod action;
pub mod command;
pub mod duration;
mod event;
mod id;
mod keys;
mod message;
pub mod reasons;
mod roster;
mod template;

pub use action::{Action, Outbound};
pub use event::{
    Asker, Event, EventBody, GroupMessage, LeaveReason, PrivateMessage, Role, Sender, StatsSummary,
};
pub use id::Id;
pub use keys::{GroupKey, MemberKey};
pub use message::{Mention, Message, Segment};
pub use roster::{ListedGroup, ListedMember, RosterChange, RosterSync, RosterUpdate, SilentEntry};
pub use template::Template;
