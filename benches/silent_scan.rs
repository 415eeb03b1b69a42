//! The due-member scan of reactivation: 1,000,000 members in 2,000 groups in
//! SQLite (the member table as the daemon writes it), 30 % of them silent past
//! the cutoff. The scan runs as the daemon's scanner runs it
//! ([`qunbot::roster_scan`]): one group at a time, every silent member of it up
//! to the production limit ([`SCAN_LIMIT`]). Reports the scan's time and the
//! process's peak memory, beside a bare full-table `COUNT(*)` per group over
//! the same table as the reference.
//!
//! `cargo bench --bench silent_scan` (env: BENCH_MEMBERS, default 1000000;
//! BENCH_GROUPS, default 2000; BENCH_PER_GROUP, default SCAN_LIMIT)

use std::time::Instant;

use chrono::{TimeZone, Utc};
use qunbot::domain::{GroupKey, Id, MemberKey, Role, RosterChange, RosterUpdate};
use qunbot::engine::{Commit, StateStore};
use qunbot::features::reactivation::SCAN_LIMIT;
use qunbot::store::{ReadModel, Store};

mod support;

use support::env_usize;

/// Peak resident memory of this process so far, in MiB (Linux's VmHWM).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    support::run_on_runtime(run())
}

async fn run() -> anyhow::Result<()> {
    let members = env_usize("BENCH_MEMBERS", 1_000_000);
    let groups = env_usize("BENCH_GROUPS", 2000);
    let per_group = env_usize("BENCH_PER_GROUP", SCAN_LIMIT as usize) as u32;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("silent-member scan: {members} members in {groups} groups, {cores} cores");

    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db")).await?;
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).unwrap();
    let started = Instant::now();
    // Member i last spoke i mod 30 days ago: a third past a 20-day cutoff.
    // Written group by group, as the table's key orders them, so the fill is quick.
    let mut batch = Vec::with_capacity(10_000);
    let mut silent_in = vec![0usize; groups];
    for i in 0..members {
        let silent_for = (i % 30) as i64 * 86_400 + (i as i64 % 86_400);
        if silent_for > 20 * 86_400 {
            silent_in[i * groups / members] += 1;
        }
        batch.push(RosterUpdate {
            member: MemberKey::new(
                &Id::number(10001000),
                &Id::number(900_000 + (i * groups / members) as i64),
                &Id::number(3_000_000 + i as i64),
            ),
            time: now.timestamp() - silent_for,
            change: RosterChange::Spoke {
                name: Some(format!("会员{i}")),
                role: Some(Role::Member),
            },
        });
        if batch.len() == batch.capacity() || i + 1 == members {
            store
                .commit(&Commit {
                    roster: std::mem::take(&mut batch),
                    ..Commit::default()
                })
                .await?;
        }
    }
    let size = std::fs::metadata(dir.path().join("bench.db"))?.len()
        + std::fs::metadata(dir.path().join("bench.db-wal")).map_or(0, |m| m.len());
    println!(
        "filled:    {members} members in {:.1} s, database {:.0} MiB; peak memory so far {:.0} MiB",
        started.elapsed().as_secs_f64(),
        size as f64 / (1 << 20) as f64,
        peak_mib()
    );

    let cutoff = now - chrono::Duration::days(20);
    let group_ids: Vec<GroupKey> = (0..groups)
        .map(|g| GroupKey {
            account: Id::number(10001000),
            group: Id::number(900_000 + g as i64),
        })
        .collect();
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        found = 0;
        for group in &group_ids {
            found += store
                .silent_members(std::slice::from_ref(group), cutoff, per_group)
                .await?
                .len();
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "scan:      {:.0} ms (best of 3), {found} members due ({per_group} a group at most); peak memory {:.0} MiB",
        best * 1e3,
        peak_mib()
    );

    let started = Instant::now();
    let all = store
        .member_counts()
        .await?
        .iter()
        .map(|c| c.n)
        .sum::<i64>();
    let reference = started.elapsed().as_secs_f64();
    println!(
        "reference: {:.0} ms  bare full-table count per group ({all} members); ratio scan ÷ reference = {:.2}",
        reference * 1e3,
        best / reference
    );
    let expected: usize = silent_in.iter().map(|n| (*n).min(per_group as usize)).sum();
    anyhow::ensure!(
        found == expected,
        "the scan found {found} silent members, not {expected}"
    );
    Ok(())
}
