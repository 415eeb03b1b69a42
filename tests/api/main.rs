//! The integration suite: one binary, the simulator and the daemon talking real
//! HTTP on 127.0.0.1, storage in real SQLite files in temporary folders.

mod config_reload;
mod delivery;
mod demo;
mod helpers;
mod ping;
mod startup;
mod webhook;
