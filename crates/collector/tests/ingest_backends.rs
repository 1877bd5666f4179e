//! The fleet ingest end to end on both stores: the real collector on 127.0.0.1 with
//! `store: sqlite` and with `store: postgres` (a database of its own on the test cluster), an
//! enrolled agent signing its requests, and the store read back on a connection of its own.
#![allow(clippy::unwrap_used)]

use logward_collector::config::Config;
use logward_collector::{start, Running, StoreAt};
use logward_core::{Action, Dataset, Event, Outcome, Severity};
use logward_store::NewDecision;

mod common;
use common::{alert_line, event_line, now, on_both, with_store, Agent, Backend, TestStore};

struct Collector {
    _dir: tempfile::TempDir,
    run: Running,
    at: StoreAt,
    // Last (fields drop in order): the database goes after the collector's connections.
    _store: TestStore,
}

/// A collector on `backend`; `None` when PostgreSQL is asked for without a test cluster.
async fn collector(backend: Backend) -> Option<Collector> {
    let store = TestStore::on(backend)?;
    let dir = tempfile::tempdir().unwrap();
    let c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().to_path_buf(),
        store: store.config.clone(),
        ..Config::default()
    };
    let at = StoreAt::from(&c);
    let run = start(c).await.unwrap();
    Some(Collector {
        _dir: dir,
        run,
        at,
        _store: store,
    })
}

fn event(user: &str) -> Event<'static> {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.timestamp = logward_core::Timestamp::parse_rfc3339(b"2026-11-22T10:00:01Z").map(|t| t.0);
    e.reason = Some("bad-password");
    e.set_source("203.0.113.45".into(), Some(51022));
    e.user_name = Some(user.to_owned().into());
    e.into_owned()
}

on_both! {
    test = #[tokio::test(flavor = "multi_thread", worker_threads = 2)];

    async fn events_alerts_heartbeats_and_decisions_go_through_the_store(b: Backend) {
        let Some(c) = collector(b).await else { return };
        let a = Agent::enrol(&c.run).await;
        let body = format!(
            "{}{}{}",
            event_line(1, &event("alice")),
            event_line(2, &event("bob")),
            alert_line(3, "ssh-bruteforce", Severity::High, "203.0.113.45", "root")
        );
        let v = a.events(body.clone()).await;
        assert_eq!((v["accepted"].as_u64(), v["duplicates"].as_u64()), (Some(3), Some(0)));
        // The same batch again (a retry after a lost answer) with one new event.
        let v = a.events(format!("{body}{}", event_line(4, &event("carol")))).await;
        assert_eq!((v["accepted"].as_u64(), v["duplicates"].as_u64()), (Some(1), Some(3)));
        let (status, _) = a
            .signed(
                "POST",
                "/v1/heartbeat",
                br#"{"version":"0.2.0","spool_items":4,"spool_bytes":100}"#.to_vec(),
            )
            .await;
        assert_eq!(status, 200);
        let id = a.id.clone();
        let (events, alerts, agent, decision) = with_store(&c.at, move |s| {
            let d = s
                .add_decision(&NewDecision {
                    target: "203.0.113.45".into(),
                    duration_secs: Some(3600),
                    reason: "fleet brute force".into(),
                    rule_id: Some("ssh-bruteforce".into()),
                    created_at: now(),
                    alert_id: None,
                })
                .unwrap();
            (
                s.count_fleet_events(Some("web01")).unwrap(),
                s.alerts_between(0, i64::MAX, 10).unwrap(),
                s.agent(&id).unwrap().unwrap(),
                d,
            )
        })
        .await;
        assert_eq!(events, 3, "each event stored once");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].alert.rule_id, "ssh-bruteforce");
        assert_eq!(alerts[0].alert.host.as_deref(), Some("web01"));
        assert_eq!((agent.last_seq, agent.spool_items), (4, Some(4)));
        assert_eq!(agent.version.as_deref(), Some("0.2.0"));
        let v = a.get("/v1/decisions?since=0").await;
        assert_eq!(v["decisions"][0]["target"], "203.0.113.45", "{v}");
        assert!(decision > 0);
        c.run.stop().await;
    }

    async fn a_nul_in_a_forwarded_user_name_does_not_stop_the_agents_forwarding(b: Backend) {
        // PostgreSQL's text refuses NUL: one such name in a log line once failed the batch at
        // every retry, so the agent's spool never drained.
        let Some(c) = collector(b).await else { return };
        let a = Agent::enrol(&c.run).await;
        let v = a.events(event_line(1, &event("ro\0ot"))).await;
        assert_eq!(v["accepted"].as_u64(), Some(1), "{v}");
        let v = a.events(event_line(2, &event("bob"))).await;
        assert_eq!(v["accepted"].as_u64(), Some(1), "{v}");
        let json = with_store(&c.at, |s| s.fleet_event_json(10).unwrap()).await;
        assert_eq!(json.len(), 2);
        assert!(json[0].contains("ro\\u0000ot"), "the JSON keeps the name: {}", json[0]);
        c.run.stop().await;
    }
}
