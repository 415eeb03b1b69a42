//! A careless operator while the daemon runs: the config or the word list turned
//! into garbage, emptied, deleted, replaced by a folder, or grown huge. The error
//! names the file (and the line where there is one), the running rules stay, and
//! intake never waits on a reload.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qunbot::simulator::events::VirtualMember;

use crate::helpers::{spawn_app_configured, TestApp, TEST_CONFIG, WORDS};

/// How long a half-million-word list may take to compile in a debug build.
const LONG_PATIENCE: Duration = Duration::from_secs(120);

const FILTER: &str = "[filter]\nwords_file = \"words.txt\"\n";

/// What an operator can do to a file by mistake.
#[derive(Debug, Clone, Copy)]
enum Mistake {
    Garbage,
    Emptied,
    Deleted,
    Folder,
}

const MISTAKES: [Mistake; 4] = [
    Mistake::Garbage,
    Mistake::Emptied,
    Mistake::Deleted,
    Mistake::Folder,
];

fn make(mistake: Mistake, path: &Path) {
    match mistake {
        // Bytes from a binary pasted over the file: invalid UTF-8 and NULs.
        Mistake::Garbage => {
            std::fs::write(path, b"\x7fELF\x02\x01\x01\0\0\xff\xfe[[\n=\"\x80").unwrap()
        }
        Mistake::Emptied => std::fs::write(path, b"").unwrap(),
        Mistake::Deleted => std::fs::remove_file(path).unwrap(),
        Mistake::Folder => {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
        }
    }
}

fn undo(path: &Path, good: &str) {
    if path.is_dir() {
        std::fs::remove_dir(path).unwrap();
    }
    std::fs::write(path, good).unwrap();
}

/// Waits for the `n`th refused reload and returns its problems.
async fn nth_rejection(app: &TestApp, n: usize) -> Vec<String> {
    let rejected = app.wait_logged("config.rejected", n).await;
    rejected[n - 1].detail["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The running rules still hold: the config's groups are served, and the word
/// list's words are recalled.
async fn the_running_rules_hold(app: &mut TestApp, spammer: i64) {
    let member = VirtualMember::new(spammer, "广告号", "member");
    let ad = app.member_says(&member, "加群").await;
    let group = app.group.clone();
    app.barrier(&group).await;
    let recalled = app.sim.performed("delete_msg");
    assert!(
        recalled
            .iter()
            .any(|c| c.params["message_id"] == ad["message_id"]),
        "the word list still works"
    );
}

async fn each_mistake_is_refused_naming_the_file(file: &str, good: &str) {
    let mut app = spawn_app_configured(FILTER, None).await;
    let path: PathBuf = app.dir.path().join(file);
    for (i, mistake) in MISTAKES.into_iter().enumerate() {
        make(mistake, &path);
        let problems = nth_rejection(&app, i + 1).await;
        let named = format!("{}", path.display());
        assert!(
            problems.iter().any(|p| p.starts_with(&named)),
            "{mistake:?}: {problems:?}"
        );
        the_running_rules_hold(&mut app, 71000 + i as i64).await;
        undo(&path, good);
        app.wait_logged("config.reloaded", i + 1).await;
    }
    assert_eq!(app.logged("config.rejected").await.len(), MISTAKES.len());
}

#[tokio::test]
async fn a_config_turned_to_garbage_emptied_deleted_or_made_a_folder_is_refused_and_the_old_one_runs(
) {
    let good = format!("{TEST_CONFIG}\n{FILTER}");
    each_mistake_is_refused_naming_the_file("bot-config.toml", &good).await;
}

#[tokio::test]
async fn a_word_list_turned_to_garbage_emptied_deleted_or_made_a_folder_is_refused_and_the_old_one_runs(
) {
    each_mistake_is_refused_naming_the_file("words.txt", WORDS).await;
}

#[tokio::test]
async fn a_garbage_line_in_the_word_list_is_named_by_its_line() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let path = app.dir.path().join("words.txt");
    std::fs::write(&path, format!("{WORDS}[\n")).unwrap();
    let problems = nth_rejection(&app, 1).await;
    let line = WORDS.lines().count() + 1;
    let at = format!("words.txt:{line}:1:");
    assert!(problems.iter().any(|p| p.contains(&at)), "{problems:?}");
    the_running_rules_hold(&mut app, 72000).await;
}

/// `n` distinct three-character words of common ideographs.
fn many_words(n: usize) -> String {
    let ideograph = |k: usize| char::from_u32(0x4E00 + (k % 2000) as u32).unwrap();
    let mut text = String::from("[ad]\n加群\n");
    for i in 0..n {
        text.extend([
            ideograph(i / 4_000_000),
            ideograph(i / 2000),
            ideograph(i),
            '\n',
        ]);
    }
    text
}

#[tokio::test]
async fn a_word_list_grown_to_half_a_million_lines_loads_while_intake_goes_on() {
    let mut app = spawn_app_configured(FILTER, None).await;
    let path = app.dir.path().join("words.txt");
    std::fs::write(&path, many_words(500_000)).unwrap();

    // Events keep being answered while the list compiles: no gap between two
    // answers comes near the time the reload took (a reload that blocked
    // intake would leave one gap as long as the compile).
    let written = Instant::now();
    let mut last_answer = written;
    let mut longest_gap = Duration::ZERO;
    let mut pushed = 0;
    let deadline = written + LONG_PATIENCE;
    while app.logged("config.reloaded").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no reload within {LONG_PATIENCE:?}"
        );
        let event = app.says(&format!("消息 {pushed}"));
        assert_eq!(app.push(&event).await, 204);
        pushed += 1;
        longest_gap = longest_gap.max(last_answer.elapsed());
        last_answer = Instant::now();
    }
    let reload_took = written.elapsed();
    assert!(
        longest_gap * 4 < reload_took,
        "intake paused {longest_gap:?} during a reload of {reload_took:?}"
    );
    assert!(app.logged("config.rejected").await.is_empty());
    let filter = app.daemon().config().filter.clone().unwrap();
    // Traditional forms fold onto simplified ones, so fewer words than lines.
    assert!(filter.filter.len() > 400_000, "{}", filter.filter.len());
    the_running_rules_hold(&mut app, 73000).await;
    assert_eq!(app.logged("message.group").await.len(), pushed + 2);
}
