//! The integration suite: one binary, the simulator and the daemon talking real
//! HTTP on 127.0.0.1, storage in real SQLite files in temporary folders.

mod accounts;
mod commands;
mod config_reload;
mod crash;
mod delivery;
mod demo;
mod exposure;
mod filter;
mod helpers;
mod notices;
mod onboarding;
mod operator_mistakes;
mod outage;
mod outbox_passes;
mod ping;
mod raid;
mod reactivation;
mod red_packets;
mod report;
mod report_page;
mod rewards;
mod scan;
mod schedules;
mod simulator;
mod startup;
mod status;
mod storage;
mod webhook;
