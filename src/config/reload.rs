//! Live reload: the config file's folder is watched (editors save by writing a new
//! file and renaming it over the old one, which a watch on the file itself would
//! miss) and SIGHUP or [`Reloader::trigger`] ask for a reload too. A valid file
//! replaces the snapshot at once; an invalid one is logged with its positions and
//! the running snapshot stays untouched.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Config, ConfigError, Env, Problem};
use crate::domain::Asker;

/// How long to wait for an editor's burst of file events to settle.
const SETTLE: Duration = Duration::from_millis(150);

/// What a reload did, for whoever wants to record it.
#[derive(Debug)]
pub enum ReloadOutcome {
    Applied {
        restart_needed: Vec<&'static str>,
        /// The sections and files that changed ([`Config::changes_from`]).
        changes: Vec<String>,
    },
    Rejected(ConfigError),
}

/// Asks the reloader to read the file again.
#[derive(Clone)]
pub struct Reloader {
    trigger: mpsc::Sender<()>,
    /// Admins' `/reload` messages waiting for the next reload's outcome.
    askers: Arc<std::sync::Mutex<Vec<Asker>>>,
}

impl Reloader {
    pub fn trigger(&self) {
        // A full queue already holds a pending reload, which is all we want.
        let _ = self.trigger.try_send(());
    }

    /// A reload an admin asked for in the chat: the outcome answers `asker`.
    pub fn asked_by(&self, asker: Asker) {
        let mut askers = self.askers.lock().unwrap_or_else(|e| e.into_inner());
        if !askers.contains(&asker) {
            askers.push(asker);
        }
        drop(askers);
        self.trigger();
    }

    fn take_askers(&self) -> Vec<Asker> {
        std::mem::take(&mut *self.askers.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Starts watching `config.path`. Returns the snapshot receiver and a handle to ask
/// for reloads; `on_outcome` sees each attempt with the admins who asked for
/// it (the daemon logs it and tells them).
pub fn spawn(
    config: Arc<Config>,
    env: Env,
    shutdown: CancellationToken,
    on_outcome: impl Fn(&ReloadOutcome, Vec<Asker>) + Send + 'static,
) -> (watch::Receiver<Arc<Config>>, Reloader) {
    let (trigger_tx, mut trigger_rx) = mpsc::channel::<()>(1);
    let reloader = Reloader {
        trigger: trigger_tx.clone(),
        askers: Arc::default(),
    };
    let answering = reloader.clone();
    let path = config.path.clone();
    let (snapshot_tx, snapshot_rx) = watch::channel(config);

    let watched = Arc::new(std::sync::Mutex::new(watched_files(&snapshot_tx.borrow())));
    let watcher = watch_folders(&watched, reloader.clone());
    spawn_sighup_listener(reloader.clone(), shutdown.clone());

    tokio::spawn(async move {
        let _watcher = watcher; // dropping it stops the watch
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                got = trigger_rx.recv() => if got.is_none() { break },
            }
            tokio::time::sleep(SETTLE).await;
            while trigger_rx.try_recv().is_ok() {}
            // Whoever asked before this read is answered by it.
            let askers = answering.take_askers();

            let current = snapshot_tx.borrow().clone();
            // Building the config compiles the word list (tenths of a second for a
            // big one): on a blocking thread, so no runtime worker stalls on it.
            let loaded = {
                let (path, env) = (path.clone(), env.clone());
                tokio::task::spawn_blocking(move || Config::load(&path, &env)).await
            };
            let Ok(loaded) = loaded else {
                tracing::error!("the config reload task failed; the previous config keeps running");
                continue;
            };
            let outcome = match loaded.and_then(|fresh| keeps_authentication(&current, fresh)) {
                Ok(fresh) => {
                    let restart_needed = current.needs_restart_for(&fresh);
                    let changes = fresh.changes_from(&current);
                    *watched.lock().unwrap_or_else(|e| e.into_inner()) = watched_files(&fresh);
                    snapshot_tx.send_replace(Arc::new(fresh));
                    ReloadOutcome::Applied {
                        restart_needed,
                        changes,
                    }
                }
                Err(e) => ReloadOutcome::Rejected(e),
            };
            match &outcome {
                ReloadOutcome::Applied { restart_needed, .. } if restart_needed.is_empty() => {
                    tracing::info!(file = %path.display(), "config reloaded")
                }
                ReloadOutcome::Applied { restart_needed, .. } => tracing::warn!(
                    file = %path.display(),
                    "config reloaded; changes to {} take effect after a restart",
                    restart_needed.join(", ")
                ),
                ReloadOutcome::Rejected(e) => {
                    tracing::error!("{}", rejected_line(e.problems()))
                }
            }
            on_outcome(&outcome, askers);
        }
    });
    (snapshot_rx, reloader)
}

/// A reload may not switch authentication off while the webhook is reachable
/// from other machines: removing the secret then takes a restart (where `run`
/// asks for `--insecure`), never a file save.
/// A refused reload in one log line: the first problems (a broken word list
/// may have thousands; `qunbot check` lists them all), and that nothing changed.
fn rejected_line(problems: Vec<String>) -> String {
    const SHOWN: usize = 3;
    let more = problems.len().saturating_sub(SHOWN);
    let mut line = format!(
        "config not reloaded, the previous one keeps running: {}",
        problems[..problems.len().min(SHOWN)]
            .iter()
            .map(|p| p.replace('\n', " "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if more > 0 {
        line.push_str(&format!(
            " (and {more} more; `qunbot check` lists them all)"
        ));
    }
    line
}

fn keeps_authentication(current: &Config, fresh: Config) -> Result<Config, ConfigError> {
    let listen = current.gateway.listen;
    // The reverse WebSocket's routes are set at start: they serve as long as
    // the daemon runs, and authenticate with the access token.
    let sockets = current.gateway.transport == super::Transport::WsReverse;
    let removed = if current.gateway.secret.is_some() && fresh.gateway.secret.is_none() {
        Some("gateway.secret")
    } else if sockets
        && current.gateway.access_token.is_some()
        && fresh.gateway.access_token.is_none()
    {
        Some("gateway.access_token")
    } else {
        None
    };
    if let (Some(key), false) = (removed, super::is_loopback(&listen)) {
        let reason = format!(
            "{key} cannot be removed by a reload while qunbot listens on {listen}, \
             which is not a loopback address; the previous config keeps running"
        );
        let file = fresh.path.display().to_string();
        return Err(ConfigError::Invalid(vec![Problem::at_span(
            &file, "", None, reason,
        )]));
    }
    Ok(fresh)
}

/// The config file and every file it names: a change to any of them reloads.
fn watched_files(config: &Config) -> Vec<PathBuf> {
    let mut files = vec![config.path.clone()];
    files.extend(config.filter.as_ref().map(|f| f.words_file.clone()));
    files.extend(config.coupons.values().map(|p| p.file.clone()));
    files
}

fn folder_of(path: &std::path::Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn watch_folders(
    watched: &Arc<std::sync::Mutex<Vec<PathBuf>>>,
    reloader: Reloader,
) -> Option<notify::RecommendedWatcher> {
    let folders: std::collections::BTreeSet<PathBuf> = watched
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|p| folder_of(p))
        .collect();
    let files = watched.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if event.kind.is_access() {
                return;
            }
            let files = files.lock().unwrap_or_else(|e| e.into_inner());
            let names: Vec<_> = files.iter().filter_map(|f| f.file_name()).collect();
            if event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.contains(&n)))
            {
                reloader.trigger();
            }
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot start a file watcher, reload on SIGHUP only: {e}");
            return None;
        }
    };
    for folder in folders {
        if let Err(e) = watcher.watch(&folder, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %folder.display(), "cannot watch, reload on SIGHUP only: {e}");
        }
    }
    Some(watcher)
}

#[cfg(unix)]
fn spawn_sighup_listener(reloader: Reloader, shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        got = hangups.recv() => match got {
                            Some(()) => reloader.trigger(),
                            None => break,
                        },
                    }
                }
            });
        }
        Err(e) => tracing::warn!("cannot listen for SIGHUP: {e}"),
    }
}

#[cfg(not(unix))]
fn spawn_sighup_listener(_reloader: Reloader, _shutdown: CancellationToken) {}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_reload_is_one_line_with_the_first_problems() {
        let problems: Vec<String> = (1..=5).map(|i| format!("words.txt:{i}:1: empty")).collect();
        let line = super::rejected_line(problems);
        assert_eq!(
            line,
            "config not reloaded, the previous one keeps running: words.txt:1:1: empty; \
             words.txt:2:1: empty; words.txt:3:1: empty (and 2 more; `qunbot check` lists them all)"
        );
        assert!(!line.contains('\n'));
    }

    use super::*;

    fn config(listen: &str, secret: Option<&str>) -> Config {
        let secret = secret.map_or(String::new(), |s| format!("secret = \"{s}\"\n"));
        let text = format!("[gateway]\nlisten = \"{listen}\"\n{secret}");
        Config::parse(
            std::path::Path::new("bot-config.toml"),
            &text,
            &Env::default(),
        )
        .expect("valid")
    }

    #[test]
    fn a_reload_cannot_remove_the_secret_of_a_webhook_open_beyond_loopback() {
        let current = config("0.0.0.0:8080", Some("s3cret"));
        let err =
            keeps_authentication(&current, config("0.0.0.0:8080", None)).expect_err("refused");
        assert!(
            err.problems()[0].contains("gateway.secret cannot be removed"),
            "{err}"
        );
        assert!(keeps_authentication(&current, config("0.0.0.0:8080", Some("new"))).is_ok());
    }

    #[test]
    fn a_reload_cannot_remove_the_access_token_of_a_reverse_websocket_open_beyond_loopback() {
        let parse = |token: &str| {
            let text = format!(
                "[gateway]\nlisten = \"0.0.0.0:8080\"\nsecret = \"s\"\ntransport = \"ws-reverse\"\n{token}"
            );
            Config::parse(
                std::path::Path::new("bot-config.toml"),
                &text,
                &Env::default(),
            )
            .expect("valid")
        };
        let current = parse("access_token = \"t\"\n");
        let err = keeps_authentication(&current, parse("")).expect_err("refused");
        assert!(
            err.problems()[0].contains("gateway.access_token cannot be removed"),
            "{err}"
        );
    }

    #[test]
    fn on_loopback_a_reload_may_remove_the_secret() {
        let current = config("127.0.0.1:8080", Some("s3cret"));
        assert!(keeps_authentication(&current, config("127.0.0.1:8080", None)).is_ok());
    }
}
