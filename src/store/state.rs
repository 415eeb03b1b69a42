//! Persisting the features' state: loading it at start, and writing each batch's
//! decisions (actions, state changes, timers, effects) with the "handled" marks
//! in one transaction.

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::rows::{parse_json, parse_time};
use super::script::{Arg, Script};
use super::{Store, StoreError};
use crate::config::CouponPool;
use crate::domain::{GroupKey, Id, MemberKey, Outbound};
use crate::engine::storage::{
    Commit, EffectLog, EffectRow, Failure, NextTimer, StateStore, StoredTimer,
};
use crate::engine::{Change, Joiner, State, TaskState, Timer};

fn member(row: &SqliteRow) -> Result<MemberKey, StoreError> {
    Ok(MemberKey {
        account: Id::text(row.try_get::<String, _>("account")?),
        group: Id::text(row.try_get::<String, _>("group_id")?),
        user: Id::text(row.try_get::<String, _>("user_id")?),
    })
}

/// A member row's key as an error message names it.
fn member_label(row: &SqliteRow) -> String {
    member(row)
        .map(|m| format!("{}/{}/{}", m.account, m.group, m.user))
        .unwrap_or_default()
}

/// A time in a table keyed by member: unreadable is an error naming the member.
fn member_time(
    table: &'static str,
    row: &SqliteRow,
    column: &str,
) -> Result<DateTime<Utc>, StoreError> {
    let text: String = row.try_get(column)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::CorruptKeyed {
            table,
            key: member_label(row),
            reason: format!("bad time {text:?}: {e}"),
        })
}

impl StateStore for Store {
    /// Reads the features' state back from the tables.
    async fn load_state(&self, pools: &BTreeMap<String, CouponPool>) -> Result<State, StoreError> {
        let mut state = State::default();
        let pool = &self.read;
        for row in sqlx::query(
            "SELECT account, group_id, user_id, SUM(amount) AS balance,
                    (SELECT name FROM points_ledger n WHERE n.account = p.account AND n.group_id = p.group_id
                       AND n.user_id = p.user_id AND n.name IS NOT NULL ORDER BY n.id DESC LIMIT 1) AS name
             FROM points_ledger p GROUP BY account, group_id, user_id",
        )
        .fetch_all(pool)
        .await?
        {
            let key = member(&row)?;
            state.balances.insert(key.clone(), row.try_get("balance")?);
            if let Some(name) = row.try_get::<Option<String>, _>("name")? {
                state.names.insert(key, name);
            }
        }
        for row in sqlx::query(
            "SELECT account, group_id, user_id, day, streak FROM checkins c
             WHERE day = (SELECT MAX(day) FROM checkins d WHERE d.account = c.account AND d.group_id = c.group_id AND d.user_id = c.user_id)",
        )
        .fetch_all(pool)
        .await?
        {
            let text: String = row.try_get("day")?;
            let day = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| {
                StoreError::CorruptKeyed {
                    table: "checkins",
                    key: member_label(&row),
                    reason: format!("bad day {text:?}: {e}"),
                }
            })?;
            let streak: i64 = row.try_get("streak")?;
            state.checkins.insert(member(&row)?, (day, u32::try_from(streak).unwrap_or(1)));
        }
        for row in
            sqlx::query("SELECT account, group_id, user_id, task_id, state FROM task_progress")
                .fetch_all(pool)
                .await?
        {
            let task_state = match row.try_get::<String, _>("state")?.as_str() {
                "done" => TaskState::Done,
                "expired" => TaskState::Expired,
                _ => TaskState::Open,
            };
            state
                .tasks
                .entry(member(&row)?)
                .or_default()
                .insert(row.try_get("task_id")?, task_state);
        }
        for row in sqlx::query(
            "SELECT account, group_id, user_id, invited FROM joiners ORDER BY at, user_id",
        )
        .fetch_all(pool)
        .await?
        {
            let key = member(&row)?;
            state
                .joiners
                .entry(key.group_key())
                .or_default()
                .push(Joiner {
                    user: key.user,
                    invited: row.try_get::<i64, _>("invited")? != 0,
                });
        }
        for row in sqlx::query("SELECT account, group_id, user_id, at FROM welcomed")
            .fetch_all(pool)
            .await?
        {
            state
                .welcomed
                .insert(member(&row)?, member_time("welcomed", &row, "at")?);
        }
        for row in sqlx::query("SELECT account, group_id, user_id FROM verifying")
            .fetch_all(pool)
            .await?
        {
            state.verifying.insert(member(&row)?);
        }
        for row in sqlx::query("SELECT account, group_id FROM paused_groups")
            .fetch_all(pool)
            .await?
        {
            state.paused.insert(GroupKey {
                account: Id::text(row.try_get::<String, _>("account")?),
                group: Id::text(row.try_get::<String, _>("group_id")?),
            });
        }
        for row in sqlx::query("SELECT account, group_id, user_id, COUNT(*) AS n FROM warnings GROUP BY account, group_id, user_id")
            .fetch_all(pool)
            .await?
        {
            let n: i64 = row.try_get("n")?;
            state.warnings.insert(member(&row)?, u32::try_from(n).unwrap_or(u32::MAX));
        }
        for row in sqlx::query(
            "SELECT id, account, group_id, user_id, at FROM strikes WHERE cleared = 0 ORDER BY id",
        )
        .fetch_all(pool)
        .await?
        {
            state
                .strikes
                .entry(member(&row)?)
                .or_default()
                .push(parse_time(
                    "strikes",
                    row.try_get("id")?,
                    &row.try_get::<String, _>("at")?,
                )?);
        }
        let records: Vec<(String, String, String)> =
            sqlx::query_as("SELECT feature, key, value FROM feature_records")
                .fetch_all(pool)
                .await?;
        for (feature, key, value) in records {
            let value = serde_json::from_str(&value).map_err(|e| StoreError::CorruptKeyed {
                table: "feature_records",
                key: format!("{feature}/{key}"),
                reason: e.to_string(),
            })?;
            state.records.entry(feature).or_default().insert(key, value);
        }
        state.coupons = self.unclaimed_coupons(pools).await?;
        Ok(state)
    }

    /// Each pool's codes that have not been handed out, in file order.
    async fn unclaimed_coupons(
        &self,
        pools: &BTreeMap<String, CouponPool>,
    ) -> Result<std::collections::HashMap<String, VecDeque<String>>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for (name, pool) in pools {
            let claimed: HashSet<String> =
                sqlx::query_scalar("SELECT code FROM coupon_claims WHERE pool = ?")
                    .bind(name)
                    .fetch_all(&self.read)
                    .await?
                    .into_iter()
                    .collect();
            let free = pool
                .codes
                .iter()
                .filter(|c| !claimed.contains(*c))
                .cloned()
                .collect();
            out.insert(name.clone(), free);
        }
        Ok(out)
    }

    /// Writes one engine batch: queued actions, state changes, new timers, fired
    /// timers, effects and handled or failed inputs, all or nothing.
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let result = write_commit(&mut conn, commit, self.now()).await;
        Store::settle(conn, result)
    }

    /// Timers due at `now` or before, oldest first; a row that cannot be read
    /// back comes as `Unreadable`, so it can be quarantined while the others fire.
    async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredTimer>, StoreError> {
        let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT id, due_at, account, feature, wake FROM timers WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?",
        )
        .bind(super::timestamp(now))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, due, account, feature, wake)| {
                let timer = parse_time("timers", id, &due).and_then(|due| {
                    Ok(Timer {
                        due,
                        account: Id::text(account),
                        feature,
                        wake: parse_json("timers", id, &wake)?,
                    })
                });
                match timer {
                    Ok(timer) => StoredTimer::Readable { id, timer },
                    Err(e) => StoredTimer::Unreadable {
                        id,
                        reason: e.to_string(),
                    },
                }
            })
            .collect())
    }

    /// The next unfired timer; an unreadable due time names the timer.
    async fn next_timer(&self) -> Result<NextTimer, StoreError> {
        let next: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, due_at FROM timers WHERE fired_at IS NULL ORDER BY due_at, id LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        Ok(match next {
            None => NextTimer::None,
            Some((id, due)) => match parse_time("timers", id, &due) {
                Ok(at) => NextTimer::At(at),
                Err(e) => NextTimer::Unreadable {
                    id,
                    reason: e.to_string(),
                },
            },
        })
    }
}

impl EffectLog for Store {
    /// Effects committed but not yet carried out, oldest first.
    async fn pending_effects(&self) -> Result<Vec<EffectRow>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, kind, payload, attempts FROM effects WHERE done_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, kind, payload, attempts)| {
                Ok(EffectRow {
                    id,
                    kind,
                    payload: parse_json("effects", id, &payload)?,
                    attempts,
                })
            })
            .collect()
    }

    /// Records that effects are about to run, so a run cut short by a crash is
    /// known on the next start (the effect then runs again, knowing it may have
    /// been applied).
    async fn start_effects(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let mut script = Script::begin();
        for id in ids {
            script.add(
                "UPDATE effects SET attempts = attempts + 1 WHERE id = ?",
                [(*id).into()],
            );
        }
        let result = script.commit(&mut conn).await;
        Store::settle(conn, result)
    }

    /// Closes an effect with what came of it, queueing its follow-up actions (an
    /// answer in the chat) in the same transaction.
    async fn finish_effect(
        &self,
        id: i64,
        outcome: &serde_json::Value,
        followups: &[Outbound],
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut conn = self.writer().await?;
        let result = async {
            // Read before the script on the writer itself: nothing else writes.
            let cause: Option<i64> =
                sqlx::query_scalar("SELECT cause_event_id FROM effects WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .flatten();
            let mut script = Script::begin();
            for followup in followups {
                insert_action(&mut script, &now, cause, followup);
            }
            script.add(
                "UPDATE effects SET done_at = ?, outcome = ? WHERE id = ?",
                [now.as_str().into(), outcome.to_string().into(), id.into()],
            );
            script.commit(&mut conn).await
        }
        .await;
        Store::settle(conn, result)
    }
}

async fn write_commit(
    conn: &mut SqliteConnection,
    commit: &Commit,
    now: String,
) -> Result<(), StoreError> {
    let mut script = Script::begin();
    let now = now.as_str();
    for sync in &commit.synced {
        super::roster::write_sync(&mut script, sync);
    }
    super::roster::write_roster(&mut script, &commit.roster);
    for (cause, outbound) in &commit.actions {
        insert_action(&mut script, now, *cause, outbound);
    }
    for change in &commit.changes {
        write_change(&mut script, now, change);
    }
    for timer in &commit.timers {
        script.add(
            "INSERT INTO timers (due_at, account, feature, wake) VALUES (?, ?, ?, ?)",
            [
                super::timestamp(timer.due).into(),
                timer.account.to_string().into(),
                (&timer.feature).into(),
                timer.wake.to_string().into(),
            ],
        );
    }
    for (cause, effect) in &commit.effects {
        script.add(
            "INSERT INTO effects (created_at, kind, payload, cause_event_id) VALUES (?, ?, ?, ?)",
            [
                now.into(),
                (&effect.kind).into(),
                effect.payload.to_string().into(),
                (*cause).into(),
            ],
        );
    }
    for id in &commit.fired_timers {
        script.add(
            "UPDATE timers SET fired_at = ? WHERE id = ?",
            [now.into(), (*id).into()],
        );
    }
    // By id, never by range: an event left out of this batch stays unhandled.
    for ids in commit.handled.chunks(super::INSERT_CHUNK) {
        script.add_built(|q| {
            q.push("UPDATE events SET handled = 1 WHERE id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
        });
    }
    for failure in &commit.failed {
        match failure {
            Failure::Event { id, .. } | Failure::UnreadableEvent { id, .. } => {
                script.add("UPDATE events SET handled = 1 WHERE id = ?", [(*id).into()]);
            }
            Failure::Timer { id, .. } => {
                script.add(
                    "UPDATE timers SET fired_at = ? WHERE id = ?",
                    [now.into(), (*id).into()],
                );
            }
        }
        let (kind, detail) = failure.log_row();
        script.add(
            "INSERT INTO events (at, direction, kind, detail) VALUES (?, 'system', ?, ?)",
            [now.into(), kind.into(), detail.to_string().into()],
        );
    }
    script.commit(conn).await
}

/// Queues an action in the outbox.
pub(super) fn insert_action(
    script: &mut Script,
    now: &str,
    cause: Option<i64>,
    outbound: &Outbound,
) {
    script.add(
        "INSERT INTO outbox (created_at, account, group_id, action, payload, cause_event_id, state, next_attempt_at, automatic)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        [
            now.into(),
            outbound.account.to_string().into(),
            outbound.action.group().map(Id::to_string).into(),
            outbound.action.name().into(),
            serde_json::to_string(outbound).unwrap_or_default().into(),
            cause.into(),
            now.into(),
            i64::from(outbound.automatic).into(),
        ],
    );
}

/// A member key's three columns, then `rest`.
fn member_args<const N: usize>(m: &MemberKey, rest: [Arg; N]) -> Vec<Arg> {
    let mut args = vec![
        m.account.to_string().into(),
        m.group.to_string().into(),
        m.user.to_string().into(),
    ];
    args.extend(rest);
    args
}

fn write_change(script: &mut Script, now: &str, change: &Change) {
    let (sql, args): (&str, Vec<Arg>) = match change {
        Change::Points { member, amount, reason, name } => (
            "INSERT INTO points_ledger (account, group_id, user_id, amount, reason, name, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            member_args(member, [(*amount).into(), reason.into(), name.as_ref().into(), now.into()]),
        ),
        Change::CheckedIn { member, day, streak } => (
            "INSERT INTO checkins (account, group_id, user_id, day, streak, at) VALUES (?, ?, ?, ?, ?, ?)",
            member_args(member, [day.format("%Y-%m-%d").to_string().into(), i64::from(*streak).into(), now.into()]),
        ),
        Change::Task { member, task, state } => (
            "INSERT INTO task_progress (account, group_id, user_id, task_id, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (account, group_id, user_id, task_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            member_args(member, [task.into(), state.as_str().into(), now.into()]),
        ),
        Change::CouponClaimed { pool, code, member } => {
            let mut args: Vec<Arg> = vec![pool.into(), code.into()];
            args.extend(member_args(member, [now.into()]));
            (
                "INSERT INTO coupon_claims (pool, code, account, group_id, user_id, at) VALUES (?, ?, ?, ?, ?, ?)",
                args,
            )
        }
        Change::JoinerQueued { group, joiner } => (
            "INSERT INTO joiners (account, group_id, user_id, invited, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                group.account.to_string().into(),
                group.group.to_string().into(),
                joiner.user.to_string().into(),
                i64::from(joiner.invited).into(),
                now.into(),
            ],
        ),
        Change::JoinerLeft { member } => {
            script.add("DELETE FROM joiners WHERE account = ? AND group_id = ? AND user_id = ?", member_args(member, []));
            (
                "DELETE FROM verifying WHERE account = ? AND group_id = ? AND user_id = ?",
                member_args(member, []),
            )
        }
        Change::WaveWelcomed { group, users, at } => {
            script.add("DELETE FROM joiners WHERE account = ? AND group_id = ?",
                vec![group.account.to_string().into(), group.group.to_string().into()],
            );
            for user in users {
                script.add("INSERT INTO welcomed (account, group_id, user_id, at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (account, group_id, user_id) DO UPDATE SET at = excluded.at",
                    vec![
                        group.account.to_string().into(),
                        group.group.to_string().into(),
                        user.to_string().into(),
                        super::timestamp(*at).into(),
                    ],
                );
            }
            return;
        }
        Change::Verification { member, pending: true } => (
            "INSERT INTO verifying (account, group_id, user_id, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            member_args(member, [now.into()]),
        ),
        Change::Verification { member, pending: false } => (
            "DELETE FROM verifying WHERE account = ? AND group_id = ? AND user_id = ?",
            member_args(member, []),
        ),
        Change::Paused { group, paused: true } => (
            "INSERT INTO paused_groups (account, group_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            vec![group.account.to_string().into(), group.group.to_string().into(), now.into()],
        ),
        Change::Paused { group, paused: false } => (
            "DELETE FROM paused_groups WHERE account = ? AND group_id = ?",
            vec![group.account.to_string().into(), group.group.to_string().into()],
        ),
        Change::Warned { member, by, reason } => (
            "INSERT INTO warnings (account, group_id, user_id, by_user, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            member_args(member, [by.to_string().into(), reason.into(), now.into()]),
        ),
        Change::Strike { member, at, category } => (
            "INSERT INTO strikes (account, group_id, user_id, at, category) VALUES (?, ?, ?, ?, ?)",
            member_args(member, [super::timestamp(*at).into(), category.into()]),
        ),
        Change::StrikesCleared { member } => (
            "UPDATE strikes SET cleared = 1 WHERE account = ? AND group_id = ? AND user_id = ? AND cleared = 0",
            member_args(member, []),
        ),
        Change::CommandUsed { .. } | Change::Spoke { .. } => return,
        Change::Record { feature, key, value: Some(value) } => (
            "INSERT INTO feature_records (feature, key, value, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (feature, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![feature.into(), key.into(), value.to_string().into(), now.into()],
        ),
        Change::Record { feature, key, value: None } => (
            "DELETE FROM feature_records WHERE feature = ? AND key = ?",
            vec![feature.into(), key.into()],
        ),
        Change::Note { kind, account, group, user, detail } => (
            "INSERT INTO events (at, direction, kind, account, group_id, user_id, detail) VALUES (?, 'system', ?, ?, ?, ?, ?)",
            vec![
                now.into(),
                kind.into(),
                account.to_string().into(),
                group.as_ref().map(Id::to_string).into(),
                user.as_ref().map(Id::to_string).into(),
                detail.to_string().into(),
            ],
        ),
    };
    script.add(sql, args);
}
