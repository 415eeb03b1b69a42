//! The points rules: daily check-in with a streak bonus, ranks, and handing out
//! coupon codes. Balances are sums of ledger rows, never counters edited in place.

use chrono::Datelike;

use super::Context;
use super::{Change, Decision, State};
use crate::config::Config;
use crate::domain::MemberKey;

/// What a check-in attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckIn {
    Done {
        streak: u32,
        points: i64,
        balance: i64,
    },
    AlreadyToday,
}

/// A member checks in: once per calendar day in the configured time zone; a
/// check-in the day after the last one extends the streak.
pub fn check_in(member: &MemberKey, name: Option<&str>, ctx: &Context) -> (CheckIn, Decision) {
    let today = ctx.now.with_timezone(&ctx.config.timezone).date_naive();
    let last = ctx.state.checkins.get(member);
    if last.is_some_and(|(day, _)| *day == today) {
        return (CheckIn::AlreadyToday, Decision::default());
    }
    let streak = match last {
        Some((day, streak)) if today.pred_opt() == Some(*day) => streak + 1,
        _ => 1,
    };
    let p = &ctx.config.points;
    let points = p.checkin + p.streak_bonus * i64::from(streak.min(p.streak_cap) - 1);
    let decision = Decision::default()
        .change(Change::CheckedIn {
            member: member.clone(),
            day: today,
            streak,
        })
        .change(Change::Points {
            member: member.clone(),
            amount: points,
            reason: format!("checkin:{}", today.num_days_from_ce()),
            name: name.map(str::to_string),
        });
    let balance = ctx.state.balance(member) + points;
    (
        CheckIn::Done {
            streak,
            points,
            balance,
        },
        decision,
    )
}

/// The top members of a group by balance, best first (ties by id for a stable order).
pub fn rank(
    state: &State,
    config: &Config,
    account: &crate::domain::Id,
    group: &crate::domain::Id,
) -> Vec<(String, i64)> {
    let mut rows: Vec<(&MemberKey, i64)> = state
        .balances
        .iter()
        .filter(|(k, b)| &k.account == account && &k.group == group && **b > 0)
        .map(|(k, b)| (k, *b))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.user.cmp(&b.0.user)));
    rows.into_iter()
        .take(config.points.rank_size)
        .map(|(k, b)| {
            let name = state
                .names
                .get(k)
                .cloned()
                .unwrap_or_else(|| k.user.to_string());
            (name, b)
        })
        .collect()
}

/// What claiming a coupon came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    Code(String),
    PoolEmpty,
}

/// Takes an unclaimed code of `pool` for `member`: the `nth` one, for a decision
/// that already claimed `nth` codes of the same pool (the state only moves once the
/// decision is applied). The store refuses a code handed out twice in any case.
pub fn claim_coupon(
    pool: &str,
    nth: usize,
    member: &MemberKey,
    ctx: &Context,
) -> (Claim, Decision) {
    let codes = ctx.state.coupons.get(pool);
    let Some(code) = codes.and_then(|c| c.get(nth)) else {
        let mut d =
            Decision::default().change(warning("warning.coupons_exhausted", pool, member, 0));
        d.merge(super::notify::pool_empty(pool, ctx));
        return (Claim::PoolEmpty, d);
    };
    let mut d = Decision::default().change(Change::CouponClaimed {
        pool: pool.to_string(),
        code: code.clone(),
        member: member.clone(),
    });
    let left = codes.map_or(0, |c| c.len()) - nth - 1;
    let low_mark = ctx.config.coupons.get(pool).map_or(0, |p| p.low_warning);
    if left + 1 == low_mark {
        d.changes
            .push(warning("warning.coupons_low", pool, member, left));
        d.merge(super::notify::tell(
            super::notify::Notice::CouponsLow {
                pool: pool.to_string(),
                left,
            },
            ctx,
        ));
    }
    d.merge(super::notify::pool_used(pool, ctx));
    (Claim::Code(code.clone()), d)
}

fn warning(kind: &str, pool: &str, member: &MemberKey, left: usize) -> Change {
    Change::Note {
        kind: kind.to_string(),
        account: member.account.clone(),
        group: Some(member.group.clone()),
        user: Some(member.user.clone()),
        detail: serde_json::json!({"pool": pool, "left": left}),
    }
}

#[cfg(test)]
mod tests;
