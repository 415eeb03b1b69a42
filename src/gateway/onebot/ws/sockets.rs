//! Every account's sockets: where each account's calls go, matched to their
//! answers by `echo`, and which accounts are connected (for the account sync,
//! `qunbot status` and `/metrics`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::super::api::{self, ApiError, Reply};
use super::super::wire;
use super::Role;
use crate::domain::{Action, Id};

/// Silent this long without heartbeats (three pings unanswered) is gone too.
const SILENCE: Duration = Duration::from_secs(3 * 30 + 5);

/// A connected account, as the status and the metrics show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub account: Id,
    pub connected_at: DateTime<Utc>,
    /// When the account's socket last delivered anything.
    pub last_heard: DateTime<Utc>,
    /// The heartbeat interval the bridge announced, if it sends heartbeats.
    pub heartbeat: Option<Duration>,
}

impl Link {
    /// Heard nothing, not even a pong to the pings, for [`SILENCE`].
    pub fn is_silent(&self, now: DateTime<Utc>) -> bool {
        (now - self.last_heard).to_std().unwrap_or_default() > SILENCE
    }

    /// Silent for three heartbeat intervals: the socket is open but the bridge
    /// is gone (a NAT that dropped the mapping, a frozen process).
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.heartbeat.is_some_and(|beat| {
            let silent = (now - self.last_heard).to_std().unwrap_or_default();
            silent > beat * 3
        })
    }
}

/// Where an account's calls go: its socket's writer, and the callers waiting
/// for answers by echo.
#[derive(Clone)]
pub(super) struct CallLine {
    socket: u64,
    frames: mpsc::Sender<String>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>,
}

#[derive(Default)]
struct AccountSockets {
    calls: Option<CallLine>,
    events: Option<u64>,
    link: Option<Link>,
}

/// Every account's sockets: cheap to clone, shared by the handshake handler,
/// the outbox (calls) and the account sync.
#[derive(Clone, Default)]
pub struct Sockets {
    accounts: Arc<Mutex<HashMap<Id, AccountSockets>>>,
    next_id: Arc<AtomicU64>,
    /// Told the account each time a socket connects (or says `lifecycle connect`),
    /// so its groups are synced.
    connected: Option<mpsc::UnboundedSender<Id>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CallLine {
    /// The calls waiting for an answer get none: they fail as unreachable
    /// now rather than time out (a timeout reads as risk control).
    pub(super) fn fail_waiting(&self) {
        lock(&self.waiting).clear();
    }
}

impl Sockets {
    /// A number for a new socket of any account.
    pub(super) fn next_socket_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sockets that tell `connected` about every connect.
    pub fn new(connected: mpsc::UnboundedSender<Id>) -> Sockets {
        Sockets {
            connected: Some(connected),
            ..Sockets::default()
        }
    }

    /// Whether `account` has a socket its calls can go out on.
    pub fn can_call(&self, account: &Id) -> bool {
        lock(&self.accounts)
            .get(account)
            .is_some_and(|a| a.calls.is_some())
    }

    /// The connected accounts.
    pub fn links(&self) -> Vec<Link> {
        let mut links: Vec<Link> = lock(&self.accounts)
            .values()
            .filter_map(|a| a.link.clone())
            .collect();
        links.sort_by(|a, b| a.account.cmp(&b.account));
        links
    }

    /// Sends `action` on `account`'s socket and waits `timeout` for its answer.
    pub async fn call(
        &self,
        account: &Id,
        action: &Action,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let line = lock(&self.accounts)
            .get(account)
            .and_then(|a| a.calls.clone())
            .ok_or_else(|| {
                ApiError::Unreachable(format!("account {account} has no WebSocket connected"))
            })?;
        let echo = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (name, params) = wire::action_call(action);
        let frame = json!({"action": name, "params": params, "echo": echo}).to_string();
        let (tx, rx) = oneshot::channel();
        lock(&line.waiting).insert(echo.clone(), tx);
        let forget = || lock(&line.waiting).remove(&echo);
        if line.frames.send(frame).await.is_err() {
            forget();
            return Err(ApiError::Unreachable("the WebSocket closed".into()));
        }
        let body = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => {
                return Err(ApiError::Unreachable(
                    "the WebSocket closed before the answer".into(),
                ))
            }
            Err(_) => {
                forget();
                return Err(ApiError::Timeout);
            }
        };
        match api::reply(&body)? {
            // The socket's retcodes for what HTTP says with a status.
            Reply::Failed {
                retcode: code @ (1400 | 1401 | 1403 | 1404),
                ..
            } => Err(ApiError::Status {
                status: (code - 1000) as u16,
            }),
            reply => Ok(reply),
        }
    }

    /// The account's link, while it has a socket.
    pub fn link(&self, account: &Id) -> Option<Link> {
        lock(&self.accounts)
            .get(account)
            .and_then(|a| a.link.clone())
    }

    /// Takes the roles' places for a new socket, or says which is taken; with
    /// whether it is the account's first socket (its link comes up).
    pub(super) fn attach(
        &self,
        account: &Id,
        role: Role,
        socket: u64,
        frames: mpsc::Sender<String>,
        now: DateTime<Utc>,
    ) -> Result<(Option<CallLine>, bool), &'static str> {
        let mut accounts = lock(&self.accounts);
        let entry = accounts.entry(account.clone()).or_default();
        if (role.carries_calls() && entry.calls.is_some())
            || (role.carries_events() && entry.events.is_some())
        {
            return Err("this X-Self-ID is already connected in that role");
        }
        let mut line = None;
        if role.carries_calls() {
            let new = CallLine {
                socket,
                frames,
                waiting: Arc::default(),
            };
            entry.calls = Some(new.clone());
            line = Some(new);
        }
        if role.carries_events() {
            entry.events = Some(socket);
        }
        let first = entry.link.is_none();
        let link = entry.link.get_or_insert(Link {
            account: account.clone(),
            connected_at: now,
            last_heard: now,
            heartbeat: None,
        });
        link.last_heard = now;
        Ok((line, first))
    }

    /// Gives up the socket's places; true when it was the account's last socket.
    pub(super) fn detach(&self, account: &Id, socket: u64) -> bool {
        let mut accounts = lock(&self.accounts);
        let Some(entry) = accounts.get_mut(account) else {
            return false;
        };
        if entry.calls.as_ref().is_some_and(|c| c.socket == socket) {
            entry.calls = None;
        }
        if entry.events == Some(socket) {
            entry.events = None;
        }
        if entry.calls.is_none() && entry.events.is_none() {
            accounts.remove(account);
            return true;
        }
        false
    }

    pub(super) fn heard(&self, account: &Id, now: DateTime<Utc>, heartbeat: Option<Duration>) {
        if let Some(link) = lock(&self.accounts)
            .get_mut(account)
            .and_then(|a| a.link.as_mut())
        {
            link.last_heard = now;
            if heartbeat.is_some() {
                link.heartbeat = heartbeat;
            }
        }
    }

    pub(super) fn announce(&self, account: &Id) {
        if let Some(tx) = &self.connected {
            let _ = tx.send(account.clone());
        }
    }
}

/// Hands an API answer to its caller; false when the frame is not an answer.
pub(super) fn answered(line: &CallLine, bytes: &[u8]) -> bool {
    let Ok(Value::Object(frame)) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    if frame.contains_key("post_type") || !frame.contains_key("retcode") {
        return false;
    }
    let echo = match frame.get("echo") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return true, // an answer to nobody: ignored
    };
    if let Some(caller) = lock(&line.waiting).remove(&echo) {
        let _ = caller.send(bytes.to_vec());
    }
    true
}
