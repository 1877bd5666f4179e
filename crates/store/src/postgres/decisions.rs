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

use super::base::RowError;
use super::{PgStore, Prepared};
use crate::collector::{Decision, DecisionChange, DecisionOp, DecisionSelector, NewDecision};
use crate::error::{Result, StoreError};
use crate::types::UnixTime;

/// A row of `SELECT id, target, duration_secs, reason, rule_id, created_at, expires_at,
/// alert_id, removed_at` (SQLite's `DECISION_COLUMNS`).
pub(super) fn decision_row(r: &Row) -> std::result::Result<Decision, RowError> {
    Ok(Decision {
        id: r.try_get(0)?,
        target: r.try_get(1)?,
        duration_secs: r.try_get(2)?,
        reason: r.try_get(3)?,
        rule_id: r.try_get(4)?,
        created_at: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        alert_id: r.try_get(7)?,
        removed_at: r.try_get(8)?,
    })
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
    const WHAT: &str = "log a decision change";
    st.execute(
        tx,
        shown,
        WHAT,
        "SELECT pg_advisory_xact_lock(hashtext('logward.decision_changes'))",
        &[],
    )?;
    let seq: i64 = st
        .query_one(
            tx,
            shown,
            WHAT,
            "INSERT INTO decision_changes (decision_id, op, target, duration_secs, expires_at, \
             reason, rule_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
            &[
                &decision_id,
                &op.as_str(),
                &c.target,
                &c.duration_secs,
                &c.expires_at,
                &c.reason,
                &c.rule_id,
                &at,
            ],
        )?
        .try_get(0)
        .map_err(super::pe(shown, WHAT))?;
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
    const WHAT: &str = "expire decisions";
    let mut over = st
        .query(
            tx,
            shown,
            WHAT,
            "UPDATE decisions SET removed_at = expires_at WHERE removed_at IS NULL \
             AND expires_at IS NOT NULL AND expires_at <= $1 \
             AND ($2::text IS NULL OR target = $2) \
             RETURNING id, target, expires_at, reason, rule_id",
            &[&now, &target],
        )?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ))
        })
        .collect::<std::result::Result<Vec<(i64, String, i64, String, Option<String>)>, _>>()
        .map_err(super::pe(shown, WHAT))?;
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
    const WHAT: &str = "read a decision";
    st.query_opt(
        tx,
        shown,
        WHAT,
        "SELECT id, created_at, expires_at FROM decisions \
         WHERE target = $1 AND removed_at IS NULL FOR UPDATE",
        &[&target],
    )?
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
    .transpose()
    .map_err(super::pe(shown, WHAT))
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
        let added = st.query_opt(
            tx,
            shown,
            "record a decision",
            "INSERT INTO decisions (target, duration_secs, reason, rule_id, created_at, \
             expires_at, alert_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (target) WHERE removed_at IS NULL DO NOTHING RETURNING id",
            &[
                &d.target,
                &d.duration_secs,
                &d.reason,
                &d.rule_id.as_deref(),
                &d.created_at,
                &expires,
                &d.alert_id,
            ],
        )?;
        if let Some(r) = added {
            let id: i64 = r
                .try_get(0)
                .map_err(super::pe(shown, "record a decision"))?;
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
            st.execute(
                tx,
                shown,
                "extend a decision",
                "UPDATE decisions SET expires_at = $2, duration_secs = $3 WHERE id = $1",
                &[&id, &expires, &expires.map(|e| e - created)],
            )?;
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
    let (id, target) = which.parts();
    const WHAT: &str = "lift a decision";
    let row = st.query_opt(
        tx,
        shown,
        WHAT,
        "UPDATE decisions SET removed_at = $3 WHERE removed_at IS NULL \
         AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR target = $2) \
         AND (expires_at IS NULL OR expires_at > $3) \
         RETURNING id, target, reason, rule_id",
        &[&id, &target, &at],
    )?;
    let Some(r) = row else { return Ok(None) };
    let (id, target, reason, rule): (i64, String, String, Option<String>) =
        (|| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))()
            .map_err(super::pe(shown, WHAT))?;
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
        self.in_transaction("record a decision", |tx, st, shown| {
            put_decision_tx(tx, st, shown, d)
        })
    }

    /// Lifts a decision in force (by id or target) at `at`, with a `delete` change; `None`
    /// when no such decision is in force.
    pub(super) fn delete_decision(
        &mut self,
        which: DecisionSelector<'_>,
        at: UnixTime,
    ) -> Result<Option<DecisionChange>> {
        self.in_transaction("lift a decision", |tx, st, shown| {
            lift_tx(tx, st, shown, which, at)
        })
    }

    /// Marks every decision whose time is over at `now` expired (an `expire` change each);
    /// how many.
    pub(super) fn expire_decisions(&mut self, now: UnixTime) -> Result<u64> {
        // Agents poll often: look before writing.
        let due = self.row(
            "SELECT 1 FROM decisions WHERE removed_at IS NULL \
             AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT 1",
            &[&now],
            "expire decisions",
            |_| Ok(()),
        )?;
        if due.is_none() {
            return Ok(0);
        }
        self.in_transaction("expire decisions", |tx, st, shown| {
            expire_tx(tx, st, shown, now, None)
        })
    }

    /// The decisions log after `since`, in `seq` order, at most `limit` changes.
    pub(super) fn decision_changes_after(
        &mut self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<DecisionChange>> {
        self.rows(
            "SELECT seq, decision_id, op, target, duration_secs, expires_at, reason, \
             rule_id, at FROM decision_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&since, &super::base::limit(limit)],
            "read decision changes",
            |r| {
                let seq: i64 = r.try_get(0)?;
                let op: &str = r.try_get(2)?;
                Ok(DecisionChange {
                    seq,
                    decision_id: r.try_get(1)?,
                    op: DecisionOp::parse(op).ok_or_else(|| {
                        RowError::Invalid("decision change", format!("{seq}: op {op:?}"))
                    })?,
                    target: r.try_get(3)?,
                    duration_secs: r.try_get(4)?,
                    expires_at: r.try_get(5)?,
                    reason: r.try_get(6)?,
                    rule_id: r.try_get(7)?,
                    at: r.try_get(8)?,
                })
            },
        )
    }

    /// The decisions in force at `now` (not lifted, not over), by id.
    pub(super) fn decisions_in_force(&mut self, now: UnixTime) -> Result<Vec<Decision>> {
        self.rows(
            "SELECT id, target, duration_secs, reason, rule_id, created_at, \
             expires_at, alert_id, removed_at FROM decisions WHERE removed_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $1) ORDER BY id",
            &[&now],
            "read decisions",
            decision_row,
        )
    }

    /// Decisions with an id above `after`, in id order, at most `limit` (every decision ever
    /// made, lifted or not; agents poll the change log).
    pub(super) fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>> {
        self.rows(
            "SELECT id, target, duration_secs, reason, rule_id, created_at, \
             expires_at, alert_id, removed_at FROM decisions WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &super::base::limit(limit)],
            "read decisions",
            decision_row,
        )
    }
}
