//! The feature's records: each member's [`Subject`] and [`Trial`], the keys
//! records are kept under, and the reads of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::experiment::ArmCount;
use super::{ARMS_PREFIX, NAME};
use crate::domain::{GroupKey, Id};
use crate::features::{Change, Context};

/// One member's part in the experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// As the gateway wrote it (a number or a string).
    pub user: Id,
    pub arm: String,
    /// Nudges (virtual ones in the holdout) since they last spoke.
    pub nudges: u32,
    pub last_nudge: Option<DateTime<Utc>>,
    pub trial: Option<Trial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Silent since (last word, else joining), as the last scan saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<DateTime<Utc>>,
    /// Found a zombie at this time, and still one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zombie: Option<DateTime<Utc>>,
}

impl Subject {
    pub(super) fn new(user: Id, arm: String) -> Subject {
        Subject {
            user,
            arm,
            nudges: 0,
            last_nudge: None,
            trial: None,
            name: None,
            since: None,
            joined: None,
            zombie: None,
        }
    }
}

/// An open trial: found due, and (once the nudge went out, or at once in the
/// holdout) treated, which starts the success window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub due: DateTime<Utc>,
    pub treated: Option<DateTime<Utc>>,
}

pub(super) fn group_path(g: &GroupKey) -> String {
    format!("{}/{}", g.account, g.group)
}

pub(super) fn subject_key(g: &GroupKey, user: &Id) -> String {
    format!("m/{}/{user}", group_path(g))
}

pub(super) fn queue_key(g: &GroupKey) -> String {
    format!("q/{}", group_path(g))
}

pub(super) fn arms_key(g: &GroupKey) -> String {
    format!("{ARMS_PREFIX}{}", group_path(g))
}

pub(super) fn sync_key(group: &Id) -> String {
    format!("sync/{group}")
}

pub(super) fn subject(group: &GroupKey, user: &Id, ctx: &Context) -> Option<Subject> {
    ctx.state.record(NAME, &subject_key(group, user))
}

/// Subjects of one group, with their user ids.
pub(super) fn subjects(group: &GroupKey, ctx: &Context) -> Vec<(Id, Subject)> {
    let prefix = format!("m/{}/", group_path(group));
    let Some(records) = ctx.state.records.get(NAME) else {
        return Vec::new();
    };
    records
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, v)| Subject::deserialize(v).ok())
        .map(|s| (s.user.clone(), s))
        .collect()
}

pub(super) fn arms(group: &GroupKey, ctx: &Context) -> BTreeMap<String, ArmCount> {
    ctx.state.record(NAME, &arms_key(group)).unwrap_or_default()
}

/// Changes one arm's counts in a group.
pub(super) fn count(
    group: &GroupKey,
    arm: &str,
    ctx: &Context,
    f: impl FnOnce(&mut ArmCount),
) -> Change {
    let mut all = arms(group, ctx);
    f(all.entry(arm.to_string()).or_default());
    Change::record(NAME, arms_key(group), &all)
}

/// The member's display name as the last scan saw it, else their id.
pub(super) fn display_name(group: &GroupKey, user: &Id, ctx: &Context) -> String {
    subject(group, user, ctx)
        .and_then(|s| s.name)
        .unwrap_or_else(|| user.to_string())
}

/// The member's name and id, or the id alone.
pub(super) fn name_and_id(group: &GroupKey, user: &Id, ctx: &Context) -> String {
    match subject(group, user, ctx).and_then(|s| s.name) {
        Some(name) => format!("{name}({user})"),
        None => user.to_string(),
    }
}
