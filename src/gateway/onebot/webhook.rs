//! The HTTP server the gateway pushes events to (`POST /onebot`), plus `GET /healthz`
//! (200 while events can be written, 503 with the reason when not).
//!
//! Order of checks: size (413), a body that does not arrive within
//! `gateway.body_timeout` (408), signature over the raw bytes (401 missing, 403
//! wrong), JSON (400 with the reason), then the journal. 204 means the event is
//! committed to SQLite, so a gateway that got 204 may forget it. While the store
//! cannot write (disk full, I/O error), the answer is 503 with `Retry-After`:
//! the gateway keeps the event and sends it again; nothing is answered 2xx that
//! is not stored.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use super::{signature, wire};
use crate::config::Config;
use crate::engine::journal::{Journal, JournalError};

/// Largest event body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long `/healthz` waits for the event log to take a write.
const HEALTH_PATIENCE: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct WebhookState {
    pub journal: Journal,
    pub config: watch::Receiver<Arc<Config>>,
    /// Which accounts share which groups: copies are addressed to one voice.
    pub voices: crate::gateway::voices::Voices,
}

pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/onebot", post(receive))
        .route("/healthz", get(health))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// 200 only when the event log can take a write now, so a probe sees what the
/// gateway would: a daemon that cannot store events is not healthy, however
/// well it answers HTTP.
async fn health(State(state): State<WebhookState>) -> Response {
    match tokio::time::timeout(HEALTH_PATIENCE, state.journal.probe()).await {
        Ok(Ok(())) => "ok".into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {e}")).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "unhealthy: no event could be written within {HEALTH_PATIENCE:?} \
                 (the database is locked, or intake is behind)"
            ),
        )
            .into_response(),
    }
}

async fn receive(State(state): State<WebhookState>, request: Request) -> Response {
    let (secret, body_timeout) = {
        let config = state.config.borrow();
        (config.gateway.secret.clone(), config.gateway.body_timeout)
    };
    // The two headers read after the body: cheap handles, not a copy of the map.
    let signature_header = request.headers().get("x-signature").cloned();
    let self_id_header = request.headers().get("x-self-id").cloned();
    let body = match tokio::time::timeout(body_timeout, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) => return rejection.into_response(),
        Err(_) => {
            tracing::warn!(
                "refused a pushed event: its body did not arrive within {body_timeout:?}"
            );
            let reason = format!("the body did not arrive within {body_timeout:?}");
            return (StatusCode::REQUEST_TIMEOUT, reason).into_response();
        }
    };
    if let Some(secret) = secret {
        let header = signature_header.as_ref().map(|v| v.as_bytes());
        if let Err(e) = signature::verify(secret.expose_secret().as_bytes(), &body, header) {
            tracing::warn!("refused a pushed event: {e}");
            let status = match e {
                signature::SignatureError::Missing => StatusCode::UNAUTHORIZED,
                signature::SignatureError::Mismatch => StatusCode::FORBIDDEN,
            };
            return (status, e.to_string()).into_response();
        }
    }
    let mut event = match wire::parse_event(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!("refused a pushed event: {e}");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    if let Some(self_id) = self_id_header {
        if self_id.as_bytes() != event.account.as_str().as_bytes() {
            let reason = "X-Self-ID does not match the event's self_id";
            tracing::warn!("refused a pushed event: {reason}");
            return (StatusCode::BAD_REQUEST, reason).into_response();
        }
    }
    state.voices.address(&mut event, &state.config.borrow());
    match state.journal.submit(event).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(JournalError::Closed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
        }
        Err(e @ JournalError::Store(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            e.to_string(),
        )
            .into_response(),
    }
}
