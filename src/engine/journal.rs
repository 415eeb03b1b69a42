//! Group commit: one writer task takes inbound events from every webhook request
//! in flight, writes whatever has queued up in one transaction, and only then
//! answers each request. Concurrency makes batches bigger instead of making
//! transactions fight over SQLite's single write lock.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::storage::{EventLog, Recorded};
use crate::domain::Event;

/// Most events written in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the daemon is shutting down")]
    Closed,
    /// The store cannot write now (disk full, I/O error, lock held too long);
    /// the gateway is asked to send the event again later.
    #[error("cannot store events now: {0}")]
    Store(String),
}

pub use super::storage::Committed;

/// What the writer is asked to do.
// Events are the common case: boxing them would cost an allocation per event
// for the sake of the rare probe.
#[allow(clippy::large_enum_variant)]
enum Work {
    Record {
        event: Event,
        reply: oneshot::Sender<Result<Recorded, JournalError>>,
    },
    /// Tell whether events can be written now (see [`Journal::probe`]).
    Probe(oneshot::Sender<Result<(), JournalError>>),
}

/// The webhook's handle on the writer. The writer stops once every handle is dropped
/// and what was submitted is written.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Work>,
}

impl Journal {
    /// Starts the writer. New events are passed on to `engine` after their commit.
    pub fn spawn<S: EventLog>(
        store: S,
        engine: mpsc::Sender<Committed>,
    ) -> (Journal, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let task = tokio::spawn(write_batches(store, rx, engine));
        (Journal { tx }, task)
    }

    /// A handle that does not keep the writer running: for a task that stops
    /// after the journal (the outbox), whose late submissions find it closed.
    pub fn downgrade(&self) -> WeakJournal {
        WeakJournal {
            tx: self.tx.downgrade(),
        }
    }

    /// Logs `event`, returning once it is committed (or recognised as a redelivery).
    pub async fn submit(&self, event: Event) -> Result<Recorded, JournalError> {
        self.enqueue(event).await?.await
    }

    /// Queues `event` for the writer and returns at once with what waits for its
    /// commit: for a reader of one stream of events (a WebSocket) that keeps
    /// their order and many in flight at a time.
    pub async fn enqueue(
        &self,
        event: Event,
    ) -> Result<impl std::future::Future<Output = Result<Recorded, JournalError>>, JournalError>
    {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Work::Record { event, reply })
            .await
            .map_err(|_| JournalError::Closed)?;
        Ok(async move { answer.await.map_err(|_| JournalError::Closed)? })
    }

    /// Whether events can be written now: answered by the writer in its turn,
    /// after the events queued before, so a writer stuck behind a held lock
    /// answers late (callers bound the wait). A batch of events written just
    /// before answers for it; otherwise the writer makes a small real write.
    pub async fn probe(&self) -> Result<(), JournalError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Work::Probe(reply))
            .await
            .map_err(|_| JournalError::Closed)?;
        answer.await.map_err(|_| JournalError::Closed)?
    }
}

/// See [`Journal::downgrade`].
#[derive(Clone)]
pub struct WeakJournal {
    tx: mpsc::WeakSender<Work>,
}

impl WeakJournal {
    /// Logs `event` if the journal still runs.
    pub async fn submit(&self, event: Event) -> Result<Recorded, JournalError> {
        let tx = self.tx.upgrade().ok_or(JournalError::Closed)?;
        Journal { tx }.submit(event).await
    }
}

async fn write_batches<S: EventLog>(
    store: S,
    mut rx: mpsc::Receiver<Work>,
    engine: mpsc::Sender<Committed>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut events = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        let mut probes = Vec::new();
        for work in batch.drain(..) {
            match work {
                Work::Record { event, reply } => {
                    events.push(event);
                    replies.push(reply);
                }
                Work::Probe(reply) => probes.push(reply),
            }
        }
        // Every probe in the batch shares one answer: a burst of health checks
        // costs one write, not one each.
        let (written, committed) = if events.is_empty() {
            let probed = store.probe_write().await.map_err(|e| e.to_string());
            (probed, Vec::new())
        } else {
            record(&store, events, replies).await
        };
        // Answered before the engine hand-off, which may wait on a full queue:
        // the probe is about the database.
        for probe in probes {
            let _ = probe.send(written.clone().map_err(JournalError::Store));
        }
        for item in committed {
            // The engine only goes away at shutdown, after us; unhandled
            // events stay marked in the log and are replayed on start.
            if engine.send(item).await.is_err() {
                tracing::warn!("engine stopped; committed events will be handled on restart");
            }
        }
    }
}

/// Writes one batch and answers its submitters. Returns whether the write
/// succeeded, and the new events to pass on to the engine.
async fn record<S: EventLog>(
    store: &S,
    events: Vec<Event>,
    replies: Vec<oneshot::Sender<Result<Recorded, JournalError>>>,
) -> (Result<(), String>, Vec<Committed>) {
    match store.record_inbound(&events).await {
        Ok(recorded) => {
            let mut committed = Vec::new();
            for ((event, reply), outcome) in events.into_iter().zip(replies).zip(recorded) {
                if let Recorded::New(id) = outcome {
                    committed.push((id, event));
                }
                let _ = reply.send(Ok(outcome));
            }
            (Ok(()), committed)
        }
        Err(e) => {
            tracing::error!(
                "could not log {} event(s), the gateway will be asked to resend: {e}",
                events.len()
            );
            for reply in replies {
                let _ = reply.send(Err(JournalError::Store(e.to_string())));
            }
            (Err(e.to_string()), Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn event(n: u32) -> Event {
        let body = format!(
            r#"{{"time":1,"self_id":1,"post_type":"message","message_type":"group","message_id":{n},"group_id":2,"user_id":3,"message":"hi"}}"#
        );
        crate::gateway::onebot::wire::parse_event(body.as_bytes()).expect("a group message")
    }

    #[tokio::test]
    async fn a_probe_tells_whether_events_can_be_written_alone_or_beside_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("j.db")).await.unwrap();
        let (engine_tx, _engine_rx) = mpsc::channel(16);
        let (journal, _writer) = Journal::spawn(store.clone(), engine_tx);
        assert!(journal.probe().await.is_ok());

        store.refuse_writes(true).await.unwrap();
        assert!(matches!(journal.probe().await, Err(JournalError::Store(_))));
        let (logged, probed) = tokio::join!(journal.submit(event(1)), journal.probe());
        assert!(matches!(logged, Err(JournalError::Store(_))));
        assert!(matches!(probed, Err(JournalError::Store(_))));

        store.refuse_writes(false).await.unwrap();
        let (logged, probed) = tokio::join!(journal.submit(event(1)), journal.probe());
        assert!(matches!(logged, Ok(Recorded::New(_))));
        assert!(probed.is_ok());
    }
}
