//! What the features remember between events, and the typed changes they make to it.
//!
//! The engine owns one [`State`], loaded from SQLite at start. A feature reads it
//! and returns a [`Decision`]: actions to send, [`Change`]s to the state, and
//! [`Timer`]s to be woken by. The engine applies the changes to the state at once
//! (so the next event sees them) and writes them, the actions and the timers in
//! the same transaction as the event's "handled" mark.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Action, Id};
use crate::engine::Effect;

/// One member of one group, on one bot account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberKey {
    pub account: Id,
    pub group: Id,
    pub user: Id,
}

/// One group, on one bot account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    pub account: Id,
    pub group: Id,
}

impl MemberKey {
    pub fn new(account: &Id, group: &Id, user: &Id) -> Self {
        MemberKey {
            account: account.clone(),
            group: group.clone(),
            user: user.clone(),
        }
    }

    pub fn group_key(&self) -> GroupKey {
        GroupKey {
            account: self.account.clone(),
            group: self.group.clone(),
        }
    }
}

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
    /// Something worth a row in the event log (a decision, a refusal).
    Note {
        kind: String,
        account: Id,
        group: Option<Id>,
        user: Option<Id>,
        detail: serde_json::Value,
    },
}

/// What a timer wakes the features for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wake {
    /// The welcome window of a group closed: welcome its wave.
    Onboard { group: GroupKey },
    /// Remind a wave of newcomers of a task they have not done.
    RemindTask {
        group: GroupKey,
        task: String,
        users: Vec<Id>,
    },
    /// A task's time is up for a wave.
    ExpireTask {
        group: GroupKey,
        task: String,
        users: Vec<Id>,
    },
    /// Newcomers who had to verify by now.
    VerifyDeadline { group: GroupKey, users: Vec<Id> },
}

/// A wake-up at a given time, stored so a restart neither loses nor repeats it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub due: DateTime<Utc>,
    pub wake: Wake,
}

impl Wake {
    pub fn account(&self) -> &Id {
        match self {
            Wake::Onboard { group }
            | Wake::RemindTask { group, .. }
            | Wake::ExpireTask { group, .. }
            | Wake::VerifyDeadline { group, .. } => &group.account,
        }
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
}

/// A member's message whose images are to be read for QR codes; what is found
/// comes back as [`crate::domain::EventBody::QrCodes`] carrying this message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageCheck {
    pub account: Id,
    pub message: crate::domain::GroupMessage,
    pub urls: Vec<String>,
}

/// A word-list edit and the message to answer once it is done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordEditRequest {
    pub edit: crate::filter::WordEdit,
    pub account: Id,
    pub group: Id,
    pub message_id: Id,
}

/// Effect kinds the features ask for; [`crate::effects`] carries them out.
pub mod effect_kind {
    /// Read the config and the files it names again (`/reload`).
    pub const RELOAD: &str = "config.reload";
    /// Edit the word-list file ([`super::WordEditRequest`]).
    pub const EDIT_WORDS: &str = "words.edit";
    /// Read pictures for QR codes ([`super::ImageCheck`]).
    pub const CHECK_IMAGES: &str = "media.check_images";
}

impl Decision {
    pub fn act(mut self, action: Action) -> Self {
        self.actions.push(action);
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

    pub fn merge(&mut self, other: Decision) {
        self.actions.extend(other.actions);
        self.changes.extend(other.changes);
        self.timers.extend(other.timers);
        self.effects.extend(other.effects);
    }

    pub fn is_empty(&self) -> bool {
        *self == Decision::default()
    }
}
