//! The dashboard's and the REST API's read queries on the collector's store: alerts with
//! filters and keyset pagination, one alert with its events, actions and analysis,
//! aggregates for the charts, and the bans (fleet decisions).

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Row};

use super::decisions::{decision_row, DECISION_COLUMNS};
use super::{alert_from_row, limit_to_sql, SqliteStore, ALERT_COLUMNS};
use crate::collector::{
    AlertDetail, AlertEvents, AlertFilter, AlertPage, AlertStats, Count, Decision, Delivery,
    DnsHitFilter, DnsStats, EventRow, Figures, FilterValue, StoredDnsHit, MAX_ALERT_EVENTS,
};
use crate::error::{sql, Result};
use crate::types::{DnsHit, StoredAlert, UnixTime};

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        time: r.get(2)?,
        host: r.get(3)?,
        action: r.get(4)?,
        outcome: r.get(5)?,
        source_ip: r.get(6)?,
        user: r.get(7)?,
        json: r.get(8)?,
    })
}

/// `WHERE …` and its parameters for a filter (the cursor included).
fn where_clause(f: &AlertFilter) -> (String, Vec<Value>) {
    let (w, p): (Vec<String>, Vec<Value>) = f
        .conditions()
        .into_iter()
        .map(|(cond, v)| {
            let v = match v {
                FilterValue::Int(i) => Value::Integer(i),
                FilterValue::Small(i) => Value::Integer(i64::from(i)),
                FilterValue::Text(t) => Value::Text(t.to_owned()),
            };
            (format!("{cond} ?"), v)
        })
        .unzip();
    if w.is_empty() {
        (String::new(), p)
    } else {
        (format!("WHERE {}", w.join(" AND ")), p)
    }
}

impl SqliteStore {
    /// Alerts matching `f`, newest (highest id) first, at most `limit`.
    pub(crate) fn query_alerts(&mut self, f: &AlertFilter, limit: usize) -> Result<AlertPage> {
        let (w, mut p) = where_clause(f);
        p.push(Value::Integer(limit_to_sql(limit.saturating_add(1))));
        let alerts: Vec<StoredAlert> = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {w} ORDER BY id DESC LIMIT ?"
            ))
            .and_then(|mut s| s.query_map(params_from_iter(p), alert_from_row)?.collect())
            .map_err(sql(&self.path, "query alerts"))?;
        Ok(AlertPage::from_rows(alerts, limit))
    }

    /// One alert with its events, decisions, deliveries and analysis; `None` when unknown.
    pub(crate) fn alert_detail(&mut self, id: i64) -> Result<Option<AlertDetail>> {
        let path = self.path.clone();
        let alert = self
            .conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
            .and_then(|mut s| {
                let mut rows = s.query_map([id], alert_from_row)?;
                rows.next().transpose()
            })
            .map_err(sql(&path, "read an alert"))?;
        let Some(alert) = alert else {
            return Ok(None);
        };
        let e = AlertEvents::of(&alert.alert);
        let events = self
            .conn
            .prepare_cached(&alert_events_sql(e.by))
            .and_then(|mut s| {
                s.query_map(
                    params![e.from, e.to, e.host, e.key, limit_to_sql(MAX_ALERT_EVENTS)],
                    event_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql(&path, "read an alert's events"))?;
        let decisions = self
            .conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE alert_id = ?1 ORDER BY id"
            ))
            .and_then(|mut s| s.query_map([id], decision_row)?.collect())
            .map_err(sql(&path, "read an alert's decisions"))?;
        let deliveries = self
            .conn
            .prepare_cached(
                "SELECT sink, state, attempts, last_error, updated_at FROM outbox \
                 WHERE alert_id = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(Delivery {
                        sink: r.get(0)?,
                        state: r.get(1)?,
                        attempts: r.get(2)?,
                        last_error: r.get(3)?,
                        updated_at: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(sql(&path, "read an alert's deliveries"))?;
        let analysis = self.analysis(id)?;
        Ok(Some(AlertDetail {
            alert,
            events,
            decisions,
            deliveries,
            analysis,
        }))
    }

    /// The charts' figures for alerts in `[since, until)`; `top` entries per ranking.
    pub(crate) fn alert_stats(
        &mut self,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<AlertStats> {
        AlertStats::read(self, since, until, top)
    }

    /// The DNS page's figures for hits in `[since, until)`.
    pub(crate) fn dns_stats(
        &mut self,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<DnsStats> {
        DnsStats::read(self, since, until, top)
    }

    /// DNS hits matching `f`, newest first.
    pub(crate) fn dns_hits(&mut self, f: &DnsHitFilter, limit: usize) -> Result<Vec<StoredDnsHit>> {
        self.conn
            .prepare_cached(
                "SELECT alert_id, time, host, client, domain, qtype, finding, list, verdict, \
                 severity, answer, owner FROM dns_hits \
                 WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2) \
                 AND (?3 IS NULL OR client = ?3) AND (?4 IS NULL OR domain = ?4) \
                 ORDER BY time DESC, alert_id DESC LIMIT ?5",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![f.since, f.until, f.client, f.domain, limit_to_sql(limit)],
                    |r| {
                        Ok(StoredDnsHit {
                            alert_id: r.get(0)?,
                            time: r.get(1)?,
                            host: r.get(2)?,
                            hit: DnsHit {
                                client: r.get(3)?,
                                domain: r.get(4)?,
                                qtype: r.get(5)?,
                                finding: r.get(6)?,
                                list: r.get(7)?,
                                verdict: r.get(8)?,
                                severity: r.get(9)?,
                                answer: r.get(10)?,
                                owner: r.get(11)?,
                            },
                        })
                    },
                )?
                .collect()
            })
            .map_err(sql(&self.path, "read DNS hits"))
    }

    /// Fleet ban decisions, newest first, at most `limit`; with `active_at`, only those in
    /// force then (no expiry, or expiring after it).
    pub(crate) fn bans_list(
        &mut self,
        active_at: Option<UnixTime>,
        limit: usize,
    ) -> Result<Vec<Decision>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions \
                 WHERE ?1 IS NULL OR (removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)) \
                 ORDER BY id DESC LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![active_at, limit_to_sql(limit)], decision_row)?
                    .collect()
            })
            .map_err(sql(&self.path, "read bans"))
    }
}

/// An alert's events: ?1..?2 the time window, ?3 the host (or NULL), ?4 the address or user
/// (`by` its column), ?5 the limit.
impl Figures for SqliteStore {
    fn count_rows(&mut self, table: &str, since: UnixTime, until: UnixTime) -> Result<i64> {
        self.conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM {table} WHERE time >= ?1 AND time < ?2"
            ))
            .and_then(|mut s| s.query_row(params![since, until], |r| r.get(0)))
            .map_err(sql(&self.path, "count alerts or DNS hits"))
    }

    fn count_buckets(
        &mut self,
        table: &str,
        width: i64,
        since: UnixTime,
        until: UnixTime,
    ) -> Result<Vec<(UnixTime, i64)>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT (time / ?3) * ?3 AS b, count(*) FROM {table} \
                 WHERE time >= ?1 AND time < ?2 GROUP BY b ORDER BY b"
            ))
            .and_then(|mut s| {
                s.query_map(params![since, until, width], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(sql(&self.path, "count alerts or DNS hits over time"))
    }

    fn rank_values(
        &mut self,
        table: &str,
        col: &str,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<Vec<Count>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT CAST({col} AS TEXT) AS k, count(*) AS n FROM {table} \
                 WHERE time >= ?1 AND time < ?2 AND {col} IS NOT NULL \
                 GROUP BY k ORDER BY n DESC, k LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![since, until, limit_to_sql(top)], |r| {
                    Ok(Count {
                        key: r.get(0)?,
                        count: r.get(1)?,
                    })
                })?
                .collect()
            })
            .map_err(sql(&self.path, "rank alerts or DNS hits"))
    }
}

fn alert_events_sql(by: &str) -> String {
    format!(
        "SELECT id, agent_id, time, host, action, outcome, source_ip, user_name, json \
         FROM fleet_events WHERE {by} = ?4 AND time >= ?1 AND time <= ?2 \
         AND (?3 IS NULL OR host = ?3) ORDER BY time DESC, id DESC LIMIT ?5"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// SQLite's query plan; what the query answers is tested on both backends in
    /// tests/store_query.rs.
    #[test]
    fn alert_events_use_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_dir(dir.path()).unwrap();
        for (by, index) in [
            ("source_ip", "fleet_events_ip_time"),
            ("user_name", "fleet_events_user_time"),
        ] {
            let plan: Vec<String> = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", alert_events_sql(by)))
                .unwrap()
                .query_map(params![0, 1, "h", "x", 5], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(plan.iter().any(|p| p.contains(index)), "{by}: {plan:?}");
        }
    }
}
