//! The simulator driven by hand, as a newcomer does with curl: an event pushed
//! through `POST /_simulator/push` reaches the daemon and is answered, and the
//! member list set through `/_simulator/members` is what the daemon's member
//! sync learns.

use qunbot::domain::Id;
use qunbot::simulator::{Simulator, SimulatorOptions};
use qunbot::store::ReadModel;
use serde_json::{json, Value};

use crate::helpers::{
    eventually, loopback, reply_to, spawn_app, spawn_app_configured, spawn_app_with_gateway,
    text_of, SECRET, TOKEN,
};

/// The bridge dials in over the reverse WebSocket; the simulator's own account
/// keeps its HTTP gateway.
const WS_GATEWAY: &str = r#"transport = "ws-reverse"
[[gateway.accounts]]
self_id = 10001000
api_url = "${QUNBOT_GATEWAY_API_URL}"
access_token = "${QUNBOT_ACCESS_TOKEN}""#;

/// What curl would do: a JSON body to one of the simulator's control routes.
async fn post(sim: &Simulator, route: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{route}", sim.addr()))
        .json(&body)
        .send()
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

#[tokio::test]
async fn a_message_pushed_by_hand_reaches_the_daemon_signed_and_is_answered() {
    let app = spawn_app().await;

    let (status, pushed) = post(
        &app.sim,
        "/_simulator/push",
        json!({"group": 123456, "user": 20001, "nickname": "小红", "text": "/ping"}),
    )
    .await;

    assert_eq!(status, 200, "{pushed}");
    assert_eq!(pushed["via"], "webhook");
    assert_eq!(pushed["status"], 204, "the daemon took the signed event");
    let event = &pushed["event"];
    assert_eq!(event["self_id"], 10001000);
    eventually("the daemon answers the /ping", || async {
        reply_to(&app.sim, event).is_some()
    })
    .await;
    let pong = reply_to(&app.sim, event).expect("the pong stays recorded");
    assert_eq!(text_of(&pong.params["message"]), "pong");
    assert_eq!(pong.params["group_id"], 123456);
}

#[tokio::test]
async fn a_push_by_hand_to_a_bridge_that_dialled_the_daemon_goes_over_its_socket() {
    // The WeChat group is the bridge's alone: the simulator's own account
    // (on HTTP) leaves it, and the daemon learns so at its restart.
    let mut app = spawn_app_with_gateway(WS_GATEWAY).await;
    app.wait_synced().await;
    app.sim.leave_group(app.wechat_group.clone());
    app.restart_daemon().await;
    app.wait_logged("sync.account", 2).await;
    let bridge = app
        .ws_bridge(json!("wxid_bot"), &[(json!("35214638@chatroom"), "微信群")])
        .await;

    let (status, pushed) = post(
        &bridge,
        "/_simulator/push",
        json!({"group": "35214638@chatroom", "user": "wxid_ahua", "text": "/ping"}),
    )
    .await;

    assert_eq!(status, 200, "{pushed}");
    assert_eq!(pushed["via"], "websocket");
    let event = &pushed["event"];
    eventually("the daemon answers over the bridge", || async {
        reply_to(&bridge, event).is_some()
    })
    .await;
    assert!(
        reply_to(&app.sim, event).is_none(),
        "the answer went through the account whose socket carried the message"
    );
}

#[tokio::test]
async fn a_push_with_nowhere_to_go_or_no_text_is_refused_with_the_reason() {
    let sim = Simulator::start(loopback(), SimulatorOptions::new(TOKEN, SECRET))
        .await
        .expect("the simulator starts");

    let (status, why) = post(&sim, "/_simulator/push", json!({"user": 1, "text": "hi"})).await;
    assert_eq!(status, 409);
    assert!(why.to_string().contains("--webhook"), "{why}");

    let (status, why) = post(&sim, "/_simulator/push", json!({"user": 1})).await;
    assert_eq!(status, 400);
    assert!(why.to_string().contains("text"), "{why}");
    sim.stop().await;
}

#[tokio::test]
async fn the_member_sync_learns_the_members_set_by_hand() {
    let mut app = spawn_app_configured(
        "[reactivation]\nscan = \"0 0 10 1 1 * 2099\"\nvariants = [{ id = \"a\", text = \"{mentions} 好久不见\" }]\n",
        None,
    )
    .await;
    let month_ago = chrono::Utc::now().timestamp() - 30 * 86_400;

    let (status, answer) = post(
        &app.sim,
        "/_simulator/members",
        json!({"group": 123456, "members": [
            {"user_id": 10001000, "nickname": "群助手", "role": "admin"},
            {"user_id": 30001, "nickname": "潜水员", "join_time": month_ago},
            {"user_id": 30002, "nickname": "群管", "role": "admin", "join_time": month_ago},
        ]}),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let listed = reqwest::get(format!(
        "http://{}/_simulator/members?group=123456",
        app.sim.addr()
    ))
    .await
    .expect("the simulator answers")
    .json::<Vec<Value>>()
    .await
    .expect("a JSON list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1]["group_id"], 123456, "defaults filled in");

    // The first message from the group makes the daemon read its member list.
    let group = app.group.clone();
    app.barrier(&group).await;
    app.wait_logged("sync.member_list", 1).await;
    let store = app.daemon().store();
    let (bot, group) = (Id::number(10001000), Id::number(123456));
    eventually("the listed members known to the daemon", || async {
        let diver = store.member(&bot, &group, &Id::number(30001)).await;
        let admin = store.member(&bot, &group, &Id::number(30002)).await;
        matches!((diver, admin), (Ok(Some(_)), Ok(Some(_))))
    })
    .await;
    let diver = store
        .member(&bot, &group, &Id::number(30001))
        .await
        .expect("the members table is readable")
        .expect("the diver is known");
    assert_eq!(diver.nickname.as_deref(), Some("潜水员"));
}
