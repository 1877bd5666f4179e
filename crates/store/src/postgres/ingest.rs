//! The fleet's ingest on PostgreSQL, as on SQLite (sqlite/ingest.rs): events (day
//! partitions, keyed events once), alerts with their deliveries, the agents' `last_seq`, and
//! the fleet rules' effects, all in one transaction per group of requests; retention of
//! events (whole day partitions), decisions and tokens.
//!
//! Exactly once with several collectors on one database: the group's agents are locked
//! (`FOR UPDATE`, in id order so two groups never wait on each other in a circle) before
//! their stored seq ranges are read (collector/seqs.rs), so a batch two collectors receive,
//! in any order, is stored by the first and
//! counted a duplicate by the second; a keyed event is stored only when its key's insert
//! into `fleet_event_keys` is not a conflict. Locks are taken in one order by every
//! collector — the agents, then the group's new day partitions (day, then table), then rows —
//! so two ingests wait on each other at most, never in a circle.
//!
//! Speed: the group's events are written by one multi-row statement (`unnest` of one array
//! per column) after the rules ran — the rules read profiles, never events — and every
//! statement is prepared once per connection.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::Transaction;

use super::decisions::{lift_tx, put_decision_tx};
use super::nul::text;
use super::partitions::{self, KnownDays};
use super::{pe, PgStore, Prepared};
use crate::collector::seqs::{store_new_items, window_of, SeqWindow};
use crate::collector::{
    apply_outputs, AlertPlan, AnalysisState, FleetEffects, FleetEvent, FleetItem, FleetPurgeStats,
    GroupRules, IngestCounts, IngestRequest, OutputWrite, ProfileLookup,
};
use crate::error::{Result, StoreError};
use crate::types::retention_cutoff;
use crate::types::{CounterSnapshot, NewAlert, ProfileRow, UnixTime};

/// Inserts one collector alert in `tx` with everything that must commit with it: its day
/// partition, its DNS hit, its outbox rows (one per notifier of `plan`, due at `now`) and its
/// analysis row (pending or skipped). Every alert the collector stores goes through here —
/// agents' alerts and the fleet rules' alike — so none is stored without its deliveries.
/// `stored_at` is `now` (the collector's clock: the alert's partition). Returns its id.
pub(super) fn insert_alert(
    tx: &mut Transaction<'_>,
    days: &mut KnownDays,
    st: &mut Prepared,
    shown: &Path,
    a: &NewAlert,
    plan: &AlertPlan,
    now: UnixTime,
) -> Result<i64> {
    a.validate()?;
    partitions::ensure(tx, days, "alerts", now).map_err(pe(shown, "make a day's partition"))?;
    let id: i64 = st
        .query_one(
            tx,
            shown,
            "store alerts",
            "INSERT INTO alerts (time, stored_at, rule_id, severity, host, source_address, \
             user_name, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &a.time,
                &now,
                &a.rule_id,
                &i32::from(a.severity),
                &a.host.as_deref(),
                &a.source_address.as_deref(),
                &a.user.as_deref(),
                &a.json,
            ],
        )?
        .try_get(0)
        .map_err(pe(shown, "store alerts"))?;
    if let Some(h) = &a.dns {
        st.execute(
            tx,
            shown,
            "store a DNS hit",
            "INSERT INTO dns_hits (alert_id, day, time, host, client, domain, qtype, \
             finding, list, verdict, severity, answer, owner) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &id,
                &a.time.div_euclid(86_400),
                &a.time,
                &a.host.as_deref(),
                &h.client,
                &h.domain,
                &h.qtype,
                &h.finding,
                &h.list,
                &h.verdict,
                &h.severity,
                &h.answer,
                &h.owner,
            ],
        )?;
    }
    if !plan.notifiers.is_empty() {
        let mut seen = HashSet::with_capacity(plan.notifiers.len());
        let sinks: Vec<Cow<'_, str>> = plan
            .notifiers
            .iter()
            .map(String::as_str)
            .filter(|n| seen.insert(*n))
            .map(text)
            .collect();
        st.execute(
            tx,
            shown,
            "queue deliveries",
            "INSERT INTO outbox (alert_id, sink, state, attempts, next_attempt_at, \
             updated_at) SELECT $1, n.sink, 'pending', 0, $3, $3 \
             FROM unnest($2::text[]) WITH ORDINALITY AS n(sink, i) ORDER BY n.i",
            &[&id, &sinks, &now],
        )?;
    }
    if let Some((state, key)) = &plan.analysis {
        let finished = (*state != AnalysisState::Pending).then_some(now);
        let key = key.as_deref();
        st.execute(
            tx,
            shown,
            "store an analysis request",
            "INSERT INTO alert_analysis (alert_id, state, cache_key, requested_at, \
             finished_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &state.as_str(), &key, &now, &finished],
        )?;
    }
    Ok(id)
}

/// From how many events a group's are written with `COPY … FROM STDIN (FORMAT binary)`
/// rather than one multi-row `INSERT`: COPY costs a round trip more, and much less server
/// time per row (measured by examples/ingest_rate.rs).
const COPY_FROM: usize = 64;

/// The events of a group, one vector per column, written by one statement at the end.
#[derive(Default)]
struct EventRows<'a> {
    agent_id: Vec<Cow<'a, str>>,
    seq: Vec<i64>,
    time: Vec<i64>,
    received_at: Vec<i64>,
    host: Vec<Option<Cow<'a, str>>>,
    action: Vec<Cow<'a, str>>,
    outcome: Vec<Cow<'a, str>>,
    source_ip: Vec<Option<Cow<'a, str>>>,
    user_name: Vec<Option<Cow<'a, str>>>,
    json: Vec<Cow<'a, str>>,
}

impl<'a> EventRows<'a> {
    fn push(&mut self, agent_id: &'a str, seq: i64, e: &'a FleetEvent, now: UnixTime) {
        self.agent_id.push(text(agent_id));
        self.seq.push(seq);
        self.time.push(e.time);
        self.received_at.push(now);
        self.host.push(e.host.as_deref().map(text));
        self.action.push(text(&e.action));
        self.outcome.push(text(&e.outcome));
        self.source_ip.push(e.source_ip.as_deref().map(text));
        self.user_name.push(e.user.as_deref().map(text));
        self.json.push(text(&e.json));
    }

    fn insert(&self, tx: &mut Transaction<'_>, st: &mut Prepared, shown: &Path) -> Result<()> {
        let n = self.json.len();
        if n == 0 {
            return Ok(());
        }
        if n < COPY_FROM {
            return self.insert_unnest(tx, st, shown);
        }
        let s = st
            .get(
                tx,
                "COPY fleet_events (agent_id, seq, time, received_at, host, action, outcome, \
                 source_ip, user_name, json) FROM STDIN (FORMAT binary)",
            )
            .map_err(pe(shown, "store fleet events"))?;
        let sink = tx.copy_in(&s).map_err(pe(shown, "store fleet events"))?;
        let (text, int) = (Type::TEXT, Type::INT8);
        let types = [
            text.clone(),
            int.clone(),
            int.clone(),
            int,
            text.clone(),
            text.clone(),
            text.clone(),
            text.clone(),
            text.clone(),
            text,
        ];
        let mut w = BinaryCopyInWriter::new(sink, &types);
        for i in 0..n {
            w.write(&[
                &self.agent_id[i],
                &self.seq[i],
                &self.time[i],
                &self.received_at[i],
                &self.host[i],
                &self.action[i],
                &self.outcome[i],
                &self.source_ip[i],
                &self.user_name[i],
                &self.json[i],
            ])
            .map_err(pe(shown, "store fleet events"))?;
        }
        w.finish().map_err(pe(shown, "store fleet events"))?;
        Ok(())
    }

    /// A few rows: one multi-row statement (one round trip, where `COPY` takes two).
    fn insert_unnest(
        &self,
        tx: &mut Transaction<'_>,
        st: &mut Prepared,
        shown: &Path,
    ) -> Result<()> {
        st.execute(
            tx,
            shown,
            "store fleet events",
            "INSERT INTO fleet_events (agent_id, seq, time, received_at, host, action, \
             outcome, source_ip, user_name, json) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])",
            &[
                &self.agent_id,
                &self.seq,
                &self.time,
                &self.received_at,
                &self.host,
                &self.action,
                &self.outcome,
                &self.source_ip,
                &self.user_name,
                &self.json,
            ],
        )?;
        Ok(())
    }
}

/// Reads profiles inside the ingest's transaction (the fleet anomaly detector sees what the
/// group's earlier requests are about to commit).
struct ProfileReader<'a, 'b> {
    tx: RefCell<(&'a mut Transaction<'b>, &'a mut Prepared)>,
    shown: &'a Path,
}

impl std::fmt::Debug for ProfileReader<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileReader").finish_non_exhaustive()
    }
}

impl ProfileLookup for ProfileReader<'_, '_> {
    fn profile(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut g = self.tx.borrow_mut();
        let (tx, st) = &mut *g;
        const WHAT: &str = "read a login profile";
        st.query_opt(
            *tx,
            self.shown,
            WHAT,
            "SELECT data FROM profiles WHERE key = $1",
            &[&key],
        )?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pe(self.shown, WHAT))
    }
}

impl PgStore {
    /// Saves a rules' counters outside an ingest (the collector's shutdown).
    pub(super) fn put_counters(&mut self, c: &CounterSnapshot) -> Result<()> {
        self.in_transaction("save counters", |tx, st, shown| {
            put_counters_tx(tx, st, shown, c)
        })
    }

    /// [`CollectorStore::ingest_group`](crate::CollectorStore::ingest_group): several
    /// requests' ingests in one transaction, all or nothing.
    pub(super) fn ingest_group(
        &mut self,
        requests: &[IngestRequest<'_>],
        rules: &mut GroupRules<'_>,
    ) -> Result<Vec<IngestCounts>> {
        let r = self.ingest_group_tx(requests, rules);
        if r.is_err() {
            // Partitions it made were rolled back with it.
            self.days.clear();
        }
        r
    }

    fn ingest_group_tx(
        &mut self,
        requests: &[IngestRequest<'_>],
        rules: &mut GroupRules<'_>,
    ) -> Result<Vec<IngestCounts>> {
        let PgStore {
            client,
            shown,
            days,
            stmts,
            ..
        } = self;
        let shown: &Path = shown;
        let mut tx = client.transaction().map_err(pe(shown, "begin an ingest"))?;
        // Keyed events need no agent row (their sender is not enrolled); `seq`ed items do.
        let mut ids: Vec<Cow<'_, str>> = requests
            .iter()
            .filter(|r| r.items.iter().any(|i| i.seq().is_some()))
            .map(|r| text(r.agent_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut last: HashMap<String, (i64, UnixTime)> = HashMap::with_capacity(ids.len());
        if !ids.is_empty() {
            const WHAT: &str = "read an agent's sequence";
            for r in stmts.query(
                &mut tx,
                shown,
                WHAT,
                "SELECT id, last_seq FROM agents WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&ids],
            )? {
                let (id, seq) = (r.try_get(0), r.try_get(1));
                last.insert(
                    id.map_err(pe(shown, WHAT))?,
                    (seq.map_err(pe(shown, WHAT))?, 0),
                );
            }
        }
        // The group's days, both tables, in one order (day, then table) before any row: two
        // collectors making a new day's partitions never wait on each other in a circle.
        let mut nows: Vec<UnixTime> = requests.iter().map(|r| r.now).collect();
        nows.sort_unstable_by_key(|&t| partitions::day_of(t));
        nows.dedup_by_key(|t| partitions::day_of(*t));
        for &now in &nows {
            for table in ["alerts", "fleet_events"] {
                partitions::ensure(&mut tx, days, table, now)
                    .map_err(pe(shown, "make a day's partition"))?;
            }
        }
        let mut events = EventRows::default();
        let mut all = Vec::with_capacity(requests.len());
        for (r, req) in requests.iter().enumerate() {
            let IngestRequest {
                agent_id,
                now,
                items,
            } = *req;
            let seq_state = match items.iter().any(|i| i.seq().is_some()) {
                false => None,
                true => match last.get_mut(text(agent_id).as_ref()) {
                    Some(l) => Some(l),
                    None => {
                        return Err(StoreError::NotFound {
                            what: "agent",
                            id: 0,
                        })
                    }
                },
            };
            let mut window = match seq_state {
                Some(_) => Some(read_ranges(&mut tx, stmts, shown, agent_id, items)?),
                None => None,
            };
            let mut new_keys = insert_keys(&mut tx, stmts, shown, items, now)?;
            let (mut counts, fresh) =
                store_new_items(items, window.as_mut().map(|w| &mut w.0), now, |item| {
                    match item {
                        FleetItem::Event { seq, event } => events.push(agent_id, *seq, event, now),
                        FleetItem::Keyed { key, event } => {
                            if !new_keys.remove(key) {
                                return Ok(false);
                            }
                            events.push(agent_id, 0, event, now);
                        }
                        FleetItem::Alert { alert, plan, .. } => {
                            insert_alert(&mut tx, days, stmts, shown, alert, plan, now)?;
                        }
                    }
                    Ok(true)
                })?;
            if let (Some((last, seen)), Some((w, lo, hi))) = (seq_state, &window) {
                if let Some(ranges) = w.changed() {
                    put_ranges(&mut tx, stmts, shown, agent_id, (*lo, *hi), ranges)?;
                    *last = (*last).max(ranges.last().map_or(i64::MIN, |r| r.1));
                }
                *seen = now;
            }
            if !fresh.is_empty() {
                let effects = {
                    let reader = ProfileReader {
                        tx: RefCell::new((&mut tx, &mut *stmts)),
                        shown,
                    };
                    rules(r, &fresh, &reader)?
                };
                apply_effects_tx(&mut tx, days, stmts, shown, &effects, now, &mut counts)?;
            }
            all.push(counts);
        }
        events.insert(&mut tx, stmts, shown)?;
        if !last.is_empty() {
            let (mut id, mut seq, mut seen) = (Vec::new(), Vec::new(), Vec::new());
            for (a, (l, t)) in &last {
                id.push(a.as_str());
                seq.push(*l);
                seen.push(*t);
            }
            stmts.execute(
                &mut tx,
                shown,
                "update an agent's sequence",
                "UPDATE agents SET last_seq = v.last_seq, last_seen = v.seen \
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, last_seq, seen) \
                 WHERE agents.id = v.id",
                &[&id, &seq, &seen],
            )?;
        }
        tx.commit().map_err(pe(shown, "commit an ingest"))?;
        Ok(all)
    }

    /// Retention of the seq ranges, as on SQLite: each agent's ranges stored before `cutoff`
    /// become one. In a transaction of its own that locks the agents first, in id order, as
    /// an ingest does (and nothing else): it never waits in a circle with one.
    fn compact_ranges(&mut self, cutoff: UnixTime) -> Result<()> {
        let shown = &self.shown;
        let what = "compact agents' sequences";
        let mut tx = self.client.transaction().map_err(pe(shown, what))?;
        let agents: Vec<String> = tx
            .query(
                "SELECT id FROM agents WHERE id IN (SELECT agent_id FROM agent_seq_ranges \
                 WHERE received_at < $1 GROUP BY agent_id HAVING count(*) > 1) \
                 ORDER BY id FOR UPDATE",
                &[&cutoff],
            )
            .map_err(pe(shown, what))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for agent in &agents {
            // The old ranges' span replaces them and any range inside it.
            let r = tx
                .query_one(
                    "SELECT min(first_seq), max(last_seq), max(received_at) \
                     FROM agent_seq_ranges WHERE agent_id = $1 AND received_at < $2",
                    &[agent, &cutoff],
                )
                .map_err(pe(shown, what))?;
            let (Some(f), Some(l), Some(t)) = (
                r.get::<_, Option<i64>>(0),
                r.get::<_, Option<i64>>(1),
                r.get::<_, Option<i64>>(2),
            ) else {
                continue;
            };
            tx.execute(
                "DELETE FROM agent_seq_ranges \
                 WHERE agent_id = $1 AND first_seq >= $2 AND last_seq <= $3",
                &[agent, &f, &l],
            )
            .and_then(|_| {
                tx.execute(
                    "INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at) \
                     VALUES ($1, $2, $3, $4)",
                    &[agent, &f, &l, &t],
                )
            })
            .map_err(pe(shown, what))?;
        }
        tx.commit().map_err(pe(shown, what))
    }

    /// Number of fleet events stored (all, or one host's).
    pub(super) fn count_fleet_events(&mut self, host: Option<&str>) -> Result<u64> {
        let n = self.row(
            "SELECT count(*) FROM fleet_events WHERE $1::text IS NULL OR host = $1",
            &[&host],
            "count fleet events",
            |r| Ok(r.try_get::<_, i64>(0)?),
        )?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// The stored JSON of fleet events, oldest first, at most `limit`.
    pub(super) fn fleet_event_json(&mut self, limit: usize) -> Result<Vec<String>> {
        self.rows(
            "SELECT json FROM fleet_events ORDER BY id LIMIT $1",
            &[&super::base::limit(limit)],
            "read fleet events",
            |r| Ok(r.try_get(0)?),
        )
    }

    /// Retention: fleet events stored more than `keep_days` days ago (whole day partitions:
    /// a day is dropped once all of it is that old, so events stay up to a day longer than
    /// on SQLite, and the collector's clock rather than the sender's decides), their keys,
    /// decisions that ended that long ago with their changes, and used or expired enrolment
    /// tokens as old.
    pub(super) fn purge_fleet(&mut self, now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats> {
        let cutoff = retention_cutoff(now, keep_days);
        let r = self.purge_fleet_tx(cutoff);
        // Dropped days are gone; a failed purge may have dropped none.
        self.days.clear();
        r
    }

    fn purge_fleet_tx(&mut self, cutoff: UnixTime) -> Result<FleetPurgeStats> {
        self.compact_ranges(cutoff)?;
        let shown = &self.shown;
        let mut tx = self
            .client
            .transaction()
            .map_err(pe(shown, "purge fleet data"))?;
        let decisions = tx
            .execute(
                "DELETE FROM decisions WHERE (expires_at IS NOT NULL AND expires_at < $1) \
                 OR (removed_at IS NOT NULL AND removed_at < $1)",
                &[&cutoff],
            )
            .map_err(pe(shown, "purge decisions"))?;
        // Seqs are never reused (identity): agents' cursors stay valid.
        tx.execute(
            "DELETE FROM decision_changes c WHERE NOT EXISTS \
             (SELECT 1 FROM decisions d WHERE d.id = c.decision_id)",
            &[],
        )
        .map_err(pe(shown, "purge decision changes"))?;
        let tokens = tx
            .execute(
                "DELETE FROM enrol_tokens WHERE coalesce(used_at, expires_at) < $1",
                &[&cutoff],
            )
            .map_err(pe(shown, "purge enrolment tokens"))?;
        tx.commit().map_err(pe(shown, "purge fleet data"))?;
        // The events in a transaction of their own: dropping a partition locks the whole
        // table until commit, and an ingest that made a new day's partition (that lock too)
        // may wait on a decision row this purge deleted — one lock at a time, no circle.
        let mut tx = self
            .client
            .transaction()
            .map_err(pe(shown, "purge fleet events"))?;
        let old = partitions::before(&mut tx, "fleet_events", cutoff)
            .map_err(pe(shown, "list fleet event partitions"))?;
        let mut events = 0u64;
        // Counted before any is dropped: dropping takes a lock on the whole table, held until
        // commit, which ingests wait for.
        for p in &old {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {}", ident(&p.name)), &[])
                .map_err(pe(shown, "count old fleet events"))?
                .get(0);
            events += u64::try_from(n).unwrap_or(0);
        }
        if let Some(until) = old.iter().map(|p| p.to).max() {
            // Keys go with their events (stored in the same statement, same `received_at`).
            tx.execute(
                "DELETE FROM fleet_event_keys WHERE received_at < $1",
                &[&until],
            )
            .map_err(pe(shown, "purge keyed events' keys"))?;
        }
        for p in &old {
            tx.batch_execute(&format!("DROP TABLE {}", ident(&p.name)))
                .map_err(pe(shown, "drop an old fleet event partition"))?;
        }
        tx.commit().map_err(pe(shown, "purge fleet events"))?;
        Ok(FleetPurgeStats {
            events,
            decisions,
            tokens,
        })
    }
}

/// The fleet rules' effects in `tx`: alerts (a decision without one linked to the alert
/// just before it), decisions, lifts, counters and profiles; `counts` counts them.
fn apply_effects_tx(
    tx: &mut Transaction<'_>,
    days: &mut KnownDays,
    stmts: &mut Prepared,
    shown: &Path,
    effects: &FleetEffects,
    now: UnixTime,
    counts: &mut IngestCounts,
) -> Result<()> {
    apply_outputs(&effects.outputs, counts, |w| match w {
        OutputWrite::Alert(a, plan) => {
            Ok(Some(insert_alert(tx, days, stmts, shown, a, plan, now)?))
        }
        OutputWrite::Decision(d) => Ok(put_decision_tx(tx, stmts, shown, d)?.1.map(|c| c.seq)),
        OutputWrite::Lift(which, at) => Ok(lift_tx(tx, stmts, shown, which, at)?.map(|c| c.seq)),
    })?;
    if let Some(c) = &effects.counters {
        put_counters_tx(tx, stmts, shown, c)?;
    }
    put_profiles_tx(tx, stmts, shown, &effects.profiles)
}

/// The advisory lock key of the fleet rules' leadership: one 64-bit number every
/// collector on the database agrees on ("logward rules" in ASCII, cut to 8 bytes).
const RULES_LEAD_KEY: i64 = 0x6c6f_6777_7275_6c65;

impl PgStore {
    /// [`CollectorStore::lead_rules`](crate::CollectorStore::lead_rules): a session-level
    /// advisory lock on this connection, taken when free. Asked again while held, it is not
    /// taken twice: the lock count stays one, so the session's end frees it whole.
    pub(super) fn lead_rules(&mut self) -> Result<bool> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        if holds_lead(client, stmts, shown)? {
            return Ok(true);
        }
        let taken = self.row(
            "SELECT pg_try_advisory_lock($1)",
            &[&RULES_LEAD_KEY],
            "take the fleet rules' lead",
            |r| Ok(r.try_get(0)?),
        )?;
        Ok(taken.unwrap_or(false))
    }

    /// [`CollectorStore::commit_rules`](crate::CollectorStore::commit_rules).
    pub(super) fn commit_rules(
        &mut self,
        key: &str,
        expected: Option<&str>,
        position: &str,
        now: UnixTime,
        rules: &mut dyn FnMut(&dyn ProfileLookup) -> Result<FleetEffects>,
    ) -> Result<IngestCounts> {
        let r = self.commit_rules_tx(key, expected, position, now, rules);
        if r.is_err() {
            self.days.clear();
        }
        r
    }

    fn commit_rules_tx(
        &mut self,
        key: &str,
        expected: Option<&str>,
        position: &str,
        now: UnixTime,
        rules: &mut dyn FnMut(&dyn ProfileLookup) -> Result<FleetEffects>,
    ) -> Result<IngestCounts> {
        let PgStore {
            client,
            shown,
            days,
            stmts,
            ..
        } = self;
        let shown: &Path = shown;
        let mut tx = client
            .transaction()
            .map_err(pe(shown, "begin the fleet rules"))?;
        // Only the leader's session, and only from the position it read: a collector that
        // lost its connection (and so the lock) while another took over commits nothing.
        if !holds_lead(&mut tx, stmts, shown)? {
            return Err(StoreError::invalid(
                "fleet rules lead",
                "this collector no longer leads the fleet rules",
            ));
        }
        const WHAT: &str = "read the fleet rules' position";
        let stored: Option<String> = stmts
            .query_opt(
                &mut tx,
                shown,
                WHAT,
                "SELECT value FROM meta WHERE key = $1 FOR UPDATE",
                &[&key],
            )?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pe(shown, WHAT))?;
        if stored.as_deref() != expected {
            return Err(StoreError::invalid(
                "fleet rules position",
                "another collector moved it since this one read it",
            ));
        }
        partitions::ensure(&mut tx, days, "alerts", now)
            .map_err(pe(shown, "make a day's partition"))?;
        let effects = {
            let reader = ProfileReader {
                tx: RefCell::new((&mut tx, &mut *stmts)),
                shown,
            };
            rules(&reader)?
        };
        let mut counts = IngestCounts::default();
        apply_effects_tx(&mut tx, days, stmts, shown, &effects, now, &mut counts)?;
        stmts.execute(
            &mut tx,
            shown,
            "save the fleet rules' position",
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &position],
        )?;
        tx.commit().map_err(pe(shown, "commit the fleet rules"))?;
        Ok(counts)
    }
}

/// Whether this session holds the fleet rules' advisory lock.
fn holds_lead(
    c: &mut impl postgres::GenericClient,
    st: &mut Prepared,
    shown: &Path,
) -> Result<bool> {
    const WHAT: &str = "check the fleet rules' lead";
    st.query_one(
        c,
        shown,
        WHAT,
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
         AND pid = pg_backend_pid() AND granted AND objsubid = 1 \
         AND classid::bigint = ($1::bigint >> 32) \
         AND objid::bigint = ($1::bigint & 4294967295))",
        &[&RULES_LEAD_KEY],
    )?
    .try_get(0)
    .map_err(pe(shown, WHAT))
}

/// A table name from the catalogue as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The window of an agent's stored seq ranges that a request's seqs touch (one indexed
/// look-up), with its bounds. The agent's row is locked: no other collector changes them.
fn read_ranges(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    agent_id: &str,
    items: &[FleetItem],
) -> Result<(SeqWindow, i64, i64)> {
    let (lo, hi) = window_of(items).unwrap_or((0, 0));
    const WHAT: &str = "read an agent's sequences";
    let ranges = st
        .query(
            tx,
            shown,
            WHAT,
            "SELECT first_seq, last_seq, received_at FROM agent_seq_ranges \
             WHERE agent_id = $1 AND last_seq >= $2 AND first_seq <= $3",
            &[&agent_id, &lo, &hi],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<std::result::Result<_, _>>()
        .map_err(pe(shown, WHAT))?;
    Ok((SeqWindow::new(ranges), lo, hi))
}

/// Replaces an agent's ranges in the window `lo..=hi` (the rows read) with `ranges`.
fn put_ranges(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    agent_id: &str,
    (lo, hi): (i64, i64),
    ranges: &[(i64, i64, i64)],
) -> Result<()> {
    const WHAT: &str = "store an agent's sequences";
    st.execute(
        tx,
        shown,
        WHAT,
        "DELETE FROM agent_seq_ranges WHERE agent_id = $1 AND last_seq >= $2 AND first_seq <= $3",
        &[&agent_id, &lo, &hi],
    )?;
    let (first, last, at): (Vec<i64>, Vec<i64>, Vec<i64>) = ranges.iter().fold(
        (Vec::new(), Vec::new(), Vec::new()),
        |(mut f, mut l, mut a), r| {
            f.push(r.0);
            l.push(r.1);
            a.push(r.2);
            (f, l, a)
        },
    );
    st.execute(
        tx,
        shown,
        WHAT,
        "INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at) \
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])",
        &[&agent_id, &first, &last, &at],
    )?;
    Ok(())
}

/// Stores the keys of a request's keyed events (sorted, so collectors storing overlapping
/// windows take the keys' locks in one order); returns the keys that were new. A key
/// repeated inside the request is new once.
fn insert_keys(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    items: &[FleetItem],
    now: UnixTime,
) -> Result<HashSet<[u8; 16]>> {
    let mut keys: Vec<&[u8]> = items
        .iter()
        .filter_map(|i| match i {
            FleetItem::Keyed { key, .. } => Some(key.as_slice()),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    keys.sort_unstable();
    keys.dedup();
    let rows = st.query(
        tx,
        shown,
        "store keyed events' keys",
        "INSERT INTO fleet_event_keys (dedup_key, received_at) \
         SELECT k, $2 FROM unnest($1::bytea[]) AS k ON CONFLICT DO NOTHING \
         RETURNING dedup_key",
        &[&keys, &now],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| <[u8; 16]>::try_from(r.try_get::<_, &[u8]>(0).ok()?).ok())
        .collect())
}

fn put_counters_tx(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    c: &CounterSnapshot,
) -> Result<()> {
    st.execute(
        tx,
        shown,
        "save the fleet rules' counters",
        "INSERT INTO counters (name, data, saved_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
        &[&c.name, &c.data, &c.saved_at],
    )?;
    Ok(())
}

/// The login profiles an ingest changed, in its transaction.
fn put_profiles_tx(
    tx: &mut Transaction<'_>,
    st: &mut Prepared,
    shown: &Path,
    rows: &[ProfileRow],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    for r in rows {
        st.execute(
            tx,
            shown,
            "store login profiles",
            "INSERT INTO profiles (key, data, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
             updated_at = excluded.updated_at",
            &[&r.key, &r.data, &r.updated_at],
        )?;
    }
    Ok(())
}
