//! `qunbot scan` as a whole process against its JavaScript peer, mint-filter
//! (npm), on the same list and lines: each starts, loads the real 65k list,
//! reads 200,000 generated chat messages from stdin, matches each line with
//! one call, and writes a JSON line per message. Reports each one's MB/s
//! (input bytes over wall time, best of `BENCH_RUNS`, interleaved) and the ratio.
//!
//! `cargo bench --bench scan_peer` (needs ../shared/bench/sensitive-dict-65k.txt,
//! node and npm: mint-filter is installed into benches/scan_peer on the first run).
//! `BENCH_LINES` (default 200000), `BENCH_RUNS` (default 5).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

mod support;
use support::chat::{self, shared_dictionary, word_list, SHARED_DICTIONARY};
use support::env_usize;

const SEED: u64 = 20261125;

/// Runs `command` with `input` on stdin and its output to `output`; the wall time.
fn timed(command: &mut Command, input: &Path, output: &Path) -> Option<Duration> {
    let stdin = std::fs::File::open(input).ok()?;
    let stdout = std::fs::File::create(output).ok()?;
    let started = Instant::now();
    let status = command
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let took = started.elapsed();
    status.success().then_some(took)
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

fn main() {
    let Some(words) = shared_dictionary() else {
        println!("scan_peer: {SHARED_DICTIONARY} not found; nothing measured");
        return;
    };
    let peer = Path::new("benches/scan_peer");
    if !peer.join("node_modules/mint-filter").exists() {
        let installed = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(peer)
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            println!("scan_peer: npm install of mint-filter failed; nothing measured");
            return;
        }
    }
    let count = env_usize("BENCH_LINES", 200_000);
    let runs = env_usize("BENCH_RUNS", 5);
    // Kept after the run, to profile either side by hand.
    let dir = Path::new("target/bench-scan-peer");
    std::fs::create_dir_all(dir).expect("a folder under target");
    let list = dir.join("words.txt");
    std::fs::write(&list, word_list(&words)).expect("list written");
    let rng = &mut StdRng::seed_from_u64(SEED);
    let mut messages = Vec::new();
    while messages.len() < count {
        messages.extend(chat::messages(rng, &words, 1_000_000));
    }
    messages.truncate(count);
    let input = dir.join("lines.txt");
    let text = messages.join("\n") + "\n";
    std::fs::write(&input, &text).expect("lines written");
    let bytes = text.len() as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "scan_peer: {count} lines, {:.1} MB, {} words, {cores} cores, best of {runs}",
        bytes / 1e6,
        words.len()
    );
    let qunbot = env!("CARGO_BIN_EXE_qunbot");
    let ours = dir.join("qunbot.jsonl");
    let theirs = dir.join("mint.jsonl");
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").expect("empty input written");
    // Each side as a command with its stdin and stdout files: the wall time.
    let scan = |stdin: &Path| {
        let mut command = Command::new(qunbot);
        command.args(["scan", "--words"]).arg(&list).env_clear();
        timed(&mut command, stdin, &ours)
    };
    let mint = |stdin: &Path| {
        let mut command = Command::new("node");
        command.arg(peer.join("mint.js")).arg(&list);
        timed(&mut command, stdin, &theirs)
    };
    // Best whole run of each, then best start-and-load alone (empty input).
    let mut best = [Duration::MAX; 4];
    for _ in 0..runs {
        for (i, took) in [scan(&empty), mint(&empty), scan(&input), mint(&input)]
            .into_iter()
            .enumerate()
        {
            let Some(took) = took else {
                println!("scan_peer: a run failed");
                return;
            };
            let at = [2, 3, 0, 1][i];
            best[at] = best[at].min(took);
        }
    }
    let mb_s = |d: Duration| bytes / 1e6 / d.as_secs_f64();
    for (label, took, start, out) in [
        ("qunbot scan", best[0], best[2], &ours),
        ("mint-filter (node)", best[1], best[3], &theirs),
    ] {
        println!(
            "  {label:<20} {:>7.2} s  {:>6.1} MB/s  ({} JSON lines; start and load {:.2} s, then {:.1} MB/s)",
            took.as_secs_f64(),
            mb_s(took),
            lines_in(out),
            start.as_secs_f64(),
            bytes / 1e6 / (took - start.min(took)).as_secs_f64(),
        );
    }
    println!(
        "  ratio (qunbot ÷ mint-filter throughput): {:.2}×",
        best[1].as_secs_f64() / best[0].as_secs_f64()
    );
}
