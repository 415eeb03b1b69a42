use super::NAME;
use crate::domain::Role;
use crate::engine::TaskState;
use crate::features::testkit::*;
use crate::features::Change;

const TASKS: &str = r#"
[[tasks]]
id = "read_rules"
name = "阅读群规"
done_when = { keyword = "已读" }
reward = { points = 10, coupon = "newcomer" }
remind_after = "24h"
expires_after = "3d"

[[tasks]]
id = "first_checkin"
name = "首次签到"
done_when = { command = "签到" }
reward = { points = 5 }
"#;

fn onboarded(bot: &mut Bot, users: &[i64]) -> crate::features::Decision {
    let first = bot.on(joined(users[0], false));
    for u in &users[1..] {
        bot.on(joined(*u, false));
    }
    bot.fire_timers(&first).remove(0)
}

#[test]
fn a_task_done_by_keyword_pays_points_and_a_coupon_once() {
    let mut bot = Bot::new(TASKS);
    onboarded(&mut bot, &[201]);
    let msg = bot.member_says(201, "群规已读，谢谢");
    let d = bot.on(msg);
    assert!(
        said(&d)[0].contains("完成新人任务「阅读群规」！积分 +10，优惠券：NEW-1"),
        "{:?}",
        said(&d)
    );
    assert!(d.changes.contains(&Change::Points {
        member: member(201),
        amount: 10,
        reason: "task:read_rules".into(),
        name: Some("成员201".into()),
    }));
    assert_eq!(bot.state.balance(&member(201)), 10);

    let again = bot.member_says(201, "已读");
    assert!(bot.on(again).is_empty(), "a done task pays once");
}

#[test]
fn a_task_done_by_command_is_acknowledged_after_the_command() {
    let mut bot = Bot::new(TASKS);
    onboarded(&mut bot, &[201]);
    let msg = bot.says(201, Role::Member, crate::domain::Message::text("/签到"));
    let d = bot.on(msg);
    let texts = said(&d);
    assert!(texts[0].contains("签到成功"), "{texts:?}");
    assert!(texts[1].contains("首次签到"), "{texts:?}");
    assert_eq!(
        bot.state.balance(&member(201)),
        10,
        "5 for the check-in, 5 for the task"
    );
}

#[test]
fn the_reminder_goes_once_to_those_who_have_not_done_it_and_then_it_expires() {
    let mut bot = Bot::new(TASKS);
    let wave = onboarded(&mut bot, &[201, 202]);
    let done = bot.member_says(202, "已读");
    bot.on(done);
    let later = bot.fire_timers(&wave);
    let reminders: Vec<String> = later.iter().flat_map(said).collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].contains("阅读群规") && reminders[0].contains("发送「已读」"),
        "{reminders:?}"
    );
    assert_eq!(mentioned(&later[0]), vec![crate::domain::Id::number(201)]);
    assert_eq!(
        bot.state.tasks[&member(201)]["read_rules"],
        TaskState::Expired
    );
    assert_eq!(bot.state.tasks[&member(202)]["read_rules"], TaskState::Done);
}

#[test]
fn a_keyword_said_before_the_welcome_is_credited_at_the_welcome_and_not_asked_again() {
    let mut bot = Bot::new(TASKS);
    let first = bot.on(joined(201, false));
    bot.on(joined(202, false));
    let early = bot.member_says(201, "群规已读");
    assert!(said(&bot.on(early)).is_empty(), "the task is not out yet");

    let welcome = bot.fire_timers(&first).remove(0);
    let texts = said(&welcome);
    assert_eq!(texts.len(), 2, "the welcome, then the credit: {texts:?}");
    assert!(texts[0].starts_with("欢迎"), "{texts:?}");
    assert!(
        texts[1].contains("完成新人任务「阅读群规」！积分 +10，优惠券：NEW-1"),
        "{texts:?}"
    );
    assert_eq!(bot.state.tasks[&member(201)]["read_rules"], TaskState::Done);
    assert_eq!(
        bot.state.tasks[&member(201)]["first_checkin"],
        TaskState::Open
    );
    assert_eq!(
        notes(&welcome, "task.handed_out").len(),
        4,
        "2 newcomers, 2 tasks"
    );
    assert_eq!(notes(&welcome, "task.done").len(), 1);
    assert_eq!(bot.state.balance(&member(201)), 10);

    let again = bot.member_says(201, "已读");
    assert!(bot.on(again).is_empty(), "paid once");
    let later = bot.fire_timers(&welcome);
    let reminded: Vec<_> = later.iter().filter(|d| !said(d).is_empty()).collect();
    assert_eq!(reminded.len(), 1);
    assert_eq!(mentioned(reminded[0]), vec![crate::domain::Id::number(202)]);
}

#[test]
fn newcomers_who_did_it_early_get_one_message_and_a_code_each() {
    let mut bot = Bot::new(TASKS);
    let first = bot.on(joined(201, false));
    bot.on(joined(202, false));
    for user in [201, 202] {
        let early = bot.member_says(user, "已读");
        bot.on(early);
        let twice = bot.member_says(user, "已读已读");
        assert!(bot.on(twice).is_empty(), "remembered once");
    }
    let welcome = bot.fire_timers(&first).remove(0);
    let texts = said(&welcome);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("NEW-1") && texts[1].contains("NEW-2"),
        "{texts:?}"
    );
    assert!(
        bot.state.records_of(NAME).next().is_none(),
        "{:?}",
        bot.state.records
    );
}

#[test]
fn a_newcomer_who_leaves_before_the_welcome_leaves_nothing_behind() {
    let mut bot = Bot::new(TASKS);
    let first = bot.on(joined(201, false));
    let early = bot.member_says(201, "已读");
    bot.on(early);
    assert_eq!(bot.state.records_of(NAME).count(), 1);
    bot.on(left(201));
    assert!(bot.state.records_of(NAME).next().is_none());
    let welcome = bot.fire_timers(&first).remove(0);
    assert!(said(&welcome).is_empty());
}

#[test]
fn a_newcomer_is_noted_once_when_given_tasks_and_once_when_the_last_is_done() {
    let mut bot = Bot::new(TASKS);
    let welcome = onboarded(&mut bot, &[201]);
    assert_eq!(
        notes(&welcome, "task.newcomer").len(),
        1,
        "one person, two tasks"
    );
    assert_eq!(notes(&welcome, "task.handed_out").len(), 2);

    let first = bot.member_says(201, "群规已读");
    let first = bot.on(first);
    assert!(
        notes(&first, "task.finished").is_empty(),
        "one task is still open"
    );
    let last = bot.says(201, Role::Member, crate::domain::Message::text("/签到"));
    let last = bot.on(last);
    assert_eq!(notes(&last, "task.finished").len(), 1);
}
