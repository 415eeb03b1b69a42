use super::*;
use crate::domain::Role;
use crate::features::testkit::*;

const FILTER: &str = r#"
[filter]
words_file = "words.txt"
[filter.categories.ad]
actions = ["recall", "warn"]
[filter.escalation]
strikes = 3
window = "24h"
then = "kick"
"#;

/// Applies a decision made outside the features' loop, as the engine would.
fn keep(bot: &mut Bot, d: Decision) -> Decision {
    for c in &d.changes {
        bot.state.apply(c);
    }
    d
}

fn reload_refused(problem: &str) -> Event {
    event(EventBody::ConfigReloaded {
        applied: false,
        changes: vec![],
        restart_needed: vec![],
        problems: vec![problem.to_string()],
        asked: vec![],
    })
}

/// Every private message in `decisions`, as (to whom, text).
fn private(decisions: &[Decision]) -> Vec<(Id, String)> {
    decisions
        .iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            Action::SendPrivateMsg { user, message } => Some((user.clone(), message.plain_text())),
            _ => None,
        })
        .collect()
}

fn flush_timers(decisions: &[Decision]) -> Decision {
    let mut all = Decision::default();
    for d in decisions {
        all.timers
            .extend(d.timers.iter().filter(|t| t.feature == NAME).cloned());
    }
    all
}

#[test]
fn a_kick_a_rejected_config_and_a_low_pool_reach_the_owner_in_one_private_message() {
    let mut bot = Bot::new(FILTER);
    let mut decisions = Vec::new();
    for _ in 0..3 {
        let said = bot.member_says(7, "加群");
        decisions.push(bot.on(said));
        bot.advance(5);
    }
    decisions.push(bot.on(reload_refused(
        "bot-config.toml:3:9: invalid duration \"15分\"",
    )));
    for nth in 0..4 {
        let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
        let (_, d) = super::super::points::claim_coupon("newcomer", nth, &member(8), &ctx);
        decisions.push(d);
    }
    let d = decisions.pop().unwrap();
    decisions.push(keep(&mut bot, d));

    let timers = flush_timers(&decisions);
    assert_eq!(timers.timers.len(), 1, "one flush planned for all three");
    let sent = bot.fire_timers(&timers);
    let told = private(&sent);
    assert_eq!(told.len(), 1, "one merged message: {told:?}");
    let (to, text) = &told[0];
    assert_eq!(to, &Id::number(OPERATOR));
    assert!(
        text.contains("移出本群") && text.contains("累计违规 3 次"),
        "{text}"
    );
    assert!(
        text.contains("广告"),
        "the rule by its Chinese label: {text}"
    );
    assert!(
        text.contains("配置修改未生效") && text.contains("bot-config.toml:3:9"),
        "{text}"
    );
    assert!(text.contains("「newcomer」只剩 1 张"), "{text}");
    assert!(
        !sent
            .iter()
            .flat_map(|d| &d.actions)
            .any(|a| matches!(a, Action::SendGroupMsg { .. })),
        "nothing in a customer group"
    );
}

#[test]
fn after_a_message_the_next_waits_notify_every() {
    let mut bot = Bot::new("[notify]\nevery = \"10m\"\n");
    let first = bot.on(reload_refused("a"));
    let sent = bot.fire_timers(&flush_timers(&[first]));
    assert_eq!(private(&sent).len(), 1);
    bot.advance(60);
    let second = bot.on(reload_refused("b"));
    let timer = &flush_timers(std::slice::from_ref(&second)).timers[0];
    assert_eq!(
        (timer.due - bot.now).num_seconds(),
        9 * 60,
        "ten minutes after the last message"
    );
}

#[test]
fn past_the_daily_cap_notices_are_counted_not_sent() {
    let mut bot = Bot::new("[notify]\nevery = \"1s\"\ndaily_cap = 2\n");
    let mut texts = Vec::new();
    for i in 0..3 {
        let d = bot.on(reload_refused(&format!("problem {i}")));
        let sent = bot.fire_timers(&flush_timers(&[d]));
        texts.extend(private(&sent).into_iter().map(|(_, t)| t));
        bot.advance(10);
    }
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("今天的提醒已达上限"),
        "the last one says so"
    );
}

#[test]
fn a_join_request_left_to_the_admins_is_told_only_if_still_waiting() {
    let mut bot = Bot::new("[join_requests]\n[notify]\njoin_wait = \"10m\"\nevery = \"1s\"\n");
    let request = |user: i64| {
        event(EventBody::JoinRequest {
            group: Id::number(GROUP),
            user: Id::number(user),
            comment: "朋友推荐".into(),
            flag: format!("f{user}"),
            invite: false,
        })
    };
    let waiting = bot.on(request(21));
    let answered = bot.on(request(22));
    bot.on(joined(22, false));
    let mut told = Vec::new();
    for d in bot.fire_timers(&flush_timers(&[waiting, answered])) {
        told.extend(private(&bot.fire_timers(&flush_timers(&[d]))));
    }
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].1.contains("21 申请加入") && !told[0].1.contains("22"),
        "{told:?}"
    );
}

#[test]
fn an_admin_group_hears_the_notices_and_a_customer_group_cannot_be_one() {
    let mut bot = Bot::new("[notify]\ngroup = 900\nadmins = []\nevery = \"1s\"\n");
    let d = bot.on(reload_refused("x"));
    let sent = bot.fire_timers(&flush_timers(&[d]));
    let to_groups: Vec<Id> = sent
        .iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            Action::SendGroupMsg { group, .. } => Some(group.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(to_groups, [Id::number(900)]);
    assert!(
        private(&sent).is_empty(),
        "admins = [] tells nobody privately"
    );

    let refused = crate::config::Config::parse(
        std::path::Path::new("bot-config.toml"),
        &format!("[gateway]\n[[groups]]\nid = {GROUP}\n[notify]\ngroup = {GROUP}\n"),
        &crate::config::Env::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(refused.contains("customer group"), "{refused}");
}

#[test]
fn a_filter_warning_alone_tells_the_owner_nothing() {
    let mut bot = Bot::new(FILTER);
    let said = bot.says(7, Role::Member, crate::domain::Message::text("加群"));
    let d = bot.on(said);
    assert!(flush_timers(&[d]).timers.is_empty());
}
