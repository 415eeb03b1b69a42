//! The terminal table: activity per group and day, then each group's span in
//! totals with its breakdowns, then the retention cohorts. comfy-table measures
//! Chinese text at its display width, so the columns line up.

use std::fmt::Write;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use super::{admins_text, count, decimal, percent, words};
use crate::report::rollup::breakdown;
use crate::report::{GroupTotals, Metric, Report, RETENTION_DAYS};

fn new_table(header: Vec<String>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    t
}

fn right_align(t: &mut Table, from: usize) {
    let n = t.column_count();
    for i in from..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.span;
    let _ = writeln!(
        out,
        "qunbot 社群报表 {} – {}（{}）",
        s.from, s.to, s.timezone
    );
    if report.is_empty() {
        let _ = writeln!(out, "这段时间没有记录（no events in this range）");
        return out;
    }
    if let Some(p) = &report.previous {
        let (now, before) = (&report.totals.counts, &p.totals.counts);
        let changes: Vec<String> = [
            Metric::Messages,
            Metric::Speakers,
            Metric::Joins,
            Metric::Checkins,
            Metric::Coupons,
            Metric::PostsSent,
        ]
        .iter()
        .map(|m| {
            let change = words::week_over_week(now[*m], before[*m]);
            format!("{} {}（{change}）", m.label(), now[*m])
        })
        .collect();
        let _ = writeln!(
            out,
            "对比上期 {} – {}：{}",
            p.from,
            p.to,
            changes.join("；")
        );
    }

    let activity = [
        Metric::Messages,
        Metric::Speakers,
        Metric::Joins,
        Metric::Leaves,
    ];
    let mut header = vec!["日期".to_string(), "群".to_string(), "成员数".to_string()];
    header.extend(activity.iter().map(|m| m.label().to_string()));
    header.extend(["人均消息", "活跃率", "净增长"].map(String::from));
    let mut t = new_table(header);
    for d in &report.days {
        let mut row = vec![d.date.to_string(), d.group_name.clone(), count(d.members)];
        row.extend(activity.iter().map(|m| d.counts[*m].to_string()));
        row.push(decimal(d.messages_per_speaker));
        row.push(percent(d.active_rate));
        row.push(d.net_growth.to_string());
        t.add_row(row);
    }
    for g in report.groups.iter().chain(std::iter::once(&report.totals)) {
        let mut row = vec!["合计".to_string(), g.group_name.clone(), count(g.members)];
        row.extend(activity.iter().map(|m| g.counts[*m].to_string()));
        row.push(decimal(g.messages_per_speaker));
        row.push(percent(g.active_rate));
        row.push(g.net_growth.to_string());
        t.add_row(row);
    }
    right_align(&mut t, 2);
    let _ = writeln!(
        out,
        "\n每日活跃（合计行的发言人数为期间内不重复的人数）\n{t}"
    );

    for g in report.groups.iter().chain(std::iter::once(&report.totals)) {
        let _ = writeln!(
            out,
            "\n{}（{}）\n{}",
            g.group_name,
            g.group_id,
            details(g, report)
        );
    }

    if !report.cohorts.is_empty() {
        let mut header = vec!["入群日".to_string(), "入群人数".to_string()];
        header.extend(RETENTION_DAYS.iter().map(|n| format!("第{n}天仍在群")));
        header.extend(RETENTION_DAYS.iter().map(|n| format!("第{n}天后发言")));
        let mut t = new_table(header);
        for c in &report.cohorts {
            let mut row = vec![c.date.to_string(), c.joined.to_string()];
            row.extend(c.still_member.iter().map(|x| percent(*x)));
            row.extend(c.spoke.iter().map(|x| percent(*x)));
            t.add_row(row);
        }
        right_align(&mut t, 1);
        let _ = writeln!(out, "\n留存（按入群日；未到的天数显示 —）\n{t}");
    }
    out
}

/// A group's span in totals, one line per concern.
fn details(g: &GroupTotals, report: &Report) -> String {
    let c = &g.counts;
    // Keys in Chinese where the page has a name for them.
    let name = |metric: &str, key: &str| -> String {
        match metric {
            breakdown::FILTER_CATEGORY => words::category(&report.labels.categories, key).into(),
            breakdown::POSTS_MISSED => words::missed_reason(key).into(),
            breakdown::COUPONS => words::category(&report.labels.coupon_pools, key).into(),
            _ => key.into(),
        }
    };
    let by = |metric: &str| -> String {
        let keys = g.breakdowns.get(metric);
        match keys {
            Some(k) if !k.is_empty() => {
                let parts: Vec<String> = k
                    .iter()
                    .map(|(k, v)| format!("{} {v}", name(metric, k)))
                    .collect();
                format!("（{}）", parts.join("，"))
            }
            _ => String::new(),
        }
    };
    let mut lines = vec![
        format!(
            "新人任务：完成 {} / 发放 {}（{}），{} / {} 人全部完成（{}）；签到 {}；积分发放 {}，消耗 {}；优惠券 {}{}",
            c[Metric::TasksDone],
            c[Metric::TasksHandedOut],
            percent(g.task_completion),
            c[Metric::NewcomersFinished],
            c[Metric::NewcomersTasked],
            percent(g.newcomer_completion),
            c[Metric::Checkins],
            c[Metric::PointsGranted],
            c[Metric::PointsSpent],
            c[Metric::Coupons],
            by(breakdown::COUPONS)
        ),
        format!(
            "违规消息 {}{}；处理 {}；违规记录 {}；禁言 {}；移出 {}；命令被拒 {}{}",
            c[Metric::FilterHits],
            by(breakdown::FILTER_CATEGORY),
            by(breakdown::FILTER_ACTION).trim_matches(['（', '）']),
            c[Metric::Strikes],
            c[Metric::Mutes],
            c[Metric::Removals],
            c[Metric::CommandsRefused],
            by(breakdown::REFUSED)
        ),
    ];
    if !g.admin_commands_by_admin.is_empty() {
        lines.push(format!(
            "管理员命令 {}（{}）",
            c[Metric::AdminCommands],
            admins_text(g)
        ));
    }
    lines.push(format!(
        "定时消息：发出 {}{}，送达 {}，失败 {}，错过 {}{}",
        c[Metric::PostsSent],
        by(breakdown::POSTS_SENT),
        c[Metric::PostsDelivered],
        c[Metric::PostsFailed],
        c[Metric::PostsMissed],
        by(breakdown::POSTS_MISSED)
    ));
    lines.push(format!(
        "红包 {} 个，{} 人次抢到 {} 积分，退回 {} 积分",
        c[Metric::RedPackets],
        c[Metric::RedPacketGrabs],
        c[Metric::RedPacketPaidOut],
        c[Metric::RedPacketRefunded]
    ));
    for (arm, a) in &g.reactivation {
        lines.push(format!(
            "沉默唤醒 {arm}：到期 {}，提醒 {}，唤醒 {}，未回 {}，唤醒率 {}（95% 区间 {:.1}%–{:.1}%）",
            a.due,
            a.nudged,
            a.reactivated,
            a.expired,
            percent(a.rate),
            a.ci95.0 * 100.0,
            a.ci95.1 * 100.0
        ));
    }
    for v in &g.verdicts {
        lines.push(v.text.clone());
    }
    lines.push(format!(
        "僵尸成员：发现 {}，移出 {}",
        c[Metric::ZombiesReported],
        c[Metric::ZombiesRemoved]
    ));
    lines.join("\n")
}
