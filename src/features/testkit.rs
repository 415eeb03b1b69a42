//! A bot without servers for the features' unit tests: a config, a state, a
//! hand-moved clock, and builders for the events members cause.

use chrono::{DateTime, TimeZone, Utc};

use super::{Decision, Features, State, Timer};
use crate::config::{Config, Env};
use crate::domain::{Action, Event, EventBody, GroupMessage, Id, MemberKey, Message, Role, Sender};

pub const ACCOUNT: i64 = 10;
pub const GROUP: i64 = 100;
pub const OPERATOR: i64 = 1;

/// The word list `words.txt` beside the test config (`words_file = "words.txt"`).
pub const WORDS: &str = "[ad]\n加群\n[abuse]\n傻逼\n[fraud]\n刷单\n[allow]\n参加群众\n";

pub struct Bot {
    pub features: Features,
    pub config: Config,
    pub state: State,
    pub now: DateTime<Utc>,
    _dir: tempfile::TempDir,
    next_message: i64,
}

impl Bot {
    /// A bot managing group 100 with operator 1, plus `extra` TOML. A coupon pool
    /// `newcomer` with codes NEW-1..NEW-5 is available to reference.
    pub fn new(extra: &str) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("codes.txt"),
            "# codes\nNEW-1\nNEW-2\nNEW-3\nNEW-4\nNEW-5\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("words.txt"), WORDS).unwrap();
        let text = config_text(extra);
        let config = Config::parse(&dir.path().join("bot-config.toml"), &text, &Env::default())
            .unwrap_or_else(|e| panic!("test config: {e}"));
        let mut state = State::default();
        // The bot has heard from its group, so it knows which account posts there.
        state.apply(&crate::engine::Change::record(
            super::accounts::NAME,
            format!("seen/{GROUP}"),
            &Id::number(ACCOUNT),
        ));
        state.apply(&crate::engine::Change::record(
            super::accounts::NAME,
            format!("in/{GROUP}"),
            &vec![super::accounts::Present {
                account: Id::number(ACCOUNT),
                since: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            }],
        ));
        state.coupons.insert(
            "newcomer".into(),
            config.coupons["newcomer"].codes.iter().cloned().collect(),
        );
        Bot {
            features: super::all(),
            config,
            state,
            // 2026-11-23 10:00 in Shanghai.
            now: Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap(),
            _dir: dir,
            next_message: 0,
        }
    }

    pub fn on(&mut self, event: Event) -> Decision {
        self.features
            .react(&event, &mut self.state, &self.config, self.now, 0)
    }

    pub fn wake(&mut self, timer: &Timer) -> Decision {
        self.features
            .wake(timer, &mut self.state, &self.config, self.now, 0)
            .expect("a wake-up of a known feature")
    }

    /// The engine's periodic tick: features plan their timers.
    pub fn tick(&mut self) -> Decision {
        self.features
            .tick(&mut self.state, &self.config, self.now, 0, false)
    }

    /// The first tick after a start.
    pub fn start(&mut self) -> Decision {
        self.features
            .tick(&mut self.state, &self.config, self.now, 0, true)
    }

    /// Reads the config again with `extra` in place of the first one's.
    pub fn reconfigure(&mut self, extra: &str) {
        self.config = Config::parse(
            &self._dir.path().join("bot-config.toml"),
            &config_text(extra),
            &Env::default(),
        )
        .unwrap_or_else(|e| panic!("test config: {e}"));
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now += chrono::Duration::seconds(seconds);
    }

    /// A group message from `user` with `role`.
    pub fn says(&mut self, user: i64, role: Role, message: Message) -> Event {
        self.next_message += 1;
        event(EventBody::GroupMessage(GroupMessage {
            message_id: Id::number(self.next_message),
            group: Id::number(GROUP),
            user: Id::number(user),
            sender: Sender {
                nickname: Some(format!("成员{user}")),
                card: None,
                role: Some(role),
            },
            message,
            anonymous: false,
        }))
    }

    pub fn member_says(&mut self, user: i64, text: &str) -> Event {
        self.says(user, Role::Member, Message::text(text))
    }

    /// Fires every timer `decision` asked for, in order, at its due time.
    pub fn fire_timers(&mut self, decision: &Decision) -> Vec<Decision> {
        let mut timers = decision.timers.clone();
        timers.sort_by_key(|t| t.due);
        timers
            .into_iter()
            .map(|t| {
                self.now = self.now.max(t.due);
                self.wake(&t)
            })
            .collect()
    }
}

fn config_text(extra: &str) -> String {
    format!(
        "[gateway]\n[admins]\nusers = [{OPERATOR}]\n[[groups]]\nid = {GROUP}\nname = \"宝妈群\"\n[coupons.newcomer]\nfile = \"codes.txt\"\ntitle = \"满50减10券\"\nlow_warning = 2\n{extra}"
    )
}

pub fn event(body: EventBody) -> Event {
    Event {
        account: Id::number(ACCOUNT),
        time: 0,
        body,
        heard_by: None,
    }
}

pub fn joined(user: i64, invited: bool) -> Event {
    event(EventBody::MemberJoined {
        group: Id::number(GROUP),
        user: Id::number(user),
        operator: None,
        invited,
    })
}

pub fn left(user: i64) -> Event {
    event(EventBody::MemberLeft {
        group: Id::number(GROUP),
        user: Id::number(user),
        operator: None,
        reason: crate::domain::LeaveReason::Left,
    })
}

pub fn member(user: i64) -> MemberKey {
    MemberKey::new(&Id::number(ACCOUNT), &Id::number(GROUP), &Id::number(user))
}

/// The text of every group message a decision sends.
pub fn said(decision: &Decision) -> Vec<String> {
    decision
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::SendGroupMsg { message, .. } => Some(message.plain_text()),
            _ => None,
        })
        .collect()
}

/// The users @mentioned by the first group message of a decision.
pub fn mentioned(decision: &Decision) -> Vec<Id> {
    decision
        .actions
        .iter()
        .find_map(|a| match a {
            Action::SendGroupMsg { message, .. } => Some(message.mentions().cloned().collect()),
            _ => None,
        })
        .unwrap_or_default()
}

/// A message of text with @mentions: `with_mentions("/mute ", &[5], " 10m")`.
pub fn with_mentions(before: &str, users: &[i64], after: &str) -> Message {
    let ids: Vec<Id> = users.iter().map(|u| Id::number(*u)).collect();
    let mut m = Message::text(before);
    m.0.extend(Message::mentioning(&ids, Message::text(after)).0);
    Message::from_segments(m.0)
}

/// The details of a decision's log rows of `kind`.
pub fn notes<'a>(d: &'a Decision, kind: &str) -> Vec<&'a serde_json::Value> {
    d.changes
        .iter()
        .filter_map(|c| match c {
            crate::engine::Change::Note {
                kind: k, detail, ..
            } if k == kind => Some(detail),
            _ => None,
        })
        .collect()
}

/// The English words in `text`: runs of three or more ASCII letters, except
/// in links and in a config section named in brackets (`[reactivation]`).
pub fn english(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for token in text.split_whitespace().filter(|t| !t.contains("://")) {
        let chars: Vec<char> = token.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphabetic() || chars[i] == '_') {
                i += 1;
            }
            let section = start > 0 && chars[start - 1] == '[' && chars.get(i) == Some(&']');
            if i - start >= 3 && !section {
                found.push(chars[start..i].iter().collect());
            }
        }
    }
    found
}

/// Every text a decision shows anyone: group messages and private ones.
pub fn texts(d: &Decision) -> Vec<String> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::SendGroupMsg { message, .. } | Action::SendPrivateMsg { message, .. } => {
                Some(message.plain_text())
            }
            _ => None,
        })
        .collect()
}
