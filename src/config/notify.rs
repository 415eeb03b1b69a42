//! `[notify]`: who hears about what went wrong, and how often. The owner's
//! notices go privately to `admins` and/or to an admin `group`, never to a
//! customer group (see [`crate::features::notify`]).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::HumanDuration;
use super::{Checker, GroupConfig};
use crate::domain::Id;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// Told privately (default: `admins.users`).
    pub admins: Option<Vec<Id>>,
    /// An admin group told as well; never one of the `[[groups]]`.
    pub group: Option<Spanned<Id>>,
    pub every: Option<HumanDuration>,
    pub daily_cap: Option<u32>,
    pub join_wait: Option<HumanDuration>,
    pub gateway_down: Option<HumanDuration>,
}

#[derive(Clone, Debug)]
pub struct NotifyConfig {
    pub admins: Vec<Id>,
    pub group: Option<Id>,
    /// Notices within this are merged into one message, and one message goes
    /// out at most this often.
    pub every: Duration,
    /// Messages a day at most; the last one says the rest are in `qunbot status`.
    pub daily_cap: u32,
    /// A join request left to the admins this long is worth a notice.
    pub join_wait: Duration,
    /// A gateway unreachable this long is worth a notice (and fails `status`).
    pub gateway_down: Duration,
}

impl NotifyConfig {
    /// Whether anybody hears the notices.
    pub fn has_audience(&self) -> bool {
        !self.admins.is_empty() || self.group.is_some()
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            admins: Vec::new(),
            group: None,
            every: Duration::from_secs(5 * 60),
            daily_cap: 24,
            join_wait: Duration::from_secs(10 * 60),
            gateway_down: Duration::from_secs(5 * 60),
        }
    }
}

impl Checker<'_> {
    pub(super) fn notify(
        &mut self,
        raw: &RawNotify,
        operators: &[Id],
        groups: &[GroupConfig],
    ) -> NotifyConfig {
        let d = NotifyConfig::default();
        let group = raw.group.as_ref().and_then(|g| {
            if groups.iter().any(|c| &c.id == g.get_ref()) {
                self.problem(
                    g,
                    format!(
                        "notify.group {} is a customer group (listed in [[groups]]); \
                         the owner's notices go to an admin group of its own",
                        g.get_ref()
                    ),
                );
                None
            } else {
                Some(g.get_ref().clone())
            }
        });
        NotifyConfig {
            admins: raw.admins.clone().unwrap_or_else(|| operators.to_vec()),
            group,
            every: raw
                .every
                .map_or(d.every, |v| v.0.max(Duration::from_secs(1))),
            daily_cap: raw.daily_cap.unwrap_or(d.daily_cap),
            join_wait: raw.join_wait.map_or(d.join_wait, |v| v.0),
            gateway_down: raw.gateway_down.map_or(d.gateway_down, |v| v.0),
        }
    }
}
