//! `/ping`: the whole path, event in, action out through the outbox, both logged.

use crate::helpers::{spawn_app, text_of, TOKEN};

#[tokio::test]
async fn ping_is_answered_pong_with_the_bearer_token_and_both_are_logged() {
    let mut app = spawn_app().await;
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);

    let pongs = app.pongs_after_settling(1).await;
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

    assert_eq!(app.logged("message.group").await.len(), 1);
    let out = app.wait_logged("action.send_group_msg", 1).await;
    assert_eq!(out.len(), 1);
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

    let pongs = app.pongs_after_settling(1).await;
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

    assert_eq!(app.pongs_after_settling(1).await.len(), 1);
    assert_eq!(app.logged("message.group").await.len(), 1);
}

#[tokio::test]
async fn ping_in_a_group_qunbot_does_not_manage_is_logged_but_not_answered() {
    let mut app = spawn_app().await;
    let (stranger_group, member) = (serde_json::json!(999), app.member.clone());
    let ping = app
        .events
        .group_message(&stranger_group, &member, serde_json::json!("/ping"));
    assert_eq!(app.push(&ping).await, 204);

    assert!(app.pongs_after_settling(0).await.is_empty());
    assert_eq!(app.logged("message.group").await.len(), 1);
}

#[tokio::test]
async fn each_bot_account_is_answered_through_its_own_gateway() {
    let mut app = spawn_app().await;
    let second_gateway = qunbot::simulator::Simulator::start(
        crate::helpers::loopback(),
        qunbot::simulator::SimulatorOptions {
            access_token: Some("second-token".into()),
            secret: None,
        },
    )
    .await
    .unwrap();
    app.stop_daemon().await;
    let config = format!(
        "{}\n[[gateway.accounts]]\nself_id = \"wxid_bot2\"\napi_url = \"{}\"\naccess_token = \"second-token\"\n",
        crate::helpers::TEST_CONFIG,
        second_gateway.api_url()
    );
    std::fs::write(&app.config_path, config).unwrap();
    app.start_daemon().await;

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
    let via_default = app.pongs_after_settling(1).await;
    assert_eq!(via_default.len(), 1);
    assert_eq!(via_default[0].params["group_id"], 123456);
    assert_eq!(second_gateway.performed("send_group_msg").len(), 1);
}
