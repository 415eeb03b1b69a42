//! Fuzzing the parsers that read what outsiders and operators write: the
//! webhook body, CQ codes, slash-commands, the config, the word list, and
//! schedules and durations.
//!
//! Property tests over bytes: each case is either arbitrary bytes, arbitrary
//! text, or a seed from `fuzz/corpus/<target>/` (and the shipped rule files)
//! bent by a few random edits: bytes flipped, tokens of the format inserted,
//! pieces cut, repeated (deep nesting) or spliced in from another seed. Every
//! target must not panic, must finish (a watchdog bounds each target), and
//! must not allocate more at its peak than a bound proportional to its input
//! (counted on the thread that runs the case: the filter compiles part of a
//! big list on a second thread, whose share the bound does not see).
//!
//! The budget is `QUNBOT_FUZZ_CASES` cases per target (1,000 by default, a few
//! seconds in CI). A long run:
//! `QUNBOT_FUZZ_CASES=100000 cargo test --release --lib fuzz`.
//! An input that ever failed belongs in the corpus.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

/// How long one target's whole run may take before it counts as a hang.
const WATCHDOG: Duration = Duration::from_secs(300);

fn cases() -> u32 {
    std::env::var("QUNBOT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seeds of `target`: its corpus folder, plus `extra` files of the project.
fn seeds(target: &str, extra: &[&str]) -> Vec<Vec<u8>> {
    let dir = manifest().join("fuzz/corpus").join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    paths.sort();
    paths.extend(extra.iter().map(|f| manifest().join(f)));
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!seeds.is_empty(), "{target} has a corpus");
    seeds
}

/// One random edit of a seed.
#[derive(Clone, Debug)]
enum Edit {
    Flip {
        at: usize,
        bits: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Token {
        at: usize,
        token: usize,
    },
    Cut {
        at: usize,
        len: usize,
    },
    Repeat {
        at: usize,
        len: usize,
        times: usize,
    },
    Splice {
        at: usize,
        seed: usize,
        from: usize,
        len: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, 1..=255u8).prop_map(|(at, bits)| Edit::Flip { at, bits }),
        (at, vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (at, any::<usize>()).prop_map(|(at, token)| Edit::Token { at, token }),
        (at, 1..64usize).prop_map(|(at, len)| Edit::Cut { at, len }),
        (at, 1..8usize, 1..300usize).prop_map(|(at, len, times)| Edit::Repeat { at, len, times }),
        (at, any::<usize>(), any::<usize>(), 1..128usize).prop_map(|(at, seed, from, len)| {
            Edit::Splice {
                at,
                seed,
                from,
                len,
            }
        }),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit], seeds: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        let pos = |at: usize| if len == 0 { 0 } else { at % (len + 1) };
        match edit {
            Edit::Flip { at, bits } if len > 0 => bytes[at % len] ^= bits,
            Edit::Flip { .. } => {}
            Edit::Insert { at, bytes: new } => {
                let at = pos(*at);
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::Token { at, token } => {
                let at = pos(*at);
                let token = tokens[token % tokens.len()].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            Edit::Cut { at, len: n } => {
                let at = pos(*at).min(len);
                bytes.drain(at..(at + n).min(len));
            }
            Edit::Repeat { at, len: n, times } => {
                let at = pos(*at).min(len);
                let piece: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                let repeated = piece.repeat(*times);
                bytes.splice(at..at, repeated);
            }
            Edit::Splice {
                at,
                seed,
                from,
                len: n,
            } => {
                let other = &seeds[seed % seeds.len()];
                if !other.is_empty() {
                    let from = from % other.len();
                    let piece = &other[from..(from + n).min(other.len())];
                    let at = pos(*at);
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
        }
    }
    bytes
}

/// Inputs for a target: arbitrary bytes, arbitrary text, or edited seeds.
fn inputs(seeds: Vec<Vec<u8>>, tokens: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        1 => vec(any::<u8>(), 0..512),
        1 => any::<String>().prop_map(String::into_bytes),
        6 => (0..n, vec(edit(), 0..10))
            .prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits, &seeds, tokens)),
    ]
    .boxed()
}

/// Runs `check` on `cases()` inputs of `target` in a thread of its own, and fails
/// if a case fails, panics, allocates more at its peak than `peak_bound(input
/// length)` bytes, or the whole run outlasts [`WATCHDOG`].
fn fuzz<S, F>(
    target: &'static str,
    extra_seeds: &'static [&'static str],
    tokens: &'static [&'static str],
    setup: impl FnOnce() -> S + Send + 'static,
    peak_bound: fn(usize) -> u64,
    check: F,
) where
    F: Fn(&mut S, &[u8]) -> Result<(), TestCaseError> + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            let state = std::cell::RefCell::new(setup());
            let mut runner = TestRunner::new(RunnerConfig {
                cases: cases(),
                failure_persistence: None,
                ..RunnerConfig::default()
            });
            let strategy = inputs(seeds(target, extra_seeds), tokens);
            let outcome = runner.run(&strategy, |input| {
                let mut verdict = Ok(());
                let info = allocation_counter::measure(|| {
                    verdict = check(&mut state.borrow_mut(), &input)
                });
                verdict?;
                let bound = peak_bound(input.len());
                prop_assert!(
                    info.bytes_max <= bound,
                    "{target}: {} bytes at the peak for {} bytes of input (bound {bound})",
                    info.bytes_max,
                    input.len()
                );
                Ok(())
            });
            let _ = done_tx.send(outcome.map_err(|e| e.to_string()));
        })
        .expect("a fuzz thread starts");
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{target}: {failure}"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{target}: still running after {WATCHDOG:?}: a hang")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().err();
            panic!("{target}: the fuzz thread panicked: {panic:?}");
        }
    }
}

const MIB: u64 = 1024 * 1024;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn fuzz_the_webhook_body_parser() {
    use crate::gateway::onebot::wire;
    fuzz(
        "webhook",
        &[],
        &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ",",
            ":",
            "\\u",
            "\\ud83d",
            "\\ude00",
            "\\\"",
            "null",
            "1e309",
            "-0",
            "18446744073709551616",
            "\"message\":",
            "\"post_type\":\"message\"",
            "\"message_type\":\"group\"",
            "[CQ:at,qq=1]",
            "\"type\":\"text\"",
            "\"data\":{",
        ],
        || (),
        |len| 4 * MIB + 64 * len as u64,
        |(), body| {
            if let Ok(event) = wire::parse_event(body) {
                // What the journal stores must serialise.
                prop_assert!(serde_json::to_string(&event).is_ok());
                let _ = event.dedup_key();
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_cq_code_parser() {
    use crate::gateway::onebot::cq;
    fuzz(
        "cq",
        &[],
        &[
            "[CQ:", "]", ",", "=", "&#91;", "&#93;", "&#44;", "&amp;", "at", "qq=", "image", "url=",
        ],
        || (),
        |len| MIB + 64 * len as u64,
        |(), input| {
            let message = cq::parse(&text(input));
            // What it parsed writes back and reads again as the same message.
            let written = cq::format(&message);
            prop_assert_eq!(cq::parse(&written), message);
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_slash_commands() {
    use crate::domain::Role;
    use crate::features::testkit::{said, Bot, OPERATOR};
    use crate::gateway::onebot::cq;
    fuzz(
        "command",
        &[],
        &[
            "/",
            "／",
            " ",
            "@",
            "mute",
            "禁言",
            "redpacket",
            "words",
            "add",
            "del",
            "test",
            "stats",
            "silent",
            "flashsale",
            "now",
            "10m",
            "1d",
            "99999999999999999999",
            "-1",
            "0",
            "分钟",
            "天",
            "\u{3000}",
            "\u{200b}",
            "[CQ:at,qq=7]",
            "[CQ:at,qq=all]",
            "[CQ:reply,id=1]",
        ],
        || Bot::new("[filter]\nwords_file = \"words.txt\"\n"),
        |len| 8 * MIB + 256 * len as u64,
        |bot, input| {
            for role in [Role::Member, Role::Admin] {
                let user = if role == Role::Admin { OPERATOR } else { 60 };
                // Read as CQ codes, so the input carries @mentions and replies too.
                let event = bot.says(user, role, cq::parse(&text(input)));
                let decision = bot.on(event);
                for answer in said(&decision) {
                    prop_assert!(
                        answer.chars().count() <= 1200,
                        "an answer of {} characters to {:?}: {answer}",
                        answer.chars().count(),
                        text(input)
                    );
                }
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_config_parser() {
    use crate::config::{Config, Env};
    fuzz(
        "config",
        &["bot-config.toml"],
        &[
            "[",
            "]",
            "[[",
            "]]",
            "=",
            "\"",
            "'''",
            "\n",
            "${",
            "}",
            ":-",
            "[gateway]",
            "[[groups]]",
            "[filter]",
            "id = ",
            "cron = ",
            "\"0 0 9 * * *\"",
            "\"10m\"",
            "\"1000000000000000y\"",
            "9223372036854775807",
            "-1",
            "nan",
            "inf",
            "{ }",
        ],
        || {
            Env::default()
                .with("QUNBOT_ACCESS_TOKEN", "t")
                .with("QUNBOT_SECRET", "s")
        },
        // The shipped word list compiles once per valid case.
        |len| 64 * MIB + 256 * len as u64,
        |env, input| {
            // Beside the shipped rule files, which a valid case reads.
            let path = manifest().join("bot-config.toml");
            let _ = Config::parse(&path, &text(input), env);
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_word_list_parser() {
    use crate::filter::{Filter, Normalization, WordList};
    fuzz(
        "words",
        &["sensitive-words.txt"],
        &[
            "[", "]", "\n", "#", "[allow]", "[ad]", " ", "\u{3000}", "ｗ", "①", "加", "群", "\r",
        ],
        || (),
        |len| 16 * MIB + 4096 * len as u64,
        |(), input| {
            let text = text(input);
            let list = WordList::parse(&text, Normalization::default());
            if list.errors().next().is_none() {
                let filter = Filter::new(&list, Normalization::default());
                let chars = text.chars().count();
                for hit in filter.scan(&text) {
                    prop_assert!(hit.start < hit.end && hit.end <= chars);
                }
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_schedule_and_duration_parsers() {
    use crate::config::schedule::{parse_cron, parse_instant};
    use crate::features::commands::parse_duration;
    fuzz(
        "schedule",
        &[],
        &[
            "*",
            "/",
            "-",
            ",",
            "?",
            "L",
            "W",
            "#",
            " ",
            "0",
            "59",
            "60",
            "31",
            "Feb",
            "Mon",
            "99999999999",
            "d",
            "h",
            "m",
            "s",
            "ms",
            "y",
            "分钟",
            "天",
            ":",
            "T",
            "+08:00",
        ],
        || (),
        |len| 4 * MIB + 256 * len as u64,
        |(), input| {
            let text = text(input);
            let _ = parse_duration(&text);
            let _ = humantime::parse_duration(&text);
            let _ = parse_instant(&text, chrono_tz::Asia::Shanghai);
            if let Ok(schedule) = parse_cron(&text) {
                // Finding the next fires must end, however odd the schedule.
                let now = chrono::Utc::now();
                let _ = schedule.after(&now).take(3).count();
            }
            Ok(())
        },
    );
}

#[test]
fn the_allocation_bound_is_measured_not_vacuous() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![0u8; 100_000]);
    });
    assert!(info.bytes_max >= 100_000, "{info:?}");
}
