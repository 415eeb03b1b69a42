//! Lucky red packets over the simulator: a rush of grabbers, and a crash in it.

use qunbot::domain::Id;
use qunbot::simulator::events::VirtualMember;
use qunbot::store::ReadModel;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_configured, TestApp};

fn admin() -> VirtualMember {
    VirtualMember::new(60001, "群管", "admin")
}

fn grabbers() -> Vec<VirtualMember> {
    (0..100)
        .map(|i| VirtualMember::new(70_000 + i, &format!("抢手{i}"), "member"))
        .collect()
}

async fn open_packet(app: &mut TestApp) {
    let (group, admin) = (app.group.clone(), admin());
    let open = app
        .events
        .group_message(&group, &admin, json!("/redpacket 100 10"));
    assert_eq!(app.push(&open).await, 204);
    app.wait_chat("100 积分的拼手气红包，共 10 份").await;
}

fn grabs(app: &mut TestApp) -> Vec<Value> {
    let group = app.group.clone();
    grabbers()
        .iter()
        .map(|m| app.events.group_message(&group, m, json!("抢")))
        .collect()
}

/// The points each grabber got, and the admin's and the shop's balances, from
/// the ledger.
async fn winners(app: &TestApp) -> (Vec<i64>, i64, i64) {
    let balances = app
        .daemon()
        .store()
        .balances(&Id::number(10001000), &Id::number(123456))
        .await
        .unwrap();
    let won: Vec<i64> = balances
        .iter()
        .filter(|b| b.user_id.starts_with("700"))
        .map(|b| b.balance)
        .filter(|b| *b != 0)
        .collect();
    let balance_of = |user: &str| {
        balances
            .iter()
            .find(|b| b.user_id == user)
            .map_or(0, |b| b.balance)
    };
    (won, balance_of("60001"), balance_of("#shop"))
}

#[tokio::test]
async fn a_hundred_members_grabbing_a_ten_share_packet_give_exactly_ten_winners_summing_to_the_total(
) {
    let mut app = spawn_app().await;
    open_packet(&mut app).await;
    for grab in grabs(&mut app) {
        assert_eq!(app.push(&grab).await, 204);
    }
    app.wait_chat("红包已被抢完：10 人抢到 100 积分").await;
    let (won, admin, shop) = winners(&app).await;
    assert_eq!(won.len(), 10, "{won:?}");
    assert!(won.iter().all(|w| *w >= 1));
    assert_eq!(won.iter().sum::<i64>(), 100);
    assert_eq!((admin, shop), (0, -100), "the shop paid");
}

#[tokio::test]
async fn a_crash_in_the_middle_of_the_rush_still_gives_exactly_ten_winners_each_once() {
    let mut app = spawn_app().await;
    open_packet(&mut app).await;
    let grabs = grabs(&mut app);
    let (first, rest) = grabs.split_at(50);
    for grab in first {
        assert_eq!(app.push(grab).await, 204);
    }
    // Killed with the engine mid-way through what it was handed; the gateway
    // then gets no answer for the rest, and resends it once the daemon is back.
    app.crash_daemon();
    let mut unanswered = Vec::new();
    for grab in rest {
        if app
            .sim
            .push(grab)
            .await
            .map_or(true, |status| status != 204)
        {
            unanswered.push(grab.clone());
        }
    }
    assert!(!unanswered.is_empty(), "the daemon was down");
    app.start_daemon().await;
    for grab in &unanswered {
        assert_eq!(app.push(grab).await, 204);
    }
    app.wait_chat("红包已被抢完：10 人抢到 100 积分").await;
    let group = app.group.clone();
    app.barrier(&group).await;
    let (won, admin, shop) = winners(&app).await;
    assert_eq!(won.len(), 10, "{won:?}");
    assert_eq!(won.iter().sum::<i64>(), 100);
    assert_eq!((admin, shop), (0, -100));
    assert_eq!(
        app.chat()
            .iter()
            .filter(|t| t.contains("红包已被抢完"))
            .count(),
        1,
        "one result"
    );
}

#[tokio::test]
async fn an_admins_packet_leaves_her_points_alone_unless_the_sender_is_to_pay() {
    let mut app = spawn_app().await;
    open_packet(&mut app).await;
    app.member_says(&admin(), "/points").await;
    app.wait_chat("你当前有 0 积分").await;

    let mut app = spawn_app_configured("[red_packets]\npaid_by = \"sender\"\n", None).await;
    app.member_says(&admin(), "/redpacket 10 2").await;
    app.wait_chat("你的积分不够发这个红包：当前 0 积分，需要 10 积分")
        .await;
    app.member_says(&admin(), "/checkin").await;
    app.wait_chat("签到成功").await;
    app.member_says(&admin(), "/redpacket 5 5").await;
    app.wait_chat("5 积分的拼手气红包，共 5 份").await;
    let (_, admin, shop) = winners(&app).await;
    assert_eq!((admin, shop), (0, 0), "she paid her 5 check-in points");
    assert!(
        !app.chat().iter().any(|t| t.contains("当前 -")),
        "{:?}",
        app.chat()
    );
}

#[tokio::test]
async fn a_second_grab_is_answered_once_naming_the_packet() {
    let mut app = spawn_app().await;
    open_packet(&mut app).await;
    let grabber = grabbers().remove(0);
    for _ in 0..3 {
        app.member_says(&grabber, "抢").await;
    }
    let chat = app.wait_chat("你已经抢过群管的 100 积分红包了").await;
    assert!(
        chat.iter().any(|t| t.contains("🧧 群管的 100 积分红包：")),
        "the grab's answer names the packet: {chat:?}"
    );
    let group = app.group.clone();
    app.barrier(&group).await;
    assert_eq!(
        app.chat()
            .iter()
            .filter(|t| t.contains("你已经抢过"))
            .count(),
        1,
        "{:?}",
        app.chat()
    );
}
