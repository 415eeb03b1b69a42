use super::*;
use crate::domain::{Action, EventBody, GroupMessage, Message, Sender};
use crate::engine::{NextTimer, StoredTimer};
use serde_json::json;

async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).await.unwrap();
    (dir, store)
}

pub(super) fn said(message_id: i64, user: i64, nickname: &str, time: i64) -> Event {
    Event {
        account: Id::number(1),
        time,
        body: EventBody::GroupMessage(GroupMessage {
            message_id: Id::number(message_id),
            group: Id::number(100),
            user: Id::number(user),
            sender: Sender {
                nickname: Some(nickname.into()),
                ..Sender::default()
            },
            message: Message::text("hi"),
            anonymous: false,
        }),
        heard_by: None,
    }
}

#[tokio::test]
async fn a_redelivery_in_the_same_batch_or_later_is_recorded_once() {
    let (_dir, store) = temp_store().await;
    let first = store
        .record_inbound(&[
            said(1, 5, "a", 10),
            said(1, 5, "a", 10),
            said(2, 5, "a", 11),
        ])
        .await
        .unwrap();
    assert!(matches!(first[0], Recorded::New(_)));
    assert_eq!(first[1], Recorded::Duplicate);
    assert!(matches!(first[2], Recorded::New(_)));
    let again = store.record_inbound(&[said(2, 5, "a", 11)]).await.unwrap();
    assert_eq!(again, vec![Recorded::Duplicate]);
    assert_eq!(
        store.events_of_kind("message.group").await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn the_same_message_id_on_two_accounts_is_two_events() {
    let (_dir, store) = temp_store().await;
    let mut other = said(1, 5, "a", 10);
    other.account = Id::text("wxid_bot2");
    let r = store
        .record_inbound(&[said(1, 5, "a", 10), other])
        .await
        .unwrap();
    assert!(r.iter().all(|r| matches!(r, Recorded::New(_))), "{r:?}");
}

#[tokio::test]
async fn members_keep_their_latest_name_and_time_spoken() {
    let (_dir, store) = temp_store().await;
    let events = [said(1, 5, "old", 100), said(2, 5, "new", 200)];
    store.record_inbound(&events).await.unwrap();
    let m = store
        .member(&Id::number(1), &Id::number(100), &Id::number(5))
        .await
        .unwrap();
    assert_eq!(m, None, "the roster is written when the events are handled");
    store
        .commit(&Commit {
            roster: events.iter().filter_map(Event::roster_update).collect(),
            ..Commit::default()
        })
        .await
        .unwrap();
    let m = store
        .member(&Id::number(1), &Id::number(100), &Id::number(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.nickname.as_deref(), Some("new"));
    assert_eq!(m.last_spoke_at, DateTime::from_timestamp(200, 0));
}

#[tokio::test]
async fn queued_actions_mark_their_events_handled_and_finish_with_a_log_row() {
    let (_dir, store) = temp_store().await;
    let recorded = store.record_inbound(&[said(1, 5, "a", 10)]).await.unwrap();
    let Recorded::New(id) = recorded[0] else {
        panic!()
    };
    assert_eq!(store.unhandled_inbound().await.unwrap().len(), 1);

    let outbound = Outbound::new(
        Id::number(1),
        Action::SendGroupMsg {
            group: Id::number(100),
            message: Message::text("pong"),
        },
    );
    store
        .commit(&Commit {
            handled: vec![id],
            actions: vec![(Some(id), outbound.clone())],
            ..Commit::default()
        })
        .await
        .unwrap();
    assert!(store.unhandled_inbound().await.unwrap().is_empty());

    let pending = store.pending_actions(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].outbound, outbound);
    let outcome = Outcome {
        state: OutboxState::Delivered,
        attempts: 1,
        error: None,
        result: serde_json::json!({"message_id": 9}),
    };
    store
        .finish_action(&pending[0], &outcome, None)
        .await
        .unwrap();
    assert!(store.pending_actions(10).await.unwrap().is_empty());
    let logged = store.events_of_kind("action.send_group_msg").await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].direction, "out");
    assert_eq!(logged[0].group_id.as_deref(), Some("100"));
    assert_eq!(logged[0].detail["state"], "delivered");
}

#[tokio::test]
async fn a_database_in_a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/q.db");
    let err = Store::open(&path).await.err().unwrap();
    assert!(err.to_string().starts_with("cannot open database"), "{err}");
    assert!(err.to_string().contains("no/such/folder"), "{err}");
}

/// Writes a raw row, as a damaged file or an older version might have left it.
async fn damage(store: &Store, sql: &str) {
    sqlx::query(sql).execute(&store.write).await.unwrap();
}

#[tokio::test]
async fn an_unreadable_event_or_timer_row_is_named_not_fatal() {
    let (_dir, store) = temp_store().await;
    store.record_inbound(&[said(1, 5, "a", 10)]).await.unwrap();
    damage(
        &store,
        "INSERT INTO events (at, direction, kind, dedup_key, handled, detail)
         VALUES ('2026-11-24T00:00:00.000Z', 'in', 'unhandled.x', 'k', 0, '{\"nested\": [[[')",
    )
    .await;
    let unhandled = store.unhandled_inbound().await.unwrap();
    assert!(matches!(unhandled[0], StoredEvent::Readable { .. }));
    assert!(matches!(unhandled[1], StoredEvent::Unreadable { .. }));

    damage(
        &store,
        "INSERT INTO timers (due_at, account, feature, wake) VALUES
         ('2026-11-24T00:00:00.000Z', '1', 'tasks', 'not json'),
         ('2026-11-24T00:00:01.000Z', '1', 'tasks', '{\"kind\":\"expire_task\"}')",
    )
    .await;
    let now = DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let due = store.due_timers(now, 10).await.unwrap();
    assert!(matches!(due[0], StoredTimer::Unreadable { .. }));
    assert!(matches!(due[1], StoredTimer::Readable { .. }));
}

#[tokio::test]
async fn an_unreadable_time_is_an_error_naming_its_row_never_1970() {
    let (_dir, store) = temp_store().await;
    damage(
        &store,
        "INSERT INTO timers (due_at, account, feature, wake) VALUES ('yesterday', '1', 'tasks', '{}')",
    )
    .await;
    let next = store.next_timer().await.unwrap();
    assert!(
        matches!(&next, NextTimer::Unreadable { reason, .. } if reason.contains("yesterday")),
        "{next:?}"
    );
    damage(
        &store,
        "INSERT INTO strikes (at, account, group_id, user_id, category) VALUES ('soon', '1', '100', '5', 'ad')",
    )
    .await;
    let err = store.load_state(&Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("strikes"), "{err}");
}

mod changes {
    //! For every kind of state change: applying it in memory, and writing it then
    //! loading the state back from SQLite, agree.

    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{Duration, NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::config::CouponPool;
    use crate::domain::{GroupKey, MemberKey};
    use crate::engine::{Change, Joiner, State, TaskState};

    fn member_of(n: u8) -> MemberKey {
        MemberKey::new(
            &Id::number(1),
            &Id::number(100 + i64::from(n % 2)),
            &Id::number(i64::from(n % 4)),
        )
    }

    fn time_of(seconds: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap() + Duration::seconds(i64::from(seconds))
    }

    /// One change of each kind; `i`, its place in the sequence, keeps keys that
    /// the features never repeat (a check-in day, a coupon code) unique.
    fn change(kind: u8, m: u8, x: u32, i: usize) -> Change {
        let member = member_of(m);
        let group = member.group_key();
        match kind % 16 {
            0 => Change::Points {
                member,
                amount: i64::from(x % 50) - 20,
                reason: "test".into(),
                name: (x % 3 == 0).then(|| format!("name{x}")),
            },
            1 => Change::CheckedIn {
                member,
                day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(i as i64),
                streak: x % 9 + 1,
            },
            2 => Change::Task {
                member,
                task: format!("t{}", x % 2),
                state: [TaskState::Open, TaskState::Done, TaskState::Expired][x as usize % 3],
            },
            3 => Change::CouponClaimed {
                pool: "p".into(),
                code: format!("C{i}"),
                member,
            },
            4 => Change::JoinerQueued {
                group,
                joiner: Joiner {
                    user: member.user,
                    invited: x % 2 == 0,
                },
            },
            5 => Change::JoinerLeft { member },
            6 => Change::WaveWelcomed {
                users: vec![member.user.clone()],
                group,
                at: time_of(x),
            },
            7 => Change::Verification {
                member,
                pending: x % 2 == 0,
            },
            8 => Change::Paused {
                group,
                paused: x % 2 == 0,
            },
            9 => Change::Warned {
                member,
                by: Id::number(9),
                reason: "r".into(),
            },
            10 => Change::Strike {
                member,
                at: time_of(x),
                category: "ad".into(),
            },
            11 => Change::StrikesCleared { member },
            12 => Change::record("f", format!("k{}", x % 3), &json!({"x": x})),
            13 => Change::forget("f", format!("k{}", x % 3)),
            14 => Change::Note {
                kind: "test.note".into(),
                account: member.account,
                group: Some(member.group),
                user: None,
                detail: json!({"x": x}),
            },
            _ => Change::CommandUsed {
                member,
                at: time_of(x),
            },
        }
    }

    fn pools() -> BTreeMap<String, CouponPool> {
        let codes: Vec<String> = (0..64).map(|i| format!("C{i}")).collect();
        BTreeMap::from([(
            "p".to_string(),
            CouponPool {
                name: "p".into(),
                file: "p.txt".into(),
                title: "券".into(),
                codes,
                low_warning: 0,
            },
        )])
    }

    /// Ids compare by text, whatever their form: so must the comparison.
    fn key(m: &MemberKey) -> String {
        format!("{}/{}/{}", m.account, m.group, m.user)
    }

    fn sorted<V: std::fmt::Debug>(m: &std::collections::HashMap<MemberKey, V>) -> Vec<String> {
        let mut v: Vec<_> = m.iter().map(|(k, v)| format!("{}={v:?}", key(k))).collect();
        v.sort();
        v
    }

    /// What the store keeps of a state: every persisted part, joiner queues as
    /// sets (their order within one batch is not kept).
    fn persisted(state: &State) -> String {
        let joiners: BTreeMap<_, BTreeSet<_>> = state
            .joiners
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(g, q): (&GroupKey, _)| {
                (
                    format!("{}/{}", g.account, g.group),
                    q.iter().map(|j| (j.user.to_string(), j.invited)).collect(),
                )
            })
            .collect();
        let mut verifying: Vec<_> = state.verifying.iter().map(key).collect();
        verifying.sort();
        let mut paused: Vec<_> = state
            .paused
            .iter()
            .map(|g| format!("{}/{}", g.account, g.group))
            .collect();
        paused.sort();
        let mut coupons: Vec<_> = state.coupons.iter().collect();
        coupons.sort();
        format!(
            "balances {:?}\nnames {:?}\ncheckins {:?}\ntasks {:?}\njoiners {joiners:?}\nwelcomed {:?}\nverifying {verifying:?}\npaused {paused:?}\nwarnings {:?}\nstrikes {:?}\nrecords {:?}\ncoupons {coupons:?}",
            sorted(&state.balances),
            sorted(&state.names),
            sorted(&state.checkins),
            sorted(&state.tasks),
            sorted(&state.welcomed),
            sorted(&state.warnings),
            sorted::<Vec<DateTime<Utc>>>(
                &state
                    .strikes
                    .iter()
                    .filter(|(_, s)| !s.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            ),
            state.records,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn applied_in_memory_and_loaded_from_sqlite_agree(
            steps in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u32>()), 0..40)
        ) {
            let changes: Vec<Change> = steps
                .iter()
                .enumerate()
                .map(|(i, (kind, m, x))| change(*kind, *m, *x % 100_000, i))
                .collect();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (in_memory, loaded) = runtime.block_on(async {
                let (_dir, store) = temp_store().await;
                let pools = pools();
                let mut state = store.load_state(&pools).await.unwrap();
                for change in &changes {
                    state.apply(change);
                }
                store
                    .commit(&Commit { changes: changes.clone(), ..Commit::default() })
                    .await
                    .unwrap();
                let loaded = store.load_state(&pools).await.unwrap();
                store.close().await;
                (persisted(&state), persisted(&loaded))
            });
            prop_assert_eq!(in_memory, loaded);
        }
    }
}

#[tokio::test]
async fn silent_members_are_the_present_non_admins_silent_longest_first_a_few_a_group() {
    use crate::domain::{MemberKey, Role, RosterChange, RosterUpdate};
    let (_dir, store) = temp_store().await;
    let day = 86_400;
    let now = 100 * day;
    let key = |user: i64| MemberKey::new(&Id::number(1), &Id::number(100), &Id::number(user));
    let spoke = |user: i64, days_ago: i64, role: Role| RosterUpdate {
        member: key(user),
        time: now - days_ago * day,
        change: RosterChange::Spoke {
            name: Some(format!("m{user}")),
            role: Some(role),
        },
    };
    let roster = vec![
        spoke(1, 10, Role::Member),
        spoke(2, 1, Role::Member),
        RosterUpdate {
            member: key(3),
            time: now - 20 * day,
            change: RosterChange::Joined,
        },
        spoke(4, 30, Role::Admin),
        spoke(5, 40, Role::Member),
        RosterUpdate {
            member: key(5),
            time: now - 39 * day,
            change: RosterChange::Left,
        },
    ];
    store
        .commit(&Commit {
            roster,
            ..Commit::default()
        })
        .await
        .unwrap();
    let cutoff = DateTime::from_timestamp(now - 7 * day, 0).unwrap();
    let groups = [crate::domain::GroupKey {
        account: Id::number(1),
        group: Id::number(100),
    }];
    let silent = store.silent_members(&groups, cutoff, 10).await.unwrap();
    let users: Vec<&str> = silent.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(
        users,
        vec!["3", "1"],
        "joined 20 days ago and never spoke, then 10 days silent"
    );
    let one = store.silent_members(&groups, cutoff, 1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].user_id, "3");
}

#[tokio::test]
async fn a_member_list_brings_in_the_listed_and_marks_the_unlisted_present_as_left() {
    use crate::domain::{
        GroupKey, ListedMember, MemberKey, Role, RosterChange, RosterSync, RosterUpdate,
    };
    let (_dir, store) = temp_store().await;
    let (account, group) = (Id::number(1), Id::number(100));
    let listed = |user: i64, role: Role| ListedMember {
        user: Id::number(user),
        name: Some(format!("m{user}")),
        role: Some(role),
        joined: Some(1_000),
        last_spoke: None,
    };
    let sync = |time: i64, members: Vec<ListedMember>| RosterSync {
        group: GroupKey {
            account: account.clone(),
            group: group.clone(),
        },
        time,
        members,
    };
    // 2 spoke before the list was taken and is not on it; 3 joined after it.
    let before = |user: i64, time: i64, change: RosterChange| RosterUpdate {
        member: MemberKey::new(&account, &group, &Id::number(user)),
        time,
        change,
    };
    let spoke = RosterChange::Spoke {
        name: None,
        role: None,
    };
    store
        .commit(&Commit {
            roster: vec![
                before(2, 4_000, spoke.clone()),
                before(3, 6_000, RosterChange::Joined),
                before(4, 4_000, spoke),
            ],
            ..Commit::default()
        })
        .await
        .unwrap();
    let mut four = listed(4, Role::Member);
    four.last_spoke = Some(3_000);
    store
        .commit(&Commit {
            synced: vec![sync(
                5_000,
                vec![listed(1, Role::Member), listed(9, Role::Admin), four],
            )],
            ..Commit::default()
        })
        .await
        .unwrap();
    let get = |user: i64| {
        let (store, account, group) = (&store, account.clone(), group.clone());
        async move { store.member(&account, &group, &Id::number(user)).await }
    };
    let never_spoke = get(1).await.unwrap().expect("listed, never spoke: known");
    assert!(never_spoke.joined_at.is_some() && never_spoke.last_spoke_at.is_none());
    assert_eq!(
        get(9).await.unwrap().unwrap().role.as_deref(),
        Some("admin")
    );
    assert!(
        get(2).await.unwrap().unwrap().left_at.is_some(),
        "unlisted: left"
    );
    assert!(
        get(3).await.unwrap().unwrap().left_at.is_none(),
        "joined after the list"
    );
    let four = get(4).await.unwrap().unwrap();
    assert_eq!(
        four.last_spoke_at.map(|t| t.timestamp()),
        Some(4_000),
        "the later last word is kept"
    );
    // An empty list (a gateway glitch) marks nobody as left.
    store
        .commit(&Commit {
            synced: vec![sync(9_000, vec![])],
            ..Commit::default()
        })
        .await
        .unwrap();
    assert!(get(1).await.unwrap().unwrap().left_at.is_none());
}

/// Across a daylight-saving change a message's local day is not its UTC time
/// plus one fixed offset: each must count on its own local day.
#[tokio::test]
async fn a_rollup_across_a_daylight_saving_change_counts_each_message_on_its_local_day() {
    use chrono::TimeZone;
    let dir = tempfile::tempdir().unwrap();
    // 00:30 UTC on 29 March 2026 is 01:30 in Berlin (CET), on the 29th.
    let start = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap();
    let clock = Arc::new(crate::clock::ManualClock::at(start));
    let store = Store::open_with_clock(&dir.path().join("t.db"), clock.clone())
        .await
        .unwrap();
    store.record_inbound(&[said(1, 7, "甲", 0)]).await.unwrap();
    store.record_inbound(&[said(2, 8, "乙", 0)]).await.unwrap();
    // 23:30 UTC is 01:30 the next morning in Berlin (CEST, after the change).
    clock.advance(chrono::Duration::hours(23));
    store.record_inbound(&[said(3, 7, "甲", 0)]).await.unwrap();

    let tz = chrono_tz::Europe::Berlin;
    store.roll_up(tz, |_| {}).await.unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let span = crate::report::Span {
        from: day(29),
        to: day(30),
        today: day(30),
        timezone: tz.name().into(),
    };
    let rows = store.report_rows(&span, None).await.unwrap();
    let mut figures: Vec<(u32, i64, i64)> = rows
        .days
        .iter()
        .map(|r| {
            use chrono::Datelike;
            (
                r.key.day.day(),
                r.counts[crate::report::Metric::Messages],
                r.counts[crate::report::Metric::Speakers],
            )
        })
        .collect();
    figures.sort();
    assert_eq!(figures, vec![(29, 2, 2), (30, 1, 1)]);
    assert_eq!(rows.speakers.values().copied().collect::<Vec<_>>(), vec![2]);
}

/// A day rolled up in two passes (the daemon rolls up every minute): its
/// speakers are added once each, and a span's distinct speakers come from the
/// day rows' lists, whatever form the ids take.
#[tokio::test]
async fn distinct_speakers_over_a_span_count_each_member_once_across_passes_and_days() {
    use chrono::TimeZone;
    let dir = tempfile::tempdir().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 5, 4, 2, 0, 0).unwrap();
    let clock = Arc::new(crate::clock::ManualClock::at(start));
    let store = Store::open_with_clock(&dir.path().join("t.db"), clock.clone())
        .await
        .unwrap();
    let tz = chrono_tz::Asia::Shanghai;
    let by_wxid = |message_id: i64, wxid: &str| {
        let mut event = said(message_id, 0, "丙", 0);
        if let EventBody::GroupMessage(m) = &mut event.body {
            m.user = Id::text(wxid);
        }
        event
    };
    store
        .record_inbound(&[said(1, 7, "甲", 0), by_wxid(2, "wxid_c")])
        .await
        .unwrap();
    store.roll_up(tz, |_| {}).await.unwrap();
    // Later the same day: one already heard, one new.
    store
        .record_inbound(&[said(3, 7, "甲", 0), said(4, 8, "乙", 0)])
        .await
        .unwrap();
    store.roll_up(tz, |_| {}).await.unwrap();
    // The next day: the same three again, one by its wxid.
    clock.advance(chrono::Duration::days(1));
    store
        .record_inbound(&[said(5, 8, "乙", 0), by_wxid(6, "wxid_c")])
        .await
        .unwrap();
    store.roll_up(tz, |_| {}).await.unwrap();

    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    let span = |from, to| crate::report::Span {
        from: day(from),
        to: day(to),
        today: day(5),
        timezone: tz.name().into(),
    };
    let rows = store.report_rows(&span(4, 5), None).await.unwrap();
    let mut daily: Vec<(u32, i64)> = rows
        .days
        .iter()
        .map(|r| {
            use chrono::Datelike;
            (r.key.day.day(), r.counts[crate::report::Metric::Speakers])
        })
        .collect();
    daily.sort();
    assert_eq!(daily, vec![(4, 3), (5, 2)]);
    assert_eq!(rows.speakers.values().copied().collect::<Vec<_>>(), vec![3]);
    let second_day = store.report_rows(&span(5, 5), None).await.unwrap();
    assert_eq!(
        second_day.speakers.values().copied().collect::<Vec<_>>(),
        vec![2]
    );
}
