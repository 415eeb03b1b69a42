//! The community features' settings: welcome, join requests, verification,
//! new-member tasks, points, coupon pools, commands.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::{
    OnMismatch, RawAnswer, RawCommands, RawCouponPool, RawJoinRequests, RawPoints, RawTask,
    RawVerification, RawWelcome,
};
use super::{Checker, Problem};
use crate::domain::{command, Id, Template};

/// How a typed answer is checked: contains a keyword, or matches a regex.
#[derive(Clone, Debug)]
pub enum Answer {
    Keyword(String),
    Regex(regex::Regex),
}

impl Answer {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Answer::Keyword(k) => text.contains(k.as_str()),
            Answer::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WelcomeConfig {
    pub enabled: bool,
    /// Everyone who joins within this window gets one shared welcome.
    pub batch_window: Duration,
    /// Variables: `{mentions} {group} {count} {rules} {coupon}`.
    pub template: Template,
    /// A member welcomed less than this long ago is not welcomed again on rejoining.
    pub rejoin_window: Duration,
    /// A coupon pool whose title fills `{coupon}` (the reward newcomers can earn).
    pub coupon: Option<String>,
}

pub const WELCOME_VARS: &[&str] = &["mentions", "group", "count", "rules", "coupon"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchPolicy {
    Reject,
    /// Leave the request to the group's admins.
    Ignore,
}

#[derive(Clone, Debug)]
pub struct JoinRequestsConfig {
    /// Without an answer, every request (but the blocklisted) is left to the admins.
    pub answer: Option<Answer>,
    pub on_mismatch: MismatchPolicy,
    pub reject_reason: String,
    pub blocklist: Vec<Id>,
    pub blocked_reason: String,
}

#[derive(Clone, Debug)]
pub struct VerificationConfig {
    pub enabled: bool,
    /// Variables: `{mentions} {timeout}`.
    pub prompt: Template,
    pub answer: Answer,
    pub timeout: Duration,
    /// Members invited by someone already in the group need not verify.
    pub exempt_invited: bool,
    pub passed_reply: Template,
    pub removed_notice: Template,
}

pub const VERIFICATION_VARS: &[&str] = &["mentions", "timeout"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The member says something containing this.
    Keyword(String),
    /// The member says anything.
    FirstMessage,
    /// The member uses this command (canonical name).
    Command(String),
}

#[derive(Clone, Debug)]
pub struct TaskConfig {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    pub points: i64,
    /// A coupon pool one code of which is the reward.
    pub coupon: Option<String>,
    pub remind_after: Option<Duration>,
    /// Variables: `{mentions} {task} {hint}`.
    pub remind: Template,
    pub expires_after: Duration,
    /// Variables: `{mentions} {task} {points} {coupon} {balance}`.
    pub done_reply: Template,
}

pub const TASK_REMIND_VARS: &[&str] = &["mentions", "task", "hint"];
pub const TASK_DONE_VARS: &[&str] = &["mentions", "task", "points", "coupon", "balance"];

impl TaskConfig {
    /// What a member has to do, in words.
    pub fn hint(&self) -> String {
        match &self.trigger {
            Trigger::Keyword(k) => format!("发送「{k}」"),
            Trigger::FirstMessage => "在群里说句话".to_string(),
            // Members read the command's Chinese name: 发送 /签到.
            Trigger::Command(c) => format!("发送 /{}", command::chinese(c)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PointsConfig {
    pub checkin: i64,
    /// Extra points per consecutive day after the first.
    pub streak_bonus: i64,
    /// The streak stops adding bonus after this many days.
    pub streak_cap: u32,
    pub rank_size: usize,
}

#[derive(Clone, Debug)]
pub struct CouponPool {
    pub name: String,
    pub file: PathBuf,
    pub title: String,
    /// The codes in the file, in order. Which are handed out lives in the database.
    pub codes: Vec<String>,
    /// Operators are warned when fewer codes than this remain.
    pub low_warning: usize,
}

#[derive(Clone, Debug)]
pub struct CommandsConfig {
    /// Least time between two commands of one member (admins are exempt).
    pub cooldown: Duration,
    pub rules: String,
}

pub(super) fn template(
    checker: &mut Checker,
    value: Option<&Spanned<String>>,
    default: &str,
    vars: &[&str],
) -> Option<Template> {
    match value {
        Some(v) => checker.check(v, |s| Template::parse(s, vars)),
        None => Template::parse(default, vars).ok(),
    }
}

fn answer(checker: &mut Checker, value: &Spanned<RawAnswer>) -> Option<Answer> {
    let raw = value.get_ref();
    let result = match (&raw.keyword, &raw.regex) {
        (Some(k), None) if !k.trim().is_empty() => Ok(Answer::Keyword(k.trim().to_string())),
        (None, Some(r)) => regex::Regex::new(r)
            .map(Answer::Regex)
            .map_err(|e| format!("invalid regex: {e}")),
        _ => Err("write exactly one of { keyword = \"...\" } or { regex = \"...\" }".to_string()),
    };
    result.map_err(|reason| checker.problem(value, reason)).ok()
}

impl Checker<'_> {
    pub(super) fn welcome(
        &mut self,
        raw: &RawWelcome,
        coupons: &BTreeMap<String, CouponPool>,
    ) -> Option<WelcomeConfig> {
        let coupon = raw.coupon.as_ref().and_then(|c| self.pool_name(c, coupons));
        Some(WelcomeConfig {
            enabled: raw.enabled.unwrap_or(true),
            batch_window: raw.batch_window.map_or(Duration::from_secs(30), |d| d.0),
            template: template(
                self,
                raw.template.as_ref(),
                "欢迎 {mentions} 加入{group}！",
                WELCOME_VARS,
            )?,
            rejoin_window: raw
                .rejoin_window
                .map_or(Duration::from_secs(7 * 86400), |d| d.0),
            coupon: if raw.coupon.is_some() {
                Some(coupon?)
            } else {
                None
            },
        })
    }

    pub(super) fn pool_name(
        &mut self,
        name: &Spanned<String>,
        coupons: &BTreeMap<String, CouponPool>,
    ) -> Option<String> {
        if coupons.contains_key(name.get_ref()) {
            Some(name.get_ref().clone())
        } else {
            let known: Vec<_> = coupons.keys().cloned().collect();
            self.problem(
                name,
                format!(
                    "no coupon pool `{}` (known: {})",
                    name.get_ref(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            None
        }
    }

    pub(super) fn join_requests(&mut self, raw: &RawJoinRequests) -> Option<JoinRequestsConfig> {
        let answer = match &raw.answer {
            Some(a) => Some(answer(self, a)?),
            None => None,
        };
        Some(JoinRequestsConfig {
            answer,
            on_mismatch: match raw.on_mismatch {
                Some(OnMismatch::Ignore) => MismatchPolicy::Ignore,
                _ => MismatchPolicy::Reject,
            },
            reject_reason: raw
                .reject_reason
                .clone()
                .unwrap_or_else(|| "入群答案不正确，请重新申请".into()),
            blocklist: raw.blocklist.clone(),
            blocked_reason: raw
                .blocked_reason
                .clone()
                .unwrap_or_else(|| "暂不接受你的入群申请".into()),
        })
    }

    pub(super) fn verification(&mut self, raw: &RawVerification) -> Option<VerificationConfig> {
        let enabled = raw.enabled.unwrap_or(false);
        let answer = match (&raw.answer, enabled) {
            (Some(a), _) => answer(self, a)?,
            (None, false) => Answer::Keyword(String::new()),
            (None, true) => {
                self.problems.push(Problem::at_span(
                    self.file,
                    self.text,
                    None,
                    "verification is enabled but has no `answer`",
                ));
                return None;
            }
        };
        Some(VerificationConfig {
            enabled,
            prompt: template(
                self,
                raw.prompt.as_ref(),
                "{mentions} 请在 {timeout} 内回答入群问题完成验证，否则将被移出本群",
                VERIFICATION_VARS,
            )?,
            answer,
            timeout: raw.timeout.map_or(Duration::from_secs(300), |d| d.0),
            exempt_invited: raw.exempt_invited.unwrap_or(true),
            passed_reply: template(
                self,
                raw.passed_reply.as_ref(),
                "{mentions} 验证通过，欢迎！",
                VERIFICATION_VARS,
            )?,
            removed_notice: template(
                self,
                raw.removed_notice.as_ref(),
                "{mentions} 未在 {timeout} 内完成验证，已移出本群",
                VERIFICATION_VARS,
            )?,
        })
    }

    pub(super) fn tasks(
        &mut self,
        raw: &[RawTask],
        coupons: &BTreeMap<String, CouponPool>,
    ) -> Option<Vec<TaskConfig>> {
        let mut seen = HashSet::new();
        let mut tasks = Vec::new();
        let mut ok = true;
        for t in raw {
            let id = t.id.get_ref().trim().to_string();
            if id.is_empty() || !seen.insert(id.clone()) {
                self.problem(&t.id, format!("task id `{id}` is empty or used twice"));
                ok = false;
                continue;
            }
            let d = t.done_when.get_ref();
            let trigger = match (&d.keyword, d.first_message, &d.command) {
                (Some(k), None, None) if !k.trim().is_empty() => {
                    Some(Trigger::Keyword(k.trim().to_string()))
                }
                (None, Some(true), None) => Some(Trigger::FirstMessage),
                (None, None, Some(c)) => match command::lookup(c.trim_start_matches('/')) {
                    Some(spec) => Some(Trigger::Command(spec.name.to_string())),
                    None => {
                        self.problem(&t.done_when, format!("unknown command `{c}`"));
                        None
                    }
                },
                _ => {
                    self.problem(&t.done_when, "write exactly one of { keyword = \"...\" }, { first_message = true } or { command = \"...\" }".to_string());
                    None
                }
            };
            let coupon = match &t.reward.coupon {
                Some(c) => self.pool_name(c, coupons).map(Some),
                None => Some(None),
            };
            let remind = template(
                self,
                t.remind.as_ref(),
                "{mentions} 新人任务「{task}」还没完成哦：{hint}",
                TASK_REMIND_VARS,
            );
            let done_reply = template(
                self,
                t.done_reply.as_ref(),
                "{mentions} 完成新人任务「{task}」！积分 +{points}{coupon}",
                TASK_DONE_VARS,
            );
            match (trigger, coupon, remind, done_reply) {
                (Some(trigger), Some(coupon), Some(remind), Some(done_reply)) => {
                    tasks.push(TaskConfig {
                        name: t.name.clone().unwrap_or_else(|| id.clone()),
                        id,
                        trigger,
                        points: t.reward.points,
                        coupon,
                        remind_after: t.remind_after.map(|d| d.0),
                        remind,
                        expires_after: t
                            .expires_after
                            .map_or(Duration::from_secs(7 * 86400), |d| d.0),
                        done_reply,
                    })
                }
                _ => ok = false,
            }
        }
        ok.then_some(tasks)
    }

    pub(super) fn points(&mut self, raw: &RawPoints) -> PointsConfig {
        PointsConfig {
            checkin: raw.checkin.unwrap_or(5),
            streak_bonus: raw.streak_bonus.unwrap_or(1),
            streak_cap: raw.streak_cap.unwrap_or(7).max(1),
            rank_size: raw.rank_size.unwrap_or(10).clamp(1, 50),
        }
    }

    /// Reads every pool's file; bad or duplicate codes are reported at their line.
    pub(super) fn coupons(
        &mut self,
        base: &Path,
        raw: &BTreeMap<String, RawCouponPool>,
    ) -> Option<BTreeMap<String, CouponPool>> {
        let mut pools = BTreeMap::new();
        let mut ok = true;
        for (name, pool) in raw {
            let file = base.join(pool.file.get_ref());
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    self.problem(
                        &pool.file,
                        format!("cannot read coupon file {}: {e}", file.display()),
                    );
                    ok = false;
                    continue;
                }
            };
            let mut codes = Vec::new();
            let mut seen = HashSet::new();
            for (i, line) in text.lines().enumerate() {
                let code = line.trim();
                if code.is_empty() || code.starts_with('#') {
                    continue;
                }
                let col = line.find(code).map_or(1, |b| line[..b].chars().count() + 1);
                let at = |reason: String| Problem {
                    location: super::Location::File {
                        file: file.display().to_string(),
                        line: i + 1,
                        col,
                    },
                    reason,
                };
                if code.chars().any(char::is_whitespace) {
                    self.problems
                        .push(at(format!("coupon code `{code}` contains white space")));
                    ok = false;
                } else if !seen.insert(code.to_string()) {
                    self.problems
                        .push(at(format!("coupon code `{code}` is listed twice")));
                    ok = false;
                } else {
                    codes.push(code.to_string());
                }
            }
            pools.insert(
                name.clone(),
                CouponPool {
                    name: name.clone(),
                    file,
                    title: pool.title.clone().unwrap_or_else(|| name.clone()),
                    codes,
                    low_warning: pool.low_warning.unwrap_or(10),
                },
            );
        }
        ok.then_some(pools)
    }

    pub(super) fn commands(&mut self, raw: &RawCommands) -> CommandsConfig {
        CommandsConfig {
            cooldown: raw.cooldown.map_or(Duration::from_secs(3), |d| d.0),
            rules: raw
                .rules
                .clone()
                .unwrap_or_else(|| "请友善交流，禁止广告和刷屏。".into()),
        }
    }
}
