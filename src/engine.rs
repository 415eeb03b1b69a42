//! Turns committed events and due timers into decisions: runs the features over
//! each, applies their state changes, and stores actions, changes, new timers and
//! the "handled"/"fired" marks in one transaction per batch, so an event or a timer
//! is acted on exactly once even across a crash.
//!
//! The engine is the single writer of the features' state, so it keeps that state
//! in memory (loaded at start) and features read it without touching SQLite.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use crate::clock::Clock;
use crate::config::reload::Reloader;
use crate::config::Config;
use crate::domain::{Action, Event, Message, Outbound, Segment};
use crate::features::{self, Change, Decision, ImageCheck, State, Timer};
use crate::store::journal::Committed;
use crate::store::{Commit, Store, StoreError};

/// Most events handled in one transaction.
const MAX_BATCH: usize = 512;
/// Longest sleep with no timer due; timers added meanwhile shorten it.
const IDLE: Duration = Duration::from_secs(60);

pub struct Engine {
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    /// Woken whenever actions were queued.
    outbox: Arc<Notify>,
    reloader: Option<Reloader>,
    /// Where image checks go once committed ([`crate::media`]).
    image_checks: Option<mpsc::Sender<ImageCheck>>,
    state: State,
    /// When the next timer is due, as last read; `None` until read again after a
    /// batch added or fired timers, so the loop does not query SQLite every batch.
    next_timer: Option<Option<chrono::DateTime<chrono::Utc>>>,
}

/// Something the engine reacts to.
enum Input {
    Event(i64, Event),
    Timer(i64, Timer),
}

impl Engine {
    /// Loads the features' state from the store.
    pub async fn new(
        store: Store,
        config: watch::Receiver<Arc<Config>>,
        clock: Arc<dyn Clock>,
        outbox: Arc<Notify>,
        reloader: Option<Reloader>,
        image_checks: Option<mpsc::Sender<ImageCheck>>,
    ) -> Result<Self, StoreError> {
        let pools = config.borrow().coupons.clone();
        let state = store.load_state(&pools).await?;
        Ok(Engine {
            store,
            config,
            clock,
            outbox,
            reloader,
            image_checks,
            state,
            next_timer: None,
        })
    }

    /// Handles events that were logged but not acted on before the last stop.
    /// Run before the webhook opens, so nothing new interleaves.
    pub async fn replay_unhandled(&mut self) -> Result<usize, StoreError> {
        let pending = self.store.unhandled_inbound().await?;
        let n = pending.len();
        let mut inputs: Vec<Input> = pending
            .into_iter()
            .map(|(id, e)| Input::Event(id, e))
            .collect();
        while !inputs.is_empty() {
            let rest = inputs.split_off(inputs.len().min(MAX_BATCH));
            self.handle(&inputs).await?;
            inputs = rest;
        }
        Ok(n)
    }

    /// Handles committed events and due timers until the journal closes the channel.
    pub async fn run(mut self, mut committed: mpsc::Receiver<Committed>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let sleep = self.until_next_timer().await;
            tokio::select! {
                received = committed.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    let inputs: Vec<Input> = batch.drain(..).map(|(id, e)| Input::Event(id, e)).collect();
                    self.handle_with_retries(&inputs).await;
                }
                _ = tokio::time::sleep(sleep) => {
                    match self.store.due_timers(self.clock.now(), MAX_BATCH as i64).await {
                        Ok(due) if !due.is_empty() => {
                            let inputs: Vec<Input> = due.into_iter().map(|(id, t)| Input::Timer(id, t)).collect();
                            self.handle_with_retries(&inputs).await;
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!("cannot read timers: {e}"),
                    }
                }
            }
        }
    }

    async fn until_next_timer(&mut self) -> Duration {
        let next = match self.next_timer {
            Some(known) => Ok(known),
            None => self.store.next_timer_due().await,
        };
        match next {
            Ok(due) => {
                self.next_timer = Some(due);
                due.map_or(IDLE, |due| {
                    (due - self.clock.now())
                        .to_std()
                        .unwrap_or_default()
                        .min(IDLE)
                })
            }
            Err(e) => {
                tracing::error!("cannot read timers: {e}");
                Duration::from_secs(1)
            }
        }
    }

    async fn handle_with_retries(&mut self, inputs: &[Input]) {
        let mut tries = 0;
        while let Err(e) = self.handle(inputs).await {
            tries += 1;
            // The in-memory state took changes that were not written: read it back.
            let pools = self.config.borrow().coupons.clone();
            match self.store.load_state(&pools).await {
                Ok(state) => self.state = state,
                Err(e) => tracing::error!("cannot reload the features' state: {e}"),
            }
            if tries == 3 {
                tracing::error!(
                    "could not act on {} input(s); events are retried on restart: {e}",
                    inputs.len()
                );
                return;
            }
            tracing::warn!("could not act on a batch, retrying: {e}");
            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
        }
    }

    async fn handle(&mut self, inputs: &[Input]) -> Result<(), StoreError> {
        if self.config.has_changed().unwrap_or(false) {
            let pools = self.config.borrow_and_update().coupons.clone();
            self.state.coupons = self.store.unclaimed_coupons(&pools).await?;
        }
        let config = self.config.borrow().clone();
        let now = self.clock.now();
        let mut commit = Commit::default();
        let mut reload = false;
        let mut image_checks = Vec::new();
        for input in inputs {
            let (cause, account, decision) = match input {
                Input::Event(id, event) => {
                    commit.handled_up_to = Some(*id);
                    let d = features::react(event, &mut self.state, &config, now);
                    (Some(*id), event.account.clone(), d)
                }
                Input::Timer(id, timer) => {
                    commit.fired_timers.push(*id);
                    let d = features::wake(&timer.wake, &mut self.state, &config, now);
                    (None, timer.wake.account().clone(), d)
                }
            };
            let Decision {
                mut actions,
                changes,
                timers,
                reload: wants_reload,
                word_edit,
                image_checks: checks,
            } = decision;
            reload |= wants_reload;
            image_checks.extend(checks);
            if let Some(request) = word_edit {
                // File I/O on a blocking thread, not on the runtime's workers.
                let (answer, edited) = {
                    let (config, edit) = (config.clone(), request.edit.clone());
                    tokio::task::spawn_blocking(move || edit_word_list(&config, &edit))
                        .await
                        .unwrap_or_else(|e| (format!("词库没有改：{e}"), false))
                };
                reload |= edited;
                actions.push(Action::SendGroupMsg {
                    group: request.group.clone(),
                    message: Message::from_segments([
                        Segment::Reply {
                            id: request.message_id,
                        },
                        Segment::Text { text: answer },
                    ]),
                });
            }
            for change in &changes {
                if let Change::Note { kind, detail, .. } = change {
                    if kind.starts_with("warning.") {
                        tracing::warn!(%detail, "{kind}");
                    }
                }
            }
            commit.actions.extend(actions.into_iter().map(|action| {
                (
                    cause,
                    Outbound {
                        account: account.clone(),
                        action,
                    },
                )
            }));
            commit.changes.extend(changes);
            commit.timers.extend(timers);
        }
        if !commit.timers.is_empty() || !commit.fired_timers.is_empty() {
            self.next_timer = None;
        }
        self.store.commit(&commit).await?;
        if !commit.actions.is_empty() {
            self.outbox.notify_one();
        }
        if let Some(checker) = &self.image_checks {
            for check in image_checks {
                if let Err(e) = checker.try_send(check) {
                    tracing::warn!("image check dropped: {e}");
                }
            }
        }
        if reload {
            if let Some(reloader) = &self.reloader {
                reloader.trigger();
            }
        }
        Ok(())
    }
}

/// Applies a `/words` edit to the word list file: written beside it and renamed
/// over it, so the watcher and any reader see the old file or the new one, never
/// half of one. Returns the answer for the chat and whether the file changed.
fn edit_word_list(config: &Config, edit: &crate::filter::WordEdit) -> (String, bool) {
    use crate::filter::WordEdit;
    let Some(filter) = &config.filter else {
        return ("没有配置敏感词过滤".into(), false);
    };
    let path = &filter.words_file;
    let result = std::fs::read_to_string(path)
        .map_err(|e| format!("读不了词库：{e}"))
        .and_then(|text| crate::filter::apply_edit(&text, edit, filter.filter.normalization()))
        .and_then(|new| {
            let tmp = path.with_extension("edit.tmp");
            std::fs::write(&tmp, new)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| format!("写不了词库：{e}"))
        });
    match (result, edit) {
        (Ok(()), WordEdit::Add { category, word }) => {
            (format!("已把「{word}」加入 [{category}]，几秒后生效"), true)
        }
        (Ok(()), WordEdit::Del { word }) => (format!("已从词库删除「{word}」，几秒后生效"), true),
        (Err(why), _) => {
            tracing::warn!("word list not edited: {why}");
            (why, false)
        }
    }
}
