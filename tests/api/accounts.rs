//! Accounts known from the start, the reverse WebSocket, several accounts:
//! over real sockets on loopback, through the simulator.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use qunbot::simulator::events::{id_text, EventFactory, VirtualMember};
use qunbot::simulator::ws::{closed_with, dial};
use serde_json::{json, Value};

use crate::helpers::{eventually, reply_to, spawn_app_configured, spawn_app_with_gateway, TOKEN};

/// The account of the WeChat bridge that dials in.
const BRIDGE: &str = "wxid_bot2";

/// The default gateway dials in over the reverse WebSocket; the simulator's
/// own account (10001000) keeps its HTTP gateway.
const WS_GATEWAY: &str = r#"transport = "ws-reverse"
[[gateway.accounts]]
self_id = 10001000
api_url = "${QUNBOT_GATEWAY_API_URL}"
access_token = "${QUNBOT_ACCESS_TOKEN}""#;

/// A daemon whose HTTP account is in the numeric group only: the WeChat group
/// is the bridge's alone.
async fn bridge_owns_the_wechat_group() -> crate::helpers::TestApp {
    let mut app = spawn_app_with_gateway(WS_GATEWAY).await;
    app.wait_synced().await;
    app.sim.leave_group(app.wechat_group.clone());
    app.restart_daemon().await;
    // The restart's sync has taken the HTTP account out of the WeChat group.
    app.wait_logged("sync.account", 2).await;
    app.wait_all_handled().await;
    app
}

#[tokio::test]
async fn a_fresh_databases_flash_sale_posts_in_a_group_no_one_has_spoken_in() {
    let local = (Utc::now() + Duration::hours(1)).with_timezone(&chrono_tz::Asia::Shanghai);
    let sale = format!(
        r#"
[schedule]
quiet_hours = ""

[[flash_sales]]
id = "luosifen"
title = "螺蛳粉限时秒杀"
starts_at = "{}"
duration = "30m"
remind_before = ["10m"]
groups = [123456]
"#,
        local.format("%Y-%m-%d %H:%M:%S")
    );
    let app = spawn_app_configured(&sale, None).await;
    // Nobody speaks: the account is known from the gateway's group list.
    app.wait_synced().await;

    app.skip(Duration::minutes(50));
    app.wait_chat("【预告】").await;
    app.skip(Duration::minutes(10));
    app.wait_chat("【开抢】").await;
    assert!(
        app.logged("schedule.missed").await.is_empty(),
        "{:?}",
        app.logged("schedule.missed").await
    );
    assert!(app.logged("message.group").await.is_empty(), "nobody spoke");
}

#[tokio::test]
async fn two_accounts_one_over_http_one_over_reverse_websocket_each_answer_in_their_own_group() {
    let mut app = bridge_owns_the_wechat_group().await;
    let wechat = app.wechat_group.clone();
    let bridge = app
        .ws_bridge(json!(BRIDGE), &[(wechat.clone(), "微信群")])
        .await;

    // Over HTTP, as before.
    let group = app.group.clone();
    let http_pong = app.barrier(&group).await;
    assert_eq!(http_pong.params["group_id"], json!(123456));

    // Over the socket: the event comes in on it, the answer goes out on it.
    let mut events = EventFactory::new(json!(BRIDGE));
    let ping = events.group_message(&wechat, &app.wechat_member, json!("/ping"));
    bridge.push(&ping).await.unwrap();
    eventually("the bridge carries out the pong", || async {
        reply_to(&bridge, &ping).is_some()
    })
    .await;
    assert!(
        app.sim
            .performed("send_group_msg")
            .iter()
            .all(|c| c.params["group_id"] != wechat),
        "nothing for the bridge's group went over HTTP"
    );
    let logged = app.wait_logged("message.group", 2).await;
    let accounts: Vec<_> = logged.iter().filter_map(|e| e.account.clone()).collect();
    assert!(accounts.contains(&BRIDGE.to_string()), "{accounts:?}");
    // The bridge's groups were synced over its socket.
    eventually("the bridge's account is synced", || async {
        app.logged("sync.account")
            .await
            .iter()
            .any(|e| e.account.as_deref() == Some(BRIDGE))
    })
    .await;
}

#[tokio::test]
async fn a_second_socket_for_the_same_account_and_a_bad_token_are_refused_with_1008() {
    let app = spawn_app_with_gateway(WS_GATEWAY).await;
    let url = app.ws_url();
    let mut first = dial(&url, Some(BRIDGE), Some(TOKEN), "Universal")
        .await
        .expect("the first socket is taken");

    let mut second = dial(&url, Some(BRIDGE), Some(TOKEN), "Universal")
        .await
        .unwrap();
    let (code, reason) = closed_with(&mut second).await.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("already connected"), "{reason}");

    let mut forged = dial(&url, Some("wxid_other"), Some("not-the-token"), "Universal")
        .await
        .unwrap();
    assert_eq!(closed_with(&mut forged).await.map(|c| c.0), Some(1008));
    let mut anonymous = dial(&url, Some("wxid_other"), None, "Universal")
        .await
        .unwrap();
    assert_eq!(closed_with(&mut anonymous).await.map(|c| c.0), Some(1008));
    let mut nameless = dial(&url, None, Some(TOKEN), "Universal").await.unwrap();
    assert_eq!(closed_with(&mut nameless).await.map(|c| c.0), Some(1008));

    // The first socket still serves: the daemon asks it for the account sync.
    use futures_util::StreamExt;
    let call = tokio::time::timeout(StdDuration::from_secs(10), first.next())
        .await
        .expect("a call within the patience")
        .expect("a frame")
        .expect("readable");
    let call: Value = serde_json::from_str(call.to_text().unwrap()).unwrap();
    assert_eq!(call["action"], "get_login_info");
    assert!(call.get("echo").is_some());
}

#[tokio::test]
async fn a_bridge_that_drops_and_reconnects_mid_burst_loses_nothing_it_delivered_and_repeats_nothing(
) {
    let app = bridge_owns_the_wechat_group().await;
    let wechat = app.wechat_group.clone();
    let bridge = app
        .ws_bridge(json!(BRIDGE), &[(wechat.clone(), "微信群")])
        .await;
    let mut events = EventFactory::new(json!(BRIDGE));
    let members: Vec<VirtualMember> = (0..10)
        .map(|i| VirtualMember::new(format!("wxid_m{i}"), &format!("成员{i}"), "member"))
        .collect();

    let mut pings = Vec::new();
    let mut reconnected_at = 0;
    for round in 0..2 {
        for i in 0..30 {
            let ping = events.group_message(&wechat, &members[i % 10], json!("/ping"));
            bridge.push(&ping).await.unwrap();
            pings.push(ping);
        }
        if round == 0 {
            // Mid-burst: half the events stored, the rest maybe in flight,
            // the answers queued.
            eventually("half the first burst is stored", || async {
                app.logged("message.group").await.len() >= 15
            })
            .await;
            bridge.hang_up();
            bridge
                .dial_daemon(&app.ws_url())
                .await
                .expect("the bridge reconnects");
            reconnected_at = bridge.position();
        }
    }
    // Every ping the daemon stored is answered, once, in order, paced.
    let stored = |logged: &[qunbot::store::LoggedEvent]| -> Vec<String> {
        logged
            .iter()
            .filter(|e| e.kind == "message.group")
            .map(|e| id_text(&e.detail["body"]["message_id"]))
            .collect()
    };
    eventually("the pings stored are all answered", || async {
        let logged = app.logged("message.group").await;
        let answered = bridge.performed("send_group_msg").len();
        !logged.is_empty() && answered >= stored(&logged).len() && stored(&logged).len() >= 30
    })
    .await;
    let logged = app.logged("message.group").await;
    let stored = stored(&logged);
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "no event stored twice");
    let answered: Vec<String> = bridge
        .performed("send_group_msg")
        .iter()
        .map(|c| id_text(&c.params["message"][0]["data"]["id"]))
        .collect();
    assert_eq!(answered, stored, "each stored ping answered once, in order");
    let first_round: Vec<String> = pings[..30]
        .iter()
        .map(|p| id_text(&p["message_id"]))
        .collect();
    assert!(
        bridge
            .performed("send_group_msg")
            .iter()
            .any(|c| c.seq > reconnected_at
                && first_round.contains(&id_text(&c.params["message"][0]["data"]["id"]))),
        "answers queued while the bridge was away went out after it came back"
    );
    let config = app.daemon().config();
    let times: Vec<_> = bridge
        .performed("send_group_msg")
        .iter()
        .map(|c| c.at)
        .collect();
    for pair in times.windows(2) {
        assert!(
            (pair[1] - pair[0]).to_std().unwrap_or_default()
                // Times are taken as the bridge answers, so one call's jitter
                // shortens the gap to the next; a burst would be ~0.
                >= config.outbox.group_interval / 2,
            "paced, never a burst: {:?}",
            pair
        );
    }
}

#[tokio::test]
async fn three_send_timeouts_pause_automatic_posts_but_not_a_recall_and_the_pause_ends() {
    let announce_at =
        (Utc::now() + Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let config = crate::helpers::TEST_CONFIG.replace("timeout = \"2s\"", "timeout = \"300ms\"")
        + &format!(
            r#"
[admins]
users = [10001]

[notify]
every = "1s"

[filter]
words_file = "words.txt"

[schedule]
quiet_hours = ""

[[announcements]]
id = "evening"
at = "{announce_at}"
groups = [123456]
text = "今晚八点团购开始"
grace = "2h"
"#
        );
    let mut app = crate::helpers::spawn_app_with_config(&config).await;
    app.wait_synced().await;
    let group = app.group.clone();

    // The gateway stalls three sends, as NapCat does for a restricted account.
    app.sim.stall_sends(3, StdDuration::from_millis(600));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);
    let suspect = app.wait_logged("account.suspect", 1).await;
    assert_eq!(suspect.len(), 1);
    assert!(
        suspect[0].detail["body"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{:?}",
        suspect[0].detail
    );
    // The answer still goes out (answers never pause), and the operator is told once.
    app.wait_reply_to(&ping).await;
    let notices = app
        .sim
        .wait_for("send_private_msg", 1, crate::helpers::PATIENCE)
        .await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].params["user_id"], json!(10001));
    assert!(
        notices[0].params["message"].to_string().contains("风控"),
        "{:?}",
        notices[0].params
    );

    // A recall during the pause goes out.
    let member = app.member.clone();
    app.member_says(&member, "加群领红包").await;
    let recalls = app
        .sim
        .wait_for("delete_msg", 1, crate::helpers::PATIENCE)
        .await;
    assert_eq!(recalls.len(), 1);

    // The announcement due in the pause waits for its end…
    app.skip(Duration::minutes(10) + Duration::seconds(1));
    let deferred = app.wait_logged("schedule.deferred", 1).await;
    assert_eq!(deferred[0].detail["reason"], "account_suspect");
    app.barrier(&group).await;
    assert!(app.chat().iter().all(|t| !t.contains("今晚八点团购开始")));

    // …and goes out once it is over.
    app.skip(Duration::minutes(70));
    app.wait_chat("今晚八点团购开始").await;
    assert_eq!(app.sim.performed("send_private_msg").len(), 1, "told once");
    assert_eq!(app.logged("account.suspect").await.len(), 1);
}

/// A second QQ account of the shop's, in the same group as the first.
const SECOND: i64 = 10002000;

async fn two_accounts_in_one_group() -> (crate::helpers::TestApp, qunbot::simulator::Simulator) {
    let app = spawn_app_with_gateway(WS_GATEWAY).await;
    app.wait_synced().await;
    let bridge = app
        .ws_bridge(json!(SECOND), &[(json!(123456), "测试群")])
        .await;
    eventually("the second account is synced", || async {
        app.logged("sync.account")
            .await
            .iter()
            .any(|e| e.account.as_deref() == Some("10002000"))
    })
    .await;
    (app, bridge)
}

/// The same member's `/ping` as each account's gateway reports it: the same
/// time and text, each with the message id its own account gave it.
fn both_copies(app: &mut crate::helpers::TestApp) -> (Value, Value) {
    let group = app.group.clone();
    let member = app.member.clone();
    let first = app.events.group_message(&group, &member, json!("/ping"));
    let mut second = first.clone();
    second["self_id"] = json!(SECOND);
    second["message_id"] = json!(900_001);
    (first, second)
}

#[tokio::test]
async fn two_accounts_in_one_group_log_a_message_once_and_answer_it_once() {
    let (mut app, bridge) = two_accounts_in_one_group().await;
    let (first, second) = both_copies(&mut app);
    // The second account's copy comes first and is the one taken.
    bridge.push(&second).await.unwrap();
    app.wait_logged("message.group", 1).await;
    assert_eq!(
        app.push(&first).await,
        204,
        "the copy is answered as a redelivery"
    );
    let group = app.group.clone();
    app.barrier(&group).await;
    // The answer goes out through the group's voice, which does not know the
    // second account's id for the message: it does not quote it.
    assert!(
        app.sim
            .performed("send_group_msg")
            .iter()
            .all(|c| !c.params["message"].to_string().contains("900001")),
        "{:?}",
        app.sim.performed("send_group_msg")
    );
    let pongs = |sim: &qunbot::simulator::Simulator| {
        sim.performed("send_group_msg")
            .iter()
            .filter(|c| crate::helpers::text_of(&c.params["message"]).contains("pong"))
            .count()
    };
    assert_eq!(
        pongs(&app.sim),
        2,
        "the ping's pong and the barrier's, from the first account"
    );
    assert_eq!(pongs(&bridge), 0, "the second account stays quiet");
    let pings: Vec<_> = app
        .logged("message.group")
        .await
        .into_iter()
        .filter(|e| e.user_id.as_deref() == Some("20001"))
        .collect();
    assert_eq!(pings.len(), 1, "logged once");
    assert_eq!(pings[0].account.as_deref(), Some("10001000"));
}

#[tokio::test]
async fn a_pinned_account_is_the_one_voice_of_its_group() {
    let (mut app, bridge) = two_accounts_in_one_group().await;
    // Pin the group to the second account and reload.
    let config = std::fs::read_to_string(&app.config_path).unwrap().replacen(
        "id = 123456\nname = \"测试群\"",
        &format!("id = 123456\nname = \"测试群\"\naccount = {SECOND}"),
        1,
    );
    std::fs::write(&app.config_path, config).unwrap();
    app.daemon().reload();
    eventually("the pin is in force", || async {
        app.daemon().config().groups[0].account.is_some()
    })
    .await;
    let (first, second) = both_copies(&mut app);
    assert_eq!(app.push(&first).await, 204);
    bridge.push(&second).await.unwrap();
    eventually("the pinned account answers", || async {
        bridge
            .performed("send_group_msg")
            .iter()
            .any(|c| crate::helpers::text_of(&c.params["message"]).contains("pong"))
    })
    .await;
    assert!(app
        .sim
        .performed("send_group_msg")
        .iter()
        .all(|c| !crate::helpers::text_of(&c.params["message"]).contains("pong")));
}

#[tokio::test]
async fn a_bridge_silent_for_three_heartbeat_intervals_is_marked_disconnected_and_may_dial_again() {
    let app = bridge_owns_the_wechat_group().await;
    let bridge = app
        .ws_bridge(json!(BRIDGE), &[(app.wechat_group.clone(), "微信群")])
        .await;
    let heartbeat = json!({
        "time": Utc::now().timestamp(), "self_id": BRIDGE, "post_type": "meta_event",
        "meta_event_type": "heartbeat", "status": {"online": true, "good": true}, "interval": 100,
    });
    bridge.push(&heartbeat).await.unwrap();
    // Then nothing, the socket still open (a NAT that dropped the mapping).
    let down = |rows: &[qunbot::store::LoggedEvent]| {
        rows.iter()
            .filter(|e| e.detail["body"]["connected"] == false)
            .map(|e| e.detail["body"]["reason"].clone())
            .collect::<Vec<_>>()
    };
    eventually("the silent bridge is marked disconnected", || async {
        !down(&app.logged("account.link").await).is_empty()
    })
    .await;
    // Its place is given up, so the bridge can dial again.
    eventually("the silent socket is closed", || async {
        !bridge.is_dialled()
    })
    .await;
    assert_eq!(
        down(&app.logged("account.link").await),
        vec![json!("silent for three heartbeat intervals")]
    );
    bridge
        .dial_daemon(&app.ws_url())
        .await
        .expect("the bridge dials again and is taken");
}

#[tokio::test]
async fn metrics_count_events_sends_and_accounts_in_prometheus_text() {
    let mut app = spawn_app_configured("[filter]\nwords_file = \"words.txt\"\n", None).await;
    app.wait_synced().await;
    let group = app.group.clone();
    app.barrier(&group).await;
    let member = app.member.clone();
    app.member_says(&member, "加群领福利").await;
    app.barrier(&group).await;
    let text = reqwest::get(format!("http://{}/metrics", app.daemon().addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    };
    // Pushed: two barriers and a message. Handled: those and the account sync.
    assert_eq!(
        value("qunbot_events_received_total{account=\"10001000\"}"),
        3.0
    );
    assert!(value("qunbot_events_handled_total{account=\"10001000\"}") >= 4.0);
    // The two pongs and the warning.
    assert_eq!(
        value("qunbot_outbox_outcomes_total{account=\"10001000\",action=\"send_group_msg\",outcome=\"delivered\"}"),
        3.0
    );
    assert_eq!(value("qunbot_filter_hits_total{category=\"ad\"}"), 1.0);
    assert_eq!(
        value("qunbot_account_state{account=\"10001000\",state=\"running\"}"),
        1.0
    );
    assert!(
        text.contains("# TYPE qunbot_unhandled_events gauge"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn a_bridge_on_the_split_roles_sends_events_on_one_socket_and_takes_calls_on_the_other() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let app = bridge_owns_the_wechat_group().await;
    let base = app.ws_url();
    let mut api = dial(&format!("{base}/api"), Some(BRIDGE), Some(TOKEN), "API")
        .await
        .unwrap();
    let mut events = dial(&format!("{base}/event"), Some(BRIDGE), Some(TOKEN), "Event")
        .await
        .unwrap();
    // The API socket gets the account sync's calls; answer them.
    for _ in 0..2 {
        let call = tokio::time::timeout(StdDuration::from_secs(10), api.next())
            .await
            .expect("a call")
            .unwrap()
            .unwrap();
        let call: Value = serde_json::from_str(call.to_text().unwrap()).unwrap();
        let data = match call["action"].as_str().unwrap() {
            "get_login_info" => json!({"user_id": BRIDGE, "nickname": "桥"}),
            _ => json!([{"group_id": "35214638@chatroom", "group_name": "微信群"}]),
        };
        let answer = json!({"status": "ok", "retcode": 0, "data": data, "echo": call["echo"]});
        api.send(Message::text(answer.to_string())).await.unwrap();
    }
    // A /ping on the event socket is answered on the API socket.
    let mut factory = EventFactory::new(json!(BRIDGE));
    let ping = factory.group_message(&app.wechat_group, &app.wechat_member, json!("/ping"));
    events.send(Message::text(ping.to_string())).await.unwrap();
    let call = loop {
        let frame = tokio::time::timeout(StdDuration::from_secs(10), api.next())
            .await
            .expect("the pong's call")
            .unwrap()
            .unwrap();
        let call: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        if call["action"] == "send_group_msg" {
            break call;
        }
    };
    assert_eq!(call["params"]["group_id"], json!("35214638@chatroom"));
    assert!(call["params"]["message"].to_string().contains("pong"));
    // A second event socket for the account is refused.
    let mut again = dial(&format!("{base}/event"), Some(BRIDGE), Some(TOKEN), "Event")
        .await
        .unwrap();
    assert_eq!(closed_with(&mut again).await.map(|c| c.0), Some(1008));
}

#[tokio::test]
async fn junk_and_forged_frames_on_the_socket_are_dropped_and_the_socket_keeps_serving() {
    let app = bridge_owns_the_wechat_group().await;
    let bridge = app
        .ws_bridge(json!(BRIDGE), &[(app.wechat_group.clone(), "微信群")])
        .await;
    let mut factory = EventFactory::new(json!(BRIDGE));
    let mut forged = factory.group_message(&app.wechat_group, &app.wechat_member, json!("冒充"));
    forged["self_id"] = json!("wxid_someone_else");
    for junk in [json!("{\"post_type\": "), json!([1, 2, 3]), forged] {
        bridge.push(&junk).await.unwrap();
    }
    let ping = factory.group_message(&app.wechat_group, &app.wechat_member, json!("/ping"));
    bridge.push(&ping).await.unwrap();
    eventually("the ping after the junk is answered", || async {
        reply_to(&bridge, &ping).is_some()
    })
    .await;
    let logged = app.logged("message.group").await;
    assert_eq!(logged.len(), 1, "only the ping: {logged:?}");
}

#[tokio::test]
async fn events_on_the_socket_while_the_disk_is_full_are_stored_once_when_there_is_room() {
    let app = bridge_owns_the_wechat_group().await;
    let bridge = app
        .ws_bridge(json!(BRIDGE), &[(app.wechat_group.clone(), "微信群")])
        .await;
    let store = app.daemon().store().clone();
    store.refuse_writes(true).await.unwrap();
    let mut factory = EventFactory::new(json!(BRIDGE));
    let members: Vec<VirtualMember> = (0..20)
        .map(|i| VirtualMember::new(format!("wxid_full{i}"), &format!("成员{i}"), "member"))
        .collect();
    for m in &members {
        let said = factory.group_message(&app.wechat_group, m, json!("磁盘满的时候说的话"));
        bridge.push(&said).await.unwrap();
    }
    // Nothing can be written; the socket holds what it read.
    let metrics = format!("http://{}/metrics", app.daemon().addr());
    let series = format!("qunbot_socket_events_waiting{{account=\"{BRIDGE}\"}} ");
    eventually("the store refused events read from the socket", || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| n > 0)
    })
    .await;
    store.refuse_writes(false).await.unwrap();
    eventually("all twenty are stored", || async {
        app.logged("message.group").await.len() >= 20
    })
    .await;
    let logged = app.logged("message.group").await;
    let mut users: Vec<_> = logged.iter().filter_map(|e| e.user_id.clone()).collect();
    users.sort();
    users.dedup();
    assert_eq!((logged.len(), users.len()), (20, 20), "each stored once");
    assert!(bridge.is_dialled(), "the socket stayed open");
}
