//! The shop's owner is told in the chat, privately, what went wrong: merged
//! into one message, never in a customer group; an admin's `/重载` is answered
//! with what it did.

use qunbot::simulator::events::VirtualMember;
use serde_json::json;

use crate::helpers::{
    eventually, save_like_an_editor, spawn_app_with_config, text_of, TestApp, TEST_CONFIG,
};

const OWNER: i64 = 10001;

fn owner_config(extra: &str) -> String {
    format!("{TEST_CONFIG}\n[admins]\nusers = [{OWNER}]\n\n[notify]\nevery = \"3s\"\n{extra}")
}

const KICKING_FILTER: &str = r#"
[filter]
words_file = "words.txt"
[filter.categories.ad]
actions = ["recall", "kick"]
"#;

/// The texts of the private messages the owner got so far.
fn owners_messages(app: &TestApp) -> Vec<String> {
    app.sim
        .performed("send_private_msg")
        .iter()
        .filter(|c| c.params["user_id"] == json!(OWNER))
        .map(|c| text_of(&c.params["message"]))
        .collect()
}

#[tokio::test]
async fn the_owner_hears_of_a_kick_and_a_refused_edit_in_one_private_message() {
    let config = owner_config(KICKING_FILTER);
    let mut app = spawn_app_with_config(&config).await;
    let member = app.member.clone();
    app.member_says(&member, "加群领红包").await;
    save_like_an_editor(
        &app.config_path,
        &config.replace("[outbox]", "[outbox]\nsend_faster = true"),
    );
    app.first_rejection().await;

    eventually("the owner's notice", || async {
        !owners_messages(&app).is_empty()
    })
    .await;
    let told = owners_messages(&app);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].contains("移出本群") && told[0].contains("广告"),
        "{}",
        told[0]
    );
    assert!(
        told[0].contains("配置修改未生效") && told[0].contains("send_faster"),
        "{}",
        told[0]
    );
    assert!(
        !app.chat().iter().any(|t| t.contains("群助手提醒")),
        "never in a customer group"
    );

    // And `qunbot status` (which needs a valid file) counts them.
    save_like_an_editor(&app.config_path, &config);
    app.wait_logged("config.reloaded", 1).await;
    let out = qunbot_status(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("filter_kicks_24h: 1"), "{stdout}");
    assert!(stdout.contains("rejected_configs_24h: 1"), "{stdout}");
}

#[tokio::test]
async fn an_admins_reload_is_answered_with_why_it_was_refused_or_what_changed() {
    let config = owner_config("");
    let mut app = spawn_app_with_config(&config).await;
    save_like_an_editor(
        &app.config_path,
        &config.replace("[outbox]", "[outbox]\nsend_faster = true"),
    );
    app.first_rejection().await;

    let admin = VirtualMember::new(60001, "群管", "admin");
    let group = app.group.clone();
    let reload = app.events.group_message(&group, &admin, json!("/重载"));
    assert_eq!(app.push(&reload).await, 204);
    let answer = text_of(&app.wait_reply_to(&reload).await.params["message"]);
    assert!(
        answer.contains("配置有误")
            && answer.contains("bot-config.toml:")
            && answer.contains("send_faster"),
        "{answer}"
    );

    save_like_an_editor(
        &app.config_path,
        &format!("{config}\n[[groups]]\nid = 777\n"),
    );
    app.wait_logged("config.reloaded", 1).await;
    let reload = app.events.group_message(&group, &admin, json!("/重载"));
    assert_eq!(app.push(&reload).await, 204);
    let answer = text_of(&app.wait_reply_to(&reload).await.params["message"]);
    assert!(answer.contains("配置已重新加载"), "{answer}");
}

#[test]
fn check_marks_a_night_post_that_will_not_go_out_and_warns_of_a_full_day() {
    let dir = tempfile::tempdir().unwrap();
    let tomorrow = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai)
        + chrono::Duration::days(1))
    .format("%Y-%m-%d");
    let busy: String = (0..5)
        .map(|h| {
            format!(
                "[[announcements]]\nid = \"a{h}\"\ncron = \"0 0 {} * * *\"\ntext = \"好物{h}\"\n",
                10 + h
            )
        })
        .collect();
    let config = format!(
        "[gateway]\n[[groups]]\nid = 1\n\n[[flash_sales]]\nid = \"night\"\ntitle = \"夜宵\"\nstarts_at = \"{tomorrow} 03:45\"\nduration = \"1h\"\n\n{busy}"
    );
    let path = dir.path().join("bot-config.toml");
    std::fs::write(&path, config).unwrap();
    let out = crate::config_reload::qunbot_check(&path);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let night = stdout
        .lines()
        .find(|l| l.starts_with("flash sale night"))
        .unwrap_or_default();
    assert!(night.contains("不会发出：免打扰时段"), "{stdout}");
    assert!(
        stderr.contains("planned posts and schedule.daily_cap is 6"),
        "a day of 5 announcements and a sale post leaves no nudge: {stderr}"
    );
}

/// `qunbot status` on the app's config and database, as an operator runs it.
fn qunbot_status(app: &TestApp) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .args(["status", "--config"])
        .arg(&app.config_path)
        .env_remove("QUNBOT_DATABASE")
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_gateway_is_down_status_exits_1_and_the_owner_hears_of_it_once_it_is_back() {
    let config =
        owner_config("").replace("every = \"3s\"", "every = \"1s\"\ngateway_down = \"1s\"");
    let mut app = spawn_app_with_config(&config).await;
    app.sim.fail_with(Some(503));
    let ping = app.says("/ping");
    assert_eq!(app.push(&ping).await, 204);

    eventually("status to ask for attention", || async {
        qunbot_status(&app).status.code() == Some(1)
    })
    .await;
    let out = qunbot_status(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("attention: account 10001000: its oldest pending action has waited"),
        "{stdout}"
    );
    assert!(
        stdout.contains("delivery 10001000: 1 pending, oldest waiting"),
        "{stdout}"
    );

    app.sim.fail_with(None);
    app.wait_reply_to(&ping).await;
    eventually("the owner's notice of the outage", || async {
        owners_messages(&app)
            .iter()
            .any(|t| t.contains("网关") && t.contains("连不上"))
    })
    .await;
    eventually("status to be content again", || async {
        qunbot_status(&app).status.code() == Some(0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_quiet_hours_hold_past_its_deadline_is_told_to_the_owner_and_counted_by_status() {
    let local = (chrono::Utc::now() + chrono::Duration::minutes(2))
        .with_timezone(&chrono_tz::Asia::Shanghai);
    let starts = local.format("%Y-%m-%d %H:%M:%S");
    // Quiet from an hour before the start to two hours after: the sale's
    // start post cannot wait it out.
    let quiet = format!(
        "{}-{}",
        (local - chrono::Duration::hours(1)).format("%H:%M"),
        (local + chrono::Duration::hours(2)).format("%H:%M")
    );
    let config = owner_config(&format!(
        "\n[schedule]\nquiet_hours = \"{quiet}\"\n\n[[flash_sales]]\nid = \"night\"\ntitle = \"夜宵秒杀\"\nstarts_at = \"{starts}\"\nduration = \"30m\"\ngroups = [123456]\n"
    ))
    .replace("every = \"3s\"", "every = \"1s\"");
    let app = spawn_app_with_config(&config).await;
    app.wait_synced().await;
    app.skip(chrono::Duration::minutes(3));
    app.wait_logged("schedule.missed", 1).await;
    eventually("the owner's notice of the missed post", || async {
        owners_messages(&app)
            .iter()
            .any(|t| t.contains("秒杀「夜宵秒杀」开抢") && t.contains("免打扰时段"))
    })
    .await;
    assert!(app.chat().is_empty(), "nothing posted: {:?}", app.chat());

    let out = qunbot_status(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("missed_posts_24h: 1"), "{stdout}");
    assert!(
        stdout.contains("attention: 1 planned post(s) did not go out"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1));
}
