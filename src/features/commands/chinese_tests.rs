//! Members and admins read Chinese: every command, typed by its Chinese name,
//! as a member and as an admin, with no arguments, typical ones and bad ones,
//! answers without an English word.

use super::*;
use crate::domain::command::COMMANDS;
use crate::features::testkit::*;

/// A shop with the word filter, a flash sale, an announcement and the
/// reactivation experiment, so every command has something to answer about.
const SHOP: &str = r#"
[filter]
words_file = "words.txt"

[[announcements]]
id = "morning"
cron = "0 0 11 * * *"
text = "早上好！今天的团购清单"

[[flash_sales]]
id = "weilong-1208"
title = "卫龙辣条秒杀"
starts_at = "2026-11-23 20:00"
duration = "30分钟"
remind_before = ["10分钟"]

[reactivation]
silent_after = "7天"
min_gap = "3天"
success_within = "2天"
holdout = 0.2
variants = [{ id = "甲", text = "{mentions} 好久不见～" }]
zombie_action = "remove"
"#;

/// What follows a command's Chinese name: nothing, typical arguments, bad ones.
fn arguments(spec: &CommandSpec) -> Vec<(&'static str, Vec<i64>)> {
    let mut cases = vec![("", vec![]), ("乱写 一通", vec![]), ("", vec![7])];
    cases.extend(match spec.name {
        "mute" => vec![(" 10分钟", vec![7]), (" 永远", vec![7]), (" 31天", vec![7])],
        "warn" => vec![(" 刷屏", vec![7])],
        "announce" => vec![("今晚八点开团", vec![])],
        "flashsale" => vec![
            ("列表", vec![]),
            ("立即 1", vec![]),
            ("立即 9", vec![]),
            ("取消 1", vec![]),
        ],
        "redpacket" => vec![("100 10", vec![]), ("状态", vec![]), ("100 0", vec![])],
        "silent" => vec![
            ("名单", vec![]),
            ("扫描", vec![]),
            ("效果", vec![]),
            ("僵尸", vec![]),
            ("确认", vec![]),
        ],
        "stats" => vec![("7天", vec![]), ("100天", vec![])],
        "words" => vec![
            ("检查 加群 傻逼 刷单", vec![]),
            ("检查 你好", vec![]),
            ("添加 广告 代购", vec![]),
            ("删除 代购", vec![]),
        ],
        _ => vec![],
    });
    cases
}

#[test]
fn the_check_finds_english_words_and_spares_links_numbers_and_config_sections() {
    assert_eq!(english("/kick 只有管理员可以使用"), ["kick"]);
    assert_eq!(
        english("沉默（not enough data yet）"),
        ["not", "enough", "data", "yet"]
    );
    assert_eq!(english("（abuse：傻逼）"), ["abuse"]);
    assert!(english("详情 https://shop.example.com/a 满50减10 @成员 10 分钟 p = 0.05").is_empty());
    assert!(english("在配置文件中加上 [reactivation] 一节").is_empty());
}

#[test]
fn every_command_answers_members_and_admins_in_chinese() {
    let mut bot = Bot::new(SHOP);
    bot.tick();
    let mut checked = 0;
    for spec in COMMANDS {
        for (user, role) in [
            (60, Role::Member),
            (OPERATOR, Role::Member),
            (50, Role::Owner),
        ] {
            for (args, targets) in arguments(spec) {
                // Past any member's cooldown.
                bot.advance(600);
                let before = format!("/{} ", spec.chinese());
                let event = bot.says(user, role, with_mentions(&before, &targets, args));
                let d = bot.on(event);
                let shown = texts(&d);
                assert!(
                    !shown.is_empty() || !d.effects.is_empty(),
                    "/{} {args} by {user}: no answer",
                    spec.chinese()
                );
                for text in shown {
                    assert!(
                        english(&text).is_empty(),
                        "/{} {args} by {user}: {:?} in {text}",
                        spec.chinese(),
                        english(&text)
                    );
                    checked += 1;
                }
            }
        }
    }
    // What comes back from effects: the /统计 answer.
    let stats = stats_text(7, &crate::domain::StatsSummary::default());
    assert!(english(&stats).is_empty(), "{stats}");
    // An unknown or mistyped command (one typed in Latin letters is echoed
    // as typed, and only that).
    for typed in ["/签倒", "/毫无关系"] {
        bot.advance(600);
        let event = bot.member_says(60, typed);
        for text in texts(&bot.on(event)) {
            assert!(english(&text).is_empty(), "{typed}: {text}");
        }
    }
    assert!(checked > 3 * COMMANDS.len(), "{checked} answers checked");
}

#[test]
fn a_members_help_lists_member_commands_by_their_chinese_names() {
    let mut bot = Bot::new("");
    let event = bot.says(60, Role::Member, Message::text("/帮助"));
    let d = bot.on(event);
    let help = &said(&d)[0];
    let lines: Vec<&str> = help.lines().skip(1).collect();
    assert!(lines.iter().any(|l| l.starts_with("/签到 ")), "{help}");
    for line in &lines {
        let name = line.split_whitespace().next().unwrap_or("");
        let spec = command::lookup(name.trim_start_matches('/')).unwrap();
        assert_eq!(spec.audience, Audience::Everyone, "{line}");
        assert_eq!(
            name,
            format!("/{}", spec.chinese()),
            "Chinese first: {line}"
        );
    }
    for hidden in ["禁言", "踢", "在吗", "ping"] {
        assert!(!help.contains(hidden), "{hidden}: {help}");
    }
    assert!(texts(&d).len() == 1, "nothing goes privately to a member");
}

#[test]
fn an_admins_help_in_the_group_sends_the_admin_commands_privately() {
    let mut bot = Bot::new("");
    let event = bot.says(50, Role::Owner, Message::text("/帮助"));
    let d = bot.on(event);
    let [group] = said(&d).try_into().expect("one group message");
    assert!(group.contains("/签到 "), "{group}");
    assert!(group.ends_with("管理命令已私信发给你"), "{group}");
    assert!(
        !group.contains("/禁言"),
        "the customers never read it: {group}"
    );
    let private: Vec<(Id, String)> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::SendPrivateMsg { user, message } => Some((user.clone(), message.plain_text())),
            _ => None,
        })
        .collect();
    let [(to, list)] = private.as_slice() else {
        panic!("one private message: {private:?}")
    };
    assert_eq!(to, &Id::number(50), "to the admin who asked");
    for admin_only in COMMANDS.iter().filter(|c| c.audience == Audience::Admins) {
        assert!(
            list.contains(&format!("/{}", admin_only.chinese())),
            "{list}"
        );
    }
}

#[test]
fn a_refusal_names_the_command_as_the_member_typed_it() {
    let mut bot = Bot::new("");
    for (typed, refused) in [
        ("/踢 ", "/踢 只有管理员可以使用"),
        ("/kick ", "/kick 只有管理员可以使用"),
    ] {
        bot.advance(600);
        let event = bot.says(60, Role::Member, with_mentions(typed, &[7], ""));
        assert_eq!(said(&bot.on(event)), [refused]);
    }
}

#[test]
fn chinese_subcommands_and_durations_work_like_the_latin_ones() {
    let mut bot = Bot::new("[filter]\nwords_file = \"words.txt\"\n");
    let event = bot.says(
        OPERATOR,
        Role::Member,
        with_mentions("/禁言 ", &[7], " 1小时30分钟"),
    );
    let d = bot.on(event);
    assert!(d.actions.iter().any(|a| matches!(
        a,
        Action::SetGroupBan {
            duration_secs: 5400,
            ..
        }
    )));
    let event = bot.says(OPERATOR, Role::Member, Message::text("/敏感词 乱写"));
    let usage = &said(&bot.on(event))[0];
    assert!(
        usage.contains("用法：/敏感词 检查 文字 | 添加 分类 词 | 删除 词"),
        "{usage}"
    );
}

#[test]
fn a_task_done_by_a_command_names_it_in_chinese_though_the_config_says_checkin() {
    let mut bot = Bot::new(
        "[[tasks]]\nid = \"first_checkin\"\nname = \"首次签到\"\ndone_when = { command = \"checkin\" }\nreward = { points = 5 }\n",
    );
    let first = bot.on(joined(201, false));
    let welcome = bot.fire_timers(&first).remove(0);
    for text in texts(&welcome) {
        assert!(english(&text).is_empty(), "{text}");
    }
    bot.advance(600);
    let event = bot.says(201, Role::Member, Message::text("/任务"));
    let tasks = &said(&bot.on(event))[0];
    assert!(tasks.contains("首次签到（发送 /签到）"), "{tasks}");
}
