use chrono::TimeZone;

use super::*;
use crate::features::testkit::{notes, said, Bot, GROUP};

/// Shanghai local time on 2026-11-23 (the test bot's day) as UTC.
fn local(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 11, 23, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

const MORNING: &str = r#"
[[announcements]]
id = "morning"
cron = "0 0 11 * * *"
text = "早上好！今天的团购清单"
"#;

/// A bot that has seen group 100 talk (so it knows the account that posts there).
fn bot(extra: &str) -> Bot {
    let mut bot = Bot::new(extra);
    let hello = bot.member_says(2, "大家好");
    bot.on(hello);
    bot
}

/// Fires the due timers of `d` and of what they plan, until none is due by `until`.
fn run_until(bot: &mut Bot, first: Decision, until: DateTime<Utc>) -> Vec<Decision> {
    let mut timers = first.timers;
    let mut out = Vec::new();
    loop {
        timers.sort_by_key(|t| t.due);
        let Some(i) = timers.iter().position(|t| t.due <= until) else {
            return out;
        };
        let t = timers.remove(i);
        bot.now = bot.now.max(t.due);
        let d = bot.wake(&t);
        timers.extend(d.timers.clone());
        out.push(d);
    }
}

fn posts(ds: &[Decision]) -> Vec<String> {
    ds.iter().flat_map(said).collect()
}

#[test]
fn an_announcement_posts_at_its_cron_time_once_and_plans_the_next_day() {
    let mut bot = bot(MORNING);
    let planned = bot.tick();
    assert_eq!(planned.timers.len(), 1);
    assert_eq!(planned.timers[0].due, local(11, 0));
    assert!(
        bot.tick().timers.is_empty(),
        "planned once, not at every tick"
    );

    let fired = run_until(&mut bot, planned, local(11, 0));
    assert_eq!(posts(&fired), vec!["早上好！今天的团购清单"]);
    let next: Vec<_> = fired.iter().flat_map(|d| d.timers.iter()).collect();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].due, local(11, 0) + chrono::Duration::days(1));
}

#[test]
fn a_fire_within_grace_after_an_outage_is_sent_once_and_the_stale_one_is_logged_as_late() {
    let mut bot = bot(MORNING);
    let planned = bot.tick();
    let _ = run_until(&mut bot, planned, local(11, 0));
    // Down for two days; back at 11:05 on the third: within the 10 minute grace.
    bot.now = local(11, 5) + chrono::Duration::days(2);
    let stale = Timer::new(
        local(11, 0) + chrono::Duration::days(1),
        &Id::number(crate::features::testkit::ACCOUNT),
        NAME,
        &ScheduleWake {
            occurrence: occurrence_key("a:morning", local(11, 0) + chrono::Duration::days(1)),
        },
    );
    let late = bot.wake(&stale);
    assert!(said(&late).is_empty(), "yesterday's fire is not sent today");
    assert_eq!(notes(&late, "schedule.missed")[0]["reason"], "late");
    let now = bot.now;
    let fired = run_until(&mut bot, late, now);
    assert_eq!(
        posts(&fired),
        vec!["早上好！今天的团购清单"],
        "today's, once"
    );
}

#[test]
fn fires_missed_in_an_outage_are_coalesced_into_one_post_and_one_missed_row() {
    let mut bot = bot(r#"
[schedule]
quiet_hours = ""
[[announcements]]
id = "hourly"
cron = "0 0 * * * *"
text = "整点秒杀"
"#);
    let planned = bot.tick();
    let sent = run_until(&mut bot, planned, local(11, 0));
    assert_eq!(posts(&sent), vec!["整点秒杀"]);
    // Down from 11:00 to 15:05: the 12:00 timer fires late, 13:00 and 14:00
    // never fired, 15:00 is within its 10 minute grace.
    bot.now = local(15, 5);
    let stale = sent.iter().flat_map(|d| d.timers.clone()).next().unwrap();
    assert_eq!(stale.due, local(12, 0));
    let late = bot.wake(&stale);
    let missed = notes(&late, "schedule.missed");
    assert_eq!(missed.len(), 2, "{missed:?}");
    assert_eq!(missed[0]["reason"], "late");
    assert_eq!(missed[1]["reason"], "daemon_down");
    assert_eq!(missed[1]["count"], 2, "13:00 and 14:00, in one row");
    let now = bot.now;
    let after = run_until(&mut bot, late, now);
    assert_eq!(posts(&after), vec!["整点秒杀"], "15:00's, once");
    let next: Vec<_> = after.iter().flat_map(|d| d.timers.iter()).collect();
    assert_eq!(
        next.last().map(|t| t.due),
        Some(local(16, 0)),
        "then on the hour again"
    );
}

#[test]
fn a_fire_later_than_grace_is_missed_not_sent() {
    let mut bot = bot(MORNING);
    let planned = bot.tick();
    bot.now = local(11, 11);
    let fired = bot.fire_timers(&planned);
    assert!(fired.iter().all(|d| said(d).is_empty()));
    assert_eq!(notes(&fired[0], "schedule.missed")[0]["reason"], "late");
}

#[test]
fn quiet_hours_defer_a_post_to_their_end_when_its_grace_allows() {
    let mut bot = bot(r#"
[[announcements]]
id = "night"
cron = "0 0 23 * * *"
text = "晚安"
grace = "10h"
"#);
    let planned = bot.tick();
    let fired = run_until(
        &mut bot,
        planned,
        local(23, 0) + chrono::Duration::hours(10),
    );
    assert_eq!(posts(&fired), vec!["晚安"]);
    assert_eq!(
        bot.now,
        local(8, 0) + chrono::Duration::days(1),
        "sent when quiet hours end"
    );
    assert_eq!(
        notes(&fired[0], "schedule.deferred")[0]["reason"],
        "quiet_hours"
    );
}

#[test]
fn quiet_hours_past_the_deadline_make_the_post_missed() {
    let mut bot = bot(r#"
[[announcements]]
id = "night"
cron = "0 0 23 * * *"
text = "晚安"
"#);
    let planned = bot.tick();
    let fired = run_until(&mut bot, planned, local(23, 0));
    assert!(posts(&fired).is_empty());
    assert_eq!(
        notes(&fired[0], "schedule.missed")[0]["reason"],
        "quiet_hours"
    );
}

/// Two announcements an hour apart under `caps`: the first posts, the second
/// is missed; the reason it is missed.
fn second_post_missed_under(caps: &str) -> serde_json::Value {
    let mut bot = bot(&format!(
        r#"
{caps}
[[announcements]]
id = "first"
cron = "0 0 11 * * *"
text = "第一条"
[[announcements]]
id = "second"
cron = "0 0 12 * * *"
text = "第二条"
"#
    ));
    let planned = bot.tick();
    let fired = run_until(&mut bot, planned, local(12, 0));
    assert_eq!(posts(&fired), vec!["第一条"]);
    let missed: Vec<_> = fired
        .iter()
        .flat_map(|d| notes(d, "schedule.missed"))
        .collect();
    missed[0]["reason"].clone()
}

#[test]
fn the_daily_cap_stops_automatic_posts_past_it() {
    assert_eq!(
        second_post_missed_under("[schedule]\ndaily_cap = 1"),
        "daily_cap"
    );
}

#[test]
fn the_accounts_daily_cap_stops_automatic_posts_past_it_whatever_the_groups_cap() {
    assert_eq!(
        second_post_missed_under("[outbox]\naccount_daily_cap = 1\n[schedule]\ndaily_cap = 10"),
        "account_cap"
    );
}

#[test]
fn a_suspect_accounts_post_waits_for_the_end_of_its_pause_and_goes_out_then() {
    let mut bot = bot(r#"
[[announcements]]
id = "first"
cron = "0 0 11 * * *"
text = "第一条"
grace = "2h"
"#);
    // Found suspect at 10:30 local, paused until 11:30.
    bot.advance(30 * 60);
    let until = bot.now + chrono::Duration::hours(1);
    bot.on(crate::features::testkit::event(
        crate::domain::EventBody::AccountSuspect {
            reason: "send_group_msg timed out".into(),
            until: until.timestamp(),
            repeat: 1,
        },
    ));
    let planned = bot.tick();
    let fired = run_until(&mut bot, planned, local(11, 0));
    assert!(posts(&fired).is_empty(), "nothing while paused");
    let deferred: Vec<_> = fired
        .iter()
        .flat_map(|d| notes(d, "schedule.deferred"))
        .collect();
    assert_eq!(deferred[0]["reason"], "account_suspect");
    let mut rest = Decision::default();
    for d in &fired {
        rest.timers
            .extend(d.timers.iter().filter(|t| t.due > local(11, 0)).cloned());
    }
    let later = run_until(&mut bot, rest, local(11, 31));
    assert_eq!(posts(&later), vec!["第一条"]);
    assert!(bot.now >= until);
}

#[test]
fn a_flash_sale_posts_each_countdown_the_start_the_last_call_and_the_end_exactly_once() {
    let mut bot = bot(r#"
[[flash_sales]]
id = "luosifen"
title = "螺蛳粉限时秒杀"
price = "9.9元/3袋"
link = "https://shop.example/p/123"
starts_at = "2026-11-23 20:00"
duration = "30m"
remind_before = ["1h", "10m"]
last_call = "5m"
"#);
    let planned = bot.tick();
    assert_eq!(planned.timers.len(), 5);
    let fired = run_until(&mut bot, planned, local(21, 0));
    let posted = posts(&fired);
    assert_eq!(posted.len(), 5, "{posted:?}");
    assert!(posted[0].starts_with("【预告】") && posted[0].contains("还有 1 小时"));
    assert!(posted[1].starts_with("【预告】") && posted[1].contains("还有 10 分钟"));
    assert!(posted[2].starts_with("【开抢】") && posted[2].contains("9.9元/3袋"));
    assert!(posted[3].starts_with("【最后机会】") && posted[3].contains("还剩 5 分钟"));
    assert!(posted[4].starts_with("【已结束】"));
    assert!(bot.tick().timers.is_empty(), "nothing planned again");
}

#[test]
fn a_countdown_post_is_never_sent_after_the_sale_started() {
    let mut bot = bot(r#"
[[flash_sales]]
id = "soon"
title = "秒杀"
starts_at = "2026-11-23 10:30"
duration = "1h"
remind_before = ["10m"]
"#);
    let planned = bot.tick();
    // Nothing ran between 10:20 and 10:31 (the daemon was down).
    bot.now = local(10, 31);
    let fired = bot.fire_timers(&planned);
    let posted = posts(&fired);
    assert!(
        posted.iter().all(|p| !p.starts_with("【预告】")),
        "{posted:?}"
    );
    assert!(posted.iter().any(|p| p.starts_with("【开抢】")));
}

#[test]
fn a_reload_that_changes_a_schedule_drops_its_planned_post_without_a_double_fire() {
    let mut bot = bot(MORNING);
    let planned = bot.tick();
    for change in &planned.changes {
        bot.state.apply(change);
    }
    bot.reconfigure(&MORNING.replace("今天的团购清单", "新的清单"));
    let replanned = bot.tick();
    assert_eq!(
        notes(&replanned, "schedule.dropped")[0]["reason"],
        "changed"
    );
    let mut timers = planned.timers.clone();
    timers.extend(replanned.timers.clone());
    let fired = run_until(
        &mut bot,
        Decision {
            timers,
            ..Decision::default()
        },
        local(11, 0),
    );
    assert_eq!(posts(&fired), vec!["早上好！新的清单"]);
}

#[test]
fn posts_to_several_groups_are_staggered() {
    let mut bot = Bot::new(&format!(
        "{MORNING}\n[[groups]]\nid = 200\nname = \"二群\"\n"
    ));
    for group in [GROUP, 200] {
        let mut hello = bot.member_says(2, "hi");
        if let crate::domain::EventBody::GroupMessage(m) = &mut hello.body {
            m.group = Id::number(group);
        }
        bot.on(hello);
    }
    let planned = bot.tick();
    let fired = run_until(&mut bot, planned, local(11, 1));
    assert_eq!(posts(&fired).len(), 2);
    assert_eq!(bot.now, local(11, 0) + chrono::Duration::seconds(5));
}

const SALE: &str = r#"
[[flash_sales]]
id = "luosifen"
title = "螺蛳粉限时秒杀"
starts_at = "2026-11-23 20:00"
duration = "30m"
remind_before = ["1h"]
"#;

#[test]
fn schedule_lists_the_next_posts_by_their_text_and_chinese_phase_never_their_ids() {
    let mut bot = bot(&format!("{MORNING}{SALE}"));
    bot.tick();
    let ask = bot.says(
        crate::features::testkit::OPERATOR,
        crate::domain::Role::Member,
        Message::text("/计划"),
    );
    let answer = said(&bot.on(ask)).join("");
    assert!(
        answer.contains("11-23 11:00 公告「早上好！今天的团购清单」"),
        "{answer}"
    );
    assert!(
        answer.contains("11-23 19:00 秒杀「螺蛳粉限时秒杀」预告（开抢前 1 小时）"),
        "{answer}"
    );
    assert!(
        answer.contains("11-23 20:00 秒杀「螺蛳粉限时秒杀」开抢"),
        "{answer}"
    );
    assert!(
        answer.contains("11-23 20:30 秒杀「螺蛳粉限时秒杀」已结束"),
        "{answer}"
    );
    for id in ["morning", "luosifen", "preview", "start", "end"] {
        assert!(!answer.contains(id), "{id}: {answer}");
    }
}

#[test]
fn the_flash_sale_list_numbers_sales_by_title_and_takes_the_number_back() {
    let mut bot = bot(SALE);
    let list = bot.says(
        crate::features::testkit::OPERATOR,
        crate::domain::Role::Member,
        Message::text("/秒杀 列表"),
    );
    let answer = said(&bot.on(list)).join("");
    assert!(
        answer.contains("1. 螺蛳粉限时秒杀 11-23 20:00 未开始"),
        "{answer}"
    );
    assert!(!answer.contains("luosifen"), "{answer}");
    let cancel = bot.says(
        crate::features::testkit::OPERATOR,
        crate::domain::Role::Member,
        Message::text("/秒杀 取消 1"),
    );
    let answer = said(&bot.on(cancel)).join("");
    assert!(answer.contains("已取消 螺蛳粉限时秒杀"), "{answer}");
}

#[test]
fn a_cancelled_flash_sale_posts_nothing_more() {
    let mut bot = bot(SALE);
    let planned = bot.tick();
    let cancel = bot.says(
        crate::features::testkit::OPERATOR,
        crate::domain::Role::Member,
        Message::text("/flashsale cancel luosifen"),
    );
    let answer = said(&bot.on(cancel)).join("");
    assert!(answer.contains("已取消"), "{answer}");
    assert!(bot.tick().timers.is_empty(), "not planned again");
    let fired = run_until(&mut bot, planned, local(21, 0));
    assert!(posts(&fired).is_empty(), "{:?}", posts(&fired));
}

#[test]
fn flashsale_now_posts_the_countdown_in_this_group_at_once() {
    let mut bot = bot(SALE);
    let now = bot.says(
        crate::features::testkit::OPERATOR,
        crate::domain::Role::Member,
        Message::text("/flashsale now luosifen"),
    );
    let posted = said(&bot.on(now)).join("");
    assert!(
        posted.starts_with("【预告】螺蛳粉限时秒杀") && posted.contains("还有 10 小时"),
        "{posted}"
    );
}

#[test]
fn an_announcement_with_a_red_packet_opens_it_paid_by_the_shop() {
    let mut bot = bot(&MORNING.replace(
        "text = \"早上好！今天的团购清单\"",
        "text = \"早上好！今天的团购清单\"\nred_packet = { points = 100, shares = 10 }",
    ));
    let planned = bot.tick();
    let fired = run_until(&mut bot, planned, local(11, 0));
    let posted = posts(&fired);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(
        posted[1].contains("100 积分的拼手气红包，共 10 份"),
        "{posted:?}"
    );
    let grab = bot.member_says(21, "抢");
    let d = bot.on(grab);
    assert!(d
        .changes
        .iter()
        .any(|c| matches!(c, Change::Points { reason, .. } if reason == "red_packet.grab")));
    let paid_by_shop = fired.iter().flat_map(|d| d.changes.iter()).any(|c| {
        matches!(c, Change::Points { member, amount: -100, .. }
            if member.user == Id::text(crate::features::red_packets::SHOP_USER))
    });
    assert!(paid_by_shop);
}

const NIGHT_SALE: &str = r#"
[[flash_sales]]
id = "night"
title = "夜宵秒杀"
starts_at = "2026-11-24 03:45"
duration = "1h"
"#;

fn group_posts(ds: &[Decision]) -> Vec<Id> {
    ds.iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            crate::domain::Action::SendGroupMsg { group, .. } => Some(group.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_post_quiet_hours_will_hold_past_its_deadline_is_marked_in_the_plan_and_told_when_missed() {
    let mut bot = bot(NIGHT_SALE);
    let planned = bot.tick();
    let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
    let plan = describe_upcoming(&Id::number(GROUP), &ctx);
    assert!(
        plan.contains("秒杀「夜宵秒杀」开抢（不会发出：免打扰时段）"),
        "{plan}"
    );
    let asked = match bot.member_says(2, "/秒杀 list").body {
        crate::domain::EventBody::GroupMessage(m) => m,
        _ => unreachable!(),
    };
    let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
    let list = flash_sale_command(&[], &asked, &ctx)
        .map(|d| said(&d).join("\n"))
        .unwrap();
    assert!(list.contains("开抢、已结束 不会发出：免打扰时段"), "{list}");
    assert!(
        bot.config
            .schedule_preview(bot.now)
            .iter()
            .any(|l| l.contains("不会发出：免打扰时段")),
        "qunbot check marks it too"
    );

    let fired = run_until(&mut bot, planned, local(23, 0) + chrono::Duration::hours(7));
    assert!(group_posts(&fired).is_empty(), "nothing posted at night");
    let missed: Vec<_> = fired
        .iter()
        .flat_map(|d| notes(d, "schedule.missed"))
        .collect();
    assert!(
        missed.iter().any(|n| n["reason"] == "quiet_hours"),
        "{missed:?}"
    );
    let told: Vec<String> = fired
        .iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            crate::domain::Action::SendPrivateMsg { message, .. } => Some(message.plain_text()),
            _ => None,
        })
        .collect();
    assert!(
        told.iter()
            .any(|t| t.contains("秒杀「夜宵秒杀」开抢") && t.contains("免打扰时段")),
        "the owner is told: {told:?}"
    );
}

#[test]
fn a_schedule_with_quiet_hours_false_posts_at_night() {
    let mut bot = bot(&format!("{NIGHT_SALE}quiet_hours = false\n"));
    let planned = bot.tick();
    let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
    assert!(!describe_upcoming(&Id::number(GROUP), &ctx).contains("不会发出"));
    let fired = run_until(&mut bot, planned, local(23, 0) + chrono::Duration::hours(5));
    assert_eq!(
        group_posts(&fired),
        [Id::number(GROUP)],
        "the start post, at 03:45"
    );
}

#[test]
fn a_group_added_by_a_reload_gets_the_posts_still_ahead_for_all() {
    let mut bot = bot(MORNING);
    let planned = bot.tick();
    bot.reconfigure(&format!("{MORNING}[[groups]]\nid = 200\nname = \"新群\"\n"));
    bot.state.apply(&Change::record(
        super::super::accounts::NAME,
        "seen/200",
        &Id::number(crate::features::testkit::ACCOUNT),
    ));
    let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
    assert!(
        describe_upcoming(&Id::number(200), &ctx).contains("早上好"),
        "planned there too"
    );
    let fired = run_until(&mut bot, planned, local(11, 1));
    assert_eq!(group_posts(&fired), [Id::number(GROUP), Id::number(200)]);
}

#[test]
fn check_warns_of_a_day_whose_planned_posts_leave_nothing_under_the_cap() {
    let many: String = (0..6)
        .map(|h| {
            format!(
                "[[announcements]]\nid = \"a{h}\"\ncron = \"0 0 {} * * *\"\ntext = \"好物{h}\"\n",
                9 + h
            )
        })
        .collect();
    let bot = bot(&many);
    let warnings = bot.config.daily_cap_warnings(bot.now);
    assert!(!warnings.is_empty());
    assert!(
        warnings[0].contains("6 planned posts") && warnings[0].contains("daily_cap is 6"),
        "{warnings:?}"
    );
    let few = self::bot(MORNING);
    assert!(few.config.daily_cap_warnings(few.now).is_empty());
}
