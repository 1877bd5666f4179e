//! The dashboard's and the API's queries: alerts, an alert's detail, the charts' figures, DNS
//! hits, ban lists — the SQLite backend's sqlite/query.rs in PostgreSQL's SQL, with the same
//! results (rankings break ties in byte order, as SQLite does, whatever the collation).

use postgres::types::ToSql;
use postgres::Row;

use super::base::{alert_from_row, limit, RowError};
use super::decisions::decision_row;
use super::PgStore;
use crate::collector::{
    AlertDetail, AlertEvents, AlertFilter, AlertPage, AlertStats, Count, Decision, Delivery,
    DnsHitFilter, DnsStats, EventRow, Figures, FilterValue, StoredDnsHit, MAX_ALERT_EVENTS,
};
use crate::error::Result;
use crate::types::{DnsHit, UnixTime};

/// The columns [`decision_row`] reads, in its order (a macro, for `concat!`: every fixed
/// statement here is prepared once per connection).
macro_rules! decision_columns {
    () => {
        "id, target, duration_secs, reason, rule_id, created_at, expires_at, alert_id, removed_at"
    };
}

/// An alert's events: $1..$2 the time window, $3 the host (or NULL), $4 the address or user
/// (`$by` its column), $5 the limit.
macro_rules! alert_events_sql {
    ($by:literal) => {
        concat!(
            "SELECT id, agent_id, time, host, action, outcome, source_ip, user_name, json \
             FROM fleet_events WHERE ",
            $by,
            " = $4 AND time >= $1 AND time <= $2 \
             AND ($3::text IS NULL OR host = $3) ORDER BY time DESC, id DESC LIMIT $5"
        )
    };
}

fn event_row(r: &Row) -> Result<EventRow, RowError> {
    Ok(EventRow {
        id: r.try_get(0)?,
        agent_id: r.try_get(1)?,
        time: r.try_get(2)?,
        host: r.try_get(3)?,
        action: r.try_get(4)?,
        outcome: r.try_get(5)?,
        source_ip: r.try_get(6)?,
        user: r.try_get(7)?,
        json: r.try_get(8)?,
    })
}

/// The `WHERE …` of a filter (the cursor included), `$1`… for its conditions' values.
fn where_clause(conditions: &[(&str, FilterValue<'_>)]) -> String {
    let w: Vec<String> = conditions
        .iter()
        .enumerate()
        .map(|(i, (cond, _))| format!("{cond} ${}", i + 1))
        .collect();
    if w.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", w.join(" AND "))
    }
}

/// A condition's value as a parameter.
fn param<'a>(v: &'a FilterValue<'_>) -> &'a (dyn ToSql + Sync) {
    match v {
        FilterValue::Int(i) => i,
        FilterValue::Small(i) => i,
        FilterValue::Text(t) => t,
    }
}

impl PgStore {
    /// Alerts matching `f`, newest (highest id) first, at most `n`. The statement depends on
    /// which filters are set, so it is not kept prepared.
    pub(super) fn query_alerts(&mut self, f: &AlertFilter, n: usize) -> Result<AlertPage> {
        let conditions = f.conditions();
        let w = where_clause(&conditions);
        let lim = limit(n.saturating_add(1));
        let mut p: Vec<&(dyn ToSql + Sync)> = conditions.iter().map(|(_, v)| param(v)).collect();
        p.push(&lim);
        let sql = format!(
            "SELECT id, time, rule_id, severity, host, source_address, user_name, json \
             FROM alerts {w} ORDER BY id DESC LIMIT ${}",
            p.len()
        );
        let found = super::nul::nul_free(&p, |p| self.client.query(&sql, p))
            .map_err(self.err("query alerts"))?;
        let mut alerts = Vec::with_capacity(found.len());
        for r in &found {
            alerts.push(alert_from_row(r).map_err(|e| match e {
                RowError::Pg(e) => super::pg_error(&self.shown, "query alerts", e),
                RowError::Invalid(what, detail) => crate::error::StoreError::invalid(what, detail),
            })?);
        }
        Ok(AlertPage::from_rows(alerts, n))
    }

    /// One alert with its events, decisions, deliveries and analysis; `None` when unknown.
    pub(super) fn alert_detail(&mut self, id: i64) -> Result<Option<AlertDetail>> {
        let Some(alert) = self.alert(id)? else {
            return Ok(None);
        };
        let e = AlertEvents::of(&alert.alert);
        let sql = match e.by {
            "source_ip" => alert_events_sql!("source_ip"),
            _ => alert_events_sql!("user_name"),
        };
        let events = self.rows(
            sql,
            &[&e.from, &e.to, &e.host, &e.key, &limit(MAX_ALERT_EVENTS)],
            "read an alert's events",
            event_row,
        )?;
        let decisions = self.rows(
            concat!(
                "SELECT ",
                decision_columns!(),
                " FROM decisions WHERE alert_id = $1 ORDER BY id"
            ),
            &[&id],
            "read an alert's decisions",
            decision_row,
        )?;
        let deliveries = self.rows(
            "SELECT sink, state, attempts, last_error, updated_at FROM outbox \
             WHERE alert_id = $1 ORDER BY id",
            &[&id],
            "read an alert's deliveries",
            |r| {
                Ok(Delivery {
                    sink: r.try_get(0)?,
                    state: r.try_get(1)?,
                    attempts: i64::from(r.try_get::<_, i32>(2)?),
                    last_error: r.try_get(3)?,
                    updated_at: r.try_get(4)?,
                })
            },
        )?;
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
    pub(super) fn alert_stats(
        &mut self,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<AlertStats> {
        AlertStats::read(self, since, until, top)
    }

    /// The DNS page's figures for hits in `[since, until)`.
    pub(super) fn dns_stats(
        &mut self,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<DnsStats> {
        DnsStats::read(self, since, until, top)
    }

    /// DNS hits matching `f`, newest first.
    pub(super) fn dns_hits(&mut self, f: &DnsHitFilter, n: usize) -> Result<Vec<StoredDnsHit>> {
        self.rows(
            "SELECT alert_id, time, host, client, domain, qtype, finding, list, verdict, \
             severity, answer, owner FROM dns_hits \
             WHERE ($1::bigint IS NULL OR time >= $1) AND ($2::bigint IS NULL OR time < $2) \
             AND ($3::text IS NULL OR client = $3) AND ($4::text IS NULL OR domain = $4) \
             ORDER BY time DESC, alert_id DESC LIMIT $5",
            &[&f.since, &f.until, &f.client, &f.domain, &limit(n)],
            "read DNS hits",
            |r| {
                Ok(StoredDnsHit {
                    alert_id: r.try_get(0)?,
                    time: r.try_get(1)?,
                    host: r.try_get(2)?,
                    hit: DnsHit {
                        client: r.try_get(3)?,
                        domain: r.try_get(4)?,
                        qtype: r.try_get(5)?,
                        finding: r.try_get(6)?,
                        list: r.try_get(7)?,
                        verdict: r.try_get(8)?,
                        severity: r.try_get(9)?,
                        answer: r.try_get(10)?,
                        owner: r.try_get(11)?,
                    },
                })
            },
        )
    }

    /// Fleet ban decisions, newest first, at most `n`; with `active_at`, only those in force
    /// then (no expiry, or expiring after it).
    pub(super) fn bans_list(
        &mut self,
        active_at: Option<UnixTime>,
        n: usize,
    ) -> Result<Vec<Decision>> {
        self.rows(
            concat!(
                "SELECT ",
                decision_columns!(),
                " FROM decisions WHERE $1::bigint IS NULL \
                 OR (removed_at IS NULL AND (expires_at IS NULL OR expires_at > $1)) \
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&active_at, &limit(n)],
            "read bans",
            decision_row,
        )
    }
}

/// Each statement is prepared once per connection, whatever table and column it names.
impl Figures for PgStore {
    fn count_rows(&mut self, table: &str, since: UnixTime, until: UnixTime) -> Result<i64> {
        let sql = format!("SELECT count(*) FROM {table} WHERE time >= $1 AND time < $2");
        let n = self.row(&sql, &[&since, &until], "count alerts or DNS hits", |r| {
            Ok(r.try_get::<_, i64>(0)?)
        })?;
        Ok(n.unwrap_or(0))
    }

    fn count_buckets(
        &mut self,
        table: &str,
        width: i64,
        since: UnixTime,
        until: UnixTime,
    ) -> Result<Vec<(UnixTime, i64)>> {
        let sql = format!(
            "SELECT (time / $3) * $3 AS b, count(*) FROM {table} \
             WHERE time >= $1 AND time < $2 GROUP BY b ORDER BY b"
        );
        self.rows(
            &sql,
            &[&since, &until, &width],
            "count alerts or DNS hits over time",
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )
    }

    /// Ties in byte order (SQLite's), whatever the database's collation.
    fn rank_values(
        &mut self,
        table: &str,
        col: &str,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<Vec<Count>> {
        let sql = format!(
            "SELECT CAST({col} AS text) COLLATE \"C\" AS k, count(*) AS n FROM {table} \
             WHERE time >= $1 AND time < $2 AND {col} IS NOT NULL \
             GROUP BY k ORDER BY n DESC, k LIMIT $3"
        );
        self.rows(
            &sql,
            &[&since, &until, &limit(top)],
            "rank alerts or DNS hits",
            |r| {
                Ok(Count {
                    key: r.try_get(0)?,
                    count: r.try_get(1)?,
                })
            },
        )
    }
}
