//! Tasks, points and coupons over the simulator, and that they survive restarts.

use qunbot::store::ReadModel;
use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use qunbot::domain::Id;
use qunbot::simulator::events::VirtualMember;
use serde_json::json;

use crate::helpers::{spawn_app_configured, PATIENCE};

const TASKS: &str = r#"
[welcome]
batch_window = "1s"

[coupons.newcomer]
file = "coupons.txt"
title = "新人券"

[[tasks]]
id = "read_rules"
name = "阅读群规"
done_when = { keyword = "已读" }
reward = { points = 10, coupon = "newcomer" }
remind_after = "2s"
"#;

fn member(i: i64) -> VirtualMember {
    VirtualMember::new(50000 + i, &format!("会员{i}"), "member")
}

#[tokio::test]
async fn a_task_done_by_keyword_puts_the_reward_in_the_ledger_and_replies() {
    let mut app = spawn_app_configured(TASKS, None).await;
    let newcomer = member(1);
    app.member_joins(&newcomer).await;
    app.wait_chat("欢迎").await;
    app.member_says(&newcomer, "群规已读").await;

    let chat = app.wait_chat("完成新人任务").await;
    let done = chat.iter().find(|t| t.contains("完成新人任务")).unwrap();
    assert!(done.contains("积分 +10，优惠券：C-01"), "{done}");
    let store = app.daemon().store();
    let ledger = store
        .ledger(&10001000.into(), &123456.into(), &Id::number(50001))
        .await
        .unwrap();
    assert_eq!(ledger, vec![(10, "task:read_rules".to_string())]);
    assert_eq!(
        store.coupon_claims().await.unwrap(),
        vec![("newcomer".into(), "C-01".into(), "50001".into())]
    );
}

#[tokio::test]
async fn the_reminder_is_sent_once_to_those_who_have_not_done_the_task() {
    let mut app = spawn_app_configured(TASKS, None).await;
    let (lazy, keen) = (member(1), member(2));
    app.member_joins(&lazy).await;
    app.member_joins(&keen).await;
    app.wait_chat("欢迎").await;
    app.member_says(&keen, "已读").await;

    let chat = app.wait_chat("还没完成哦").await;
    // A second reminder would be due within seconds; what is scheduled now is the
    // task's expiry, a week out.
    let next = app
        .next_wake_up()
        .await
        .expect("the task's expiry is scheduled");
    assert!(next > Utc::now() + chrono::Duration::days(6), "{next}");
    let group = app.group.clone();
    let reminders: Vec<_> = app
        .messages_before_a_barrier(&group)
        .await
        .into_iter()
        .filter(|c| crate::helpers::text_of(&c.params["message"]).contains("还没完成哦"))
        .collect();
    assert_eq!(reminders.len(), 1, "{chat:?}");
    assert_eq!(
        crate::helpers::mentions_of(&reminders[0].params["message"]),
        vec![lazy.id.to_string()]
    );
}

#[tokio::test]
async fn no_coupon_is_handed_out_twice_under_fifty_concurrent_claims() {
    let mut app = spawn_app_configured(TASKS, None).await;
    let crowd: Vec<VirtualMember> = (1..=50).map(member).collect();
    for m in &crowd {
        app.member_joins(m).await;
    }
    app.wait_chat("欢迎").await;
    let claims: Vec<_> = crowd
        .iter()
        .map(|m| app.events.group_message(&app.group, m, json!("已读")))
        .collect();
    let answers = join_all(claims.iter().map(|c| app.sim.push(c))).await;
    assert!(answers.iter().all(|a| matches!(a, Ok(204))));

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut claimed = Vec::new();
    while tokio::time::Instant::now() < deadline {
        claimed = app.daemon().store().coupon_claims().await.unwrap();
        if claimed.len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(claimed.len(), 40, "the pool holds 40 codes");
    let codes: HashSet<_> = claimed.iter().map(|c| c.code.clone()).collect();
    let owners: HashSet<_> = claimed.iter().map(|c| c.user_id.clone()).collect();
    assert_eq!(
        (codes.len(), owners.len()),
        (40, 40),
        "each code once, each member once"
    );
    let chat = app.wait_chat_n("优惠券已经发完了", 10).await;
    assert_eq!(
        chat.iter()
            .filter(|t| t.contains("优惠券已经发完了"))
            .count(),
        10
    );
    assert_eq!(
        app.wait_logged("warning.coupons_exhausted", 10).await.len(),
        10
    );
}

#[tokio::test]
async fn a_second_checkin_on_the_same_day_is_refused_even_after_a_restart() {
    let mut app = spawn_app_configured("", None).await;
    let m = member(1);
    app.member_says(&m, "/checkin").await;
    app.wait_chat("签到成功").await;
    app.restart_daemon().await;
    app.member_says(&m, "/签到").await;

    let chat = app.wait_chat("今天已经签到过了").await;
    assert_eq!(
        chat.iter().filter(|t| t.contains("签到成功")).count(),
        1,
        "{chat:?}"
    );
    let ledger = app
        .daemon()
        .store()
        .ledger(&10001000.into(), &123456.into(), &Id::number(50001))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    app.member_says(&m, "/points").await;
    app.wait_chat("你当前有 5 积分").await;
}

#[tokio::test]
async fn task_progress_survives_a_restart() {
    let mut app = spawn_app_configured(TASKS, None).await;
    let newcomer = member(1);
    app.member_joins(&newcomer).await;
    app.wait_chat("欢迎").await;
    app.restart_daemon().await;
    app.member_says(&newcomer, "/tasks").await;
    app.wait_chat("⬜ 阅读群规").await;
    app.member_says(&newcomer, "已读").await;
    let chat = app.wait_chat("完成新人任务").await;
    assert!(chat.iter().any(|t| t.contains("C-01")), "{chat:?}");
}

#[tokio::test]
async fn a_keyword_said_before_the_batched_welcome_counts_and_is_not_asked_again() {
    let config = TASKS.replace("batch_window = \"1s\"", "batch_window = \"1h\"");
    let mut app = spawn_app_configured(&config, None).await;
    let (keen, lazy) = (member(1), member(2));
    app.member_joins(&keen).await;
    app.member_joins(&lazy).await;
    app.member_says(&keen, "群规已读").await;
    let group = app.group.clone();
    app.barrier(&group).await;
    assert!(
        !app.chat().iter().any(|t| t.contains("欢迎")),
        "the wave is still waiting"
    );

    app.skip(chrono::Duration::hours(1));
    let chat = app.wait_chat("完成新人任务").await;
    let done = chat.iter().find(|t| t.contains("完成新人任务")).unwrap();
    assert!(done.contains("积分 +10，优惠券：C-01"), "{done}");
    let ledger = app
        .daemon()
        .store()
        .ledger(&10001000.into(), &123456.into(), &Id::number(50001))
        .await
        .unwrap();
    assert_eq!(ledger, vec![(10, "task:read_rules".to_string())]);

    app.wait_chat("还没完成哦").await;
    let reminders: Vec<_> = app
        .messages_before_a_barrier(&group)
        .await
        .into_iter()
        .filter(|c| crate::helpers::text_of(&c.params["message"]).contains("还没完成哦"))
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(
        crate::helpers::mentions_of(&reminders[0].params["message"]),
        vec![lazy.id.to_string()],
        "the keen one is not asked again"
    );
}

#[tokio::test]
async fn once_the_pool_is_empty_the_welcome_stops_promising_its_coupon() {
    let config = TASKS.replace(
        "batch_window = \"1s\"",
        "batch_window = \"1s\"\ntemplate = \"欢迎 {mentions}！发送「已读」确认群规，领取{coupon}\"\ncoupon = \"newcomer\"",
    );
    let mut app = spawn_app_configured(&config, None).await;
    app.stop_daemon().await;
    std::fs::write(app.dir.path().join("coupons.txt"), "C-01\n").unwrap();
    app.start_daemon().await;

    let (first, second) = (member(1), member(2));
    app.member_joins(&first).await;
    app.wait_chat("领取新人券").await;
    app.member_says(&first, "已读").await;
    app.wait_chat("优惠券：C-01").await;

    app.member_joins(&second).await;
    let chat = app.wait_chat_n("欢迎", 2).await;
    let welcomes: Vec<_> = chat.iter().filter(|t| t.contains("欢迎")).collect();
    assert!(
        welcomes[1].ends_with("发送「已读」确认群规"),
        "no coupon promised: {welcomes:?}"
    );
}
