//! The collector's ingest on [`SqliteStore`] (migration 4): the events agents forward,
//! alerts from agents (into the `alerts` table) with their deliveries, the fleet rules'
//! effects, and the fleet events' retention.
//!
//! One ingest request is one transaction: the per-agent `seq` check (against the agent's
//! stored seq ranges, collector/seqs.rs: any order), the rows, the ranges and the agent's
//! new `last_seq` commit together, so a retried batch is never stored twice. The
//! fleet rules run inside it: the alerts and decisions they make of the newly stored events,
//! and their counters, commit with those events, so a crash never leaves a counted event
//! without its alert. Queued requests share one transaction (group commit).

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::decisions::{lift_tx, put_decision_tx};
use super::profiles::ProfileReader;
use super::SqliteStore;
use crate::collector::seqs::{store_new_items, window_of, SeqWindow};
use crate::collector::{
    apply_outputs, AlertPlan, AnalysisState, FleetEffects, FleetItem, FleetPurgeStats, GroupRules,
    IngestCounts, IngestRequest, OutputWrite, ProfileLookup,
};
use crate::error::{sql, Result, StoreError};
use crate::types::retention_cutoff;
use crate::types::{CounterSnapshot, NewAlert, UnixTime};

/// Inserts one collector alert in `tx` with everything that must commit with it: its outbox
/// rows (one per notifier of `plan`, due at `now`) and its analysis row (pending or
/// skipped). Every alert the collector stores goes through here — agents' alerts from
/// [`SqliteStore::ingest_group`] and the fleet rules' alike — so none is stored without its
/// deliveries, and a crash loses neither. Returns the alert's id.
pub(crate) fn insert_alert(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    a: &NewAlert,
    plan: &AlertPlan,
    now: UnixTime,
) -> Result<i64> {
    {
        let mut al = tx
            .prepare_cached(super::INSERT_ALERT)
            .map_err(sql(path, "store alerts"))?;
        super::insert_alert(&mut al, a, path)?;
    }
    let id = tx.last_insert_rowid();
    super::insert_dns_hit(tx, path, id, a)?;
    if !plan.notifiers.is_empty() {
        let mut ob = tx
            .prepare_cached(super::INSERT_OUTBOX)
            .map_err(sql(path, "queue deliveries"))?;
        let mut seen = std::collections::HashSet::with_capacity(plan.notifiers.len());
        for n in plan.notifiers.iter().filter(|n| seen.insert(n.as_str())) {
            ob.execute(params![id, n, now])
                .map_err(sql(path, "queue deliveries"))?;
        }
    }
    if let Some((state, key)) = &plan.analysis {
        tx.prepare_cached(
            "INSERT INTO alert_analysis (alert_id, state, cache_key, requested_at, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            let finished = (*state != AnalysisState::Pending).then_some(now);
            s.execute(params![id, state.as_str(), key, now, finished])
        })
        .map_err(sql(path, "store an analysis request"))?;
    }
    Ok(id)
}

impl SqliteStore {
    /// Saves a rules' counters outside an ingest (the collector's shutdown).
    pub(crate) fn put_counters(&mut self, c: &CounterSnapshot) -> Result<()> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin saving counters"))?;
        put_counters_tx(&tx, path, c)?;
        tx.commit().map_err(sql(path, "commit counters"))
    }

    /// [`CollectorStore::ingest_group`](crate::CollectorStore::ingest_group): several
    /// requests' ingests in one transaction, all or nothing.
    pub(crate) fn ingest_group(
        &mut self,
        requests: &[IngestRequest<'_>],
        rules: &mut GroupRules<'_>,
    ) -> Result<Vec<IngestCounts>> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin an ingest"))?;
        let mut all = Vec::with_capacity(requests.len());
        for (r, req) in requests.iter().enumerate() {
            let reader = ProfileReader { tx: &tx, path };
            all.push(ingest_tx(&tx, path, req, &mut |fresh| {
                rules(r, fresh, &reader)
            })?);
        }
        tx.commit().map_err(sql(path, "commit an ingest"))?;
        self.committed();
        Ok(all)
    }

    /// Number of fleet events stored (all, or one host's).
    pub(crate) fn count_fleet_events(&mut self, host: Option<&str>) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM fleet_events WHERE ?1 IS NULL OR host = ?1")
            .and_then(|mut s| s.query_row([host], |r| r.get(0)))
            .map_err(sql(&self.path, "count fleet events"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The stored JSON of fleet events, oldest first, at most `limit`.
    pub(crate) fn fleet_event_json(&mut self, limit: usize) -> Result<Vec<String>> {
        self.conn
            .prepare_cached("SELECT json FROM fleet_events ORDER BY id LIMIT ?1")
            .and_then(|mut s| {
                s.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?
                    .collect()
            })
            .map_err(sql(&self.path, "read fleet events"))
    }

    /// Retention: fleet events older than `keep_days` days, decisions that expired that
    /// long ago, and used or expired enrolment tokens as old.
    pub(crate) fn purge_fleet(&mut self, now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats> {
        let cutoff = retention_cutoff(now, keep_days);
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(sql(path, "purge fleet data"))?;
        let purge = |statement, what| super::purge_older(&tx, path, statement, cutoff, what);
        let events = purge(
            "DELETE FROM fleet_events WHERE time < ?1",
            "purge fleet events",
        )?;
        let decisions = purge(
            "DELETE FROM decisions WHERE (expires_at IS NOT NULL AND expires_at < ?1) \
             OR (removed_at IS NOT NULL AND removed_at < ?1)",
            "purge decisions",
        )?;
        // Seqs are never reused (AUTOINCREMENT): agents' cursors stay valid.
        tx.execute(
            "DELETE FROM decision_changes WHERE decision_id NOT IN (SELECT id FROM decisions)",
            [],
        )
        .map_err(sql(path, "purge decision changes"))?;
        let tokens = purge(
            "DELETE FROM enrol_tokens WHERE coalesce(used_at, expires_at) < ?1",
            "purge enrolment tokens",
        )?;
        compact_ranges(&tx, path, cutoff)?;
        tx.commit().map_err(sql(path, "purge fleet data"))?;
        Ok(FleetPurgeStats {
            events,
            decisions,
            tokens,
        })
    }
}

/// One request's rows, inside the caller's transaction.
fn ingest_tx(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    req: &IngestRequest<'_>,
    rules: &mut dyn FnMut(&[usize]) -> Result<FleetEffects>,
) -> Result<IngestCounts> {
    let IngestRequest {
        agent_id,
        now,
        items,
    } = *req;
    // Keyed events need no agent row (their sender is not enrolled); `seq`ed items do.
    let mut seqs = None;
    if let Some((lo, hi)) = window_of(items) {
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM agents WHERE id = ?1")
            .and_then(|mut s| s.query_row([agent_id], |r| r.get(0)).optional())
            .map_err(sql(path, "read an agent's sequence"))?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: "agent",
                id: 0,
            });
        }
        let ranges = tx
            .prepare_cached(
                "SELECT first_seq, last_seq, received_at FROM agent_seq_ranges \
                 WHERE agent_id = ?1 AND last_seq >= ?2 AND first_seq <= ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![agent_id, lo, hi], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql(path, "read an agent's sequences"))?;
        seqs = Some((SeqWindow::new(ranges), lo, hi));
    }
    let (mut counts, fresh) = {
        let mut ev = tx
            .prepare_cached(
                "INSERT INTO fleet_events (agent_id, seq, time, received_at, host, action, \
                 outcome, source_ip, user_name, json, dedup_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
            )
            .map_err(sql(path, "store fleet events"))?;
        let mut insert = |seq: i64, e: &crate::collector::FleetEvent, key: Option<&[u8]>| {
            ev.execute(params![
                agent_id,
                seq,
                e.time,
                now,
                e.host,
                e.action,
                e.outcome,
                e.source_ip,
                e.user,
                e.json,
                key
            ])
            .map_err(sql(path, "store fleet events"))
        };
        store_new_items(items, seqs.as_mut().map(|w| &mut w.0), now, |item| {
            match item {
                FleetItem::Event { seq, event: e } => {
                    insert(*seq, e, None)?;
                }
                FleetItem::Keyed { key, event: e } => {
                    return Ok(insert(0, e, Some(key.as_slice()))? > 0);
                }
                FleetItem::Alert { alert: a, plan, .. } => {
                    insert_alert(tx, path, a, plan, now)?;
                }
            }
            Ok(true)
        })?
    };
    if !fresh.is_empty() {
        let effects = rules(&fresh)?;
        apply_effects_tx(tx, path, &effects, now, &mut counts)?;
    }
    if let Some((w, lo, hi)) = &seqs {
        if let Some(ranges) = w.changed() {
            put_ranges(tx, path, agent_id, (*lo, *hi), ranges)?;
        }
        let top = w.changed().and_then(|r| r.last()).map_or(i64::MIN, |r| r.1);
        tx.prepare_cached(
            "UPDATE agents SET last_seq = max(last_seq, ?2), last_seen = ?3 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![agent_id, top, now]))
        .map_err(sql(path, "update an agent's sequence"))?;
    }
    Ok(counts)
}

/// Replaces an agent's ranges in the window `lo..=hi` (the rows read) with `ranges`.
fn put_ranges(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    agent_id: &str,
    (lo, hi): (i64, i64),
    ranges: &[(i64, i64, i64)],
) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM agent_seq_ranges WHERE agent_id = ?1 AND last_seq >= ?2 AND first_seq <= ?3",
    )
    .and_then(|mut s| s.execute(params![agent_id, lo, hi]))
    .map_err(sql(path, "store an agent's sequences"))?;
    let mut ins = tx
        .prepare_cached(
            "INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql(path, "store an agent's sequences"))?;
    for (first, last, at) in ranges {
        ins.execute(params![agent_id, first, last, at])
            .map_err(sql(path, "store an agent's sequences"))?;
    }
    Ok(())
}

/// Retention of the seq ranges: each agent's ranges stored before `cutoff` become one, from
/// the first of them to the last (with any range between them). A batch in a gap that old
/// counts a duplicate — it is past retention anyway — and the table stays bounded.
fn compact_ranges(tx: &rusqlite::Transaction<'_>, path: &Path, cutoff: UnixTime) -> Result<()> {
    let old: Vec<(String, i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT agent_id, min(first_seq), max(last_seq), max(received_at) \
             FROM agent_seq_ranges WHERE received_at < ?1 GROUP BY agent_id HAVING count(*) > 1",
        )
        .and_then(|mut s| {
            s.query_map([cutoff], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .map_err(sql(path, "compact agents' sequences"))?;
    for (agent, first, last, at) in old {
        tx.execute(
            "DELETE FROM agent_seq_ranges WHERE agent_id = ?1 AND first_seq >= ?2 AND last_seq <= ?3",
            params![agent, first, last],
        )
        .and_then(|_| {
            tx.execute(
                "INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![agent, first, last, at],
            )
        })
        .map_err(sql(path, "compact agents' sequences"))?;
    }
    Ok(())
}

/// The fleet rules' effects in `tx`: alerts (a decision without one linked to the alert
/// just before it), decisions, lifts, counters and profiles; `counts` counts them.
fn apply_effects_tx(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    effects: &FleetEffects,
    now: UnixTime,
    counts: &mut IngestCounts,
) -> Result<()> {
    apply_outputs(&effects.outputs, counts, |w| match w {
        OutputWrite::Alert(a, plan) => Ok(Some(insert_alert(tx, path, a, plan, now)?)),
        OutputWrite::Decision(d) => Ok(put_decision_tx(tx, path, d)?.1.map(|c| c.seq)),
        OutputWrite::Lift(which, at) => Ok(lift_tx(tx, path, which, at)?.map(|c| c.seq)),
    })?;
    if let Some(c) = &effects.counters {
        put_counters_tx(tx, path, c)?;
    }
    super::profiles::put(tx, path, &effects.profiles)
}

impl SqliteStore {
    /// [`CollectorStore::lead_rules`](crate::CollectorStore::lead_rules): one collector owns
    /// the file, so it always leads.
    pub(crate) fn lead_rules(&mut self) -> Result<bool> {
        Ok(true)
    }

    /// [`CollectorStore::commit_rules`](crate::CollectorStore::commit_rules): one collector
    /// owns the file, so it always leads; the position is still checked and moved in the
    /// transaction.
    pub(crate) fn commit_rules(
        &mut self,
        key: &str,
        expected: Option<&str>,
        position: &str,
        now: UnixTime,
        rules: &mut dyn FnMut(&dyn ProfileLookup) -> Result<FleetEffects>,
    ) -> Result<IngestCounts> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin the fleet rules"))?;
        let stored: Option<String> = tx
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(sql(path, "read the fleet rules' position"))?;
        if stored.as_deref() != expected {
            return Err(StoreError::invalid(
                "fleet rules position",
                "another collector moved it since this one read it",
            ));
        }
        let effects = rules(&ProfileReader { tx: &tx, path })?;
        let mut counts = IngestCounts::default();
        apply_effects_tx(&tx, path, &effects, now, &mut counts)?;
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut s| s.execute(params![key, position]))
        .map_err(sql(path, "save the fleet rules' position"))?;
        tx.commit().map_err(sql(path, "commit the fleet rules"))?;
        self.committed();
        Ok(counts)
    }
}

fn put_counters_tx(tx: &rusqlite::Transaction<'_>, path: &Path, c: &CounterSnapshot) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO counters (name, data, saved_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
    )
    .and_then(|mut s| s.execute(params![c.name, c.data, c.saved_at]))
    .map(drop)
    .map_err(sql(path, "save the fleet rules' counters"))
}
