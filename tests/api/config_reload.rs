//! Operators edit `bot-config.toml` while the daemon runs, and run `qunbot check`.

use qunbot::store::ReadModel;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::helpers::{
    eventually, save_like_an_editor, spawn_app, DaemonProcess, TestApp, TEST_CONFIG,
};

pub fn qunbot_check(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .args(["check", "--config"])
        .arg(config)
        .env("QUNBOT_ACCESS_TOKEN", "t")
        .env("QUNBOT_SECRET", "s")
        .output()
        .unwrap()
}

/// Pushes a `/ping` in `group` and waits (bounded) for its pong.
async fn ping_is_answered_in(app: &mut TestApp, group: serde_json::Value) {
    let member = app.member.clone();
    let ping = app.events.group_message(&group, &member, json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);
    app.wait_reply_to(&ping).await;
}

/// Pushes a `/ping` in `group` and checks, once a barrier in the numeric group
/// shows the engine has acted on it, that nothing was queued for it.
async fn ping_is_ignored_in(app: &mut TestApp, group: serde_json::Value) {
    let before = actions_queued(app).await;
    let member = app.member.clone();
    let ping = app.events.group_message(&group, &member, json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);
    let numeric_group = app.group.clone();
    app.barrier(&numeric_group).await;
    assert_eq!(
        actions_queued(app).await,
        before + 1,
        "only the barrier's pong was queued"
    );
}

/// How many actions the outbox ever took, in any state.
async fn actions_queued(app: &TestApp) -> i64 {
    let counts = app.daemon().store().outbox_counts().await.unwrap();
    counts.iter().map(|c| c.n).sum()
}

#[tokio::test]
async fn a_broken_edit_is_refused_with_its_position_and_the_old_config_keeps_serving() {
    let mut app = spawn_app().await;
    let broken = TEST_CONFIG.replace("[outbox]", "[outbox]\nsend_faster = true");
    save_like_an_editor(&app.config_path, &broken);

    let problem = app.first_rejection().await;
    let line = TEST_CONFIG.lines().position(|l| l == "[outbox]").unwrap() + 2;
    assert!(problem.ends_with(&format!("bot-config.toml:{line}:1: unknown field `send_faster`, expected one of `group_interval`, `account_interval`, `retry_initial`, `retry_max`, `give_up_after`, `group_messages_per_minute`, `account_daily_cap`, `risk_timeouts`, `risk_window`, `risk_pause`")), "{problem}");

    // The old config still serves.
    ping_is_answered_in(&mut app, json!(123456)).await;
    assert!(app.logged("config.reloaded").await.is_empty());
}

#[tokio::test]
async fn a_valid_edit_takes_effect_within_seconds() {
    let mut app = spawn_app().await;
    // 777 is not managed yet.
    ping_is_ignored_in(&mut app, json!(777)).await;

    let more_groups = format!("{TEST_CONFIG}\n[[groups]]\nid = 777\nname = \"新群\"\n");
    save_like_an_editor(&app.config_path, &more_groups);
    assert_eq!(app.wait_logged("config.reloaded", 1).await.len(), 1);
    assert!(app.daemon().config().is_managed(&777.into()));

    // The new group is served.
    ping_is_answered_in(&mut app, json!(777)).await;
}

#[tokio::test]
async fn qunbot_check_reports_a_broken_file_with_line_and_column_and_exit_code_2() {
    let app = spawn_app().await;
    let broken = TEST_CONFIG.replace("timeout = \"2s\"", "timeout = \"two seconds\"");
    std::fs::write(&app.config_path, &broken).unwrap();

    let output = qunbot_check(&app.config_path);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = broken
        .lines()
        .position(|l| l.starts_with("timeout"))
        .unwrap()
        + 1;
    let expected = format!(
        "{}:{line}:11: `two seconds` is not a duration",
        app.config_path.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");

    std::fs::write(&app.config_path, TEST_CONFIG).unwrap();
    let output = qunbot_check(&app.config_path);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid; 2 managed group(s)"));
}

#[tokio::test]
async fn the_daemon_binary_reloads_on_sighup_and_exits_cleanly_on_sigterm() {
    let app = spawn_app().await;
    let dir = app.dir.path();
    let config = dir.join("daemon.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    let daemon = DaemonProcess::start(&app, &config, &dir.join("daemon.db")).await;

    daemon.signal("HUP");
    let store = qunbot::store::Store::open(&dir.join("daemon.db"))
        .await
        .unwrap();
    eventually("SIGHUP reloaded the config", || async {
        !store
            .events_of_kind("config.reloaded")
            .await
            .unwrap()
            .is_empty()
    })
    .await;

    // Exits 0 on SIGTERM.
    daemon.stop().await;
}
