//! The cluster's rows and figures (`logward collector status`): each collector's heartbeat
//! row, gone ones forgotten after a day, what is stored today — the same on SQLite and
//! PostgreSQL.

// Test bodies outside #[test] fns (backends! makes them) unwrap like tests.
#![allow(clippy::unwrap_used)]

mod common;

use logward_store::{
    CollectorRow, FleetEvent, FleetItem, UnixTime, COLLECTOR_FORGET_SECS, COLLECTOR_STALE_SECS,
};

/// 2026-12-07T03:00:00Z.
const T0: UnixTime = 1_796_612_400;
/// 2026-12-07T00:00:00Z.
const DAY_START: UnixTime = 1_796_601_600;

fn row(id: &str, host: &str, seen: UnixTime) -> CollectorRow {
    CollectorRow {
        id: id.into(),
        host: host.into(),
        pid: 4242,
        version: "1.2.3".into(),
        listen: "127.0.0.1:7650".into(),
        backend: "postgres".into(),
        nats: true,
        role: "standby".into(),
        started_at: T0 - 100,
        last_seen: seen,
    }
}

fn event(seq: i64, time: UnixTime) -> FleetItem {
    FleetItem::Event {
        seq,
        event: FleetEvent {
            time,
            host: Some("web1".into()),
            action: "user_login".into(),
            outcome: "failure".into(),
            source_ip: Some("192.0.2.7".into()),
            user: Some("root".into()),
            json: "{}".into(),
        },
    }
}

backends! {
    fn heartbeats_update_one_row_per_collector(s: &mut dyn CollectorStore) {
        assert!(s.collectors().unwrap().is_empty());
        s.collector_seen(&row("b", "node2", T0)).unwrap();
        s.collector_seen(&row("a", "node1", T0)).unwrap();
        // The next heartbeat: last seen, role and listen move on; the rest is the start's.
        let mut next = row("a", "node1", T0 + 5);
        next.role = "leader".into();
        next.listen = "127.0.0.1:7650,127.0.0.1:5044".into();
        next.pid = 1;
        s.collector_seen(&next).unwrap();

        let rows = s.collectors().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].id, "a", "sorted by host");
        assert_eq!(rows[0].last_seen, T0 + 5);
        assert_eq!(rows[0].role, "leader");
        assert_eq!(rows[0].listen, "127.0.0.1:7650,127.0.0.1:5044");
        assert_eq!(rows[0].pid, 4242, "a process keeps its row's pid");
        assert_eq!(rows[1], row("b", "node2", T0));
        assert!(rows[0].live(T0 + 5 + COLLECTOR_STALE_SECS, COLLECTOR_STALE_SECS));
        assert!(!rows[1].live(T0 + 1 + COLLECTOR_STALE_SECS, COLLECTOR_STALE_SECS));

        assert!(s.collector_gone("b").unwrap());
        assert!(!s.collector_gone("b").unwrap(), "gone already");
        assert_eq!(s.collectors().unwrap().len(), 1);
    }

    fn collectors_gone_for_a_day_are_forgotten(s: &mut dyn CollectorStore) {
        s.collector_seen(&row("dead", "node1", T0)).unwrap();
        s.collector_seen(&row("alive", "node2", T0 + COLLECTOR_FORGET_SECS)).unwrap();
        assert_eq!(s.collectors().unwrap().len(), 2, "gone, not yet forgotten");
        s.collector_seen(&row("alive", "node2", T0 + COLLECTOR_FORGET_SECS + 1)).unwrap();
        let ids: Vec<String> = s.collectors().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["alive"]);
    }

    fn summary_counts_what_is_stored_today(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web1", T0 - 86_400).unwrap();
        // Yesterday's event, stored yesterday; then two of today's.
        s.ingest("web1", DAY_START - 10, &[event(1, DAY_START - 20)]).unwrap();
        s.ingest("web1", T0, &[event(2, T0 - 5), event(3, T0 - 4)]).unwrap();
        let sum = s.store_summary(DAY_START).unwrap();
        assert_eq!((sum.events, sum.alerts), (2, 0));
        assert_eq!(s.store_summary(DAY_START - 86_400).unwrap().events, 3);
        let partitions = s.store_summary(DAY_START).unwrap().partitions;
        // PostgreSQL: a day partition per table and day written (none on SQLite).
        if !partitions.is_empty() {
            assert!(partitions.contains(&"fleet_events_d20261207".to_string()), "{partitions:?}");
            assert!(partitions.contains(&"fleet_events_d20261206".to_string()), "{partitions:?}");
        }
    }
}
