//! Wires the daemon together and takes it apart again in order.
//!
//! ```text
//! gateway ──POST──▶ webhook ─▶ journal (group commit) ─▶ engine ─▶ outbox table
//!                                  ▲                     │   │           │
//!                                  │   effects table ◀───┘   │           │
//!                  QR codes found  │        │ after the commit           │
//!                                  └─ media ◀─ effects (file edits,      │
//!                                              reloads, image checks)    │
//! gateway ◀──API── outbox worker (pacing, retry) ◀───────────────────────┘
//! ```
//!
//! Here the parts meet: the engine gets the feature list ([`features::all`]) and
//! the SQLite store (through the engine's storage traits), the effect handlers
//! get their adapters, and every part gets the same clock.
//!
//! Shutdown runs the same way: the webhook stops taking events and finishes the
//! requests in flight, the journal writes what it holds, the engine queues the
//! actions for it, and the outbox worker finishes its current call. Whatever is
//! still pending is sent after the next start.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::account_sync;
use crate::clock::{Clock, SystemClock};
use crate::config::reload::{self, ReloadOutcome, Reloader};
use crate::config::Transport;
use crate::config::{Config, Env};
use crate::domain::{Asker, Event, EventBody, Id};
use crate::effects;
use crate::engine::journal::{Journal, WeakJournal};
use crate::engine::{Engine, Replay};
use crate::features;
use crate::gateway::onebot::api::ApiClient;
use crate::gateway::onebot::listener;
use crate::gateway::onebot::webhook::{self, WebhookState};
use crate::gateway::onebot::ws::{self, Sockets, WsState};
use crate::gateway::voices::Voices;
use crate::gateway::GatewayClient;
use crate::media;
use crate::metrics::{Metrics, Probe, Snapshot};
use crate::outbox::OutboxWorker;
use crate::rollup_task;
use crate::roster_scan;
use crate::store::{EventLog, ReadModel, Store, StoreError};

/// Committed events waiting for the engine; beyond this the journal waits.
const ENGINE_QUEUE: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot write database {path} (a read-only file or folder, or a full disk?): {source}"
    )]
    Unwritable {
        path: std::path::PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running daemon.
pub struct Daemon {
    addr: SocketAddr,
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    reloader: Reloader,
    stop_intake: CancellationToken,
    stop_outbox: CancellationToken,
    stop_reload: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    journal: JoinHandle<()>,
    engine: JoinHandle<()>,
    media: JoinHandle<()>,
    scanner: JoinHandle<()>,
    rollup: JoinHandle<()>,
    sync: JoinHandle<()>,
    outbox: JoinHandle<()>,
    engine_wake: Arc<Notify>,
}

impl Daemon {
    /// Opens the store, replays unhandled events, and starts serving on
    /// `config.gateway.listen` (port 0 picks a free one; see [`Daemon::addr`]).
    /// `env` is what config reloads expand `${VAR}` against.
    pub async fn start(config: Config, env: Env) -> Result<Daemon, StartError> {
        Daemon::start_with_clock(config, env, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(
        config: Config,
        env: Env,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, StartError> {
        let store = Store::open_configured(
            &config.storage.database,
            clock.clone(),
            config.storage.busy_timeout,
        )
        .await?;
        // SQLite opens a read-only file without complaint and fails each write:
        // learn it now rather than answer every event 503.
        store
            .probe_write()
            .await
            .map_err(|source| StartError::Unwritable {
                path: config.storage.database.clone(),
                source,
            })?;
        let addr = config.gateway.listen;
        let socket = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = socket
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        tracing::info!("{}", config.summary());
        // Fixed for the life of the process (a change takes a restart).
        let limits = listener::Limits {
            header_timeout: config.gateway.header_timeout,
            max_connections: config.gateway.max_connections,
        };

        let stop_reload = CancellationToken::new();
        let log_store = store.clone();
        // The journal starts after the reloader; no reload can happen before.
        let reload_journal = Arc::new(std::sync::OnceLock::<WeakJournal>::new());
        let reload_events = reload_journal.clone();
        let reload_clock = clock.clone();
        let (config_rx, reloader) = reload::spawn(
            Arc::new(config),
            env,
            stop_reload.clone(),
            move |outcome, askers| {
                let (kind, detail) = match outcome {
                    ReloadOutcome::Applied { restart_needed, .. } => {
                        ("config.reloaded", json!({"restart_needed": restart_needed}))
                    }
                    ReloadOutcome::Rejected(e) => {
                        ("config.rejected", json!({"problems": e.problems()}))
                    }
                };
                let store = log_store.clone();
                let events = reload_outcome_events(outcome, askers, reload_clock.now().timestamp());
                let journal = reload_events.get().cloned();
                tokio::spawn(async move {
                    if let Err(e) = store.log_system(kind, detail).await {
                        tracing::warn!("cannot log {kind}: {e}");
                    }
                    for event in events {
                        if let Some(Err(e)) = match &journal {
                            Some(j) => Some(j.submit(event).await),
                            None => None,
                        } {
                            tracing::warn!("the reload's outcome was not told: {e}");
                        }
                    }
                });
            },
        );

        let outbox_wake = Arc::new(Notify::new());
        let (image_tx, image_rx) = mpsc::channel(media::QUEUE);
        let (scan_tx, scan_rx) = mpsc::channel(roster_scan::QUEUE);
        let (stats_tx, stats_rx) = mpsc::channel(rollup_task::QUEUE);
        let metrics = Metrics::new();
        let mut engine = Engine::new(
            store.clone(),
            config_rx.clone(),
            clock.clone(),
            outbox_wake.clone(),
            features::all(),
            effects::handlers(
                config_rx.clone(),
                reloader.clone(),
                image_tx,
                scan_tx,
                stats_tx,
            ),
        )
        .await?
        .with_metrics(metrics.clone());
        let replay = engine.replay_unhandled().await?;
        if replay != Replay::default() {
            tracing::info!(
                handled = replay.handled,
                quarantined = replay.quarantined,
                deferred = replay.deferred,
                "events left from before the last stop"
            );
        }
        let (engine_tx, engine_rx) = mpsc::channel(ENGINE_QUEUE);
        let (journal, journal_task) = Journal::spawn(store.clone(), engine_tx);
        let _ = reload_journal.set(journal.downgrade());
        let engine_wake = engine.waker();
        let engine_task = tokio::spawn(engine.run(engine_rx));
        let stop_intake = CancellationToken::new();
        let media_task = media::spawn(
            journal.clone(),
            image_rx,
            clock.clone(),
            stop_intake.clone(),
        );
        let scanner_task = roster_scan::spawn(
            store.clone(),
            journal.clone(),
            scan_rx,
            clock.clone(),
            stop_intake.clone(),
        );

        let rollup_task = rollup_task::spawn(
            store.clone(),
            journal.clone(),
            stats_rx,
            config_rx.clone(),
            clock.clone(),
            stop_intake.clone(),
        );

        let member_records = store
            .feature_records(features::accounts::NAME, "in/")
            .await?;
        let voices = Voices::from_groups(features::accounts::memberships(
            member_records.iter().map(|(k, v)| (k, v)),
        ));
        let (connected_tx, connected_rx) = mpsc::unbounded_channel();
        let sockets = Sockets::new(connected_tx);
        let client = GatewayClient::new(ApiClient::new(), sockets.clone());
        let sync_task = account_sync::spawn(
            client.clone(),
            voices.clone(),
            journal.clone(),
            config_rx.clone(),
            clock.clone(),
            connected_rx,
            stop_intake.clone(),
        );

        let stop_outbox = CancellationToken::new();
        let risk_records = store
            .feature_records(features::accounts::NAME, "risk/")
            .await?;
        let pauses = features::accounts::pauses(risk_records.iter().map(|(k, v)| (k, v)));
        let outbox_task = tokio::spawn(
            OutboxWorker::new(
                store.clone(),
                client.clone(),
                config_rx.clone(),
                clock.clone(),
                outbox_wake,
                stop_outbox.clone(),
            )
            .with_answers(journal.downgrade())
            .with_pauses(pauses)
            .with_metrics(metrics.clone())
            .run(),
        );

        let mut app = webhook::router(WebhookState {
            journal: journal.clone(),
            config: config_rx.clone(),
            voices: voices.clone(),
            metrics: metrics.clone(),
            probe: readings(store.clone(), config_rx.clone(), sockets.clone()),
        });
        if config_rx.borrow().gateway.transport == Transport::WsReverse {
            app = app.merge(ws::router(WsState {
                journal,
                config: config_rx.clone(),
                sockets,
                voices,
                metrics,
                clock: clock.clone(),
                stop: stop_intake.clone(),
            }));
        } else {
            drop((journal, sockets, voices, metrics));
        }
        let server = tokio::spawn(listener::serve(socket, app, limits, stop_intake.clone()));
        tracing::info!("webhook listening on http://{addr}/onebot");

        Ok(Daemon {
            addr,
            store,
            config: config_rx,
            reloader,
            stop_intake,
            stop_outbox,
            stop_reload,
            server,
            journal: journal_task,
            engine: engine_task,
            media: media_task,
            scanner: scanner_task,
            rollup: rollup_task,
            sync: sync_task,
            outbox: outbox_task,
            engine_wake,
        })
    }

    /// Makes the engine fire due timers and plan schedules now rather than at
    /// its next look at the clock (within 30 s): for a clock moved by hand.
    pub fn look_at_the_clock(&self) {
        self.engine_wake.notify_one();
    }

    /// Where the webhook listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The config snapshot in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Asks for a config reload, as SIGHUP does.
    pub fn reload(&self) {
        self.reloader.trigger();
    }

    /// Runs until SIGINT or SIGTERM, then stops in order.
    pub async fn run_until_signalled(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("stopping: no new events; finishing what is in flight");
        self.stop().await;
        Ok(())
    }

    /// Stops every task where it stands, with nothing drained or flushed: what
    /// SQLite committed is all that survives, as after a SIGKILL (SQLite's own
    /// commit is atomic, so a torn write is not among what this can show).
    /// For crash tests.
    pub fn crash(self) {
        for task in [
            &self.journal,
            &self.engine,
            &self.media,
            &self.scanner,
            &self.rollup,
            &self.sync,
            &self.outbox,
        ] {
            task.abort();
        }
        self.server.abort();
        self.stop_reload.cancel();
    }

    /// Stops taking events, writes and handles what was accepted, finishes the
    /// outbox's call in flight, and closes the database.
    pub async fn stop(self) {
        self.stop_intake.cancel();
        if let Ok(Err(e)) = self.server.await {
            tracing::warn!("webhook server: {e}");
        }
        // The server and the image checker (stopped by the same token) dropped
        // their journal handles: the journal drains, then the engine.
        let _ = self.media.await;
        let _ = self.scanner.await;
        let _ = self.rollup.await;
        let _ = self.sync.await;
        let _ = self.journal.await;
        let _ = self.engine.await;
        self.stop_outbox.cancel();
        let _ = self.outbox.await;
        self.stop_reload.cancel();
        self.store.close().await;
        tracing::info!("stopped");
    }
}

/// What `/metrics` reads at each scrape: the engine's lag, the outbox's
/// pending actions and the accounts' states (what the records say, and which
/// sockets are up now). A reading that fails is left out, not an error.
fn readings(store: Store, config: watch::Receiver<Arc<Config>>, sockets: Sockets) -> Probe {
    Arc::new(move || {
        let (store, config, sockets) = (store.clone(), config.borrow().clone(), sockets.clone());
        Box::pin(async move {
            let mut now = Snapshot {
                unhandled: store.unhandled_count().await.unwrap_or_default(),
                ..Snapshot::default()
            };
            if let Ok(pending) = store.pending_per_account().await {
                now.pending = pending.into_iter().map(|c| (c.name, c.n)).collect();
            }
            if let Ok(records) = store.feature_records(features::accounts::NAME, "").await {
                let (accounts, _) =
                    features::accounts::overview(records, &config, chrono::Utc::now());
                for a in accounts {
                    let kind = match a.kind() {
                        "running"
                            if config.gateway.over_socket(&a.account)
                                && !sockets.can_call(&a.account) =>
                        {
                            "disconnected"
                        }
                        kind => kind,
                    };
                    now.accounts.push((a.account.to_string(), kind));
                }
            }
            now
        })
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The events that tell the features of a reload: one per account whose admins
/// asked for it (their answers go out through it), or one for nobody.
fn reload_outcome_events(outcome: &ReloadOutcome, askers: Vec<Asker>, now: i64) -> Vec<Event> {
    let body = |asked: Vec<Asker>| match outcome {
        ReloadOutcome::Applied {
            restart_needed,
            changes,
        } => EventBody::ConfigReloaded {
            applied: true,
            changes: changes.clone(),
            restart_needed: restart_needed.iter().map(|s| s.to_string()).collect(),
            problems: Vec::new(),
            asked,
        },
        ReloadOutcome::Rejected(e) => EventBody::ConfigReloaded {
            applied: false,
            changes: Vec::new(),
            restart_needed: Vec::new(),
            problems: e.problems(),
            asked,
        },
    };
    let mut by_account: Vec<(Id, Vec<Asker>)> = Vec::new();
    for asker in askers {
        match by_account.iter_mut().find(|(a, _)| *a == asker.account) {
            Some((_, asked)) => asked.push(asker),
            None => by_account.push((asker.account.clone(), vec![asker])),
        }
    }
    if by_account.is_empty() {
        by_account.push((Id::number(0), Vec::new()));
    }
    by_account
        .into_iter()
        .map(|(account, asked)| Event::new(account, now, body(asked)))
        .collect()
}
