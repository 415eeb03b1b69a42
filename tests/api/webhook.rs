//! The webhook: what it takes, what it refuses, and that it keeps serving.

use qunbot::gateway::onebot::signature;
use qunbot::store::ReadModel;
use serde_json::json;

use crate::helpers::{spawn_app, SECRET};

#[tokio::test]
async fn a_signed_group_message_is_logged_with_its_group_and_user() {
    let mut app = spawn_app().await;
    let event = app.says("大家好");
    assert_eq!(app.push(&event).await, 204);

    let rows = app.logged("message.group").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].direction, "in");
    assert_eq!(rows[0].account.as_deref(), Some("10001000"));
    assert_eq!(rows[0].group_id.as_deref(), Some("123456"));
    assert_eq!(rows[0].user_id.as_deref(), Some("20001"));
    assert_eq!(rows[0].detail["body"]["message"][0]["text"], "大家好");
}

#[tokio::test]
async fn unsigned_forged_malformed_and_oversized_pushes_are_refused_and_not_logged() {
    let mut app = spawn_app().await;
    let body = serde_json::to_vec(&app.says("/ping")).unwrap();

    let missing = app.sim.push_raw(body.clone(), None).await.unwrap();
    let forged_sig = signature::sign(b"not-the-secret", &body);
    let forged = app
        .sim
        .push_raw(body.clone(), Some(forged_sig))
        .await
        .unwrap();
    let junk = b"{\"post_type\": message".to_vec();
    let junk_sig = signature::sign(SECRET.as_bytes(), &junk);
    let malformed = app.sim.push_raw(junk, Some(junk_sig)).await.unwrap();
    let huge = vec![b' '; 2 * 1024 * 1024];
    let huge_sig = signature::sign(SECRET.as_bytes(), &huge);
    let oversized = app.sim.push_raw(huge, Some(huge_sig)).await.unwrap();

    assert_eq!(
        (missing, forged, malformed, oversized),
        (401, 403, 400, 413)
    );
    let answers: Vec<String> = app.sim.pushed().iter().map(|p| p.answer.clone()).collect();
    assert!(answers[2].starts_with("invalid event JSON"), "{answers:?}");
    assert!(app.logged("message.group").await.is_empty());

    // Still serving: the same event, properly signed, goes in.
    assert_eq!(app.push(&serde_json::from_slice(&body).unwrap()).await, 204);
    assert_eq!(app.logged("message.group").await.len(), 1);
    let health = reqwest::get(format!("http://{}/healthz", app.daemon().addr()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_lone_surrogate_escape_is_kept_as_a_replacement_character_not_refused() {
    let mut app = spawn_app().await;
    // JavaScript's JSON.stringify writes half an emoji this way.
    let text = serde_json::to_string(&app.says("好的PLACEHOLDER")).unwrap();
    let body = text.replace("PLACEHOLDER", "\\ud83d!").into_bytes();
    let sig = signature::sign(SECRET.as_bytes(), &body);
    assert_eq!(app.sim.push_raw(body, Some(sig)).await.unwrap(), 204);

    let rows = app.logged("message.group").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].detail["body"]["message"][0]["text"],
        "好的\u{fffd}!"
    );
}

#[tokio::test]
async fn a_self_id_header_that_contradicts_the_body_is_refused() {
    let mut app = spawn_app().await;
    let body = serde_json::to_vec(&app.says("hi")).unwrap();
    let status = reqwest::Client::new()
        .post(app.webhook_url())
        .header("x-self-id", "999")
        .header("x-signature", signature::sign(SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
    assert!(app.logged("message.group").await.is_empty());
}

#[tokio::test]
async fn both_message_encodings_are_logged_as_the_same_message() {
    let mut app = spawn_app().await;
    let (group, member) = (app.group.clone(), app.member.clone());
    let cq = app.events.group_message(
        &group,
        &member,
        json!("&#91;秒杀&#93;[CQ:at,qq=10001]看这里&amp;[CQ:face,id=178]"),
    );
    let array = app.events.group_message(
        &group,
        &member,
        json!([
            {"type": "text", "data": {"text": "[秒杀]"}},
            {"type": "at", "data": {"qq": "10001"}},
            {"type": "text", "data": {"text": "看这里&"}},
            {"type": "face", "data": {"id": "178"}}
        ]),
    );
    assert_eq!(app.push(&cq).await, 204);
    assert_eq!(app.push(&array).await, 204);

    let rows = app.logged("message.group").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].detail["body"]["message"],
        rows[1].detail["body"]["message"]
    );
    assert_eq!(rows[0].detail["body"]["message"][0]["text"], "[秒杀]");
}

#[tokio::test]
async fn event_types_qunbot_does_not_handle_are_accepted_and_logged() {
    let app = spawn_app().await;
    let upload = app
        .events
        .file_uploaded(&app.group, &app.member, "清单.xlsx");
    assert_eq!(app.push(&upload).await, 204);
    let odd = json!({"time": 1, "self_id": 10001000, "post_type": "message_sent", "message_type": "group"});
    assert_eq!(app.push(&odd).await, 204);

    let rows = app.logged("unhandled.notice.group_upload").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].detail["body"]["raw"]["file"]["name"], "清单.xlsx");
    assert_eq!(app.logged("unhandled.message_sent.group").await.len(), 1);
}

#[tokio::test]
async fn joins_and_messages_fill_the_member_table_once_handled() {
    let mut app = spawn_app().await;
    let joined = app.events.joined(&app.group, &app.member, None);
    assert_eq!(app.push(&joined).await, 204);
    let said = app.says("你好");
    assert_eq!(app.push(&said).await, 204);
    // The member table is written with the engine's batch, after the 204.
    let group = app.group.clone();
    app.barrier(&group).await;

    let member = app
        .daemon()
        .store()
        .member(&10001000.into(), &123456.into(), &20001.into())
        .await
        .unwrap()
        .expect("the member is known");
    assert!(member.joined_at.is_some() && member.last_spoke_at.is_some());
    assert_eq!(member.nickname.as_deref(), Some("小红"));
    assert_eq!(member.role.as_deref(), Some("member"));
}

#[tokio::test]
async fn a_fifty_megabyte_body_is_refused_with_413_and_the_daemon_keeps_serving() {
    let mut app = spawn_app().await;
    let huge = vec![b'['; 50 * 1024 * 1024];
    let sig = signature::sign(SECRET.as_bytes(), &huge);
    assert_eq!(app.sim.push_raw(huge, Some(sig)).await.unwrap(), 413);
    let event = app.says("还在吗");
    assert_eq!(app.push(&event).await, 204);
}

#[tokio::test]
async fn json_nested_a_hundred_thousand_deep_is_refused_with_400_and_the_daemon_keeps_serving() {
    let mut app = spawn_app().await;
    let depth = 100_000;
    let nested = format!(
        r#"{{"time":1,"self_id":10001000,"post_type":"mystery","payload":{}1{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let sig = signature::sign(SECRET.as_bytes(), nested.as_bytes());
    let status = app
        .sim
        .push_raw(nested.into_bytes(), Some(sig))
        .await
        .unwrap();
    assert_eq!(status, 400);
    let event = app.says("还在吗");
    assert_eq!(app.push(&event).await, 204);
}
