//! Finds silent members off the engine. The reactivation feature asks for a
//! scan (an effect, see [`crate::features::reactivation::ScanRequest`]); after
//! the engine committed that decision, the request comes here. This task reads
//! the silent members from the store one group at a time (bounded memory, and
//! the writer never waits on it) and hands each group's list back as an
//! [`EventBody::SilentFound`] event through the journal, so the finding is
//! logged and the feature decides on it like on any other event.
//!
//! It runs beside the engine rather than inside its effect handler because the
//! journal hands events to the engine: an engine waiting on the journal could
//! wait on itself. A request still queued at a stop is dropped and logged; the
//! next scan (the cron's, or an admin's `/silent nudge`) finds the same members.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::domain::{Event, EventBody, Id, SilentEntry};
use crate::engine::journal::Journal;
use crate::features::reactivation::ScanRequest;
use crate::store::{ReadModel, SilentMember};

/// Scans waiting; beyond this a new one is dropped (and logged).
pub const QUEUE: usize = 16;

/// Starts the scanner. It stops when `stop` is cancelled (dropping its journal
/// handle, so the journal can drain) or when every sender is gone.
pub fn spawn<R>(
    store: R,
    journal: Journal,
    mut requests: mpsc::Receiver<ScanRequest>,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> JoinHandle<()>
where
    R: ReadModel + Send + Sync + 'static,
{
    tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                _ = stop.cancelled() => break,
                r = requests.recv() => match r {
                    Some(r) => r,
                    None => break,
                },
            };
            for group in &request.groups {
                if stop.is_cancelled() {
                    break;
                }
                let found = match store
                    .silent_members(std::slice::from_ref(group), request.cutoff, request.limit)
                    .await
                {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::error!(group = %group.group, "silent-member scan failed: {e}");
                        continue;
                    }
                };
                let event = Event {
                    account: group.account.clone(),
                    time: clock.now().timestamp(),
                    body: EventBody::SilentFound {
                        group: group.group.clone(),
                        cutoff: request.cutoff.timestamp(),
                        asked_by: request.asked_by.clone(),
                        members: found.into_iter().map(entry).collect(),
                    },
                    heard_by: None,
                };
                if let Err(e) = journal.submit(event).await {
                    tracing::error!(group = %group.group, "scan result not logged: {e}");
                }
            }
        }
    })
}

fn entry(m: SilentMember) -> SilentEntry {
    // The table keeps ids as text; a QQ number goes back out as a number, the
    // form the gateway sent it in.
    let user = match m.user_id.parse::<i64>() {
        Ok(n) if n.to_string() == m.user_id => Id::number(n),
        _ => Id::text(m.user_id),
    };
    SilentEntry {
        user,
        name: m.nickname,
        since: m.last_spoke_at.or(m.joined_at).map(|t| t.timestamp()),
        joined: m.joined_at.map(|t| t.timestamp()),
    }
}
