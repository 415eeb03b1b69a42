//! Reports from a log the daemon wrote: events pushed through the simulator,
//! the daemon's clock moved across the shop's midnight, and every figure read
//! back through the roll-up, incrementally and rebuilt.

use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use qunbot::clock::Clock;
use qunbot::report::{Day, Metric, Report};
use qunbot::reporting::{self, Format, Query, Range};
use qunbot::simulator::events::VirtualMember;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_configured, TestApp};

const GROUP: i64 = 123456;
const BOT: i64 = 10001000;

/// Member lists come with reactivation on (its scans never run in these tests).
const SYNCED: &str = r#"
[reactivation]
scan = "0 0 10 1 1 * 2099"
variants = [{ id = "a", text = "{mentions} 回来看看" }]
"#;

fn member(id: i64, name: &str) -> VirtualMember {
    VirtualMember::new(id, name, "member")
}

/// The report the shop owner would get for `range`, as of the daemon's clock.
async fn report(app: &TestApp, range: Range) -> Report {
    reporting::build(
        app.daemon().store(),
        &query(range, false),
        app.clock.now(),
        |_| {},
    )
    .await
    .expect("the report builds")
}

fn query(range: Range, rebuild: bool) -> Query {
    Query {
        timezone: Shanghai,
        range,
        group: None,
        group_names: [("123456".to_string(), "测试群".to_string())].into(),
        labels: reporting::labels(None),
        rebuild,
    }
}

fn day_of<'a>(report: &'a Report, group: &str, date: NaiveDate) -> &'a Day {
    report
        .days
        .iter()
        .find(|d| d.group_id == group && d.date == date)
        .unwrap_or_else(|| panic!("no row for {group} on {date}: {:#?}", report.days))
}

/// Moves the daemon's clock to `hour`:`minute` in Shanghai on `date`.
fn move_to(app: &TestApp, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let target = Shanghai
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let now = app.clock.now();
    assert!(target > now, "the clock only moves forward");
    app.skip(target - now);
    target
}

async fn joins(app: &mut TestApp, who: &VirtualMember, id: i64) {
    app.sim.seat(
        GROUP,
        id,
        &who.nickname,
        "member",
        app.clock.now().timestamp(),
    );
    app.member_joins(who).await;
}

async fn leaves(app: &mut TestApp, who: &VirtualMember, id: i64) {
    app.sim.unseat(GROUP, id);
    let event = app.events.left(&app.group, who);
    assert_eq!(app.push(&event).await, 204);
}

#[tokio::test]
async fn activity_and_retention_are_counted_per_calendar_day_in_the_shops_time_zone() {
    let mut app = spawn_app_configured(SYNCED, None).await;
    let month_ago = (Utc::now() - Duration::days(30)).timestamp();
    let (old1, old2) = (member(30001, "老会员甲"), member(30002, "老会员乙"));
    app.sim.seat(GROUP, BOT, "群助手", "admin", month_ago);
    app.sim.seat(GROUP, 30001, "老会员甲", "member", month_ago);
    app.sim.seat(GROUP, 30002, "老会员乙", "member", month_ago);

    let today = app.clock.now().with_timezone(&Shanghai).date_naive();
    let d1 = today.succ_opt().unwrap();
    let d2 = d1.succ_opt().unwrap();
    let (new1, new2, new3) = (
        member(40001, "新人一"),
        member(40002, "新人二"),
        member(40003, "新人三"),
    );

    move_to(&app, d1, 1, 0);
    joins(&mut app, &new1, 40001).await;
    joins(&mut app, &new2, 40002).await;
    joins(&mut app, &new3, 40003).await;
    app.member_says(&old1, "早上好").await;
    app.member_says(&old1, "今天有什么团").await;
    app.member_says(&new1, "大家好").await;
    // The daemon reads a group's member list when it first hears from it.
    app.wait_logged("sync.member_list", 1).await;
    // Rolled up now, and again after the rest: the sums must not care.
    let early = report(&app, Range::Between(d1, d1)).await;
    assert_eq!(day_of(&early, "123456", d1).counts[Metric::Messages], 3);

    // 23:30 in Shanghai is still the first day; 00:30 is the second.
    move_to(&app, d1, 23, 30);
    leaves(&mut app, &new3, 40003).await;
    app.member_says(&old2, "晚安").await;
    move_to(&app, d2, 0, 30);
    app.member_says(&new2, "我来啦").await;
    app.member_says(&old1, "早").await;
    move_to(&app, d2, 12, 0);
    leaves(&mut app, &new1, 40001).await;

    let r = report(&app, Range::Between(d1, d2)).await;
    let first = day_of(&r, "123456", d1);
    assert_eq!(first.group_name, "测试群");
    assert_eq!(
        (
            first.counts[Metric::Messages],
            first.counts[Metric::Speakers],
            first.counts[Metric::Joins],
            first.counts[Metric::Leaves],
            first.members,
            first.net_growth
        ),
        (4, 3, 3, 1, Some(4), 2)
    );
    assert_eq!(first.messages_per_speaker, Some(4.0 / 3.0));
    assert_eq!(first.active_rate, Some(3.0 / 4.0));
    let second = day_of(&r, "123456", d2);
    assert_eq!(
        (
            second.counts[Metric::Messages],
            second.counts[Metric::Speakers],
            second.counts[Metric::Joins],
            second.counts[Metric::Leaves],
            second.members
        ),
        (2, 2, 0, 1, Some(3))
    );
    let group = r.groups.iter().find(|g| g.group_id == "123456").unwrap();
    // Four different members spoke over the two days.
    assert_eq!(group.counts[Metric::Speakers], 4);
    assert_eq!(group.counts[Metric::Messages], 6);
    assert_eq!(group.members, Some(3));

    // Three joined on day one; a day later only 新人二 is still in and spoke.
    let cohort = r.cohorts.iter().find(|c| c.date == d1).expect("a cohort");
    assert_eq!(cohort.joined, 3);
    assert_eq!(cohort.still_member, [Some(1.0 / 3.0), None, None]);
    assert_eq!(cohort.spoke, [Some(1.0 / 3.0), None, None]);

    // The roll-up rebuilt from the log says the same.
    let rebuilt = reporting::build(
        app.daemon().store(),
        &query(Range::Between(d1, d2), true),
        app.clock.now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(rebuilt, r);

    let doc: Value = serde_json::from_str(&reporting::render(&r, Format::Json).unwrap()).unwrap();
    let row = doc["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["group_id"] == "123456" && d["date"] == d1.to_string())
        .unwrap();
    for (field, value) in [
        ("messages", json!(4)),
        ("speakers", json!(3)),
        ("joins", json!(3)),
        ("leaves", json!(1)),
        ("members", json!(4)),
    ] {
        assert_eq!(row[field], value, "{field} in {row}");
    }
}

pub const COMMUNITY: &str = r#"
[welcome]
batch_window = "1s"

[[tasks]]
id = "read_rules"
name = "阅读群规"
done_when = { keyword = "已读" }
reward = { points = 10 }

[filter]
words_file = "words.txt"
[filter.categories.ad]
actions = ["recall", "warn"]
"#;

/// An admin whose name is markup, for the page's escaping.
pub fn scripted_admin() -> VirtualMember {
    VirtualMember::new(30009, "</script><script>window.pwned=1</script>", "admin")
}

/// A day of group life: a newcomer does the task and checks in, an ad is
/// filtered, an admin mutes, a member is refused an admin command.
pub async fn a_busy_day(app: &mut TestApp) {
    let newcomer = member(50001, "新人");
    let admin = scripted_admin();
    app.member_joins(&newcomer).await;
    app.wait_chat("欢迎").await;
    app.member_says(&newcomer, "群规已读").await;
    app.wait_chat("完成新人任务").await;
    app.member_says(&newcomer, "/签到").await;
    app.wait_chat("签到成功").await;
    app.member_says(&newcomer, "加群领红包").await;
    app.wait_chat("违规").await;
    command(app, &admin, "/mute", &newcomer, " 10m").await;
    app.wait_logged("action.set_group_ban", 1).await;
    command(app, &newcomer, "/kick", &admin, "").await;
    app.wait_chat("只有管理员可以使用").await;
}

/// `/name @target rest` from `from`.
async fn command(
    app: &mut TestApp,
    from: &VirtualMember,
    name: &str,
    target: &VirtualMember,
    rest: &str,
) {
    let segments = json!([
        {"type": "text", "data": {"text": format!("{name} ")}},
        {"type": "at", "data": {"qq": target.id.to_string()}},
        {"type": "text", "data": {"text": rest}}
    ]);
    let event = app.events.group_message(&app.group, from, segments);
    assert_eq!(app.push(&event).await, 204);
}

#[tokio::test]
async fn tasks_checkins_points_the_filter_and_commands_are_counted() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;

    let r = report(&app, Range::Last(1)).await;
    let g = r.groups.iter().find(|g| g.group_id == "123456").unwrap();
    let c = &g.counts;
    assert_eq!((c[Metric::TasksHandedOut], c[Metric::TasksDone]), (1, 1));
    assert_eq!(g.task_completion, Some(1.0));
    assert_eq!(c[Metric::Checkins], 1);
    // 10 for the task, 5 for the check-in.
    assert_eq!((c[Metric::PointsGranted], c[Metric::PointsSpent]), (15, 0));
    assert_eq!(c[Metric::FilterHits], 1);
    assert_eq!(g.breakdowns["filter_hits_by_category"]["ad"], 1);
    assert_eq!(g.breakdowns["filter_actions"]["recall"], 1);
    assert_eq!(g.breakdowns["filter_actions"]["warn"], 1);
    assert_eq!(c[Metric::Strikes], 1);
    assert_eq!((c[Metric::Mutes], c[Metric::Removals]), (1, 0));
    assert_eq!(c[Metric::CommandsRefused], 1);
    assert_eq!(g.breakdowns["commands_refused_by_reason"]["refused"], 1);
    assert_eq!(c[Metric::AdminCommands], 1);
    assert_eq!(g.admin_commands_by_admin.len(), 1);
    assert_eq!(g.admin_commands_by_admin[0].user_id, "30009");
    assert_eq!(g.admin_commands_by_admin[0].name, scripted_admin().nickname);
    assert_eq!(c[Metric::Joins], 1);
}

fn qunbot_report(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .arg("report")
        .args(args)
        .output()
        .expect("qunbot runs")
}

#[tokio::test]
async fn a_missing_or_foreign_database_is_a_clear_error_and_an_empty_range_an_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.db");
    let out = qunbot_report(&["--db", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no database at"), "{err}");
    assert!(!missing.exists(), "looking must not create a database");

    let foreign = dir.path().join("notes.db");
    std::fs::write(&foreign, "shopping list").unwrap();
    let out = qunbot_report(&["--db", foreign.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not a qunbot database"), "{err}");

    let app = spawn_app_configured("", None).await;
    let db = app.dir.path().join("qunbot.db");
    let out = qunbot_report(&[
        "--db",
        db.to_str().unwrap(),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-07",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["days"], json!([]));
    assert_eq!(doc["from"], "2020-01-01");
    assert_eq!(doc["totals"]["messages"], 0);
    // JSON never comes with a progress bar.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_admins_stats_answers_with_the_groups_figures_from_the_same_rollup() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;
    let admin = scripted_admin();
    app.member_says(&admin, "/统计 abc").await;
    app.wait_chat("不是天数").await;
    app.member_says(&admin, "/stats 7d").await;

    let chat = app.wait_chat("本群近 7 天").await;
    let answer = chat.iter().find(|t| t.contains("本群近 7 天")).unwrap();
    // The busy day's five messages and the two /stats before this answer.
    let r = report(&app, Range::Last(7)).await;
    let g = r.groups.iter().find(|g| g.group_id == "123456").unwrap();
    assert_eq!(g.counts[Metric::Messages], 7);
    assert!(answer.contains("消息 7 条，发言 2 人"), "{answer}");
    assert!(answer.contains("入群 1，退群 0"), "{answer}");
    assert!(
        answer.contains("签到 1 次，新人任务完成 1/1（100.0%）"),
        "{answer}"
    );
    assert!(answer.contains("违规消息 1 条"), "{answer}");

    let member = member(50001, "新人");
    app.member_says(&member, "/stats").await;
    app.wait_chat("/stats 只有管理员可以使用").await;
}

#[tokio::test]
async fn a_report_without_the_config_names_groups_as_the_gateway_listed_them() {
    let mut app = spawn_app_configured("", None).await;
    app.wait_synced().await;
    let group = app.group.clone();
    app.barrier(&group).await;
    app.wait_all_handled().await;
    let without_config = Query {
        group_names: Default::default(),
        ..query(Range::Last(1), false)
    };
    let report = reporting::build(
        app.daemon().store(),
        &without_config,
        app.clock.now(),
        |_| {},
    )
    .await
    .expect("the report builds");
    let row = report
        .groups
        .iter()
        .find(|g| g.group_id == "123456")
        .expect("the group's row");
    assert_eq!(
        row.group_name, "测试群",
        "as the simulator's get_group_list names it"
    );
}

#[tokio::test]
async fn the_last_seven_days_start_at_the_first_day_with_data_and_compare_with_the_week_before() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;
    let first = app.clock.now().with_timezone(&Shanghai).date_naive();

    let r = report(&app, Range::Last(7)).await;
    assert_eq!(
        (r.span.from, r.span.to),
        (first, first),
        "no days before the bot"
    );
    assert!(r.days.iter().all(|d| d.date == first));
    assert_eq!(r.previous, None, "nothing to compare with yet");

    // Eight days later the week is whole, and the week before has the busy day.
    let later = first + Duration::days(8);
    move_to(&app, later, 10, 0);
    app.member_says(&member(50001, "新人"), "一周后").await;
    app.wait_all_handled().await;
    let r = report(&app, Range::Last(7)).await;
    assert_eq!(r.span.from, later - Duration::days(6));
    let before = r.previous.as_ref().expect("the week before");
    assert_eq!((before.from, before.to), (first, later - Duration::days(7)));
    assert_eq!(before.totals.counts[Metric::Messages], 5);
    assert_eq!(r.totals.counts[Metric::Messages], 1);
    let doc: Value = serde_json::from_str(&reporting::render(&r, Format::Json).unwrap()).unwrap();
    assert_eq!(doc["previous"]["totals"]["messages"], 5);
    let table = reporting::render(&r, Format::Table).unwrap();
    assert!(
        table.contains(&format!("对比上期 {first} – "))
            && table.contains("消息数 1（较上期 -4（-80.0%））"),
        "{table}"
    );

    // An explicit range is what was asked for.
    let asked = report(&app, Range::Between(first - Duration::days(3), first)).await;
    assert_eq!(asked.span.from, first - Duration::days(3));
}

const TWO_TASKS: &str = r#"
[welcome]
batch_window = "1s"

[[tasks]]
id = "read_rules"
name = "阅读群规"
done_when = { keyword = "已读" }
reward = { points = 10 }

[[tasks]]
id = "first_checkin"
name = "首次签到"
done_when = { command = "签到" }
reward = { points = 5 }
"#;

#[tokio::test]
async fn newcomers_who_finished_their_tasks_are_counted_as_people_not_tasks() {
    let mut app = spawn_app_configured(TWO_TASKS, None).await;
    let (keen, slow) = (member(50001, "积极新人"), member(50002, "慢新人"));
    app.member_joins(&keen).await;
    app.member_joins(&slow).await;
    app.wait_logged("task.handed_out", 4).await;
    app.member_says(&keen, "群规已读").await;
    app.member_says(&keen, "/签到").await;
    app.member_says(&slow, "群规已读").await;
    app.wait_logged("task.done", 3).await;
    app.wait_all_handled().await;

    let r = report(&app, Range::Last(1)).await;
    let g = r.groups.iter().find(|g| g.group_id == "123456").unwrap();
    let c = &g.counts;
    assert_eq!((c[Metric::TasksHandedOut], c[Metric::TasksDone]), (4, 3));
    assert_eq!(
        (c[Metric::NewcomersTasked], c[Metric::NewcomersFinished]),
        (2, 1)
    );
    assert_eq!(g.newcomer_completion, Some(0.5));
    assert_eq!(g.task_completion, Some(0.75), "the tasks' figure stays");
}

#[tokio::test]
async fn the_csv_starts_with_a_bom_and_has_chinese_headers_with_lang_zh() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;
    app.wait_all_handled().await;
    let db = app.dir.path().join("qunbot.db");
    let db = db.to_str().unwrap();
    for (lang, header) in [
        ("en", "date,account,group_id,group_name,members,messages,"),
        ("zh", "日期,账号,群号,群名,成员数,消息数,发言人数,"),
    ] {
        let out = qunbot_report(&["--db", db, "--format", "csv", "--lang", lang]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(&out.stdout[..3], b"\xEF\xBB\xBF", "a UTF-8 BOM for Excel");
        let text = String::from_utf8(out.stdout[3..].to_vec()).unwrap();
        assert!(text.starts_with(header), "{lang}: {text}");
        assert!(text.lines().count() >= 2, "the header and today's rows");
    }
}
