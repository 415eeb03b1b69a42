//! The only module that knows wire formats. Everything else sees typed
//! [`Event`](crate::domain::Event)s and [`Action`](crate::domain::Action)s.
//!
//! [`onebot`] speaks OneBot v11: a webhook for pushed events and a client for
//! HTTP API calls, and the reverse WebSocket beside them, both feeding the same
//! journal. [`GatewayClient`] sends an account's calls over whichever of the
//! two serves it.

pub mod onebot;
pub mod voices;

use crate::config::GatewayConfig;
use crate::domain::{Action, Id};
use onebot::api::{ApiClient, ApiError, Reply};
use onebot::ws::Sockets;

/// Calls the gateway of an account: over its reverse WebSocket when the config
/// says the account dials in, else over HTTP. Cheap to clone.
#[derive(Clone, Default)]
pub struct GatewayClient {
    http: ApiClient,
    sockets: Sockets,
}

impl GatewayClient {
    pub fn new(http: ApiClient, sockets: Sockets) -> GatewayClient {
        GatewayClient { http, sockets }
    }

    pub fn http(&self) -> &ApiClient {
        &self.http
    }

    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// Sends one action on behalf of `account`. An account that dials in but
    /// has no socket now is unreachable (retried), never sent over HTTP.
    pub async fn call(
        &self,
        gateway: &GatewayConfig,
        account: &Id,
        action: &Action,
    ) -> Result<Reply, ApiError> {
        if gateway.over_socket(account) {
            self.sockets.call(account, action, gateway.timeout).await
        } else {
            self.http.call(gateway, account, action).await
        }
    }
}
