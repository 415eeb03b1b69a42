//! OneBot v11 over HTTP (POST events in, HTTP API calls out).
//!
//! - [`wire`]: event JSON → typed events, typed actions → API call JSON.
//! - [`cq`]: CQ-code strings ↔ message segments.
//! - [`signature`]: the `X-Signature` HMAC-SHA1 of pushed events.
//! - [`webhook`]: the axum routes that take pushed events.
//! - [`listener`]: accepting connections, with read timeouts and a connection limit.
//! - [`api`]: the client that calls the gateway's API.
//! - [`ws`]: the reverse WebSocket, for bridges that dial qunbot; its
//!   `sockets` keep each account's calls and links.

pub mod api;
pub mod cq;
pub mod listener;
pub mod signature;
pub mod webhook;
pub mod wire;
pub mod ws;
