//! The collector's fleet state on [`SqliteStore`] (migration 4): enrolment tokens (SHA-256
//! only, expiry, one use), agents, the events agents forward, alerts from agents (into the
//! `alerts` table), fleet ban decisions and their retention.
//!
//! One ingest request is one transaction ([`SqliteStore::ingest`]): the per-agent `seq`
//! check, the rows and the agent's new `last_seq` commit together, so a retried batch is
//! never stored twice.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::analysis::AnalysisState;
use super::SqliteStore;
use crate::error::{sql, Result, StoreError};
use crate::types::{NewAlert, UnixTime};

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

    /// Stores one request's items from `agent_id` in one transaction. Items whose `seq` is
    /// not above the agent's highest stored one (or a previous item's of the same request)
    /// are duplicates and skipped; the agent's `last_seq` and `last_seen` move on.
    pub fn ingest(
        &mut self,
        agent_id: &str,
        now: UnixTime,
        items: &[FleetItem],
    ) -> Result<IngestCounts> {
        let path = &self.path;
        let mut counts = IngestCounts::default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin an ingest"))?;
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
            for item in items {
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
                    }
                    FleetItem::Alert { alert: a, plan, .. } => {
                        insert_alert(&tx, path, a, plan, now)?;
                        counts.alerts += 1;
                    }
                }
            }
        }
        tx.execute(
            "UPDATE agents SET last_seq = ?2, last_seen = ?3 WHERE id = ?1",
            params![agent_id, last, now],
        )
        .map_err(sql(path, "update an agent's sequence"))?;
        tx.commit().map_err(sql(path, "commit an ingest"))?;
        Ok(counts)
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

    /// Records a fleet ban decision; returns its id.
    pub fn add_decision(&mut self, d: &NewDecision) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO decisions (target, duration_secs, reason, rule_id, created_at, \
                 expires_at, alert_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5 + ?2, ?6)",
                params![
                    d.target,
                    d.duration_secs,
                    d.reason,
                    d.rule_id,
                    d.created_at,
                    d.alert_id
                ],
            )
            .map_err(sql(&self.path, "record a decision"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Decisions with an id above `after`, in id order, at most `limit`.
    pub fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>> {
        self.conn
            .prepare_cached(
                "SELECT id, target, duration_secs, reason, rule_id, created_at, expires_at, \
                 alert_id FROM decisions WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(Decision {
                            id: r.get(0)?,
                            target: r.get(1)?,
                            duration_secs: r.get(2)?,
                            reason: r.get(3)?,
                            rule_id: r.get(4)?,
                            created_at: r.get(5)?,
                            expires_at: r.get(6)?,
                            alert_id: r.get(7)?,
                        })
                    },
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
                "DELETE FROM decisions WHERE expires_at IS NOT NULL AND expires_at < ?1",
                [cutoff],
            )
            .map_err(sql(path, "purge decisions"))?;
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
}
