//! A OneBot v11 gateway on loopback, speaking real HTTP both ways: it serves the
//! HTTP API (checking the bearer token, recording every call, assigning message
//! ids, failing or slowing down on request) and pushes signed events to a webhook.
//! The daemon cannot tell it from a real gateway; the demo and the tests use it.
//!
//! It builds its JSON by hand in [`events`] rather than through the gateway
//! module, so tests exercise the daemon's parser against an independent writer.

mod api;
mod control;
pub mod events;
mod outlet;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Env;
use outlet::{Delivery, Outlet};

/// The account the simulator is logged in as unless told otherwise.
pub const SELF_ID: i64 = 10001000;

#[derive(Clone, Debug, Default)]
pub struct SimulatorOptions {
    /// Bearer token API calls must carry; `None` accepts any.
    pub access_token: Option<String>,
    /// Key for the `X-Signature` of pushed events; `None` pushes unsigned.
    pub secret: Option<String>,
    /// Whether it may listen beyond loopback. Its control routes
    /// (`/_simulator/...`) take no token, so by default a non-loopback address
    /// is refused.
    pub expose: bool,
    /// The account it is logged in as (`get_login_info`, `X-Self-ID`); [`SELF_ID`] if unset.
    pub self_id: Option<Value>,
}

impl SimulatorOptions {
    pub fn new(access_token: &str, secret: &str) -> Self {
        SimulatorOptions {
            access_token: Some(access_token.to_string()),
            secret: Some(secret.to_string()),
            expose: false,
            self_id: None,
        }
    }

    /// The same, logged in as `self_id`.
    pub fn as_account(mut self, self_id: impl Into<Value>) -> Self {
        self.self_id = Some(self_id.into());
        self
    }

    fn account(&self) -> Value {
        self.self_id.clone().unwrap_or(json!(SELF_ID))
    }
}

/// One API call the simulator received, in arrival order.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedCall {
    /// Position in the simulator's timeline (shared with pushed events).
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub params: Value,
    /// The HTTP status the simulator answered.
    pub status: u16,
    /// The `Authorization` header's bearer token, if any.
    pub token: Option<String>,
    /// The message id assigned, for sends that succeeded.
    pub message_id: Option<i64>,
}

/// One event the simulator pushed, with the daemon's answer.
#[derive(Clone, Debug, Serialize)]
pub struct PushedEvent {
    /// Position in the timeline, taken when the push was sent: before anything
    /// the daemon did about it.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub body: Value,
    pub status: u16,
    pub answer: String,
}

#[derive(Default)]
struct SimState {
    seq: u64,
    calls: Vec<RecordedCall>,
    pushed: Vec<PushedEvent>,
    next_message_id: i64,
    /// Answer every API call with this HTTP status (e.g. 503) instead of acting.
    failing: Option<u16>,
    /// How many more calls `failing` answers before the gateway is back; `None`: until told.
    failures_left: Option<usize>,
    /// Answer every other call with this HTTP status: a gateway failing half its calls.
    flaky: Option<u16>,
    /// Calls seen while `flaky`.
    flaky_calls: u64,
    latency: Duration,
    /// Actions answered `failed` with this retcode and message.
    refusals: HashMap<String, (i64, String)>,
    /// Files served under `/_media/`, as a gateway serves members' images.
    media: HashMap<String, Vec<u8>>,
    /// Each group's member list as `get_group_member_list` answers it, by
    /// group id; a kick takes the member off. Groups not seated list as empty.
    rosters: HashMap<String, Vec<Value>>,
    /// The account's id, as `get_login_info` answers it.
    self_id: Value,
    /// The groups the account is in, as `get_group_list` answers them.
    groups: Vec<Value>,
    /// Sends that time out (answered after the caller's limit, not carried
    /// out), as a gateway does for an account under risk control.
    stalls: usize,
    /// How long a stalled send hangs before it is answered.
    stall_for: Duration,
    /// The next `message_id` of an event written from a shorthand push.
    next_event_id: i64,
}

impl SimState {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The status to answer a call with while the gateway is down, counting the
    /// call against a limited outage.
    fn take_failure(&mut self) -> Option<u16> {
        if let Some(status) = self.flaky {
            self.flaky_calls += 1;
            if self.flaky_calls % 2 == 1 {
                return Some(status);
            }
        }
        let status = self.failing?;
        if let Some(left) = &mut self.failures_left {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.failing = None;
                self.failures_left = None;
            }
        }
        Some(status)
    }
}

pub struct Simulator {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    options: SimulatorOptions,
    /// Where pushed events go: the webhook, or the reverse WebSocket.
    outlet: Arc<Outlet>,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

#[derive(Clone)]
struct AppState {
    state: Arc<Mutex<SimState>>,
    access_token: Option<String>,
    outlet: Arc<Outlet>,
}

fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Simulator {
    /// Serves the API on `listen` (port 0 picks a free one).
    pub async fn start(
        listen: SocketAddr,
        options: SimulatorOptions,
    ) -> std::io::Result<Simulator> {
        if !options.expose && !crate::config::is_loopback(&listen) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{listen} is not a loopback address: the simulator's control routes take no \
                     token; pass --expose to listen there anyway"
                ),
            ));
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SimState {
            next_message_id: 1000,
            next_event_id: control::first_event_id(Utc::now()),
            self_id: options.account(),
            ..SimState::default()
        }));
        let outlet = Arc::new(Outlet::new(state.clone(), options.secret.clone()));
        let app = control::routes()
            .route("/_media/{name}", get(media))
            .route("/{action}", post(api::api_call))
            .with_state(AppState {
                state: state.clone(),
                access_token: options.access_token.clone(),
                outlet: outlet.clone(),
            });
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(Simulator {
            addr,
            state,
            options,
            outlet,
            stop,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as `gateway.api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The environment a daemon needs to use this simulator as its gateway: its
    /// API URL and credentials, a free loopback port, and `database`.
    pub fn daemon_env(&self, database: &std::path::Path) -> Env {
        let mut env = Env::default()
            .with("QUNBOT_GATEWAY_API_URL", self.api_url())
            .with("QUNBOT_LISTEN", "127.0.0.1:0")
            .with("QUNBOT_DATABASE", database.display().to_string());
        if let Some(token) = &self.options.access_token {
            env = env.with("QUNBOT_ACCESS_TOKEN", token.clone());
        }
        if let Some(secret) = &self.options.secret {
            env = env.with("QUNBOT_SECRET", secret.clone());
        }
        env
    }

    /// Where pushed events go (`http://host:port/onebot`).
    pub fn set_webhook(&self, url: impl Into<String>) {
        *lock(&self.outlet.webhook) = Some(url.into());
    }

    /// Every API call received so far.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.state).calls.clone()
    }

    /// The calls of one action that the simulator carried out (HTTP 200, not refused).
    pub fn performed(&self, action: &str) -> Vec<RecordedCall> {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.action == action && c.status == 200)
            .cloned()
            .collect()
    }

    /// Every event pushed so far, with the daemon's answers.
    pub fn pushed(&self) -> Vec<PushedEvent> {
        lock(&self.state).pushed.clone()
    }

    /// The timeline position of the latest call or push (begun): whatever comes
    /// next gets a higher one.
    pub fn position(&self) -> u64 {
        lock(&self.state).seq
    }

    /// Waits (polling, at most `timeout`) until `n` calls of `action` were carried out.
    pub async fn wait_for(&self, action: &str, n: usize, timeout: Duration) -> Vec<RecordedCall> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let calls = self.performed(action);
            if calls.len() >= n || tokio::time::Instant::now() >= deadline {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// While `Some(status)`, every API call is answered with that HTTP status and not carried out.
    pub fn fail_with(&self, status: Option<u16>) {
        let mut state = lock(&self.state);
        state.failing = status;
        state.failures_left = None;
    }

    /// Answers the next `calls` API calls with HTTP `status`, then serves again: an
    /// outage that lasts a known number of tries rather than a stretch of time, so
    /// what a retrying client sees does not depend on how fast it runs.
    pub fn fail_next(&self, calls: usize, status: u16) {
        let mut state = lock(&self.state);
        state.failing = (calls > 0).then_some(status);
        state.failures_left = Some(calls);
    }

    /// While `Some(status)`, every other API call is answered with that HTTP
    /// status and not carried out (the first one first).
    pub fn fail_half(&self, status: Option<u16>) {
        let mut state = lock(&self.state);
        state.flaky = status;
        state.flaky_calls = 0;
    }

    /// Makes every API call take `latency` before it is answered (and carried out).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// Answers `action` with `status: failed` (as a gateway does when the bot lacks rights).
    pub fn refuse(&self, action: &str, retcode: i64, message: &str) {
        lock(&self.state)
            .refusals
            .insert(action.to_string(), (retcode, message.to_string()));
    }

    /// Seats a member in a group's member list (replacing an entry of the same
    /// user): `role` is `owner`, `admin` or `member`; times are unix seconds.
    pub fn seat(&self, group: i64, user: i64, nickname: &str, role: &str, join_time: i64) {
        let entry = member_entry(
            &json!(group),
            &json!({"user_id": user, "nickname": nickname, "role": role, "join_time": join_time}),
        );
        let mut state = lock(&self.state);
        let list = state.rosters.entry(group.to_string()).or_default();
        list.retain(|m| m["user_id"] != entry["user_id"]);
        list.push(entry);
    }

    /// Takes a member off a group's member list (they left).
    pub fn unseat(&self, group: i64, user: i64) {
        if let Some(list) = lock(&self.state).rosters.get_mut(&group.to_string()) {
            list.retain(|m| m["user_id"].as_i64() != Some(user));
        }
    }

    /// The user ids of a group's member list now.
    pub fn seated(&self, group: i64) -> Vec<i64> {
        lock(&self.state)
            .rosters
            .get(&group.to_string())
            .map_or_else(Vec::new, |l| {
                l.iter().filter_map(|m| m["user_id"].as_i64()).collect()
            })
    }

    /// Puts the account in a group, as `get_group_list` will list it.
    pub fn join_group(&self, group: impl Into<Value>, name: &str) {
        let group = group.into();
        let mut state = lock(&self.state);
        state.groups.retain(|g| g["group_id"] != group);
        state.groups.push(json!({
            "group_id": group, "group_name": name, "member_count": 0, "max_member_count": 500,
        }));
    }

    /// Takes the account out of a group's listing (it left, or was never there).
    pub fn leave_group(&self, group: impl Into<Value>) {
        let group = group.into();
        lock(&self.state).groups.retain(|g| g["group_id"] != group);
    }

    /// The account this simulator is logged in as.
    pub fn self_id(&self) -> Value {
        lock(&self.state).self_id.clone()
    }

    /// Makes the next `n` message sends hang for `hang` (past the caller's time
    /// limit) and not go out, then answer as NapCat's `send_msg` does for an
    /// account under risk control.
    pub fn stall_sends(&self, n: usize, hang: Duration) {
        let mut state = lock(&self.state);
        state.stalls = n;
        state.stall_for = hang;
    }

    /// Serves a picture of a QR code holding `text`, as a member would post one;
    /// returns its URL for an image segment.
    pub fn host_qr_code(&self, name: &str, text: &str) -> String {
        self.host_image(name, qr_code_png(text))
    }

    /// Serves `bytes` as a member's image; returns its URL for an image segment.
    pub fn host_image(&self, name: &str, bytes: Vec<u8>) -> String {
        lock(&self.state).media.insert(name.to_string(), bytes);
        format!("http://{}/_media/{name}", self.addr)
    }

    /// Pushes an event, signed when a secret is set; returns the daemon's HTTP status.
    /// While a reverse WebSocket is dialled, the event goes over it instead
    /// (answered by nothing: the status is 0).
    pub async fn push(&self, event: &Value) -> Result<u16, reqwest::Error> {
        Ok(status_of(self.outlet.push(event).await?))
    }

    /// Pushes arbitrary bytes with an arbitrary signature header (for forgeries and junk).
    pub async fn push_raw(
        &self,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> Result<u16, reqwest::Error> {
        Ok(status_of(self.outlet.push_raw(body, signature).await?))
    }

    pub async fn stop(self) {
        self.hang_up();
        self.stop.cancel();
        let _ = self.server.await;
    }
}

/// The daemon's HTTP status for a push; 0 over the socket, where nothing answers.
fn status_of(delivery: Delivery) -> u16 {
    match delivery {
        Delivery::Webhook { status, .. } => status,
        Delivery::Socket => 0,
    }
}

/// A `get_group_member_list` entry of `group`: the fields `given` (at least
/// `user_id`) over a gateway's defaults.
fn member_entry(group: &Value, given: &Value) -> Value {
    let mut entry = json!({
        "group_id": group, "user_id": null, "nickname": "", "card": "",
        "sex": "unknown", "age": 0, "area": "", "join_time": 0,
        "last_sent_time": 0, "level": "1", "role": "member", "unfriendly": false,
        "title": "", "title_expire_time": 0, "card_changeable": false,
    });
    if let (Some(entry), Some(given)) = (entry.as_object_mut(), given.as_object()) {
        for (key, value) in given {
            entry.insert(key.clone(), value.clone());
        }
        entry.insert("group_id".to_string(), group.clone());
    }
    entry
}

/// An id as text, whether the caller sent it as a number or a string.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A PNG picture of a QR code holding `text`.
pub fn qr_code_png(text: &str) -> Vec<u8> {
    let mut png = Vec::new();
    if let Ok(code) = qrcode::QrCode::new(text.as_bytes()) {
        // Writing a PNG into memory only fails on an encoder bug; the picture is then empty.
        let _ = code
            .render::<image::Luma<u8>>()
            .build()
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    }
    png
}

async fn media(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    match lock(&app.state).media.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
