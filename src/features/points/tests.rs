use super::*;
use crate::features::testkit::*;

fn ctx(bot: &Bot) -> Context<'_> {
    Context::new(&bot.config, &bot.state, bot.now, 0)
}

fn check_in_now(bot: &mut Bot, user: i64) -> CheckIn {
    let (result, decision) = check_in(&member(user), None, &ctx(bot));
    for c in &decision.changes {
        bot.state.apply(c);
    }
    result
}

#[test]
fn a_second_check_in_the_same_day_is_refused_and_the_next_day_extends_the_streak() {
    let mut bot = Bot::new("[points]\ncheckin = 5\nstreak_bonus = 2\nstreak_cap = 3\n");
    assert_eq!(
        check_in_now(&mut bot, 7),
        CheckIn::Done {
            streak: 1,
            points: 5,
            balance: 5
        }
    );
    bot.advance(3600);
    assert_eq!(check_in_now(&mut bot, 7), CheckIn::AlreadyToday);
    let mut earned = Vec::new();
    for _ in 0..4 {
        bot.advance(86400);
        if let CheckIn::Done { points, .. } = check_in_now(&mut bot, 7) {
            earned.push(points);
        }
    }
    assert_eq!(earned, [7, 9, 9, 9], "the bonus grows to the cap and stays");
    bot.advance(3 * 86400);
    assert!(
        matches!(check_in_now(&mut bot, 7), CheckIn::Done { streak: 1, .. }),
        "a gap resets the streak"
    );
}

#[test]
fn the_day_turns_at_midnight_in_the_configured_time_zone() {
    let mut bot = Bot::new("");
    // 23:30 in Shanghai is 15:30 UTC; thirty minutes later it is the next day there.
    bot.now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 15, 30, 0).unwrap();
    assert!(matches!(check_in_now(&mut bot, 7), CheckIn::Done { .. }));
    bot.advance(40 * 60);
    assert!(matches!(
        check_in_now(&mut bot, 7),
        CheckIn::Done { streak: 2, .. }
    ));
}

#[test]
fn coupons_are_handed_out_in_order_and_running_out_is_reported() {
    let mut bot = Bot::new("");
    let mut codes = Vec::new();
    let mut warnings = Vec::new();
    for user in 1..=6 {
        let (claim, d) = claim_coupon("newcomer", 0, &member(user), &ctx(&bot));
        for c in &d.changes {
            if let Change::Note { kind, .. } = c {
                warnings.push(kind.clone());
            }
            bot.state.apply(c);
        }
        codes.push(claim);
    }
    assert_eq!(codes[0], Claim::Code("NEW-1".into()));
    assert_eq!(codes[4], Claim::Code("NEW-5".into()));
    assert_eq!(codes[5], Claim::PoolEmpty);
    assert_eq!(
        warnings,
        ["warning.coupons_low", "warning.coupons_exhausted"]
    );
}

#[test]
fn rank_lists_the_group_best_first_with_names() {
    let mut bot = Bot::new("");
    for (user, amount) in [(1, 10), (2, 30), (3, 20)] {
        bot.state.apply(&Change::Points {
            member: member(user),
            amount,
            reason: "test".into(),
            name: Some(format!("成员{user}")),
        });
    }
    let rows = rank(
        &bot.state,
        &bot.config,
        &member(0).account,
        &member(0).group,
    );
    assert_eq!(
        rows,
        vec![
            ("成员2".to_string(), 30),
            ("成员3".to_string(), 20),
            ("成员1".to_string(), 10)
        ]
    );
}
