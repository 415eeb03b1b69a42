//! `qunbot report`: where it reads from, and writing it out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use qunbot::config::{Config, Env};
use qunbot::reporting;

use crate::report_invalid;

/// Where a report reads from, and how it names days and groups.
pub struct ReportSource {
    pub database: PathBuf,
    pub timezone: chrono_tz::Tz,
    pub group_names: std::collections::HashMap<String, String>,
    pub labels: qunbot::report::Labels,
}

/// The config's database, zone and names; or the bare database (`--db`).
pub fn report_source(
    config: Option<PathBuf>,
    db: Option<PathBuf>,
) -> Result<ReportSource, ExitCode> {
    if let Some(database) = db {
        return Ok(ReportSource {
            database,
            timezone: reporting::DEFAULT_TIMEZONE,
            group_names: Default::default(),
            labels: reporting::labels(None),
        });
    }
    let path = config.unwrap_or_else(|| PathBuf::from(qunbot::config::DEFAULT_PATH));
    match Config::load_for_reading(&path, &Env::from_process()) {
        Ok(c) => Ok(ReportSource {
            database: c.storage.database.clone(),
            timezone: c.timezone,
            group_names: c
                .groups
                .iter()
                .map(|g| (g.id.to_string(), g.name.clone()))
                .collect(),
            labels: reporting::labels(Some(&c)),
        }),
        Err(e) => Err(report_invalid(&e)),
    }
}

/// `qunbot report`: roll up, render, write. A progress bar on a terminal when
/// there is a lot of log to roll up (never in a pipe, never with JSON).
pub async fn report(
    database: &Path,
    request: reporting::Query,
    format: reporting::Format,
    lang: reporting::Lang,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let store = reporting::open(database).await?;
    let waiting = if request.rebuild {
        store.rollup_waiting().await? + store.rolled_up().await?
    } else {
        store.rollup_waiting().await?
    };
    let bar = (format != reporting::Format::Json
        && std::io::stderr().is_terminal()
        && waiting > PROGRESS_FROM)
        .then(|| {
            let bar = indicatif::ProgressBar::new(waiting);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "rolling up the log {bar:40} {pos}/{len} rows ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
    let built = reporting::build(&store, &request, chrono::Utc::now(), |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.waiting);
            bar.set_position(p.taken);
        }
    })
    .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    store.close().await;
    let report = built?;
    let out = out.or_else(|| {
        (format == reporting::Format::Html && std::io::stdout().is_terminal())
            .then(|| PathBuf::from(qunbot::reporting::HTML_FILE))
    });
    match out {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            reporting::write_in(&report, format, lang, file)
                .with_context(|| format!("writing {}", path.display()))?;
            if format == reporting::Format::Html {
                eprintln!("report written to {}", path.display());
            }
        }
        None => reporting::write_in(&report, format, lang, std::io::stdout().lock())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Log rows to roll up before a progress bar is worth showing.
const PROGRESS_FROM: u64 = 200_000;
