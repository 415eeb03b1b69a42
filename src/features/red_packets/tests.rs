use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::config::SplitMethod;
use crate::domain::Role;
use crate::features::testkit::{member, mentioned, notes, said, Bot, ACCOUNT, GROUP, OPERATOR};

fn methods() -> impl Strategy<Value = SplitMethod> {
    prop_oneof![Just(SplitMethod::DoubleMean), Just(SplitMethod::Fair)]
}

proptest! {
    #[test]
    fn every_split_has_the_shares_asked_each_at_least_one_point_summing_to_the_total(
        (total, shares) in (1u32..20_000).prop_flat_map(|t| (Just(t), 1..=t.min(MAX_SHARES))),
        method in methods(),
        seed in any::<u64>(),
    ) {
        let parts = split(total, shares, method, &mut StdRng::seed_from_u64(seed));
        prop_assert_eq!(parts.len(), shares as usize);
        prop_assert!(parts.iter().all(|&p| p >= 1));
        prop_assert_eq!(parts.iter().sum::<u32>(), total);
    }
}

/// Both methods are fair by position: over many packets, each position's mean
/// share is the total over the shares. 20,000 packets of 100 points in 10
/// shares: a position's share has a standard deviation under 20 points, so the
/// mean of 20,000 has one under 0.15, and a tolerance of 0.6 is four of those
/// (a fair split misses it with odds below 1 in 10,000 a position), while a
/// bias of 6 % is caught. The seed is fixed, so the test is deterministic.
#[test]
fn each_position_gets_the_mean_share_on_average_with_both_methods() {
    for method in [SplitMethod::DoubleMean, SplitMethod::Fair] {
        let mut rng = StdRng::seed_from_u64(20261124);
        let mut sums = [0u64; 10];
        let rounds = 20_000;
        for _ in 0..rounds {
            for (i, p) in split(100, 10, method, &mut rng).iter().enumerate() {
                sums[i] += u64::from(*p);
            }
        }
        for (i, sum) in sums.iter().enumerate() {
            let mean = *sum as f64 / rounds as f64;
            assert!((mean - 10.0).abs() < 0.6, "{method:?} position {i}: {mean}");
        }
    }
}

fn admin_opens(bot: &mut Bot, text: &str) -> Decision {
    let open = bot.says(OPERATOR, Role::Member, Message::text(text));
    bot.on(open)
}

fn ledger(d: &Decision) -> Vec<(Id, i64, String)> {
    d.changes
        .iter()
        .filter_map(|c| match c {
            Change::Points {
                member,
                amount,
                reason,
                ..
            } => Some((member.user.clone(), *amount, reason.clone())),
            _ => None,
        })
        .collect()
}

fn group() -> GroupKey {
    GroupKey {
        account: Id::number(ACCOUNT),
        group: Id::number(GROUP),
    }
}

fn shop() -> Id {
    Id::text(SHOP_USER)
}

#[test]
fn an_admins_packet_is_paid_by_the_shop_and_announced_with_the_grab_word() {
    let mut bot = Bot::new("");
    let d = admin_opens(&mut bot, "/redpacket 100 10");
    assert!(
        said(&d)[0].contains("100 积分的拼手气红包，共 10 份！发送「抢」"),
        "{:?}",
        said(&d)
    );
    assert_eq!(
        ledger(&d),
        vec![(shop(), -100, "red_packet.sent".to_string())]
    );
    assert_eq!(
        bot.state.balance(&member(OPERATOR)),
        0,
        "her points are hers"
    );
    let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
    let packets = open_packets(&group(), &ctx);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].1.left.iter().sum::<u32>(), 100);

    let points = bot.says(OPERATOR, Role::Member, Message::text("/points"));
    assert_eq!(said(&bot.on(points)), vec!["你当前有 0 积分"]);
}

#[test]
fn the_shops_account_is_no_member_and_never_ranked() {
    assert_eq!(shop_account(&group()).user.as_str(), "#shop");
    let mut bot = Bot::new("");
    admin_opens(&mut bot, "/redpacket 100 10");
    let grab = bot.member_says(21, "抢");
    bot.on(grab);
    let rank =
        crate::features::points::rank(&bot.state, &bot.config, &group().account, &group().group);
    assert_eq!(rank.len(), 1, "{rank:?}");
    assert_eq!(rank[0].0, "成员21");
}

#[test]
fn with_paid_by_sender_the_admin_pays_and_must_have_the_points() {
    let mut bot = Bot::new("[red_packets]\npaid_by = \"sender\"\n");
    let too_small = admin_opens(&mut bot, "/redpacket 5 10");
    assert!(
        said(&too_small)[0].contains("用法"),
        "{:?}",
        said(&too_small)
    );
    let refused = admin_opens(&mut bot, "/redpacket 100 10");
    assert_eq!(
        said(&refused),
        vec!["你的积分不够发这个红包：当前 0 积分，需要 100 积分"]
    );
    assert!(ledger(&refused).is_empty());
    assert_eq!(notes(&refused, "redpacket.refused").len(), 1);

    bot.state.apply(&Change::Points {
        member: member(OPERATOR),
        amount: 150,
        reason: "gift".into(),
        name: None,
    });
    let opened = admin_opens(&mut bot, "/redpacket 100 10");
    assert_eq!(
        ledger(&opened),
        vec![(Id::number(OPERATOR), -100, "red_packet.sent".to_string())]
    );
    assert_eq!(bot.state.balance(&member(OPERATOR)), 50);
}

#[test]
fn bad_packets_get_a_usage_answer_and_open_nothing() {
    let mut bot = Bot::new("");
    for text in [
        "/redpacket 5 10",
        "/redpacket 100 0",
        "/redpacket 100 101",
        "/redpacket 20000 10",
        "/redpacket lots 10",
        "/红包",
    ] {
        let d = admin_opens(&mut bot, text);
        assert!(said(&d)[0].contains("用法"), "{text}: {:?}", said(&d));
        assert!(ledger(&d).is_empty(), "{text}");
    }
    let member = bot.member_says(7, "/redpacket 100 10");
    let d = bot.on(member);
    assert!(said(&d)[0].contains("只有管理员"), "{:?}", said(&d));
}

#[test]
fn each_member_grabs_once_and_the_empty_packet_posts_the_best_luck() {
    let mut bot = Bot::new("");
    admin_opens(&mut bot, "/redpacket 30 3");
    let mut paid = 0;
    for user in [21, 22, 21, 23, 24] {
        let grab = bot.member_says(user, "抢");
        let d = bot.on(grab);
        paid += ledger(&d).iter().map(|(_, a, _)| a).sum::<i64>();
        if user == 23 {
            let posted = said(&d).join("\n");
            assert!(
                posted.contains("红包已被抢完：3 人抢到 30 积分"),
                "{posted}"
            );
            assert!(posted.contains("手气最佳"), "{posted}");
        }
    }
    assert_eq!(
        paid, 30,
        "three grabs, the second try of 21 and the late 24 get nothing"
    );
}

#[test]
fn a_packet_with_a_password_is_grabbed_only_with_it() {
    let mut bot = Bot::new("");
    admin_opens(&mut bot, "/redpacket 10 2 恭喜发财");
    let plain = bot.member_says(21, "抢");
    assert!(ledger(&bot.on(plain)).is_empty());
    let right = bot.member_says(21, "恭喜发财");
    assert_eq!(ledger(&bot.on(right)).len(), 1);
}

#[test]
fn grabs_in_a_rush_are_answered_together() {
    let mut bot = Bot::new("");
    admin_opens(&mut bot, "/redpacket 100 10");
    let first = bot.member_says(21, "抢");
    let d = bot.on(first);
    assert!(said(&d).is_empty(), "answered when the window closes");
    let answer_timer = d.timers[0].clone();
    for user in 22..26 {
        let grab = bot.member_says(user, "抢");
        assert!(bot.on(grab).timers.is_empty(), "one window");
    }
    bot.now = answer_timer.due;
    let answered = bot.wake(&answer_timer);
    assert_eq!(said(&answered).len(), 1);
    assert_eq!(mentioned(&answered).len(), 5);
}

#[test]
fn an_expired_packet_refunds_the_rest_to_whoever_paid_and_posts_the_result() {
    let mut bot = Bot::new("");
    let opened = admin_opens(&mut bot, "/redpacket 100 10");
    let grab = bot.member_says(21, "抢");
    let grabbed = bot.on(grab);
    let expiry = opened
        .timers
        .iter()
        .find(|t| t.due > bot.now + chrono::Duration::hours(1))
        .unwrap()
        .clone();
    bot.now = expiry.due;
    let d = bot.wake(&expiry);
    let posted = said(&d).join("");
    assert!(posted.contains("红包已过期：1 人抢到"), "{posted}");
    let refund = ledger(&d);
    assert_eq!(refund.len(), 1);
    assert_eq!(refund[0].0, shop());
    assert_eq!(refund[0].2, "red_packet.refund");
    let total: i64 = [ledger(&opened), ledger(&grabbed), refund]
        .concat()
        .iter()
        .map(|(_, a, _)| a)
        .sum();
    assert_eq!(total, 0, "a packet's ledger rows sum to zero");
}

#[test]
fn status_lists_the_ten_oldest_open_packets_and_counts_the_rest() {
    let mut bot = Bot::new("");
    for _ in 0..13 {
        let open = bot.says(OPERATOR, Role::Member, Message::text("/redpacket 10 2"));
        bot.on(open);
    }
    let status = bot.says(OPERATOR, Role::Member, Message::text("/redpacket status"));
    let answer = said(&bot.on(status)).join("\n");
    assert_eq!(answer.matches("🧧").count(), 10, "{answer}");
    assert!(answer.ends_with("……另有 3 个未抢完的红包"), "{answer}");
}

#[test]
fn a_senders_packet_gets_the_rest_back_at_expiry() {
    let mut bot = Bot::new("[red_packets]\npaid_by = \"sender\"\n");
    bot.state.apply(&Change::Points {
        member: member(OPERATOR),
        amount: 100,
        reason: "gift".into(),
        name: None,
    });
    let opened = admin_opens(&mut bot, "/redpacket 100 10");
    let expiry = opened.timers[0].clone();
    bot.now = expiry.due;
    let refund = ledger(&bot.wake(&expiry));
    assert_eq!(
        refund,
        vec![(Id::number(OPERATOR), 100, "red_packet.refund".to_string())]
    );
}

/// Two admins' packets open at once, grabbed with the same word.
fn two_packets(bot: &mut Bot) -> Timer {
    admin_opens(bot, "/redpacket 30 3");
    let other = bot.says(2, Role::Admin, Message::text("/redpacket 50 5"));
    bot.advance(1);
    let d = bot.on(other);
    assert!(
        said(&d)[0].contains("成员2 发了一个 50 积分"),
        "{:?}",
        said(&d)
    );
    let grab = bot.member_says(21, "抢");
    bot.on(grab).timers[0].clone()
}

#[test]
fn with_two_packets_open_each_grab_answer_names_its_packet() {
    let mut bot = Bot::new("");
    let answer_timer = two_packets(&mut bot);
    let again = bot.member_says(21, "抢");
    bot.on(again);
    let other = bot.member_says(22, "抢");
    bot.on(other);
    bot.now = answer_timer.due;
    let answer = said(&bot.wake(&answer_timer)).join("\n");
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 2, "{answer}");
    assert!(lines[0].starts_with("🧧 成员1的 30 积分红包："), "{answer}");
    assert_eq!(lines[0].matches("抢到").count(), 2, "{answer}");
    assert!(lines[1].starts_with("🧧 成员2的 50 积分红包："), "{answer}");
    assert_eq!(lines[1].matches("抢到").count(), 1, "{answer}");
}

#[test]
fn a_repeat_grab_is_answered_once_a_packet_in_the_merged_answer() {
    let mut bot = Bot::new("");
    admin_opens(&mut bot, "/redpacket 100 10");
    let first = bot.member_says(21, "抢");
    let answer_timer = bot.on(first).timers[0].clone();
    for _ in 0..5 {
        let spam = bot.member_says(21, "抢");
        let d = bot.on(spam);
        assert!(said(&d).is_empty() && ledger(&d).is_empty());
    }
    bot.now = answer_timer.due;
    let answered = bot.wake(&answer_timer);
    let answer = said(&answered);
    assert_eq!(answer.len(), 1, "one merged answer");
    assert_eq!(
        answer[0]
            .matches("你已经抢过成员1的 100 积分红包了")
            .count(),
        1,
        "{answer:?}"
    );
    assert_eq!(mentioned(&answered), vec![Id::number(21), Id::number(21)]);

    bot.advance(60);
    let later = bot.member_says(21, "抢");
    let d = bot.on(later);
    assert!(d.is_empty(), "told once: {:?}", said(&d));
}

#[test]
fn answers_waiting_from_an_earlier_version_still_read() {
    let old = serde_json::json!({"grabs": [[21, 12], [22, 3]]});
    let answers: Answers = serde_json::from_value(old).unwrap();
    assert_eq!(answers.grabs.len(), 2);
    let text = answers.message().plain_text();
    assert!(text.starts_with("🧧 红包："), "{text}");
    assert!(text.contains("抢到 12 积分"), "{text}");
}
