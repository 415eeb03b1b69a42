//! Starting the daemon binary: a database it cannot use, and a webhook it must not expose unsigned.

use std::process::{Command, Stdio};

use crate::helpers::{PATIENCE, TEST_CONFIG};

/// Runs `command` to its end, or kills it and fails the test if it is still
/// running after `patience` (a daemon that should have refused to start).
fn exits_within(mut command: Command, patience: std::time::Duration) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + patience;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {patience:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `qunbot run` on `config` with its database at `database`, on a free port.
fn run_with_database(config: &std::path::Path, database: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qunbot"));
    command
        .args(["run", "--config"])
        .arg(config)
        .env("QUNBOT_LISTEN", "127.0.0.1:0")
        .env("QUNBOT_DATABASE", database)
        .env("QUNBOT_ACCESS_TOKEN", "t")
        .env("QUNBOT_SECRET", "s")
        .env("RUST_LOG", "error");
    command
}

fn run_daemon_with_database(database: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot-config.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    exits_within(run_with_database(&config, database), PATIENCE)
}

#[test]
fn a_database_in_a_missing_folder_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_daemon_with_database(&dir.path().join("gone/qunbot.db"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable QUNBOT_DATABASE: the database's folder"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_database_path_that_cannot_be_opened_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should be: SQLite cannot open it.
    let output = run_daemon_with_database(dir.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("qunbot: cannot open database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A config without a secret, served on `listen`, in its own folder.
fn unsigned_config(listen: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot-config.toml");
    let text = format!("[gateway]\napi_url = \"http://127.0.0.1:9\"\nlisten = \"{listen}\"\n");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// Runs the binary with `env` and no other `QUNBOT_*` variables from the caller's environment.
fn qunbot(args: &[&str], config: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qunbot"));
    command.args(args).arg("--config").arg(config);
    for (var, _) in qunbot::config::OVERRIDES {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.env("RUST_LOG", "error").output().unwrap()
}

#[test]
fn run_without_a_secret_refuses_a_non_loopback_listen_and_names_the_way_out() {
    // Refused before anything is opened or bound: nothing listens on 0.0.0.0.
    let (dir, config) = unsigned_config("0.0.0.0:0");
    let output = qunbot(&["run"], &config, &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("qunbot: refusing to start: gateway.listen is 0.0.0.0:0")
            && stderr.contains("gateway.secret")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !dir.path().join("qunbot.db").exists(),
        "refused before the database was opened"
    );
}

#[test]
fn check_without_a_secret_warns_that_unsigned_events_are_accepted_but_passes() {
    let (_dir, config) = unsigned_config("127.0.0.1:8080");
    let output = qunbot(&["check"], &config, &[]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bot-config.toml:1:1: warning: no gateway.secret")
            && stderr.contains("unsigned events pushed to the webhook will be accepted")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("valid"), "{stdout}");
}

#[test]
fn an_empty_secret_variable_is_a_config_error_not_no_secret() {
    let (_dir, config) = unsigned_config("127.0.0.1:0");
    let output = qunbot(&["check"], &config, &[("QUNBOT_SECRET", "")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable QUNBOT_SECRET: the secret is empty"),
        "{stderr}"
    );
}

/// Runs `command` as an unprivileged user when the tests run as root, for whom
/// file permissions do not apply.
fn unprivileged(command: Command) -> Command {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return command;
    }
    let mut wrapped = Command::new("setpriv");
    wrapped.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    wrapped.arg(command.get_program()).args(command.get_args());
    for (var, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(var, value),
            None => wrapped.env_remove(var),
        };
    }
    wrapped
}

/// Runs `qunbot run` as an unprivileged user with a readable config in `dir`
/// and `database`; asserts it refused to start (exit 1, no panic) and returns
/// what it said.
fn refused_at_start_as_nobody(dir: &std::path::Path, database: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let config = dir.join("bot-config.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = exits_within(unprivileged(run_with_database(&config, database)), PATIENCE);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_read_only_database_file_is_refused_at_start_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("qunbot.db");
    qunbot::store::Store::open(&database)
        .await
        .unwrap()
        .close()
        .await;
    for leftover in ["qunbot.db-wal", "qunbot.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(leftover));
    }
    // The folder writable, the file not.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o444)).unwrap();
    let stderr = refused_at_start_as_nobody(dir.path(), &database);
    assert!(stderr.contains("qunbot: cannot write database"), "{stderr}");
    assert!(stderr.contains("readonly database"), "{stderr}");
}

#[test]
fn the_simulator_refuses_a_non_loopback_address_unless_told_to_expose_itself() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qunbot"));
    command.args(["simulate", "--listen", "0.0.0.0:0"]);
    let output = exits_within(command, PATIENCE);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("0.0.0.0:0 is not a loopback address") && stderr.contains("--expose"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_read_only_database_folder_is_refused_at_start_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let stderr = refused_at_start_as_nobody(dir.path(), &folder.join("qunbot.db"));
    assert!(stderr.contains("qunbot: cannot open database"), "{stderr}");
    assert!(stderr.contains("data/qunbot.db"), "{stderr}");
    assert!(!folder.join("qunbot.db").exists(), "nothing half-created");
}

#[tokio::test]
async fn the_daemons_log_written_to_a_file_is_plain_text_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot-config.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    let log = dir.path().join("qunbot.log");
    let mut command = run_with_database(&config, &dir.path().join("qunbot.db"));
    command
        .env("RUST_LOG", "info")
        .env("QUNBOT_GATEWAY_API_URL", "http://127.0.0.1:9/")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut daemon = command.spawn().unwrap();
    crate::helpers::eventually("the daemon logs its start", || async {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("INFO"))
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
}
