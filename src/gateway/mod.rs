//! The only module that knows wire formats. Everything else sees typed
//! [`Event`](crate::domain::Event)s and [`Action`](crate::domain::Action)s.
//!
//! [`onebot`] speaks OneBot v11 over HTTP: a webhook for pushed events and a client
//! for API calls. A second transport (reverse WebSocket) or protocol would sit
//! beside it and feed the same journal and serve the same outbox.

pub mod onebot;
