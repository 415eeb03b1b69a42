//! What the schedules will post, and what will stop a post, told before it is
//! missed: `qunbot check` lists each schedule's next posts and marks those that
//! quiet hours will hold past their deadline ("不会发出：免打扰时段"), and warns
//! of a day whose planned posts exceed a group's `schedule.daily_cap`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::Config;
use crate::domain::Id;

/// How far ahead `check` looks for days over the cap.
const HORIZON_DAYS: i64 = 7;

/// One post a schedule plans.
#[derive(Clone, Debug)]
pub struct PlannedPost {
    /// The schedule's id, and which post of a sale.
    pub what: String,
    pub at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub groups: Vec<Id>,
    pub obeys_quiet_hours: bool,
}

impl Config {
    /// Whether quiet hours hold a post due at `at` past its `deadline`.
    pub fn quiet_hours_stop(
        &self,
        at: DateTime<Utc>,
        deadline: DateTime<Utc>,
        obeys: bool,
    ) -> bool {
        match self.schedule.quiet_hours.filter(|_| obeys) {
            Some(quiet) => quiet.end_after(at, self.timezone) > deadline,
            None => false,
        }
    }

    /// Every post the schedules plan from `now` until `until`, soonest first.
    pub fn planned_posts(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> Vec<PlannedPost> {
        let tz = self.timezone;
        let mut posts = Vec::new();
        for a in &self.announcements {
            let grace = chrono::Duration::from_std(a.grace).unwrap_or_default();
            let mut t = now;
            while let Some(next) = a.when.next_after(t, tz).filter(|n| *n <= until) {
                posts.push(PlannedPost {
                    what: format!("announcement {}", a.id),
                    at: next,
                    deadline: next + grace,
                    groups: a.groups.resolve(&self.groups),
                    obeys_quiet_hours: a.quiet_hours,
                });
                t = next;
                if posts.len() > 10_000 {
                    break; // a per-second cron: enough to judge the cap
                }
            }
        }
        for s in &self.flash_sales {
            for (phase, due, deadline) in s.posts() {
                if due > now && due <= until {
                    posts.push(PlannedPost {
                        what: format!("flash sale {} {}", s.id, phase.key()),
                        at: due,
                        deadline,
                        groups: s.groups.resolve(&self.groups),
                        obeys_quiet_hours: s.quiet_hours,
                    });
                }
            }
        }
        posts.sort_by_key(|p| p.at);
        posts
    }

    /// For `qunbot check`: each schedule's next three posts in the configured
    /// zone, each marked when quiet hours will stop it.
    pub fn schedule_preview(&self, now: DateTime<Utc>) -> Vec<String> {
        let tz = self.timezone;
        let until = now + chrono::Duration::days(366);
        let posts = self.planned_posts(now, until);
        let show = |p: &PlannedPost| {
            let when = p.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S");
            if self.quiet_hours_stop(p.at, p.deadline, p.obeys_quiet_hours) {
                format!("{when} [不会发出：免打扰时段 (quiet hours until after its deadline)]")
            } else {
                when.to_string()
            }
        };
        let mut lines = Vec::new();
        for a in &self.announcements {
            let what = format!("announcement {}", a.id);
            let next: Vec<String> = posts
                .iter()
                .filter(|p| p.what == what)
                .take(3)
                .map(show)
                .collect();
            let next = if next.is_empty() {
                "never again (its time has passed)".to_string()
            } else {
                next.join(", ")
            };
            lines.push(format!("{what}: next {next} ({tz})"));
        }
        for s in &self.flash_sales {
            let what = format!("flash sale {} ", s.id);
            let next: Vec<String> = posts
                .iter()
                .filter(|p| p.what.starts_with(&what))
                .take(3)
                .map(|p| format!("{} {}", &p.what[what.len()..], show(p)))
                .collect();
            let next = if next.is_empty() {
                "no posts ahead".to_string()
            } else {
                next.join(", ")
            };
            lines.push(format!("flash sale {}: next {next} ({tz})", s.id));
        }
        lines
    }

    /// For `qunbot check`: each group and local day of the coming week whose
    /// planned posts exceed `schedule.daily_cap`, or leave at most one message
    /// under it for the day's nudges.
    pub fn daily_cap_warnings(&self, now: DateTime<Utc>) -> Vec<String> {
        let until = now + chrono::Duration::days(HORIZON_DAYS);
        let mut per_day: BTreeMap<(NaiveDate, Id), Vec<String>> = BTreeMap::new();
        for post in self.planned_posts(now, until) {
            if self.quiet_hours_stop(post.at, post.deadline, post.obeys_quiet_hours) {
                continue; // told apart
            }
            let day = post.at.with_timezone(&self.timezone).date_naive();
            for group in &post.groups {
                per_day
                    .entry((day, group.clone()))
                    .or_default()
                    .push(post.what.clone());
            }
        }
        let cap = self.schedule.daily_cap as usize;
        per_day
            .into_iter()
            .filter(|(_, posts)| posts.len() + 1 >= cap)
            .map(|((day, group), posts)| {
                let over = posts.len().saturating_sub(cap);
                let fate = if over > 0 {
                    format!("the last {over} will not go out (不会发出：已到每日上限)")
                } else {
                    format!(
                        "{} left that day for nudges and red packets",
                        cap - posts.len()
                    )
                };
                format!(
                    "warning: on {day}, group {group} ({}) has {} planned posts and schedule.daily_cap is {cap}: {fate}; raise daily_cap or spread the schedules",
                    self.group_name(&group),
                    posts.len()
                )
            })
            .collect()
    }
}
