//! qunbot: a daemon that runs community-marketing chat groups over a OneBot v11
//! gateway and logs every event to SQLite.
//!
//! Data flows one way:
//!
//! ```text
//! gateway adapter → typed Event → journal (SQLite) → engine → features → typed Action → outbox → gateway adapter
//! ```
//!
//! Modules, lowest first; none imports one below it in this table:
//!
//! | module | concern |
//! | --- | --- |
//! | [`clock`] | injected time |
//! | [`filter`] | the sensitive-word filter, a pure library |
//! | [`stats`] | A/B statistics on rates (Wilson, Beta posteriors, Fisher), a pure library |
//! | [`domain`] | the vocabulary: ids, member and group keys, messages, events, actions, commands, durations |
//! | [`metrics`] | `/metrics`: counters kept as things happen, readings taken at each scrape |
//! | [`config`] | `bot-config.toml`: parse, validate, `${VAR}`, live reload |
//! | [`report`] | the shop owner's reports: what each log row adds to the daily roll-up, and the report as table, CSV, JSON and an offline HTML page |
//! | [`engine`] | runs the features over committed events and due timers, commits their decisions, isolates failures; its model, the feature seam and the storage port |
//! | [`gateway`] | the only module that knows OneBot's wire formats: the webhook, the reverse WebSocket, the API client, intake's addressing of copies in groups several accounts share |
//! | [`features`] | what the bot decides: plain code over (event, state, config, time) behind [`engine::Feature`] |
//! | [`store`] | the only module that speaks SQL: implements the engine's storage port; event log, members, outbox, group commit |
//! | [`effects`] | carries out the features' side effects (file edits, reloads, image checks) after the commit |
//! | [`media`] | reads QR codes in members' images, off the engine |
//! | [`roster_scan`] | finds silent members for reactivation, off the engine |
//! | [`reporting`] | `qunbot report`: opens the database, brings the roll-up up to date, renders |
//! | [`rollup_task`] | keeps the report roll-up current beside the engine and answers `/stats` |
//! | [`scan`] | `qunbot scan`: the filter over stdin lines |
//! | [`account_sync`] | asks each gateway which account it is and which groups it is in |
//! | [`outbox`] | delivers queued actions: pacing, retry, outcome |
//! | [`startup`] | wires the daemon together and shuts it down in order |
//! | [`simulator`] | a OneBot v11 gateway on loopback, for the demo and the tests |
//! | [`demo`] | `qunbot demo`: a scripted stretch of group life, as a transcript |
//! | `fuzz` (tests only) | fuzz targets for every parser that reads outsiders' or operators' text |

pub mod account_sync;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod effects;
pub mod engine;
pub mod features;
pub mod filter;
#[cfg(test)]
mod fuzz;
pub mod gateway;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod report;
pub mod reporting;
pub mod rollup_task;
pub mod roster_scan;
pub mod scan;
pub mod simulator;
pub mod startup;
pub mod stats;
pub mod store;
