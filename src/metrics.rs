//! `/metrics` in Prometheus text format, through `prometheus-client`: what
//! intake, the engine and the outbox count as they go, and what is read at each
//! scrape (the events waiting for the engine, the outbox's pending actions, the
//! accounts' states).
//!
//! One [`Metrics`] per daemon (no global registry), cheap to clone.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::domain::Id;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabel {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    account: String,
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    account: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabel {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PostLabels {
    outcome: String,
    reason: String,
}

struct Families {
    received: Family<AccountLabel, Counter>,
    handled: Family<AccountLabel, Counter>,
    outcomes: Family<OutcomeLabels, Counter>,
    timeouts: Family<AccountLabel, Counter>,
    filter_hits: Family<CategoryLabel, Counter>,
    posts: Family<PostLabels, Counter>,
    unhandled: Gauge,
    socket_waiting: Family<AccountLabel, Gauge>,
    pending: Family<AccountLabel, Gauge>,
    accounts: Family<StateLabels, Gauge>,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    f: Arc<Families>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Takes the readings of a scrape (the daemon reads its store and accounts).
pub type Probe = Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, Snapshot> + Send + Sync>;

/// What is read from the store and the accounts at a scrape.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Events logged and not yet handled: the engine's lag.
    pub unhandled: i64,
    /// Pending outbox actions per account.
    pub pending: Vec<(String, i64)>,
    /// Each account's state (`running`, `suspect`, `disconnected`).
    pub accounts: Vec<(String, &'static str)>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let f = Families {
            received: Family::default(),
            handled: Family::default(),
            outcomes: Family::default(),
            timeouts: Family::default(),
            filter_hits: Family::default(),
            posts: Family::default(),
            unhandled: Gauge::default(),
            socket_waiting: Family::default(),
            pending: Family::default(),
            accounts: Family::default(),
        };
        let mut r = Registry::with_prefix("qunbot");
        r.register(
            "events_received",
            "Events logged at intake (webhook and WebSocket), redeliveries not counted",
            f.received.clone(),
        );
        r.register(
            "events_handled",
            "Events the engine handled",
            f.handled.clone(),
        );
        r.register(
            "outbox_outcomes",
            "Actions closed by the outbox, by account, action and outcome (delivered, failed)",
            f.outcomes.clone(),
        );
        r.register(
            "send_timeouts",
            "Sends that timed out at the gateway",
            f.timeouts.clone(),
        );
        r.register(
            "filter_hits",
            "Filtered messages, once per category they hit",
            f.filter_hits.clone(),
        );
        r.register(
            "schedule_posts",
            "Scheduled posts decided (sent) or missed, with the reason",
            f.posts.clone(),
        );
        r.register(
            "unhandled_events",
            "Events logged and not handled yet (journal and engine lag)",
            f.unhandled.clone(),
        );
        r.register(
            "socket_events_waiting",
            "Events read from an account's WebSocket that the store could not take yet",
            f.socket_waiting.clone(),
        );
        r.register(
            "outbox_pending",
            "Actions waiting in the outbox, per account",
            f.pending.clone(),
        );
        r.register(
            "account_state",
            "1 for each account's current state (running, suspect, disconnected)",
            f.accounts.clone(),
        );
        Metrics {
            registry: Arc::new(Mutex::new(r)),
            f: Arc::new(f),
        }
    }

    fn account(account: &Id) -> AccountLabel {
        AccountLabel {
            account: account.to_string(),
        }
    }

    pub fn received(&self, account: &Id) {
        self.f.received.get_or_create(&Self::account(account)).inc();
    }

    pub fn handled(&self, account: &Id) {
        self.f.handled.get_or_create(&Self::account(account)).inc();
    }

    pub fn outcome(&self, account: &Id, action: &str, outcome: &str) {
        self.f
            .outcomes
            .get_or_create(&OutcomeLabels {
                account: account.to_string(),
                action: action.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// How many events read from `account`'s socket wait for the store.
    pub fn socket_waiting(&self, account: &Id, n: usize) {
        self.f
            .socket_waiting
            .get_or_create(&Self::account(account))
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn timeout(&self, account: &Id) {
        self.f.timeouts.get_or_create(&Self::account(account)).inc();
    }

    /// Counts what a feature's log row says: filter hits per category and
    /// scheduled posts sent or missed.
    pub fn noted(&self, kind: &str, detail: &serde_json::Value) {
        match kind {
            "filter.hit" => {
                for category in crate::filter::logged_categories(&detail["hits"]) {
                    self.f
                        .filter_hits
                        .get_or_create(&CategoryLabel {
                            category: category.to_string(),
                        })
                        .inc();
                }
            }
            "schedule.sent" | "schedule.missed" => {
                let outcome = kind.trim_start_matches("schedule.");
                let reason = detail["reason"].as_str().unwrap_or("");
                self.f
                    .posts
                    .get_or_create(&PostLabels {
                        outcome: outcome.to_string(),
                        reason: reason.to_string(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// The text exposition with `now`'s readings.
    pub fn render(&self, now: &Snapshot) -> String {
        self.f.unhandled.set(now.unhandled);
        self.f.pending.clear();
        for (account, n) in &now.pending {
            self.f
                .pending
                .get_or_create(&AccountLabel {
                    account: account.clone(),
                })
                .set(*n);
        }
        self.f.accounts.clear();
        for (account, state) in &now.accounts {
            self.f
                .accounts
                .get_or_create(&StateLabels {
                    account: account.clone(),
                    state: state.to_string(),
                })
                .set(1);
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}
