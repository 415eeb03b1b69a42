use super::*;
use crate::domain::{Action, Id, Role};
use crate::features::testkit::*;

const FILTER: &str = r#"
[filter]
words_file = "words.txt"
exempt = [77]
[filter.categories.ad]
actions = ["recall", "warn"]
[filter.categories.abuse]
actions = ["mute"]
mute = "30m"
[filter.categories.fraud]
actions = ["kick", "notify"]
dry_run = true
[filter.escalation]
strikes = 3
window = "24h"
then = "kick"
"#;

fn has(d: &Decision, f: impl Fn(&Action) -> bool) -> bool {
    d.actions.iter().any(f)
}

fn note(d: &Decision) -> serde_json::Value {
    d.changes
        .iter()
        .find_map(|c| match c {
            Change::Note { kind, detail, .. } if kind == "filter.hit" => Some(detail.clone()),
            _ => None,
        })
        .expect("every hit is logged")
}

#[test]
fn an_ad_is_recalled_and_the_member_warned_without_quoting_the_word() {
    let mut bot = Bot::new(FILTER);
    let msg = bot.member_says(20, "快来加 群领红包");
    let d = bot.on(msg);
    assert!(has(&d, |a| matches!(a, Action::DeleteMsg { .. })));
    let warning = &said(&d)[0];
    assert!(
        warning.contains("广告：加*") && !warning.contains("加群"),
        "{warning}"
    );
    assert_eq!(mentioned(&d), vec![Id::number(20)]);
    let logged = note(&d);
    assert_eq!(logged["hits"][0]["word"], "加群");
    assert_eq!(
        (
            logged["hits"][0]["start"].as_u64(),
            logged["hits"][0]["end"].as_u64()
        ),
        (Some(2), Some(5))
    );
    assert_eq!(logged["actions"], serde_json::json!(["recall", "warn"]));
}

#[test]
fn each_category_has_its_own_actions() {
    let mut bot = Bot::new(FILTER);
    let msg = bot.member_says(20, "你个傻逼");
    let d = bot.on(msg);
    assert!(has(&d, |a| matches!(
        a,
        Action::SetGroupBan {
            duration_secs: 1800,
            ..
        }
    )));
    assert!(!has(&d, |a| matches!(a, Action::DeleteMsg { .. })));
}

#[test]
fn a_dry_run_category_only_logs_what_it_would_have_done() {
    let mut bot = Bot::new(FILTER);
    let msg = bot.member_says(20, "招人刷单");
    let d = bot.on(msg);
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    assert_eq!(
        note(&d)["dry_run"][0]["would"],
        serde_json::json!(["kick", "notify"])
    );
    assert!(bot.state.strikes.is_empty(), "a dry run is not a strike");
}

#[test]
fn admins_the_exempt_and_harmless_text_are_left_alone() {
    let mut bot = Bot::new(FILTER);
    let admin = bot.says(50, Role::Admin, Message::text("加群"));
    assert!(bot.on(admin).is_empty());
    let exempt = bot.member_says(77, "加群");
    assert!(bot.on(exempt).is_empty());
    let harmless = bot.member_says(20, "周末参加群众活动");
    assert!(bot.on(harmless).is_empty());
}

#[test]
fn the_third_strike_within_the_window_kicks_and_clears_the_strikes() {
    let mut bot = Bot::new(FILTER);
    for _ in 0..2 {
        let msg = bot.member_says(20, "加群");
        let d = bot.on(msg);
        assert!(!has(&d, |a| matches!(a, Action::SetGroupKick { .. })));
        bot.advance(3600);
    }
    let msg = bot.member_says(20, "加群");
    let third = bot.on(msg);
    assert!(has(&third, |a| matches!(a, Action::SetGroupKick { .. })));
    assert!(
        said(&third)
            .iter()
            .any(|t| t.contains("违规 3 次，已被移出本群")),
        "{:?}",
        said(&third)
    );
    assert!(!bot.state.strikes.contains_key(&member(20)));
}

#[test]
fn after_a_removal_the_strikes_that_brought_it_are_still_shown_until_pardoned() {
    let mut bot = Bot::new(FILTER);
    for _ in 0..3 {
        let msg = bot.member_says(20, "加群");
        bot.on(msg);
        bot.advance(60);
    }
    let ask = bot.says(
        OPERATOR,
        Role::Member,
        with_mentions("/strikes ", &[20], ""),
    );
    let answer = said(&bot.on(ask)).join("");
    assert!(answer.contains("违规 0 次（此前："), "{answer}");
    assert!(answer.contains("违规 3 次被移出本群"), "{answer}");

    let pardon = bot.says(OPERATOR, Role::Member, with_mentions("/pardon ", &[20], ""));
    bot.on(pardon);
    let ask = bot.says(
        OPERATOR,
        Role::Member,
        with_mentions("/strikes ", &[20], ""),
    );
    assert!(!said(&bot.on(ask)).join("").contains("此前"));
}

#[test]
fn strikes_outside_the_window_do_not_count() {
    let mut bot = Bot::new(FILTER);
    for _ in 0..2 {
        let msg = bot.member_says(20, "加群");
        bot.on(msg);
        bot.advance(86400);
    }
    let msg = bot.member_says(20, "加群");
    assert!(!has(&bot.on(msg), |a| matches!(
        a,
        Action::SetGroupKick { .. }
    )));
}

#[test]
fn strikes_are_shown_and_pardoned_by_admins() {
    let mut bot = Bot::new(FILTER);
    let msg = bot.member_says(20, "加群");
    bot.on(msg);
    let ask = bot.says(
        OPERATOR,
        Role::Member,
        with_mentions("/strikes ", &[20], ""),
    );
    assert!(said(&bot.on(ask))[0].contains("违规 1 次"));
    let pardon = bot.says(OPERATOR, Role::Member, with_mentions("/pardon ", &[20], ""));
    bot.on(pardon);
    assert!(!bot.state.strikes.contains_key(&member(20)));
    let test = bot.says(OPERATOR, Role::Member, Message::text("/words test 来加@群"));
    assert!(said(&bot.on(test))[0].contains("加群（广告，变形）"));
}

#[test]
fn masking_keeps_only_the_first_character() {
    assert_eq!(mask("傻逼"), "傻*");
    assert_eq!(mask("weixin"), "w*****");
}

const LINKS_AND_FLOOD: &str = r#"
[filter]
words_file = "words.txt"
[filter.categories.link]
actions = ["recall"]
[filter.flood]
messages = 3
within = "10s"
repeats = 2
"#;

#[test]
fn links_phone_numbers_and_shared_cards_are_category_link() {
    let mut bot = Bot::new(LINKS_AND_FLOOD);
    for text in ["看 https://t.cn/x", "电话13812345678", "加v：shop_8888"] {
        bot.advance(60);
        let msg = bot.member_says(20, text);
        let d = bot.on(msg);
        assert!(has(&d, |a| matches!(a, Action::DeleteMsg { .. })), "{text}");
        assert_eq!(note(&d)["hits"][0]["category"], "link");
    }
    let card = crate::gateway::onebot::cq::parse("[CQ:share,url=http://x,title=t]");
    bot.advance(60);
    let msg = bot.says(21, Role::Member, card);
    assert_eq!(note(&bot.on(msg))["hits"][0]["word"], "share");
}

#[test]
fn too_many_messages_or_one_repeated_is_flood() {
    let mut bot = Bot::new(LINKS_AND_FLOOD);
    let words: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|w| {
            let msg = bot.member_says(20, w);
            bot.advance(1);
            note_kinds(&bot.on(msg))
        })
        .collect();
    assert_eq!(words, ["", "", ""]);
    let msg = bot.member_says(20, "d");
    assert_eq!(note(&bot.on(msg))["hits"][0]["word"], "too_many_messages");

    let mut bot = Bot::new(LINKS_AND_FLOOD);
    let first = bot.member_says(30, "买买买");
    assert!(bot.on(first).actions.is_empty());
    bot.advance(2);
    let again = bot.member_says(30, "买买买");
    assert_eq!(note(&bot.on(again))["hits"][0]["word"], "repeated_message");
    bot.advance(60);
    let later = bot.member_says(30, "买买买");
    assert!(
        bot.on(later).actions.is_empty(),
        "outside the window it is fine"
    );
}

fn note_kinds(d: &Decision) -> String {
    d.changes
        .iter()
        .filter_map(|c| match c {
            Change::Note { kind, .. } => Some(kind.clone()),
            _ => None,
        })
        .collect()
}

fn picture(url: &str) -> Message {
    Message::from_segments([Segment::Image {
        file: "a.png".into(),
        url: Some(url.into()),
    }])
}

#[test]
fn a_members_clean_picture_is_sent_to_be_read_for_qr_codes_and_an_admins_is_not() {
    let mut bot = Bot::new(FILTER);
    let from_member = bot.says(20, Role::Member, picture("http://gw/1.png"));
    let d = bot.on(from_member.clone());
    assert!(d.actions.is_empty());
    let EventBody::GroupMessage(m) = &from_member.body else {
        unreachable!()
    };
    assert_eq!(
        d.effects_of::<ImageCheck>(effect_kind::CHECK_IMAGES),
        [ImageCheck {
            account: from_member.account.clone(),
            heard_by: None,
            message: m.clone(),
            urls: vec!["http://gw/1.png".into()],
        }]
    );
    let from_admin = bot.says(21, Role::Admin, picture("http://gw/2.png"));
    assert!(bot.on(from_admin).effects.is_empty());
}

#[test]
fn qr_codes_found_in_a_picture_recall_it_warn_and_count_a_strike() {
    let mut bot = Bot::new(FILTER);
    let posted = bot.says(20, Role::Member, picture("http://gw/1.png"));
    let EventBody::GroupMessage(m) = posted.body else {
        unreachable!()
    };
    let d = bot.on(event(EventBody::QrCodes {
        message: m.clone(),
        codes: vec!["https://u.wechat.com/x".into()],
    }));
    assert!(has(&d, |a| matches!(
        a,
        Action::DeleteMsg { message_id, .. } if *message_id == m.message_id
    )));
    assert!(said(&d)[0].contains("链接"), "{:?}", said(&d));
    assert!(d
        .changes
        .iter()
        .any(|c| matches!(c, Change::Strike { category, .. } if category == "link")));
    assert_eq!(note(&d)["hits"][0]["word"], "qr_code");
}

#[test]
fn a_megabyte_of_ads_gets_a_short_warning_and_a_bounded_log_row() {
    let mut bot = Bot::new(
        "[filter]\nwords_file = \"words.txt\"\n[filter.categories.ad]\nactions = [\"recall\", \"warn\", \"notify\"]\n[filter.categories.fraud]\nactions = [\"warn\"]\n",
    );
    let text = "加 群 刷 单 ".repeat(90_000);
    let event = bot.member_says(20, &text);
    let d = bot.on(event);

    let warning = &said(&d)[0];
    assert!(warning.chars().count() < 80, "{warning}");
    assert!(
        warning.contains("加*") && warning.contains("刷*"),
        "{warning}"
    );
    let notice = d
        .actions
        .iter()
        .find_map(|a| match a {
            Action::SendPrivateMsg { message, .. } => Some(message.plain_text()),
            _ => None,
        })
        .expect("operators are notified");
    assert!(
        notice.chars().count() < 400,
        "{} chars",
        notice.chars().count()
    );
    let logged = note(&d);
    assert_eq!(logged["hits"].as_array().unwrap().len(), LOGGED_HITS);
    assert_eq!(logged["hit_count"], 180_000);
}

const RAID: &str = r#"
[filter]
words_file = "words.txt"
[filter.flood]
messages = 3
within = "10s"
repeats = 3
[filter.categories.flood]
actions = ["recall", "warn", "mute"]
mute = "5m"
[filter.escalation]
strikes = 3
window = "24h"
then = "kick"
"#;

#[test]
fn a_flooding_member_is_muted_and_warned_once_for_the_burst_and_counted_once() {
    let mut bot = Bot::new(RAID);
    let mut actions = Vec::new();
    let mut strikes = 0;
    for i in 0..30 {
        let msg = bot.member_says(20, &format!("刷屏 {i}"));
        let d = bot.on(msg);
        strikes += d
            .changes
            .iter()
            .filter(|c| matches!(c, Change::Strike { .. }))
            .count();
        actions.extend(d.actions);
    }
    let mutes = actions
        .iter()
        .filter(|a| matches!(a, Action::SetGroupBan { .. }))
        .count();
    assert_eq!(
        (mutes, said_in(&actions).len(), strikes),
        (1, 1, 1),
        "{actions:?}"
    );

    // Once the mute is over, a new burst is a new offence.
    bot.advance(301);
    let mut later = Vec::new();
    for i in 0..4 {
        let msg = bot.member_says(20, &format!("又来 {i}"));
        later.extend(bot.on(msg).actions);
    }
    assert!(later
        .iter()
        .any(|a| matches!(a, Action::SetGroupBan { .. })));
}

fn said_in(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| matches!(a, Action::SendGroupMsg { .. }))
        .collect()
}

#[test]
fn warnings_within_the_window_are_merged_into_one_message_that_mentions_each_member() {
    let mut bot = Bot::new("[filter]\nwords_file = \"words.txt\"\nwarn_window = \"10s\"\n");
    let first = bot.member_says(20, "加群 来");
    let opened = bot.on(first);
    assert_eq!(said(&opened).len(), 1, "the first warning goes at once");
    let mut later = Vec::new();
    for user in [21, 22, 21] {
        bot.advance(1);
        let msg = bot.member_says(user, "加群 来");
        let d = bot.on(msg);
        assert!(said(&d).is_empty(), "merged, not sent one by one");
        later.push(d);
    }
    let flushed = bot.fire_timers(&opened);
    assert_eq!(flushed.len(), 1);
    assert_eq!(said(&flushed[0]).len(), 1);
    assert_eq!(mentioned(&flushed[0]), [Id::number(21), Id::number(22)]);

    // The window is closed: the next offender is warned at once again.
    bot.advance(20);
    let msg = bot.member_says(23, "加群 来");
    assert_eq!(said(&bot.on(msg)).len(), 1);
}

#[test]
fn a_warning_names_the_category_by_the_operators_label() {
    let labelled = FILTER.replace(
        "[filter.categories.ad]\n",
        "[filter.categories.ad]\nlabel = \"私下推广\"\n",
    );
    let mut bot = Bot::new(&labelled);
    let ad = bot.member_says(20, "快来加 群领红包");
    let warning = &said(&bot.on(ad))[0];
    assert!(warning.contains("（私下推广：加*）"), "{warning}");
    assert!(
        !warning.contains("ad") && !warning.contains("广告"),
        "{warning}"
    );
}

#[test]
fn the_shops_own_links_and_allowed_phone_numbers_are_not_filtered() {
    let config = FILTER.replace("[filter]\n", "[filter]\nphones = \"allow\"\n")
        + r#"
[filter.links]
allow = ["*.weidian.com"]
[[flash_sales]]
id = "luosifen"
title = "螺蛳粉限时秒杀"
link = "https://shop.example.com/p/123"
starts_at = "2026-11-23 20:00"
duration = "30m"
"#;
    let mut bot = Bot::new(&config);
    for (i, text) in [
        "我买过，链接 https://shop.example.com/p/123 很好用",
        "店铺 https://m.weidian.com/item/9",
        "收货电话 13812345678",
    ]
    .into_iter()
    .enumerate()
    {
        bot.advance(60);
        let msg = bot.member_says(30 + i as i64, text);
        assert!(bot.on(msg).actions.is_empty(), "{text}");
    }
    bot.advance(60);
    let other = bot.member_says(40, "加我 https://other-shop.top/x");
    assert!(has(&bot.on(other), |a| matches!(
        a,
        Action::DeleteMsg { .. }
    )));
}

#[test]
fn a_warning_says_which_strike_it_is_and_what_the_next_ones_bring() {
    let mut bot = Bot::new(FILTER);
    let first = bot.member_says(20, "快来加 群领红包");
    let warning = &said(&bot.on(first))[0];
    assert!(
        warning.ends_with("（第 1 次，满 3 次将被移出本群）"),
        "{warning}"
    );
    bot.advance(60);
    let second = bot.member_says(20, "再来加 群");
    let warning = &said(&bot.on(second))[0];
    assert!(
        warning.ends_with("（第 2 次，再犯将被移出本群）"),
        "{warning}"
    );
}

#[test]
fn words_test_judges_links_phone_numbers_and_wechat_ids_as_the_live_filter_does() {
    let mut bot = Bot::new(&format!(
        "{FILTER}[filter.links]\nallow = [\"myshop.cn\"]\n"
    ));
    let test = |bot: &mut Bot, text: &str| {
        let ask = bot.says(
            OPERATOR,
            Role::Member,
            Message::text(format!("/words test {text}")),
        );
        said(&bot.on(ask)).join("")
    };
    let answer = test(&mut bot, "加我微信号 abc_12345 或打13812345678");
    assert!(
        answer.contains("abc_12345（微信号）") && answer.contains("13812345678（手机号）"),
        "{answer}"
    );
    let answer = test(&mut bot, "看看 https://t.cn/abc");
    assert!(answer.contains("https://t.cn/abc（链接）"), "{answer}");
    let own = test(&mut bot, "店里 https://myshop.cn/p/1 下单");
    assert!(
        own.starts_with("没有命中"),
        "the shop's own link passes here as in the chat: {own}"
    );
    let live = bot.member_says(20, "店里 https://myshop.cn/p/1 下单");
    assert!(bot.on(live).actions.is_empty());
}
