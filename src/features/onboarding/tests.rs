use super::*;
use crate::features::testkit::*;

const VERIFY: &str =
    "[verification]\nenabled = true\nanswer = { keyword = \"我是宝妈\" }\ntimeout = \"5m\"\n";

#[test]
fn a_wave_of_joiners_gets_one_welcome_mentioning_all_of_them() {
    let mut bot = Bot::new("[welcome]\nbatch_window = \"30s\"\ntemplate = \"欢迎 {mentions} 加入{group}！共 {count} 位\"\n");
    let first = bot.on(joined(201, false));
    assert_eq!(first.timers.len(), 1, "the first joiner opens the window");
    for user in 202..=230 {
        bot.advance(1);
        assert!(
            bot.on(joined(user, false)).timers.is_empty(),
            "later joiners share it"
        );
    }
    let waves = bot.fire_timers(&first);
    let welcome = &waves[0];
    assert_eq!(said(welcome).len(), 1);
    assert!(
        said(welcome)[0].ends_with("加入宝妈群！共 30 位"),
        "{:?}",
        said(welcome)
    );
    assert_eq!(mentioned(welcome).len(), 30);
    assert!(bot.state.joiners.is_empty());
}

#[test]
fn the_bot_itself_is_not_welcomed() {
    let mut bot = Bot::new("");
    assert!(bot.on(joined(ACCOUNT, false)).is_empty());
}

#[test]
fn a_member_who_rejoins_within_the_window_is_not_welcomed_again() {
    let mut bot = Bot::new("[welcome]\nrejoin_window = \"1d\"\n");
    let d = bot.on(joined(201, false));
    bot.fire_timers(&d);
    bot.on(left(201));
    bot.advance(3600);
    let again = bot.on(joined(201, false));
    assert!(again.timers.is_empty() && again.actions.is_empty());
    assert!(
        matches!(&again.changes[0], Change::Note { kind, .. } if kind == "welcome.skipped_rejoin")
    );

    bot.advance(2 * 86400);
    let much_later = bot.on(joined(201, false));
    assert_eq!(
        much_later.timers.len(),
        1,
        "after the window they are new again"
    );
}

#[test]
fn someone_who_leaves_before_the_welcome_is_not_mentioned() {
    let mut bot = Bot::new("");
    let d = bot.on(joined(201, false));
    bot.on(joined(202, false));
    bot.on(left(201));
    let waves = bot.fire_timers(&d);
    assert_eq!(mentioned(&waves[0]), vec![Id::number(202)]);
}

#[test]
fn welcome_can_be_switched_off_for_one_group_and_paused() {
    let mut bot = Bot::new("");
    bot.config.groups[0].welcome = Some(false);
    let d = bot.on(joined(201, false));
    assert!(said(&bot.fire_timers(&d)[0]).is_empty());

    let mut bot = Bot::new("");
    bot.state.paused.insert(member(0).group_key());
    let d = bot.on(joined(201, false));
    assert!(said(&bot.fire_timers(&d)[0]).is_empty());
}

fn request(bot: &mut Bot, user: i64, comment: &str) -> Decision {
    bot.on(event(EventBody::JoinRequest {
        group: Id::number(GROUP),
        user: Id::number(user),
        comment: comment.into(),
        flag: format!("flag-{user}"),
        invite: false,
    }))
}

fn verdict(d: &Decision) -> Option<(bool, Option<String>)> {
    d.actions.iter().find_map(|a| match a {
        Action::SetGroupAddRequest {
            approve, reason, ..
        } => Some((*approve, reason.clone())),
        _ => None,
    })
}

#[test]
fn join_requests_are_decided_by_their_answer_and_the_blocklist() {
    let mut bot = Bot::new("[join_requests]\nanswer = { regex = \"宝妈|孕妈\" }\nreject_reason = \"请回答：你是宝妈吗？\"\nblocklist = [666]\n");
    assert_eq!(
        verdict(&request(&mut bot, 201, "我是宝妈，想进群")),
        Some((true, None))
    );
    assert_eq!(
        verdict(&request(&mut bot, 202, "路过")),
        Some((false, Some("请回答：你是宝妈吗？".into())))
    );
    let blocked = request(&mut bot, 666, "我是宝妈");
    assert_eq!(verdict(&blocked).map(|v| v.0), Some(false));
    assert!(
        matches!(&blocked.changes[0], Change::Note { kind, .. } if kind == "join_request.rejected_blocklisted")
    );
}

#[test]
fn a_wrong_answer_can_be_left_to_the_admins() {
    let mut bot =
        Bot::new("[join_requests]\nanswer = { keyword = \"宝妈\" }\non_mismatch = \"ignore\"\n");
    let d = request(&mut bot, 202, "路过");
    assert_eq!(verdict(&d), None);
    assert!(
        matches!(&d.changes[0], Change::Note { kind, .. } if kind == "join_request.left_to_admins")
    );
}

#[test]
fn a_newcomer_who_does_not_verify_in_time_is_removed_with_a_notice() {
    let mut bot = Bot::new(VERIFY);
    let d = bot.on(joined(201, false));
    bot.on(joined(202, false));
    let wave = bot.fire_timers(&d).remove(0);
    assert_eq!(
        said(&wave).len(),
        2,
        "welcome, then the verification prompt"
    );
    assert!(said(&wave)[1].contains("5 分钟"), "{:?}", said(&wave));

    let answer = bot.member_says(202, "我是宝妈呀");
    let passed = bot.on(answer);
    assert!(said(&passed)[0].contains("验证通过"));

    let deadline = bot.fire_timers(&wave).remove(0);
    let kicked: Vec<_> = deadline
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::SetGroupKick { user, .. } => Some(user.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(kicked, vec![Id::number(201)]);
    assert!(
        said(&deadline)[0].contains("未在 5 分钟 内完成验证"),
        "{:?}",
        said(&deadline)
    );
}

#[test]
fn invited_newcomers_are_exempt_from_verification_by_default() {
    let mut bot = Bot::new(VERIFY);
    let d = bot.on(joined(201, true));
    let wave = bot.fire_timers(&d).remove(0);
    assert_eq!(said(&wave).len(), 1, "only the welcome");
    assert!(bot.state.verifying.is_empty());
}

const COUPON_WELCOME: &str = "[welcome]\ntemplate = \"欢迎 {mentions} 加入{group}！发送「已读」确认群规，领取{coupon}\"\ncoupon = \"newcomer\"\n";

#[test]
fn the_welcome_promises_the_coupon_while_the_pool_has_codes() {
    let mut bot = Bot::new(COUPON_WELCOME);
    let d = bot.on(joined(201, false));
    let welcome = said(&bot.fire_timers(&d)[0]).remove(0);
    assert!(
        welcome.ends_with("发送「已读」确认群规，领取满50减10券"),
        "{welcome}"
    );
}

#[test]
fn the_welcome_does_not_promise_a_coupon_from_an_empty_pool() {
    let mut bot = Bot::new(COUPON_WELCOME);
    bot.state
        .coupons
        .insert("newcomer".into(), Default::default());
    let d = bot.on(joined(201, false));
    let welcome = said(&bot.fire_timers(&d)[0]).remove(0);
    assert!(
        welcome.ends_with("加入宝妈群！发送「已读」确认群规"),
        "{welcome}"
    );
}

#[test]
fn codes_the_wave_takes_early_count_against_the_welcomes_promise() {
    let tasks = "[[tasks]]\nid = \"read_rules\"\ndone_when = { keyword = \"已读\" }\nreward = { points = 10, coupon = \"newcomer\" }\n";
    let mut bot = Bot::new(&format!("{COUPON_WELCOME}{tasks}"));
    let last = bot.state.coupons["newcomer"][4].clone();
    bot.state.coupons.insert("newcomer".into(), [last].into());
    let d = bot.on(joined(201, false));
    let early = bot.member_says(201, "已读");
    bot.on(early);
    let texts = said(&bot.fire_timers(&d)[0]);
    assert!(!texts[0].contains("领取"), "{texts:?}");
    assert!(texts[1].contains("优惠券：NEW-5"), "{texts:?}");
}
