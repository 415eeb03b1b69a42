//! `[reactivation]`: nudging silent members, with a holdout arm to measure
//! whether the nudges work, and the clean-up of zombies.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use super::raw::RawReactivation;
use super::{Checker, CouponPool};
use crate::domain::{Id, Template};

/// Variables of a nudge's text.
pub const NUDGE_VARS: &[&str] = &["mentions", "coupon", "group"];

#[derive(Clone, Debug)]
pub struct ReactivationConfig {
    pub enabled: bool,
    /// Silent this long: due a nudge.
    pub silent_after: Duration,
    /// When to look for due members (cron, in `timezone`).
    pub scan: Box<cron::Schedule>,
    /// Least time between two nudges of one member.
    pub min_gap: Duration,
    pub max_nudges: u32,
    /// Members mentioned in one nudge message.
    pub per_message: u32,
    /// Speaking within this after a nudge counts as reactivated.
    pub success_within: Duration,
    /// Share of due members deliberately not nudged: the control arm.
    pub holdout: f64,
    pub variants: Vec<Variant>,
    /// Never nudged (VIPs); admins and the owner never are either.
    pub exempt: Vec<Id>,
    /// Silent this long after `max_nudges`: a zombie.
    pub zombie_after: Duration,
    pub zombie_action: ZombieAction,
    pub zombie_max_per_run: u32,
    /// Least time between two nudge messages in one group: nudges are spread
    /// out, never a burst (not in the list of keys; added, default 10m).
    pub nudge_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub id: String,
    pub text: Template,
    /// A coupon pool: each mentioned member gets a code.
    pub coupon: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZombieAction {
    /// Listed to operators (`/silent zombies`).
    Report,
    /// Removed after an admin's `/silent confirm`.
    Remove,
}

/// The defaults a section without a key gets; with no section at all,
/// reactivation is off: nudging members is the shop's decision.
const DEFAULT_SCAN: &str = "0 0 10 * * *";

impl Checker<'_> {
    pub(super) fn reactivation(
        &mut self,
        raw: Option<&Spanned<RawReactivation>>,
        coupons: &BTreeMap<String, CouponPool>,
    ) -> Option<ReactivationConfig> {
        let section = raw.map(Spanned::get_ref);
        let enabled = section.is_some_and(|r| r.enabled.unwrap_or(true));
        let scan = match section.and_then(|r| r.scan.as_ref()) {
            Some(s) => self.check(s, super::schedule::parse_cron),
            None => cron::Schedule::from_str(DEFAULT_SCAN).ok(),
        };
        let per_message = match section.and_then(|r| r.per_message.as_ref()) {
            Some(n) if !(1..=20).contains(n.get_ref()) => {
                self.problem(n, "per_message must be 1 to 20".into());
                None
            }
            Some(n) => Some(*n.get_ref()),
            None => Some(5),
        };
        let holdout = match section.and_then(|r| r.holdout.as_ref()) {
            Some(h) if !(0.0..1.0).contains(h.get_ref()) => {
                self.problem(
                    h,
                    "holdout is a share of members: at least 0 and below 1".into(),
                );
                None
            }
            Some(h) => Some(*h.get_ref()),
            None => Some(0.2),
        };
        let zombie_action = match section.and_then(|r| r.zombie_action.as_ref()) {
            None => Some(ZombieAction::Report),
            Some(a) => self.check(a, |v| match v {
                "report" => Ok(ZombieAction::Report),
                "remove" => Ok(ZombieAction::Remove),
                other => Err(format!(
                    "zombie_action = \"{other}\": write \"report\" or \"remove\""
                )),
            }),
        };
        let variants = self.nudge_variants(section, coupons);
        let mut ok = variants.is_some();
        let variants = variants.unwrap_or_default();
        if enabled && variants.is_empty() && ok {
            if let Some(raw) = raw {
                self.problem(raw, "reactivation is enabled but has no variants: write at least one { id = \"a\", text = \"{mentions} ...\" }".into());
            }
            ok = false;
        }
        let r = |f: fn(&RawReactivation) -> Option<super::raw::HumanDuration>, default: u64| {
            section
                .and_then(f)
                .map_or(Duration::from_secs(default), |d| d.0)
        };
        const DAY: u64 = 86_400;
        let config = ReactivationConfig {
            enabled,
            silent_after: r(|r| r.silent_after, 7 * DAY),
            scan: Box::new(scan?),
            min_gap: r(|r| r.min_gap, 3 * DAY),
            max_nudges: section.and_then(|r| r.max_nudges).unwrap_or(3),
            per_message: per_message?,
            success_within: r(|r| r.success_within, 2 * DAY),
            holdout: holdout?,
            variants,
            exempt: section.map_or_else(Vec::new, |r| r.exempt.clone()),
            zombie_after: r(|r| r.zombie_after, 30 * DAY),
            zombie_action: zombie_action?,
            zombie_max_per_run: section.and_then(|r| r.zombie_max_per_run).unwrap_or(20),
            nudge_interval: r(|r| r.nudge_interval, 600),
        };
        ok.then_some(config)
    }

    /// The nudge texts to try; `None` when any is wrong.
    fn nudge_variants(
        &mut self,
        section: Option<&RawReactivation>,
        coupons: &BTreeMap<String, CouponPool>,
    ) -> Option<Vec<Variant>> {
        let mut variants = Vec::new();
        let mut ok = true;
        let mut seen = HashSet::new();
        for v in section.map_or(&[][..], |r| &r.variants[..]) {
            let id = v.id.get_ref().trim().to_string();
            if id.is_empty() || !seen.insert(id.clone()) {
                self.problem(&v.id, format!("variant id `{id}` is empty or used twice"));
                ok = false;
                continue;
            }
            let text = self.check(&v.text, |s| Template::parse(s, NUDGE_VARS));
            let coupon = match &v.coupon {
                Some(c) => self.pool_name(c, coupons).map(Some),
                None => Some(None),
            };
            match (text, coupon) {
                (Some(text), Some(coupon)) => variants.push(Variant { id, text, coupon }),
                _ => ok = false,
            }
        }
        ok.then_some(variants)
    }
}
