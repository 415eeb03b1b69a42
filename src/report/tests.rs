use super::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn g(id: &str) -> GroupRef {
    GroupRef {
        account: "1000".into(),
        group: id.into(),
    }
}

fn row(group: &str, d: u32, messages: i64, speakers: i64, members: Option<i64>) -> DayRow {
    let mut counts = Counts::default();
    counts[Metric::Messages] = messages;
    counts[Metric::Speakers] = speakers;
    DayRow {
        key: DayKey {
            account: "1000".into(),
            group: group.into(),
            day: day(d),
        },
        counts,
        members,
    }
}

fn span(from: u32, to: u32, today: u32) -> Span {
    Span {
        from: day(from),
        to: day(to),
        today: day(today),
        timezone: "Asia/Shanghai".into(),
    }
}

#[test]
fn every_day_of_the_span_is_shown_and_the_head_count_is_carried_forward() {
    let rows = Rows {
        days: vec![row("g", 21, 10, 4, None), row("g", 23, 6, 3, Some(9))],
        members_before: [(g("g"), 8)].into(),
        speakers: [(g("g"), 5)].into(),
        ..Rows::default()
    };
    let r = Report::build(span(20, 24, 24), rows);
    let members: Vec<Option<i64>> = r.days.iter().map(|d| d.members).collect();
    assert_eq!(members, [Some(8), Some(8), Some(8), Some(9), Some(9)]);
    assert_eq!(r.days[1].active_rate, Some(0.5));
    assert_eq!(r.days[1].messages_per_speaker, Some(2.5));
    assert_eq!(r.days[0].messages_per_speaker, None);
    let totals = &r.groups[0];
    assert_eq!(totals.counts[Metric::Messages], 16);
    // Distinct speakers over the span, not the sum of the days.
    assert_eq!(totals.counts[Metric::Speakers], 5);
    assert_eq!(totals.members, Some(9));
}

#[test]
fn the_totals_add_up_the_groups() {
    let rows = Rows {
        days: vec![row("a", 24, 10, 2, Some(20)), row("b", 24, 4, 1, Some(5))],
        speakers: [(g("a"), 2), (g("b"), 1)].into(),
        ..Rows::default()
    };
    let r = Report::build(span(24, 24, 24), rows);
    assert_eq!(r.totals.counts[Metric::Messages], 14);
    assert_eq!(r.totals.counts[Metric::Speakers], 3);
    assert_eq!(r.totals.members, Some(25));
    assert_eq!(r.daily.len(), 1);
    assert_eq!(r.daily[0].members, Some(25));
    assert_eq!(r.totals.active_rate, Some(3.0 / 25.0));
}

#[test]
fn an_empty_span_gives_an_empty_report() {
    let r = Report::build(span(20, 24, 24), Rows::default());
    assert!(r.is_empty());
    assert!(r.days.is_empty());
    assert_eq!(r.totals.counts, Counts::default());
}

#[test]
fn a_cohort_is_measured_only_once_its_day_has_come() {
    let rows = Rows {
        cohorts: vec![CohortRow {
            date: day(20),
            joined: 4,
            still_member: [3, 2, 0],
            spoke: [2, 1, 0],
        }],
        ..Rows::default()
    };
    // Day 20 + 7 is the 27th: the 7-day figures wait for it.
    let r = Report::build(span(20, 24, 24), rows);
    let c = &r.cohorts[0];
    assert_eq!(c.still_member, [Some(0.75), None, None]);
    assert_eq!(c.spoke, [Some(0.5), None, None]);
}

#[test]
fn arms_come_with_their_rates_and_a_verdict_only_with_enough_data() {
    let mut b = Vec::new();
    for (metric, arm, n) in [
        (rollup::breakdown::ARM_DUE, "a", 40),
        (rollup::breakdown::ARM_REACTIVATED, "a", 20),
        (rollup::breakdown::ARM_EXPIRED, "a", 20),
        (rollup::breakdown::ARM_DUE, "holdout", 40),
        (rollup::breakdown::ARM_REACTIVATED, "holdout", 4),
        (rollup::breakdown::ARM_EXPIRED, "holdout", 36),
        (rollup::breakdown::ARM_DUE, "b", 3),
    ] {
        b.push(BreakdownRow {
            group: g("g"),
            metric: metric.into(),
            key: arm.into(),
            value: n,
        });
    }
    let rows = Rows {
        days: vec![row("g", 24, 1, 1, None)],
        breakdowns: b,
        ..Rows::default()
    };
    let r = Report::build(span(24, 24, 24), rows);
    let arms = &r.groups[0].reactivation;
    assert_eq!(arms["a"].rate, Some(0.5));
    assert_eq!(arms["holdout"].rate, Some(0.1));
    let a_vs_holdout = &r.groups[0].verdicts[0];
    assert_eq!(
        (a_vs_holdout.arm.as_str(), a_vs_holdout.against.as_str()),
        ("a", "holdout")
    );
    assert!(a_vs_holdout.probability_better.unwrap() > 0.99);
    let b_vs_holdout = &r.groups[0].verdicts[1];
    assert_eq!(b_vs_holdout.arm, "b");
    assert_eq!(b_vs_holdout.probability_better, None);
    assert!(b_vs_holdout.text.contains("数据不足"));
}

#[test]
fn an_admin_of_two_groups_is_listed_once_in_the_totals() {
    let admin = |group: &str, n: i64| BreakdownRow {
        group: g(group),
        metric: rollup::breakdown::ADMIN.into(),
        key: "30009".into(),
        value: n,
    };
    let rows = Rows {
        days: vec![row("a", 24, 1, 1, None), row("b", 24, 1, 1, None)],
        breakdowns: vec![admin("a", 2), admin("b", 3)],
        ..Rows::default()
    };
    let r = Report::build(span(24, 24, 24), rows);
    let all = &r.totals.admin_commands_by_admin;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].user_id.as_str(), all[0].commands), ("30009", 5));
    assert_eq!(r.groups[0].admin_commands_by_admin.len(), 1);
}

#[test]
fn newcomer_completion_counts_people_not_tasks() {
    // Two newcomers, two tasks each: one did both, the other one of them.
    let mut first = row("g", 24, 0, 0, None);
    first.counts[Metric::TasksHandedOut] = 4;
    first.counts[Metric::TasksDone] = 3;
    first.counts[Metric::NewcomersTasked] = 2;
    first.counts[Metric::NewcomersFinished] = 1;
    let rows = Rows {
        days: vec![first],
        ..Rows::default()
    };
    let r = Report::build(span(24, 24, 24), rows);
    assert_eq!(r.totals.task_completion, Some(0.75), "tasks, as before");
    assert_eq!(r.totals.newcomer_completion, Some(0.5), "people");
}
