//! Starting the daemon binary with a database it cannot use.

use std::process::Command;

use crate::helpers::TEST_CONFIG;

fn run_daemon_with_database(database: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot-config.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    Command::new(env!("CARGO_BIN_EXE_qunbot"))
        .args(["run", "--config"])
        .arg(&config)
        .env("QUNBOT_LISTEN", "127.0.0.1:0")
        .env("QUNBOT_DATABASE", database)
        .env("QUNBOT_ACCESS_TOKEN", "t")
        .env("QUNBOT_SECRET", "s")
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
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
