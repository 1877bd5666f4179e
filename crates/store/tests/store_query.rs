//! The dashboard's and the API's read queries on both backends: alert filters and keyset
//! pages, an alert's detail, the charts' figures, DNS hits and the ban list.

// Test bodies outside #[test] fns (backends! makes them) unwrap like tests.
#![allow(clippy::unwrap_used)]

mod common;

use logward_store::{
    AlertFilter, AlertPlan, CollectorStore, DecisionSelector, DnsHitFilter, FleetEvent, FleetItem,
    NewAlert, NewDecision,
};

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

/// 30 events and 30 alerts of two hosts (db01 every third), four addresses, severities 1–5.
fn seed(s: &mut dyn CollectorStore) {
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

backends! {
    fn filters_and_keyset_pages_cover_every_alert_once(s: &mut dyn CollectorStore) {
        seed(s);
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
        let f = AlertFilter {
            rule: Some("ssh-brute-force".into()),
            user: Some("root".into()),
            ..AlertFilter::default()
        };
        let page = s.query_alerts(&f, 100).unwrap();
        assert_eq!(page.alerts.len(), 12, "severities 4 and 5");
        let a = &page.alerts[0];
        assert_eq!(
            (a.alert.time, a.alert.severity, a.alert.json.as_str()),
            (12_900, 5, "{}")
        );
        assert!(s.query_alerts(&AlertFilter { host: Some("nope".into()), ..AlertFilter::default() }, 5)
            .unwrap()
            .alerts
            .is_empty());
    }

    fn an_alerts_detail_has_its_events_decisions_and_stats_add_up(s: &mut dyn CollectorStore) {
        seed(s);
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
        assert_eq!(d.alert, page.alerts[0]);
        assert!(!d.events.is_empty());
        assert!(d
            .events
            .iter()
            .all(|e| e.source_ip.as_deref() == Some("203.0.113.1")
                && e.host.as_deref() == Some("web01")
                && e.time <= d.alert.alert.time
                && e.time >= d.alert.alert.time - 3600
                && e.agent_id == "web01"
                && e.json.contains("original")));
        assert!(d.events.windows(2).all(|w| w[0].time > w[1].time), "newest first");
        assert_eq!(d.decisions.len(), 1);
        assert_eq!(d.decisions[0].alert_id, Some(id));
        assert!(d.deliveries.is_empty() && d.analysis.is_none());
        assert!(s.alert_detail(99_999).unwrap().is_none());

        let st = s.alert_stats(0, i64::MAX, 3).unwrap();
        assert_eq!(st.total, 30);
        assert_eq!(st.per_hour.iter().map(|h| h.1).sum::<i64>(), 30);
        assert!(st.per_hour.iter().all(|h| h.0 % 3600 == 0));
        assert!(st.per_hour.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(st.top_users[0].key, "root");
        assert_eq!(st.per_host[0].key, "web01");
        assert_eq!(st.per_host[0].count, 20);
        assert_eq!(st.top_sources.len(), 3);
        assert_eq!(st.per_severity.iter().map(|c| c.count).sum::<i64>(), 30);
        assert!(st.per_severity.iter().all(|c| ["1", "2", "3", "4", "5"].contains(&c.key.as_str())));
        let none = s.alert_stats(0, 10_000, 3).unwrap();
        assert_eq!((none.total, none.per_hour.len(), none.per_host.len()), (0, 0, 0));

        assert_eq!(s.bans_list(None, 10).unwrap().len(), 1);
        assert_eq!(s.bans_list(Some(12_599), 10).unwrap().len(), 1);
        assert!(s.bans_list(Some(12_600), 10).unwrap().is_empty());
        let d = &s.bans_list(None, 10).unwrap()[0];
        assert!(d.in_force(12_599) && !d.lifted());

        // A lifted decision is no longer active, and says it was lifted.
        let id = d.id;
        s.delete_decision(DecisionSelector::Id(id), 12_000)
            .unwrap()
            .unwrap();
        assert!(s.bans_list(Some(12_001), 10).unwrap().is_empty());
        let d = &s.bans_list(None, 10).unwrap()[0];
        assert!(d.lifted() && !d.in_force(12_001), "{d:?}");
    }

    fn rankings_break_ties_in_byte_order(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 0).unwrap();
        // Two alerts each for "Zed" and "alice", one for "bob": byte order puts "Zed" before
        // "alice" (a collation would not), and the limit keeps the first two.
        let items: Vec<FleetItem> = ["alice", "Zed", "bob", "Zed", "alice"]
            .iter()
            .enumerate()
            .map(|(i, u)| FleetItem::Alert {
                seq: i as i64 + 1,
                alert: alert(5_000 + i as i64, "web01", 2, "192.0.2.1", u),
                plan: AlertPlan::default(),
            })
            .collect();
        s.ingest("web01", 6_000, &items).unwrap();
        let st = s.alert_stats(0, 6_000, 2).unwrap();
        let users: Vec<_> = st.top_users.iter().map(|c| (c.key.as_str(), c.count)).collect();
        assert_eq!(users, vec![("Zed", 2), ("alice", 2)]);
        assert_eq!(st.per_hour, vec![(3_600, 5)]);
    }

    fn dns_hits_are_stored_beside_their_alerts_counted_and_listed(s: &mut dyn CollectorStore) {
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
        assert_eq!(st.per_hour, vec![(day, 2), (2 * day, 2)]);
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
        assert_eq!(s.dns_stats(0, day + 15, 10).unwrap().total, 1);

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
        let a = s.alert_detail(mine[1].alert_id).unwrap().unwrap();
        assert_eq!(a.alert.alert.rule_id, "dns-list-hit");

        let f = DnsHitFilter {
            domain: Some("evil.example".into()),
            since: Some(day + 15),
            until: Some(2 * day + 6),
            ..Default::default()
        };
        let times: Vec<_> = s.dns_hits(&f, 10).unwrap().iter().map(|h| h.time).collect();
        assert_eq!(times, vec![2 * day + 5, day + 20]);
        assert_eq!(s.dns_hits(&DnsHitFilter::default(), 1).unwrap().len(), 1);

        // Retention of 1 day at 3 days + 1 h: day 1 goes whole, day 2 (partly inside) stays.
        let purged = s.purge(3 * day + 3600, 1).unwrap();
        assert_eq!(purged.dns_hits, 2);
        assert_eq!(s.dns_stats(0, 3 * day, 10).unwrap().total, 2);
    }
}

backends! {
    /// PostgreSQL's `text` refuses NUL: a filter holding one used to fail the query there.
    /// On both backends it matches nothing stored without it.
    fn a_filter_with_nul_matches_nothing(s: &mut dyn CollectorStore) {
        seed(s);
        let user = AlertFilter {
            user: Some("root".into()),
            ..Default::default()
        };
        assert!(!s.query_alerts(&user, 50).unwrap().alerts.is_empty());
        for f in [
            AlertFilter {
                user: Some("root\0".into()),
                ..Default::default()
            },
            AlertFilter {
                host: Some("db01\0x".into()),
                ..Default::default()
            },
            AlertFilter {
                rule: Some("\0".into()),
                address: Some("203.0.113.1\0".into()),
                ..Default::default()
            },
        ] {
            let page = s.query_alerts(&f, 50).unwrap();
            assert!(page.alerts.is_empty(), "{f:?}");
            assert_eq!(page.next, None);
        }
        for f in [
            DnsHitFilter {
                client: Some("10.0.0.5\0".into()),
                ..Default::default()
            },
            DnsHitFilter {
                domain: Some("evil.example\0".into()),
                ..Default::default()
            },
        ] {
            assert!(s.dns_hits(&f, 10).unwrap().is_empty(), "{f:?}");
        }
    }
}
