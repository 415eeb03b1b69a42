//! Announcements over the simulator, on the daemon's own clock moved ahead:
//! each fires once, a restart between two fires repeats none and loses none,
//! and a fire missed while the daemon was down is sent within grace or logged.

use chrono::{Duration, SecondsFormat, Utc};

use crate::helpers::{spawn_app_configured, TestApp};

/// Two one-shot announcements in the numeric group, `first` and `second`
/// hours from now, with no quiet hours (the test runs at any time of day).
fn two_announcements(first: i64, first_grace: &str, second: i64, second_grace: &str) -> String {
    let at = |hours: i64| {
        (Utc::now() + Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
    };
    format!(
        r#"
[schedule]
quiet_hours = ""

[[announcements]]
id = "first"
at = "{}"
groups = [123456]
text = "第一条公告"
grace = "{first_grace}"

[[announcements]]
id = "second"
at = "{}"
groups = [123456]
text = "第二条公告"
grace = "{second_grace}"
"#,
        at(first),
        at(second)
    )
}

fn count(app: &TestApp, needle: &str) -> usize {
    app.chat().iter().filter(|t| t.contains(needle)).count()
}

#[tokio::test]
async fn each_announcement_posts_once_and_a_restart_between_them_repeats_none_and_loses_none() {
    let mut app = spawn_app_configured(&two_announcements(1, "10m", 2, "10m"), None).await;
    let group = app.group.clone();
    // The bot learns which account posts in the group from its events.
    app.barrier(&group).await;

    app.skip(Duration::hours(1) + Duration::seconds(1));
    app.wait_chat("第一条公告").await;
    app.restart_daemon().await;
    app.barrier(&group).await;
    assert_eq!(
        count(&app, "第一条公告"),
        1,
        "not repeated after the restart"
    );

    app.skip(Duration::hours(1));
    app.wait_chat("第二条公告").await;
    app.barrier(&group).await;
    assert_eq!(count(&app, "第一条公告"), 1);
    assert_eq!(count(&app, "第二条公告"), 1);
}

#[tokio::test]
async fn a_fire_missed_while_the_daemon_was_down_is_sent_within_grace_and_logged_beyond_it() {
    let mut app = spawn_app_configured(&two_announcements(1, "30m", 1, "10m"), None).await;
    let group = app.group.clone();
    app.barrier(&group).await;

    app.stop_daemon().await;
    app.clock.skip(Duration::minutes(80));
    app.start_daemon().await;

    app.wait_chat("第一条公告").await;
    let missed = app.wait_logged("schedule.missed", 1).await;
    assert_eq!(missed[0].detail["schedule"], "a:second");
    assert_eq!(missed[0].detail["reason"], "late");
    app.barrier(&group).await;
    assert_eq!(count(&app, "第一条公告"), 1, "sent once");
    assert_eq!(
        count(&app, "第二条公告"),
        0,
        "20 minutes past its 10 minute grace"
    );
}

#[tokio::test]
async fn a_flash_sale_posts_each_countdown_once_across_a_restart() {
    let starts = (Utc::now() + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let sale = format!(
        r#"
[schedule]
quiet_hours = ""

[[flash_sales]]
id = "luosifen"
title = "螺蛳粉限时秒杀"
price = "9.9元/3袋"
starts_at = "{starts}"
duration = "30m"
remind_before = ["30m", "10m"]
groups = [123456]
"#
    );
    let mut app = spawn_app_configured(&sale, None).await;
    let group = app.group.clone();
    app.barrier(&group).await;

    // `{left}` is counted at the post, rounded up to a minute.
    app.skip(Duration::minutes(30));
    app.wait_chat("还有 30 分钟").await;
    app.restart_daemon().await;
    app.skip(Duration::minutes(20));
    app.wait_chat("还有 10 分钟").await;
    app.skip(Duration::minutes(10));
    app.wait_chat("【开抢】").await;
    app.barrier(&group).await;
    assert_eq!(count(&app, "【预告】"), 2, "{:#?}", app.chat());
    assert_eq!(count(&app, "【开抢】"), 1, "{:#?}", app.chat());
}
