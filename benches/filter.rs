//! Filter throughput, called once per message as the daemon does, side by side
//! with raw aho-corasick (leftmost-longest, default kind) over the same
//! unnormalised messages. Reports MB/s, ns per message (p50/p99), the ratio
//! R = filter time ÷ raw time, and the 64k dictionary's build time and memory.
//!
//! `cargo bench --bench filter`. The shared 65k dictionary at
//! ../shared/bench/sensitive-dict-65k.txt is measured too when present.
//! Environment: `BENCH_MB` (default 12) sets the text per dictionary;
//! `BENCH_DICT` runs only the dictionaries whose name contains it (`64000`,
//! `shared`); `BENCH_ONLY` (`raw`, `on`, `default`, `off`) times one contender alone, for
//! a profiler.

use std::alloc::System;
use std::time::{Duration, Instant};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use qunbot::filter::{Filter, Folds, Normalization, WordList};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 20261123;

mod support;
use support::chat::{ideograph, messages, shared_dictionary, word_list};
use support::env_usize;

/// Counts heap bytes, so the filter's memory is measured rather than estimated.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn generated_dictionary(rng: &mut StdRng, n: usize) -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    while words.len() < n {
        let word: String = if rng.random_ratio(1, 20) {
            let len = rng.random_range(3..8);
            (0..len)
                .map(|_| char::from(b'a' + rng.random_range(0..26)))
                .collect()
        } else {
            let len = rng.random_range(2..5);
            (0..len).map(|_| ideograph(rng)).collect()
        };
        words.insert(word);
    }
    words.into_iter().collect()
}

struct Run {
    /// Best round.
    total: Duration,
    /// Every round, in order.
    rounds: Vec<Duration>,
    p50: Duration,
    p99: Duration,
    hits: usize,
}

impl Run {
    /// This run's time over `reference`'s: the median of the per-round ratios.
    /// Rounds are interleaved, so a round's ratio compares the two under the
    /// same conditions, and the median drops the rounds a neighbour disturbed.
    fn ratio(&self, reference: &Run) -> f64 {
        let mut ratios: Vec<f64> = self
            .rounds
            .iter()
            .zip(&reference.rounds)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }
}

/// Rounds over all messages per contender, interleaved so that drift on a
/// shared machine weighs on all of them alike; then per-message times for p50/p99.
const ROUNDS: usize = 7;

type Scan<'a> = Box<dyn Fn(&str) -> usize + 'a>;

/// A contender that does nothing (`BENCH_ONLY` names another).
fn idle<'a>() -> Scan<'a> {
    Box::new(|_| 0)
}

fn measure(messages: &[String], contenders: &[Scan]) -> Vec<Run> {
    let mut rounds = vec![Vec::new(); contenders.len()];
    let mut hits = vec![0; contenders.len()];
    for _ in 0..ROUNDS {
        for (i, scan) in contenders.iter().enumerate() {
            let started = Instant::now();
            hits[i] = messages.iter().map(|m| scan(m)).sum();
            rounds[i].push(started.elapsed());
        }
    }
    contenders
        .iter()
        .zip(rounds)
        .zip(hits)
        .map(|((scan, rounds), hits)| {
            let mut each: Vec<Duration> = messages
                .iter()
                .map(|m| {
                    let t = Instant::now();
                    std::hint::black_box(scan(m));
                    t.elapsed()
                })
                .collect();
            each.sort();
            Run {
                total: rounds.iter().copied().min().unwrap_or_default(),
                rounds,
                p50: each[each.len() / 2],
                p99: each[each.len() * 99 / 100],
                hits,
            }
        })
        .collect()
}

fn report(label: &str, bytes: usize, n: usize, run: &Run) {
    let mb_s = bytes as f64 / 1e6 / run.total.as_secs_f64();
    let ns = run.total.as_nanos() as f64 / n as f64;
    println!(
        "  {label:<34} {mb_s:>8.1} MB/s {ns:>8.0} ns/msg   p50 {:>6} ns  p99 {:>6} ns   hits {}",
        run.p50.as_nanos(),
        run.p99.as_nanos(),
        run.hits
    );
}

/// Heap bytes still held of those allocated since the region began, in MiB
/// (reallocations are already in both counts).
fn mib_held(region: &Region<System>) -> f64 {
    let change = region.change();
    (change.bytes_allocated as f64 - change.bytes_deallocated as f64) / (1024.0 * 1024.0)
}

fn bench_dictionary(name: &str, words: &[String], seed: u64, bytes: usize) {
    let wanted = std::env::var("BENCH_DICT").unwrap_or_default();
    if !name.contains(&wanted) {
        return;
    }
    let rng = &mut StdRng::seed_from_u64(seed);
    let text = word_list(words);
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    let list = WordList::parse(&text, Normalization::default());
    let parsed = started.elapsed();
    // Every fold on: pinyin (full, the default) and homophones for the one category.
    let folds = Folds {
        homophones: ["bench".to_string()].into(),
        ..Folds::default()
    };
    let filter = Filter::with_folds(&list, Normalization::default(), folds);
    let build = started.elapsed();
    drop(list);
    let held = mib_held(&region);
    let off = Filter::new(
        &WordList::parse(&text, Normalization::OFF),
        Normalization::OFF,
    );
    // The same without homophones (opt-in per category; pinyin is on by default).
    let plain = Filter::new(
        &WordList::parse(&text, Normalization::default()),
        Normalization::default(),
    );
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    let raw: AhoCorasick = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(words)
        .expect("raw automaton");
    let raw_build = started.elapsed();
    let raw_held = mib_held(&region);
    let msgs = messages(rng, words, bytes);
    let total_bytes: usize = msgs.iter().map(String::len).sum();

    println!(
        "{name}: {} words ({} kept after parsing), {} messages, {:.1} MB",
        words.len(),
        filter.len(),
        msgs.len(),
        total_bytes as f64 / 1e6,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  build {:.0} ms (parse {:.0} + compile {:.0}; raw automaton alone {:.0} ms); heap held {held:.1} MiB (raw automaton {raw_held:.1} MiB), counted by the allocator",
        ms(build),
        ms(parsed),
        ms(build - parsed),
        ms(raw_build),
    );
    println!(
        "  kinds: raw {:?}, filter {}",
        raw.kind(),
        filter.automaton_kind()
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let skip = |mode: &str| !only.is_empty() && only != mode;
    // A skipped contender is decided once here, not per message inside the timing.
    let contender = |mode: &str, scan| if skip(mode) { idle() } else { scan };
    let runs = measure(
        &msgs,
        &[
            contender("raw", Box::new(|m| raw.find_iter(m).count())),
            contender("on", Box::new(|m| filter.scan(m).len())),
            contender("default", Box::new(|m| plain.scan(m).len())),
            contender("off", Box::new(|m| off.scan(m).len())),
        ],
    );
    let [raw_run, on_run, default_run, off_run] = &runs[..] else {
        unreachable!("four contenders")
    };
    for (mode, label, run) in [
        ("raw", "raw aho-corasick (leftmost-longest)", raw_run),
        ("on", "filter, every fold on", on_run),
        ("default", "filter, defaults (no homophones)", default_run),
        ("off", "filter, every normalisation off", off_run),
    ] {
        if !skip(mode) {
            report(label, total_bytes, msgs.len(), run);
        }
    }
    // `BENCH_SLOWEST=n` prints the n messages the filter took longest over.
    let slowest = env_usize("BENCH_SLOWEST", 0);
    if slowest > 0 {
        let mut timed: Vec<(Duration, &String)> = msgs
            .iter()
            .map(|m| {
                let t = Instant::now();
                std::hint::black_box(filter.scan(m));
                (t.elapsed(), m)
            })
            .collect();
        timed.sort_by_key(|t| std::cmp::Reverse(t.0));
        for (took, m) in timed.iter().take(slowest) {
            println!("  slow {:>7} ns  {m}", took.as_nanos());
        }
    }
    if only.is_empty() {
        println!(
            "  R (filter ÷ raw, median of {ROUNDS} interleaved rounds): all on {:.2}, defaults {:.2}, all off {:.2}",
            on_run.ratio(raw_run),
            default_run.ratio(raw_run),
            off_run.ratio(raw_run)
        );
    }
}

fn main() {
    let mb = env_usize("BENCH_MB", 12);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("filter benchmark: {mb} MB of generated chat per dictionary, seed {SEED}, {cores} cores, one thread");
    // Warm the traditional→simplified table so no build below pays for it.
    let warm = Instant::now();
    qunbot::filter::normalize::simplify('們');
    println!(
        "traditional→simplified table: {:.0} ms once per process",
        warm.elapsed().as_secs_f64() * 1e3
    );
    for n in [1_000, 64_000] {
        // Each dictionary and its messages from their own seed, so any one can run alone.
        let seed = SEED + n as u64;
        let words = generated_dictionary(&mut StdRng::seed_from_u64(seed), n);
        bench_dictionary(&format!("generated {n}"), &words, seed, mb * 1_000_000);
    }
    if let Some(words) = shared_dictionary() {
        bench_dictionary("shared sensitive-dict-65k", &words, SEED, mb * 1_000_000);
    }
}
