//! Where the simulator's events go: signed to the daemon's webhook, or over the
//! reverse WebSocket while one is dialled. Shared by [`Simulator::push`] and the
//! `POST /_simulator/push` route.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::{lock, ws, PushedEvent, SimState};
use crate::gateway::onebot::signature;

pub(super) struct Outlet {
    state: Arc<Mutex<SimState>>,
    /// Key for the `X-Signature` of pushed events; `None` pushes unsigned.
    secret: Option<String>,
    http: reqwest::Client,
    pub(super) webhook: Mutex<Option<String>>,
    /// The reverse WebSocket to the daemon, when dialled.
    pub(super) socket: Mutex<Option<ws::Dialled>>,
}

/// How a pushed event travelled, and what the daemon answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Posted to the webhook: the daemon's HTTP status and body.
    Webhook { status: u16, answer: String },
    /// Sent over the reverse WebSocket, where nothing answers an event.
    Socket,
}

impl Outlet {
    pub(super) fn new(state: Arc<Mutex<SimState>>, secret: Option<String>) -> Outlet {
        Outlet {
            state,
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            webhook: Mutex::new(None),
            socket: Mutex::new(None),
        }
    }

    /// Whether an event has anywhere to go: a webhook set or a socket dialled.
    pub(super) fn has_destination(&self) -> bool {
        lock(&self.socket).is_some() || lock(&self.webhook).is_some()
    }

    /// Pushes an event: over the socket when one is dialled, else to the
    /// webhook, signed when a secret is set.
    pub(super) async fn push(&self, event: &Value) -> Result<Delivery, reqwest::Error> {
        if self.push_over_socket(event).await {
            return Ok(Delivery::Socket);
        }
        let body = serde_json::to_vec(event).unwrap_or_default();
        let signature = self
            .secret
            .as_ref()
            .map(|s| signature::sign(s.as_bytes(), &body));
        self.push_raw(body, signature).await
    }

    /// Posts arbitrary bytes with an arbitrary signature header to the webhook.
    pub(super) async fn push_raw(
        &self,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> Result<Delivery, reqwest::Error> {
        let url = lock(&self.webhook).clone().unwrap_or_default();
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        // The push takes its place in the timeline when it is sent, not when the
        // answer is read: the daemon may act on it (and call the API) before that.
        let seq = lock(&self.state).next_seq();
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(self_id) = parsed.get("self_id") {
            request = request.header("x-self-id", super::id_text(self_id));
        }
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let answer = response.text().await.unwrap_or_default();
        lock(&self.state).pushed.push(PushedEvent {
            seq,
            at: Utc::now(),
            body: parsed,
            status,
            answer: answer.clone(),
        });
        Ok(Delivery::Webhook { status, answer })
    }

    /// Sends `event` over the socket if one is dialled; false otherwise.
    async fn push_over_socket(&self, event: &Value) -> bool {
        let Some(events) = lock(&self.socket).as_ref().map(|d| d.events.clone()) else {
            return false;
        };
        let seq = lock(&self.state).next_seq();
        if events.send(event.to_string()).await.is_err() {
            return false;
        }
        lock(&self.state).pushed.push(PushedEvent {
            seq,
            at: Utc::now(),
            body: event.clone(),
            status: 0,
            answer: String::new(),
        });
        true
    }
}
