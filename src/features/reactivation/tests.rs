use std::collections::BTreeMap;

use chrono::TimeZone;

use super::records::{arms_key, subject_key, subjects};
use super::*;
use crate::domain::{Action, Message, Role, SilentEntry};
use crate::features::testkit::{event, mentioned, notes, said, Bot, ACCOUNT, GROUP, OPERATOR};
use crate::features::Change;

fn config(holdout: f64, extra: &str) -> String {
    format!(
        r#"
[reactivation]
silent_after = "7d"
scan = "0 0 10 * * *"
min_gap = "3d"
max_nudges = 2
per_message = 2
success_within = "2d"
holdout = {holdout}
variants = [
  {{ id = "a", text = "{{mentions}} 好久不见～今晚8点有秒杀" }},
  {{ id = "b", text = "{{mentions}} 送你一张返场券：{{coupon}}", coupon = "newcomer" }},
]
zombie_after = "30d"
zombie_action = "remove"
zombie_max_per_run = 2
nudge_interval = "10m"
{extra}
"#
    )
}

fn bot(holdout: f64, extra: &str) -> Bot {
    Bot::new(&config(holdout, extra))
}

fn group() -> GroupKey {
    GroupKey {
        account: Id::number(ACCOUNT),
        group: Id::number(GROUP),
    }
}

/// Users (from 1000 up) whose drawn arm is `arm` under `bot`'s config.
fn users_in(bot: &Bot, arm: &str, n: usize) -> Vec<i64> {
    (1000..)
        .filter(|u| draw_arm(&group(), &Id::number(*u), &bot.config.reactivation) == arm)
        .take(n)
        .collect()
}

/// A scan's finding: `users` silent for 10 days.
fn scan_finds(bot: &mut Bot, users: &[i64]) -> Decision {
    let since = (bot.now - chrono::Duration::days(10)).timestamp();
    let members = users
        .iter()
        .map(|u| SilentEntry {
            user: Id::number(*u),
            name: Some(format!("会员{u}")),
            since: Some(since),
            joined: Some(since),
        })
        .collect();
    bot.on(event(EventBody::SilentFound {
        group: Id::number(GROUP),
        cutoff: 0,
        asked_by: None,
        members,
    }))
}

fn nudge_timers(d: &Decision) -> Vec<&Timer> {
    d.timers
        .iter()
        .filter(|t| matches!(t.wake::<Wake>(), Ok(Wake::Nudge { .. })))
        .collect()
}

fn subject_of(bot: &Bot, user: i64) -> Subject {
    bot.state
        .record(NAME, &subject_key(&group(), &Id::number(user)))
        .expect("a subject")
}

fn counts(bot: &Bot, arm: &str) -> ArmCount {
    bot.state
        .record::<BTreeMap<String, ArmCount>>(NAME, &arms_key(&group()))
        .unwrap_or_default()
        .get(arm)
        .copied()
        .unwrap_or_default()
}

/// Fires the nudge timers of `d` (and those they set) until the queue is empty.
fn nudge_all(bot: &mut Bot, d: &Decision) -> Vec<Decision> {
    let mut out = Vec::new();
    let mut timers: Vec<Timer> = nudge_timers(d).into_iter().cloned().collect();
    while let Some(t) = timers.pop() {
        bot.now = bot.now.max(t.due);
        let fired = bot.wake(&t);
        timers.extend(nudge_timers(&fired).into_iter().cloned());
        out.push(fired);
        assert!(out.len() < 100, "nudging does not end");
    }
    out
}

#[test]
fn a_member_silent_past_silent_after_is_nudged_once_with_a_mention() {
    let mut bot = bot(0.0, "");
    let [user] = users_in(&bot, "a", 1)[..] else {
        panic!()
    };
    let found = scan_finds(&mut bot, &[user]);
    assert!(
        said(&found).is_empty(),
        "nothing is said at the scan itself"
    );
    let sent = nudge_all(&mut bot, &found);
    assert_eq!(sent.len(), 1);
    assert_eq!(mentioned(&sent[0]), vec![Id::number(user)]);
    assert!(said(&sent[0])[0].contains("好久不见"));
    assert_eq!(subject_of(&bot, user).nudges, 1);
    // Found again while the trial is open: not nudged again.
    let again = scan_finds(&mut bot, &[user]);
    assert!(nudge_timers(&again).is_empty());
}

#[test]
fn a_member_is_not_nudged_again_before_min_gap_nor_beyond_max_nudges() {
    let mut bot = bot(0.0, "");
    let [user] = users_in(&bot, "a", 1)[..] else {
        panic!()
    };
    let mut nudges = 0;
    for day in 0..12 {
        let found = scan_finds(&mut bot, &[user]);
        nudges += nudge_all(&mut bot, &found)
            .iter()
            .filter(|d| !said(d).is_empty())
            .count();
        // A day on; success windows that closed are closed.
        bot.advance(86_400);
        for t in bot_timers_due(&bot) {
            bot.wake(&t);
        }
        if day == 2 {
            assert_eq!(nudges, 1, "day {day}: min_gap is 3 days");
        }
    }
    assert_eq!(nudges, 2, "max_nudges = 2");
    assert_eq!(counts(&bot, "a").expired, 2);
}

/// The expiry timers of every open trial, as the engine would fire them.
fn bot_timers_due(bot: &Bot) -> Vec<Timer> {
    let mut out = Vec::new();
    for (user, s) in subjects(&group(), &ctx_of(bot)) {
        if let Some(Trial {
            treated: Some(t), ..
        }) = s.trial
        {
            if bot.now >= t + chrono::Duration::days(2) {
                out.push(Timer::new(
                    t + chrono::Duration::days(2),
                    &Id::number(ACCOUNT),
                    NAME,
                    &Wake::Expire {
                        group: group(),
                        users: vec![user],
                        treated: t,
                    },
                ));
            }
        }
    }
    out
}

fn ctx_of(bot: &Bot) -> Context<'_> {
    Context::new(&bot.config, &bot.state, bot.now, 0)
}

#[test]
fn a_member_who_speaks_before_their_nudge_is_not_nudged_and_counts_for_their_arm() {
    let mut bot = bot(0.0, "");
    let a = users_in(&bot, "a", 1)[0];
    let found = scan_finds(&mut bot, &[a]);
    let message = bot.member_says(a, "我在");
    let back = bot.on(message);
    assert_eq!(notes(&back, "reactivation.reactivated")[0]["nudged"], false);
    let sent = nudge_all(&mut bot, &found);
    assert!(
        sent.iter().all(|d| said(d).is_empty()),
        "active again: not nudged"
    );
    assert_eq!(
        (counts(&bot, "a").due, counts(&bot, "a").reactivated),
        (1, 1),
        "by assignment"
    );
}

#[test]
fn a_holdout_member_is_recorded_as_due_and_not_mentioned() {
    let mut bot = bot(0.5, "");
    let holdout = users_in(&bot, HOLDOUT, 1)[0];
    let nudged = users_in(&bot, "a", 1)[0];
    let found = scan_finds(&mut bot, &[holdout, nudged]);
    assert_eq!(
        notes(&found, "reactivation.due")[0]["arm"],
        HOLDOUT,
        "the holdout is logged as due"
    );
    assert_eq!(counts(&bot, HOLDOUT).due, 1);
    let sent = nudge_all(&mut bot, &found);
    assert_eq!(mentioned(&sent[0]), vec![Id::number(nudged)]);
    assert!(sent
        .iter()
        .all(|d| !mentioned(d).contains(&Id::number(holdout))));
    assert_eq!(counts(&bot, HOLDOUT).nudged, 0);
}

#[test]
fn speaking_after_a_nudge_counts_for_the_members_arm_and_resets_the_count() {
    let mut bot = bot(0.5, "");
    let a = users_in(&bot, "a", 1)[0];
    let h = users_in(&bot, HOLDOUT, 1)[0];
    let found = scan_finds(&mut bot, &[a, h]);
    nudge_all(&mut bot, &found);
    bot.advance(3600);
    let message = bot.member_says(a, "我回来啦");
    let back = bot.on(message);
    assert_eq!(notes(&back, "reactivation.reactivated")[0]["arm"], "a");
    assert_eq!(counts(&bot, "a").reactivated, 1);
    assert_eq!(counts(&bot, HOLDOUT).reactivated, 0);
    assert_eq!(subject_of(&bot, a).nudges, 0);
    // The holdout member speaking within the window counts for the holdout.
    let message = bot.member_says(h, "在的");
    bot.on(message);
    assert_eq!(counts(&bot, HOLDOUT).reactivated, 1);
}

#[test]
fn speaking_after_the_window_is_not_a_success() {
    let mut bot = bot(0.0, "");
    let a = users_in(&bot, "a", 1)[0];
    let found = scan_finds(&mut bot, &[a]);
    nudge_all(&mut bot, &found);
    bot.advance(3 * 86_400);
    for t in bot_timers_due(&bot) {
        bot.wake(&t);
    }
    let message = bot.member_says(a, "晚了");
    let late = bot.on(message);
    assert!(notes(&late, "reactivation.reactivated").is_empty());
    assert_eq!(
        (counts(&bot, "a").reactivated, counts(&bot, "a").expired),
        (0, 1)
    );
    assert_eq!(subject_of(&bot, a).nudges, 0, "any word resets the count");
}

#[test]
fn nudges_mention_at_most_per_message_members_and_are_spread_out() {
    let mut bot = bot(0.0, "");
    let users = users_in(&bot, "a", 5);
    let found = scan_finds(&mut bot, &users);
    let start = bot.now;
    let sent = nudge_all(&mut bot, &found);
    let messages: Vec<&Decision> = sent.iter().filter(|d| !said(d).is_empty()).collect();
    assert_eq!(messages.len(), 3, "5 members, 2 a message");
    assert!(messages.iter().all(|d| mentioned(d).len() <= 2));
    assert_eq!(
        bot.now - start,
        chrono::Duration::minutes(20),
        "nudge_interval apart"
    );
}

#[test]
fn quiet_hours_defer_a_nudge_to_their_end() {
    let mut bot = bot(0.0, "");
    bot.now = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 11, 23, 23, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let a = users_in(&bot, "a", 1)[0];
    let found = scan_finds(&mut bot, &[a]);
    let first = bot.wake(nudge_timers(&found)[0]);
    assert!(said(&first).is_empty(), "nothing at night");
    assert_eq!(
        notes(&first, "reactivation.deferred")[0]["reason"],
        "quiet_hours"
    );
    let sent = nudge_all(&mut bot, &first);
    assert_eq!(mentioned(&sent[0]), vec![Id::number(a)]);
    let local = bot.now.with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(local.format("%H:%M").to_string(), "08:00");
}

#[test]
fn a_coupon_variant_hands_a_code_to_each_mentioned_member() {
    let mut bot = bot(0.0, "");
    let users = users_in(&bot, "b", 2);
    let found = scan_finds(&mut bot, &users);
    let sent = nudge_all(&mut bot, &found);
    let text = said(&sent[0])[0].clone();
    assert!(text.contains("NEW-1") && text.contains("NEW-2"), "{text}");
    let claims: Vec<&Change> = sent[0]
        .changes
        .iter()
        .filter(|c| matches!(c, Change::CouponClaimed { .. }))
        .collect();
    assert_eq!(claims.len(), 2);
}

#[test]
fn arms_are_drawn_once_stable_and_near_the_holdout_share() {
    let bot = bot(0.2, "");
    let config = &bot.config.reactivation;
    let arms: Vec<String> = (0..2000)
        .map(|u| draw_arm(&group(), &Id::number(u), config))
        .collect();
    let share = arms.iter().filter(|a| *a == HOLDOUT).count() as f64 / 2000.0;
    assert!((0.17..0.23).contains(&share), "{share}");
    let a = arms.iter().filter(|a| *a == "a").count();
    let b = arms.iter().filter(|a| *a == "b").count();
    assert!(a.abs_diff(b) < 200, "variants evenly: {a} {b}");
    assert_eq!(
        draw_arm(&group(), &Id::number(7), config),
        arms[7],
        "the same member, the same arm"
    );
}

/// The members a decision removes.
fn kicked(d: &Decision) -> Vec<&Id> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::SetGroupKick { user, .. } => Some(user),
            _ => None,
        })
        .collect()
}

fn make_zombie(bot: &mut Bot, user: i64) {
    for _ in 0..2 {
        let found = scan_finds(bot, &[user]);
        nudge_all(bot, &found);
        bot.advance(3 * 86_400);
        for t in bot_timers_due(bot) {
            bot.wake(&t);
        }
    }
    bot.advance(30 * 86_400);
    scan_finds(bot, &[user]);
    assert!(subject_of(bot, user).zombie.is_some());
}

#[test]
fn zombie_removal_waits_for_the_confirm_keeps_to_the_cap_and_skips_exempt_members() {
    let mut bot = bot(0.0, "exempt = [1003]");
    let users: Vec<i64> = vec![1001, 1002, 1003, 1004];
    for u in &users {
        let found = scan_finds(&mut bot, &[*u]);
        nudge_all(&mut bot, &found);
    }
    // Two rounds of nudges, then zombie_after of silence.
    for _ in 0..2 {
        bot.advance(3 * 86_400);
        for t in bot_timers_due(&bot) {
            bot.wake(&t);
        }
        let found = scan_finds(&mut bot, &users);
        nudge_all(&mut bot, &found);
    }
    bot.advance(3 * 86_400);
    for t in bot_timers_due(&bot) {
        bot.wake(&t);
    }
    bot.advance(30 * 86_400);
    let found = scan_finds(&mut bot, &users);
    assert!(
        kicked(&found).is_empty(),
        "nothing removed before the confirm"
    );
    let told: Vec<&Action> = found
        .actions
        .iter()
        .filter(
            |a| matches!(a, Action::SendPrivateMsg { user, .. } if *user == Id::number(OPERATOR)),
        )
        .collect();
    assert_eq!(told.len(), 1, "the list goes to the operator");
    assert!(said(&found).is_empty(), "nothing said in the group");
    let confirm = bot.says(OPERATOR, Role::Member, Message::text("/silent confirm"));
    let done = bot.on(confirm);
    let removed = kicked(&done);
    assert_eq!(removed.len(), 2, "zombie_max_per_run");
    assert!(
        !removed.contains(&&Id::number(1003)),
        "exempt never removed"
    );
    let evidence = notes(&done, "reactivation.zombie_removed");
    assert_eq!(evidence.len(), 2);
    assert!(evidence[0]["nudges"] == 2 && !evidence[0]["last_spoke"].is_null());
}

#[test]
fn a_zombie_made_admin_is_no_longer_one() {
    let mut bot = bot(0.0, "");
    make_zombie(&mut bot, 1001);
    bot.on(event(EventBody::AdminChanged {
        group: Id::number(GROUP),
        user: Id::number(1001),
        promoted: true,
    }));
    assert!(subject_of(&bot, 1001).zombie.is_none());
    let confirm = bot.says(OPERATOR, Role::Member, Message::text("/silent confirm"));
    let done = bot.on(confirm);
    assert!(kicked(&done).is_empty());
}

#[test]
fn report_mode_lists_zombies_and_refuses_to_remove() {
    let mut bot = Bot::new(&config(0.0, "").replace("\"remove\"", "\"report\""));
    make_zombie(&mut bot, 1001);
    let ask = bot.says(OPERATOR, Role::Member, Message::text("/silent zombies"));
    let listed = bot.on(ask);
    assert!(said(&listed)[0].contains("1001"), "{:?}", said(&listed));
    let confirm = bot.says(OPERATOR, Role::Member, Message::text("/silent confirm"));
    let refused = bot.on(confirm);
    assert!(kicked(&refused).is_empty());
}

#[test]
fn the_member_list_is_asked_for_at_start() {
    let mut bot = bot(0.0, "");
    let started = bot.start();
    let sync = started
        .timers
        .iter()
        .find(|t| matches!(t.wake::<Wake>(), Ok(Wake::Sync { .. })))
        .expect("a sync at start");
    let asked = bot.wake(sync);
    assert_eq!(
        asked.actions,
        vec![Action::GetGroupMemberList {
            group: Id::number(GROUP)
        }]
    );
    assert!(
        !bot.tick()
            .timers
            .iter()
            .any(|t| matches!(t.wake::<Wake>(), Ok(Wake::Sync { .. }))),
        "not again until a day has passed"
    );
    bot.advance(86_400);
    assert!(bot
        .tick()
        .timers
        .iter()
        .any(|t| matches!(t.wake::<Wake>(), Ok(Wake::Sync { .. }))));
}

#[test]
fn the_scan_is_planned_at_the_cron_and_asks_for_the_silent_members() {
    let mut bot = bot(0.0, "");
    let planned = bot.tick();
    let scan = planned
        .timers
        .iter()
        .find(|t| matches!(t.wake::<Wake>(), Ok(Wake::Scan { .. })))
        .expect("a planned scan");
    let local = scan.due.with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(local.format("%H:%M:%S").to_string(), "10:00:00");
    bot.now = scan.due;
    let due = bot.wake(scan);
    let requests: Vec<ScanRequest> = due.effects_of(SCAN);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].groups, vec![group()]);
    assert_eq!(requests[0].cutoff, bot.now - chrono::Duration::days(7));
}

#[test]
fn stats_say_not_enough_data_below_the_thresholds_and_name_odds_above() {
    let mut arms = BTreeMap::new();
    arms.insert(
        HOLDOUT.to_string(),
        ArmCount {
            due: 10,
            nudged: 0,
            reactivated: 1,
            expired: 9,
        },
    );
    arms.insert(
        "a".to_string(),
        ArmCount {
            due: 10,
            nudged: 10,
            reactivated: 4,
            expired: 6,
        },
    );
    let text = stats_text(&arms);
    assert!(text.contains("数据不足"), "{text}");
    assert!(!text.contains("更好的概率"), "{text}");
    arms.insert(
        HOLDOUT.to_string(),
        ArmCount {
            due: 100,
            nudged: 0,
            reactivated: 10,
            expired: 90,
        },
    );
    arms.insert(
        "a".to_string(),
        ArmCount {
            due: 100,
            nudged: 100,
            reactivated: 25,
            expired: 75,
        },
    );
    let text = stats_text(&arms);
    assert!(
        text.contains("方案 a 对比 对照组：方案 a 更好的概率 99."),
        "{text}"
    );
    assert!(text.contains("精确检验 p = "), "{text}");
    assert!(
        !text.contains("holdout") && !text.contains("Fisher"),
        "Chinese only: {text}"
    );
    assert!(text.contains("唤醒率 25.0%"), "{text}");
}

#[test]
fn silent_is_for_admins_only() {
    let mut bot = bot(0.0, "");
    let ask = bot.member_says(5, "/silent list");
    let refused = bot.on(ask);
    assert!(said(&refused)[0].contains("管理员"), "{:?}", said(&refused));
}

#[test]
fn a_reconnected_account_has_its_member_lists_read_again_and_a_routine_sync_does_not() {
    let mut bot = bot(0.0, "");
    let started = bot.start();
    for t in &started.timers {
        bot.wake(t);
    }
    let synced = |reconnected: bool| {
        event(crate::domain::EventBody::AccountSynced {
            nickname: None,
            groups: vec![crate::domain::ListedGroup {
                group: Id::number(GROUP),
                name: None,
            }],
            reconnected,
        })
    };
    let routine = bot.on(synced(false));
    assert!(
        !routine
            .actions
            .iter()
            .any(|a| matches!(a, Action::GetGroupMemberList { .. })),
        "read at start already"
    );
    let back = bot.on(synced(true));
    assert_eq!(
        back.actions,
        vec![Action::GetGroupMemberList {
            group: Id::number(GROUP)
        }]
    );
}
