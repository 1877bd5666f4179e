//! The collector's fleet state on [`SqliteStore`] (migration 4): enrolment tokens (SHA-256
//! only, expiry, one use), agents, the events agents forward, alerts from agents (into the
//! `alerts` table), fleet ban decisions and their retention.
//!
//! One ingest request is one transaction ([`SqliteStore::ingest`]): the per-agent `seq`
//! check, the rows and the agent's new `last_seq` commit together, so a retried batch is
//! never stored twice. The fleet rules run inside it ([`SqliteStore::ingest_with`]): the
//! alerts and decisions they make of the newly stored events, and their counters, commit with
//! those events, so a crash never leaves a counted event without its alert.
//!
//! Decisions are a change log (migration 6): at most one decision per target is in force, and
//! every add, extend, delete and expiry is a row of `decision_changes` with a new `seq`, which
//! is what agents poll.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::analysis::AnalysisState;
use super::profiles::ProfileReader;
use super::SqliteStore;
use crate::error::{sql, Result, StoreError};
use crate::types::{CounterSnapshot, NewAlert, UnixTime};

/// Inserts one collector alert in `tx` with everything that must commit with it: its outbox
/// rows (one per notifier of `plan`, due at `now`) and its analysis row (pending or
/// skipped). Every alert the collector stores goes through here — agents' alerts from
/// [`SqliteStore::ingest`] and the fleet rules' alike — so none is stored without its
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
    if !plan.notifiers.is_empty() {
        let mut ob = tx
            .prepare_cached(
                "INSERT INTO outbox (alert_id, sink, state, attempts, next_attempt_at, \
                 updated_at) VALUES (?1, ?2, 'pending', 0, ?3, ?3)",
            )
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

/// An enrolled agent (or a host registered in shared-key mode: no secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub host: String,
    /// The HMAC secret (hex); `None` for shared-key hosts.
    pub secret: Option<String>,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub last_seen: Option<UnixTime>,
    pub version: Option<String>,
    pub spool_items: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub oldest_unsent: Option<UnixTime>,
    /// The highest `seq` stored from this agent.
    pub last_seq: i64,
}

impl std::fmt::Debug for Agent {
    /// The secret is redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_seen", &self.last_seen)
            .field("version", &self.version)
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// What an agent's heartbeat says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub version: Option<String>,
    pub host: Option<String>,
    pub spool_items: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub oldest_unsent: Option<UnixTime>,
}

/// A forwarded event's row: its JSON and the columns queries filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEvent {
    pub time: UnixTime,
    pub host: Option<String>,
    pub action: String,
    pub outcome: String,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub json: String,
}

/// What the collector does with an alert besides storing it, decided before the
/// transaction (routes, the `llm.when` filter) and written in it by [`insert_alert`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertPlan {
    /// One outbox row per notifier, due at once.
    pub notifiers: Vec<String>,
    /// `Some(Pending)` asks the LLM (with the cache key, when answers may be shared);
    /// `Some(Skipped)` records that the filter left it out; `None`: no LLM configured.
    pub analysis: Option<(AnalysisState, Option<String>)>,
}

/// One item of an ingest request, with the agent's spool sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetItem {
    Event {
        seq: i64,
        event: FleetEvent,
    },
    Alert {
        seq: i64,
        alert: NewAlert,
        plan: AlertPlan,
    },
}

impl FleetItem {
    pub fn seq(&self) -> i64 {
        match self {
            FleetItem::Event { seq, .. } | FleetItem::Alert { seq, .. } => *seq,
        }
    }
}

/// What [`SqliteStore::ingest`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub events: u64,
    pub alerts: u64,
    /// Items whose `seq` was not above the agent's last stored one (a retried batch).
    pub duplicates: u64,
    /// Alerts the fleet rules raised over the new events.
    pub fleet_alerts: u64,
    /// Decision changes (adds and extensions, lifts) the fleet rules made.
    pub fleet_decisions: u64,
}

/// One thing the fleet rules made of an ingest's new events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetOutput {
    /// A fleet alert, stored like an agent's (through [`insert_alert`], so it is notified
    /// and analysed as its plan says).
    Alert(NewAlert, AlertPlan),
    /// A fleet ban decision. When its `alert_id` is `None` it is linked to the alert just
    /// before it in the same list, if any.
    Decision(NewDecision),
    /// Lift the decision in force for a target (a rule's `unban`).
    Lift { target: String, at: UnixTime },
}

/// What the fleet rules made of one ingest request's new events, committed in its
/// transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetEffects {
    pub outputs: Vec<FleetOutput>,
    /// The rules' counters after these events (saved under their name).
    pub counters: Option<CounterSnapshot>,
    /// Login profiles these events changed (the fleet anomaly detector).
    pub profiles: Vec<crate::types::ProfileRow>,
}

/// A kind of decision change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionOp {
    /// A new decision in force.
    Add,
    /// The decision in force for the target now lasts longer.
    Extend,
    /// Lifted (by an operator or a rule) before its expiry.
    Delete,
    /// Its time is over.
    Expire,
}

impl DecisionOp {
    /// `add`, `extend`, `delete`, `expire` (the wire's `action`).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOp::Add => "add",
            DecisionOp::Extend => "extend",
            DecisionOp::Delete => "delete",
            DecisionOp::Expire => "expire",
        }
    }

    fn parse(s: &str) -> Option<DecisionOp> {
        Some(match s {
            "add" => DecisionOp::Add,
            "extend" => DecisionOp::Extend,
            "delete" => DecisionOp::Delete,
            "expire" => DecisionOp::Expire,
            _ => return None,
        })
    }

    /// Whether the change ends the ban (delete, expire).
    pub fn lifts(self) -> bool {
        matches!(self, DecisionOp::Delete | DecisionOp::Expire)
    }
}

/// One change of the decisions log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionChange {
    /// Its place in the log: what `GET /v1/decisions?since=` counts.
    pub seq: i64,
    pub decision_id: i64,
    pub op: DecisionOp,
    pub target: String,
    /// For add/extend: the ban's length from `at` (`None`: permanent). For a lift: 0.
    pub duration_secs: Option<i64>,
    /// For add/extend: when the ban ends (`None`: never). For a lift: when it was lifted.
    pub expires_at: Option<UnixTime>,
    pub reason: String,
    pub rule_id: Option<String>,
    /// When the change was made.
    pub at: UnixTime,
}

/// Which decision [`SqliteStore::delete_decision`] lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionSelector<'a> {
    Id(i64),
    /// The decision in force for this target (canonical text form).
    Target(&'a str),
}

/// The state of an enrolment token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Redeemed now: the agent was created.
    Redeemed,
    Unknown,
    Used,
    Expired,
}

/// A fleet ban decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    pub target: String,
    pub duration_secs: Option<i64>,
    pub reason: String,
    pub rule_id: Option<String>,
    pub created_at: UnixTime,
    /// The alert that led to it (fleet rules), for the dashboard.
    pub alert_id: Option<i64>,
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: i64,
    pub target: String,
    pub duration_secs: Option<i64>,
    pub reason: String,
    pub rule_id: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub alert_id: Option<i64>,
    /// When it stopped being in force: lifted (before `expires_at`) or expired (at it).
    pub removed_at: Option<UnixTime>,
}

impl Decision {
    /// Whether it is in force at `t`: neither lifted nor expired.
    pub fn in_force(&self, t: UnixTime) -> bool {
        self.removed_at.is_none() && self.expires_at.is_none_or(|e| e > t)
    }

    /// Whether it was lifted (rather than left to expire).
    pub fn lifted(&self) -> bool {
        self.removed_at
            .is_some_and(|r| self.expires_at.is_none_or(|e| r < e))
    }
}

/// Rows removed by [`SqliteStore::purge_fleet`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetPurgeStats {
    pub events: u64,
    pub decisions: u64,
    pub tokens: u64,
}

const AGENT_COLUMNS: &str = "id, host, secret, created_at, revoked_at, last_seen, version, \
     spool_items, spool_bytes, oldest_unsent, last_seq";

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
fn put_decision_tx(
    tx: &Connection,
    path: &Path,
    d: &NewDecision,
) -> Result<(i64, Option<DecisionChange>)> {
    if d.duration_secs.is_some_and(|s| s <= 0) {
        return Err(StoreError::invalid(
            "decision duration",
            format!("{:?} for {}: must be above 0", d.duration_secs, d.target),
        ));
    }
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
            let c = log_change(
                tx,
                path,
                id,
                DecisionOp::Add,
                &d.target,
                d.duration_secs,
                expires,
                &d.reason,
                d.rule_id.as_deref(),
                d.created_at,
            )?;
            Ok((id, Some(c)))
        }
        Some((id, created, Some(old))) if expires.is_none_or(|e| e > old) => {
            tx.prepare_cached(
                "UPDATE decisions SET expires_at = ?2, duration_secs = ?3 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, expires, expires.map(|e| e - created)]))
            .map_err(sql(path, "extend a decision"))?;
            let c = log_change(
                tx,
                path,
                id,
                DecisionOp::Extend,
                &d.target,
                d.duration_secs,
                expires,
                &d.reason,
                d.rule_id.as_deref(),
                d.created_at,
            )?;
            Ok((id, Some(c)))
        }
        Some((id, _, _)) => Ok((id, None)),
    }
}

/// Lifts a decision in force in the open transaction, with a `delete` change.
fn lift_tx(
    tx: &Connection,
    path: &Path,
    which: DecisionSelector<'_>,
    at: UnixTime,
) -> Result<Option<DecisionChange>> {
    let (id, target) = match which {
        DecisionSelector::Id(id) => (Some(id), None),
        DecisionSelector::Target(t) => (None, Some(t)),
    };
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

fn agent_row(r: &Row<'_>) -> rusqlite::Result<Agent> {
    Ok(Agent {
        id: r.get(0)?,
        host: r.get(1)?,
        secret: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
        last_seen: r.get(5)?,
        version: r.get(6)?,
        spool_items: r.get(7)?,
        spool_bytes: r.get(8)?,
        oldest_unsent: r.get(9)?,
        last_seq: r.get(10)?,
    })
}

impl SqliteStore {
    /// Stores a new enrolment token's SHA-256 (hex) with its expiry.
    pub fn create_enrol_token(
        &mut self,
        sha256: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO enrol_tokens (sha256, created_at, expires_at) VALUES (?1, ?2, ?3)",
                params![sha256, created_at, expires_at],
            )
            .map_err(sql(&self.path, "store an enrolment token"))?;
        Ok(())
    }

    /// Redeems a token (by its SHA-256) for a new agent, in one transaction: the token is
    /// marked used and the agent created only when it is known, unused and unexpired.
    pub fn redeem_enrol_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
        agent_id: &str,
        host: &str,
        secret: &str,
        version: Option<&str>,
    ) -> Result<TokenCheck> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "redeem an enrolment token"))?;
        let row: Option<(UnixTime, Option<UnixTime>)> = tx
            .query_row(
                "SELECT expires_at, used_at FROM enrol_tokens WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql(path, "redeem an enrolment token"))?;
        let check = match row {
            None => TokenCheck::Unknown,
            Some((_, Some(_))) => TokenCheck::Used,
            Some((expires, None)) if expires <= now => TokenCheck::Expired,
            Some(_) => {
                tx.execute(
                    "UPDATE enrol_tokens SET used_at = ?2, agent_id = ?3 WHERE sha256 = ?1",
                    params![sha256, now, agent_id],
                )
                .map_err(sql(path, "redeem an enrolment token"))?;
                tx.execute(
                    "INSERT INTO agents (id, host, secret, created_at, last_seen, version) \
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                    params![agent_id, host, secret, now, version],
                )
                .map_err(sql(path, "create an agent"))?;
                TokenCheck::Redeemed
            }
        };
        tx.commit()
            .map_err(sql(path, "redeem an enrolment token"))?;
        Ok(check)
    }

    /// Registers a shared-key host on first sight (no secret); nothing when it exists.
    pub fn register_shared_agent(&mut self, id: &str, now: UnixTime) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO agents (id, host, created_at, last_seen) VALUES (?1, ?1, ?2, ?2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map_err(sql(&self.path, "register an agent"))?;
        Ok(())
    }

    /// One agent.
    pub fn agent(&mut self, id: &str) -> Result<Option<Agent>> {
        self.conn
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], agent_row).optional())
            .map_err(sql(&self.path, "read an agent"))
    }

    /// All agents, by host then id.
    pub fn agents(&mut self) -> Result<Vec<Agent>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents ORDER BY host, id"
            ))
            .and_then(|mut s| s.query_map([], agent_row)?.collect())
            .map_err(sql(&self.path, "read agents"))
    }

    /// Revokes an agent: its requests are refused from now on. Whether it existed unrevoked.
    pub fn revoke_agent(&mut self, id: &str, at: UnixTime) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE agents SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map_err(sql(&self.path, "revoke an agent"))?;
        Ok(n > 0)
    }

    /// Records a heartbeat (last seen, version, spool figures).
    pub fn record_heartbeat(&mut self, id: &str, now: UnixTime, hb: &Heartbeat) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE agents SET last_seen = ?2, version = coalesce(?3, version), \
                 spool_items = ?4, spool_bytes = ?5, oldest_unsent = ?6 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    now,
                    hb.version,
                    hb.spool_items,
                    hb.spool_bytes,
                    hb.oldest_unsent
                ])
            })
            .map_err(sql(&self.path, "record a heartbeat"))?;
        Ok(())
    }

    /// Saves a rules' counters outside an ingest (the collector's shutdown).
    pub fn put_counters(&mut self, c: &CounterSnapshot) -> Result<()> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin saving counters"))?;
        put_counters_tx(&tx, path, c)?;
        tx.commit().map_err(sql(path, "commit counters"))
    }

    /// Stores one request's items from `agent_id` in one transaction. Items whose `seq` is
    /// not above the agent's highest stored one (or a previous item's of the same request)
    /// are duplicates and skipped; the agent's `last_seq` and `last_seen` move on.
    pub fn ingest(
        &mut self,
        agent_id: &str,
        now: UnixTime,
        items: &[FleetItem],
    ) -> Result<IngestCounts> {
        self.ingest_with(agent_id, now, items, &mut |_| Ok(FleetEffects::default()))
    }

    /// [`SqliteStore::ingest`] with the fleet rules: `rules` is given the indexes (into
    /// `items`, in `seq` order) of the events newly stored — never a duplicate's — and what it
    /// returns (alerts, decisions, its counters) is committed in the same transaction. When
    /// it fails, or the transaction does, nothing is stored and the caller must forget what
    /// its rules counted (reload them from the saved counters).
    pub fn ingest_with(
        &mut self,
        agent_id: &str,
        now: UnixTime,
        items: &[FleetItem],
        rules: &mut dyn FnMut(&[usize]) -> Result<FleetEffects>,
    ) -> Result<IngestCounts> {
        let req = IngestRequest {
            agent_id,
            now,
            items,
        };
        let mut counts = self.ingest_group(&[req], &mut |_, fresh, _| rules(fresh))?;
        Ok(counts.pop().unwrap_or_default())
    }

    /// Several requests' ingests (each as [`SqliteStore::ingest_with`]) in one transaction:
    /// the collector's group commit, which spends one commit and one write of each touched
    /// index page on a whole queue of requests. `rules` is given the request's index too,
    /// and a reader of the stored login profiles.
    /// All or nothing: when one fails none is stored, and the caller should retry them one
    /// by one so that only the bad one fails.
    pub fn ingest_group(
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
        Ok(all)
    }

    /// Number of fleet events stored (all, or one host's).
    pub fn count_fleet_events(&mut self, host: Option<&str>) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM fleet_events WHERE ?1 IS NULL OR host = ?1")
            .and_then(|mut s| s.query_row([host], |r| r.get(0)))
            .map_err(sql(&self.path, "count fleet events"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The stored JSON of fleet events, oldest first, at most `limit`.
    pub fn fleet_event_json(&mut self, limit: usize) -> Result<Vec<String>> {
        self.conn
            .prepare_cached("SELECT json FROM fleet_events ORDER BY id LIMIT ?1")
            .and_then(|mut s| {
                s.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?
                    .collect()
            })
            .map_err(sql(&self.path, "read fleet events"))
    }

    /// Records a fleet ban decision in its own transaction; returns its id. When one is
    /// in force for the target it is extended to the later end instead (one decision in force
    /// per target), and its id returned.
    pub fn add_decision(&mut self, d: &NewDecision) -> Result<i64> {
        Ok(self.put_decision(d)?.0)
    }

    /// [`SqliteStore::add_decision`], also returning the change it made (`None`: the decision
    /// in force already lasts as long).
    pub fn put_decision(&mut self, d: &NewDecision) -> Result<(i64, Option<DecisionChange>)> {
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
    pub fn delete_decision(
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
    pub fn expire_decisions(&mut self, now: UnixTime) -> Result<u64> {
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
    pub fn decision_changes_after(
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
    pub fn decisions_in_force(&mut self, now: UnixTime) -> Result<Vec<Decision>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE removed_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?1) ORDER BY id"
            ))
            .and_then(|mut s| s.query_map([now], decision_row)?.collect())
            .map_err(sql(&self.path, "read decisions"))
    }

    /// Decisions with an id above `after`, in id order, at most `limit` (every decision ever
    /// made, lifted or not; agents poll [`SqliteStore::decision_changes_after`]).
    pub fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>> {
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

    /// Retention: fleet events older than `keep_days` days, decisions that expired that
    /// long ago, and used or expired enrolment tokens as old.
    pub fn purge_fleet(&mut self, now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats> {
        let cutoff = now - i64::from(keep_days) * 86_400;
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(sql(path, "purge fleet data"))?;
        let events = tx
            .execute("DELETE FROM fleet_events WHERE time < ?1", [cutoff])
            .map_err(sql(path, "purge fleet events"))?;
        let decisions = tx
            .execute(
                "DELETE FROM decisions WHERE (expires_at IS NOT NULL AND expires_at < ?1) \
                 OR (removed_at IS NOT NULL AND removed_at < ?1)",
                [cutoff],
            )
            .map_err(sql(path, "purge decisions"))?;
        // Seqs are never reused (AUTOINCREMENT): agents' cursors stay valid.
        tx.execute(
            "DELETE FROM decision_changes WHERE decision_id NOT IN (SELECT id FROM decisions)",
            [],
        )
        .map_err(sql(path, "purge decision changes"))?;
        let tokens = tx
            .execute(
                "DELETE FROM enrol_tokens WHERE coalesce(used_at, expires_at) < ?1",
                [cutoff],
            )
            .map_err(sql(path, "purge enrolment tokens"))?;
        tx.commit().map_err(sql(path, "purge fleet data"))?;
        Ok(FleetPurgeStats {
            events: events as u64,
            decisions: decisions as u64,
            tokens: tokens as u64,
        })
    }
}

/// A `decision_changes` row as read, before its op is checked.
type DecisionChangeRow = (
    (i64, i64, String),
    (String, Option<i64>, Option<i64>),
    (String, Option<String>, UnixTime),
);

/// What [`SqliteStore::ingest_group`] runs over each request's new events: the request's
/// index, the new events' indexes into its items, a reader of the stored login profiles.
pub type GroupRules<'a> =
    dyn FnMut(usize, &[usize], &ProfileReader<'_>) -> Result<FleetEffects> + 'a;

/// One request of an [`SqliteStore::ingest_group`].
#[derive(Debug, Clone, Copy)]
pub struct IngestRequest<'a> {
    pub agent_id: &'a str,
    /// When it was received.
    pub now: UnixTime,
    pub items: &'a [FleetItem],
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
    let mut fresh = Vec::new();
    let mut counts = IngestCounts::default();
    let last: Option<i64> = tx
        .prepare_cached("SELECT last_seq FROM agents WHERE id = ?1")
        .and_then(|mut s| s.query_row([agent_id], |r| r.get(0)).optional())
        .map_err(sql(path, "read an agent's sequence"))?;
    let Some(mut last) = last else {
        return Err(StoreError::NotFound {
            what: "agent",
            id: 0,
        });
    };
    {
        let mut ev = tx
            .prepare_cached(
                "INSERT INTO fleet_events (agent_id, seq, time, received_at, host, action, \
                 outcome, source_ip, user_name, json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sql(path, "store fleet events"))?;
        for (i, item) in items.iter().enumerate() {
            let seq = item.seq();
            if seq <= last {
                counts.duplicates += 1;
                continue;
            }
            last = seq;
            match item {
                FleetItem::Event { event: e, .. } => {
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
                        e.json
                    ])
                    .map_err(sql(path, "store fleet events"))?;
                    counts.events += 1;
                    fresh.push(i);
                }
                FleetItem::Alert { alert: a, plan, .. } => {
                    insert_alert(tx, path, a, plan, now)?;
                    counts.alerts += 1;
                }
            }
        }
    }
    if !fresh.is_empty() {
        let effects = rules(&fresh)?;
        let mut last_alert = None;
        for o in &effects.outputs {
            match o {
                FleetOutput::Alert(a, plan) => {
                    last_alert = Some(insert_alert(tx, path, a, plan, now)?);
                    counts.fleet_alerts += 1;
                }
                FleetOutput::Decision(d) => {
                    let mut d = d.clone();
                    d.alert_id = d.alert_id.or(last_alert);
                    if put_decision_tx(tx, path, &d)?.1.is_some() {
                        counts.fleet_decisions += 1;
                    }
                }
                FleetOutput::Lift { target, at } => {
                    if lift_tx(tx, path, DecisionSelector::Target(target), *at)?.is_some() {
                        counts.fleet_decisions += 1;
                    }
                }
            }
        }
        if let Some(c) = &effects.counters {
            put_counters_tx(tx, path, c)?;
        }
        super::profiles::put(tx, path, &effects.profiles)?;
    }
    tx.prepare_cached("UPDATE agents SET last_seq = ?2, last_seen = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![agent_id, last, now]))
        .map_err(sql(path, "update an agent's sequence"))?;
    Ok(counts)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(t: UnixTime) -> FleetEvent {
        FleetEvent {
            time: t,
            host: Some("web01".into()),
            action: "user-login".into(),
            outcome: "failure".into(),
            source_ip: Some("192.0.2.1".into()),
            user: Some("root".into()),
            json: "{}".into(),
        }
    }

    #[test]
    fn tokens_are_one_use_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.create_enrol_token("aa", 100, 200).unwrap();
        s.create_enrol_token("bb", 100, 150).unwrap();
        assert_eq!(
            s.redeem_enrol_token("zz", 120, "a1", "h", "s", None)
                .unwrap(),
            TokenCheck::Unknown
        );
        assert_eq!(
            s.redeem_enrol_token("aa", 120, "a1", "h", "s", Some("0.1"))
                .unwrap(),
            TokenCheck::Redeemed
        );
        assert_eq!(
            s.redeem_enrol_token("aa", 121, "a2", "h", "s", None)
                .unwrap(),
            TokenCheck::Used
        );
        assert_eq!(
            s.redeem_enrol_token("bb", 150, "a3", "h", "s", None)
                .unwrap(),
            TokenCheck::Expired
        );
        let a = s.agent("a1").unwrap().unwrap();
        assert_eq!((a.host.as_str(), a.secret.as_deref()), ("h", Some("s")));
        assert!(!format!("{a:?}").contains("\"s\""));
        assert!(s.agent("a2").unwrap().is_none());
        assert!(s.revoke_agent("a1", 130).unwrap());
        assert!(!s.revoke_agent("a1", 131).unwrap());
        assert_eq!(s.agents().unwrap()[0].revoked_at, Some(130));
    }

    #[test]
    fn ingest_skips_duplicate_sequences_and_purges() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.register_shared_agent("web01", 10).unwrap();
        let items: Vec<FleetItem> = (1..=3)
            .map(|seq| FleetItem::Event {
                seq,
                event: event(1000),
            })
            .collect();
        let c = s.ingest("web01", 2000, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (3, 0));
        let c = s.ingest("web01", 2001, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (0, 3));
        assert_eq!(s.count_fleet_events(Some("web01")).unwrap(), 3);
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 3);
        assert!(s.ingest("nobody", 1, &items).is_err());
        let id = s
            .add_decision(&NewDecision {
                target: "192.0.2.1".into(),
                duration_secs: Some(60),
                reason: "r".into(),
                rule_id: None,
                created_at: 1000,
                alert_id: None,
            })
            .unwrap();
        let d = s.decisions_after(0, 10).unwrap();
        assert_eq!((d[0].id, d[0].expires_at), (id, Some(1060)));
        assert!(s.decisions_after(id, 10).unwrap().is_empty());
        let p = s.purge_fleet(1000 + 2 * 86_400, 1).unwrap();
        assert_eq!((p.events, p.decisions), (3, 1));
    }

    fn decision(target: &str, secs: Option<i64>, at: UnixTime) -> NewDecision {
        NewDecision {
            target: target.into(),
            duration_secs: secs,
            reason: "r".into(),
            rule_id: Some("fleet-bruteforce".into()),
            created_at: at,
            alert_id: None,
        }
    }

    #[test]
    fn decisions_are_a_change_log_with_one_in_force_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        let (id, c) = s
            .put_decision(&decision("192.0.2.1", Some(60), 1000))
            .unwrap();
        assert_eq!(c.unwrap().op, DecisionOp::Add);
        // Shorter: nothing changes. Longer: extended, same decision.
        let (id2, c) = s
            .put_decision(&decision("192.0.2.1", Some(10), 1001))
            .unwrap();
        assert_eq!((id2, c), (id, None));
        let (id3, c) = s
            .put_decision(&decision("192.0.2.1", Some(600), 1002))
            .unwrap();
        let c = c.unwrap();
        assert_eq!(
            (id3, c.op, c.expires_at),
            (id, DecisionOp::Extend, Some(1602))
        );
        assert_eq!(s.decisions_in_force(1003).unwrap().len(), 1);
        assert!(s
            .put_decision(&decision("192.0.2.1", Some(0), 1003))
            .is_err());
        // Lifted by target; a second lift finds nothing.
        let d = s
            .delete_decision(DecisionSelector::Target("192.0.2.1"), 1100)
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.op, d.decision_id, d.expires_at),
            (DecisionOp::Delete, id, Some(1100))
        );
        assert!(s
            .delete_decision(DecisionSelector::Id(id), 1101)
            .unwrap()
            .is_none());
        // A new one for the target after the lift, then its expiry.
        let (nid, _) = s
            .put_decision(&decision("192.0.2.1", Some(5), 1200))
            .unwrap();
        assert_ne!(nid, id);
        assert_eq!(s.expire_decisions(1204).unwrap(), 0);
        assert_eq!(s.expire_decisions(1205).unwrap(), 1);
        assert!(s.decisions_in_force(1205).unwrap().is_empty());
        let log = s.decision_changes_after(0, 100).unwrap();
        let ops: Vec<_> = log.iter().map(|c| c.op.as_str()).collect();
        assert_eq!(ops, ["add", "extend", "delete", "add", "expire"]);
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
        let after = s.decision_changes_after(log[2].seq, 100).unwrap();
        assert_eq!(after.len(), 2);
        // Permanent decisions are not extended by timed ones, and do not expire.
        s.put_decision(&decision("2001:db8::1", None, 1300))
            .unwrap();
        assert!(s
            .put_decision(&decision("2001:db8::1", Some(99), 1301))
            .unwrap()
            .1
            .is_none());
        assert_eq!(s.expire_decisions(i64::MAX / 2).unwrap(), 0);
    }

    #[test]
    fn fleet_rules_commit_with_the_ingest_and_see_only_new_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.register_shared_agent("web01", 10).unwrap();
        let items: Vec<FleetItem> = (1..=3)
            .map(|seq| FleetItem::Event {
                seq,
                event: event(1000),
            })
            .collect();
        let alert = NewAlert {
            time: 1000,
            rule_id: "fleet-bruteforce".into(),
            severity: 4,
            host: Some("fleet".into()),
            source_address: Some("192.0.2.1".into()),
            user: None,
            json: "{}".into(),
        };
        let mut seen = Vec::new();
        let mut rules = |new: &[usize]| {
            seen.push(new.to_vec());
            Ok(FleetEffects {
                outputs: vec![
                    FleetOutput::Alert(alert.clone(), AlertPlan::default()),
                    FleetOutput::Decision(decision("192.0.2.1", Some(60), 1000)),
                ],
                counters: Some(CounterSnapshot {
                    name: "fleet".into(),
                    data: vec![1, 2, 3],
                    saved_at: 1000,
                }),
                profiles: vec![crate::types::ProfileRow {
                    key: "alice".into(),
                    data: b"{}".to_vec(),
                    updated_at: 1000,
                }],
            })
        };
        let c = s
            .ingest_with("web01", 2000, &items[..2], &mut rules)
            .unwrap();
        assert_eq!((c.events, c.fleet_alerts, c.fleet_decisions), (2, 1, 1));
        // A retry with one new item: the rules see only that one.
        let c = s.ingest_with("web01", 2001, &items, &mut rules).unwrap();
        assert_eq!((c.events, c.duplicates, c.fleet_decisions), (1, 2, 0));
        assert_eq!(seen, [vec![0, 1], vec![2]]);
        let d = s.decisions_in_force(1001).unwrap();
        assert_eq!(d.len(), 1);
        assert!(d[0].alert_id.is_some());
        use crate::Store as _;
        assert_eq!(s.load_counters("fleet").unwrap().unwrap().data, [1, 2, 3]);
        assert_eq!(
            s.profile("alice").unwrap().unwrap(),
            b"{}",
            "profiles commit with it"
        );
        // Failing rules roll the whole request back.
        let more = [FleetItem::Event {
            seq: 4,
            event: event(1000),
        }];
        let mut failing = |_: &[usize]| Err(StoreError::invalid("rules", "boom".to_owned()));
        assert!(s.ingest_with("web01", 2002, &more, &mut failing).is_err());
        assert_eq!(s.count_fleet_events(None).unwrap(), 3);
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 3);
    }
}
