//! Accepting the gateway's connections, with the limits that keep idle or slow
//! clients from starving intake.
//!
//! axum's own `serve` has no read timeouts and no connection limit: a client
//! that opens a connection and sends nothing, or half a request, holds a file
//! descriptor for as long as it likes, and enough of them (the descriptor limit)
//! stop all intake. Here:
//!
//! - a connection that has not sent a whole request head within `header_timeout`,
//!   when it opens or while idle between keep-alive requests, is closed;
//! - a request body must arrive within the body timeout (the webhook answers 408:
//!   see [`super::webhook`]);
//! - at most `max_connections` are served at once. Beyond that new connections
//!   wait in the kernel's backlog until a served one closes (which the timeouts
//!   make sure happens), and a warning is logged (once a minute while it
//!   lasts), so a starved daemon says why.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a stop waits for the requests in flight (each waits at most for
/// the journal's commit, which SQLite's busy timeout bounds).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How often a webhook that stays at its connection limit says so.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Pause after an accept error such as "too many open files", so a full
/// descriptor table is not spun on.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `stop`, then lets the requests in flight
/// finish (within [`SHUTDOWN_GRACE`]) and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Cut off whatever is still open when the grace runs out: each connection
    // holds a handle on the journal, which must close for the stop to go on.
    let hard_stop = CancellationToken::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut warned_at: Option<Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "the webhook serves as many connections as it may; new ones wait \
                         until one closes (idle ones close after {:?})",
                        limits.header_timeout
                    );
                    warned_at = Some(Instant::now());
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break, // never closed
                    },
                    _ = stop.cancelled() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        // With upgrades, so a bridge can open its reverse WebSocket here; the
        // upgraded socket then lives in a task of its own (see `super::ws`).
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        let draining = stop.clone();
        let cut_off = hard_stop.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let mut asked_to_close = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(e) = served {
                            tracing::debug!(%peer, "connection closed: {e}");
                        }
                        break;
                    }
                    // Finish the request in flight, then close.
                    _ = draining.cancelled(), if !asked_to_close => {
                        connection.as_mut().graceful_shutdown();
                        asked_to_close = true;
                    }
                    _ = cut_off.cancelled() => break,
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    // Every connection gives its slot back when it closes: all slots back means
    // nothing is left in flight.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("closed the webhook connections still open after {SHUTDOWN_GRACE:?}");
        hard_stop.cancel();
    }
    Ok(())
}
