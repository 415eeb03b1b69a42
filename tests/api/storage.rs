//! Storage faults: while the database cannot write, the webhook answers 503 and
//! stores nothing half-way; once the fault clears the daemon recovers by itself,
//! and every event it answered 2xx is stored and acted on exactly once.

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
