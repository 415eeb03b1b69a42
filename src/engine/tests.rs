//! The engine driven one step at a time over a real SQLite file, with a
//! hand-moved clock and features made for the test: a poison event, a poison
//! timer, a crash between a commit and its effect, a store that cannot write.

use crate::store::ReadModel;
use std::sync::Mutex;

use chrono::TimeZone;
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::config::Env;
use crate::domain::{Action, EventBody, GroupMessage, Id, Message, Sender};
use crate::domain::{Event, Outbound};
use crate::outbox::OutboxStore;
use crate::store::Store;

const FEATURE: &str = "echo";

/// Echoes `say X` into the group; panics on `poison`; `later X` sets a timer that
/// says X in a minute (and panics when X is `poison`); `effect X` asks for an
/// effect of kind `count` with payload X.
struct Echo;

fn said(group: &Id, text: &str) -> Action {
    Action::SendGroupMsg {
        group: group.clone(),
        message: Message::text(text),
    }
}

impl Feature for Echo {
    fn name(&self) -> &'static str {
        FEATURE
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        let EventBody::GroupMessage(m) = &event.body else {
            return Decision::default();
        };
        let text = m.message.plain_text();
        match text.split_once(' ') {
            Some(("say", what)) => Decision::default().act(said(&m.group, what)),
            Some(("later", what)) => Decision {
                timers: vec![Timer::new(
                    ctx.now + chrono::Duration::seconds(60),
                    &event.account,
                    FEATURE,
                    &json!({"group": m.group, "say": what}),
                )],
                ..Decision::default()
            },
            Some(("effect", what)) => Decision::default().effect(Effect::new("count", &what)),
            _ if text == "poison" => panic!("poisoned by the test"),
            _ => Decision::default(),
        }
    }

    fn on_wake(&self, timer: &Timer, _ctx: &Context) -> Result<Decision, WakeError> {
        let what = timer.wake["say"].as_str().unwrap_or_default();
        assert_ne!(what, "poison", "a poisoned wake-up");
        let group: Id = serde_json::from_value(timer.wake["group"].clone()).map_err(|source| {
            WakeError::Unreadable {
                feature: FEATURE.into(),
                source,
            }
        })?;
        Ok(Decision::default().act(said(&group, what)))
    }
}

/// Records each run of a `count` effect, and answers in the chat.
#[derive(Clone, Default)]
struct Counter {
    runs: Arc<Mutex<Vec<(Value, bool)>>>,
    /// Made to refuse writes while the effect runs, so its end cannot be recorded.
    break_store: Option<Store>,
}

impl EffectHandler for Counter {
    fn run<'a>(&'a self, payload: &'a Value, retry: bool) -> EffectFuture<'a> {
        Box::pin(async move {
            self.runs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((payload.clone(), retry));
            if let Some(store) = &self.break_store {
                store.refuse_writes(true).await.expect("fault injected");
            }
            EffectOutcome {
                detail: json!({"counted": payload}),
                followups: vec![Outbound::new(
                    Id::number(1),
                    said(&Id::number(100), "counted"),
                )],
            }
        })
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    config: watch::Receiver<Arc<Config>>,
    _config_tx: watch::Sender<Arc<Config>>,
    next_message: i64,
}

impl Rig {
    async fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).unwrap(),
        ));
        let store = Store::open_with_clock(&dir.path().join("q.db"), clock.clone())
            .await
            .unwrap();
        let config = Config::parse(
            &dir.path().join("bot-config.toml"),
            "[gateway]\n[[groups]]\nid = 100\n",
            &Env::default(),
        )
        .unwrap();
        let (config_tx, config_rx) = watch::channel(Arc::new(config));
        Rig {
            _dir: dir,
            store,
            clock,
            config: config_rx,
            _config_tx: config_tx,
            next_message: 0,
        }
    }

    async fn engine(&self, effects: Effects) -> Engine<Store> {
        Engine::new(
            self.store.clone(),
            self.config.clone(),
            self.clock.clone(),
            Arc::new(Notify::new()),
            Features::new(vec![Arc::new(Echo)]),
            effects,
        )
        .await
        .unwrap()
    }

    /// Logs a member's message as the webhook would, returning it as engine input.
    async fn logged(&mut self, text: &str) -> Input {
        self.next_message += 1;
        let event = Event {
            account: Id::number(1),
            time: 0,
            body: EventBody::GroupMessage(GroupMessage {
                message_id: Id::number(self.next_message),
                group: Id::number(100),
                user: Id::number(5),
                sender: Sender::default(),
                message: Message::text(text),
                anonymous: false,
            }),
            heard_by: None,
        };
        let recorded = self
            .store
            .record_inbound(std::slice::from_ref(&event))
            .await
            .unwrap();
        let crate::store::Recorded::New(id) = recorded[0] else {
            panic!("a new event")
        };
        Input::Event(id, event)
    }

    async fn queued(&self) -> Vec<String> {
        self.store
            .pending_actions(100)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|a| match a.outbound.action {
                Action::SendGroupMsg { message, .. } => Some(message.plain_text()),
                _ => None,
            })
            .collect()
    }

    async fn logged_kind(&self, kind: &str) -> Vec<Value> {
        self.store
            .events_of_kind(kind)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.detail)
            .collect()
    }
}

#[tokio::test]
async fn a_poison_event_is_given_up_alone_and_its_batch_neighbours_are_handled() {
    let mut rig = Rig::new().await;
    let mut engine = rig.engine(Effects::default()).await;
    let before = rig.logged("say before").await;
    let poison = rig.logged("poison").await;
    let after = rig.logged("say after").await;
    let Input::Event(poison_id, _) = poison else {
        unreachable!()
    };

    engine.decide(&[before, poison, after]).await.unwrap();

    assert_eq!(rig.queued().await, ["before", "after"]);
    let failed = rig.logged_kind("engine.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["event_id"], poison_id);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("poisoned by the test"),
        "{failed:?}"
    );
    assert_eq!(rig.store.unhandled_count().await.unwrap(), 0);
    assert_eq!(rig.store.trouble().await.unwrap().failed_events, 1);
}

#[tokio::test]
async fn a_poison_event_left_from_before_a_stop_does_not_block_the_start() {
    let mut rig = Rig::new().await;
    rig.logged("poison").await;
    rig.logged("say hello").await;

    let mut engine = rig.engine(Effects::default()).await;
    let replay = engine.replay_unhandled().await.unwrap();

    assert_eq!(replay.handled, 2);
    assert_eq!(rig.queued().await, ["hello"]);
    assert_eq!(rig.logged_kind("engine.failed").await.len(), 1);
}

#[tokio::test]
async fn a_poison_timer_is_quarantined_and_the_other_timers_still_fire() {
    let mut rig = Rig::new().await;
    let mut engine = rig.engine(Effects::default()).await;
    let inputs = vec![
        rig.logged("later poison").await,
        rig.logged("later on time").await,
    ];
    engine.decide(&inputs).await.unwrap();
    // A timer for a feature that does not exist, as a stale row would be.
    rig.store
        .commit(&Commit {
            timers: vec![Timer::new(
                rig.clock.now(),
                &Id::number(1),
                "retired",
                &json!({}),
            )],
            ..Commit::default()
        })
        .await
        .unwrap();

    rig.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(engine.fire_due_timers().await.unwrap(), 3);

    assert_eq!(rig.queued().await, ["on time"]);
    let quarantined = rig.logged_kind("timer.quarantined").await;
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert_eq!(
        engine.fire_due_timers().await.unwrap(),
        0,
        "none fires twice"
    );
}

#[tokio::test]
async fn while_the_store_cannot_write_no_event_is_given_up_and_all_are_handled_after() {
    let mut rig = Rig::new().await;
    let mut engine = rig.engine(Effects::default()).await;
    let inputs = vec![rig.logged("say one").await, rig.logged("say two").await];

    rig.store.refuse_writes(true).await.unwrap();
    assert!(engine.decide(&inputs).await.is_err());
    rig.store.refuse_writes(false).await.unwrap();
    assert!(rig.logged_kind("engine.failed").await.is_empty());
    assert_eq!(rig.store.unhandled_count().await.unwrap(), 2);

    engine.decide(&inputs).await.unwrap();
    assert_eq!(rig.queued().await, ["one", "two"]);
    assert_eq!(rig.store.unhandled_count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_effect_runs_only_after_its_decision_commits_and_once() {
    let mut rig = Rig::new().await;
    let counter = Counter::default();
    let mut engine = rig
        .engine(Effects::default().with("count", counter.clone()))
        .await;
    let input = rig.logged("effect a").await;

    rig.store.refuse_writes(true).await.unwrap();
    assert!(engine.decide(std::slice::from_ref(&input)).await.is_err());
    assert!(
        counter.runs.lock().unwrap().is_empty(),
        "nothing ran for an uncommitted decision"
    );
    rig.store.refuse_writes(false).await.unwrap();

    engine.decide(&[input]).await.unwrap();
    assert_eq!(engine.carry_out_effects().await.unwrap(), 1);
    assert_eq!(engine.carry_out_effects().await.unwrap(), 0);
    assert_eq!(*counter.runs.lock().unwrap(), [(json!("a"), false)]);
    assert_eq!(rig.queued().await, ["counted"]);
}

#[tokio::test]
async fn a_crash_between_the_commit_and_its_effect_runs_the_effect_once_after_the_restart() {
    let mut rig = Rig::new().await;
    let counter = Counter::default();
    let mut engine = rig
        .engine(Effects::default().with("count", counter.clone()))
        .await;
    let input = rig.logged("effect b").await;
    engine.decide(&[input]).await.unwrap();
    drop(engine); // the crash: committed, the effect not carried out

    let mut restarted = rig
        .engine(Effects::default().with("count", counter.clone()))
        .await;
    restarted.replay_unhandled().await.unwrap();
    let mut again = rig
        .engine(Effects::default().with("count", counter.clone()))
        .await;
    again.replay_unhandled().await.unwrap();

    assert_eq!(*counter.runs.lock().unwrap(), [(json!("b"), false)]);
    assert_eq!(rig.queued().await, ["counted"]);
}

#[tokio::test]
async fn an_effect_cut_short_runs_again_knowing_it_may_have_applied() {
    let mut rig = Rig::new().await;
    let breaking = Counter {
        break_store: Some(rig.store.clone()),
        ..Counter::default()
    };
    let mut engine = rig
        .engine(Effects::default().with("count", breaking.clone()))
        .await;
    let input = rig.logged("effect c").await;
    engine.decide(&[input]).await.unwrap();
    // The effect ran, but its end could not be recorded: then the process died.
    assert!(engine.carry_out_effects().await.is_err());
    drop(engine);
    rig.store.refuse_writes(false).await.unwrap();

    let counter = Counter {
        runs: breaking.runs.clone(),
        break_store: None,
    };
    let mut restarted = rig.engine(Effects::default().with("count", counter)).await;
    restarted.replay_unhandled().await.unwrap();

    assert_eq!(
        *breaking.runs.lock().unwrap(),
        [(json!("c"), false), (json!("c"), true)]
    );
    assert_eq!(rig.queued().await, ["counted"], "one answer, not two");
}

#[test]
fn the_random_source_is_the_same_for_the_same_input_and_purpose() {
    use rand::Rng;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&dir.path().join("c.toml"), "[gateway]\n", &Env::default()).unwrap();
    let state = State::default();
    let now = Utc::now();
    let draw = |seed, purpose| {
        Context::new(&config, &state, now, seed)
            .rng(purpose)
            .random::<u64>()
    };
    assert_eq!(draw(seed(7, 0), "packet"), draw(seed(7, 0), "packet"));
    assert_ne!(draw(seed(7, 0), "packet"), draw(seed(8, 0), "packet"));
    assert_ne!(draw(seed(7, 0), "packet"), draw(seed(7, 1), "packet"));
    assert_ne!(draw(seed(7, 0), "packet"), draw(seed(7, 0), "nudge"));
}

#[tokio::test]
async fn the_bot_never_queues_more_chat_messages_for_a_group_than_its_cap_per_minute() {
    let mut rig = Rig::new().await;
    let mut engine = rig.engine(Effects::default()).await;
    let mut raid = Vec::new();
    for i in 0..25 {
        raid.push(rig.logged(&format!("say warning {i}")).await);
    }
    engine.decide(&raid).await.unwrap();
    assert_eq!(rig.queued().await.len(), 20, "the default cap");
    let dropped = rig.logged_kind("chat.dropped").await;
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["dropped"], 5);

    let within = rig.logged("say still the same minute").await;
    engine.decide(&[within]).await.unwrap();
    assert_eq!(rig.queued().await.len(), 20);

    rig.clock.advance(chrono::Duration::seconds(61));
    let later = rig.logged("say a minute later").await;
    engine.decide(&[later]).await.unwrap();
    assert_eq!(rig.queued().await.len(), 21);
}
