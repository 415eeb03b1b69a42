//! The HTTP server the gateway pushes events to (`POST /onebot`), plus `GET /healthz`
//! (200 while events can be written, 503 with the reason when not) and `GET
//! /metrics` (Prometheus text; the access token off loopback).
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
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use super::{signature, wire};
use crate::config::Config;
use crate::engine::journal::{Journal, JournalError};
use crate::metrics::{Metrics, Probe};

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
    pub metrics: Metrics,
    /// The readings `/metrics` takes at each scrape.
    pub probe: Probe,
}

pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/onebot", post(receive))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
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

/// `GET /metrics`: Prometheus text. Off loopback it needs the access token
/// (`Authorization: Bearer …` or `?access_token=`), and is refused when none is set.
async fn metrics(
    State(state): State<WebhookState>,
    headers: axum::http::HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query.get("access_token").map(String::as_str));
    if let Err(why) = may_scrape(&state.config.borrow().gateway, given) {
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let snapshot = (state.probe)().await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&snapshot),
    )
        .into_response()
}

/// Whether a scrape with `given` as its token may read `/metrics`: always on
/// loopback; elsewhere only with the access token.
fn may_scrape(
    gateway: &crate::config::GatewayConfig,
    given: Option<&str>,
) -> Result<(), &'static str> {
    if crate::config::is_loopback(&gateway.listen) {
        return Ok(());
    }
    let Some(want) = &gateway.access_token else {
        return Err("/metrics off loopback needs gateway.access_token set");
    };
    match given {
        Some(given)
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_bytes(),
                want.expose_secret().as_bytes(),
            )) =>
        {
            Ok(())
        }
        _ => Err("/metrics needs the access token"),
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
    let account = event.account.clone();
    match state.journal.submit(event).await {
        Ok(recorded) => {
            if matches!(recorded, crate::engine::Recorded::New(_)) {
                state.metrics.received(&account);
            }
            StatusCode::NO_CONTENT.into_response()
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env};

    fn gateway(listen: &str, token: Option<&str>) -> crate::config::GatewayConfig {
        let mut text = format!("[gateway]\nlisten = \"{listen}\"\nsecret = \"s\"\n");
        if let Some(token) = token {
            text.push_str(&format!("access_token = \"{token}\"\n"));
        }
        Config::parse(
            std::path::Path::new("bot-config.toml"),
            &text,
            &Env::default(),
        )
        .unwrap()
        .gateway
    }

    #[test]
    fn metrics_on_loopback_are_open_and_elsewhere_need_the_access_token() {
        assert!(may_scrape(&gateway("127.0.0.1:8080", None), None).is_ok());
        let exposed = gateway("0.0.0.0:8080", Some("tok"));
        assert!(may_scrape(&exposed, Some("tok")).is_ok());
        assert!(may_scrape(&exposed, Some("nope")).is_err());
        assert!(may_scrape(&exposed, None).is_err());
        assert!(may_scrape(&gateway("0.0.0.0:8080", None), Some("x")).is_err());
    }
}
