//! One HTML file that opens offline and reads on a phone: KPI tiles that lead
//! with what worked and what did not, the charts (Apache ECharts options built
//! in [`super::charts`], drawn by the ECharts script inlined in the page, never
//! loaded from a CDN) and the groups' table (cards under 600 px). askama
//! escapes every text; the chart options travel as JSON in
//! `<script type="application/json">` with `<`, `>` and `&` escaped, so a
//! member's name cannot close the script.

use askama::Template;
use charming::Chart;
use serde_json::Value;

use super::charts::{self, Plot};
use super::{admins_text, count, decimal, percent, words, RenderError};
use crate::report::rollup::breakdown;
use crate::report::{GroupTotals, Metric, Report};

/// Apache ECharts 5.5.1 (`dist/echarts.min.js` of the npm package, the same file
/// `charming` 0.6 carries for its own renderer), Apache-2.0: see `assets/`.
const ECHARTS: &str = include_str!("../../../assets/echarts-5.5.1.min.js");

/// A KPI tile: its key (for tests and scripts), label and value.
pub struct Tile {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    /// What the value is made of, or why it is missing.
    pub note: Option<String>,
    /// Week over week (against the span of the same length before).
    pub change: Option<String>,
    /// Something did not work (posts missed or failed): shown red.
    pub alert: bool,
}

/// A chart: its element id, title, and the ECharts option as safe JSON text,
/// or why there is nothing to draw.
pub struct ChartBox {
    pub id: String,
    pub title: &'static str,
    pub option: Option<String>,
    pub empty: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    report: &'a Report,
    columns: [&'static str; 14],
    tiles: Vec<Tile>,
    charts: Vec<ChartBox>,
    groups: Vec<GroupRow<'a>>,
    echarts: &'static str,
}

/// A group's row in the page's table: each cell with its column's name (the
/// label a card shows on a phone).
struct GroupRow<'a> {
    g: &'a GroupTotals,
    cells: Vec<(&'static str, String)>,
    notes: Vec<String>,
}

const GROUP_COLUMNS: [&str; 14] = [
    "成员数",
    "消息数",
    "发言人数",
    "人均消息",
    "活跃率",
    "净增长",
    "新人完成/领任务（人）",
    "签到",
    "优惠券",
    "违规消息",
    "禁言/移出",
    "定时消息 发出/错过/失败",
    "红包 个/人次/积分",
    "僵尸 发现/移出",
];

pub fn html(report: &Report) -> Result<String, RenderError> {
    let charts = vec![
        chart(
            "posts",
            "定时消息（公告与秒杀）",
            charts::posts(&report.totals),
        ),
        chart(
            "sales",
            "逐条结果（每个公告、秒杀）",
            charts::per_schedule(&report.totals),
        ),
        chart("coupons", "优惠券发放（按券池）", charts::coupons(report)),
        chart("rewards", "签到与红包", charts::rewards(report)),
        chart("activity", "每日消息与发言人数", charts::activity(report)),
        chart(
            "membership",
            "入群、退群与成员数",
            charts::membership(report),
        ),
        chart("groups", "各群对比", charts::groups(report)),
        chart("retention", "留存（按入群日）", charts::retention(report)),
        chart("filter", "违规消息（按类别）", charts::filter(report)),
        chart(
            "reactivation",
            "沉默唤醒（按分组）",
            charts::reactivation(&report.totals),
        ),
    ];
    let groups = report
        .groups
        .iter()
        .chain(std::iter::once(&report.totals))
        .map(|g| group_row(g, report))
        .collect();
    let page = Page {
        report,
        columns: GROUP_COLUMNS,
        tiles: tiles(report),
        charts,
        groups,
        echarts: ECHARTS,
    };
    Ok(page.render()?)
}

/// The tiles, what worked and what did not first.
fn tiles(report: &Report) -> Vec<Tile> {
    let t = &report.totals;
    let c = &t.counts;
    let before = report.previous.as_ref().map(|p| &p.totals.counts);
    let change = |m: Metric| before.map(|b| words::week_over_week(c[m], b[m]));
    let (sent, missed, failed) = (
        c[Metric::PostsSent],
        c[Metric::PostsMissed],
        c[Metric::PostsFailed],
    );
    let posts_note = if sent + missed == 0 {
        "这段时间没有定时消息".to_string()
    } else {
        let mut note = format!("送达 {}", c[Metric::PostsDelivered]);
        if let Some(why) = t.breakdowns.get(breakdown::POSTS_MISSED) {
            note += &format!(
                "；错过：{}",
                words::counted(why, |k| words::missed_reason(k).into())
            );
        }
        if failed > 0 {
            note += &format!("；失败 {failed} 条（网关没有发出）");
        }
        note
    };
    let coupons_note = t
        .breakdowns
        .get(breakdown::COUPONS)
        .map(|pools| {
            words::counted(pools, |k| {
                words::category(&report.labels.coupon_pools, k).into()
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "没有发放".into());
    let (tasked, finished) = (c[Metric::NewcomersTasked], c[Metric::NewcomersFinished]);
    let mut tiles = vec![
        Tile {
            note: Some(posts_note),
            change: change(Metric::PostsSent),
            alert: missed + failed > 0,
            ..tile(
                "posts",
                "定时消息 发出/错过/失败",
                format!("{sent} / {missed} / {failed}"),
            )
        },
        Tile {
            note: Some(coupons_note),
            change: change(Metric::Coupons),
            ..tile("coupons", "优惠券发放", c[Metric::Coupons].to_string())
        },
        Tile {
            note: Some(format!(
                "抢 {} 人次，发出 {} 积分，退回 {} 积分",
                c[Metric::RedPacketGrabs],
                c[Metric::RedPacketPaidOut],
                c[Metric::RedPacketRefunded]
            )),
            change: change(Metric::RedPackets),
            ..tile(
                "red_packets",
                "红包",
                format!("{} 个", c[Metric::RedPackets]),
            )
        },
        Tile {
            change: change(Metric::Checkins),
            ..tile("checkins", "签到", c[Metric::Checkins].to_string())
        },
        Tile {
            note: Some(if tasked == 0 {
                "没有新人领到任务".into()
            } else {
                format!("完成率 {}（按人算）", percent(t.newcomer_completion))
            }),
            change: change(Metric::NewcomersFinished),
            ..tile(
                "newcomers_finished",
                "完成新人任务",
                format!("{finished} / {tasked} 人"),
            )
        },
        Tile {
            change: change(Metric::Messages),
            ..tile("messages", "消息数", c[Metric::Messages].to_string())
        },
        Tile {
            change: change(Metric::Speakers),
            ..tile("speakers", "发言人数", c[Metric::Speakers].to_string())
        },
        Tile {
            note: t.members.is_none().then(|| NO_MEMBER_LIST.to_string()),
            ..tile("members", "成员数", count(t.members))
        },
        Tile {
            note: t
                .active_rate
                .is_none()
                .then(|| "发言人数 ÷ 成员数：成员数未知".to_string()),
            ..tile("active_rate", "活跃率", percent(t.active_rate))
        },
        Tile {
            change: before
                .map(|b| words::week_over_week(t.net_growth, b[Metric::Joins] - b[Metric::Leaves])),
            ..tile("net_growth", "净增长", words::signed(t.net_growth))
        },
    ];
    let categories = t
        .breakdowns
        .get(breakdown::FILTER_CATEGORY)
        .map(|b| words::counted(b, |k| words::category(&report.labels.categories, k).into()))
        .filter(|s| !s.is_empty());
    tiles.push(Tile {
        note: categories,
        change: change(Metric::FilterHits),
        ..tile("filter_hits", "违规消息", c[Metric::FilterHits].to_string())
    });
    tiles
}

/// Why the head count is "—".
const NO_MEMBER_LIST: &str =
    "还没有成员名单：网关给出群成员列表后才有（开启 [reactivation] 时每天同步）";

fn tile(key: &'static str, label: &'static str, value: String) -> Tile {
    Tile {
        key,
        label,
        value,
        note: None,
        change: None,
        alert: false,
    }
}

fn chart(id: &str, title: &'static str, plot: Plot) -> ChartBox {
    let (option, empty) = match plot {
        Ok(chart) => (Some(option_json(&chart)), None),
        Err(why) => (None, Some(why)),
    };
    ChartBox {
        id: format!("chart-{id}"),
        title,
        option,
        empty,
    }
}

fn option_json(chart: &Chart) -> String {
    script_json(&serde_json::to_value(chart).unwrap_or(Value::Null))
}

/// JSON that can sit inside `<script>`: `<`, `>` and `&` only occur inside
/// strings in JSON, where their `\u` escapes mean the same.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn group_row<'a>(g: &'a GroupTotals, report: &Report) -> GroupRow<'a> {
    let c = &g.counts;
    let values = [
        count(g.members),
        c[Metric::Messages].to_string(),
        c[Metric::Speakers].to_string(),
        decimal(g.messages_per_speaker),
        percent(g.active_rate),
        words::signed(g.net_growth),
        format!(
            "{} / {}",
            c[Metric::NewcomersFinished],
            c[Metric::NewcomersTasked]
        ),
        c[Metric::Checkins].to_string(),
        c[Metric::Coupons].to_string(),
        c[Metric::FilterHits].to_string(),
        format!("{} / {}", c[Metric::Mutes], c[Metric::Removals]),
        format!(
            "{} / {} / {}",
            c[Metric::PostsSent],
            c[Metric::PostsMissed],
            c[Metric::PostsFailed]
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
    let cells = GROUP_COLUMNS.into_iter().zip(values).collect();
    let mut notes = Vec::new();
    if !g.admin_commands_by_admin.is_empty() {
        notes.push(format!("管理员命令：{}", admins_text(g)));
    }
    for (metric, label) in [
        (breakdown::FILTER_CATEGORY, "违规类别"),
        (breakdown::POSTS_MISSED, "错过原因"),
        (breakdown::REFUSED, "被拒命令"),
        (breakdown::COUPONS, "优惠券"),
    ] {
        if let Some(keys) = g.breakdowns.get(metric) {
            let text = words::counted(keys, |k| key_name(metric, k, report));
            if !text.is_empty() {
                notes.push(format!("{label}：{text}"));
            }
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

/// A breakdown's key in Chinese.
fn key_name(metric: &str, key: &str, report: &Report) -> String {
    match metric {
        breakdown::FILTER_CATEGORY => words::category(&report.labels.categories, key).to_string(),
        breakdown::POSTS_MISSED => words::missed_reason(key).to_string(),
        breakdown::COUPONS => words::category(&report.labels.coupon_pools, key).to_string(),
        breakdown::REFUSED => refused(key).to_string(),
        _ => key.to_string(),
    }
}

/// Why a command was refused (`commands_refused_by_reason`).
fn refused(code: &str) -> &str {
    match code {
        "refused" => "无权限",
        "unknown" => "未知命令",
        "cooldown" => "冷却中",
        other => other,
    }
}
