//! The `[filter]` section: the word list, which normalisations are on, what each
//! category does, and escalation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::raw::{RawCategory, RawEscalation, RawFilter, RawNormalize};
use super::{Checker, Location, Problem};
use crate::domain::Id;
use crate::filter::rules::Rules;
use crate::filter::{Filter, Folds, Normalization, PinyinMode, WordList};

/// One thing the filter can do about a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterAction {
    /// Reply @member naming the category, never quoting the word in full.
    Warn,
    /// Recall (`delete_msg`) the message.
    Recall,
    Mute,
    Kick,
    /// Private message to the operators with the evidence.
    Notify,
}

impl FilterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterAction::Warn => "warn",
            FilterAction::Recall => "recall",
            FilterAction::Mute => "mute",
            FilterAction::Kick => "kick",
            FilterAction::Notify => "notify",
        }
    }

    fn parse(s: &str) -> Option<FilterAction> {
        Some(match s {
            "warn" => FilterAction::Warn,
            "recall" => FilterAction::Recall,
            "mute" => FilterAction::Mute,
            "kick" => FilterAction::Kick,
            "notify" => FilterAction::Notify,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct FilterCategory {
    /// What members read for the category; `None`: the default label.
    pub label: Option<String>,
    pub actions: Vec<FilterAction>,
    pub mute: Duration,
    /// Log what would have happened and do nothing.
    pub dry_run: bool,
}

impl Default for FilterCategory {
    fn default() -> Self {
        FilterCategory {
            label: None,
            actions: vec![FilterAction::Recall, FilterAction::Warn],
            mute: Duration::from_secs(600),
            dry_run: false,
        }
    }
}

/// The Chinese names of the categories word lists commonly use, and of the
/// filter's own rules (`link`, `flood`).
pub const DEFAULT_LABELS: &[(&str, &str)] = &[
    ("ad", "广告"),
    ("ads", "广告"),
    ("spam", "垃圾信息"),
    ("abuse", "辱骂"),
    ("insult", "辱骂"),
    ("porn", "色情"),
    ("sex", "色情"),
    ("gambling", "赌博"),
    ("fraud", "诈骗"),
    ("scam", "诈骗"),
    ("drugs", "毒品"),
    ("violence", "暴力"),
    ("politics", "政治"),
    ("illegal", "违法"),
    ("link", "链接"),
    ("flood", "刷屏"),
];

#[derive(Clone, Debug)]
pub struct Escalation {
    pub strikes: u32,
    pub window: Duration,
    /// `Kick` or `Mute` once a member reaches `strikes` within `window`.
    pub then: FilterAction,
    pub mute: Duration,
}

#[derive(Clone, Debug)]
pub struct FilterConfig {
    pub words_file: PathBuf,
    pub filter: Arc<Filter>,
    /// Members never filtered (besides admins).
    pub exempt: Vec<Id>,
    /// Per category; categories not listed recall and warn.
    pub categories: BTreeMap<String, FilterCategory>,
    pub escalation: Option<Escalation>,
    /// Link, phone and WeChat-id rules (category `link`); `None` when switched off.
    pub links: Option<Arc<Rules>>,
    /// Read QR codes in members' images as category `link` (with `links` on).
    pub qr_codes: bool,
    pub flood: Option<Flood>,
    /// After a warning in a group, further warnings there within this window are
    /// merged into one message mentioning every member; zero warns each at once.
    pub warn_window: Duration,
}

/// More than `messages` in `within`, or the same text `repeats` times in it, from
/// one member is category `flood`.
#[derive(Clone, Debug)]
pub struct Flood {
    pub messages: u32,
    pub within: Duration,
    pub repeats: u32,
}

impl FilterConfig {
    /// What the live filter finds in a text (see [`Filter::scan_with`]).
    pub fn text_hits(&self, text: &str) -> Vec<crate::filter::Hit<'_>> {
        self.filter.scan_with(self.links.as_deref(), text)
    }

    pub fn category(&self, name: &str) -> FilterCategory {
        self.categories.get(name).cloned().unwrap_or_default()
    }

    /// What members read for category `name`: its `label`, else the Chinese
    /// name of a common category, else the name as written.
    pub fn label(&self, name: &str) -> String {
        if let Some(label) = self.categories.get(name).and_then(|c| c.label.clone()) {
            return label;
        }
        DEFAULT_LABELS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| name.to_string(), |(_, label)| label.to_string())
    }

    /// Whether members' pictures are read for QR codes: the link rules and
    /// `qr_codes` both on.
    pub fn reads_qr_codes(&self) -> bool {
        self.links.is_some() && self.qr_codes
    }
}

/// Reads and compiles a word list file, with its problems at their lines.
pub fn load_words(path: &Path, n: Normalization) -> Result<(WordList, Vec<Problem>), Vec<Problem>> {
    let file = path.display().to_string();
    let at_start = |reason: String| {
        vec![Problem {
            location: Location::File {
                file: file.clone(),
                line: 1,
                col: 1,
            },
            reason,
        }]
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| at_start(format!("cannot read the word list: {e}")))?;
    // An empty file is far more often a save that went wrong (`> words.txt`, a
    // full disk) than a wish to stop filtering, which removing `[filter]` says.
    if text.trim().is_empty() {
        return Err(at_start(
            "the word list is empty; to stop filtering remove [filter] from the config, \
             or leave a comment in the file"
                .into(),
        ));
    }
    let list = WordList::parse(&text, n);
    let to_problem = |r: &crate::filter::Remark| Problem {
        location: Location::File {
            file: file.clone(),
            line: r.line,
            col: r.col,
        },
        reason: if r.error {
            r.reason.clone()
        } else {
            format!("warning: {}", r.reason)
        },
    };
    let errors: Vec<Problem> = list.errors().map(to_problem).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let warnings = list.remarks.iter().map(to_problem).collect();
    Ok((list, warnings))
}

impl Checker<'_> {
    /// `own_links`: the shop's own links in the config (flash sales'), whose
    /// domains are welcome besides `filter.links.allow`.
    pub(super) fn filter(
        &mut self,
        base: &Path,
        raw: &RawFilter,
        own_links: &[String],
    ) -> Option<FilterConfig> {
        let normalization = normalization(&raw.normalize);
        let categories = self.filter_categories(&raw.categories);
        let escalation = self.escalation(raw.escalation.as_ref());
        let links = self.link_rules(raw, own_links);
        let flood = raw.flood.as_ref().map(|f| Flood {
            messages: f.messages.max(1),
            within: f.within.0,
            repeats: f.repeats.unwrap_or(3).max(2),
        });
        let words_file = base.join(raw.words_file.get_ref());
        let list = match load_words(&words_file, normalization) {
            Ok((list, warnings)) => {
                self.warnings.extend(warnings);
                list
            }
            Err(problems) => {
                self.problems.extend(problems);
                return None;
            }
        };
        let (categories, folds) = categories?;
        Some(FilterConfig {
            words_file,
            filter: Arc::new(Filter::with_folds(&list, normalization, folds)),
            exempt: raw.exempt.clone(),
            categories,
            escalation: escalation?,
            links: links?,
            qr_codes: raw.links.qr_codes.unwrap_or(true),
            flood,
            warn_window: raw.warn_window.map_or(Duration::from_secs(10), |d| d.0),
        })
    }

    /// `[filter.categories]`: what each does, and the folds (homophones,
    /// pinyin) its words get. `None` when any is wrong.
    fn filter_categories(
        &mut self,
        raw: &BTreeMap<String, RawCategory>,
    ) -> Option<(BTreeMap<String, FilterCategory>, Folds)> {
        let mut categories = BTreeMap::new();
        let mut ok = true;
        let mut folds = Folds::default();
        for (name, c) in raw {
            let mut actions = Vec::new();
            match &c.actions {
                None => actions = FilterCategory::default().actions,
                Some(listed) => {
                    for a in listed.get_ref() {
                        match FilterAction::parse(a) {
                            Some(action) => actions.push(action),
                            None => {
                                self.problem(
                                    listed,
                                    format!(
                                        "unknown action `{a}`; use warn, recall, mute, kick, notify"
                                    ),
                                );
                                ok = false;
                            }
                        }
                    }
                }
            }
            if c.homophones {
                folds.homophones.insert(name.to_lowercase());
            }
            if let Some(mode) = &c.pinyin {
                match PinyinMode::parse(mode.get_ref()) {
                    Some(m) => {
                        folds.pinyin.insert(name.to_lowercase(), m);
                    }
                    None => {
                        self.problem(
                            mode,
                            format!(
                                "pinyin is `full`, `initials` or `off`, not `{}`",
                                mode.get_ref()
                            ),
                        );
                        ok = false;
                    }
                }
            }
            categories.insert(
                name.to_lowercase(),
                FilterCategory {
                    label: c.label.clone().filter(|l| !l.trim().is_empty()),
                    actions,
                    mute: c.mute.map_or(Duration::from_secs(600), |d| d.0),
                    dry_run: c.dry_run,
                },
            );
        }
        ok.then_some((categories, folds))
    }

    /// `[filter.escalation]`; `Some(None)` when there is none.
    fn escalation(&mut self, raw: Option<&RawEscalation>) -> Option<Option<Escalation>> {
        let Some(e) = raw else {
            return Some(None);
        };
        match e.then.get_ref().as_str() {
            "kick" | "mute" => Some(Some(Escalation {
                strikes: e.strikes.max(1),
                window: e.window.0,
                then: if e.then.get_ref() == "kick" {
                    FilterAction::Kick
                } else {
                    FilterAction::Mute
                },
                mute: e.mute.map_or(Duration::from_secs(3600), |d| d.0),
            })),
            other => {
                self.problem(
                    &e.then,
                    format!("escalation `then` is `kick` or `mute`, not `{other}`"),
                );
                None
            }
        }
    }

    /// The link rules, with `filter.phones` and the welcome domains;
    /// `Some(None)` when `filter.links.enabled` is false.
    fn link_rules(&mut self, raw: &RawFilter, own_links: &[String]) -> Option<Option<Arc<Rules>>> {
        if !raw.links.enabled.unwrap_or(true) {
            return Some(None);
        }
        let mut ok = true;
        let extra: Vec<(String, String)> = raw
            .links
            .rules
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect();
        let phones_allowed = match raw.phones.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("recall") => false,
            Some("allow") => true,
            Some(other) => {
                let reason = format!("filter.phones is \"recall\" or \"allow\", not {other:?}");
                if let Some(at) = &raw.phones {
                    self.problem(at, reason);
                }
                ok = false;
                false
            }
        };
        let mut allowed = raw.links.allow.clone();
        allowed.extend(
            own_links
                .iter()
                .filter_map(|l| reqwest::Url::parse(l).ok())
                .filter_map(|u| u.host_str().map(str::to_string)),
        );
        match Rules::new(&extra) {
            Ok(rules) => ok.then(|| Some(Arc::new(rules.allowing(&allowed, phones_allowed)))),
            Err(reason) => {
                let at = raw.links.rules.values().next();
                match at {
                    Some(at) => self.problem(at, reason),
                    None => self
                        .problems
                        .push(Problem::at_span(self.file, self.text, None, reason)),
                }
                None
            }
        }
    }
}

/// `[filter.normalize]`, each left-out switch at its default.
fn normalization(n: &RawNormalize) -> Normalization {
    let d = Normalization::default();
    Normalization {
        compatibility: n.compatibility.unwrap_or(d.compatibility),
        case: n.case.unwrap_or(d.case),
        traditional: n.traditional.unwrap_or(d.traditional),
        skip: n.skip.unwrap_or(d.skip),
        repeats: n.repeats.unwrap_or(d.repeats),
        lookalikes: n.lookalikes.unwrap_or(d.lookalikes),
    }
}
