//! Turns committed events into queued actions: runs every feature over each event
//! and stores the resulting actions together with the "handled" mark, so an event
//! is acted on exactly once even across a crash.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Event, Outbound};
use crate::features::{self, Context};
use crate::store::journal::Committed;
use crate::store::{Store, StoreError};

/// Most events handled in one transaction.
const MAX_BATCH: usize = 512;

pub struct Engine {
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    /// Woken whenever actions were queued.
    outbox: Arc<Notify>,
}

impl Engine {
    pub fn new(
        store: Store,
        config: watch::Receiver<Arc<Config>>,
        clock: Arc<dyn Clock>,
        outbox: Arc<Notify>,
    ) -> Self {
        Engine {
            store,
            config,
            clock,
            outbox,
        }
    }

    /// Handles events that were logged but not acted on before the last stop.
    /// Run before the webhook opens, so nothing new interleaves.
    pub async fn replay_unhandled(&self) -> Result<usize, StoreError> {
        let pending = self.store.unhandled_inbound().await?;
        for chunk in pending.chunks(MAX_BATCH) {
            self.handle(chunk).await?;
        }
        Ok(pending.len())
    }

    /// Handles committed events until the journal closes the channel.
    pub async fn run(self, mut committed: mpsc::Receiver<Committed>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while committed.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let mut tries = 0;
            while let Err(e) = self.handle(&batch).await {
                tries += 1;
                if tries == 3 {
                    tracing::error!("could not queue actions for {} event(s); they will be handled on restart: {e}", batch.len());
                    break;
                }
                tracing::warn!("could not queue actions, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            batch.clear();
        }
    }

    async fn handle(&self, batch: &[(i64, Event)]) -> Result<(), StoreError> {
        let Some(last) = batch.last().map(|(id, _)| *id) else {
            return Ok(());
        };
        let config = self.config.borrow().clone();
        let ctx = Context {
            config: &config,
            now: self.clock.now(),
        };
        let mut actions = Vec::new();
        for (id, event) in batch {
            for action in features::react(event, &ctx) {
                tracing::debug!(event = id, action = action.name(), "queued");
                actions.push((
                    Some(*id),
                    Outbound {
                        account: event.account.clone(),
                        action,
                    },
                ));
            }
        }
        self.store.queue_actions(last, &actions).await?;
        if !actions.is_empty() {
            self.outbox.notify_one();
        }
        Ok(())
    }
}
