//! Calls to the gateway's HTTP API: `POST {api_url}/{action}` with a bearer token.
//!
//! The gateway answers 200 whether the action worked or not; the
//! `{status, retcode, data}` envelope says which. Transport trouble and 5xx are
//! worth retrying; a `failed` envelope or a 4xx is the gateway's final word.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::wire;
use crate::config::GatewayConfig;
use crate::domain::{Action, Id};

/// What the gateway said about an action it received.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Done; `data` is the action's result (null for most).
    Ok(Value),
    /// Queued by the gateway; the outcome is not known.
    Async,
    /// Refused or failed at the platform (e.g. the bot is not a group admin).
    Failed {
        retcode: i64,
        reason: Option<String>,
    },
}

impl Reply {
    /// Whether a refused send reads as risk control (风控) at one of the known
    /// gateways; the reason to log when it does. No gateway has a code of its
    /// own for it, so these are the shapes their sources give a blocked send
    /// (read in each repository; see the README's "Account safety"):
    /// - go-cqhttp (`coolq/api.go`, `coolq/bot.go`): retcode 100, msg
    ///   `SEND_MSG_API_ERROR`, wording `send group message failed: blocked by
    ///   server` (it logs "账号可能被风控" beside it);
    /// - NapCat and LLOneBot: retcode 1200 (WebSocket) or 200 (HTTP) with a
    ///   message of a timed-out `sendMsg` (`Timeout: NTEvent
    ///   serviceAndMethod:NodeIKernelMsgService/sendMsg…`, `invoke timeout,
    ///   nodeIKernelMsgService/sendMsg…`): how they report a restricted account;
    /// - Lagrange.OneBot: retcode 9000 (no sequence from the server) or 9057
    ///   (no answer packet) on a send.
    ///
    /// One such answer proves nothing; the outbox counts them like timeouts.
    pub fn risk_sign(&self) -> Option<String> {
        let Reply::Failed { retcode, reason } = self else {
            return None;
        };
        let reason = reason.as_deref().unwrap_or_default();
        let lower = reason.to_ascii_lowercase();
        let timed_out_send = (lower.contains("timeout") && lower.contains("sendmsg"))
            || lower.contains("blocked by server")
            || reason.contains("风控");
        if timed_out_send || matches!(retcode, 9000 | 9057) {
            let reason: String = reason.chars().take(80).collect();
            Some(format!("retcode {retcode}: {reason}"))
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    #[error("gateway did not answer within the timeout")]
    Timeout,
    #[error("gateway answered HTTP {status}")]
    Status { status: u16 },
    #[error("gateway answered something that is not a OneBot reply: {0}")]
    BadReply(String),
}

impl ApiError {
    /// Whether trying again later may succeed. 401/403 are retried too: a wrong
    /// token is fixed by a config reload, and dropping the action would lose it.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Unreachable(_) | ApiError::Timeout => true,
            ApiError::Status { status } => {
                *status >= 500 || matches!(status, 401 | 403 | 408 | 429)
            }
            ApiError::BadReply(_) => false,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    retcode: i64,
    #[serde(default)]
    data: Value,
    msg: Option<String>,
    wording: Option<String>,
    /// NapCat and LLOneBot put the reason here.
    message: Option<String>,
}

/// A OneBot v11 HTTP API client; cheap to clone, one connection pool.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
}

impl Default for ApiClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiClient {
    pub fn new() -> Self {
        ApiClient {
            http: reqwest::Client::builder()
                .user_agent(concat!("qunbot/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Sends one action on behalf of `account` to the HTTP gateway that serves it.
    pub async fn call(
        &self,
        gateway: &GatewayConfig,
        account: &Id,
        action: &Action,
    ) -> Result<Reply, ApiError> {
        let (base, token) = gateway.endpoint_for(account);
        self.call_at(base, token, gateway.timeout, action).await
    }

    /// Sends one action to the gateway at `base` (for the account sync, which
    /// asks a gateway which account it is before knowing it).
    pub async fn call_at(
        &self,
        base: &reqwest::Url,
        token: Option<&SecretString>,
        timeout: Duration,
        action: &Action,
    ) -> Result<Reply, ApiError> {
        let (name, params) = wire::action_call(action);
        let url = base
            .join(name)
            .map_err(|e| ApiError::Unreachable(format!("bad URL: {e}")))?;
        let mut request = self.http.post(url).json(&params).timeout(timeout);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                ApiError::Timeout
            } else {
                ApiError::Unreachable(without_url(&e))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Status {
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(|e| {
            if e.is_timeout() {
                ApiError::Timeout
            } else {
                ApiError::Unreachable(without_url(&e))
            }
        })?;
        reply(&body)
    }
}

/// Reads a OneBot answer envelope (`{status, retcode, data}`), from an HTTP body
/// or a WebSocket frame.
pub fn reply(body: &[u8]) -> Result<Reply, ApiError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| ApiError::BadReply(e.to_string()))?;
    Ok(envelope.into_reply())
}

impl Envelope {
    fn into_reply(self) -> Reply {
        match (self.status.as_str(), self.retcode) {
            ("ok", 0) => Reply::Ok(self.data),
            ("async", _) | (_, 1) => Reply::Async,
            (_, retcode) => Reply::Failed {
                retcode,
                reason: self.wording.or(self.msg).or(self.message),
            },
        }
    }
}

/// reqwest's messages include the URL, which may carry `?access_token=`; keep it out of logs.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<gateway>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
