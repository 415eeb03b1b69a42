//! qunbot: a daemon that runs community-marketing chat groups over a OneBot v11
//! gateway and logs every event to SQLite.
//!
//! Data flows one way:
//!
//! ```text
//! gateway adapter → typed Event → journal (SQLite) → engine → features → typed Action → outbox → gateway adapter
//! ```
//!
//! | module | concern |
//! | --- | --- |
//! | [`domain`] | the vocabulary: ids, messages, events, actions |
//! | [`config`] | `bot-config.toml`: parse, validate, `${VAR}`, live reload |
//! | [`gateway`] | the only module that knows wire formats (OneBot v11 over HTTP) |
//! | [`store`] | the only module that speaks SQL: event log, members, outbox, group commit |
//! | [`engine`] | runs the features over committed events and due timers, commits their decisions, isolates failures |
//! | [`effects`] | carries out the features' side effects (file edits, reloads, image checks) after the commit |
//! | [`features`] | what the bot decides: plain code over (event, config, clock) |
//! | [`filter`] | the sensitive-word filter, a pure library |
//! | [`media`] | reads QR codes in members' images, off the engine |
//! | [`scan`] | `qunbot scan`: the filter over stdin lines |
//! | [`outbox`] | delivers queued actions: pacing, retry, outcome |
//! | [`startup`] | wires the daemon together and shuts it down in order |
//! | [`simulator`] | a OneBot v11 gateway on loopback, for the demo and the tests |
//! | [`demo`] | `qunbot demo`: a scripted stretch of group life, as a transcript |
//! | [`clock`] | injected time |

pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod effects;
pub mod engine;
pub mod features;
pub mod filter;
pub mod gateway;
pub mod media;
pub mod outbox;
pub mod scan;
pub mod simulator;
pub mod startup;
pub mod store;
