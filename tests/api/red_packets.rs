//! Lucky red packets over the simulator: a rush of grabbers, and a crash in it.

use qunbot::domain::Id;
use qunbot::simulator::events::VirtualMember;
use qunbot::store::ReadModel;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

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

/// The points each grabber got, and the admin's balance, from the ledger.
async fn winners(app: &TestApp) -> (Vec<i64>, i64) {
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
    let admin = balances
        .iter()
        .find(|b| b.user_id == "60001")
        .map_or(0, |b| b.balance);
    (won, admin)
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
    let (won, admin) = winners(&app).await;
    assert_eq!(won.len(), 10, "{won:?}");
    assert!(won.iter().all(|w| *w >= 1));
    assert_eq!(won.iter().sum::<i64>(), 100);
    assert_eq!(admin, -100, "the sender paid");
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
    let (won, admin) = winners(&app).await;
    assert_eq!(won.len(), 10, "{won:?}");
    assert_eq!(won.iter().sum::<i64>(), 100);
    assert_eq!(admin, -100);
    assert_eq!(
        app.chat()
            .iter()
            .filter(|t| t.contains("红包已被抢完"))
            .count(),
        1,
        "one result"
    );
}
