//! The engine's model: what the features remember ([`State`]), the typed changes
//! they make to it ([`Change`]), the wake-ups they ask for ([`Timer`]), and what
//! one feature decides about one input ([`Decision`]).
//!
//! The engine owns one [`State`], loaded from the store at start. A feature reads
//! it and returns a [`Decision`]: actions to send, changes to the state, timers to
//! be woken by, and effects outside the database. The engine applies the changes
//! to the state at once (so the next feature and the next event see them) and
//! writes them, the actions, the timers and the effects in the same transaction as
//! the input's "handled" mark.
//!
//! Features that keep state of their own beyond the community tables below keep
//! it as [`Change::Record`]s: JSON documents under the feature's name and a key,
//! stored by the store without knowing the feature.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Effect;
use crate::domain::{Action, GroupKey, Id, MemberKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Done,
    Expired,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Done => "done",
            TaskState::Expired => "expired",
        }
    }
}

/// A newcomer waiting for the welcome of their wave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joiner {
    pub user: Id,
    /// Invited by a member (may be exempt from verification).
    pub invited: bool,
}

/// Everything the features read besides the event and the config.
#[derive(Debug, Default)]
pub struct State {
    pub balances: HashMap<MemberKey, i64>,
    /// Last known display names of members with points, for `/rank`.
    pub names: HashMap<MemberKey, String>,
    /// Day (in the configured time zone) of the last check-in, and the streak.
    pub checkins: HashMap<MemberKey, (NaiveDate, u32)>,
    pub tasks: HashMap<MemberKey, BTreeMap<String, TaskState>>,
    /// Unclaimed coupon codes per pool, in hand-out order.
    pub coupons: HashMap<String, VecDeque<String>>,
    pub joiners: HashMap<GroupKey, Vec<Joiner>>,
    pub welcomed: HashMap<MemberKey, DateTime<Utc>>,
    /// Newcomers who must still answer the verification question.
    pub verifying: HashSet<MemberKey>,
    pub paused: HashSet<GroupKey>,
    pub warnings: HashMap<MemberKey, u32>,
    /// Times of each member's uncleared strikes (filtered messages).
    pub strikes: HashMap<MemberKey, Vec<DateTime<Utc>>>,
    /// Recent messages per member (time, text digest), for flood detection (not persisted).
    pub recent: HashMap<MemberKey, VecDeque<(DateTime<Utc>, u64)>>,
    /// Last command per member, for cooldowns (not persisted).
    pub last_command: HashMap<MemberKey, DateTime<Utc>>,
    /// Each feature's own records, by feature name and key ([`Change::Record`]).
    pub records: BTreeMap<String, BTreeMap<String, Value>>,
}

impl State {
    pub fn balance(&self, member: &MemberKey) -> i64 {
        self.balances.get(member).copied().unwrap_or(0)
    }

    /// Strikes of `member` since `since`.
    pub fn strikes_since(&self, member: &MemberKey, since: DateTime<Utc>) -> usize {
        self.strikes
            .get(member)
            .map_or(0, |s| s.iter().filter(|t| **t >= since).count())
    }

    pub fn is_paused(&self, group: &GroupKey) -> bool {
        self.paused.contains(group)
    }

    /// A feature's record under `key`, as its type; `None` when absent or unreadable.
    pub fn record<T: DeserializeOwned>(&self, feature: &str, key: &str) -> Option<T> {
        self.records
            .get(feature)?
            .get(key)
            .and_then(|v| T::deserialize(v).ok())
    }

    /// Whether a feature has a record under `key` (without reading it).
    pub fn has_record(&self, feature: &str, key: &str) -> bool {
        self.records
            .get(feature)
            .is_some_and(|r| r.contains_key(key))
    }

    /// Every record of a feature, by key.
    pub fn records_of(&self, feature: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.records.get(feature).into_iter().flatten()
    }

    /// Applies a change the way the store persists it.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Points {
                member,
                amount,
                name,
                ..
            } => {
                *self.balances.entry(member.clone()).or_default() += amount;
                if let Some(name) = name {
                    self.names.insert(member.clone(), name.clone());
                }
            }
            Change::CheckedIn {
                member,
                day,
                streak,
            } => {
                self.checkins.insert(member.clone(), (*day, *streak));
            }
            Change::Task {
                member,
                task,
                state,
            } => {
                self.tasks
                    .entry(member.clone())
                    .or_default()
                    .insert(task.clone(), *state);
            }
            Change::CouponClaimed { pool, code, .. } => {
                if let Some(codes) = self.coupons.get_mut(pool) {
                    codes.retain(|c| c != code);
                }
            }
            Change::JoinerQueued { group, joiner } => {
                let queue = self.joiners.entry(group.clone()).or_default();
                if !queue.iter().any(|j| j.user == joiner.user) {
                    queue.push(joiner.clone());
                }
            }
            Change::JoinerLeft { member } => {
                if let Some(queue) = self.joiners.get_mut(&member.group_key()) {
                    queue.retain(|j| j.user != member.user);
                }
                self.verifying.remove(member);
            }
            Change::WaveWelcomed { group, users, at } => {
                self.joiners.remove(group);
                for user in users {
                    self.welcomed
                        .insert(MemberKey::new(&group.account, &group.group, user), *at);
                }
            }
            Change::Verification { member, pending } => {
                if *pending {
                    self.verifying.insert(member.clone());
                } else {
                    self.verifying.remove(member);
                }
            }
            Change::Paused { group, paused } => {
                if *paused {
                    self.paused.insert(group.clone());
                } else {
                    self.paused.remove(group);
                }
            }
            Change::Warned { member, .. } => {
                *self.warnings.entry(member.clone()).or_default() += 1;
            }
            Change::Strike { member, at, .. } => {
                self.strikes.entry(member.clone()).or_default().push(*at);
            }
            Change::StrikesCleared { member } => {
                self.strikes.remove(member);
            }
            Change::Spoke {
                member,
                at,
                digest,
                keep,
            } => {
                let recent = self.recent.entry(member.clone()).or_default();
                recent.push_back((*at, *digest));
                while recent.front().is_some_and(|(t, _)| *at - *t > *keep) {
                    recent.pop_front();
                }
            }
            Change::CommandUsed { member, at } => {
                self.last_command.insert(member.clone(), *at);
            }
            Change::Record {
                feature,
                key,
                value: Some(value),
            } => {
                self.records
                    .entry(feature.clone())
                    .or_default()
                    .insert(key.clone(), value.clone());
            }
            Change::Record {
                feature,
                key,
                value: None,
            } => {
                if let Some(records) = self.records.get_mut(feature) {
                    records.remove(key);
                    if records.is_empty() {
                        self.records.remove(feature);
                    }
                }
            }
            Change::Note { .. } => {}
        }
    }
}

/// A change to the state, written to SQLite by the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A row in the points ledger.
    Points {
        member: MemberKey,
        amount: i64,
        reason: String,
        /// The member's display name, when known.
        name: Option<String>,
    },
    CheckedIn {
        member: MemberKey,
        day: NaiveDate,
        streak: u32,
    },
    Task {
        member: MemberKey,
        task: String,
        state: TaskState,
    },
    CouponClaimed {
        pool: String,
        code: String,
        member: MemberKey,
    },
    JoinerQueued {
        group: GroupKey,
        joiner: Joiner,
    },
    JoinerLeft {
        member: MemberKey,
    },
    WaveWelcomed {
        group: GroupKey,
        users: Vec<Id>,
        at: DateTime<Utc>,
    },
    Verification {
        member: MemberKey,
        pending: bool,
    },
    Paused {
        group: GroupKey,
        paused: bool,
    },
    Warned {
        member: MemberKey,
        by: Id,
        reason: String,
    },
    /// A member's message was filtered.
    Strike {
        member: MemberKey,
        at: DateTime<Utc>,
        category: String,
    },
    StrikesCleared {
        member: MemberKey,
    },
    /// In memory only: a member spoke (for flood detection); entries older than
    /// `keep` are dropped.
    Spoke {
        member: MemberKey,
        at: DateTime<Utc>,
        digest: u64,
        keep: chrono::Duration,
    },
    /// In memory only: cooldowns need not survive a restart.
    CommandUsed {
        member: MemberKey,
        at: DateTime<Utc>,
    },
    /// A feature's own record: set (`Some`) or removed (`None`). The store keeps
    /// it as JSON under the feature's name and the key, so a new feature keeps
    /// state without a change to the engine or the store.
    Record {
        feature: String,
        key: String,
        value: Option<Value>,
    },
    /// Something worth a row in the event log (a decision, a refusal).
    Note {
        kind: String,
        account: Id,
        group: Option<Id>,
        user: Option<Id>,
        detail: serde_json::Value,
    },
}

/// A wake-up at a given time for the feature named `feature`, with that
/// feature's own description of what to do (`wake`). Stored, so a restart
/// neither loses nor repeats it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub due: DateTime<Utc>,
    /// The bot account whose actions the wake-up leads to.
    pub account: Id,
    pub feature: String,
    pub wake: Value,
}

impl Timer {
    pub fn new(due: DateTime<Utc>, account: &Id, feature: &str, wake: &impl Serialize) -> Timer {
        Timer {
            due,
            account: account.clone(),
            feature: feature.to_string(),
            wake: serde_json::to_value(wake).unwrap_or(Value::Null),
        }
    }

    /// The wake-up as the feature's type.
    pub fn wake<T: DeserializeOwned>(&self) -> Result<T, super::WakeError> {
        T::deserialize(&self.wake).map_err(|source| super::WakeError::Unreadable {
            feature: self.feature.clone(),
            source,
        })
    }
}

/// What a feature decided.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub actions: Vec<Action>,
    pub changes: Vec<Change>,
    pub timers: Vec<Timer>,
    /// Side effects outside the database, carried out after the decision commits.
    pub effects: Vec<Effect>,
    /// How some of `actions` are to be delivered, by index: what they are part
    /// of, whether they are automatic, until when they are worth sending.
    pub delivery: BTreeMap<usize, Delivery>,
}

/// How an action is delivered, beyond what it does (see [`crate::domain::Outbound`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivery {
    pub tag: Option<String>,
    pub automatic: bool,
    pub deadline: Option<DateTime<Utc>>,
}

impl Change {
    /// Sets a feature's record.
    pub fn record(feature: &str, key: impl Into<String>, value: &impl Serialize) -> Change {
        Change::Record {
            feature: feature.to_string(),
            key: key.into(),
            value: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }

    /// Removes a feature's record.
    pub fn forget(feature: &str, key: impl Into<String>) -> Change {
        Change::Record {
            feature: feature.to_string(),
            key: key.into(),
            value: None,
        }
    }
}

impl Decision {
    pub fn act(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// A scheduled post: an automatic message that is part of `tag` (its
    /// schedule) and not worth sending after `deadline`.
    pub fn act_posted(
        mut self,
        action: Action,
        tag: impl Into<String>,
        deadline: DateTime<Utc>,
    ) -> Self {
        self.delivery.insert(
            self.actions.len(),
            Delivery {
                tag: Some(tag.into()),
                automatic: true,
                deadline: Some(deadline),
            },
        );
        self.actions.push(action);
        self
    }

    /// A message the bot sends on its own (a nudge, a welcome): it pauses while
    /// its account is suspect of risk control.
    pub fn act_automatic(mut self, action: Action) -> Self {
        self.delivery.insert(
            self.actions.len(),
            Delivery {
                automatic: true,
                ..Delivery::default()
            },
        );
        self.actions.push(action);
        self
    }

    pub fn timer(mut self, timer: Timer) -> Self {
        self.timers.push(timer);
        self
    }

    pub fn effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// The payloads of this decision's effects of `kind`.
    pub fn effects_of<T: serde::de::DeserializeOwned>(&self, kind: &str) -> Vec<T> {
        self.effects
            .iter()
            .filter(|e| e.kind == kind)
            .filter_map(|e| e.payload().ok())
            .collect()
    }

    pub fn change(mut self, change: Change) -> Self {
        self.changes.push(change);
        self
    }

    pub fn changes(mut self, changes: impl IntoIterator<Item = Change>) -> Self {
        self.changes.extend(changes);
        self
    }

    pub fn merge(&mut self, other: Decision) {
        let offset = self.actions.len();
        self.delivery
            .extend(other.delivery.into_iter().map(|(i, d)| (i + offset, d)));
        self.actions.extend(other.actions);
        self.changes.extend(other.changes);
        self.timers.extend(other.timers);
        self.effects.extend(other.effects);
    }

    pub fn is_empty(&self) -> bool {
        *self == Decision::default()
    }
}
