//! `qunbot status` and `qunbot check` tell the operator about inputs the engine
//! gave up on, and `status` exits 1 for them so a script can alert.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use qunbot::store::{Commit, Failure, StateStore, Store};

use crate::helpers::TEST_CONFIG;

/// A config beside its database path (the database itself is not created).
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bot-config.toml");
        std::fs::write(&config, TEST_CONFIG).unwrap();
        Setup { dir, config }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("qunbot.db")
    }

    /// Runs `qunbot <command> --config …` with this setup's database.
    fn qunbot(&self, command: &str) -> Output {
        self.qunbot_with(command, &[])
    }

    /// As [`Setup::qunbot`], with more environment variables.
    fn qunbot_with(&self, command: &str, env: &[(&str, String)]) -> Output {
        let secrets = [
            ("QUNBOT_ACCESS_TOKEN", "t".to_string()),
            ("QUNBOT_SECRET", "s".to_string()),
        ];
        self.run(command, secrets.iter().chain(env))
    }

    /// `qunbot <command> --config …` with only `env` beside the database:
    /// none of the daemon's secrets.
    fn run<'a>(&self, command: &str, env: impl Iterator<Item = &'a (&'a str, String)>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qunbot"));
        cmd.arg(command).arg("--config").arg(&self.config);
        for (var, _) in qunbot::config::OVERRIDES {
            cmd.env_remove(var);
        }
        cmd.env("QUNBOT_DATABASE", self.database())
            .env("RUST_LOG", "error")
            .envs(env.map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    }
}

/// Opens (creating) the database, lets `write` do its part, and closes it again.
async fn with_store<F, Fut>(database: &Path, write: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = Store::open(database).await.unwrap();
    write(store.clone()).await;
    store.close().await;
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The engine quarantining an event it cannot read back, as it records one.
async fn quarantine_an_event(store: Store) {
    store
        .commit(&Commit {
            failed: vec![Failure::UnreadableEvent {
                id: 1,
                error: "unknown event shape".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn status_of_a_fresh_database_shows_zero_counts_and_exits_0() {
    let setup = Setup::new();
    with_store(&setup.database(), |_| async {}).await;

    let output = setup.qunbot("status");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = stdout(&output);
    for line in [
        "failed_events: 0",
        "quarantined_events: 0",
        "quarantined_timers: 0",
        "unhandled_events: 0",
        "pending_effects: 0",
        "outbox_pending: 0",
        "outbox_delivered: 0",
        "outbox_failed: 0",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in {stdout}");
    }
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[tokio::test]
async fn status_exits_1_and_shows_the_count_when_an_event_was_quarantined() {
    let setup = Setup::new();
    with_store(&setup.database(), quarantine_an_event).await;

    let output = setup.qunbot("status");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = stdout(&output);
    assert!(
        stdout.lines().any(|l| l == "quarantined_events: 1"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "failed_events: 0"), "{stdout}");
    assert!(
        stderr(&output).contains("1 input(s) failed or were quarantined"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn status_before_the_first_run_reports_no_database_and_creates_none() {
    let setup = Setup::new();
    let output = setup.qunbot("status");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("(none yet)"),
        "{}",
        stdout(&output)
    );
    assert!(!setup.database().exists(), "looking left no file behind");
}

#[tokio::test]
async fn check_warns_about_quarantined_events_naming_qunbot_status_but_passes() {
    let setup = Setup::new();
    with_store(&setup.database(), quarantine_an_event).await;

    let output = setup.qunbot("check");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let warnings: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| l.contains("qunbot status"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", stderr(&output));
    assert!(
        warnings[0].contains("warning: 0 event(s) failed, 1 event(s) and 0 timer(s) quarantined"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn check_says_nothing_of_a_database_without_trouble() {
    let setup = Setup::new();
    with_store(&setup.database(), |_| async {}).await;

    let output = setup.qunbot("check");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        !stderr(&output).contains("qunbot status"),
        "{}",
        stderr(&output)
    );
}

// Two workers: the simulator answers while this one waits on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_account_its_gateway_answers_for_and_warns_of_a_group_no_account_is_in() {
    let setup = Setup::new();
    let gateway = qunbot::simulator::Simulator::start(
        crate::helpers::loopback(),
        qunbot::simulator::SimulatorOptions::new("t", "s"),
    )
    .await
    .unwrap();
    gateway.join_group(123456, "测试群");
    let output = setup.qunbot_with("check", &[("QUNBOT_GATEWAY_API_URL", gateway.api_url())]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).lines().any(
            |l| l.starts_with("account 10001000 (simulator): answers at")
                && l.ends_with("managed groups: [123456]")
        ),
        "{}",
        stdout(&output)
    );
    let warnings: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| l.contains("no known account"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", stderr(&output));
    assert!(
        warnings[0].contains("35214638@chatroom (微信群)"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn status_shows_each_accounts_state_and_why_and_the_groups_no_account_is_in() {
    use qunbot::engine::Change;
    use qunbot::features::accounts::{LinkState, Present, Risk, Synced, NAME};
    let setup = Setup::new();
    let now = chrono::Utc::now();
    with_store(&setup.database(), |store| async move {
        let changes = vec![
            Change::record(
                NAME,
                "groups/10001000",
                &Synced {
                    nickname: Some("店小二".into()),
                    groups: vec![],
                    at: Some(now),
                },
            ),
            Change::record(
                NAME,
                "in/123456",
                &vec![Present {
                    account: qunbot::domain::Id::number(10001000),
                    since: now,
                }],
            ),
            Change::record(
                NAME,
                "risk/10001000",
                &Risk {
                    reason: "send_group_msg timed out".into(),
                    since: now,
                    until: now + chrono::Duration::hours(1),
                    repeat: 1,
                },
            ),
            Change::record(
                NAME,
                "link/wxid_bot2",
                &LinkState {
                    connected: false,
                    since: now,
                    reason: Some("silent for three heartbeat intervals".into()),
                },
            ),
        ];
        store
            .commit(&Commit {
                changes,
                ..Default::default()
            })
            .await
            .unwrap();
    })
    .await;

    let output = setup.qunbot("status");
    let stdout = stdout(&output);
    assert!(stdout.lines().any(|l| l == "accounts: 2"), "{stdout}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix:?} in {stdout}"))
            .to_string()
    };
    let first = line("account 10001000 (店小二): suspect until ");
    assert!(first.contains("(send_group_msg timed out)"), "{first}");
    assert!(first.contains("managed groups: [123456]"), "{first}");
    let second = line("account wxid_bot2: disconnected since ");
    assert!(
        second.contains("(silent for three heartbeat intervals)"),
        "{second}"
    );
    let missing = line("no_account: 35214638@chatroom (微信群)");
    assert!(missing.contains("automatic posts are missed"), "{missing}");
}

#[test]
fn check_and_status_read_a_config_whose_secrets_are_not_in_this_shell_with_a_warning() {
    let setup = Setup::new();
    // No gateway answers there: `check` notes it and goes on.
    let gateway = [("QUNBOT_GATEWAY_API_URL", "http://127.0.0.1:9/".to_string())];
    let without_secrets = |command: &str| setup.run(command, gateway.iter());
    let check = without_secrets("check");
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    for var in ["QUNBOT_ACCESS_TOKEN", "QUNBOT_SECRET"] {
        assert!(
            stderr(&check).contains(&format!("warning: environment variable {var} is not set"))
                && stderr(&check).contains("`qunbot run` needs it"),
            "{}",
            stderr(&check)
        );
    }
    assert_eq!(without_secrets("status").status.code(), Some(0));
}
