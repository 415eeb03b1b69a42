use chrono::TimeZone;
use serde_json::json;

use super::*;

const BOT: &str = "1000";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A row at `hour`:00 UTC on 2026-11-`d`.
fn row(
    d: u32,
    hour: u32,
    direction: &str,
    kind: &str,
    user: Option<&str>,
    detail: Value,
) -> EventRow {
    EventRow {
        at: Utc.with_ymd_and_hms(2026, 11, d, hour, 0, 0).unwrap(),
        direction: direction.into(),
        kind: kind.into(),
        account: Some(BOT.into()),
        group: Some("g".into()),
        user: user.map(str::to_string),
        detail: Some(detail),
    }
}

fn key(d: u32) -> DayKey {
    DayKey {
        account: BOT.into(),
        group: "g".into(),
        day: day(d),
    }
}

fn member(u: &str) -> MemberRef {
    MemberRef {
        account: BOT.into(),
        group: "g".into(),
        user: u.into(),
    }
}

fn shanghai() -> Chunk {
    Chunk::new(chrono_tz::Asia::Shanghai)
}

#[test]
fn a_message_counts_on_the_calendar_day_of_the_shops_time_zone() {
    let mut c = shanghai();
    // 15:59 UTC is 23:59 in Shanghai; 16:00 UTC is already the next day there.
    let mut late = row(24, 15, "in", "message.group", Some("7"), json!(null));
    late.at += chrono::Duration::minutes(59);
    c.add_event(&late);
    c.add_event(&row(24, 16, "in", "message.group", Some("7"), json!(null)));
    let spoken: Vec<_> = c
        .spoke
        .entries()
        .iter()
        .map(|s| (s.key(), s.user.to_string(), s.messages))
        .collect();
    assert_eq!(spoken, [(key(24), "7".into(), 1), (key(25), "7".into(), 1)]);
}

#[test]
fn the_bots_own_messages_and_rows_without_a_group_add_nothing() {
    let mut c = shanghai();
    c.add_event(&row(24, 1, "in", "message.group", Some(BOT), json!(null)));
    let mut heartbeat = row(24, 1, "in", "meta.heartbeat", None, json!({}));
    heartbeat.group = None;
    c.add_event(&heartbeat);
    assert!(c.is_empty());
}

#[test]
fn filter_hits_count_each_message_once_by_category_and_by_action() {
    let mut c = shanghai();
    c.add_event(&row(
        24,
        1,
        "system",
        "filter.hit",
        Some("7"),
        json!({"actions": ["recall", "warn"], "hits": [
            {"category": "ad", "word": "加群"}, {"category": "ad", "word": "兼职"},
            {"category": "abuse", "word": "x"}]}),
    ));
    assert_eq!(c.counts[&key(24)][Metric::FilterHits], 1);
    let by = |metric: &'static str, k: &str| c.breakdown[&(key(24), metric, k.to_string())];
    assert_eq!(by(breakdown::FILTER_CATEGORY, "ad"), 1);
    assert_eq!(by(breakdown::FILTER_CATEGORY, "abuse"), 1);
    assert_eq!(by(breakdown::FILTER_ACTION, "recall"), 1);
    assert_eq!(by(breakdown::FILTER_ACTION, "warn"), 1);
}

#[test]
fn mutes_and_removals_count_when_delivered_and_an_unmute_is_not_a_mute() {
    let mut c = shanghai();
    let ban = |secs: u64, state: &str| json!({"state": state, "action": {"action": "set_group_ban", "duration_secs": secs}});
    c.add_event(&row(
        24,
        1,
        "out",
        "action.set_group_ban",
        Some("7"),
        ban(600, "delivered"),
    ));
    c.add_event(&row(
        24,
        1,
        "out",
        "action.set_group_ban",
        Some("7"),
        ban(0, "delivered"),
    ));
    c.add_event(&row(
        24,
        1,
        "out",
        "action.set_group_ban",
        Some("7"),
        ban(600, "failed"),
    ));
    c.add_event(&row(
        24,
        1,
        "out",
        "action.set_group_kick",
        Some("7"),
        json!({"state": "delivered"}),
    ));
    assert_eq!(c.counts[&key(24)][Metric::Mutes], 1);
    assert_eq!(c.counts[&key(24)][Metric::Removals], 1);
}

#[test]
fn scheduled_posts_count_sent_delivered_failed_and_missed_by_kind_and_reason() {
    let mut c = shanghai();
    c.add_event(&row(
        24,
        1,
        "system",
        "schedule.sent",
        None,
        json!({"schedule": "a:morning"}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "schedule.sent",
        None,
        json!({"schedule": "s:sale:start"}),
    ));
    c.add_event(&row(
        24,
        1,
        "out",
        "action.send_group_msg",
        None,
        json!({"state": "delivered", "tag": "a:morning"}),
    ));
    c.add_event(&row(
        24,
        1,
        "out",
        "action.send_group_msg",
        None,
        json!({"state": "failed", "tag": "s:sale:start"}),
    ));
    // A reply is not a campaign post.
    c.add_event(&row(
        24,
        1,
        "out",
        "action.send_group_msg",
        None,
        json!({"state": "delivered"}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "schedule.missed",
        None,
        json!({"reason": "quiet_hours"}),
    ));
    let k = key(24);
    assert_eq!(c.counts[&k][Metric::PostsSent], 2);
    assert_eq!(c.counts[&k][Metric::PostsDelivered], 1);
    assert_eq!(c.counts[&k][Metric::PostsFailed], 1);
    assert_eq!(c.counts[&k][Metric::PostsMissed], 1);
    let by = |metric: &'static str, key: &str| c.breakdown[&(k.clone(), metric, key.to_string())];
    assert_eq!(by(breakdown::POSTS_SENT, "announcement"), 1);
    assert_eq!(by(breakdown::POSTS_FAILED, "flash_sale"), 1);
    assert_eq!(by(breakdown::POSTS_MISSED, "quiet_hours"), 1);
}

#[test]
fn each_announcement_and_sale_has_its_own_results() {
    let mut c = shanghai();
    for (direction, kind, detail) in [
        ("system", "schedule.sent", json!({"schedule": "s:双十二"})),
        ("system", "schedule.sent", json!({"schedule": "s:双十二"})),
        (
            "out",
            "action.send_group_msg",
            json!({"state": "delivered", "tag": "s:双十二"}),
        ),
        (
            "out",
            "action.send_group_msg",
            json!({"state": "failed", "tag": "s:双十二"}),
        ),
        (
            "system",
            "schedule.missed",
            json!({"schedule": "a:早安", "reason": "late"}),
        ),
    ] {
        c.add_event(&row(24, 1, direction, kind, None, detail));
    }
    let k = key(24);
    let by = |metric: &'static str, key: &str| {
        c.breakdown
            .get(&(k.clone(), metric, key.to_string()))
            .copied()
    };
    assert_eq!(by(breakdown::SCHEDULE_SENT, "s:双十二"), Some(2));
    assert_eq!(by(breakdown::SCHEDULE_DELIVERED, "s:双十二"), Some(1));
    assert_eq!(by(breakdown::SCHEDULE_FAILED, "s:双十二"), Some(1));
    assert_eq!(by(breakdown::SCHEDULE_MISSED, "a:早安"), Some(1));
}

#[test]
fn newcomers_are_counted_once_each_when_given_tasks_and_when_done_with_all() {
    let mut c = shanghai();
    for (kind, user) in [
        ("task.newcomer", "7"),
        ("task.handed_out", "7"),
        ("task.handed_out", "7"),
        ("task.newcomer", "8"),
        ("task.handed_out", "8"),
        ("task.handed_out", "8"),
        ("task.done", "7"),
        ("task.done", "7"),
        ("task.finished", "7"),
        ("task.done", "8"),
    ] {
        c.add_event(&row(24, 1, "system", kind, Some(user), json!({})));
    }
    let counts = &c.counts[&key(24)];
    assert_eq!(
        (counts[Metric::TasksHandedOut], counts[Metric::TasksDone]),
        (4, 3)
    );
    assert_eq!(
        (
            counts[Metric::NewcomersTasked],
            counts[Metric::NewcomersFinished]
        ),
        (2, 1)
    );
}

#[test]
fn red_packets_reactivation_and_zombies_are_counted() {
    let mut c = shanghai();
    c.add_event(&row(
        24,
        1,
        "system",
        "redpacket.opened",
        Some("1"),
        json!({"points": 30}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "redpacket.grabbed",
        Some("7"),
        json!({"points": 12}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "redpacket.grabbed",
        Some("8"),
        json!({"points": 8}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "redpacket.finished",
        Some("1"),
        json!({"refunded": 10}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.due",
        None,
        json!({"arm": "a", "users": [1, 2]}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.due",
        None,
        json!({"queued": [3]}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.nudged",
        None,
        json!({"arm": "a", "users": [1, 2]}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.reactivated",
        Some("1"),
        json!({"arm": "a"}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.expired",
        None,
        json!({"users": [{"user": 2, "arm": "a"}]}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.zombies",
        None,
        json!({"users": [5, 6]}),
    ));
    c.add_event(&row(
        24,
        1,
        "system",
        "reactivation.zombie_removed",
        Some("5"),
        json!({}),
    ));
    let k = key(24);
    assert_eq!(c.counts[&k][Metric::RedPackets], 1);
    assert_eq!(c.counts[&k][Metric::RedPacketGrabs], 2);
    assert_eq!(c.counts[&k][Metric::RedPacketPaidOut], 20);
    assert_eq!(c.counts[&k][Metric::RedPacketRefunded], 10);
    assert_eq!(c.counts[&k][Metric::ZombiesReported], 2);
    assert_eq!(c.counts[&k][Metric::ZombiesRemoved], 1);
    let by = |metric: &'static str| c.breakdown[&(k.clone(), metric, "a".to_string())];
    // The old note without an arm is not guessed at.
    assert_eq!(by(breakdown::ARM_DUE), 2);
    assert_eq!(by(breakdown::ARM_NUDGED), 2);
    assert_eq!(by(breakdown::ARM_REACTIVATED), 1);
    assert_eq!(by(breakdown::ARM_EXPIRED), 1);
    assert_eq!(c.breakdown.len(), 4);
}

#[test]
fn points_split_into_granted_and_spent_and_red_packet_moves_are_neither() {
    let mut c = shanghai();
    c.add_points(key(24), 10, "task:read_rules");
    c.add_points(key(24), -30, "red_packet.sent");
    c.add_points(key(24), 12, "red_packet.grab");
    c.add_points(key(24), -5, "redeem");
    assert_eq!(c.counts[&key(24)][Metric::PointsGranted], 10);
    assert_eq!(c.counts[&key(24)][Metric::PointsSpent], 5);
    assert_eq!(
        c.breakdown[&(key(24), breakdown::POINTS, "red_packet.sent".to_string())],
        -30
    );
}

fn known(present: &[&str], members: i64, open: &[(&str, u32)]) -> Known {
    let mut k = Known::default();
    for u in present {
        k.set_present(&member(u), true);
    }
    k.members.insert(
        GroupRef {
            account: BOT.into(),
            group: "g".into(),
        },
        members,
    );
    for (u, d) in open {
        k.set_open_stay(&member(u), day(*d));
    }
    k
}

#[test]
fn joins_and_leaves_move_the_head_count_and_open_and_close_stays() {
    let ops = vec![
        MemberOp::Joined {
            member: member("7"),
            day: day(24),
        },
        MemberOp::Left {
            member: member("7"),
            day: day(26),
        },
        // A leave of someone not known present moves nothing.
        MemberOp::Left {
            member: member("8"),
            day: day(26),
        },
    ];
    let r = replay(&ops, known(&[], 10, &[]));
    assert_eq!(r.day_end[&key(24)], 11);
    assert_eq!(r.day_end[&key(26)], 10);
    assert_eq!(r.stays_opened, vec![(member("7"), day(24))]);
    assert_eq!(r.stays_closed, vec![(member("7"), day(24), day(26))]);
    let g = GroupRef {
        account: BOT.into(),
        group: "g".into(),
    };
    assert!(!r.present[&g]["7"]);
}

#[test]
fn a_member_list_replaces_presence_and_ends_the_stays_of_members_it_lacks() {
    let listed = MemberOp::Listed {
        group: GroupRef {
            account: BOT.into(),
            group: "g".into(),
        },
        day: day(25),
        users: vec!["1".into(), "2".into()],
    };
    let joined = MemberOp::Joined {
        member: member("3"),
        day: day(25),
    };
    // 9 had joined on the 20th and is not on the list: gone.
    let r = replay(&[listed, joined], known(&["9"], 5, &[("9", 20)]));
    assert_eq!(r.day_end[&key(25)], 3);
    assert_eq!(r.stays_closed, vec![(member("9"), day(20), day(25))]);
    let g = GroupRef {
        account: BOT.into(),
        group: "g".into(),
    };
    let expected: HashSet<String> = ["1", "2", "3"].map(String::from).into();
    assert_eq!(r.relisted[&g], expected);
}

#[test]
fn without_a_member_list_there_is_no_head_count() {
    let ops = vec![MemberOp::Joined {
        member: member("7"),
        day: day(24),
    }];
    let r = replay(&ops, Known::default());
    assert!(r.day_end.is_empty());
    assert_eq!(r.stays_opened, vec![(member("7"), day(24))]);
}

#[test]
fn a_second_join_of_a_present_member_counts_once() {
    let ops = vec![MemberOp::Joined {
        member: member("7"),
        day: day(24),
    }];
    let r = replay(&ops, known(&["7"], 4, &[("7", 20)]));
    assert!(!r.day_end.contains_key(&key(24)));
    assert!(r.stays_opened.is_empty());
}

#[test]
fn a_spoken_day_counts_for_the_stay_it_falls_in() {
    let stays = [
        Stay {
            joined: day(1),
            left: Some(day(4)),
        },
        Stay {
            joined: day(5),
            left: None,
        },
    ];
    assert_eq!(
        last_spoke(&stays, &[day(3), day(6), day(2)]),
        vec![Some(day(3)), Some(day(6))]
    );
    assert_eq!(last_spoke(&stays, &[day(9)]), vec![None, Some(day(9))]);
}
