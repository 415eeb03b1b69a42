//! Carries out the side effects the features ask for, after the engine has
//! committed the decision that asked (see [`crate::engine::effect`]):
//!
//! - [`effect_kind::RELOAD`]: ask the config reloader to read the files again;
//! - [`effect_kind::EDIT_WORDS`]: `/words add|del` on the word-list file, answered in the group;
//! - [`effect_kind::CHECK_IMAGES`]: hand a message's pictures to [`crate::media`];
//! - [`reactivation::SCAN`]: hand a silent-member scan to [`crate::roster_scan`];
//! - [`effect_kind::STATS`]: hand an admin's `/stats` to [`crate::rollup_task`].
//!
//! Each handler is idempotent: run again after a crash, it finds its work done
//! and answers as if it had just done it.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::config::reload::Reloader;
use crate::config::Config;
use crate::domain::{Action, Message, Outbound, Segment};
use crate::engine::{EffectFuture, EffectHandler, EffectOutcome, Effects};
use crate::features::reactivation::{self, ScanRequest};
use crate::features::{effect_kind, ImageCheck, StatsRequest, WordEditRequest};
use crate::filter::WordEdit;

/// Every handler the daemon has, wired to its adapters.
pub fn handlers(
    config: watch::Receiver<Arc<Config>>,
    reloader: Reloader,
    images: mpsc::Sender<ImageCheck>,
    scans: mpsc::Sender<ScanRequest>,
    stats: mpsc::Sender<StatsRequest>,
) -> Effects {
    Effects::default()
        .with(effect_kind::RELOAD, ReloadConfig(reloader.clone()))
        .with(effect_kind::EDIT_WORDS, EditWordList { config, reloader })
        .with(effect_kind::CHECK_IMAGES, HandOver(images))
        .with(reactivation::SCAN, HandOver(scans))
        .with(effect_kind::STATS, HandOver(stats))
}

/// Asks for a reload, answered in the chat by its outcome; asking twice is the
/// same as asking once.
pub struct ReloadConfig(pub Reloader);

impl EffectHandler for ReloadConfig {
    fn run<'a>(&'a self, payload: &'a Value, _retry: bool) -> EffectFuture<'a> {
        match serde_json::from_value::<crate::domain::Asker>(payload.clone()) {
            Ok(asker) => self.0.asked_by(asker),
            Err(_) => self.0.trigger(),
        }
        Box::pin(async { outcome(json!({"reload": "requested"})) })
    }
}

/// Hands a request to a task beside the engine without waiting for it: a full
/// queue drops the request, logged. For pictures to the QR reader, the message
/// was already handled for its text, and a late recall helps nobody; for a
/// silent-member scan, the next scan finds the same members.
pub struct HandOver<T>(pub mpsc::Sender<T>);

impl<T> EffectHandler for HandOver<T>
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    fn run<'a>(&'a self, payload: &'a Value, _retry: bool) -> EffectFuture<'a> {
        let what = std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("request");
        let detail = match serde_json::from_value::<T>(payload.clone()) {
            Ok(request) => match self.0.try_send(request) {
                Ok(()) => json!({"queued": true}),
                Err(e) => {
                    tracing::warn!("{what} dropped: {e}");
                    json!({"dropped": e.to_string()})
                }
            },
            Err(e) => json!({"error": format!("unreadable {what}: {e}")}),
        };
        Box::pin(async move { outcome(detail) })
    }
}

/// Applies a `/words` edit to the word-list file, then asks for a reload.
pub struct EditWordList {
    pub config: watch::Receiver<Arc<Config>>,
    pub reloader: Reloader,
}

impl EffectHandler for EditWordList {
    fn run<'a>(&'a self, payload: &'a Value, retry: bool) -> EffectFuture<'a> {
        Box::pin(async move {
            let request: WordEditRequest = match serde_json::from_value(payload.clone()) {
                Ok(r) => r,
                Err(e) => return outcome(json!({"error": format!("unreadable edit: {e}")})),
            };
            let config = self.config.borrow().clone();
            let edit = request.edit.clone();
            // File I/O on a blocking thread, not on the runtime's workers.
            let (answer, edited) =
                tokio::task::spawn_blocking(move || edit_word_list(&config, &edit, retry))
                    .await
                    .unwrap_or_else(|e| (format!("词库没有改：{e}"), false));
            if edited {
                self.reloader.trigger();
            }
            let reply = Action::SendGroupMsg {
                group: request.group.clone(),
                message: Message::from_segments([
                    Segment::Reply {
                        id: request.message_id.clone(),
                    },
                    Segment::Text {
                        text: answer.clone(),
                    },
                ]),
            };
            EffectOutcome {
                detail: json!({"edited": edited, "answer": answer, "retry": retry}),
                followups: vec![Outbound::new(request.account, reply)],
            }
        })
    }
}

fn outcome(detail: Value) -> EffectOutcome {
    EffectOutcome {
        detail,
        followups: Vec::new(),
    }
}

/// Applies a `/words` edit to the word list file: written beside it and renamed
/// over it, so the watcher and any reader see the old file or the new one, never
/// half of one. On a `retry`, an edit the file already shows counts as done (an
/// earlier run wrote it and was cut short). Returns the answer for the chat and
/// whether the word list now differs from what the filter runs.
fn edit_word_list(config: &Config, edit: &WordEdit, retry: bool) -> (String, bool) {
    let Some(filter) = &config.filter else {
        return ("没有配置敏感词过滤".into(), false);
    };
    let path = &filter.words_file;
    let n = filter.filter.normalization();
    let result = std::fs::read_to_string(path)
        .map_err(|e| format!("读不了词库：{e}"))
        .and_then(|text| {
            if retry && crate::filter::edit_is_applied(&text, edit, n) {
                return Ok(());
            }
            let new = crate::filter::apply_edit(&text, edit, n)?;
            let tmp = path.with_extension("edit.tmp");
            std::fs::write(&tmp, new)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| format!("写不了词库：{e}"))
        });
    match (result, edit) {
        (Ok(()), WordEdit::Add { category, word }) => {
            (format!("已把「{word}」加入 [{category}]，几秒后生效"), true)
        }
        (Ok(()), WordEdit::Del { word }) => (format!("已从词库删除「{word}」，几秒后生效"), true),
        (Err(why), _) => {
            tracing::warn!("word list not edited: {why}");
            (why, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    fn config_with_words(words: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("words.txt"), words).unwrap();
        let config = Config::parse(
            &dir.path().join("bot-config.toml"),
            "[gateway]\n[filter]\nwords_file = \"words.txt\"\n",
            &Env::default(),
        )
        .unwrap();
        (dir, config)
    }

    fn add(word: &str) -> WordEdit {
        WordEdit::Add {
            category: "ad".into(),
            word: word.into(),
        }
    }

    #[test]
    fn an_edit_repeated_after_a_crash_finds_its_work_done_and_answers_done() {
        let (dir, config) = config_with_words("[ad]\n加群\n");
        let (first, edited) = edit_word_list(&config, &add("刷单"), false);
        assert!(edited && first.contains("已把「刷单」加入"), "{first}");
        // The crash came after the file was written: the repeat says done, once.
        let (again, edited) = edit_word_list(&config, &add("刷单"), true);
        assert_eq!((again, edited), (first, true));
        let text = std::fs::read_to_string(dir.path().join("words.txt")).unwrap();
        assert_eq!(text.matches("刷单").count(), 1, "{text}");
    }

    #[test]
    fn a_first_run_still_says_when_the_word_was_already_listed() {
        let (_dir, config) = config_with_words("[ad]\n加群\n");
        let (answer, edited) = edit_word_list(&config, &add("加群"), false);
        assert!(!edited && answer.contains("已在 [ad] 中"), "{answer}");
    }

    #[test]
    fn a_deletion_repeated_after_a_crash_answers_done() {
        let (_dir, config) = config_with_words("[ad]\n加群\n刷单\n");
        let del = WordEdit::Del {
            word: "刷单".into(),
        };
        let (first, _) = edit_word_list(&config, &del, false);
        let (again, edited) = edit_word_list(&config, &del, true);
        assert_eq!((again, edited), (first, true));
    }
}
