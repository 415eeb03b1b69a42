//! The simulator as a reverse-WebSocket bridge: it dials the daemon as NapCat
//! does (`X-Self-ID`, `X-Client-Role: Universal`, `Authorization: Bearer`,
//! `User-Agent: OneBot/11`), sends `lifecycle connect` first, answers the
//! daemon's `{action, params, echo}` calls from the same state as its HTTP API,
//! and pushes events over the socket.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::api::{carry_out, ACTIONS};
use super::{id_text, lock, SimState, Simulator};

pub use tokio_tungstenite::tungstenite::Error as WsError;

/// A raw socket to the daemon, for tests of the handshake.
pub type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket to `url` with the handshake headers given (`None` leaves one out).
pub async fn dial(
    url: &str,
    self_id: Option<&str>,
    token: Option<&str>,
    role: &str,
) -> Result<RawSocket, WsError> {
    let mut request = url.into_client_request()?;
    let headers = request.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    if let Some(self_id) = self_id {
        set("x-self-id", self_id.to_string());
    }
    if let Some(token) = token {
        set("authorization", format!("Bearer {token}"));
    }
    set("x-client-role", role.to_string());
    set("user-agent", "OneBot/11".to_string());
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(socket)
}

/// Reads until the daemon closes the socket: the close code and reason, or
/// `None` when it ended without a close frame.
pub async fn closed_with(socket: &mut RawSocket) -> Option<(u16, String)> {
    while let Some(frame) = socket.next().await {
        match frame {
            Ok(Message::Close(Some(CloseFrame { code, reason }))) => {
                return Some((code.into(), reason.to_string()))
            }
            Ok(Message::Close(None)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
    None
}

/// A live socket of the simulator's: where pushed events go.
pub struct Dialled {
    pub(super) events: mpsc::Sender<String>,
    hang_up: CancellationToken,
    task: JoinHandle<()>,
}

impl Simulator {
    /// Dials the daemon's reverse WebSocket at `url` (`ws://host:port/onebot/ws`)
    /// as the account's bridge; from now on [`Simulator::push`] sends over it.
    /// Returns once the daemon uses the socket (its first call: the account
    /// sync); a socket it closes at once (its old one not yet gone) is dialled
    /// again, as bridges do every few seconds, here every 50 ms, ten times.
    pub async fn dial_daemon(&self, url: &str) -> Result<(), WsError> {
        self.hang_up();
        let self_id = id_text(&self.self_id());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let socket = dial(
                url,
                Some(&self_id),
                self.options.access_token.as_deref(),
                "Universal",
            )
            .await?;
            let (events_tx, events_rx) = mpsc::channel(1024);
            let hang_up = CancellationToken::new();
            let connect = json!({
                "time": chrono::Utc::now().timestamp(), "self_id": self.self_id(),
                "post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect",
            });
            let _ = events_tx.send(connect.to_string()).await;
            let (used_tx, used) = oneshot::channel();
            let task = tokio::spawn(bridge(
                socket,
                events_rx,
                self.state.clone(),
                hang_up.clone(),
                used_tx,
            ));
            let accepted = matches!(
                tokio::time::timeout(Duration::from_secs(10), used).await,
                Ok(Ok(true))
            );
            if accepted {
                *lock(&self.outlet.socket) = Some(Dialled {
                    events: events_tx,
                    hang_up,
                    task,
                });
                return Ok(());
            }
            task.abort();
            if attempts >= 10 {
                return Err(WsError::ConnectionClosed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drops the socket, as a bridge that lost its connection does.
    pub fn hang_up(&self) {
        if let Some(dialled) = lock(&self.outlet.socket).take() {
            dialled.hang_up.cancel();
            dialled.task.abort();
        }
    }

    /// Whether the simulator has a socket to the daemon now.
    pub fn is_dialled(&self) -> bool {
        lock(&self.outlet.socket)
            .as_ref()
            .is_some_and(|d| !d.task.is_finished())
    }
}

/// Serves one socket: events out, calls in (each answered in its own task, so
/// a slow call does not hold up the events).
async fn bridge(
    socket: RawSocket,
    mut events: mpsc::Receiver<String>,
    state: Arc<std::sync::Mutex<SimState>>,
    hang_up: CancellationToken,
    used: oneshot::Sender<bool>,
) {
    let mut used = Some(used);
    let (mut sink, mut stream) = socket.split();
    let (answers_tx, mut answers) = mpsc::channel::<String>(256);
    loop {
        tokio::select! {
            _ = hang_up.cancelled() => break,
            Some(event) = events.recv() => {
                if sink.send(Message::text(event)).await.is_err() {
                    break;
                }
            }
            Some(answer) = answers.recv() => {
                if sink.send(Message::text(answer)).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if let Some(used) = used.take() {
                    let _ = used.send(true);
                }
                let Ok(call) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let state = state.clone();
                let answers = answers_tx.clone();
                tokio::spawn(async move {
                    let action = call["action"].as_str().unwrap_or_default().to_string();
                    let refused = (!ACTIONS.contains(&action.as_str())).then_some(404);
                    let params = call.get("params").cloned().unwrap_or(Value::Null);
                    let (status, mut reply) = carry_out(&state, action, params, None, refused).await;
                    if status != 200 {
                        // The socket's retcodes mirror HTTP's statuses (1404 for 404).
                        reply = json!({"status": "failed", "retcode": 1000 + i64::from(status), "data": null});
                    }
                    reply["echo"] = call.get("echo").cloned().unwrap_or(Value::Null);
                    let _ = answers.send(reply.to_string()).await;
                });
            }
        }
    }
    if let Some(used) = used.take() {
        let _ = used.send(false);
    }
    let _ = sink.close().await;
}
