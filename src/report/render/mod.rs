//! A report as a terminal table, CSV (one row per group and day), JSON (the
//! [`Report`] itself) or one self-contained HTML page.

mod charts;
mod csv;
mod html;
mod table;
mod words;

use super::{Day, Metric, Report};

pub use csv::BOM;

pub use html::html;
pub use table::table;

/// The language of the CSV's header (`--lang`): the JSON field names, or the
/// page's Chinese labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// The report's CSV.
pub fn csv(report: &Report, lang: Lang) -> Result<String, RenderError> {
    csv::csv(report, lang)
}

/// The report's JSON: one document on one line (its shape is in README; `jq`
/// pretty-prints it). A quarter of 2,000 groups is 180,000 day rows: indenting
/// them would double the output.
pub fn json(report: &Report, out: impl std::io::Write) -> Result<(), RenderError> {
    Ok(serde_json::to_writer(out, report)?)
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot render the page: {0}")]
    Page(#[from] askama::Error),
}

/// A share as a percentage, or "—" when there is nothing to divide by.
pub fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |x| format!("{:.1}%", x * 100.0))
}

/// A ratio with one decimal, or "—".
pub fn decimal(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |x| format!("{x:.1}"))
}

/// A head count, or "—" when nothing is known yet.
pub fn count(x: Option<i64>) -> String {
    x.map_or_else(|| "—".into(), |n| n.to_string())
}

/// A group's admins and their commands: `王姐 3，小李 1`.
fn admins_text(g: &super::GroupTotals) -> String {
    let admins: Vec<String> = g
        .admin_commands_by_admin
        .iter()
        .map(|a| format!("{} {}", a.name, a.commands))
        .collect();
    admins.join("，")
}

/// The derived columns after the counts, in CSV order.
const DERIVED: [&str; 3] = ["net_growth", "messages_per_speaker", "active_rate"];

/// One CSV/table row of a day: the keys, the head count, every metric, the derived figures.
fn day_cells(d: &Day) -> Vec<String> {
    let mut cells = vec![
        d.date.to_string(),
        d.account.clone(),
        d.group_id.clone(),
        d.group_name.clone(),
        d.members.map(|n| n.to_string()).unwrap_or_default(),
    ];
    cells.extend(Metric::ALL.iter().map(|m| d.counts[*m].to_string()));
    cells.push(d.net_growth.to_string());
    cells.push(
        d.messages_per_speaker
            .map(|x| format!("{x:.3}"))
            .unwrap_or_default(),
    );
    cells.push(d.active_rate.map(|x| format!("{x:.4}")).unwrap_or_default());
    cells
}

fn day_header(lang: Lang) -> Vec<&'static str> {
    match lang {
        Lang::En => {
            let mut h = vec!["date", "account", "group_id", "group_name", "members"];
            h.extend(Metric::ALL.iter().map(|m| m.column()));
            h.extend(DERIVED);
            h
        }
        Lang::Zh => {
            let mut h = vec!["日期", "账号", "群号", "群名", "成员数"];
            h.extend(Metric::ALL.iter().map(|m| m.label()));
            h.extend(DERIVED_ZH);
            h
        }
    }
}

/// [`DERIVED`] in Chinese.
const DERIVED_ZH: [&str; 3] = ["净增长", "人均消息", "活跃率"];

#[cfg(test)]
mod tests;
