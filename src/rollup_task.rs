//! Keeps the report roll-up current beside the engine, and answers `/stats`.
//!
//! Every [`EVERY`] the task rolls up what the log gained, so `qunbot report`
//! and `/stats` find little left to do. An admin's `/stats` comes as a request
//! (an effect, [`crate::features::StatsRequest`]); the task brings the roll-up
//! up to date, reads the group's span from it with the same queries as
//! `qunbot report`, and hands the figures back as an
//! [`EventBody::StatsFound`] event, which the commands feature answers. It runs
//! off the engine because a roll-up of a long backlog takes a while and writes:
//! the engine goes on meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Event, EventBody};
use crate::engine::journal::Journal;
use crate::features::StatsRequest;
use crate::reporting::{self, Query, Range};
use crate::store::Store;

/// Requests waiting; beyond this a new one is dropped (and logged).
pub const QUEUE: usize = 16;

/// How often the roll-up takes what the log gained.
pub const EVERY: Duration = Duration::from_secs(60);

/// Starts the task. It stops when `stop` is cancelled (dropping its journal
/// handle, so the journal can drain) or when every sender is gone.
pub fn spawn(
    store: Store,
    journal: Journal,
    mut requests: mpsc::Receiver<StatsRequest>,
    config: watch::Receiver<Arc<Config>>,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Not at once: a start has the engine's replay to do, and a report
        // rolls up whatever is left anyway.
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let request = tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => None,
                r = requests.recv() => match r {
                    Some(r) => Some(r),
                    None => break,
                },
            };
            let tz = config.borrow().timezone;
            let Some(request) = request else {
                if let Err(e) = store.roll_up(tz, |_| {}).await {
                    tracing::warn!("report roll-up: {e}");
                }
                continue;
            };
            let query = Query {
                timezone: tz,
                range: Range::Last(request.days),
                group: Some(request.group.to_string()),
                group_names: Default::default(),
                labels: Default::default(),
                rebuild: false,
            };
            let now = clock.now();
            let report = match reporting::build(&store, &query, now, |_| {}).await {
                Ok(report) => report,
                Err(e) => {
                    tracing::error!(group = %request.group, "/stats failed: {e}");
                    continue;
                }
            };
            let event = Event {
                account: request.account.clone(),
                time: now.timestamp(),
                body: EventBody::StatsFound {
                    group: request.group.clone(),
                    days: request.days,
                    asked_by: request.message_id.clone(),
                    summary: report.summary(),
                },
                heard_by: None,
            };
            if let Err(e) = journal.submit(event).await {
                tracing::error!(group = %request.group, "/stats answer not logged: {e}");
            }
        }
    })
}
