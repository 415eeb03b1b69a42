//! Silent-member reactivation over the simulator, on the daemon's clock moved
//! ahead: the member list synced from the gateway, a silent member nudged once
//! and counted when they come back, zombies removed only on an admin's confirm.

use chrono::{Duration, Utc};
use qunbot::clock::Clock;
use qunbot::domain::Id;
use qunbot::simulator::events::VirtualMember;
use qunbot::store::{Member, ReadModel};
use serde_json::{json, Value};

use crate::helpers::{eventually, mentions_of, spawn_app_configured, TestApp};

const GROUP: i64 = 123456;
const BOT: i64 = 10001000;
const SILENT: i64 = 30001;
const ALSO_SILENT: i64 = 30004;
const ADMIN: i64 = 30002;
const VIP: i64 = 30003;

fn reactivation(extra: &str) -> String {
    format!(
        r#"
[schedule]
quiet_hours = ""

[reactivation]
# Scans come from `/silent nudge` in these tests, never from the cron.
scan = "0 0 10 1 1 * 2099"
silent_after = "7d"
min_gap = "3d"
max_nudges = 3
per_message = 5
success_within = "1h"
holdout = 0.0
variants = [{{ id = "a", text = "{{mentions}} 好久不见～今晚8点有秒杀，回来看看吧" }}]
exempt = [{VIP}]
nudge_interval = "1s"
{extra}
"#
    )
}

fn admin() -> VirtualMember {
    VirtualMember::new(ADMIN, "群管", "admin")
}

/// The gateway's member list of the numeric group: the bot, an admin, a VIP,
/// and members who joined a month ago and never spoke.
fn seat_everyone(app: &TestApp, silent: &[i64]) {
    let month_ago = (Utc::now() - Duration::days(30)).timestamp();
    app.sim.seat(GROUP, BOT, "群助手", "admin", month_ago);
    app.sim.seat(GROUP, ADMIN, "群管", "admin", month_ago);
    app.sim.seat(GROUP, VIP, "大客户", "member", month_ago);
    for user in silent {
        app.sim
            .seat(GROUP, *user, &format!("潜水员{user}"), "member", month_ago);
    }
}

async fn member(app: &TestApp, user: i64) -> Option<Member> {
    app.daemon()
        .store()
        .member(&Id::number(BOT), &Id::number(GROUP), &Id::number(user))
        .await
        .expect("the members table is readable")
}

/// Pushes a group message stamped with the daemon's (skipped) time, as a
/// gateway living at that time would.
async fn says_now(app: &mut TestApp, who: &VirtualMember, text: &str) -> Value {
    let group = app.group.clone();
    let mut event = app.events.group_message(&group, who, json!(text));
    event["time"] = json!(app.clock.now().timestamp());
    assert_eq!(app.push(&event).await, 204);
    event
}

/// The gateway's member list synced in: the first event from the group asks for it.
async fn synced(app: &mut TestApp) {
    let group = app.group.clone();
    app.barrier(&group).await;
    app.wait_logged("sync.member_list", 1).await;
    eventually("the listed members known", || async {
        member(app, SILENT).await.is_some()
    })
    .await;
}

fn nudges(app: &TestApp) -> Vec<Vec<String>> {
    app.sim
        .performed("send_group_msg")
        .iter()
        .filter(|c| crate::helpers::text_of(&c.params["message"]).contains("好久不见"))
        .map(|c| mentions_of(&c.params["message"]))
        .collect()
}

#[tokio::test]
async fn the_member_sync_brings_in_members_who_never_spoke_and_marks_those_gone_as_left() {
    let mut app = spawn_app_configured(&reactivation(""), None).await;
    seat_everyone(&app, &[SILENT]);
    // 小红 spoke before the sync, but the gateway no longer lists her: she left.
    let xiaohong = app.member.clone();
    app.member_says(&xiaohong, "我先走啦").await;
    synced(&mut app).await;

    let silent = member(&app, SILENT)
        .await
        .expect("a member who never spoke");
    assert_eq!(silent.nickname.as_deref(), Some("潜水员30001"));
    assert!(silent.joined_at.is_some() && silent.last_spoke_at.is_none());
    assert_eq!(
        member(&app, ADMIN).await.and_then(|m| m.role).as_deref(),
        Some("admin")
    );
    assert!(member(&app, BOT).await.is_none(), "the bot is not a member");
    eventually("a member the list lacks marked as left", || async {
        member(&app, 20001)
            .await
            .is_some_and(|m| m.left_at.is_some())
    })
    .await;
}

#[tokio::test]
async fn a_silent_member_is_nudged_once_and_counted_as_reactivated_when_they_speak() {
    let mut app = spawn_app_configured(&reactivation(""), None).await;
    let xiaohong = app.member.clone();
    app.sim
        .seat(GROUP, 20001, "小红", "member", Utc::now().timestamp());
    seat_everyone(&app, &[SILENT]);
    synced(&mut app).await;

    app.skip(Duration::days(8));
    says_now(&mut app, &xiaohong, "今天团什么").await; // active: never nudged
    says_now(&mut app, &admin(), "/silent nudge").await;
    app.wait_chat("好久不见").await;
    let group = app.group.clone();
    app.barrier(&group).await;
    assert_eq!(
        nudges(&app),
        vec![vec![SILENT.to_string()]],
        "only the silent member: not the active one, the admin, the VIP or the bot"
    );
    let scanned = app.wait_chat("本次到期 1 人").await;
    assert!(
        scanned.iter().any(|t| t.contains("待提醒 1 人")),
        "{scanned:?}"
    );

    // Scanned again the same day: not nudged again before min_gap.
    says_now(&mut app, &admin(), "/silent nudge").await;
    app.wait_chat("本次到期 0 人").await;
    app.barrier(&group).await;
    assert_eq!(nudges(&app).len(), 1);

    // The silent member answers within success_within: reactivated, arm a.
    let diver = VirtualMember::new(SILENT, "潜水员30001", "member");
    says_now(&mut app, &diver, "我在呢").await;
    let back = app.wait_logged("reactivation.reactivated", 1).await;
    assert_eq!(back[0].detail["arm"], "a");
    assert_eq!(back[0].user_id.as_deref(), Some("30001"));

    let stats = says_now(&mut app, &admin(), "/silent stats").await;
    let answer = crate::helpers::text_of(&app.wait_reply_to(&stats).await.params["message"]);
    assert!(
        answer.contains("a：到期 1 人，已提醒 1 人，唤醒 1 人"),
        "{answer}"
    );
    assert!(
        answer.contains("数据不足") || !answer.contains("对比"),
        "{answer}"
    );
}

#[tokio::test]
async fn zombie_removal_waits_for_the_confirm_keeps_to_the_cap_and_skips_admins_and_exempt_members()
{
    let extra = r#"
zombie_after = "1d"
zombie_action = "remove"
zombie_max_per_run = 1
[admins]
users = [30009]
"#;
    let config = reactivation(extra).replace("max_nudges = 3", "max_nudges = 1");
    let mut app = spawn_app_configured(&config, None).await;
    seat_everyone(&app, &[SILENT, ALSO_SILENT]);
    synced(&mut app).await;

    app.skip(Duration::days(8));
    says_now(&mut app, &admin(), "/silent nudge").await;
    app.wait_chat("好久不见").await;
    // The success window closes; two days later both are zombies.
    app.skip(Duration::hours(2));
    app.wait_logged("reactivation.expired", 1).await;
    app.skip(Duration::days(2));
    says_now(&mut app, &admin(), "/silent nudge").await;
    app.wait_logged("reactivation.zombies", 1).await;
    assert_eq!(nudges(&app).len(), 1, "never beyond max_nudges = 1");
    let told = app
        .sim
        .wait_for("send_private_msg", 1, crate::helpers::PATIENCE)
        .await;
    assert_eq!(
        told[0].params["user_id"],
        json!(30009),
        "the operator is told"
    );
    let group = app.group.clone();
    app.barrier(&group).await;
    assert!(
        app.sim.performed("set_group_kick").is_empty(),
        "nothing removed before an admin confirms"
    );

    says_now(&mut app, &admin(), "/silent confirm").await;
    app.sim
        .wait_for("set_group_kick", 1, crate::helpers::PATIENCE)
        .await;
    app.barrier(&group).await;
    let kicked: Vec<Value> = app
        .sim
        .performed("set_group_kick")
        .iter()
        .map(|c| c.params["user_id"].clone())
        .collect();
    assert_eq!(kicked.len(), 1, "zombie_max_per_run = 1: {kicked:?}");
    assert!([json!(SILENT), json!(ALSO_SILENT)].contains(&kicked[0]));
    let removed = app.wait_logged("reactivation.zombie_removed", 1).await;
    let evidence = &removed[0].detail;
    assert!(
        !evidence["joined"].is_null() && evidence["nudges"] == 1,
        "{evidence}"
    );
    assert!(
        !app.chat().iter().any(|t| t.contains("潜水员")),
        "no one's removal is announced in the group: {:?}",
        app.chat()
    );
    // The admin and the VIP were never candidates.
    assert!(!app.sim.seated(GROUP).is_empty());
    assert!(app.sim.seated(GROUP).contains(&ADMIN) && app.sim.seated(GROUP).contains(&VIP));
}

#[tokio::test]
async fn a_holdout_member_is_recorded_as_due_and_not_mentioned() {
    let config = reactivation("").replace("holdout = 0.0", "holdout = 0.99");
    let mut app = spawn_app_configured(&config, None).await;
    seat_everyone(&app, &[SILENT]);
    synced(&mut app).await;

    says_now(&mut app, &admin(), "/silent nudge").await;
    app.wait_chat("对照组 1 人").await;
    let due = app.wait_logged("reactivation.due", 1).await;
    assert_eq!(due[0].detail["arm"], "holdout");
    assert_eq!(due[0].detail["users"], json!([SILENT]));
    let group = app.group.clone();
    app.barrier(&group).await;
    assert!(nudges(&app).is_empty(), "the holdout is never mentioned");
}

#[tokio::test]
async fn quiet_hours_defer_a_nudge_to_their_end() {
    // Quiet from an hour ago to two hours from now, in the daemon's zone.
    let local = |h: i64| {
        (Utc::now() + Duration::hours(h))
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%H:%M")
            .to_string()
    };
    let config = reactivation("").replace(
        "quiet_hours = \"\"",
        &format!("quiet_hours = \"{}-{}\"", local(-1), local(2)),
    );
    let mut app = spawn_app_configured(&config, None).await;
    seat_everyone(&app, &[SILENT]);
    synced(&mut app).await;

    says_now(&mut app, &admin(), "/silent nudge").await;
    let deferred = app.wait_logged("reactivation.deferred", 1).await;
    assert_eq!(deferred[0].detail["reason"], "quiet_hours");
    let group = app.group.clone();
    app.barrier(&group).await;
    assert!(nudges(&app).is_empty(), "nothing during quiet hours");

    app.skip(Duration::hours(2) + Duration::minutes(1));
    app.wait_chat("好久不见").await;
    assert_eq!(nudges(&app), vec![vec![SILENT.to_string()]]);
}
