//! One HTML file that opens offline: KPI tiles, the charts (Apache ECharts
//! options built with `charming`, drawn by the ECharts script inlined in the page,
//! never loaded from a CDN) and the tables. askama escapes every text; the chart
//! options travel as JSON in `<script type="application/json">` with `<`, `>` and
//! `&` escaped, so a member's name cannot close the script.

use askama::Template;
use charming::component::{Axis, Legend, Title, VisualMap};
use charming::element::{AxisType, Orient, Tooltip, Trigger};
use charming::series::{Bar, Heatmap, Line, Pie};
use charming::{df, Chart};
use serde_json::Value;

use super::{admins_text, count, decimal, percent, RenderError};
use crate::report::rollup::breakdown;
use crate::report::{GroupTotals, Metric, Report, RETENTION_DAYS};

/// Apache ECharts 5.5.1 (`dist/echarts.min.js` of the npm package, the same file
/// `charming` 0.6 carries for its own renderer), Apache-2.0: see `assets/`.
const ECHARTS: &str = include_str!("../../../assets/echarts-5.5.1.min.js");

/// A KPI tile: its key (for tests and scripts), label and value.
pub struct Tile {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

/// A chart: its element id, title, and the ECharts option as safe JSON text.
pub struct ChartBox {
    pub id: String,
    pub title: &'static str,
    pub option: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    report: &'a Report,
    columns: [&'static str; 13],
    tiles: Vec<Tile>,
    charts: Vec<ChartBox>,
    groups: Vec<GroupRow<'a>>,
    echarts: &'static str,
}

/// A group's row in the page's table.
struct GroupRow<'a> {
    g: &'a GroupTotals,
    cells: Vec<String>,
    notes: Vec<String>,
}

const GROUP_COLUMNS: [&str; 13] = [
    "成员数",
    "消息数",
    "发言人数",
    "人均消息",
    "活跃率",
    "净增长",
    "任务完成率",
    "签到",
    "违规消息",
    "禁言/移出",
    "定时消息 发出/送达/失败/错过",
    "红包 个/人次/积分",
    "僵尸 发现/移出",
];

pub fn html(report: &Report) -> Result<String, RenderError> {
    let t = &report.totals;
    let c = &t.counts;
    let delivered = ratio_text(c[Metric::PostsDelivered], c[Metric::PostsSent]);
    let tiles = vec![
        tile("messages", "消息数", c[Metric::Messages].to_string()),
        tile("speakers", "发言人数", c[Metric::Speakers].to_string()),
        tile("active_rate", "活跃率", percent(t.active_rate)),
        tile("members", "成员数", count(t.members)),
        tile("net_growth", "净增长", signed(t.net_growth)),
        tile(
            "task_completion",
            "新人任务完成率",
            percent(t.task_completion),
        ),
        tile("filter_hits", "违规消息", c[Metric::FilterHits].to_string()),
        tile("posts_delivered", "定时消息送达", delivered),
    ];
    let charts = vec![
        chart("activity", "每日消息与发言人数", activity(report)),
        chart("membership", "入群、退群与成员数", membership(report)),
        chart("retention", "留存（按入群日）", retention(report)),
        chart("filter", "违规消息（按类别）", filter(t)),
        chart("campaigns", "公告与秒杀", campaigns(t)),
        chart("reactivation", "沉默唤醒（按分组）", reactivation(t)),
    ];
    let groups = report
        .groups
        .iter()
        .chain(std::iter::once(&report.totals))
        .map(group_row)
        .collect();
    let page = Page {
        report,
        columns: GROUP_COLUMNS,
        tiles,
        charts,
        groups,
        echarts: ECHARTS,
    };
    Ok(page.render()?)
}

fn tile(key: &'static str, label: &'static str, value: String) -> Tile {
    Tile { key, label, value }
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

fn ratio_text(part: i64, whole: i64) -> String {
    format!("{part} / {whole}")
}

fn chart(id: &str, title: &'static str, chart: Chart) -> ChartBox {
    let option = serde_json::to_value(&chart).unwrap_or(Value::Null);
    ChartBox {
        id: format!("chart-{id}"),
        title,
        option: script_json(&option),
    }
}

/// JSON that can sit inside `<script>`: `<`, `>` and `&` only occur inside
/// strings in JSON, where their `\u` escapes mean the same.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn base(legend: bool) -> Chart {
    let mut c = Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis));
    if legend {
        c = c.legend(Legend::new().top("bottom"));
    }
    c
}

fn dates(report: &Report) -> Vec<String> {
    report.daily.iter().map(|d| d.date.to_string()).collect()
}

fn activity(report: &Report) -> Chart {
    let messages: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.counts[Metric::Messages])
        .collect();
    let speakers: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.counts[Metric::Speakers])
        .collect();
    base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(dates(report)))
        .y_axis(Axis::new().type_(AxisType::Value))
        .series(Bar::new().name("消息数").data(messages))
        .series(Line::new().name("发言人数").data(speakers))
}

fn membership(report: &Report) -> Chart {
    let joins: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.counts[Metric::Joins])
        .collect();
    let leaves: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.counts[Metric::Leaves])
        .collect();
    let members: Vec<i64> = report
        .daily
        .iter()
        .map(|d| d.members.unwrap_or(0))
        .collect();
    base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(dates(report)))
        .y_axis(Axis::new().type_(AxisType::Value).name("人次"))
        .y_axis(Axis::new().type_(AxisType::Value).name("成员数"))
        .series(Bar::new().name("入群").data(joins))
        .series(Bar::new().name("退群").data(leaves))
        .series(Line::new().name("成员数").y_axis_index(1).data(members))
}

fn retention(report: &Report) -> Chart {
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
    Chart::new()
        .animation(false)
        .tooltip(Tooltip::new())
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
        .series(Heatmap::new().name("留存率 %").data(cells))
}

fn filter(t: &GroupTotals) -> Chart {
    let data: Vec<(i64, String)> = t
        .breakdowns
        .get(breakdown::FILTER_CATEGORY)
        .into_iter()
        .flatten()
        .map(|(k, v)| (*v, k.clone()))
        .collect();
    Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .legend(Legend::new().top("bottom"))
        .series(Pie::new().name("违规消息").radius("60%").data(data))
}

fn campaigns(t: &GroupTotals) -> Chart {
    let kinds = [("announcement", "公告"), ("flash_sale", "秒杀")];
    let of = |metric: &str, kind: &str| -> i64 {
        t.breakdowns
            .get(metric)
            .and_then(|b| b.get(kind))
            .copied()
            .unwrap_or(0)
    };
    let missed = t.counts[Metric::PostsMissed];
    let mut c = base(true)
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(vec!["发出", "送达", "失败"]),
        )
        .y_axis(Axis::new().type_(AxisType::Value));
    for (kind, label) in kinds {
        c = c.series(Bar::new().name(label).data(vec![
            of(breakdown::POSTS_SENT, kind),
            of(breakdown::POSTS_DELIVERED, kind),
            of(breakdown::POSTS_FAILED, kind),
        ]));
    }
    c.title(Title::new().subtext(format!(
        "错过 {missed} 次（安静时段、每日上限、暂停或已过时）"
    )))
}

fn reactivation(t: &GroupTotals) -> Chart {
    let arms: Vec<String> = t.reactivation.keys().cloned().collect();
    let rates: Vec<f64> = t
        .reactivation
        .values()
        .map(|a| a.rate.map_or(0.0, |r| (r * 1000.0).round() / 10.0))
        .collect();
    let due: Vec<i64> = t.reactivation.values().map(|a| a.due).collect();
    base(true)
        .x_axis(Axis::new().type_(AxisType::Category).data(arms))
        .y_axis(Axis::new().type_(AxisType::Value).name("唤醒率 %").max(100))
        .y_axis(Axis::new().type_(AxisType::Value).name("到期人数"))
        .series(Bar::new().name("唤醒率 %").data(rates))
        .series(Line::new().name("到期人数").y_axis_index(1).data(due))
}

fn group_row(g: &GroupTotals) -> GroupRow<'_> {
    let c = &g.counts;
    let cells = vec![
        count(g.members),
        c[Metric::Messages].to_string(),
        c[Metric::Speakers].to_string(),
        decimal(g.messages_per_speaker),
        percent(g.active_rate),
        signed(g.net_growth),
        percent(g.task_completion),
        c[Metric::Checkins].to_string(),
        c[Metric::FilterHits].to_string(),
        format!("{} / {}", c[Metric::Mutes], c[Metric::Removals]),
        format!(
            "{} / {} / {} / {}",
            c[Metric::PostsSent],
            c[Metric::PostsDelivered],
            c[Metric::PostsFailed],
            c[Metric::PostsMissed]
        ),
        format!(
            "{} / {} / {}",
            c[Metric::RedPackets],
            c[Metric::RedPacketGrabs],
            c[Metric::RedPacketPaidOut]
        ),
        format!(
            "{} / {}",
            c[Metric::ZombiesReported],
            c[Metric::ZombiesRemoved]
        ),
    ];
    let mut notes = Vec::new();
    if !g.admin_commands_by_admin.is_empty() {
        notes.push(format!("管理员命令：{}", admins_text(g)));
    }
    for (metric, label) in [
        (breakdown::FILTER_CATEGORY, "违规类别"),
        (breakdown::POSTS_MISSED, "错过原因"),
        (breakdown::REFUSED, "被拒命令"),
    ] {
        if let Some(keys) = g.breakdowns.get(metric).filter(|k| !k.is_empty()) {
            let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k} {v}")).collect();
            notes.push(format!("{label}：{}", parts.join("，")));
        }
    }
    for (arm, a) in &g.reactivation {
        notes.push(format!(
            "沉默唤醒 {arm}：到期 {}，提醒 {}，唤醒 {}，未回 {}，唤醒率 {}",
            a.due,
            a.nudged,
            a.reactivated,
            a.expired,
            percent(a.rate)
        ));
    }
    notes.extend(g.verdicts.iter().map(|v| v.text.clone()));
    GroupRow { g, cells, notes }
}
