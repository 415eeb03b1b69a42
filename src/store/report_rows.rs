//! What a report reads back from the roll-up. The rows are read straight off
//! SQLite's handle ([`direct`]) and folded as they come: a quarter of 2,000
//! groups is 180,000 day rows, and sqlx would hand them over one at a time
//! between threads.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use rusqlite::types::ValueRef;
use serde_json::{json, Value};

use super::rollup::{day_text, direct_parallel, parse_day};
use super::{Store, StoreError};
use crate::report::rollup::{breakdown, DayKey, GroupRef};
use crate::report::sums::{BreakdownSums, SpanSpeakers};
use crate::report::{CohortRow, Counts, DayRow, Metric, Rows, Span, RETENTION_DAYS};

impl Store {
    /// What a report over `span` shows, for one group or all (`group`), from the
    /// roll-up as it stands (call [`Store::roll_up`] first).
    pub async fn report_rows(&self, span: &Span, group: Option<&str>) -> Result<Rows, StoreError> {
        let mut days_conn = self.read.acquire().await?;
        let mut conn = self.read.acquire().await?;
        let (from, to) = (day_text(span.from), day_text(span.to));
        // The day rows are most of the work: they are read on a thread of their
        // own while this one reads the rest.
        let ((days, speakers), mut rows) = direct_parallel(
            (&mut days_conn, |db: &rusqlite::Connection| {
                read_days(db, &from, &to, group)
            }),
            (&mut conn, |db: &rusqlite::Connection| {
                let mut rows = Rows::default();
                read_members_before(db, &from, group, &mut rows)?;
                read_breakdowns(db, &from, &to, group, &mut rows)?;
                read_cohorts(db, &from, &to, group, &mut rows)?;
                Ok(rows)
            }),
        )
        .await?;
        drop(days_conn);
        rows.days = days;
        rows.speakers = speakers;

        // Names of the members the report lists (admins), as last seen.
        let named: Vec<Value> = rows
            .breakdowns
            .iter()
            .filter(|b| b.metric == breakdown::ADMIN)
            .map(|b| json!([b.group.account, b.group.group, b.key]))
            .collect();
        if !named.is_empty() {
            let names: Vec<(String, String, String, String)> = sqlx::query_as(
                "WITH rows1 AS MATERIALIZED (SELECT jsonb(value) AS value FROM json_each(?1))
                 SELECT m.account, m.group_id, m.user_id, m.nickname FROM members m
                 JOIN rows1 j ON m.account = j.value->>0 AND m.group_id = j.value->>1
                      AND m.user_id = j.value->>2
                 WHERE m.nickname IS NOT NULL AND m.nickname != ''",
            )
            .bind(Value::Array(named).to_string())
            .fetch_all(&mut *conn)
            .await?;
            rows.user_names = names
                .into_iter()
                .map(|(account, group, user, name)| ((GroupRef { account, group }, user), name))
                .collect();
        }
        Ok(rows)
    }
}

impl Store {
    /// The first day the roll-up has anything for (one group or all): a report
    /// over the last N days starts there rather than before the bot was there.
    pub async fn first_report_day(
        &self,
        group: Option<&str>,
    ) -> Result<Option<NaiveDate>, StoreError> {
        let first: Option<String> = sqlx::query_scalar(
            "SELECT MIN(day) FROM rollup_days WHERE (?1 IS NULL OR group_id = ?1)",
        )
        .bind(group)
        .fetch_one(&self.read)
        .await?;
        first.map(|d| parse_day("rollup_days", &d)).transpose()
    }
}

/// A text column of a roll-up row (`key` names the row in an error).
fn text<'r>(
    table: &'static str,
    value: ValueRef<'r>,
    key: impl FnOnce() -> String,
) -> Result<Option<&'r str>, StoreError> {
    value
        .as_str_or_null()
        .map_err(|e| StoreError::CorruptKeyed {
            table,
            key: key(),
            reason: e.to_string(),
        })
}

fn required<'r>(
    table: &'static str,
    value: ValueRef<'r>,
    key: impl Fn() -> String,
) -> Result<&'r str, StoreError> {
    text(table, value, &key)?.ok_or_else(|| StoreError::CorruptKeyed {
        table,
        key: key(),
        reason: "a key column is NULL".into(),
    })
}

/// The day rows in the span, and each group's distinct speakers over it.
fn read_days(
    db: &rusqlite::Connection,
    from: &str,
    to: &str,
    group: Option<&str>,
) -> Result<(Vec<DayRow>, HashMap<GroupRef, i64>), StoreError> {
    // The column list is the fixed metric list, never input.
    let columns: Vec<&str> = Metric::ALL.iter().map(|m| m.column()).collect();
    let mut statement = db.prepare(&format!(
        "SELECT account, group_id, day, members, speaker_ids, {} FROM rollup_days
         WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR group_id = ?3)",
        columns.join(", ")
    ))?;
    let mut found = statement.query(rusqlite::params![from, to, group])?;
    let mut speakers = SpanSpeakers::default();
    let mut days = Vec::new();
    while let Some(row) = found.next()? {
        let key = || "a day row".to_string();
        let account = required("rollup_days", row.get_ref(0)?, key)?;
        let group = required("rollup_days", row.get_ref(1)?, key)?;
        let day = parse_day(
            "rollup_days",
            required("rollup_days", row.get_ref(2)?, key)?,
        )?;
        if let Some(ids) = text("rollup_days", row.get_ref(4)?, key)? {
            speakers.add(account, group, ids);
        }
        let mut counts = Counts::default();
        for (i, m) in Metric::ALL.iter().enumerate() {
            counts[*m] = match row.get_ref(5 + i)? {
                ValueRef::Integer(n) => n,
                other => {
                    return Err(StoreError::CorruptKeyed {
                        table: "rollup_days",
                        key: format!("{account}/{group}/{day}"),
                        reason: format!("{} is {:?}, not a count", m.column(), other.data_type()),
                    })
                }
            };
        }
        days.push(DayRow {
            key: DayKey {
                account: account.to_string(),
                group: group.to_string(),
                day,
            },
            members: row.get(3)?,
            counts,
        });
    }
    Ok((days, speakers.counts()))
}

/// Each group's last known head count before the span.
fn read_members_before(
    db: &rusqlite::Connection,
    from: &str,
    group: Option<&str>,
    rows: &mut Rows,
) -> Result<(), StoreError> {
    let mut statement = db.prepare(
        "SELECT account, group_id, members, MAX(day) FROM rollup_days
         WHERE day < ?1 AND members IS NOT NULL AND (?2 IS NULL OR group_id = ?2)
         GROUP BY account, group_id",
    )?;
    let before = statement.query_map(rusqlite::params![from, group], |r| {
        Ok((
            GroupRef {
                account: r.get(0)?,
                group: r.get(1)?,
            },
            r.get(2)?,
        ))
    })?;
    rows.members_before = before.collect::<Result<_, _>>()?;
    Ok(())
}

/// The breakdowns (filter hits by category, ...) summed over the span.
fn read_breakdowns(
    db: &rusqlite::Connection,
    from: &str,
    to: &str,
    group: Option<&str>,
    rows: &mut Rows,
) -> Result<(), StoreError> {
    let mut statement = db.prepare(
        "SELECT account, group_id, metric, key, value FROM rollup_breakdown
         WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR group_id = ?3)",
    )?;
    let mut found = statement.query(rusqlite::params![from, to, group])?;
    let mut sums = BreakdownSums::default();
    while let Some(row) = found.next()? {
        let key = || "a breakdown row".to_string();
        sums.add(
            required("rollup_breakdown", row.get_ref(0)?, key)?,
            required("rollup_breakdown", row.get_ref(1)?, key)?,
            required("rollup_breakdown", row.get_ref(2)?, key)?,
            required("rollup_breakdown", row.get_ref(3)?, key)?,
            row.get(4)?,
        );
    }
    rows.breakdowns = sums.rows();
    Ok(())
}

/// Stays by join day and how they went (from the cohort index alone); the
/// horizons are reckoned here, a handful of rows per day rather than one per stay.
fn read_cohorts(
    db: &rusqlite::Connection,
    from: &str,
    to: &str,
    group: Option<&str>,
    rows: &mut Rows,
) -> Result<(), StoreError> {
    let mut statement = db.prepare(
        "SELECT joined_day, left_day, last_spoke_day, COUNT(*) FROM rollup_stays
         WHERE joined_day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR group_id = ?3)
         GROUP BY joined_day, left_day, last_spoke_day ORDER BY joined_day",
    )?;
    let mut found = statement.query(rusqlite::params![from, to, group])?;
    let day = |value: ValueRef| -> Result<Option<NaiveDate>, StoreError> {
        text("rollup_stays", value, || "a stay".to_string())?
            .map(|d| parse_day("rollup_stays", d))
            .transpose()
    };
    while let Some(row) = found.next()? {
        let Some(joined) = day(row.get_ref(0)?)? else {
            continue;
        };
        let (left, spoke) = (day(row.get_ref(1)?)?, day(row.get_ref(2)?)?);
        let n: i64 = row.get(3)?;
        if rows.cohorts.last().is_none_or(|c| c.date != joined) {
            rows.cohorts.push(CohortRow {
                date: joined,
                ..CohortRow::default()
            });
        }
        let Some(c) = rows.cohorts.last_mut() else {
            continue;
        };
        c.joined += n;
        for (i, days) in RETENTION_DAYS.iter().enumerate() {
            let horizon = joined + Days::new(u64::from(*days));
            if left.is_none_or(|l| l > horizon) {
                c.still_member[i] += n;
            }
            if spoke.is_some_and(|s| s >= horizon) {
                c.spoke[i] += n;
            }
        }
    }
    Ok(())
}
