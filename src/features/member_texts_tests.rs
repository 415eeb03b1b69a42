//! Members, admins and the owner read Chinese: a day of the shop's group run
//! through every feature (newcomers welcomed, verified and given tasks, the
//! filter's warnings and removal, a red packet, a flash sale's posts, the
//! owner's notice) shows no English word in any message the bot sends. The
//! commands' answers have their own walk (`commands::chinese_tests`).

use super::testkit::*;
use super::{Decision, Timer};
use crate::domain::{Message, Role};

const SHOP: &str = r#"
[verification]
enabled = true
answer = { keyword = "宝妈" }

[[tasks]]
id = "read_rules"
name = "阅读群规"
done_when = { keyword = "已读" }
reward = { points = 10, coupon = "newcomer" }
remind_after = "1h"
expires_after = "1d"

[filter]
words_file = "words.txt"
[filter.categories.abuse]
actions = ["recall", "warn", "mute"]
mute = "10m"
[filter.escalation]
strikes = 3
window = "24h"
then = "kick"
[filter.links]
enabled = true
[filter.flood]
messages = 5
within = "10s"

[schedule]
quiet_hours = ""

[[flash_sales]]
id = "weilong"
title = "卫龙辣条秒杀"
price = "9.9元"
link = "https://shop.example/p/1"
starts_at = "2026-11-23 20:00"
duration = "30m"
remind_before = ["10m"]
last_call = "5m"

[notify]
every = "1m"
"#;

/// Fires every timer `first` leads to, up to `hours` from now, collecting the decisions.
fn run_for(bot: &mut Bot, first: Vec<Decision>, hours: i64) -> Vec<Decision> {
    let until = bot.now + chrono::Duration::hours(hours);
    let mut timers: Vec<Timer> = first.iter().flat_map(|d| d.timers.clone()).collect();
    let mut out = first;
    for _ in 0..10_000 {
        timers.sort_by_key(|t| t.due);
        let Some(i) = timers.iter().position(|t| t.due <= until) else {
            break;
        };
        let t = timers.remove(i);
        bot.now = bot.now.max(t.due);
        let d = bot.wake(&t);
        timers.extend(d.timers.clone());
        out.push(d);
    }
    out
}

#[test]
fn a_day_in_the_shops_group_shows_no_english_word_to_anyone() {
    let mut bot = Bot::new(SHOP);
    let mut seen = vec![bot.tick()];
    for user in [201, 202] {
        seen.push(bot.on(joined(user, false)));
    }
    seen = run_for(&mut bot, seen, 0);
    for (user, text) in [(201, "我是宝妈"), (201, "群规已读"), (202, "你好")] {
        let said = bot.member_says(user, text);
        seen.push(bot.on(said));
    }
    // The filter: a word, a link, a phone number, abuse, flooding, a removal.
    for text in [
        "加群",
        "看 https://t.cn/abc",
        "电话13812345678",
        "傻逼",
        "加群",
    ] {
        let said = bot.member_says(7, text);
        seen.push(bot.on(said));
        bot.advance(1);
    }
    for _ in 0..6 {
        let said = bot.member_says(8, "刷刷刷");
        seen.push(bot.on(said));
    }
    // A red packet, grabbed, grabbed again.
    let open = bot.says(OPERATOR, Role::Member, Message::text("/红包 100 2"));
    seen.push(bot.on(open));
    for user in [201, 202, 201, 203] {
        let grab = bot.member_says(user, "抢");
        seen.push(bot.on(grab));
    }
    // The rest of the day: reminders, expiry, the sale's posts, the owner's notice.
    let rest = run_for(&mut bot, seen, 14);

    let mut texts_seen = 0;
    for text in rest.iter().flat_map(texts) {
        texts_seen += 1;
        // Coupon codes are the shop's own data (NEW-1…), not the bot's words.
        let words = text.replace("NEW-", "");
        assert!(english(&words).is_empty(), "English in {text:?}");
    }
    assert!(
        texts_seen > 15,
        "the walk reached the features: {texts_seen} texts"
    );
}
