//! Reports for the shop owner: the figures per group and day, their totals, the
//! retention cohorts and the breakdowns, built from the daily roll-up (see
//! [`rollup`]) and shown as a terminal table, CSV, JSON or one offline HTML page
//! ([`render`]). Plain code over rows the store reads: no SQL, no I/O.
//!
//! Each figure's formula is in README ("Reports").

pub mod metrics;
pub mod render;
pub mod rollup;
pub mod sums;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

pub use metrics::{ratio, Counts, Metric};
pub use rollup::{DayKey, GroupRef};

use crate::stats::{self, Rate};

/// The retention horizons: a joiner counts as retained at N if still a member at
/// the end of day N after the join day (and, separately, if they spoke on or after it).
pub const RETENTION_DAYS: [u32; 3] = [1, 7, 30];

/// What a report covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Today in the report's time zone: cohorts whose day N is later are not measured yet.
    pub today: NaiveDate,
    pub timezone: String,
}

impl Span {
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }
}

/// A roll-up row read back: one group on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct DayRow {
    pub key: DayKey,
    pub counts: Counts,
    pub members: Option<i64>,
}

/// A breakdown's sum over the span, for one group.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakdownRow {
    pub group: GroupRef,
    pub metric: String,
    pub key: String,
    pub value: i64,
}

/// One join day's cohort: how many joined, and how many of them were retained
/// at each of [`RETENTION_DAYS`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CohortRow {
    pub date: NaiveDate,
    pub joined: i64,
    pub still_member: [i64; 3],
    pub spoke: [i64; 3],
}

/// Everything the store reads for a report.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    pub days: Vec<DayRow>,
    /// Each group's last known head count before the span.
    pub members_before: HashMap<GroupRef, i64>,
    /// Distinct speakers of each group over the span.
    pub speakers: HashMap<GroupRef, i64>,
    pub breakdowns: Vec<BreakdownRow>,
    pub cohorts: Vec<CohortRow>,
    /// Names to show: groups (from the config) and members (as last seen).
    pub group_names: HashMap<String, String>,
    pub user_names: HashMap<(GroupRef, String), String>,
    pub labels: Labels,
}

/// What the page calls the shop's own codes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    /// Filter categories' Chinese names (the config's `label`s, the common defaults).
    pub categories: HashMap<String, String>,
    /// Coupon pools' titles.
    pub coupon_pools: HashMap<String, String>,
}

/// A group on a day, with the figures derived from the counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub account: String,
    pub group_id: String,
    pub group_name: String,
    /// Head count at the end of the day (the last known one carried forward).
    pub members: Option<i64>,
    #[serde(flatten)]
    pub counts: Counts,
    pub net_growth: i64,
    pub messages_per_speaker: Option<f64>,
    /// 活跃率 = speakers ÷ members.
    pub active_rate: Option<f64>,
}

/// An admin and the commands they gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdminCommands {
    pub user_id: String,
    pub name: String,
    pub commands: i64,
}

/// One arm of the reactivation test over the span.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Arm {
    pub due: i64,
    pub nudged: i64,
    pub reactivated: i64,
    pub expired: i64,
    /// reactivated ÷ (reactivated + expired): trials whose window closed.
    pub rate: Option<f64>,
    pub ci95: (f64, f64),
}

/// A comparison of two arms, or why there is none yet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub arm: String,
    pub against: String,
    /// `None`: not enough data yet (see [`stats::MIN_TRIALS`]).
    pub probability_better: Option<f64>,
    pub fisher_p: Option<f64>,
    pub text: String,
}

/// A group's span in totals, with its breakdowns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupTotals {
    pub account: String,
    pub group_id: String,
    pub group_name: String,
    /// Head count at the end of the span.
    pub members: Option<i64>,
    /// Sums over the span, but `speakers`: distinct members who spoke in it.
    #[serde(flatten)]
    pub counts: Counts,
    pub net_growth: i64,
    pub messages_per_speaker: Option<f64>,
    pub active_rate: Option<f64>,
    pub task_completion: Option<f64>,
    /// newcomers_finished ÷ newcomers_tasked: people, where `task_completion` counts tasks.
    pub newcomer_completion: Option<f64>,
    pub breakdowns: BTreeMap<String, BTreeMap<String, i64>>,
    pub admin_commands_by_admin: Vec<AdminCommands>,
    pub reactivation: BTreeMap<String, Arm>,
    pub verdicts: Vec<Verdict>,
}

/// A cohort with its rates; a horizon not reached yet is `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    pub date: NaiveDate,
    pub joined: i64,
    pub still_member: [Option<f64>; 3],
    pub spoke: [Option<f64>; 3],
}

/// A report, ready to render.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub span: Span,
    pub days: Vec<Day>,
    pub groups: Vec<GroupTotals>,
    /// All groups together per day (for the charts); members summed over groups.
    pub daily: Vec<Day>,
    pub totals: GroupTotals,
    pub cohorts: Vec<Cohort>,
    /// The span of the same length just before, for week over week; `None`
    /// when the log has nothing that early.
    pub previous: Option<Previous>,
    /// What the page calls filter categories and coupon pools.
    #[serde(skip)]
    pub labels: Labels,
}

/// The totals of the span before, for comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Previous {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: GroupTotals,
}

const ALL: &str = "all";

impl Report {
    /// Builds the report: every day of the span for every group the roll-up has
    /// rows for, gaps filled with zeros and the last known head count.
    pub fn build(span: Span, mut rows: Rows) -> Report {
        // Each group's rows in day order, as slices of one sorted list (a
        // quarter of 2,000 groups is 180,000 rows), and the groups known only
        // by a head count from before the span.
        rows.days.sort_unstable_by(|a, b| {
            (&a.key.account, &a.key.group, a.key.day).cmp(&(
                &b.key.account,
                &b.key.group,
                b.key.day,
            ))
        });
        let same_group =
            |a: &DayRow, b: &DayRow| a.key.account == b.key.account && a.key.group == b.key.group;
        let mut by_group: Vec<(GroupRef, &[DayRow])> = rows
            .days
            .chunk_by(same_group)
            .map(|d| {
                let g = GroupRef {
                    account: d[0].key.account.clone(),
                    group: d[0].key.group.clone(),
                };
                (g, d)
            })
            .collect();
        let quiet: Vec<GroupRef> = rows
            .members_before
            .keys()
            .filter(|g| by_group.binary_search_by(|(k, _)| k.cmp(g)).is_err())
            .cloned()
            .collect();
        by_group.extend(quiet.into_iter().map(|g| (g, &[][..])));
        by_group.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let name_of = |g: &GroupRef| {
            rows.group_names
                .get(&g.group)
                .cloned()
                .unwrap_or_else(|| g.group.clone())
        };
        let mut breakdowns: HashMap<GroupRef, BTreeMap<String, BTreeMap<String, i64>>> =
            HashMap::new();
        for b in &rows.breakdowns {
            *breakdowns
                .entry(b.group.clone())
                .or_default()
                .entry(b.metric.clone())
                .or_default()
                .entry(b.key.clone())
                .or_default() += b.value;
        }

        let mut days = Vec::new();
        let mut groups = Vec::new();
        let mut daily: BTreeMap<NaiveDate, (Counts, Option<i64>)> = BTreeMap::new();
        let mut all_breakdowns: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut all_admins = Vec::new();
        let mut all_members = None;
        let mut all_counts = Counts::default();
        for (g, day_rows) in &by_group {
            let name = name_of(g);
            let mut members = rows.members_before.get(g).copied();
            let mut sum = Counts::default();
            let mut day_rows = day_rows.iter().peekable();
            for date in span.days() {
                while day_rows.next_if(|r| r.key.day < date).is_some() {}
                let (counts, m) = match day_rows.next_if(|r| r.key.day == date) {
                    Some(r) => (r.counts.clone(), r.members),
                    None => (Counts::default(), None),
                };
                members = m.or(members);
                sum += &counts;
                let entry = daily.entry(date).or_default();
                entry.0 += &counts;
                if let Some(m) = members {
                    entry.1 = Some(entry.1.unwrap_or(0) + m);
                }
                days.push(day(date, g, &name, counts, members));
            }
            sum[Metric::Speakers] = rows.speakers.get(g).copied().unwrap_or(0);
            all_counts += &sum;
            if let Some(m) = members {
                all_members = Some(all_members.unwrap_or(0) + m);
            }
            let b = breakdowns.remove(g).unwrap_or_default();
            for (metric, keys) in &b {
                if metric == rollup::breakdown::ADMIN {
                    continue;
                }
                let into = all_breakdowns.entry(metric.clone()).or_default();
                for (k, v) in keys {
                    *into.entry(k.clone()).or_default() += v;
                }
            }
            let admins = admins(g, &b, &rows.user_names);
            all_admins.extend(admins.iter().cloned());
            groups.push(totals(
                g.account.clone(),
                g.group.clone(),
                name,
                members,
                sum,
                b,
                admins,
            ));
        }
        let all_admins = merged_admins(all_admins);
        let mut total = totals(
            ALL.into(),
            ALL.into(),
            "全部群".into(),
            all_members,
            all_counts,
            all_breakdowns,
            all_admins,
        );
        // Distinct speakers are per group: a member of two groups counts in both.
        total.counts[Metric::Speakers] = groups.iter().map(|g| g.counts[Metric::Speakers]).sum();
        total.messages_per_speaker = ratio(
            total.counts[Metric::Messages],
            total.counts[Metric::Speakers],
        );
        total.active_rate = total
            .members
            .and_then(|m| ratio(total.counts[Metric::Speakers], m));
        let all = GroupRef {
            account: ALL.into(),
            group: ALL.into(),
        };
        let daily = daily
            .into_iter()
            .map(|(date, (counts, members))| day(date, &all, "全部群", counts, members))
            .collect();
        let cohorts = rows.cohorts.iter().map(|c| cohort(c, span.today)).collect();
        Report {
            span,
            days,
            groups,
            daily,
            totals: total,
            cohorts,
            previous: None,
            labels: rows.labels,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The figures `/stats` shows: the report's totals.
    pub fn summary(&self) -> crate::domain::StatsSummary {
        let c = &self.totals.counts;
        crate::domain::StatsSummary {
            from: self.span.from.to_string(),
            to: self.span.to.to_string(),
            messages: c[Metric::Messages],
            speakers: c[Metric::Speakers],
            members: self.totals.members,
            joins: c[Metric::Joins],
            leaves: c[Metric::Leaves],
            checkins: c[Metric::Checkins],
            tasks_handed_out: c[Metric::TasksHandedOut],
            tasks_done: c[Metric::TasksDone],
            filter_hits: c[Metric::FilterHits],
            posts_sent: c[Metric::PostsSent],
            posts_delivered: c[Metric::PostsDelivered],
        }
    }
}

fn day(date: NaiveDate, g: &GroupRef, name: &str, counts: Counts, members: Option<i64>) -> Day {
    Day {
        date,
        account: g.account.clone(),
        group_id: g.group.clone(),
        group_name: name.to_string(),
        members,
        net_growth: counts[Metric::Joins] - counts[Metric::Leaves],
        messages_per_speaker: ratio(counts[Metric::Messages], counts[Metric::Speakers]),
        active_rate: members.and_then(|m| ratio(counts[Metric::Speakers], m)),
        counts,
    }
}

fn admins(
    g: &GroupRef,
    b: &BTreeMap<String, BTreeMap<String, i64>>,
    names: &HashMap<(GroupRef, String), String>,
) -> Vec<AdminCommands> {
    let mut list: Vec<AdminCommands> = b
        .get(rollup::breakdown::ADMIN)
        .into_iter()
        .flatten()
        .map(|(user, n)| AdminCommands {
            user_id: user.clone(),
            name: names
                .get(&(g.clone(), user.clone()))
                .cloned()
                .unwrap_or_else(|| user.clone()),
            commands: *n,
        })
        .collect();
    list.sort_by(|a, b| b.commands.cmp(&a.commands).then(a.name.cmp(&b.name)));
    list
}

/// Every admin once over all groups (one who runs two groups is one person),
/// with their commands summed; most commands first.
fn merged_admins(list: Vec<AdminCommands>) -> Vec<AdminCommands> {
    let mut merged: Vec<AdminCommands> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for a in list {
        match at.get(&a.user_id) {
            Some(i) => merged[*i].commands += a.commands,
            None => {
                at.insert(a.user_id.clone(), merged.len());
                merged.push(a);
            }
        }
    }
    merged.sort_by(|a, b| b.commands.cmp(&a.commands).then(a.name.cmp(&b.name)));
    merged
}

fn totals(
    account: String,
    group_id: String,
    group_name: String,
    members: Option<i64>,
    counts: Counts,
    mut breakdowns: BTreeMap<String, BTreeMap<String, i64>>,
    admin_commands_by_admin: Vec<AdminCommands>,
) -> GroupTotals {
    breakdowns.remove(rollup::breakdown::ADMIN);
    let reactivation = arms(&breakdowns);
    let verdicts = verdicts(&reactivation);
    GroupTotals {
        account,
        group_id,
        group_name,
        members,
        net_growth: counts[Metric::Joins] - counts[Metric::Leaves],
        messages_per_speaker: ratio(counts[Metric::Messages], counts[Metric::Speakers]),
        active_rate: members.and_then(|m| ratio(counts[Metric::Speakers], m)),
        task_completion: ratio(counts[Metric::TasksDone], counts[Metric::TasksHandedOut]),
        newcomer_completion: ratio(
            counts[Metric::NewcomersFinished],
            counts[Metric::NewcomersTasked],
        ),
        counts,
        breakdowns,
        admin_commands_by_admin,
        reactivation,
        verdicts,
    }
}

/// The reactivation arms from the breakdowns.
fn arms(b: &BTreeMap<String, BTreeMap<String, i64>>) -> BTreeMap<String, Arm> {
    use rollup::breakdown::{ARM_DUE, ARM_EXPIRED, ARM_NUDGED, ARM_REACTIVATED};
    let mut arms: BTreeMap<String, Arm> = BTreeMap::new();
    for (metric, field) in [
        (ARM_DUE, 0),
        (ARM_NUDGED, 1),
        (ARM_REACTIVATED, 2),
        (ARM_EXPIRED, 3),
    ] {
        for (arm, n) in b.get(metric).into_iter().flatten() {
            let a = arms.entry(arm.clone()).or_default();
            match field {
                0 => a.due += n,
                1 => a.nudged += n,
                2 => a.reactivated += n,
                _ => a.expired += n,
            }
        }
    }
    for a in arms.values_mut() {
        let r = arm_rate(a);
        a.rate = ratio(a.reactivated, a.reactivated + a.expired);
        a.ci95 = r.wilson95();
    }
    arms
}

fn arm_rate(a: &Arm) -> Rate {
    Rate {
        successes: a.reactivated.max(0) as u64,
        trials: (a.reactivated + a.expired).max(0) as u64,
    }
}

/// Each variant against the holdout, and variants against each other.
fn verdicts(arms: &BTreeMap<String, Arm>) -> Vec<Verdict> {
    stats::pairs(arms.keys())
        .into_iter()
        .map(|(a, b)| {
            let (ra, rb) = (arm_rate(&arms[a]), arm_rate(&arms[b]));
            let comparison = stats::compare(ra, rb);
            Verdict {
                arm: a.clone(),
                against: b.clone(),
                probability_better: comparison.map(|c| c.probability_better),
                fisher_p: comparison.map(|c| c.fisher_p),
                text: stats::verdict_text(a, b, comparison),
            }
        })
        .collect()
}

fn cohort(c: &CohortRow, today: NaiveDate) -> Cohort {
    let reached = |i: usize| {
        c.date
            .checked_add_days(chrono::Days::new(RETENTION_DAYS[i].into()))
            .is_some_and(|d| d <= today)
    };
    let rate = |n: i64, i: usize| reached(i).then(|| ratio(n, c.joined)).flatten();
    Cohort {
        date: c.date,
        joined: c.joined,
        still_member: [0, 1, 2].map(|i| rate(c.still_member[i], i)),
        spoke: [0, 1, 2].map(|i| rate(c.spoke[i], i)),
    }
}

#[cfg(test)]
mod tests;
