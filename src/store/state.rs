//! Persisting the features' state: loading it at start, and writing each batch's
//! decisions (actions, state changes, timers, effects) with the "handled" marks
//! in one transaction.

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};

use super::rows::{parse_json, parse_time};
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
        let result = async {
            let mut tx = conn.begin().await?;
            for id in ids {
                sqlx::query("UPDATE effects SET attempts = attempts + 1 WHERE id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
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
            let mut tx = conn.begin().await?;
            let cause: Option<i64> =
                sqlx::query_scalar("SELECT cause_event_id FROM effects WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
            for followup in followups {
                insert_action(&mut tx, &now, cause, followup).await?;
            }
            sqlx::query("UPDATE effects SET done_at = ?, outcome = ? WHERE id = ?")
                .bind(&now)
                .bind(outcome.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
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
    let mut tx = conn.begin().await?;
    for (cause, outbound) in &commit.actions {
        insert_action(&mut tx, &now, *cause, outbound).await?;
    }
    for change in &commit.changes {
        write_change(&mut tx, &now, change).await?;
    }
    super::roster::write_roster(&mut tx, &commit.roster).await?;
    for timer in &commit.timers {
        sqlx::query("INSERT INTO timers (due_at, account, feature, wake) VALUES (?, ?, ?, ?)")
            .bind(super::timestamp(timer.due))
            .bind(timer.account.to_string())
            .bind(&timer.feature)
            .bind(timer.wake.to_string())
            .execute(&mut *tx)
            .await?;
    }
    for (cause, effect) in &commit.effects {
        sqlx::query(
            "INSERT INTO effects (created_at, kind, payload, cause_event_id) VALUES (?, ?, ?, ?)",
        )
        .bind(&now)
        .bind(&effect.kind)
        .bind(effect.payload.to_string())
        .bind(cause)
        .execute(&mut *tx)
        .await?;
    }
    for id in &commit.fired_timers {
        sqlx::query("UPDATE timers SET fired_at = ? WHERE id = ?")
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    // By id, never by range: an event left out of this batch stays unhandled.
    for ids in commit.handled.chunks(super::INSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE events SET handled = 1 WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    for failure in &commit.failed {
        match failure {
            Failure::Event { id, .. } | Failure::UnreadableEvent { id, .. } => {
                sqlx::query("UPDATE events SET handled = 1 WHERE id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Failure::Timer { id, .. } => {
                sqlx::query("UPDATE timers SET fired_at = ? WHERE id = ?")
                    .bind(&now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let (kind, detail) = failure.log_row();
        sqlx::query("INSERT INTO events (at, direction, kind, detail) VALUES (?, 'system', ?, ?)")
            .bind(&now)
            .bind(kind)
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn insert_action(
    tx: &mut Transaction<'_, Sqlite>,
    now: &str,
    cause: Option<i64>,
    outbound: &Outbound,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (created_at, account, group_id, action, payload, cause_event_id, state, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
    )
    .bind(now)
    .bind(outbound.account.to_string())
    .bind(outbound.action.group().map(Id::to_string))
    .bind(outbound.action.name())
    .bind(serde_json::to_string(outbound).unwrap_or_default())
    .bind(cause)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn bind_member<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    m: &MemberKey,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    q.bind(m.account.to_string())
        .bind(m.group.to_string())
        .bind(m.user.to_string())
}

async fn write_change(
    tx: &mut Transaction<'_, Sqlite>,
    now: &str,
    change: &Change,
) -> Result<(), StoreError> {
    let q = match change {
        Change::Points { member, amount, reason, name } => {
            bind_member(sqlx::query("INSERT INTO points_ledger (account, group_id, user_id, amount, reason, name, at) VALUES (?, ?, ?, ?, ?, ?, ?)"), member)
                .bind(amount)
                .bind(reason)
                .bind(name)
                .bind(now)
        }
        Change::CheckedIn { member, day, streak } => {
            bind_member(sqlx::query("INSERT INTO checkins (account, group_id, user_id, day, streak, at) VALUES (?, ?, ?, ?, ?, ?)"), member)
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(i64::from(*streak))
                .bind(now)
        }
        Change::Task { member, task, state } => bind_member(
            sqlx::query(
                "INSERT INTO task_progress (account, group_id, user_id, task_id, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (account, group_id, user_id, task_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            ),
            member,
        )
        .bind(task)
        .bind(state.as_str())
        .bind(now),
        Change::CouponClaimed { pool, code, member } => {
            sqlx::query("INSERT INTO coupon_claims (pool, code, account, group_id, user_id, at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(pool)
                .bind(code)
                .bind(member.account.to_string())
                .bind(member.group.to_string())
                .bind(member.user.to_string())
                .bind(now)
        }
        Change::JoinerQueued { group, joiner } => sqlx::query(
            "INSERT INTO joiners (account, group_id, user_id, invited, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(group.account.to_string())
        .bind(group.group.to_string())
        .bind(joiner.user.to_string())
        .bind(i64::from(joiner.invited))
        .bind(now),
        Change::JoinerLeft { member } => {
            bind_member(sqlx::query("DELETE FROM joiners WHERE account = ? AND group_id = ? AND user_id = ?"), member)
                .execute(&mut **tx)
                .await?;
            bind_member(sqlx::query("DELETE FROM verifying WHERE account = ? AND group_id = ? AND user_id = ?"), member)
        }
        Change::WaveWelcomed { group, users, at } => {
            sqlx::query("DELETE FROM joiners WHERE account = ? AND group_id = ?")
                .bind(group.account.to_string())
                .bind(group.group.to_string())
                .execute(&mut **tx)
                .await?;
            for user in users {
                sqlx::query(
                    "INSERT INTO welcomed (account, group_id, user_id, at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (account, group_id, user_id) DO UPDATE SET at = excluded.at",
                )
                .bind(group.account.to_string())
                .bind(group.group.to_string())
                .bind(user.to_string())
                .bind(super::timestamp(*at))
                .execute(&mut **tx)
                .await?;
            }
            return Ok(());
        }
        Change::Verification { member, pending: true } => bind_member(
            sqlx::query("INSERT INTO verifying (account, group_id, user_id, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
            member,
        )
        .bind(now),
        Change::Verification { member, pending: false } => {
            bind_member(sqlx::query("DELETE FROM verifying WHERE account = ? AND group_id = ? AND user_id = ?"), member)
        }
        Change::Paused { group, paused: true } => {
            sqlx::query("INSERT INTO paused_groups (account, group_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
                .bind(group.account.to_string())
                .bind(group.group.to_string())
                .bind(now)
        }
        Change::Paused { group, paused: false } => sqlx::query("DELETE FROM paused_groups WHERE account = ? AND group_id = ?")
            .bind(group.account.to_string())
            .bind(group.group.to_string()),
        Change::Warned { member, by, reason } => {
            bind_member(sqlx::query("INSERT INTO warnings (account, group_id, user_id, by_user, reason, at) VALUES (?, ?, ?, ?, ?, ?)"), member)
                .bind(by.to_string())
                .bind(reason)
                .bind(now)
        }
        Change::Strike { member, at, category } => bind_member(
            sqlx::query("INSERT INTO strikes (account, group_id, user_id, at, category) VALUES (?, ?, ?, ?, ?)"),
            member,
        )
        .bind(super::timestamp(*at))
        .bind(category),
        Change::StrikesCleared { member } => bind_member(
            sqlx::query("UPDATE strikes SET cleared = 1 WHERE account = ? AND group_id = ? AND user_id = ? AND cleared = 0"),
            member,
        ),
        Change::CommandUsed { .. } | Change::Spoke { .. } => return Ok(()),
        Change::Record { feature, key, value: Some(value) } => sqlx::query(
            "INSERT INTO feature_records (feature, key, value, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (feature, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(feature)
        .bind(key)
        .bind(value.to_string())
        .bind(now),
        Change::Record { feature, key, value: None } => {
            sqlx::query("DELETE FROM feature_records WHERE feature = ? AND key = ?")
                .bind(feature)
                .bind(key)
        }
        Change::Note { kind, account, group, user, detail } => {
            sqlx::query("INSERT INTO events (at, direction, kind, account, group_id, user_id, detail) VALUES (?, 'system', ?, ?, ?, ?, ?)")
                .bind(now)
                .bind(kind)
                .bind(account.to_string())
                .bind(group.as_ref().map(Id::to_string))
                .bind(user.as_ref().map(Id::to_string))
                .bind(detail.to_string())
        }
    };
    q.execute(&mut **tx).await?;
    Ok(())
}
