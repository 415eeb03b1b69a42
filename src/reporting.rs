//! `qunbot report` and the demo's report page: open the shop's database (never
//! create one), bring the daily roll-up up to date (or rebuild it), read the
//! span, and render it.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Tz;

pub use crate::report::render::Lang;
use crate::report::render::{self, RenderError};
use crate::report::{Labels, Previous, Report, Span};
use crate::store::ReadModel as _;
use crate::store::{RollupProgress, Store, StoreError};

/// The time zone when only a database is given: the shops qunbot is for.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;

/// Where the demo (and an HTML report asked for on a terminal) writes the page.
pub const HTML_FILE: &str = "qunbot-report.html";

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

/// The days a report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Range {
    /// The last N calendar days, today included.
    Last(u32),
    Between(NaiveDate, NaiveDate),
}

/// What to report on.
#[derive(Clone, Debug)]
pub struct Query {
    pub timezone: Tz,
    pub range: Range,
    pub group: Option<String>,
    /// Group names to show instead of ids (from the config).
    pub group_names: HashMap<String, String>,
    /// What the page calls filter categories and coupon pools (see [`labels`]).
    pub labels: Labels,
    pub rebuild: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no database at {0} (give the daemon's --config, or --db with the file it writes)")]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("--from {from} is after --to {to}")]
    BackwardsRange { from: NaiveDate, to: NaiveDate },
    #[error("a range of {0} days is not a range (use --since 1d for today)")]
    EmptyRange(u32),
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

/// What the page calls the shop's codes: filter categories by the common
/// categories' Chinese names and over them the config's `[filter.categories.NAME]
/// label`s; coupon pools by their `title`s.
pub fn labels(config: Option<&crate::config::Config>) -> Labels {
    let mut categories: HashMap<String, String> = crate::config::DEFAULT_LABELS
        .iter()
        .map(|(name, label)| (name.to_string(), label.to_string()))
        .collect();
    if let Some(f) = config.and_then(|c| c.filter.as_ref()) {
        categories.extend(
            f.categories
                .keys()
                .map(|name| (name.clone(), f.label(name))),
        );
    }
    let coupon_pools = config
        .into_iter()
        .flat_map(|c| &c.coupons)
        .filter(|(_, pool)| !pool.title.trim().is_empty())
        .map(|(name, pool)| (name.clone(), pool.title.clone()))
        .collect();
    Labels {
        categories,
        coupon_pools,
    }
}

/// Parses `--since`: a whole number of days (`7d`, `30d`; `2w` is 14 days).
pub fn parse_since(text: &str) -> Result<u32, String> {
    let d = crate::domain::duration::parse(text)
        .map_err(|e| format!("{text:?} is not a span like 7d or 30d: {e}"))?;
    let secs = d.as_secs();
    if secs == 0 || secs % 86_400 != 0 || d.subsec_nanos() != 0 {
        return Err(format!("{text:?} is not a whole number of days (like 7d)"));
    }
    u32::try_from(secs / 86_400).map_err(|_| format!("{text:?} is too long"))
}

impl Query {
    /// The span in calendar days of the report's zone, as of `now`; the last N
    /// days start no earlier than `first_day`, the first day with data.
    pub fn span(
        &self,
        now: chrono::DateTime<Utc>,
        first_day: Option<NaiveDate>,
    ) -> Result<Span, ReportError> {
        let mut span = self.asked(now)?;
        if let (Range::Last(_), Some(first)) = (&self.range, first_day) {
            span.from = span.from.max(first.min(span.to));
        }
        Ok(span)
    }

    /// The span of the same length just before the one asked for (week over
    /// week for `--since 7d`); `None` when the log has nothing before it ends.
    pub fn previous_span(
        &self,
        now: chrono::DateTime<Utc>,
        first_day: Option<NaiveDate>,
    ) -> Result<Option<Span>, ReportError> {
        let asked = self.asked(now)?;
        let length = (asked.to - asked.from).num_days() + 1;
        let Some(to) = asked.from.pred_opt() else {
            return Ok(None);
        };
        let from = to
            .checked_sub_days(Days::new(length.unsigned_abs() - 1))
            .unwrap_or(NaiveDate::MIN);
        Ok(first_day.filter(|first| *first <= to).map(|first| Span {
            from: from.max(first),
            to,
            ..asked
        }))
    }

    /// The span as asked, before it is fitted to the data.
    fn asked(&self, now: chrono::DateTime<Utc>) -> Result<Span, ReportError> {
        let today = now.with_timezone(&self.timezone).date_naive();
        let (from, to) = match self.range {
            Range::Last(0) => return Err(ReportError::EmptyRange(0)),
            Range::Last(n) => (
                today
                    .checked_sub_days(Days::new(u64::from(n) - 1))
                    .unwrap_or(NaiveDate::MIN),
                today,
            ),
            Range::Between(from, to) if from > to => {
                return Err(ReportError::BackwardsRange { from, to })
            }
            Range::Between(from, to) => (from, to),
        };
        Ok(Span {
            from,
            to,
            today,
            timezone: self.timezone.name().to_string(),
        })
    }
}

/// Opens the shop's database; a missing file is an error, not a new
/// empty database.
pub async fn open(database: &Path) -> Result<Store, ReportError> {
    if !database.exists() {
        return Err(ReportError::NoDatabase(database.to_path_buf()));
    }
    let store = Store::open_existing(database).await?;
    store.tune_for_reports().await?;
    Ok(store)
}

/// Brings the roll-up up to date (or rebuilds it) and builds the report.
pub async fn build(
    store: &Store,
    request: &Query,
    now: chrono::DateTime<Utc>,
    progress: impl FnMut(RollupProgress),
) -> Result<Report, ReportError> {
    if request.rebuild {
        store.rebuild_rollup(request.timezone, progress).await?;
    } else {
        store.roll_up(request.timezone, progress).await?;
    }
    let first_day = store.first_report_day(request.group.as_deref()).await?;
    let span = request.span(now, first_day)?;
    let started = std::time::Instant::now();
    let mut rows = store.report_rows(&span, request.group.as_deref()).await?;
    tracing::debug!(day_rows = rows.days.len(), took = ?started.elapsed(), "report rows read");
    // Names the account sync heard from the gateways, then the config's over
    // them: `--db` alone still shows a shop's groups by name.
    let synced = store
        .feature_records(crate::features::accounts::NAME, "groups/")
        .await?;
    let mut names: HashMap<String, String> =
        crate::features::accounts::group_names(synced.iter().map(|(k, v)| (k, v)))
            .into_iter()
            .collect();
    names.extend(request.group_names.clone());
    rows.group_names = names.clone();
    rows.labels = request.labels.clone();
    let started = std::time::Instant::now();
    let mut report = Report::build(span, rows);
    tracing::debug!(took = ?started.elapsed(), "report built");
    if let Some(before) = request.previous_span(now, first_day)? {
        let mut rows = store.report_rows(&before, request.group.as_deref()).await?;
        rows.group_names = names;
        let (from, to) = (before.from, before.to);
        report.previous = Some(Previous {
            from,
            to,
            totals: Report::build(before, rows).totals,
        });
    }
    Ok(report)
}

/// The report in `format` (a CSV with English headers).
pub fn render(report: &Report, format: Format) -> Result<String, ReportError> {
    render_in(report, format, Lang::En)
}

/// The report in `format`, a CSV's headers in `lang`.
pub fn render_in(report: &Report, format: Format, lang: Lang) -> Result<String, ReportError> {
    let mut text = Vec::new();
    write_in(report, format, lang, &mut text)?;
    String::from_utf8(text).map_err(|e| ReportError::Write(std::io::Error::other(e)))
}

/// Writes the report in `format` to `out` (a CSV with English headers).
pub fn write(report: &Report, format: Format, out: impl std::io::Write) -> Result<(), ReportError> {
    write_in(report, format, Lang::En, out)
}

/// Writes the report in `format` to `out` as it is rendered: JSON over a
/// quarter of 2,000 groups is over 100 MB, never held whole.
pub fn write_in(
    report: &Report,
    format: Format,
    lang: Lang,
    out: impl std::io::Write,
) -> Result<(), ReportError> {
    let started = std::time::Instant::now();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    match format {
        Format::Table => out.write_all(render::table(report).as_bytes())?,
        Format::Csv => out.write_all(render::csv(report, lang)?.as_bytes())?,
        Format::Json => {
            render::json(report, &mut out)?;
            out.write_all(b"\n")?;
        }
        Format::Html => out.write_all(render::html(report)?.as_bytes())?,
    }
    out.flush()?;
    tracing::debug!(took = ?started.elapsed(), "report written");
    Ok(())
}
