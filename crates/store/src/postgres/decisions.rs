//! Fleet ban decisions and their change log (one decision in force per target), as on
//! SQLite (sqlite/decisions.rs). The `_tx` functions work inside a transaction the caller
//! holds, so an ingest's fleet rules commit their decisions with its events.
//!
//! Several collectors may share the database: the decision in force for a target is read
//! `FOR UPDATE`, and a new one is inserted `ON CONFLICT DO NOTHING` on the unique index of
//! decisions in force, so two collectors banning one address make one decision and the
//! second extends it (or leaves it) instead of failing; changes are logged in commit order
//! (see [`log_change`]).

use std::path::Path;

use postgres::{Row, Transaction};

use super::ingest::text;
use super::{pe, PgStore, Prepared};
use crate::collector::{Decision, DecisionChange, DecisionOp, DecisionSelector, NewDecision};
use crate::error::{Result, StoreError};
use crate::types::UnixTime;

/// A row of `SELECT id, target, duration_secs, reason, rule_id, created_at, expires_at,
/// alert_id, removed_at` (SQLite's `DECISION_COLUMNS`).
pub(super) fn decision_row(r: &Row) -> Decision {
    Decision {
        id: r.get(0),
        target: r.get(1),
        duration_secs: r.get(2),
        reason: r.get(3),
        rule_id: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
        alert_id: r.get(7),
        removed_at: r.get(8),
    }
}

/// The fields of a change besides its decision, operation and time.
struct Change<'a> {
    target: &'a str,
    duration_secs: Option<i64>,
    expires_at: Option<UnixTime>,
    reason: &'a str,
    rule_id: Option<&'a str>,
}

/// Appends one change to the log; returns it.
///
/// Agents poll the log by `seq` and keep the highest they saw, so a change must never become
/// visible after one with a higher `seq`. Identity values are handed out at insert, not at
/// commit: with two collectors, a change numbered 11 could commit before 10, an agent's
/// cursor pass 10 and that ban never reach it. So writers of the log take turns on an
/// advisory lock held until their commit, which makes `seq` order commit order.
fn log_change(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    decision_id: i64,
    op: DecisionOp,
    c: &Change<'_>,
    at: UnixTime,
) -> Result<DecisionChange> {
    let lock = st
        .get(
            tx,
            "SELECT pg_advisory_xact_lock(hashtext('logward.decision_changes'))",
        )
        .map_err(pe(shown, "log a decision change"))?;
    tx.execute(&lock, &[])
        .map_err(pe(shown, "log a decision change"))?;
    let s = st
        .get(
            tx,
            "INSERT INTO decision_changes (decision_id, op, target, duration_secs, expires_at, \
             reason, rule_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
        )
        .map_err(pe(shown, "log a decision change"))?;
    let seq: i64 = tx
        .query_one(
            &s,
            &[
                &decision_id,
                &op.as_str(),
                &text(c.target),
                &c.duration_secs,
                &c.expires_at,
                &text(c.reason),
                &c.rule_id.map(text),
                &at,
            ],
        )
        .map_err(pe(shown, "log a decision change"))?
        .get(0);
    Ok(DecisionChange {
        seq,
        decision_id,
        op,
        target: c.target.to_owned(),
        duration_secs: c.duration_secs,
        expires_at: c.expires_at,
        reason: c.reason.to_owned(),
        rule_id: c.rule_id.map(str::to_owned),
        at,
    })
}

/// Marks decisions whose time is over at `now` (all, or one target's) expired, each with
/// an `expire` change (in id order).
fn expire_tx(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    now: UnixTime,
    target: Option<&str>,
) -> Result<u64> {
    let s = st
        .get(
            tx,
            "UPDATE decisions SET removed_at = expires_at WHERE removed_at IS NULL \
             AND expires_at IS NOT NULL AND expires_at <= $1 \
             AND ($2::text IS NULL OR target = $2) \
             RETURNING id, target, expires_at, reason, rule_id",
        )
        .map_err(pe(shown, "expire decisions"))?;
    let mut over: Vec<(i64, String, i64, String, Option<String>)> = tx
        .query(&s, &[&now, &target.map(text)])
        .map_err(pe(shown, "expire decisions"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    over.sort_by_key(|o| o.0);
    for (id, target, at, reason, rule) in &over {
        let c = Change {
            target,
            duration_secs: Some(0),
            expires_at: Some(*at),
            reason,
            rule_id: rule.as_deref(),
        };
        log_change(tx, st, shown, *id, DecisionOp::Expire, &c, *at)?;
    }
    Ok(over.len() as u64)
}

/// The decision in force for `target`, locked until the transaction ends.
fn in_force_locked(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    target: &str,
) -> Result<Option<(i64, i64, Option<i64>)>> {
    let s = st
        .get(
            tx,
            "SELECT id, created_at, expires_at FROM decisions \
             WHERE target = $1 AND removed_at IS NULL FOR UPDATE",
        )
        .map_err(pe(shown, "read a decision"))?;
    Ok(tx
        .query_opt(&s, &[&text(target)])
        .map_err(pe(shown, "read a decision"))?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Records a decision in the open transaction: a new one (`add`), or — when one is in force
/// for the target — that one made to last until the later end (`extend`), or nothing when it
/// already lasts as long. Returns the decision's id and the change made.
pub(super) fn put_decision_tx(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    d: &NewDecision,
) -> Result<(i64, Option<DecisionChange>)> {
    d.validate()?;
    expire_tx(tx, st, shown, d.created_at, Some(&d.target))?;
    let expires = d.duration_secs.map(|s| d.created_at.saturating_add(s));
    let change = Change {
        target: &d.target,
        duration_secs: d.duration_secs,
        expires_at: expires,
        reason: &d.reason,
        rule_id: d.rule_id.as_deref(),
    };
    let mut current = in_force_locked(tx, st, shown, &d.target)?;
    if current.is_none() {
        let s = st
            .get(
                tx,
                "INSERT INTO decisions (target, duration_secs, reason, rule_id, created_at, \
                 expires_at, alert_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (target) WHERE removed_at IS NULL DO NOTHING RETURNING id",
            )
            .map_err(pe(shown, "record a decision"))?;
        let added = tx
            .query_opt(
                &s,
                &[
                    &text(&d.target),
                    &d.duration_secs,
                    &text(&d.reason),
                    &d.rule_id.as_deref().map(text),
                    &d.created_at,
                    &expires,
                    &d.alert_id,
                ],
            )
            .map_err(pe(shown, "record a decision"))?;
        if let Some(r) = added {
            let id: i64 = r.get(0);
            let c = log_change(tx, st, shown, id, DecisionOp::Add, &change, d.created_at)?;
            return Ok((id, Some(c)));
        }
        // Another collector committed one for the target meanwhile: extend that one.
        current = in_force_locked(tx, st, shown, &d.target)?;
    }
    match current {
        None => Err(StoreError::invalid(
            "decision",
            format!("{}: neither added nor found in force", d.target),
        )),
        Some((id, created, Some(old))) if expires.is_none_or(|e| e > old) => {
            let s = st
                .get(
                    tx,
                    "UPDATE decisions SET expires_at = $2, duration_secs = $3 WHERE id = $1",
                )
                .map_err(pe(shown, "extend a decision"))?;
            tx.execute(&s, &[&id, &expires, &expires.map(|e| e - created)])
                .map_err(pe(shown, "extend a decision"))?;
            let c = log_change(tx, st, shown, id, DecisionOp::Extend, &change, d.created_at)?;
            Ok((id, Some(c)))
        }
        Some((id, _, _)) => Ok((id, None)),
    }
}

/// Lifts a decision in force in the open transaction, with a `delete` change.
pub(super) fn lift_tx(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    which: DecisionSelector<'_>,
    at: UnixTime,
) -> Result<Option<DecisionChange>> {
    let (id, target) = match which {
        DecisionSelector::Id(id) => (Some(id), None),
        DecisionSelector::Target(t) => (None, Some(t)),
    };
    let s = st
        .get(
            tx,
            "UPDATE decisions SET removed_at = $3 WHERE removed_at IS NULL \
             AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR target = $2) \
             AND (expires_at IS NULL OR expires_at > $3) \
             RETURNING id, target, reason, rule_id",
        )
        .map_err(pe(shown, "lift a decision"))?;
    let row = tx
        .query_opt(&s, &[&id, &target.map(text), &at])
        .map_err(pe(shown, "lift a decision"))?;
    let Some(r) = row else { return Ok(None) };
    let (id, target, reason, rule): (i64, String, String, Option<String>) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    let c = Change {
        target: &target,
        duration_secs: Some(0),
        expires_at: Some(at),
        reason: &reason,
        rule_id: rule.as_deref(),
    };
    Ok(Some(log_change(
        tx,
        st,
        shown,
        id,
        DecisionOp::Delete,
        &c,
        at,
    )?))
}

impl PgStore {
    /// [`CollectorStore::put_decision`](crate::CollectorStore::put_decision): a decision
    /// added, or the one in force extended, in its own transaction.
    pub(super) fn put_decision(
        &mut self,
        d: &NewDecision,
    ) -> Result<(i64, Option<DecisionChange>)> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let mut tx = client
            .transaction()
            .map_err(pe(shown, "record a decision"))?;
        let r = put_decision_tx(&mut tx, stmts, shown, d)?;
        tx.commit().map_err(pe(shown, "record a decision"))?;
        Ok(r)
    }

    /// Lifts a decision in force (by id or target) at `at`, with a `delete` change; `None`
    /// when no such decision is in force.
    pub(super) fn delete_decision(
        &mut self,
        which: DecisionSelector<'_>,
        at: UnixTime,
    ) -> Result<Option<DecisionChange>> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let mut tx = client.transaction().map_err(pe(shown, "lift a decision"))?;
        let r = lift_tx(&mut tx, stmts, shown, which, at)?;
        tx.commit().map_err(pe(shown, "lift a decision"))?;
        Ok(r)
    }

    /// Marks every decision whose time is over at `now` expired (an `expire` change each);
    /// how many.
    pub(super) fn expire_decisions(&mut self, now: UnixTime) -> Result<u64> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        // Agents poll often: look before writing.
        let s = stmts
            .get(
                client,
                "SELECT 1 FROM decisions WHERE removed_at IS NULL \
                 AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT 1",
            )
            .map_err(pe(shown, "expire decisions"))?;
        let due = client
            .query_opt(&s, &[&now])
            .map_err(pe(shown, "expire decisions"))?;
        if due.is_none() {
            return Ok(0);
        }
        let mut tx = client
            .transaction()
            .map_err(pe(shown, "expire decisions"))?;
        let n = expire_tx(&mut tx, stmts, shown, now, None)?;
        tx.commit().map_err(pe(shown, "expire decisions"))?;
        Ok(n)
    }

    /// The decisions log after `since`, in `seq` order, at most `limit` changes.
    pub(super) fn decision_changes_after(
        &mut self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<DecisionChange>> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let s = stmts
            .get(
                client,
                "SELECT seq, decision_id, op, target, duration_secs, expires_at, reason, \
                 rule_id, at FROM decision_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .map_err(pe(shown, "read decision changes"))?;
        let rows = client
            .query(&s, &[&since, &limit_to_sql(limit)])
            .map_err(pe(shown, "read decision changes"))?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let op: &str = r.get(2);
                Ok(DecisionChange {
                    seq,
                    decision_id: r.get(1),
                    op: DecisionOp::parse(op).ok_or_else(|| {
                        StoreError::invalid("decision change", format!("{seq}: op {op:?}"))
                    })?,
                    target: r.get(3),
                    duration_secs: r.get(4),
                    expires_at: r.get(5),
                    reason: r.get(6),
                    rule_id: r.get(7),
                    at: r.get(8),
                })
            })
            .collect()
    }

    /// The decisions in force at `now` (not lifted, not over), by id.
    pub(super) fn decisions_in_force(&mut self, now: UnixTime) -> Result<Vec<Decision>> {
        const SQL: &str = "SELECT id, target, duration_secs, reason, rule_id, created_at, \
             expires_at, alert_id, removed_at FROM decisions WHERE removed_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $1) ORDER BY id";
        self.decisions(SQL, &[&now])
    }

    /// Decisions with an id above `after`, in id order, at most `limit` (every decision ever
    /// made, lifted or not; agents poll the change log).
    pub(super) fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>> {
        const SQL: &str = "SELECT id, target, duration_secs, reason, rule_id, created_at, \
             expires_at, alert_id, removed_at FROM decisions WHERE id > $1 ORDER BY id LIMIT $2";
        self.decisions(SQL, &[&after, &limit_to_sql(limit)])
    }

    /// Decision rows of a `SELECT` read by [`decision_row`].
    fn decisions(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Decision>> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let s = stmts
            .get(client, sql)
            .map_err(pe(shown, "read decisions"))?;
        Ok(client
            .query(&s, params)
            .map_err(pe(shown, "read decisions"))?
            .iter()
            .map(decision_row)
            .collect())
    }
}

/// A row limit as a bigint parameter.
pub(super) fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
