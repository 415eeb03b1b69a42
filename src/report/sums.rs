//! Sums over a span, folded from the roll-up's rows as the store reads them:
//! distinct speakers from the day rows' speaker lists, and the breakdowns
//! summed by key. Maps nested by name (looked up without a copy) so that a
//! quarter of 2,000 groups folds without an allocation per row.

use std::collections::HashMap;

use super::rollup::Nested;
use super::{BreakdownRow, GroupRef};

/// Distinct members who spoke in each group over the days added.
#[derive(Debug, Default)]
pub struct SpanSpeakers(Nested<Nested<DistinctIds>>);

/// One group's speakers: ids that are plain numbers (QQ numbers, most of them)
/// kept as numbers, any other id as its text.
#[derive(Debug, Default)]
struct DistinctIds {
    /// Every day's, repeats and all: sorting once at the end is cheaper than
    /// a set that grows as the days come.
    numbers: Vec<u64>,
    texts: hashbrown::HashSet<String>,
}

impl SpanSpeakers {
    /// Adds one day's speakers of a group: user ids, one per line.
    pub fn add(&mut self, account: &str, group: &str, ids: &str) {
        let seen = self
            .0
            .entry_ref(account)
            .or_default()
            .entry_ref(group)
            .or_default();
        for id in ids.split('\n').filter(|id| !id.is_empty()) {
            match plain_number(id) {
                Some(n) => seen.numbers.push(n),
                None => {
                    if !seen.texts.contains(id) {
                        seen.texts.insert(id.to_string());
                    }
                }
            }
        }
    }

    /// Each group's distinct speakers.
    pub fn counts(self) -> HashMap<GroupRef, i64> {
        let mut counts = HashMap::new();
        for (account, groups) in self.0 {
            for (group, mut seen) in groups {
                seen.numbers.sort_unstable();
                seen.numbers.dedup();
                let n = seen.numbers.len() + seen.texts.len();
                counts.insert(
                    GroupRef {
                        account: account.clone(),
                        group,
                    },
                    n as i64,
                );
            }
        }
        counts
    }
}

/// The number an id spells, when its text is exactly that number's (no sign,
/// no leading zero), so that the number and the text are one and the same id.
fn plain_number(id: &str) -> Option<u64> {
    let digits = id.bytes().all(|b| b.is_ascii_digit());
    if !digits || (id.len() > 1 && id.starts_with('0')) {
        return None;
    }
    id.parse().ok()
}

/// Breakdown counts (filter hits by category, ...) summed per group, metric
/// and key.
#[derive(Debug, Default)]
pub struct BreakdownSums(Nested<Nested<Nested<Nested<i64>>>>);

impl BreakdownSums {
    pub fn add(&mut self, account: &str, group: &str, metric: &str, key: &str, value: i64) {
        *self
            .0
            .entry_ref(account)
            .or_default()
            .entry_ref(group)
            .or_default()
            .entry_ref(metric)
            .or_default()
            .entry_ref(key)
            .or_default() += value;
    }

    /// The sums, ordered by group, metric and key.
    pub fn rows(self) -> Vec<BreakdownRow> {
        let mut rows = Vec::new();
        for (account, groups) in self.0 {
            for (group, metrics) in groups {
                let g = GroupRef {
                    account: account.clone(),
                    group,
                };
                for (metric, keys) in metrics {
                    rows.extend(keys.into_iter().map(|(key, value)| BreakdownRow {
                        group: g.clone(),
                        metric: metric.clone(),
                        key,
                        value,
                    }));
                }
            }
        }
        rows.sort_unstable_by(|a, b| {
            (&a.group, &a.metric, &a.key).cmp(&(&b.group, &b.metric, &b.key))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(group: &str) -> GroupRef {
        GroupRef {
            account: "bot".into(),
            group: group.into(),
        }
    }

    #[test]
    fn a_member_who_spoke_on_several_days_counts_once_per_group() {
        let mut s = SpanSpeakers::default();
        s.add("bot", "a", "1001\n1002\nwxid_x");
        s.add("bot", "a", "1002\nwxid_x\nwxid_y");
        s.add("bot", "b", "1001");
        let counts = s.counts();
        assert_eq!(counts[&g("a")], 4);
        assert_eq!(counts[&g("b")], 1);
    }

    #[test]
    fn ids_that_only_look_like_the_same_number_are_different_members() {
        let mut s = SpanSpeakers::default();
        s.add("bot", "a", "7\n007\n+7\n7");
        assert_eq!(s.counts()[&g("a")], 3);
    }

    #[test]
    fn numbers_too_big_for_u64_are_kept_as_text() {
        let mut s = SpanSpeakers::default();
        s.add(
            "bot",
            "a",
            "99999999999999999999999\n99999999999999999999999\n1",
        );
        assert_eq!(s.counts()[&g("a")], 2);
    }

    #[test]
    fn breakdowns_sum_over_days_per_group_metric_and_key() {
        let mut b = BreakdownSums::default();
        b.add("bot", "a", "filter_hits_by_category", "ads", 2);
        b.add("bot", "a", "filter_hits_by_category", "ads", 3);
        b.add("bot", "a", "filter_hits_by_category", "abuse", 1);
        b.add("bot", "b", "filter_hits_by_category", "ads", 4);
        let rows = b.rows();
        let got: Vec<(&str, &str, i64)> = rows
            .iter()
            .map(|r| (r.group.group.as_str(), r.key.as_str(), r.value))
            .collect();
        assert_eq!(got, [("a", "abuse", 1), ("a", "ads", 5), ("b", "ads", 4)]);
    }
}
