//! OneBot v11 reverse WebSocket: the bridge dials qunbot and keeps the socket
//! open (NapCat, NoneBot2's and Koishi's default; the way for a bridge behind NAT).
//!
//! - `GET /onebot/ws` (role Universal: events and API calls on one socket), or
//!   `/onebot/ws/api` and `/onebot/ws/event` (the split roles).
//! - The handshake names the account in `X-Self-ID` and carries the access token
//!   as `Authorization: Bearer …` (or `?access_token=`), compared in constant
//!   time. A missing `X-Self-ID`, a wrong or missing token, or a second socket
//!   for an account's role already connected is accepted and closed at once
//!   with code 1008 and the reason, as NoneBot does.
//! - Events go through the same journal as webhook pushes: durable, deduplicated,
//!   logged. The reader keeps up to [`IN_FLIGHT`] events waiting for their commit
//!   at a time, in order; an event the store cannot take now is offered again
//!   until it can (the bridge keeps no queue of its own).
//! - API calls go out as `{action, params, echo}` on the account's socket and are
//!   matched to their answer by `echo`, within `gateway.timeout`. While an
//!   account has no socket its calls fail as unreachable, so its actions wait in
//!   the outbox and go out, paced as usual, once it is back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{FuturesOrdered, StreamExt};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::wire;
use crate::config::Config;
use crate::domain::{Event, EventBody, Id};
use crate::engine::journal::{Journal, JournalError};

mod sockets;

use sockets::answered;
pub use sockets::{Link, Sockets};

pub const UNIVERSAL_PATH: &str = "/onebot/ws";
pub const API_PATH: &str = "/onebot/ws/api";
pub const EVENT_PATH: &str = "/onebot/ws/event";

/// Events read from one socket and waiting for their commit, at most.
pub const IN_FLIGHT: usize = 512;
/// Calls queued for one socket's writer.
const OUTGOING: usize = 256;
/// The policy-violation close code NoneBot answers a bad handshake with.
const POLICY: u16 = 1008;
/// Pause before offering again an event the store could not take.
const STORE_RETRY: Duration = Duration::from_millis(200);
/// How often a socket looks whether its bridge went silent.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Every this many looks the socket is pinged.
const PING_EVERY: u64 = 30;
/// Events held at a socket (read, waiting for room or for the store) before
/// reading pauses; answers are read until then whatever the store does.
pub const HELD: usize = 2048;
/// Largest frame taken: member lists of big groups come as one answer.
const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Why a socket is closed while still open.
const STALE: &str = "silent for three heartbeat intervals";

/// What a socket carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Universal,
    Api,
    Event,
}

impl Role {
    fn carries_calls(self) -> bool {
        matches!(self, Role::Universal | Role::Api)
    }

    fn carries_events(self) -> bool {
        matches!(self, Role::Universal | Role::Event)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Universal => "Universal",
            Role::Api => "API",
            Role::Event => "Event",
        }
    }
}

/// What the handshake handler needs.
#[derive(Clone)]
pub struct WsState {
    pub journal: Journal,
    pub config: watch::Receiver<Arc<Config>>,
    pub sockets: Sockets,
    /// Which accounts share which groups: copies are addressed to one voice.
    pub voices: crate::gateway::voices::Voices,
    pub metrics: crate::metrics::Metrics,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Cancelled when the daemon stops: sockets close (1001) after the events
    /// read are committed.
    pub stop: CancellationToken,
}

/// The three handshake routes, one per role.
pub fn router(state: WsState) -> axum::Router {
    let role = |role: Role| {
        axum::routing::get(
            move |state: State<WsState>,
                  headers: HeaderMap,
                  query: Query<HashMap<String, String>>,
                  upgrade: WebSocketUpgrade| async move {
                handshake(state, headers, query, upgrade, role)
            },
        )
    };
    axum::Router::new()
        .route(UNIVERSAL_PATH, role(Role::Universal))
        .route(API_PATH, role(Role::Api))
        .route(EVENT_PATH, role(Role::Event))
        .with_state(state)
}

/// Why a handshake is refused, if it is.
fn refusal(
    config: &Config,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-self-id").is_none_or(|s| s.trim().is_empty()) {
        return Some("missing X-Self-ID".into());
    }
    let want = config.gateway.access_token.as_ref()?;
    let got = header("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("Token "))
        })
        .or(query.get("access_token").map(String::as_str));
    match got {
        None => Some("missing access token".into()),
        Some(got) if bool::from(got.as_bytes().ct_eq(want.expose_secret().as_bytes())) => None,
        Some(_) => Some("wrong access token".into()),
    }
}

fn handshake(
    State(state): State<WsState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
    role: Role,
) -> Response {
    let refused = refusal(&state.config.borrow(), &headers, &query);
    let account = headers
        .get("x-self-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| Id::from_text(s.trim()));
    upgrade
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            match (refused, account) {
                (None, Some(account)) => serve(socket, account, role, state).await,
                (why, _) => {
                    let why = why.unwrap_or_else(|| "missing X-Self-ID".into());
                    tracing::warn!("refused a WebSocket: {why}");
                    close(socket, POLICY, &why).await;
                }
            }
        })
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_string()),
    };
    let _ = socket.send(Frame::Close(Some(frame))).await;
}

/// Serves one accepted socket until it closes, goes silent, or the daemon stops.
///
/// The socket is always read, so an API answer reaches its caller however
/// busy the store is. Events go to the journal with at most [`IN_FLIGHT`]
/// waiting for their commit; beyond that, or while the store refuses writes,
/// they wait here in order (at most [`HELD`], then reading pauses). An event
/// the store refused is offered again [`STORE_RETRY`] later, before the newer
/// ones.
async fn serve(mut socket: WebSocket, account: Id, role: Role, state: WsState) {
    let id = state.sockets.next_socket_id();
    let (frames_tx, mut frames) = mpsc::channel::<String>(OUTGOING);
    let (line, first) = match state
        .sockets
        .attach(&account, role, id, frames_tx, state.clock.now())
    {
        Ok(attached) => attached,
        Err(why) => {
            tracing::warn!(%account, role = role.as_str(), "refused a WebSocket: {why}");
            close(socket, POLICY, why).await;
            return;
        }
    };
    tracing::info!(%account, role = role.as_str(), "WebSocket connected");
    if role.carries_calls() {
        state.sockets.announce(&account);
    }
    let link_event = |connected: bool, reason: Option<&str>| Event {
        account: account.clone(),
        time: state.clock.now().timestamp(),
        body: EventBody::AccountLink {
            connected,
            reason: reason.map(str::to_string),
        },
        heard_by: None,
    };
    let mut committing = FuturesOrdered::new();
    // Refused by the store, to be offered again first; then read but not yet
    // offered. Both in the order they were read.
    let mut refused: VecDeque<Event> = VecDeque::new();
    let mut held: VecDeque<Event> = VecDeque::new();
    // When the refused events are offered again: a fixed time, so frames going
    // out meanwhile do not keep pushing it back.
    let mut retry_at = tokio::time::Instant::now();
    // One link per account: the split roles' second socket says nothing new.
    if first {
        let connected = link_event(true, None);
        if let Ok(done) = state.journal.enqueue(connected.clone()).await {
            committing.push_back(commit(connected, done));
        }
    }
    let mut look = tokio::time::interval(LOOK_EVERY);
    let mut looks: u64 = 0;
    let mut gone_silent = false;
    loop {
        let waiting = refused.len() + held.len();
        tokio::select! {
            biased;
            _ = state.stop.cancelled() => {
                close_with(&mut socket, 1001, "qunbot is stopping").await;
                break;
            }
            // A bridge that stops answering is gone, open socket or not (a NAT
            // that dropped the mapping): its place is given up so it can dial
            // again. Pings every [`PING_EVERY`] looks keep a quiet bridge heard.
            _ = look.tick() => {
                looks += 1;
                if looks % PING_EVERY == 0 && socket.send(Frame::Ping(Default::default())).await.is_err() {
                    break;
                }
                let now = state.clock.now();
                // Heartbeats come on the events' socket, which judges for both.
                if role.carries_events()
                    && state.sockets.link(&account).is_some_and(|l| l.is_stale(now) || l.is_silent(now))
                {
                    tracing::warn!(%account, "the bridge is {STALE}; closing its socket");
                    gone_silent = true;
                    held.push_back(link_event(false, Some(STALE)));
                    close_with(&mut socket, 1001, STALE).await;
                    break;
                }
            }
            Some((event, result)) = committing.next(), if !committing.is_empty() => {
                match result {
                    Ok(crate::engine::Recorded::New(_)) => state.metrics.received(&event.account),
                    Err(JournalError::Store(e)) => {
                        tracing::warn!(%account, "an event from the WebSocket waits: {e}");
                        if refused.is_empty() {
                            retry_at = tokio::time::Instant::now() + STORE_RETRY;
                        }
                        refused.push_back(event);
                        state.metrics.socket_waiting(&account, refused.len() + held.len());
                    }
                    _ => {}
                }
            }
            // Offers what waits, the refused first, once the store may take it.
            _ = tokio::time::sleep_until(retry_at),
                if waiting > 0 && committing.len() < IN_FLIGHT
                    && (refused.is_empty() || committing.is_empty()) => {
                while committing.len() < IN_FLIGHT {
                    let Some(event) = refused.pop_front().or_else(|| held.pop_front()) else {
                        break;
                    };
                    match state.journal.enqueue(event.clone()).await {
                        Ok(done) => committing.push_back(commit(event, done)),
                        Err(_) => break,
                    }
                }
                state.metrics.socket_waiting(&account, refused.len() + held.len());
            }
            Some(frame) = frames.recv() => {
                if socket.send(Frame::Text(Utf8Bytes::from(frame))).await.is_err() {
                    break;
                }
            }
            received = socket.recv(), if waiting < HELD => {
                let bytes = match received {
                    Some(Ok(Frame::Text(text))) => text.as_str().as_bytes().to_vec(),
                    Some(Ok(Frame::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {
                        // Pongs (and pings, answered by the library) say it is there.
                        state.sockets.heard(&account, state.clock.now(), None);
                        continue;
                    }
                };
                state.sockets.heard(&account, state.clock.now(), None);
                if let Some(line) = &line {
                    if answered(line, &bytes) {
                        continue;
                    }
                }
                if !role.carries_events() {
                    continue;
                }
                if bytes.len() > super::webhook::MAX_BODY_BYTES {
                    tracing::warn!(%account, size = bytes.len(), "dropped an event over 1 MiB from the WebSocket");
                    continue;
                }
                let mut event = match wire::parse_event(&bytes) {
                    Ok(event) if event.account == account => event,
                    Ok(event) => {
                        tracing::warn!(%account, other = %event.account,
                            "dropped an event from the WebSocket: its self_id is not the X-Self-ID");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(%account, "dropped a frame from the WebSocket: {e}");
                        continue;
                    }
                };
                match &event.body {
                    EventBody::Heartbeat { interval_ms } => state.sockets.heard(
                        &account,
                        state.clock.now(),
                        interval_ms.map(Duration::from_millis),
                    ),
                    EventBody::Lifecycle { phase } if phase == "connect" => {
                        state.sockets.announce(&account)
                    }
                    _ => {}
                }
                state.voices.address(&mut event, &state.config.borrow());
                if waiting == 0 && committing.len() < IN_FLIGHT {
                    match state.journal.enqueue(event.clone()).await {
                        Ok(done) => committing.push_back(commit(event, done)),
                        Err(_) => break,
                    }
                } else {
                    held.push_back(event);
                }
            }
        }
    }
    // Calls waiting for an answer on this socket will get none: they fail as
    // unreachable now rather than time out (a timeout reads as risk control).
    if let Some(line) = &line {
        line.fail_waiting();
    }
    let last = state.sockets.detach(&account, id);
    // Whatever was read is committed before the task ends.
    while let Some((_, result)) = committing.next().await {
        if let Err(e) = result {
            tracing::error!(%account, "an event read from the WebSocket was not stored: {e}");
        }
    }
    if last && !gone_silent {
        held.push_back(link_event(false, Some("the socket closed")));
    }
    for event in refused.into_iter().chain(held) {
        if let Err(e) = state.journal.submit(event).await {
            tracing::error!(%account, "an event read from the WebSocket was not stored: {e}");
        }
    }
    state.metrics.socket_waiting(&account, 0);
    tracing::info!(%account, role = role.as_str(), "WebSocket closed");
}

async fn commit(
    event: Event,
    done: impl std::future::Future<Output = Result<crate::engine::Recorded, JournalError>>,
) -> (Event, Result<crate::engine::Recorded, JournalError>) {
    (event, done.await)
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = socket.send(Frame::Close(Some(frame))).await;
}
