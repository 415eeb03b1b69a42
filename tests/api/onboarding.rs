//! Newcomers over the simulator: join requests, welcome waves, verification.

use qunbot::simulator::events::VirtualMember;
use serde_json::json;

use crate::helpers::{mentions_of, spawn_app_configured, TestApp, PATIENCE};

const ONBOARDING: &str = r#"
[welcome]
batch_window = "1s"
template = "欢迎 {mentions} 加入{group}！"
rejoin_window = "1d"

[join_requests]
answer = { keyword = "宝妈" }
reject_reason = "请回答入群问题：你是宝妈吗？"
"#;

/// Passes a barrier in the numeric group and checks nothing is scheduled: what
/// the newcomers' events caused is all carried out, and nothing more is to come.
/// Returns the group messages carried out before the barrier's pong.
async fn all_said_and_done(app: &mut TestApp) -> Vec<qunbot::simulator::RecordedCall> {
    let group = app.group.clone();
    let said = app.messages_before_a_barrier(&group).await;
    assert_eq!(
        app.next_wake_up().await,
        None,
        "no welcome window or deadline is open"
    );
    said
}

fn newcomers(n: i64) -> Vec<VirtualMember> {
    (0..n)
        .map(|i| VirtualMember::new(40000 + i, &format!("新人{i}"), "member"))
        .collect()
}

#[tokio::test]
async fn a_join_request_with_the_right_answer_is_approved_and_a_wrong_one_rejected_with_the_reason()
{
    let app = spawn_app_configured(ONBOARDING, None).await;
    let [right, wrong]: [VirtualMember; 2] = newcomers(2).try_into().unwrap();
    assert_eq!(
        app.push(
            &app.events
                .join_request(&app.group, &right, "我是宝妈", "flag-right")
        )
        .await,
        204
    );
    assert_eq!(
        app.push(
            &app.events
                .join_request(&app.group, &wrong, "随便看看", "flag-wrong")
        )
        .await,
        204
    );

    let decisions = app.sim.wait_for("set_group_add_request", 2, PATIENCE).await;
    assert_eq!(decisions.len(), 2);
    let by_flag = |flag: &str| {
        decisions
            .iter()
            .find(|c| c.params["flag"] == flag)
            .unwrap()
            .params
            .clone()
    };
    assert_eq!(by_flag("flag-right")["approve"], true);
    assert_eq!(by_flag("flag-wrong")["approve"], false);
    assert_eq!(
        by_flag("flag-wrong")["reason"],
        "请回答入群问题：你是宝妈吗？"
    );
    assert_eq!(app.logged("join_request.approved").await.len(), 1);
    assert_eq!(app.logged("join_request.rejected").await.len(), 1);
}

#[tokio::test]
async fn a_wave_of_joiners_gets_one_welcome_mentioning_them_all() {
    let mut app = spawn_app_configured(ONBOARDING, None).await;
    let wave = newcomers(12);
    for member in &wave {
        app.member_joins(member).await;
    }
    app.sim.wait_for("send_group_msg", 1, PATIENCE).await;
    let welcomes = all_said_and_done(&mut app).await;
    assert_eq!(welcomes.len(), 1, "one message for the wave");
    let mentioned = mentions_of(&welcomes[0].params["message"]);
    let expected: Vec<String> = wave.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(mentioned, expected);
}

#[tokio::test]
async fn a_member_who_rejoins_inside_the_window_is_not_welcomed_twice() {
    let mut app = spawn_app_configured(ONBOARDING, None).await;
    let member = newcomers(1).remove(0);
    app.member_joins(&member).await;
    assert_eq!(
        app.sim.wait_for("send_group_msg", 1, PATIENCE).await.len(),
        1
    );
    assert_eq!(app.push(&app.events.left(&app.group, &member)).await, 204);
    app.member_joins(&member).await;

    assert_eq!(app.wait_logged("welcome.skipped_rejoin", 1).await.len(), 1);
    assert_eq!(all_said_and_done(&mut app).await.len(), 1);
}

#[tokio::test]
async fn a_newcomer_who_does_not_verify_in_time_is_removed_and_one_who_does_stays() {
    let config = format!(
        "{ONBOARDING}\n[verification]\nenabled = true\nanswer = {{ keyword = \"我是宝妈\" }}\ntimeout = \"2s\"\n"
    );
    let mut app = spawn_app_configured(&config, None).await;
    let [slow, quick]: [VirtualMember; 2] = newcomers(2).try_into().unwrap();
    app.member_joins(&slow).await;
    app.member_joins(&quick).await;
    app.wait_chat("完成验证").await;
    app.member_says(&quick, "我是宝妈").await;

    let kicks = app.sim.wait_for("set_group_kick", 1, PATIENCE).await;
    assert_eq!(kicks.len(), 1);
    assert_eq!(kicks[0].params["user_id"], json!(slow.id));
    let chat = app.wait_chat("已移出本群").await;
    assert!(chat.iter().any(|t| t.contains("验证通过")), "{chat:?}");
    all_said_and_done(&mut app).await;
    assert_eq!(
        app.sim.performed("set_group_kick").len(),
        1,
        "the one who answered stays"
    );
}
