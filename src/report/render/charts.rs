//! The page's charts as ECharts options (built with `charming`). Each builder
//! gives the chart, or why there is nothing to draw ("数据不足：…"), so an empty
//! chart never looks like a flat line of zeros.

use charming::component::{Axis, Grid, Legend, Title, VisualMap};
use charming::element::{AxisType, Orient, Tooltip, Trigger};
use charming::series::{Bar, Heatmap, Line, Pie};
use charming::{df, Chart};

use super::words;
use crate::report::rollup::breakdown;
use crate::report::{GroupTotals, Metric, Report, RETENTION_DAYS};

/// A chart, or why there is none.
pub type Plot = Result<Chart, &'static str>;

/// How many groups the comparison shows, most messages first.
const COMPARED_GROUPS: usize = 12;

fn base(legend: bool) -> Chart {
    let mut c = Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(
            Grid::new()
                .contain_label(true)
                .left(8)
                .right(8)
                .top(36)
                .bottom(48),
        );
    if legend {
        c = c.legend(Legend::new().top("bottom"));
    }
    c
}

fn dates(report: &Report) -> Vec<String> {
    report.daily.iter().map(|d| d.date.to_string()).collect()
}

fn per_day(report: &Report, m: Metric) -> Vec<i64> {
    report.daily.iter().map(|d| d.counts[m]).collect()
}

fn total(report: &Report, m: Metric) -> i64 {
    report.totals.counts[m]
}

pub fn activity(report: &Report) -> Plot {
    if total(report, Metric::Messages) == 0 {
        return Err("这段时间没有群消息");
    }
    Ok(base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(dates(report)))
        .y_axis(Axis::new().type_(AxisType::Value))
        .series(
            Bar::new()
                .name("消息数")
                .data(per_day(report, Metric::Messages)),
        )
        .series(
            Line::new()
                .name("发言人数")
                .data(per_day(report, Metric::Speakers)),
        ))
}

pub fn membership(report: &Report) -> Plot {
    let known = report.daily.iter().any(|d| d.members.is_some());
    if !known && total(report, Metric::Joins) + total(report, Metric::Leaves) == 0 {
        return Err("没有入群、退群，也还没有成员名单");
    }
    let members: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.members.unwrap_or(0))
        .collect();
    Ok(base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(dates(report)))
        .y_axis(Axis::new().type_(AxisType::Value).name("人次"))
        .y_axis(Axis::new().type_(AxisType::Value).name("成员数"))
        .series(Bar::new().name("入群").data(per_day(report, Metric::Joins)))
        .series(
            Bar::new()
                .name("退群")
                .data(per_day(report, Metric::Leaves)),
        )
        .series(Line::new().name("成员数").y_axis_index(1).data(members)))
}

pub fn retention(report: &Report) -> Plot {
    if report.cohorts.is_empty() {
        return Err("这段时间没有新人入群");
    }
    let mut columns: Vec<String> = RETENTION_DAYS
        .iter()
        .map(|n| format!("第{n}天仍在群"))
        .collect();
    columns.extend(RETENTION_DAYS.iter().map(|n| format!("第{n}天后发言")));
    let rows: Vec<String> = report
        .cohorts
        .iter()
        .map(|c| format!("{}（{}人）", c.date, c.joined))
        .collect();
    let mut cells = Vec::new();
    for (y, c) in report.cohorts.iter().enumerate() {
        for (x, v) in c.still_member.iter().chain(c.spoke.iter()).enumerate() {
            if let Some(v) = v {
                let pct = (v * 1000.0).round() / 10.0;
                cells.push(df![x as i64, y as i64, pct]);
            }
        }
    }
    Ok(Chart::new()
        .animation(false)
        .tooltip(Tooltip::new())
        .grid(
            Grid::new()
                .contain_label(true)
                .left(8)
                .right(8)
                .top(8)
                .bottom(64),
        )
        .x_axis(Axis::new().type_(AxisType::Category).data(columns))
        .y_axis(Axis::new().type_(AxisType::Category).data(rows))
        .visual_map(
            VisualMap::new()
                .min(0)
                .max(100)
                .calculable(true)
                .orient(Orient::Horizontal)
                .left("center")
                .bottom(0),
        )
        .series(Heatmap::new().name("留存率 %").data(cells)))
}

pub fn filter(report: &Report) -> Plot {
    let t = &report.totals;
    let data: Vec<(i64, String)> = t
        .breakdowns
        .get(breakdown::FILTER_CATEGORY)
        .into_iter()
        .flatten()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| {
            (
                *v,
                words::category(&report.labels.categories, k).to_string(),
            )
        })
        .collect();
    if data.is_empty() {
        return Err("这段时间没有违规消息");
    }
    Ok(Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .legend(Legend::new().top("bottom"))
        .series(Pie::new().name("违规消息").radius("60%").data(data)))
}

/// Scheduled posts by kind: sent, delivered, failed; the missed and why below.
pub fn posts(t: &GroupTotals) -> Plot {
    let c = &t.counts;
    if c[Metric::PostsSent] + c[Metric::PostsMissed] == 0 {
        return Err("这段时间没有定时消息（公告、秒杀）");
    }
    let of = |metric: &str, kind: &str| -> i64 {
        t.breakdowns
            .get(metric)
            .and_then(|b| b.get(kind))
            .copied()
            .unwrap_or(0)
    };
    let mut chart = base(true)
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(vec!["发出", "送达", "失败"]),
        )
        .y_axis(Axis::new().type_(AxisType::Value));
    for (kind, label) in [("announcement", "公告"), ("flash_sale", "秒杀")] {
        chart = chart.series(Bar::new().name(label).data(vec![
            of(breakdown::POSTS_SENT, kind),
            of(breakdown::POSTS_DELIVERED, kind),
            of(breakdown::POSTS_FAILED, kind),
        ]));
    }
    let missed = c[Metric::PostsMissed];
    let why = t
        .breakdowns
        .get(breakdown::POSTS_MISSED)
        .map(|b| words::counted(b, |k| words::missed_reason(k).to_string()))
        .unwrap_or_default();
    let subtext = if missed == 0 {
        "没有错过".to_string()
    } else {
        format!("错过 {missed} 次：{why}")
    };
    Ok(chart.title(Title::new().subtext(subtext)))
}

/// Each announcement and flash sale: posts delivered, failed and missed.
pub fn per_schedule(t: &GroupTotals) -> Plot {
    let of = |metric: &str| t.breakdowns.get(metric);
    let mut ids: Vec<&String> = [breakdown::SCHEDULE_SENT, breakdown::SCHEDULE_MISSED]
        .iter()
        .filter_map(|m| of(m))
        .flat_map(|b| b.keys())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err("这段时间没有公告或秒杀发出");
    }
    let series = |metric: &str| -> Vec<i64> {
        ids.iter()
            .map(|id| of(metric).and_then(|b| b.get(*id)).copied().unwrap_or(0))
            .collect()
    };
    let names: Vec<String> = ids.iter().map(|id| words::schedule_name(id)).collect();
    Ok(base(true)
        .y_axis(Axis::new().type_(AxisType::Category).data(names))
        .x_axis(Axis::new().type_(AxisType::Value))
        .series(
            Bar::new()
                .name("送达")
                .stack("posts")
                .data(series(breakdown::SCHEDULE_DELIVERED)),
        )
        .series(
            Bar::new()
                .name("失败")
                .stack("posts")
                .data(series(breakdown::SCHEDULE_FAILED)),
        )
        .series(
            Bar::new()
                .name("错过")
                .stack("posts")
                .data(series(breakdown::SCHEDULE_MISSED)),
        ))
}

/// Coupon codes handed out, per pool.
pub fn coupons(report: &Report) -> Plot {
    let t = &report.totals;
    let pools: Vec<(&String, &i64)> = t
        .breakdowns
        .get(breakdown::COUPONS)
        .into_iter()
        .flatten()
        .filter(|(_, n)| **n > 0)
        .collect();
    if pools.is_empty() {
        return Err("这段时间没有发放优惠券");
    }
    Ok(base(false)
        .x_axis(
            Axis::new().type_(AxisType::Category).data(
                pools
                    .iter()
                    .map(|(p, _)| words::category(&report.labels.coupon_pools, p).to_string())
                    .collect(),
            ),
        )
        .y_axis(Axis::new().type_(AxisType::Value).name("张"))
        .series(
            Bar::new()
                .name("发放")
                .data(pools.iter().map(|(_, n)| **n).collect()),
        ))
}

/// Check-ins and red-packet grabs per day.
pub fn rewards(report: &Report) -> Plot {
    let shown = [Metric::Checkins, Metric::RedPackets, Metric::RedPacketGrabs];
    if shown.iter().all(|m| total(report, *m) == 0) {
        return Err("这段时间没有签到和红包");
    }
    Ok(base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(dates(report)))
        .y_axis(Axis::new().type_(AxisType::Value))
        .series(
            Bar::new()
                .name("签到")
                .data(per_day(report, Metric::Checkins)),
        )
        .series(
            Bar::new()
                .name("红包")
                .data(per_day(report, Metric::RedPackets)),
        )
        .series(
            Line::new()
                .name("抢红包人次")
                .data(per_day(report, Metric::RedPacketGrabs)),
        ))
}

/// The groups side by side (the busiest ones when there are many).
pub fn groups(report: &Report) -> Plot {
    if report.groups.len() < 2 {
        return Err("只有一个群，无从比较");
    }
    let mut busiest: Vec<&GroupTotals> = report.groups.iter().collect();
    busiest.sort_by(|a, b| {
        b.counts[Metric::Messages]
            .cmp(&a.counts[Metric::Messages])
            .then(a.group_name.cmp(&b.group_name))
    });
    busiest.truncate(COMPARED_GROUPS);
    // The busiest on top: ECharts draws a category axis from the bottom.
    busiest.reverse();
    let of = |m: Metric| -> Vec<i64> { busiest.iter().map(|g| g.counts[m]).collect() };
    let names: Vec<String> = busiest.iter().map(|g| g.group_name.clone()).collect();
    Ok(base(true)
        .y_axis(Axis::new().type_(AxisType::Category).data(names))
        .x_axis(Axis::new().type_(AxisType::Value))
        .series(Bar::new().name("消息数").data(of(Metric::Messages)))
        .series(Bar::new().name("发言人数").data(of(Metric::Speakers)))
        .series(Bar::new().name("入群").data(of(Metric::Joins)))
        .series(Bar::new().name("签到").data(of(Metric::Checkins))))
}

pub fn reactivation(t: &GroupTotals) -> Plot {
    if t.reactivation.is_empty() {
        return Err("还没有沉默唤醒的数据（未开启，或还没有成员到期）");
    }
    let arms: Vec<String> = t.reactivation.keys().cloned().collect();
    let rates: Vec<f64> = t
        .reactivation
        .values()
        .map(|a| a.rate.map_or(0.0, |r| (r * 1000.0).round() / 10.0))
        .collect();
    let due: Vec<i64> = t.reactivation.values().map(|a| a.due).collect();
    Ok(base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(arms))
        .y_axis(Axis::new().type_(AxisType::Value).name("唤醒率 %").max(100))
        .y_axis(Axis::new().type_(AxisType::Value).name("到期人数"))
        .series(Bar::new().name("唤醒率 %").data(rates))
        .series(Line::new().name("到期人数").y_axis_index(1).data(due)))
}
