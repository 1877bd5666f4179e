//! Fleet ban decisions on [`SqliteStore`] as a change log (migration 6): at most one
//! decision per target is in force, and every add, extend, delete and expiry is a row of
//! `decision_changes` with a new `seq`, which is what agents poll. The `_tx` functions work
//! inside a transaction the caller holds, so an ingest's fleet rules commit their decisions
//! with its events.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::SqliteStore;
use crate::collector::{Decision, DecisionChange, DecisionOp, DecisionSelector, NewDecision};
use crate::error::{sql, Result, StoreError};
use crate::types::UnixTime;

pub(crate) const DECISION_COLUMNS: &str =
    "id, target, duration_secs, reason, rule_id, created_at, expires_at, alert_id, removed_at";

pub(crate) fn decision_row(r: &Row<'_>) -> rusqlite::Result<Decision> {
    Ok(Decision {
        id: r.get(0)?,
        target: r.get(1)?,
        duration_secs: r.get(2)?,
        reason: r.get(3)?,
        rule_id: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        alert_id: r.get(7)?,
        removed_at: r.get(8)?,
    })
}

/// Appends one change to the log; returns it.
#[allow(clippy::too_many_arguments)]
fn log_change(
    tx: &Connection,
    path: &Path,
    decision_id: i64,
    op: DecisionOp,
    target: &str,
    duration_secs: Option<i64>,
    expires_at: Option<UnixTime>,
    reason: &str,
    rule_id: Option<&str>,
    at: UnixTime,
) -> Result<DecisionChange> {
    tx.prepare_cached(
        "INSERT INTO decision_changes (decision_id, op, target, duration_secs, expires_at, \
         reason, rule_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            decision_id,
            op.as_str(),
            target,
            duration_secs,
            expires_at,
            reason,
            rule_id,
            at
        ])
    })
    .map_err(sql(path, "log a decision change"))?;
    Ok(DecisionChange {
        seq: tx.last_insert_rowid(),
        decision_id,
        op,
        target: target.to_owned(),
        duration_secs,
        expires_at,
        reason: reason.to_owned(),
        rule_id: rule_id.map(str::to_owned),
        at,
    })
}

/// Marks decisions whose time is over at `now` (all, or one target's) expired, each with
/// an `expire` change.
fn expire_tx(tx: &Connection, path: &Path, now: UnixTime, target: Option<&str>) -> Result<u64> {
    let over: Vec<(i64, String, i64, String, Option<String>)> = tx
        .prepare_cached(
            "UPDATE decisions SET removed_at = expires_at WHERE removed_at IS NULL \
             AND expires_at IS NOT NULL AND expires_at <= ?1 AND (?2 IS NULL OR target = ?2) \
             RETURNING id, target, expires_at, reason, rule_id",
        )
        .and_then(|mut s| {
            s.query_map(params![now, target], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(sql(path, "expire decisions"))?;
    for (id, target, at, reason, rule) in &over {
        log_change(
            tx,
            path,
            *id,
            DecisionOp::Expire,
            target,
            Some(0),
            Some(*at),
            reason,
            rule.as_deref(),
            *at,
        )?;
    }
    Ok(over.len() as u64)
}

/// Records a decision in the open transaction: a new one (`add`), or — when one is in force
/// for the target — that one made to last until the later end (`extend`), or nothing when it
/// already lasts as long. Returns the decision's id and the change made.
pub(crate) fn put_decision_tx(
    tx: &Connection,
    path: &Path,
    d: &NewDecision,
) -> Result<(i64, Option<DecisionChange>)> {
    d.validate()?;
    expire_tx(tx, path, d.created_at, Some(&d.target))?;
    let expires = d.duration_secs.map(|s| d.created_at.saturating_add(s));
    let current: Option<(i64, i64, Option<i64>)> = tx
        .prepare_cached(
            "SELECT id, created_at, expires_at FROM decisions \
             WHERE target = ?1 AND removed_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row([&d.target], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(sql(path, "read a decision"))?;
    // An add and an extend log the same change row but for its operation.
    let log = |id, op| {
        log_change(
            tx,
            path,
            id,
            op,
            &d.target,
            d.duration_secs,
            expires,
            &d.reason,
            d.rule_id.as_deref(),
            d.created_at,
        )
    };
    match current {
        None => {
            tx.prepare_cached(
                "INSERT INTO decisions (target, duration_secs, reason, rule_id, created_at, \
                 expires_at, alert_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    d.target,
                    d.duration_secs,
                    d.reason,
                    d.rule_id,
                    d.created_at,
                    expires,
                    d.alert_id
                ])
            })
            .map_err(sql(path, "record a decision"))?;
            let id = tx.last_insert_rowid();
            Ok((id, Some(log(id, DecisionOp::Add)?)))
        }
        Some((id, created, Some(old))) if expires.is_none_or(|e| e > old) => {
            tx.prepare_cached(
                "UPDATE decisions SET expires_at = ?2, duration_secs = ?3 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, expires, expires.map(|e| e - created)]))
            .map_err(sql(path, "extend a decision"))?;
            Ok((id, Some(log(id, DecisionOp::Extend)?)))
        }
        Some((id, _, _)) => Ok((id, None)),
    }
}

/// Lifts a decision in force in the open transaction, with a `delete` change.
pub(crate) fn lift_tx(
    tx: &Connection,
    path: &Path,
    which: DecisionSelector<'_>,
    at: UnixTime,
) -> Result<Option<DecisionChange>> {
    let (id, target) = which.parts();
    let row: Option<(i64, String, String, Option<String>)> = tx
        .prepare_cached(
            "UPDATE decisions SET removed_at = ?3 WHERE removed_at IS NULL \
             AND (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR target = ?2) \
             AND (expires_at IS NULL OR expires_at > ?3) \
             RETURNING id, target, reason, rule_id",
        )
        .and_then(|mut s| {
            s.query_row(params![id, target, at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(sql(path, "lift a decision"))?;
    match row {
        None => Ok(None),
        Some((id, target, reason, rule)) => Ok(Some(log_change(
            tx,
            path,
            id,
            DecisionOp::Delete,
            &target,
            Some(0),
            Some(at),
            &reason,
            rule.as_deref(),
            at,
        )?)),
    }
}

impl SqliteStore {
    /// [`CollectorStore::put_decision`](crate::CollectorStore::put_decision): a decision
    /// added, or the one in force extended, in its own transaction.
    pub(crate) fn put_decision(
        &mut self,
        d: &NewDecision,
    ) -> Result<(i64, Option<DecisionChange>)> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "record a decision"))?;
        let r = put_decision_tx(&tx, path, d)?;
        tx.commit().map_err(sql(path, "record a decision"))?;
        Ok(r)
    }

    /// Lifts a decision in force (by id or target) at `at`, with a `delete` change; `None`
    /// when no such decision is in force.
    pub(crate) fn delete_decision(
        &mut self,
        which: DecisionSelector<'_>,
        at: UnixTime,
    ) -> Result<Option<DecisionChange>> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "lift a decision"))?;
        let r = lift_tx(&tx, path, which, at)?;
        tx.commit().map_err(sql(path, "lift a decision"))?;
        Ok(r)
    }

    /// Marks every decision whose time is over at `now` expired (an `expire` change each);
    /// how many.
    pub(crate) fn expire_decisions(&mut self, now: UnixTime) -> Result<u64> {
        let path = &self.path;
        // Agents poll often: look before taking the write lock.
        let due: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM decisions WHERE removed_at IS NULL \
                 AND expires_at IS NOT NULL AND expires_at <= ?1 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([now], |r| r.get(0)).optional())
            .map_err(sql(path, "expire decisions"))?;
        if due.is_none() {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "expire decisions"))?;
        let n = expire_tx(&tx, path, now, None)?;
        tx.commit().map_err(sql(path, "expire decisions"))?;
        Ok(n)
    }

    /// The decisions log after `since`, in `seq` order, at most `limit` changes.
    pub(crate) fn decision_changes_after(
        &mut self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<DecisionChange>> {
        let rows: Vec<DecisionChangeRow> = self
            .conn
            .prepare_cached(
                "SELECT seq, decision_id, op, target, duration_secs, expires_at, reason, \
                 rule_id, at FROM decision_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![since, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| {
                        Ok((
                            (r.get(0)?, r.get(1)?, r.get(2)?),
                            (r.get(3)?, r.get(4)?, r.get(5)?),
                            (r.get(6)?, r.get(7)?, r.get(8)?),
                        ))
                    },
                )?
                .collect()
            })
            .map_err(sql(&self.path, "read decision changes"))?;
        rows.into_iter()
            .map(
                |(
                    (seq, decision_id, op),
                    (target, duration_secs, expires_at),
                    (reason, rule_id, at),
                )| {
                    let op: String = op;
                    Ok(DecisionChange {
                        seq,
                        decision_id,
                        op: DecisionOp::parse(&op).ok_or_else(|| {
                            StoreError::invalid("decision change", format!("{seq}: op {op:?}"))
                        })?,
                        target,
                        duration_secs,
                        expires_at,
                        reason,
                        rule_id,
                        at,
                    })
                },
            )
            .collect()
    }

    /// The decisions in force at `now` (not lifted, not over), by id.
    pub(crate) fn decisions_in_force(&mut self, now: UnixTime) -> Result<Vec<Decision>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE removed_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?1) ORDER BY id"
            ))
            .and_then(|mut s| s.query_map([now], decision_row)?.collect())
            .map_err(sql(&self.path, "read decisions"))
    }

    /// Decisions with an id above `after`, in id order, at most `limit` (every decision ever
    /// made, lifted or not; agents poll the change log).
    pub(crate) fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                    decision_row,
                )?
                .collect()
            })
            .map_err(sql(&self.path, "read decisions"))
    }
}

/// A `decision_changes` row as read, before its op is checked.
type DecisionChangeRow = (
    (i64, i64, String),
    (String, Option<i64>, Option<i64>),
    (String, Option<String>, UnixTime),
);
