//! Admin and member commands over the simulator.

use qunbot::simulator::events::VirtualMember;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, PATIENCE};

fn admin() -> VirtualMember {
    VirtualMember::new(60001, "群管", "admin")
}

async fn command(app: &mut TestApp, from: &VirtualMember, segments: serde_json::Value) {
    let event = app.events.group_message(&app.group, from, segments);
    assert_eq!(app.push(&event).await, 204);
}

fn mute(target: &VirtualMember, duration: &str) -> serde_json::Value {
    json!([
        {"type": "text", "data": {"text": "/mute "}},
        {"type": "at", "data": {"qq": target.id.to_string()}},
        {"type": "text", "data": {"text": format!(" {duration}")}}
    ])
}

#[tokio::test]
async fn an_admins_mute_bans_the_member_for_ten_minutes() {
    let mut app = spawn_app().await;
    let target = app.member.clone();
    command(&mut app, &admin(), mute(&target, "10m")).await;

    let bans = app.sim.wait_for("set_group_ban", 1, PATIENCE).await;
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].params["user_id"], json!(target.id));
    assert_eq!(bans[0].params["duration"], 600);
    app.wait_chat("已禁言").await;
}

#[tokio::test]
async fn a_members_mute_is_refused_and_nobody_is_banned() {
    let mut app = spawn_app().await;
    let (member, target) = (
        app.member.clone(),
        VirtualMember::new(60002, "路人", "member"),
    );
    command(&mut app, &member, mute(&target, "10m")).await;

    app.wait_chat("只有管理员可以使用").await;
    assert!(app.sim.performed("set_group_ban").is_empty());
    assert_eq!(app.wait_logged("command.refused", 1).await.len(), 1);
}

#[tokio::test]
async fn bad_arguments_get_a_usage_line_and_no_action() {
    let mut app = spawn_app().await;
    let target = app.member.clone();
    command(&mut app, &admin(), mute(&target, "forever")).await;
    command(&mut app, &admin(), json!("/mute 10m")).await;
    command(&mut app, &admin(), json!("/mutee")).await;

    app.wait_chat("你是不是想用 /禁言").await;
    let chat = app.chat();
    assert_eq!(
        chat.iter()
            .filter(|t| t.contains("用法：/禁言 @成员 时长"))
            .count(),
        2,
        "{chat:?}"
    );
    assert!(app.sim.performed("set_group_ban").is_empty());
}

#[tokio::test]
async fn a_mute_the_gateway_refuses_is_reported_back_in_the_chat() {
    let mut app = spawn_app().await;
    app.sim.refuse("set_group_ban", 102, "bot is not an admin");
    let target = app.member.clone();
    command(&mut app, &admin(), mute(&target, "10m")).await;

    let chat = app.wait_chat("操作没有成功").await;
    let report = chat.iter().find(|t| t.contains("操作没有成功")).unwrap();
    assert!(report.contains("bot is not an admin"), "{report}");
    let failed = app.wait_logged("action.set_group_ban", 1).await;
    assert_eq!(failed[0].detail["state"], "failed");
}

#[tokio::test]
async fn every_member_command_is_answered() {
    let mut app = spawn_app().await;
    let member = app.member.clone();
    for (typed, expect) in [
        ("/help", "可用命令"),
        ("/rules", "群规"),
        ("/tasks", "你没有新人任务"),
        ("/points", "你当前有 0 积分"),
        ("/rank", "还没有人获得积分"),
        ("/排行", "还没有人获得积分"),
    ] {
        command(&mut app, &member, json!(typed)).await;
        let chat = app.wait_chat(expect).await;
        assert!(chat.iter().any(|t| t.contains(expect)), "{typed}: {chat:?}");
    }
    let help = app
        .chat()
        .into_iter()
        .find(|t| t.contains("可用命令"))
        .unwrap();
    assert!(
        !help.contains("/mute"),
        "members are not offered admin commands: {help}"
    );
}

#[tokio::test]
async fn an_admins_help_leaves_the_admin_list_out_of_the_group_and_sends_it_privately() {
    let mut app = spawn_app().await;
    let asker = admin();
    command(&mut app, &asker, json!("/帮助")).await;

    let chat = app.wait_chat("管理命令已私信发给你").await;
    let help = chat.iter().find(|t| t.contains("可用命令")).unwrap();
    assert!(help.contains("/签到"), "{help}");
    assert!(!help.contains("/禁言"), "customers never read it: {help}");
    let private = app.sim.wait_for("send_private_msg", 1, PATIENCE).await;
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(private[0].params["user_id"], json!(asker.id));
    let list = crate::helpers::text_of(&private[0].params["message"]);
    assert!(list.contains("/禁言") && list.contains("/踢"), "{list}");
}

#[tokio::test]
async fn a_member_typing_a_chinese_admin_command_is_refused_by_that_name() {
    let mut app = spawn_app().await;
    let (member, target) = (
        app.member.clone(),
        VirtualMember::new(60002, "路人", "member"),
    );
    let kick = json!([
        {"type": "text", "data": {"text": "/踢 "}},
        {"type": "at", "data": {"qq": target.id.to_string()}}
    ]);
    command(&mut app, &member, kick).await;

    app.wait_chat("/踢 只有管理员可以使用").await;
    assert!(app.sim.performed("set_group_kick").is_empty());
}
