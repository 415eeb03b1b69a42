//! The outbox driven one pass at a time on a manual clock, against the real
//! simulator and a real SQLite file: pacing, backoff and giving up are decided by
//! the clock alone, so each test moves the clock instead of waiting.

use qunbot::store::ReadModel;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qunbot::clock::ManualClock;
use qunbot::config::{Config, OutboxConfig};
use qunbot::domain::{Action, Id, Message, Outbound};
use qunbot::gateway::GatewayClient;
use qunbot::outbox::{OutboxStore, OutboxWorker, Pass};
use qunbot::simulator::{Simulator, SimulatorOptions};
use qunbot::store::{Commit, StateStore, Store};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::helpers::{loopback, text_of, SECRET, TEST_CONFIG, TOKEN};

/// The account every queued action is sent from.
const ACCOUNT: i64 = 10001000;
const GROUP: i64 = 123456;
const OTHER_GROUP: i64 = 654321;

/// Pacing and retry settings with round numbers, so the clock moves read plainly.
/// The first retry delay is longer than the group interval: a retry is paced like
/// any call, and these tests show the backoff, not the pacing, holding it back.
fn settings() -> OutboxConfig {
    OutboxConfig {
        group_interval: Duration::from_secs(3),
        account_interval: Duration::from_millis(500),
        retry_initial: Duration::from_secs(5),
        retry_max: Duration::from_secs(60),
        give_up_after: Duration::from_secs(3600),
        group_messages_per_minute: 20,
        ..OutboxConfig::default()
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap()
}

fn ms(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

/// An outbox worker on a manual clock, its store, and the gateway it calls.
struct Outbox {
    sim: Simulator,
    store: Store,
    clock: Arc<ManualClock>,
    worker: OutboxWorker<Store>,
    _dir: tempfile::TempDir,
}

async fn outbox() -> Outbox {
    let sim = Simulator::start(loopback(), SimulatorOptions::new(TOKEN, SECRET))
        .await
        .expect("the simulator starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let config_path = dir.path().join("bot-config.toml");
    std::fs::write(&config_path, TEST_CONFIG).expect("config written");
    let env = sim.daemon_env(&dir.path().join("qunbot.db"));
    let mut config = Config::load(&config_path, &env).expect("the test config is valid");
    config.outbox = settings();
    let clock = Arc::new(ManualClock::at(t0()));
    let store = Store::open_with_clock(&config.storage.database, clock.clone())
        .await
        .expect("the store opens");
    // The worker keeps the receiver; a config that never changes needs no sender.
    let (_, config) = watch::channel(Arc::new(config));
    let worker = OutboxWorker::new(
        store.clone(),
        GatewayClient::default(),
        config,
        clock.clone(),
        Arc::new(Notify::new()),
        CancellationToken::new(),
    );
    Outbox {
        sim,
        store,
        clock,
        worker,
        _dir: dir,
    }
}

impl Outbox {
    /// Queues a chat message to `group`, as the engine does when it commits.
    async fn queue(&self, group: i64, text: &str) {
        self.queue_actions(vec![Action::SendGroupMsg {
            group: Id::number(group),
            message: Message::text(text),
        }])
        .await;
    }

    /// Queues actions from the account in one commit, in order.
    async fn queue_actions(&self, actions: Vec<Action>) {
        let actions = actions
            .into_iter()
            .map(|action| {
                let outbound = Outbound::new(Id::number(ACCOUNT), action);
                (None, outbound)
            })
            .collect();
        self.store
            .commit(&Commit {
                actions,
                ..Default::default()
            })
            .await
            .expect("the actions are queued");
    }

    async fn pass(&mut self) -> Pass {
        self.worker.pass().await.expect("the outbox is readable")
    }

    fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// The texts of the chat messages the gateway carried out, in order.
    fn chat(&self) -> Vec<String> {
        self.sim
            .performed("send_group_msg")
            .iter()
            .map(|c| text_of(&c.params["message"]))
            .collect()
    }

    /// How many calls reached the gateway, carried out or not.
    fn calls(&self) -> usize {
        self.sim.calls().len()
    }
}

fn waiting_until(due: DateTime<Utc>) -> Pass {
    Pass {
        next_due: Some(due),
        ..Pass::default()
    }
}

#[tokio::test]
async fn a_second_message_to_a_group_waits_until_the_clock_has_moved_a_group_interval() {
    let mut outbox = outbox().await;
    outbox.queue(GROUP, "第一条").await;
    outbox.queue(GROUP, "第二条").await;

    // A pass sends a group's head only; the next one finds the second waiting.
    let first = outbox.pass().await;
    assert_eq!(
        first,
        Pass {
            delivered: 1,
            ..Pass::default()
        }
    );
    assert_eq!(outbox.chat(), ["第一条"]);

    assert_eq!(outbox.pass().await, waiting_until(t0() + ms(3000)));
    outbox.advance(ms(2999));
    assert_eq!(outbox.pass().await, waiting_until(t0() + ms(3000)));
    assert_eq!(outbox.calls(), 1, "nothing is sent before its turn");

    outbox.advance(ms(1));
    assert_eq!(
        outbox.pass().await,
        Pass {
            delivered: 1,
            ..Pass::default()
        }
    );
    assert_eq!(outbox.chat(), ["第一条", "第二条"]);
}

#[tokio::test]
async fn a_message_to_another_group_waits_only_for_the_account_interval() {
    let mut outbox = outbox().await;
    outbox.queue(GROUP, "本群").await;
    outbox.queue(OTHER_GROUP, "别的群").await;

    let first = outbox.pass().await;
    assert_eq!(
        first,
        Pass {
            delivered: 1,
            ..waiting_until(t0() + ms(500))
        }
    );
    outbox.advance(ms(500));
    assert_eq!(outbox.pass().await.delivered, 1);
    assert_eq!(outbox.chat(), ["本群", "别的群"]);
}

#[tokio::test]
async fn a_gateway_failure_is_retried_once_the_clock_passes_its_backoff_and_not_before() {
    let mut outbox = outbox().await;
    outbox.sim.fail_next(2, 503);
    outbox.queue(GROUP, "稍后送达").await;

    assert_eq!(
        outbox.pass().await,
        Pass {
            rescheduled: 1,
            ..waiting_until(t0() + ms(5000))
        }
    );
    assert_eq!(outbox.pass().await, waiting_until(t0() + ms(5000)));
    assert_eq!(outbox.calls(), 1, "no retry before the backoff");

    // The second failure doubles the wait.
    outbox.advance(ms(5000));
    assert_eq!(
        outbox.pass().await,
        Pass {
            rescheduled: 1,
            ..waiting_until(t0() + ms(15000))
        }
    );
    outbox.advance(ms(9999));
    assert_eq!(outbox.pass().await, waiting_until(t0() + ms(15000)));
    assert_eq!(outbox.calls(), 2, "no retry before the longer backoff");

    outbox.advance(ms(1));
    assert_eq!(
        outbox.pass().await,
        Pass {
            delivered: 1,
            ..Pass::default()
        }
    );
    assert_eq!(outbox.chat(), ["稍后送达"]);
    let logged = outbox
        .store
        .events_of_kind("action.send_group_msg")
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].detail["state"], "delivered");
    assert_eq!(logged[0].detail["attempts"], 3, "{:?}", logged[0].detail);
}

#[tokio::test]
async fn an_action_older_than_give_up_after_is_closed_as_failed_without_a_call() {
    let mut outbox = outbox().await;
    outbox.queue(GROUP, "太晚了").await;
    outbox.advance(chrono::Duration::hours(1) + ms(1000));

    assert_eq!(
        outbox.pass().await,
        Pass {
            failed: 1,
            ..Pass::default()
        }
    );
    assert_eq!(outbox.calls(), 0, "the gateway never heard of it");
    let logged = outbox
        .store
        .events_of_kind("action.send_group_msg")
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].detail["state"], "failed");
    assert!(
        logged[0].detail["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("gave up after 1h 1s undelivered")),
        "{:?}",
        logged[0].detail
    );
    assert_eq!(
        outbox.store.outbox_counts().await.unwrap(),
        [("failed".to_string(), 1)]
    );
}

#[tokio::test]
async fn an_action_just_inside_give_up_after_is_still_sent() {
    let mut outbox = outbox().await;
    outbox.queue(GROUP, "刚好赶上").await;
    outbox.advance(chrono::Duration::hours(1));

    assert_eq!(outbox.pass().await.delivered, 1);
    assert_eq!(outbox.chat(), ["刚好赶上"]);
}

#[tokio::test]
async fn a_delivery_the_store_cannot_record_is_recorded_later_not_sent_again() {
    let mut outbox = outbox().await;
    outbox.queue(GROUP, "只发一次").await;
    outbox.store.refuse_writes(true).await.unwrap();

    let first = outbox.pass().await;
    assert_eq!(first.unrecorded, 1);
    assert_eq!(outbox.chat(), ["只发一次"]);
    // The store still cannot write: the next passes do not call again.
    outbox.advance(ms(60_000));
    assert_eq!(outbox.pass().await.unrecorded, 1);
    assert_eq!(outbox.calls(), 1);

    outbox.store.refuse_writes(false).await.unwrap();
    let recorded = outbox.pass().await;
    assert_eq!(recorded.delivered, 1);
    assert_eq!(outbox.calls(), 1, "delivered once, recorded once");
    assert!(outbox.store.pending_actions(10).await.unwrap().is_empty());
}

fn mute(group: i64, user: i64) -> Action {
    Action::SetGroupBan {
        group: Id::number(group),
        user: Id::number(user),
        duration_secs: 600,
    }
}

#[tokio::test]
async fn a_backlog_in_one_group_does_not_hold_up_another_groups_action() {
    let mut outbox = outbox().await;
    outbox
        .queue_actions((0..200).map(|user| mute(GROUP, user)).collect())
        .await;
    outbox.queue(OTHER_GROUP, "别的群也要回").await;

    // Calls go one per account interval; the other group gets the second turn.
    outbox.pass().await;
    outbox.advance(ms(500));
    outbox.pass().await;
    assert_eq!(outbox.chat(), ["别的群也要回"]);
    assert_eq!(outbox.calls(), 2);
}

#[tokio::test]
async fn actions_given_up_for_age_are_not_each_reported_in_the_chat() {
    let mut outbox = outbox().await;
    outbox
        .queue_actions((0..20).map(|user| mute(GROUP, user)).collect())
        .await;
    outbox.advance(chrono::Duration::hours(2));
    let mut failed = 0;
    for _ in 0..20 {
        failed += outbox.pass().await.failed;
    }
    assert_eq!(failed, 20);
    assert_eq!(outbox.calls(), 0);
    assert!(
        outbox.store.pending_actions(100).await.unwrap().is_empty(),
        "no \"操作没有成功\" message was queued for them"
    );
}

#[tokio::test]
async fn a_post_still_undelivered_at_its_deadline_is_missed_not_sent_late() {
    let mut outbox = outbox().await;
    let mut post = Outbound::new(
        Id::number(ACCOUNT),
        Action::SendGroupMsg {
            group: Id::number(GROUP),
            message: Message::text("【预告】还有 10 分钟"),
        },
    );
    post.automatic = true;
    post.tag = Some("s:luosifen:remind".into());
    post.deadline = Some(t0() + chrono::Duration::minutes(10));
    outbox
        .store
        .commit(&Commit {
            actions: vec![(None, post)],
            ..Default::default()
        })
        .await
        .unwrap();
    // The gateway is away past the deadline.
    outbox.sim.fail_with(Some(503));
    assert_eq!(outbox.pass().await.rescheduled, 1);
    outbox.advance(chrono::Duration::minutes(11));
    outbox.sim.fail_with(None);
    assert_eq!(
        outbox.pass().await,
        Pass {
            failed: 1,
            ..Pass::default()
        }
    );
    assert!(outbox.chat().is_empty(), "never sent late");
    let logged = outbox
        .store
        .events_of_kind("action.send_group_msg")
        .await
        .unwrap();
    assert_eq!(logged[0].detail["result"]["missed"], "late");
    assert_eq!(logged[0].detail["tag"], "s:luosifen:remind");
}
