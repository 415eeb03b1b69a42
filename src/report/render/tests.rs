use std::collections::HashMap;

use chrono::NaiveDate;
use regex::Regex;

use super::*;
use crate::report::rollup::{breakdown, DayKey, GroupRef};
use crate::report::{BreakdownRow, Counts, DayRow, Previous, Rows, Span};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn group() -> GroupRef {
    GroupRef {
        account: "1000".into(),
        group: "123456".into(),
    }
}

fn span() -> Span {
    Span {
        from: day(24),
        to: day(24),
        today: day(24),
        timezone: "Asia/Shanghai".into(),
    }
}

/// A day of one group with `counts`, and breakdowns `(metric, key, value)`.
fn report(counts: &[(Metric, i64)], breakdowns: &[(&str, &str, i64)]) -> Report {
    let mut c = Counts::default();
    for (m, n) in counts {
        c[*m] = *n;
    }
    let rows = Rows {
        days: vec![DayRow {
            key: DayKey {
                account: "1000".into(),
                group: "123456".into(),
                day: day(24),
            },
            counts: c,
            members: None,
        }],
        breakdowns: breakdowns
            .iter()
            .map(|(metric, key, value)| BreakdownRow {
                group: group(),
                metric: metric.to_string(),
                key: key.to_string(),
                value: *value,
            })
            .collect(),
        labels: crate::report::Labels {
            categories: [("ad".to_string(), "广告".to_string())].into(),
            coupon_pools: [("newcomer".to_string(), "新人券".to_string())].into(),
        },
        group_names: HashMap::new(),
        ..Rows::default()
    };
    Report::build(span(), rows)
}

/// A tile's classes, value and the rest of its text.
fn tile(page: &str, key: &str) -> (String, String, String) {
    let re = Regex::new(&format!(
        r#"<div class="([^"]*)" data-kpi="{key}"><div class="label">[^<]*</div><div class="value">([^<]*)</div>(.*?)</div>\s*(<div class="tile|</section>)"#
    ))
    .unwrap();
    let c = re.captures(page).unwrap_or_else(|| panic!("no {key} tile"));
    (c[1].to_string(), c[2].to_string(), c[3].to_string())
}

#[test]
fn the_posts_tile_is_red_when_a_post_was_missed_and_says_why_in_chinese() {
    let r = report(
        &[
            (Metric::PostsSent, 15),
            (Metric::PostsDelivered, 15),
            (Metric::PostsMissed, 3),
        ],
        &[
            (breakdown::POSTS_MISSED, "quiet_hours", 2),
            (breakdown::POSTS_MISSED, "daily_cap", 1),
        ],
    );
    let page = html(&r).unwrap();
    let (class, value, rest) = tile(&page, "posts");
    assert_eq!(class, "tile alert");
    assert_eq!(value, "15 / 3 / 0");
    assert!(
        rest.contains("错过：免打扰时段 2，已到群每日自动消息上限 1"),
        "{rest}"
    );
    assert!(!rest.contains("quiet_hours"), "{rest}");

    let fine = report(
        &[(Metric::PostsSent, 15), (Metric::PostsDelivered, 15)],
        &[],
    );
    let (class, value, _) = tile(&html(&fine).unwrap(), "posts");
    assert_eq!((class.as_str(), value.as_str()), ("tile", "15 / 0 / 0"));
}

#[test]
fn coupons_red_packets_check_ins_and_newcomers_have_tiles_and_charts_say_why_they_are_empty() {
    let r = report(
        &[
            (Metric::Coupons, 4),
            (Metric::RedPackets, 2),
            (Metric::RedPacketGrabs, 9),
            (Metric::Checkins, 7),
            (Metric::NewcomersTasked, 2),
            (Metric::NewcomersFinished, 1),
            (Metric::FilterHits, 1),
        ],
        &[
            (breakdown::COUPONS, "newcomer", 3),
            (breakdown::COUPONS, "comeback", 1),
            (breakdown::FILTER_CATEGORY, "ad", 1),
        ],
    );
    let page = html(&r).unwrap();
    let (_, coupons, pools) = tile(&page, "coupons");
    assert_eq!(coupons, "4");
    // A pool by its title where the config gives one.
    assert!(pools.contains("新人券 3，comeback 1"), "{pools}");
    assert_eq!(tile(&page, "red_packets").1, "2 个");
    assert_eq!(tile(&page, "checkins").1, "7");
    assert_eq!(tile(&page, "newcomers_finished").1, "1 / 2 人");
    let (_, members, why) = tile(&page, "members");
    assert_eq!(members, "—");
    assert!(why.contains("还没有成员名单"), "{why}");
    // The filter's category by its Chinese name.
    assert!(page.contains("违规类别：广告 1"));
    // One group: nothing to compare; no posts: nothing to draw.
    for (chart, why) in [
        ("chart-groups", "只有一个群"),
        ("chart-posts", "没有定时消息"),
    ] {
        let re = Regex::new(&format!(r#"id="{chart}" data-empty>数据不足：([^<]*)<"#)).unwrap();
        let said = &re.captures(&page).unwrap_or_else(|| panic!("{chart}"))[1];
        assert!(said.contains(why), "{chart}: {said}");
    }
    assert!(page.contains(r#"id="chart-coupons" data-chart"#));
}

#[test]
fn tiles_compare_with_the_span_before() {
    let mut r = report(&[(Metric::Messages, 30)], &[]);
    let before = report(&[(Metric::Messages, 20)], &[]);
    r.previous = Some(Previous {
        from: day(17),
        to: day(23),
        totals: before.totals,
    });
    let page = html(&r).unwrap();
    assert!(
        tile(&page, "messages").2.contains("较上期 +10（+50.0%）"),
        "{}",
        tile(&page, "messages").2
    );
    assert!(page.contains("对比上期 2026-11-17 – 2026-11-23"));
}

#[test]
fn the_csv_starts_with_a_byte_order_mark_and_speaks_chinese_when_asked() {
    let r = report(&[(Metric::Messages, 3)], &[]);
    let en = csv(&r, Lang::En).unwrap();
    assert!(en.starts_with("\u{feff}date,account,group_id,group_name,members,messages,"));
    let zh = csv(&r, Lang::Zh).unwrap();
    assert!(
        zh.starts_with("\u{feff}日期,账号,群号,群名,成员数,消息数,发言人数,"),
        "{zh}"
    );
    let header: Vec<&str> = zh.lines().next().unwrap().split(',').collect();
    let unique: std::collections::HashSet<&&str> = header.iter().collect();
    assert_eq!(unique.len(), header.len(), "every column named once");
}
