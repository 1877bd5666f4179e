//! The dashboard's and the REST API's read queries on the collector's store: alerts with
//! filters and keyset pagination, one alert with its events, actions and analysis,
//! aggregates for the charts, and the bans (fleet decisions).

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Row};

use super::decisions::{decision_row, DECISION_COLUMNS};
use super::{alert_from_row, limit_to_sql, SqliteStore, ALERT_COLUMNS};
use crate::collector::{
    AlertDetail, AlertFilter, AlertPage, AlertStats, Count, Decision, Delivery, DnsHitFilter,
    DnsStats, EventRow, StoredDnsHit, EVENT_WINDOW_SECS, FLEET_HOST, MAX_ALERT_EVENTS,
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
    let mut w: Vec<&str> = Vec::new();
    let mut p: Vec<Value> = Vec::new();
    if let Some(t) = f.since {
        w.push("time >= ?");
        p.push(Value::Integer(t));
    }
    if let Some(t) = f.until {
        w.push("time < ?");
        p.push(Value::Integer(t));
    }
    for (col, v) in [
        ("host = ?", &f.host),
        ("rule_id = ?", &f.rule),
        ("user_name = ?", &f.user),
        ("source_address = ?", &f.address),
    ] {
        if let Some(v) = v {
            w.push(col);
            p.push(Value::Text(v.clone()));
        }
    }
    if let Some(s) = f.min_severity {
        w.push("severity >= ?");
        p.push(Value::Integer(i64::from(s)));
    }
    if let Some(b) = f.before {
        w.push("id < ?");
        p.push(Value::Integer(b));
    }
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
        let mut alerts: Vec<StoredAlert> = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {w} ORDER BY id DESC LIMIT ?"
            ))
            .and_then(|mut s| s.query_map(params_from_iter(p), alert_from_row)?.collect())
            .map_err(sql(&self.path, "query alerts"))?;
        let next = if alerts.len() > limit {
            alerts.truncate(limit);
            alerts.last().map(|a| a.id)
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
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
        let a = &alert.alert;
        // A fleet alert was made from several hosts' events: no host filter.
        let host = a.host.as_deref().filter(|h| *h != FLEET_HOST);
        // Two statements, not one with an OR, so that each uses its index.
        let (by, key) = match (&a.source_address, &a.user) {
            (Some(ip), _) => ("source_ip", Some(ip)),
            (None, user) => ("user_name", user.as_ref()),
        };
        let events = self
            .conn
            .prepare_cached(&alert_events_sql(by))
            .and_then(|mut s| {
                s.query_map(
                    params![
                        a.time - EVENT_WINDOW_SECS,
                        a.time,
                        host,
                        key,
                        limit_to_sql(MAX_ALERT_EVENTS)
                    ],
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
        let path = self.path.clone();
        let total: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM alerts WHERE time >= ?1 AND time < ?2")
            .and_then(|mut s| s.query_row(params![since, until], |r| r.get(0)))
            .map_err(sql(&path, "count alerts"))?;
        let per_hour = self
            .conn
            .prepare_cached(
                "SELECT (time / 3600) * 3600 AS h, count(*) FROM alerts \
                 WHERE time >= ?1 AND time < ?2 GROUP BY h ORDER BY h",
            )
            .and_then(|mut s| {
                s.query_map(params![since, until], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(sql(&path, "count alerts per hour"))?;
        let ranking = |col: &str, top: usize| self.rank("alerts", col, since, until, top);
        Ok(AlertStats {
            total,
            per_hour,
            top_sources: ranking("source_address", top)?,
            top_users: ranking("user_name", top)?,
            per_host: ranking("host", top)?,
            per_severity: ranking("severity", 5)?,
        })
    }

    /// The `top` most frequent values of `table.col` over rows with `time` in
    /// `[since, until)`, most frequent first (ties by value); NULLs left out.
    fn rank(
        &self,
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

    /// The DNS page's figures for hits in `[since, until)`.
    pub(crate) fn dns_stats(
        &mut self,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<DnsStats> {
        let path = self.path.clone();
        let total: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM dns_hits WHERE time >= ?1 AND time < ?2")
            .and_then(|mut s| s.query_row(params![since, until], |r| r.get(0)))
            .map_err(sql(&path, "count DNS hits"))?;
        let buckets = |width: i64| -> Result<Vec<(UnixTime, i64)>> {
            self.conn
                .prepare_cached(
                    "SELECT (time / ?3) * ?3 AS b, count(*) FROM dns_hits \
                     WHERE time >= ?1 AND time < ?2 GROUP BY b ORDER BY b",
                )
                .and_then(|mut s| {
                    s.query_map(params![since, until, width], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(sql(&path, "count DNS hits over time"))
        };
        let per_day = buckets(86_400)?;
        let per_hour = buckets(3600)?;
        let ranking = |col: &str, top: usize| self.rank("dns_hits", col, since, until, top);
        Ok(DnsStats {
            total,
            per_day,
            per_hour,
            top_domains: ranking("domain", top)?,
            top_clients: ranking("client", top)?,
            per_finding: ranking("finding", top)?,
        })
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
    use crate::collector::{AlertPlan, FleetEvent, FleetItem, NewDecision};
    use crate::types::NewAlert;
    use crate::CollectorStore as _;
    use crate::Store as _;

    fn alert(time: i64, host: &str, sev: u8, addr: &str, user: &str) -> NewAlert {
        NewAlert {
            time,
            rule_id: if sev >= 4 {
                "ssh-brute-force".into()
            } else {
                "ssh-login".into()
            },
            severity: sev,
            host: Some(host.into()),
            source_address: Some(addr.into()),
            user: Some(user.into()),
            json: "{}".into(),
            dns: None,
        }
    }

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

    fn seeded() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.register_shared_agent("web01", 0).unwrap();
        let mut items = Vec::new();
        for i in 0..30i64 {
            let host = if i % 3 == 0 { "db01" } else { "web01" };
            let addr = format!("203.0.113.{}", i % 4);
            items.push(FleetItem::Event {
                seq: 2 * i + 1,
                event: FleetEvent {
                    time: 10_000 + i * 100,
                    host: Some(host.into()),
                    action: "user-login".into(),
                    outcome: "failure".into(),
                    source_ip: Some(addr.clone()),
                    user: Some("root".into()),
                    json: format!("{{\"event\":{{\"original\":\"line {i}\"}}}}"),
                },
            });
            items.push(FleetItem::Alert {
                seq: 2 * i + 2,
                alert: alert(10_000 + i * 100, host, 1 + (i % 5) as u8, &addr, "root"),
                plan: AlertPlan::default(),
            });
        }
        s.ingest("web01", 20_000, &items).unwrap();
        (dir, s)
    }

    #[test]
    fn filters_and_keyset_pages_cover_every_alert_once() {
        let (_d, mut s) = seeded();
        let mut f = AlertFilter::default();
        let mut seen = Vec::new();
        loop {
            let page = s.query_alerts(&f, 7).unwrap();
            assert!(page.alerts.len() <= 7);
            seen.extend(page.alerts.iter().map(|a| a.id));
            match page.next {
                Some(n) => f.before = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 30);
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
        let f = AlertFilter {
            host: Some("db01".into()),
            min_severity: Some(3),
            ..AlertFilter::default()
        };
        let page = s.query_alerts(&f, 100).unwrap();
        assert!(!page.alerts.is_empty());
        assert!(page
            .alerts
            .iter()
            .all(|a| a.alert.host.as_deref() == Some("db01") && a.alert.severity >= 3));
        assert_eq!(page.next, None);
        let f = AlertFilter {
            address: Some("203.0.113.2".into()),
            since: Some(10_000),
            until: Some(11_000),
            ..AlertFilter::default()
        };
        let page = s.query_alerts(&f, 100).unwrap();
        assert_eq!(page.alerts.len(), 2, "i = 2 and 6; 10 is past `until`");
    }

    #[test]
    fn an_alerts_detail_has_its_events_decisions_and_stats_add_up() {
        let (_d, mut s) = seeded();
        let page = s
            .query_alerts(
                &AlertFilter {
                    address: Some("203.0.113.1".into()),
                    host: Some("web01".into()),
                    ..AlertFilter::default()
                },
                1,
            )
            .unwrap();
        let id = page.alerts[0].id;
        s.add_decision(&NewDecision {
            target: "203.0.113.1".into(),
            duration_secs: Some(600),
            reason: "brute force".into(),
            rule_id: Some("ssh-brute-force".into()),
            created_at: 12_000,
            alert_id: Some(id),
        })
        .unwrap();
        let d = s.alert_detail(id).unwrap().unwrap();
        assert!(!d.events.is_empty());
        assert!(d
            .events
            .iter()
            .all(|e| e.source_ip.as_deref() == Some("203.0.113.1")
                && e.host.as_deref() == Some("web01")
                && e.time <= d.alert.alert.time
                && e.json.contains("original")));
        assert_eq!(d.decisions.len(), 1);
        assert!(s.alert_detail(99_999).unwrap().is_none());

        let st = s.alert_stats(0, i64::MAX, 3).unwrap();
        assert_eq!(st.total, 30);
        assert_eq!(st.per_hour.iter().map(|h| h.1).sum::<i64>(), 30);
        assert!(st.per_hour.iter().all(|h| h.0 % 3600 == 0));
        assert_eq!(st.top_users[0].key, "root");
        assert_eq!(st.per_host[0].key, "web01");
        assert_eq!(st.per_host[0].count, 20);
        assert_eq!(st.top_sources.len(), 3);
        assert_eq!(st.per_severity.iter().map(|c| c.count).sum::<i64>(), 30);

        assert_eq!(s.bans_list(None, 10).unwrap().len(), 1);
        assert_eq!(s.bans_list(Some(12_599), 10).unwrap().len(), 1);
        assert!(s.bans_list(Some(12_600), 10).unwrap().is_empty());
        let d = &s.bans_list(None, 10).unwrap()[0];
        assert!(d.in_force(12_599) && !d.lifted());

        // A lifted decision is no longer active, and says it was lifted.
        let id = d.id;
        s.delete_decision(crate::collector::DecisionSelector::Id(id), 12_000)
            .unwrap()
            .unwrap();
        assert!(s.bans_list(Some(12_001), 10).unwrap().is_empty());
        let d = &s.bans_list(None, 10).unwrap()[0];
        assert!(d.lifted() && !d.in_force(12_001), "{d:?}");
    }

    fn dns_alert(time: i64, client: &str, domain: &str, finding: &'static str) -> NewAlert {
        let mut e = logward_core::Event::new(
            logward_core::Dataset::DnsDnsmasq,
            logward_core::Action::DnsQuery,
            logward_core::Outcome::Unknown,
        );
        e.timestamp = Some(logward_core::Timestamp {
            unix: time,
            nanos: 0,
            offset: 0,
        });
        e.reason = Some(finding);
        e.set_source(client.to_owned().into(), None);
        e.host_name = Some("gw1".into());
        e.dns = Some(Box::new(logward_core::Dns {
            question_name: domain.to_owned().into(),
            question_type: Some("A".into()),
            answers: vec![logward_core::DnsAnswer {
                name: domain.to_owned().into(),
                rtype: "A".into(),
                data: "198.51.100.9".into(),
                ttl: Some(60),
            }],
            intel: Some(Box::new(logward_core::DnsIntel {
                list: Some("badd-boyz".into()),
                owner: Some("ops".into()),
                ..Default::default()
            })),
            ..Default::default()
        }));
        let a = logward_core::Alert::new(
            e,
            "dns-list-hit",
            "Listed domain",
            logward_core::Severity::High,
            "m",
        );
        NewAlert::from_alert(&a, time)
    }

    #[test]
    fn dns_hits_are_stored_beside_their_alerts_counted_listed_and_purged_by_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.register_shared_agent("gw1", 0).unwrap();
        let day = 86_400;
        let mut items = Vec::new();
        let hits = [
            (day + 10, "10.0.0.5", "evil.example", "listed"),
            (day + 20, "10.0.0.5", "evil.example", "listed"),
            (2 * day + 5, "10.0.0.6", "evil.example", "listed"),
            (2 * day + 7, "10.0.0.5", "xkqjzvbw.example", "dga"),
        ];
        for (i, (t, c, d, f)) in hits.into_iter().enumerate() {
            items.push(FleetItem::Alert {
                seq: i as i64 + 1,
                alert: dns_alert(t, c, d, f),
                plan: AlertPlan::default(),
            });
        }
        // An alert about something else has no hit.
        items.push(FleetItem::Alert {
            seq: 9,
            alert: alert(day + 30, "web01", 4, "192.0.2.1", "root"),
            plan: AlertPlan::default(),
        });
        s.ingest("gw1", 3 * day, &items).unwrap();

        let st = s.dns_stats(0, 3 * day, 10).unwrap();
        assert_eq!(st.total, 4);
        assert_eq!(st.per_day, vec![(day, 2), (2 * day, 2)]);
        assert_eq!(st.top_domains[0].key, "evil.example");
        assert_eq!(st.top_domains[0].count, 3);
        assert_eq!(st.top_clients[0].key, "10.0.0.5");
        assert_eq!(st.top_clients[0].count, 3);
        assert_eq!(
            st.per_finding
                .iter()
                .map(|c| (c.key.as_str(), c.count))
                .collect::<Vec<_>>(),
            vec![("listed", 3), ("dga", 1)]
        );

        let f = DnsHitFilter {
            client: Some("10.0.0.5".into()),
            ..Default::default()
        };
        let mine = s.dns_hits(&f, 10).unwrap();
        assert_eq!(
            mine.iter().map(|h| h.time).collect::<Vec<_>>(),
            vec![2 * day + 7, day + 20, day + 10],
            "newest first"
        );
        let h = &mine[1].hit;
        assert_eq!(h.domain, "evil.example");
        assert_eq!(h.list.as_deref(), Some("badd-boyz"));
        assert_eq!(h.answer.as_deref(), Some("198.51.100.9"));
        assert_eq!(h.owner.as_deref(), Some("ops"));
        assert_eq!(mine[1].host.as_deref(), Some("gw1"));

        // Retention of 1 day at 3 days + 1 h: day 1 goes whole, day 2 (partly inside) stays.
        let purged = s.purge(3 * day + 3600, 1).unwrap();
        assert_eq!(purged.dns_hits, 2);
        assert_eq!(s.dns_stats(0, 3 * day, 10).unwrap().total, 2);
    }
}
