//! Which of the shop's bot accounts speaks in which group.
//!
//! The account sync (`crate::account_sync`) asks every gateway, at start, on each
//! WebSocket connect and every `gateway.sync_interval`, which account it is and
//! which groups that account is in; the answer comes in as an
//! [`EventBody::AccountSynced`] event. This feature keeps what it says as records:
//!
//! - `in/{group}`: the accounts known to be in the group, each with when it was
//!   first known there;
//! - `groups/{account}`: the account's nickname and groups, as last synced;
//! - `seen/{group}`: the account whose events last came from the group (the
//!   fallback for a gateway that does not answer `get_group_list`);
//! - `link/{account}`: whether the account's reverse WebSocket is up, since
//!   when, and why it went down;
//! - `risk/{account}`: the last time the outbox found the account suspect of
//!   risk control, why, and until when its automatic messages pause
//!   ([`paused_until`]). Each such finding tells the operators once, privately.
//!
//! [`responder`] is the one voice of a group: the `[[groups]] account` pinned
//! in the config, else the account known there first, else the one last heard.
//! Scheduled posts, nudges and packets go out through it, so a group nobody has
//! spoken in since the start still gets them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Change, Context, Decision, Feature, Timer};
use crate::domain::{Event, EventBody, Id, LeaveReason, ListedGroup};

pub const NAME: &str = "accounts";

/// An account known to be in a group, since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Present {
    pub account: Id,
    pub since: DateTime<Utc>,
}

/// What the last sync said about one account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Synced {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    pub groups: Vec<ListedGroup>,
    pub at: Option<DateTime<Utc>>,
}

/// The last signs of risk control on an account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub reason: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub repeat: u32,
}

/// Whether an account's reverse WebSocket is up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkState {
    pub connected: bool,
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn link_key(account: &Id) -> String {
    format!("link/{account}")
}

fn risk_key(account: &Id) -> String {
    format!("risk/{account}")
}

/// The account's last risk finding, if any.
pub fn risk(account: &Id, ctx: &Context) -> Option<Risk> {
    ctx.state.record(NAME, &risk_key(account))
}

/// The pauses found, `(account, since, until, repeat)`, from the feature's
/// records as the store gives them back (`risk/` keys): for the outbox after a
/// restart.
pub fn pauses<'a>(
    records: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Vec<(Id, DateTime<Utc>, DateTime<Utc>, u32)> {
    records
        .into_iter()
        .filter_map(|(key, value)| {
            let account = key.strip_prefix("risk/")?;
            let risk = Risk::deserialize(value).ok()?;
            Some((Id::from_text(account), risk.since, risk.until, risk.repeat))
        })
        .collect()
}

/// The groups' names as the gateways listed them, `(group, name)`, from the
/// feature's records as the store gives them back (`groups/` keys).
pub fn group_names<'a>(
    records: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Vec<(String, String)> {
    records
        .into_iter()
        .filter(|(key, _)| key.starts_with("groups/"))
        .filter_map(|(_, value)| Synced::deserialize(value).ok())
        .flat_map(|s| s.groups)
        .filter_map(|g| Some((g.group.to_string(), g.name.filter(|n| !n.is_empty())?)))
        .collect()
}

/// Each group's accounts, first known first, from the feature's records as the
/// store gives them back (`in/` keys): for intake after a restart.
pub fn memberships<'a>(
    records: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Vec<(Id, Vec<Id>)> {
    records
        .into_iter()
        .filter_map(|(key, value)| {
            let group = key.strip_prefix("in/")?;
            let present = Vec::<Present>::deserialize(value).ok()?;
            Some((
                Id::from_text(group),
                present.into_iter().map(|p| p.account).collect(),
            ))
        })
        .collect()
}

/// Until when `account`'s automatic messages pause, while they do.
pub fn paused_until(account: &Id, ctx: &Context) -> Option<DateTime<Utc>> {
    risk(account, ctx)
        .map(|r| r.until)
        .filter(|until| *until > ctx.now)
}

fn in_key(group: &Id) -> String {
    format!("in/{group}")
}

fn seen_key(group: &Id) -> String {
    format!("seen/{group}")
}

fn synced_key(account: &Id) -> String {
    format!("groups/{account}")
}

/// The accounts known to be in `group`, first known first.
pub fn accounts_in(group: &Id, ctx: &Context) -> Vec<Present> {
    ctx.state.record(NAME, &in_key(group)).unwrap_or_default()
}

/// The account that speaks in `group`: the pinned one, else the first known
/// there, else the one whose events last came from it. `None` when no account
/// is known to be in the group.
pub fn responder(group: &Id, ctx: &Context) -> Option<Id> {
    if let Some(pinned) = ctx.config.group(group).and_then(|g| g.account.clone()) {
        return Some(pinned);
    }
    accounts_in(group, ctx)
        .into_iter()
        .next()
        .map(|p| p.account)
        .or_else(|| ctx.state.record(NAME, &seen_key(group)))
}

/// What the sync said about `account`, if it ever answered.
pub fn synced(account: &Id, ctx: &Context) -> Option<Synced> {
    ctx.state.record(NAME, &synced_key(account))
}

pub struct Accounts;

impl Feature for Accounts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_wake(&self, timer: &Timer, ctx: &Context) -> Result<Decision, crate::engine::WakeError> {
        let Wake::Notice { text } = timer.wake()?;
        Ok(notice(Decision::default(), &text, ctx))
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(
            event.body,
            EventBody::AccountSynced { .. }
                | EventBody::AccountSuspect { .. }
                | EventBody::AccountLink { .. }
        ) || event.group().is_some()
    }

    fn on_event(&self, event: &Event, ctx: &Context) -> Decision {
        match &event.body {
            EventBody::AccountSynced {
                nickname, groups, ..
            } => synced_now(&event.account, nickname.clone(), groups, ctx),
            EventBody::AccountSuspect {
                reason,
                until,
                repeat,
            } => suspect(&event.account, reason, *until, *repeat, ctx),
            EventBody::AccountLink { connected, reason } => {
                Decision::default().change(Change::record(
                    NAME,
                    link_key(&event.account),
                    &LinkState {
                        connected: *connected,
                        since: ctx.now,
                        reason: reason.clone(),
                    },
                ))
            }
            // The account removed is the one whose copy this is.
            EventBody::MemberLeft {
                group,
                reason: LeaveReason::BotKicked,
                ..
            } => left(
                event.heard_by.as_ref().unwrap_or(&event.account),
                group,
                ctx,
            ),
            _ => heard(event, ctx),
        }
    }
}

/// Records the pause and tells the owner (through an account not paused, if
/// the shop has one: see [`super::notify`]).
fn suspect(account: &Id, reason: &str, until: i64, repeat: u32, ctx: &Context) -> Decision {
    let until = DateTime::from_timestamp(until, 0).unwrap_or(ctx.now);
    let risk = Risk {
        reason: reason.to_string(),
        since: ctx.now,
        until,
        repeat,
    };
    let notice = super::notify::Notice::AccountPaused {
        account: account.clone(),
        until,
        reason: reason.to_string(),
    };
    let mut d = Decision::default().change(Change::record(NAME, risk_key(account), &risk));
    d.merge(super::notify::tell(notice, ctx));
    d
}

/// What the feature's wake-ups do.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Wake {
    /// Tell the operators `text`, privately (set before notices went through
    /// [`super::notify`]; kept so such a wake-up stored then still works).
    Notice { text: String },
}

fn notice(mut d: Decision, text: &str, ctx: &Context) -> Decision {
    for operator in &ctx.config.admins.users {
        d = d.act(crate::domain::Action::SendPrivateMsg {
            user: operator.clone(),
            message: crate::domain::Message::text(text),
        });
    }
    d
}

/// Every account a sync has told of, in the order they are kept.
pub fn known(ctx: &Context) -> Vec<Id> {
    ctx.state
        .records_of(NAME)
        .filter_map(|(key, _)| key.strip_prefix("groups/").map(Id::from_text))
        .collect()
}

/// Whether `account`'s reverse WebSocket is up, if it ever had one.
pub fn link(account: &Id, ctx: &Context) -> Option<LinkState> {
    ctx.state.record(NAME, &link_key(account))
}

/// Remembers the account whose events last came from a managed group, and
/// that the account whose copy it was is in the group (as intake's voices do,
/// so both name the same responder before a sync says so).
fn heard(event: &Event, ctx: &Context) -> Decision {
    let Some(group) = event.group() else {
        return Decision::default();
    };
    let mut d = Decision::default();
    if !ctx.config.is_managed(group) {
        return d;
    }
    let origin = event.heard_by.as_ref().unwrap_or(&event.account);
    let mut present = accounts_in(group, ctx);
    if present.iter().all(|p| &p.account != origin) {
        present.push(Present {
            account: origin.clone(),
            since: ctx.now,
        });
        d = d.change(membership(group, &present));
    }
    let last: Option<Id> = ctx.state.record(NAME, &seen_key(group));
    if last.as_ref() != Some(&event.account) {
        d = d.change(Change::record(NAME, seen_key(group), &event.account));
    }
    d
}

fn left(account: &Id, group: &Id, ctx: &Context) -> Decision {
    let mut present = accounts_in(group, ctx);
    let before = present.len();
    present.retain(|p| &p.account != account);
    if present.len() == before {
        return Decision::default();
    }
    Decision::default().change(membership(group, &present))
}

fn membership(group: &Id, present: &[Present]) -> Change {
    if present.is_empty() {
        Change::forget(NAME, in_key(group))
    } else {
        Change::record(NAME, in_key(group), &present)
    }
}

/// The account's groups as synced now: it joins the groups it was not known
/// in, and leaves those no longer listed.
fn synced_now(
    account: &Id,
    nickname: Option<String>,
    groups: &[ListedGroup],
    ctx: &Context,
) -> Decision {
    let before = synced(account, ctx).unwrap_or_default();
    let mut d = Decision::default();
    let listed = |g: &Id, list: &[ListedGroup]| list.iter().any(|l| &l.group == g);
    for gone in before.groups.iter().filter(|g| !listed(&g.group, groups)) {
        d.merge(left(account, &gone.group, ctx));
    }
    for group in groups {
        let mut present = accounts_in(&group.group, ctx);
        if present.iter().all(|p| &p.account != account) {
            present.push(Present {
                account: account.clone(),
                since: ctx.now,
            });
            d = d.change(membership(&group.group, &present));
        }
    }
    d.change(Change::record(
        NAME,
        synced_key(account),
        &Synced {
            nickname,
            groups: groups.to_vec(),
            at: Some(ctx.now),
        },
    ))
}

/// One account as `qunbot status` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountView {
    pub account: Id,
    pub nickname: Option<String>,
    /// The managed groups it is known to be in.
    pub groups: Vec<Id>,
    pub synced_at: Option<DateTime<Utc>>,
    pub link: Option<LinkState>,
    /// Its pause, while it lasts.
    pub risk: Option<Risk>,
}

impl AccountView {
    /// `running`, `suspect` or `disconnected`.
    pub fn kind(&self) -> &'static str {
        match (&self.risk, &self.link) {
            (Some(_), _) => "suspect",
            (None, Some(link)) if !link.connected => "disconnected",
            _ => "running",
        }
    }

    /// `running`, `suspect until …` or `disconnected since …`, with why.
    pub fn state(&self, tz: chrono_tz::Tz) -> String {
        let at = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        if let Some(risk) = &self.risk {
            return format!("suspect until {} ({})", at(risk.until), risk.reason);
        }
        match &self.link {
            Some(link) if !link.connected => format!(
                "disconnected since {} ({})",
                at(link.since),
                link.reason.as_deref().unwrap_or("closed")
            ),
            _ => "running".to_string(),
        }
    }
}

/// Every account the records know, and the managed groups no account is in,
/// read from the feature's records as the store gives them back.
pub fn overview(
    records: Vec<(String, serde_json::Value)>,
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> (Vec<AccountView>, Vec<Id>) {
    let mut state = super::State::default();
    state
        .records
        .insert(NAME.to_string(), records.into_iter().collect());
    let ctx = Context::new(config, &state, now, 0);
    let mut accounts: Vec<Id> = state
        .records_of(NAME)
        .filter_map(|(key, _)| {
            let (kind, account) = key.split_once('/')?;
            matches!(kind, "groups" | "link" | "risk").then(|| Id::from_text(account))
        })
        .collect();
    accounts.sort();
    accounts.dedup();
    let views = accounts
        .into_iter()
        .map(|account| {
            let synced = synced(&account, &ctx);
            AccountView {
                groups: config
                    .groups
                    .iter()
                    .filter(|g| {
                        accounts_in(&g.id, &ctx)
                            .iter()
                            .any(|p| p.account == account)
                    })
                    .map(|g| g.id.clone())
                    .collect(),
                nickname: synced.as_ref().and_then(|s| s.nickname.clone()),
                synced_at: synced.and_then(|s| s.at),
                link: ctx.state.record(NAME, &link_key(&account)),
                risk: risk(&account, &ctx).filter(|r| r.until > now),
                account,
            }
        })
        .collect();
    (views, unreachable_groups(&ctx))
}

/// Managed groups no known account is in: their automatic posts cannot go out.
pub fn unreachable_groups(ctx: &Context) -> Vec<Id> {
    ctx.config
        .groups
        .iter()
        .filter(|g| responder(&g.id, ctx).is_none())
        .map(|g| g.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testkit::{Bot, GROUP};

    fn synced_event(account: i64, groups: &[i64]) -> Event {
        Event {
            account: Id::number(account),
            time: 0,
            body: EventBody::AccountSynced {
                reconnected: false,
                nickname: Some("店小二".into()),
                groups: groups
                    .iter()
                    .map(|g| ListedGroup {
                        group: Id::number(*g),
                        name: None,
                    })
                    .collect(),
            },
            heard_by: None,
        }
    }

    fn voice(bot: &Bot) -> Option<Id> {
        let ctx = Context::new(&bot.config, &bot.state, bot.now, 0);
        responder(&Id::number(GROUP), &ctx)
    }

    fn unheard() -> Bot {
        let mut bot = Bot::new("");
        bot.state.records.remove(NAME);
        bot
    }

    #[test]
    fn a_synced_account_speaks_in_its_groups_before_anyone_spoke_there() {
        let mut bot = unheard();
        assert_eq!(voice(&bot), None);
        bot.on(synced_event(7, &[GROUP]));
        assert_eq!(voice(&bot), Some(Id::number(7)));
    }

    #[test]
    fn the_first_known_account_stays_the_voice_until_it_leaves() {
        let mut bot = unheard();
        bot.on(synced_event(7, &[GROUP]));
        bot.advance(5);
        bot.on(synced_event(8, &[GROUP]));
        assert_eq!(voice(&bot), Some(Id::number(7)));
        bot.on(synced_event(7, &[]));
        assert_eq!(voice(&bot), Some(Id::number(8)));
    }

    #[test]
    fn a_pinned_account_speaks_whoever_was_known_first() {
        let mut bot = unheard();
        bot.reconfigure("");
        bot.config.groups[0].account = Some(Id::number(8));
        bot.on(synced_event(7, &[GROUP]));
        assert_eq!(voice(&bot), Some(Id::number(8)));
    }

    fn suspect_event(account: i64) -> Event {
        Event {
            account: Id::number(account),
            time: 0,
            body: EventBody::AccountSuspect {
                reason: "send_group_msg timed out".into(),
                until: 1_900_000_000,
                repeat: 1,
            },
            heard_by: None,
        }
    }

    fn notices(d: &Decision) -> Vec<&crate::domain::Action> {
        d.actions
            .iter()
            .filter(|a| matches!(a, crate::domain::Action::SendPrivateMsg { .. }))
            .collect()
    }

    /// Fires a decision's wake-ups until the notice goes out: the account it
    /// went through, and the private messages.
    fn delivered(bot: &mut crate::features::testkit::Bot, d: Decision) -> (Id, usize) {
        let mut timers = d.timers;
        for _ in 0..3 {
            let t = timers.pop().expect("a wake-up that tells the operators");
            bot.now = bot.now.max(t.due);
            let woke = bot.wake(&t);
            if !notices(&woke).is_empty() {
                return (t.account, notices(&woke).len());
            }
            timers = woke.timers;
        }
        panic!("the notice never went out");
    }

    #[test]
    fn the_operators_are_told_through_another_account_when_there_is_one() {
        let mut bot = unheard();
        bot.on(synced_event(7, &[GROUP]));
        bot.on(synced_event(8, &[GROUP]));
        let d = bot.on(suspect_event(7));
        assert!(
            notices(&d).is_empty(),
            "merged into the owner's next notice"
        );
        assert_eq!(
            delivered(&mut bot, d),
            (Id::number(8), 1),
            "one notice to operator 1, not through the suspect account"
        );
    }

    #[test]
    fn with_no_other_account_the_suspect_one_tells_the_operators_itself() {
        let mut bot = unheard();
        bot.on(synced_event(7, &[GROUP]));
        let d = bot.on(suspect_event(7));
        assert_eq!(delivered(&mut bot, d), (Id::number(7), 1));
    }
}
