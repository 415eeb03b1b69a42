//! The outbox: nothing lost while the gateway is away, nothing sent twice.

use futures::future::join_all;
use qunbot::outbox::OutboxStore;
use qunbot::simulator::events::VirtualMember;
use qunbot::simulator::{Simulator, SimulatorOptions};
use qunbot::store::ReadModel;

use crate::helpers::{
    carried_out_before, eventually, spawn_app, spawn_app_with_api, text_of, TestApp, SECRET, TOKEN,
};

/// Waits (bounded) until the outbox's oldest pending action was tried `n` times.
async fn tried(app: &TestApp, n: i64) {
    eventually(&format!("the outbox tried {n} times"), || async {
        let pending = app.daemon().store().pending_actions(1).await.unwrap();
        pending.first().is_some_and(|a| a.attempts >= n)
    })
    .await;
}

/// Waits (bounded) until the simulator answered `n` calls with HTTP `status`.
async fn answered_with(app: &TestApp, status: u16, n: usize) {
    eventually(&format!("{n} calls answered {status}"), || async {
        app.sim
            .calls()
            .iter()
            .filter(|c| c.status == status)
            .count()
            >= n
    })
    .await;
}

#[tokio::test]
async fn a_pong_queued_while_the_gateway_is_down_arrives_exactly_once_when_it_returns() {
    // Reserve a port for the gateway: bound but not listening, so connections
    // are refused, and no other test can take the port while the gateway is down.
    let port_holder = tokio::net::TcpSocket::new_v4().unwrap();
    port_holder.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let gateway_addr = port_holder.local_addr().unwrap();
    let mut app = spawn_app_with_api(Some(format!("http://{gateway_addr}/"))).await;

    let ping = app.says("/ping");
    assert_eq!(
        app.push(&ping).await,
        204,
        "the event is accepted while the gateway is down"
    );
    // Refused connections are retried: let it fail more than once.
    tried(&app, 2).await;

    drop(port_holder);
    let gateway = Simulator::start(gateway_addr, SimulatorOptions::new(TOKEN, SECRET))
        .await
        .expect("the gateway comes back on its port");
    let group = app.group.clone();
    let barrier = app.barrier_through(&gateway, &group).await;

    let pongs = carried_out_before(&gateway, "send_group_msg", &barrier);
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
    // Tried, and tried again, while the gateway failed.
    answered_with(&app, 503, 2).await;
    app.sim.fail_with(None);

    let group = app.group.clone();
    assert_eq!(app.messages_before_a_barrier(&group).await.len(), 1);
}

#[tokio::test]
async fn an_action_pending_at_shutdown_is_sent_exactly_once_after_restart() {
    let mut app = spawn_app().await;
    app.sim.fail_with(Some(503));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    // The outbox tried before the stop.
    answered_with(&app, 503, 1).await;

    app.stop_daemon().await;
    app.sim.fail_with(None);
    app.start_daemon().await;
    assert_eq!(app.logged("message.group").await.len(), 1);

    let group = app.group.clone();
    let pongs = app.messages_before_a_barrier(&group).await;
    assert_eq!(pongs.len(), 1, "{pongs:?}");
    let out = app.logged("action.send_group_msg").await;
    assert_eq!(out.len(), 2, "the pong and the barrier's, each logged once");
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
    // The barrier's pong is refused too, but only after the first pong's turn
    // in the group's queue: a retry of it would come before.
    let group = app.group.clone();
    let barrier = app.barrier(&group).await;
    let calls_before = app
        .sim
        .calls()
        .iter()
        .filter(|c| c.seq < barrier.seq && c.action == "send_group_msg")
        .count();
    assert_eq!(calls_before, 1, "a refusal is final");
    let counts = app.daemon().store().outbox_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![("failed".to_string(), 2)],
        "the pong and the barrier's, closed"
    );
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
    let group = app.group.clone();
    assert_eq!(app.messages_before_a_barrier(&group).await.len(), 20);
}
