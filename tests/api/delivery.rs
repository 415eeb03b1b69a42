//! The outbox: nothing lost while the gateway is away, nothing sent twice.

use std::time::Duration;

use futures::future::join_all;
use qunbot::simulator::events::VirtualMember;
use qunbot::simulator::{Simulator, SimulatorOptions};

use crate::helpers::{spawn_app, spawn_app_with_api, text_of, PATIENCE, SECRET, TOKEN};

#[tokio::test]
async fn a_pong_queued_while_the_gateway_is_down_arrives_exactly_once_when_it_returns() {
    // Reserve a port for the gateway, then leave it closed: connections are refused.
    let port_holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gateway_addr = port_holder.local_addr().unwrap();
    drop(port_holder);
    let mut app = spawn_app_with_api(Some(format!("http://{gateway_addr}/"))).await;

    let ping = app.says("/ping");
    assert_eq!(
        app.push(&ping).await,
        204,
        "the event is accepted while the gateway is down"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;

    let gateway = Simulator::start(gateway_addr, SimulatorOptions::new(TOKEN, SECRET))
        .await
        .expect("the gateway comes back on its port");
    gateway.wait_for("send_group_msg", 1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let pongs = gateway.performed("send_group_msg");
    assert_eq!(pongs.len(), 1, "{pongs:?}");
    assert_eq!(text_of(&pongs[0].params["message"]), "pong");
    let out = app.wait_logged("action.send_group_msg", 1).await;
    assert!(
        out[0].detail["attempts"].as_i64().unwrap() > 1,
        "{:?}",
        out[0].detail
    );
}

#[tokio::test]
async fn a_gateway_answering_503_is_retried_until_it_recovers() {
    let mut app = spawn_app().await;
    app.sim.fail_with(Some(503));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let refused = app.sim.calls().iter().filter(|c| c.status == 503).count();
    assert!(refused >= 1, "the outbox tried while the gateway failed");
    app.sim.fail_with(None);

    assert_eq!(app.pongs_after_settling(1).await.len(), 1);
}

#[tokio::test]
async fn an_action_pending_at_shutdown_is_sent_exactly_once_after_restart() {
    let mut app = spawn_app().await;
    app.sim.fail_with(Some(503));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while app.sim.calls().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !app.sim.calls().is_empty(),
        "the outbox tried before the stop"
    );

    app.stop_daemon().await;
    app.sim.fail_with(None);
    app.start_daemon().await;

    let pongs = app.pongs_after_settling(1).await;
    assert_eq!(pongs.len(), 1, "{pongs:?}");
    assert_eq!(app.logged("message.group").await.len(), 1);
    let out = app.wait_logged("action.send_group_msg", 1).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].detail["state"], "delivered");
}

#[tokio::test]
async fn an_action_the_gateway_refuses_is_logged_as_failed_not_retried() {
    let mut app = spawn_app().await;
    app.sim
        .refuse("send_group_msg", 100, "bot is muted in this group");
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);

    let out = app.wait_logged("action.send_group_msg", 1).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].detail["state"], "failed");
    assert!(
        out[0].detail["error"]
            .as_str()
            .unwrap()
            .contains("bot is muted"),
        "{:?}",
        out[0].detail
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.sim.calls().len(), 1, "a refusal is final");
    let counts = app.daemon().store().outbox_counts().await.unwrap();
    assert_eq!(counts, vec![("failed".to_string(), 1)]);
}

#[tokio::test]
async fn events_accepted_before_a_stop_are_all_logged_and_handled() {
    let mut app = spawn_app().await;
    // Twenty members, so no one is held back by the command cooldown.
    let pings: Vec<_> = (0..20)
        .map(|i| {
            let member = VirtualMember::new(30000 + i, &format!("会员{i}"), "member");
            app.events
                .group_message(&app.group, &member, serde_json::json!("/ping"))
        })
        .collect();
    let statuses = join_all(pings.iter().map(|p| app.sim.push(p))).await;
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(204))),
        "{statuses:?}"
    );
    app.restart_daemon().await;

    assert_eq!(app.logged("message.group").await.len(), 20);
    assert_eq!(app.pongs_after_settling(20).await.len(), 20);
}
