//! Storage faults: while the database cannot write, the webhook answers 503 and
//! stores nothing half-way; once the fault clears the daemon recovers by itself,
//! and every event it answered 2xx is stored and acted on exactly once.

use qunbot::store::ReadModel;
use qunbot::store::{EventLog, Store, StoredEvent};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::future::join_all;
use qunbot::gateway::onebot::signature;
use serde_json::Value;

use crate::helpers::{eventually, spawn_app, spawn_app_configured, TestApp, PATIENCE, SECRET};

#[tokio::test]
async fn events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent() {
    events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent_on(spawn_app().await)
        .await;
}

/// The full disk through the store's fault seam, on `app`.
async fn events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent_on(
    mut app: TestApp,
) {
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
    app.wait_all_handled().await;
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
    app.wait_all_handled().await;
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    app.wait_chat("pong").await;
}

/// Another process's hold on the database: `BEGIN EXCLUSIVE` on a connection of
/// its own, as `sqlite3 qunbot.db` would take it, until [`HeldLock::release`].
struct HeldLock(rusqlite::Connection);

impl HeldLock {
    fn take(app: &TestApp) -> HeldLock {
        let conn = rusqlite::Connection::open(app.dir.path().join("qunbot.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        HeldLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").unwrap();
    }
}

const SHORT_BUSY_TIMEOUT: &str = "[storage]\nbusy_timeout = \"300ms\"";

/// Pushes `event` signed, straight over HTTP: the status and `Retry-After`.
async fn push_reading_retry_after(app: &TestApp, event: &Value) -> (u16, Option<String>) {
    let body = serde_json::to_vec(event).unwrap();
    let answer = reqwest::Client::new()
        .post(app.webhook_url())
        .header("content-type", "application/json")
        .header("x-signature", signature::sign(SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .unwrap();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (answer.status().as_u16(), retry_after)
}

async fn health(app: &TestApp) -> (u16, String) {
    let answer = reqwest::get(format!("http://{}/healthz", app.daemon().addr()))
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn healthz_is_unhealthy_while_the_database_cannot_write_and_healthy_once_it_can() {
    let app = spawn_app().await;
    assert_eq!(health(&app).await.0, 200);
    app.daemon().store().refuse_writes(true).await.unwrap();
    let (status, reason) = health(&app).await;
    assert_eq!(status, 503);
    assert!(
        reason.starts_with("unhealthy: cannot store events now"),
        "{reason}"
    );
    app.daemon().store().refuse_writes(false).await.unwrap();
    assert_eq!(health(&app).await, (200, "ok".to_string()));
}

#[tokio::test]
async fn while_another_process_holds_the_lock_events_get_503_with_retry_after_and_are_stored_once_resent(
) {
    a_held_lock_gets_503_within(SHORT_BUSY_TIMEOUT, PATIENCE).await;
}

/// The same with the default 10 s busy timeout: `cargo test -- --ignored lock`.
#[tokio::test]
#[ignore = "slow profile: the default busy timeout"]
async fn a_lock_held_past_the_default_busy_timeout_gets_503_within_twice_it() {
    a_held_lock_gets_503_within("", Duration::from_secs(25)).await;
}

/// Another process holds the database's lock while events arrive: each is
/// answered 503 with `Retry-After` within `bound`, and taken once resent.
async fn a_held_lock_gets_503_within(config: &str, bound: Duration) {
    let mut app = spawn_app_configured(config, None).await;
    let pings: Vec<Value> = (0..5).map(|i| app.says(&format!("/ping {i}"))).collect();
    let held = HeldLock::take(&app);

    let started = Instant::now();
    let answers = join_all(pings.iter().map(|p| push_reading_retry_after(&app, p))).await;
    assert!(
        answers.iter().all(|a| *a == (503, Some("1".to_string()))),
        "{answers:?}"
    );
    // Answered while the lock is still held: each waits at most twice the
    // busy timeout (its own batch's wait, behind the one before it), where
    // without a bound they would wait for the lock's release.
    assert!(started.elapsed() < bound, "answered within {bound:?}");
    let (status, reason) = health(&app).await;
    assert_eq!(status, 503, "{reason}");

    held.release();
    // The gateway resends what got no 2xx; each is stored and acted on once.
    for ping in &pings {
        assert_eq!(app.push(ping).await, 204);
    }
    assert_eq!(health(&app).await.0, 200, "recovered by itself");
    app.wait_chat_n("pong", 5).await;
    let group = app.group.clone();
    let before_barrier = app.messages_before_a_barrier(&group).await;
    assert_eq!(before_barrier.len(), 5, "one pong per ping");
    assert_eq!(app.logged("message.group").await.len(), 6);
}

#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_while_a_call_is_in_flight_does_not_send_it_twice() {
    let mut app = spawn_app_configured(SHORT_BUSY_TIMEOUT, None).await;
    app.sim.set_latency(Duration::from_millis(800));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    // Once the pong is queued the outbox calls at once; the call takes 800 ms,
    // during which the lock is taken: its outcome cannot be written.
    eventually("the pong is queued", || async {
        let counts = app.daemon().store().outbox_counts().await.unwrap();
        counts.iter().any(|c| c.name == "pending" && c.n > 0)
    })
    .await;
    let held = HeldLock::take(&app);
    app.sim.wait_for("send_group_msg", 1, PATIENCE).await;
    // The outbox tries to record the outcome as soon as the call returns, and
    // again on each pass. Three health probes refused, each after waiting out
    // the busy timeout behind the same lock, span several of those tries.
    for _ in 0..3 {
        assert_eq!(health(&app).await.0, 503);
    }
    held.release();
    app.sim.set_latency(Duration::ZERO);

    let group = app.group.clone();
    let sent = app.messages_before_a_barrier(&group).await;
    assert_eq!(sent.len(), 1, "the pong went out once: {sent:?}");
}

/// A 16 MiB tmpfs mounted for the test's life, where the test may mount one
/// (as root, as in CI); unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(under: &std::path::Path) -> Option<SmallDisk> {
        let path = under.join("small-disk");
        std::fs::create_dir(&path).ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { path })
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[tokio::test]
async fn a_disk_that_fills_up_while_running_gets_503_stores_nothing_half_and_recovers() {
    let mut app = spawn_app().await;
    let Some(disk) = SmallDisk::mount(app.dir.path()) else {
        // Not allowed to mount here: the same story through the store's fault
        // seam (`events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent`).
        eprintln!("cannot mount a tmpfs here; the fault seam tests cover a full disk");
        return events_pushed_while_the_disk_is_full_get_503_and_are_stored_once_resent_on(app)
            .await;
    };
    app.stop_daemon().await;
    let database = disk.path.join("qunbot.db");
    app.env = app
        .env
        .clone()
        .with("QUNBOT_DATABASE", database.display().to_string());
    app.start_daemon().await;

    let filler = disk.fill();
    let pings: Vec<Value> = (0..20).map(|i| app.says(&format!("/ping {i}"))).collect();
    for ping in &pings {
        assert_eq!(app.push(ping).await, 503, "refused while the disk is full");
    }
    let (status, reason) = health(&app).await;
    assert_eq!(status, 503, "{reason}");

    std::fs::remove_file(filler).unwrap();
    for ping in &pings {
        assert_eq!(app.push(ping).await, 204, "taken once there is room");
    }
    app.wait_chat_n("pong", 20).await;
    // Stored once each, and readable by a fresh reader after a restart.
    app.restart_daemon().await;
    assert_eq!(app.logged("message.group").await.len(), 20);
    app.wait_all_handled().await;
    app.stop_daemon().await;
    drop(disk);
}
