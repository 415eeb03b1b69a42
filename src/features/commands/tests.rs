use super::*;
use crate::domain::{Id, Segment};
use crate::features::testkit::*;

fn ask(bot: &mut Bot, user: i64, role: Role, message: Message) -> Decision {
    let event = bot.says(user, role, message);
    bot.on(event)
}

fn bans(d: &Decision) -> Vec<(Id, u64)> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::SetGroupBan {
                user,
                duration_secs,
                ..
            } => Some((user.clone(), *duration_secs)),
            _ => None,
        })
        .collect()
}

#[test]
fn commands_take_words_and_mentions_and_accept_a_full_width_slash() {
    let inv = parse(&with_mentions("/mute ", &[5], " 10m")).unwrap();
    assert_eq!(
        inv,
        Invocation {
            name: "mute".into(),
            args: vec!["10m".into()],
            targets: vec![Id::number(5)]
        }
    );
    assert_eq!(parse(&Message::text("／签到")).unwrap().name, "签到");
    assert!(parse(&Message::text("hello /ping")).is_none());
}

#[test]
fn durations_read_latin_and_chinese_units() {
    assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("1天"), Some(Duration::from_secs(86400)));
    assert_eq!(parse_duration("30分钟"), Some(Duration::from_secs(1800)));
    assert_eq!(parse_duration("soon"), None);
}

#[test]
fn an_admins_mute_bans_for_the_duration_given() {
    let mut bot = Bot::new("");
    let d = ask(
        &mut bot,
        50,
        Role::Admin,
        with_mentions("/mute ", &[7], " 10m"),
    );
    assert_eq!(bans(&d), vec![(Id::number(7), 600)]);
    assert!(
        said(&d)[0].contains("已禁言") && said(&d)[0].ends_with("10 分钟"),
        "{:?}",
        said(&d)
    );
    assert_eq!(mentioned(&d), vec![Id::number(7)]);

    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/禁言 ", &[8], " 2小时"),
    );
    assert_eq!(
        bans(&d),
        vec![(Id::number(8), 7200)],
        "operators may, whatever their group role"
    );
}

#[test]
fn a_members_mute_is_refused_and_logged() {
    let mut bot = Bot::new("");
    let d = ask(
        &mut bot,
        60,
        Role::Member,
        with_mentions("/mute ", &[7], " 10m"),
    );
    assert!(bans(&d).is_empty());
    assert!(said(&d)[0].contains("只有管理员可以使用"));
    assert!(d
        .changes
        .iter()
        .any(|c| matches!(c, Change::Note { kind, .. } if kind == "command.refused")));
}

#[test]
fn group_roles_are_not_trusted_when_the_config_says_so() {
    let mut bot = Bot::new("");
    bot.config.admins.trust_group_roles = false;
    let d = ask(&mut bot, 50, Role::Owner, with_mentions("/kick ", &[7], ""));
    assert!(said(&d)[0].contains("只有管理员可以使用"));
}

#[test]
fn bad_arguments_get_a_usage_line() {
    let mut bot = Bot::new("");
    let cases = [
        (Message::text("/mute 10m"), "请 @ 要禁言的成员"),
        (with_mentions("/mute ", &[7], ""), "请写明禁言时长"),
        (with_mentions("/mute ", &[7], " 31d"), "1 分钟到 30 天之间"),
        (with_mentions("/mute ", &[7], " 10s"), "1 分钟到 30 天之间"),
        (Message::text("/announce"), "请写明公告内容"),
    ];
    for (message, why) in cases {
        let d = ask(&mut bot, OPERATOR, Role::Member, message);
        let text = &said(&d)[0];
        assert!(text.contains(why) && text.contains("用法："), "{text}");
        assert!(bans(&d).is_empty());
    }
}

#[test]
fn an_unknown_command_suggests_the_nearest_one() {
    let mut bot = Bot::new("");
    let d = ask(&mut bot, 60, Role::Member, Message::text("/chekin"));
    assert!(
        said(&d)[0].contains("你是不是想用 /签到？发送 /帮助 查看全部命令"),
        "{:?}",
        said(&d)
    );
}

#[test]
fn members_are_held_to_a_cooldown_and_admins_are_not() {
    let mut bot = Bot::new("[commands]\ncooldown = \"5s\"\n");
    assert_eq!(
        said(&ask(&mut bot, 60, Role::Member, Message::text("/ping"))),
        ["pong"]
    );
    bot.advance(2);
    // Inside the cooldown: one short answer, then nothing until it is over.
    assert_eq!(
        said(&ask(&mut bot, 60, Role::Member, Message::text("/ping"))),
        ["⏳ 命令太频繁，请 3 秒后再试"]
    );
    assert!(ask(&mut bot, 60, Role::Member, Message::text("/ping"))
        .actions
        .is_empty());
    bot.advance(4);
    assert_eq!(
        said(&ask(&mut bot, 60, Role::Member, Message::text("/ping"))),
        ["pong"]
    );
    for _ in 0..3 {
        assert_eq!(
            said(&ask(
                &mut bot,
                OPERATOR,
                Role::Member,
                Message::text("/ping")
            )),
            ["pong"]
        );
    }
}

#[test]
fn every_reply_quotes_the_command() {
    let mut bot = Bot::new("");
    let d = ask(&mut bot, 60, Role::Member, Message::text("/rules"));
    let Action::SendGroupMsg { message, .. } = &d.actions[0] else {
        panic!()
    };
    assert!(matches!(message.0[0], Segment::Reply { .. }));
}

#[test]
fn pause_and_resume_switch_the_groups_automatic_messages() {
    let mut bot = Bot::new("");
    ask(&mut bot, OPERATOR, Role::Member, Message::text("/pause"));
    assert!(bot.state.is_paused(&member(0).group_key()));
    ask(&mut bot, OPERATOR, Role::Member, Message::text("/resume"));
    assert!(!bot.state.is_paused(&member(0).group_key()));
}

#[test]
fn warnings_count_up_per_member() {
    let mut bot = Bot::new("");
    ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/warn ", &[7], " 刷屏"),
    );
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/warn ", &[7], " 又刷屏"),
    );
    assert!(
        said(&d)[0].contains("第 2 次") && said(&d)[0].contains("又刷屏"),
        "{:?}",
        said(&d)
    );
}

#[test]
fn a_refused_mute_is_reported_and_a_refused_chat_message_is_not() {
    let ban = Action::SetGroupBan {
        group: Id::number(GROUP),
        user: Id::number(7),
        duration_secs: 600,
    };
    let report = report_failure(&ban, "retcode 102").unwrap();
    let Action::SendGroupMsg { message, .. } = report else {
        panic!()
    };
    assert!(message.plain_text().contains("禁言") && message.plain_text().contains("retcode 102"));
    assert_eq!(message.mentions().collect::<Vec<_>>(), [&Id::number(7)]);
    let chat = Action::SendGroupMsg {
        group: Id::number(GROUP),
        message: Message::text("hi"),
    };
    assert!(report_failure(&chat, "x").is_none());
}

#[test]
fn the_bot_itself_and_operators_are_out_of_a_group_admins_reach() {
    let mut bot = Bot::new("");
    // The bot's own account: never muted or kicked by a command.
    for command in ["/mute ", "/kick "] {
        let d = ask(
            &mut bot,
            OPERATOR,
            Role::Member,
            with_mentions(command, &[ACCOUNT], " 10m"),
        );
        assert!(
            d.actions
                .iter()
                .all(|a| !matches!(a, Action::SetGroupBan { .. } | Action::SetGroupKick { .. })),
            "{command}: {:?}",
            d.actions
        );
        assert!(said(&d)[0].contains("不能对机器人"), "{:?}", said(&d));
    }
    // A group admin may not mute or kick an operator; an operator may.
    let d = ask(
        &mut bot,
        50,
        Role::Admin,
        with_mentions("/mute ", &[OPERATOR], " 10m"),
    );
    assert!(bans(&d).is_empty());
    assert!(said(&d)[0].contains("运营者"), "{:?}", said(&d));
    let d = ask(
        &mut bot,
        50,
        Role::Admin,
        with_mentions("/kick ", &[OPERATOR], ""),
    );
    assert!(d
        .actions
        .iter()
        .all(|a| !matches!(a, Action::SetGroupKick { .. })));
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/mute ", &[7], " 10m"),
    );
    assert_eq!(bans(&d), vec![(Id::number(7), 600)]);
}

#[test]
fn a_hundred_kilobyte_argument_is_refused_or_clipped_never_echoed() {
    let mut bot = Bot::new("[filter]\nwords_file = \"words.txt\"\n");
    let huge = "刷".repeat(100 * 1024 / 3);
    let cases = [
        (
            Message::text(format!("/announce {huge}")),
            "公告最长 1000 字",
        ),
        (
            with_mentions("/warn ", &[7], &format!(" {huge}")),
            "警告原因最长 100 字",
        ),
        (
            Message::text(format!("/words add ad {huge}")),
            "敏感词最长 50 字",
        ),
        (
            Message::text(format!("/words add {huge} 词")),
            "分类名最长 20 字",
        ),
        (
            Message::text(format!("/words del {huge}")),
            "敏感词最长 50 字",
        ),
        (Message::text(format!("/{huge}")), "没有 /刷刷刷"),
        (Message::text(format!("/stats {huge}")), "不是天数"),
        (
            Message::text(format!("/flashsale now {huge}")),
            "没有编号为",
        ),
    ];
    for (message, why) in cases {
        let d = ask(&mut bot, OPERATOR, Role::Member, message);
        let all = said(&d).join("\n");
        assert!(all.contains(why), "{why}: {all}");
        assert!(
            all.chars().count() < 200,
            "{why}: {} chars",
            all.chars().count()
        );
        assert!(d.effects.is_empty(), "{why}: nothing is written");
    }
    // At the limit, an announcement goes out whole.
    let longest = "好".repeat(MAX_ANNOUNCEMENT_CHARS);
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        Message::text(format!("/announce {longest}")),
    );
    assert!(said(&d)[0].ends_with(&longest));
}

#[test]
fn words_test_on_a_long_text_names_each_word_once_and_counts_the_rest() {
    let mut bot = Bot::new("[filter]\nwords_file = \"words.txt\"\n");
    let text = "加群 傻逼 ".repeat(5000);
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        Message::text(format!("/words test {text}")),
    );
    let answer = &said(&d)[0];
    assert!(answer.chars().count() < 200, "{answer}");
    assert_eq!(answer.matches("加群").count(), 1, "{answer}");
    assert!(answer.contains("共 10000 处"), "{answer}");
}

#[test]
fn a_command_mentioning_more_than_twenty_members_is_refused_and_repeats_count_once() {
    let mut bot = Bot::new("");
    let many: Vec<i64> = (100..121).collect();
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/kick ", &many, ""),
    );
    assert!(d
        .actions
        .iter()
        .all(|a| !matches!(a, Action::SetGroupKick { .. })));
    assert!(said(&d)[0].contains("一次最多 @ 20 人"), "{:?}", said(&d));
    let same = vec![7; 5000];
    let d = ask(
        &mut bot,
        OPERATOR,
        Role::Member,
        with_mentions("/mute ", &same, " 10m"),
    );
    assert_eq!(bans(&d), vec![(Id::number(7), 600)]);
}
