//! Storage faults: while the database cannot write, the webhook answers 503 and
//! stores nothing half-way; once the fault clears the daemon recovers by itself,
//! and every event it answered 2xx is stored and acted on exactly once.

use qunbot::store::ReadModel;
use qunbot::store::{EventLog, Store, StoredEvent};

use crate::helpers::spawn_app;

#[tokio::test]
async fn events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent() {
    let mut app = spawn_app().await;
    let store = app.daemon().store().clone();
    store.refuse_writes(true).await.unwrap();

    let pings: Vec<_> = (0..15).map(|i| app.says(&format!("/ping {i}"))).collect();
    for ping in &pings {
        assert_eq!(app.push(ping).await, 503, "refused while the disk is full");
    }
    assert!(app.logged("message.group").await.is_empty());

    store.refuse_writes(false).await.unwrap();
    // The gateway sends each refused event again; now every one is stored.
    for ping in &pings {
        assert_eq!(app.push(ping).await, 204);
    }
    let logged = app.wait_logged("message.group", 15).await;
    assert_eq!(logged.len(), 15);
    app.wait_chat_n("pong", 15).await;
    assert_eq!(app.chat().iter().filter(|t| t.contains("pong")).count(), 15);
}

#[tokio::test]
async fn after_a_full_disk_every_event_answered_204_is_stored() {
    let mut app = spawn_app().await;
    let store = app.daemon().store().clone();
    // Fill the disk and let writes fail: the webhook's and the outbox's.
    store.refuse_writes(true).await.unwrap();
    let refused = app.says("/ping");
    assert_eq!(app.push(&refused).await, 503);
    store.refuse_writes(false).await.unwrap();

    let mut accepted = Vec::new();
    for i in 0..30 {
        let event = app.says(&format!("消息 {i}"));
        if app.push(&event).await == 204 {
            accepted.push(event);
        }
    }
    assert_eq!(accepted.len(), 30, "the daemon recovered by itself");
    // Stored and visible to a fresh reader, not in a transaction that never commits.
    app.restart_daemon().await;
    let logged = app.logged("message.group").await;
    assert_eq!(logged.len(), 30);
    assert_eq!(app.daemon().store().unhandled_count().await.unwrap(), 0);
}

/// An event of a kind qunbot does not know, nested `depth` levels deep: accepted
/// and stored, but deeper once wrapped in the stored form than serde reads back.
fn deeply_nested_unknown_event(depth: usize) -> Vec<u8> {
    let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    format!(r#"{{"time":1,"self_id":10001000,"post_type":"mystery","payload":{nested}}}"#)
        .into_bytes()
}

#[tokio::test]
async fn a_stored_event_that_cannot_be_read_back_is_quarantined_and_the_daemon_starts() {
    let mut app = spawn_app().await;
    app.stop_daemon().await;
    // Logged as the webhook logs it, then the daemon died before acting on it.
    let body = deeply_nested_unknown_event(125);
    let event = qunbot::gateway::onebot::wire::parse_event(&body).expect("the webhook takes it");
    let store = Store::open(&app.dir.path().join("qunbot.db"))
        .await
        .unwrap();
    store.record_inbound(&[event]).await.unwrap();
    assert!(
        matches!(
            store.unhandled_inbound().await.unwrap()[..],
            [StoredEvent::Unreadable { .. }]
        ),
        "the stored form is too deep to read back"
    );
    store.close().await;

    app.start_daemon().await;

    let quarantined = app.wait_logged("engine.quarantined", 1).await;
    assert_eq!(quarantined.len(), 1);
    assert_eq!(app.daemon().store().unhandled_count().await.unwrap(), 0);
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    app.wait_chat("pong").await;
}
