//! `/ping`: the whole path, event in, action out through the outbox, both logged.

use crate::helpers::{spawn_app, text_of, TOKEN};
use qunbot::store::ReadModel;

#[tokio::test]
async fn ping_is_answered_pong_with_the_bearer_token_and_both_are_logged() {
    let mut app = spawn_app().await;
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    assert_eq!(app.logged("message.group").await.len(), 1);

    let group = app.group.clone();
    let pongs = app.messages_before_a_barrier(&group).await;
    assert_eq!(pongs.len(), 1);
    assert_eq!(text_of(&pongs[0].params["message"]), "pong");
    assert_eq!(pongs[0].params["group_id"], 123456);
    assert_eq!(pongs[0].token.as_deref(), Some(TOKEN));
    // It quotes the /ping it answers.
    assert_eq!(pongs[0].params["message"][0]["type"], "reply");
    assert_eq!(
        pongs[0].params["message"][0]["data"]["id"],
        ping["message_id"].to_string()
    );

    let out = app.logged("action.send_group_msg").await;
    assert_eq!(out.len(), 2, "the pong and the barrier's, each logged once");
    assert_eq!(out[0].detail["state"], "delivered");
    assert_eq!(out[0].group_id.as_deref(), Some("123456"));
}

#[tokio::test]
async fn string_ids_from_a_wechat_bridge_come_back_as_strings() {
    let mut app = spawn_app().await;
    let (group, member) = (app.wechat_group.clone(), app.wechat_member.clone());
    let ping = app
        .events
        .group_message(&group, &member, serde_json::json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);

    let pongs = app.messages_before_a_barrier(&group).await;
    assert_eq!(pongs.len(), 1);
    assert_eq!(pongs[0].params["group_id"], "35214638@chatroom");
    let logged = app.logged("message.group").await;
    assert_eq!(logged[0].user_id.as_deref(), Some("wxid_ahua"));
}

#[tokio::test]
async fn the_same_event_delivered_twice_is_logged_once_and_answered_once() {
    let mut app = spawn_app().await;
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    assert_eq!(app.push(&ping).await, 204);
    // And concurrently, as a gateway retrying on a timeout might.
    let (a, b) = tokio::join!(app.push(&ping), app.push(&ping));
    assert_eq!((a, b), (204, 204));
    // A 204 means logged (or recognised as a redelivery): the count is final.
    assert_eq!(app.logged("message.group").await.len(), 1);

    let group = app.group.clone();
    assert_eq!(app.messages_before_a_barrier(&group).await.len(), 1);
}

#[tokio::test]
async fn ping_in_a_group_qunbot_does_not_manage_is_logged_but_not_answered() {
    let mut app = spawn_app().await;
    let (stranger_group, member) = (serde_json::json!(999), app.member.clone());
    let ping = app
        .events
        .group_message(&stranger_group, &member, serde_json::json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);
    assert_eq!(app.logged("message.group").await.len(), 1);

    // The barrier is in a managed group (one qunbot does not manage would not
    // answer it); it still proves the engine acted on the ping before it.
    let managed = app.group.clone();
    assert!(app.messages_before_a_barrier(&managed).await.is_empty());
    assert_eq!(
        app.daemon().store().outbox_counts().await.unwrap(),
        vec![("delivered".to_string(), 1)],
        "nothing was queued but the barrier's pong"
    );
}

#[tokio::test]
async fn each_bot_account_is_answered_through_its_own_gateway() {
    let mut app = spawn_app().await;
    let second_gateway = qunbot::simulator::Simulator::start(
        crate::helpers::loopback(),
        qunbot::simulator::SimulatorOptions {
            access_token: Some("second-token".into()),
            secret: None,
            expose: false,
            self_id: Some(serde_json::json!("wxid_bot2")),
        },
    )
    .await
    .unwrap();
    // The WeChat group is the second account's alone (in a group both are in,
    // one of them speaks: see `accounts::two_accounts_in_one_group_*`).
    app.wait_synced().await;
    app.sim.leave_group(app.wechat_group.clone());
    second_gateway.join_group(app.wechat_group.clone(), "微信群");
    app.stop_daemon().await;
    let config = format!(
        "{}\n[[gateway.accounts]]\nself_id = \"wxid_bot2\"\napi_url = \"{}\"\naccess_token = \"second-token\"\n",
        crate::helpers::TEST_CONFIG,
        second_gateway.api_url()
    );
    std::fs::write(&app.config_path, config).unwrap();
    app.start_daemon().await;
    app.wait_logged("sync.account", 3).await;
    app.wait_all_handled().await;

    let mut second_account = qunbot::simulator::events::EventFactory::new("wxid_bot2");
    let (group, member) = (app.wechat_group.clone(), app.wechat_member.clone());
    let ping = second_account.group_message(&group, &member, serde_json::json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);
    let first_account_ping = app.says("/ping");
    assert_eq!(app.push(&first_account_ping).await, 204);

    let via_second = second_gateway
        .wait_for("send_group_msg", 1, crate::helpers::PATIENCE)
        .await;
    assert_eq!(via_second.len(), 1);
    assert_eq!(via_second[0].token.as_deref(), Some("second-token"));
    assert_eq!(via_second[0].params["group_id"], "35214638@chatroom");
    let numeric_group = app.group.clone();
    let via_default = app.messages_before_a_barrier(&numeric_group).await;
    assert_eq!(via_default.len(), 1);
    assert_eq!(via_default[0].params["group_id"], 123456);
    assert_eq!(second_gateway.performed("send_group_msg").len(), 1);
}
