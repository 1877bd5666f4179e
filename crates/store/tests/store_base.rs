//! What the collector shares with the agent ([`Store`]: alerts, the outbox, counters, meta,
//! retention), its operators and API tokens, and the LLM's analyses — the same behaviour on
//! SQLite and PostgreSQL. Alerts are stored the collector's way, through an ingest.

// Test bodies outside #[test] fns (backends! makes them) unwrap like tests.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use logward_store::{
    AlertPlan, Analysis, AnalysisState, CollectorStore, CounterSnapshot, DnsHit, FleetItem,
    NewAlert, OutboxCounts, OutboxState, PgStore, PurgeStats, Store as _, StoreError, UnixTime,
};
use logward_test_support::postgres::TestDb;

/// 2026-12-07T03:00:00Z.
const T0: UnixTime = 1_796_612_400;
const DAY: i64 = 86_400;
const AGENT: &str = "agent-1";

fn alert(time: UnixTime, rule: &str) -> NewAlert {
    NewAlert {
        time,
        rule_id: rule.into(),
        severity: 3,
        host: Some("web1".into()),
        source_address: Some("192.0.2.7".into()),
        user: Some("root".into()),
        json: format!(r#"{{"rule":{{"id":"{rule}"}},"time":{time}}}"#),
        dns: None,
    }
}

fn notify(sinks: &[&str]) -> AlertPlan {
    AlertPlan {
        notifiers: sinks.iter().map(|s| s.to_string()).collect(),
        analysis: None,
    }
}

/// Stores `alerts` as one agent's, received at `now` (the storage day), and returns their
/// ids by rule id (each test names its alerts' rules uniquely).
fn store(
    s: &mut dyn CollectorStore,
    now: UnixTime,
    alerts: Vec<(NewAlert, AlertPlan)>,
) -> HashMap<String, i64> {
    s.register_shared_agent(AGENT, now).unwrap();
    let last = s.agent(AGENT).unwrap().unwrap().last_seq;
    let rules: Vec<String> = alerts.iter().map(|(a, _)| a.rule_id.clone()).collect();
    let items: Vec<FleetItem> = alerts
        .into_iter()
        .zip(1..)
        .map(|((alert, plan), i)| FleetItem::Alert {
            seq: last + i,
            alert,
            plan,
        })
        .collect();
    let counts = s.ingest(AGENT, now, &items).unwrap();
    assert_eq!(counts.alerts, items.len() as u64);
    let stored = s.alerts_between(i64::MIN, i64::MAX, usize::MAX).unwrap();
    rules
        .into_iter()
        .map(|r| {
            let id = stored.iter().find(|a| a.alert.rule_id == r).unwrap().id;
            (r, id)
        })
        .collect()
}

/// The outbox row of `alert` for `sink`.
fn delivery(s: &mut dyn CollectorStore, alert: i64, sink: &str) -> i64 {
    s.outbox_list(None, 1000)
        .unwrap()
        .into_iter()
        .find(|o| o.alert_id == alert && o.sink == sink)
        .unwrap()
        .id
}

backends! {
    fn alerts_read_back_as_stored(s: &mut dyn CollectorStore) {
        let a = alert(T0 - 5, "ssh-bruteforce");
        let mut b = alert(T0 - 9, "web-scan");
        b.host = None;
        b.source_address = None;
        b.user = None;
        b.severity = 5;
        let ids = store(s, T0, vec![(a.clone(), notify(&[])), (b.clone(), notify(&[]))]);
        assert_eq!(s.alert(ids["ssh-bruteforce"]).unwrap().unwrap().alert, a);
        assert_eq!(s.alert(ids["web-scan"]).unwrap().unwrap().alert, b);
        assert_eq!(s.alert(ids["web-scan"] + 1000).unwrap(), None);
        // By time, the end excluded, at most `limit`.
        let between: Vec<String> = s
            .alerts_between(T0 - 9, T0, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.alert.rule_id)
            .collect();
        assert_eq!(between, ["web-scan", "ssh-bruteforce"]);
        assert_eq!(s.alerts_between(T0 - 9, T0 - 5, 10).unwrap().len(), 1);
        assert_eq!(s.alerts_between(T0 - 9, T0, 1).unwrap().len(), 1);
    }

    fn outbox_per_sink_postpone_many_and_purge(s: &mut dyn CollectorStore) {
        let ids = store(
            s,
            T0,
            vec![
                (alert(T0, "r1"), notify(&["slack"])),
                (alert(T0, "r2"), notify(&["slack"])),
                (alert(T0, "r3"), notify(&["mail"])),
            ],
        );
        assert_eq!(s.due_outbox_for(Some("slack"), T0, 10).unwrap().len(), 2);
        assert_eq!(s.due_outbox_for(Some("mail"), T0, 10).unwrap().len(), 1);
        assert_eq!(s.due_outbox_for(None, T0, 10).unwrap().len(), 3);
        assert_eq!(s.due_outbox_for(None, T0, 2).unwrap().len(), 2);
        assert!(s.due_outbox_for(None, T0 - 1, 10).unwrap().is_empty());
        assert_eq!(s.next_due("slack").unwrap(), Some(T0));
        assert_eq!(s.next_due("nobody").unwrap(), None);
        let slack = [delivery(s, ids["r1"], "slack"), delivery(s, ids["r2"], "slack")];
        let mail = delivery(s, ids["r3"], "mail");

        // Postponed rows keep their attempt count.
        s.postpone(&slack, T0 + 600, T0).unwrap();
        assert!(s.due_outbox_for(Some("slack"), T0 + 599, 10).unwrap().is_empty());
        assert_eq!(s.next_due("slack").unwrap(), Some(T0 + 600));
        let due = s.due_outbox_for(Some("slack"), T0 + 600, 10).unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|o| o.attempts == 0 && o.analysis.is_none()));

        s.mark_sent_many(&slack, T0 + 601).unwrap();
        s.mark_failed(mail, T0, "550 no such user", None).unwrap();
        let all = s.outbox_list(None, 10).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        assert_eq!(s.outbox_list(None, 1).unwrap().len(), 1);
        let failed = s.outbox_list(Some(OutboxState::Failed), 10).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
        assert_eq!(failed[0].alert_json, alert(T0, "r3").json);
        assert_eq!(s.purge_outbox(OutboxState::Sent).unwrap(), 2);
        assert_eq!(
            s.outbox_counts().unwrap(),
            OutboxCounts { pending: 0, sent: 0, failed: 1 }
        );
    }

    fn outbox_lifecycle(s: &mut dyn CollectorStore) {
        let ids = store(s, T0, vec![(alert(T0, "r"), notify(&["slack", "mail"]))]);
        let (slack, mail) = (delivery(s, ids["r"], "slack"), delivery(s, ids["r"], "mail"));
        s.postpone(&[mail], T0 + 30, T0).unwrap();
        assert_eq!(s.due_outbox(T0, 10).unwrap().len(), 1, "mail is not due yet");

        s.mark_failed(slack, T0, "HTTP 503", Some(T0 + 60)).unwrap();
        assert!(s.due_outbox(T0 + 59, 10).unwrap().iter().all(|o| o.id != slack));
        let due = s.due_outbox(T0 + 60, 10).unwrap();
        let item = due.iter().find(|o| o.id == slack).unwrap();
        assert_eq!(item.attempts, 1);
        assert_eq!(item.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(item.state, OutboxState::Pending);
        assert_eq!(item.next_attempt_at, T0 + 60);

        // A pending row that failed before is due again at once on demand; one never tried
        // (mail, attempts 0) keeps its time.
        s.postpone(&[slack], T0 + 900, T0 + 60).unwrap();
        assert_eq!(s.retry_pending_now("slack", T0 + 61).unwrap(), 1);
        assert_eq!(s.retry_pending_now("mail", T0 + 1).unwrap(), 0);
        assert_eq!(s.next_due("slack").unwrap(), Some(T0 + 61));
        assert_eq!(s.next_due("mail").unwrap(), Some(T0 + 30));

        s.mark_failed(slack, T0 + 60, "HTTP 400", None).unwrap();
        s.mark_sent(mail, T0 + 61).unwrap();
        assert!(s.due_outbox(T0 + 1000, 10).unwrap().is_empty());
        assert_eq!(
            s.outbox_counts().unwrap(),
            OutboxCounts { pending: 0, sent: 1, failed: 1 }
        );
        // A sent row cannot be failed afterwards; unknown ids are errors.
        assert!(matches!(
            s.mark_failed(mail, T0 + 62, "late", None),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.mark_sent(slack + mail + 9999, T0),
            Err(StoreError::NotFound { .. })
        ));

        assert_eq!(s.retry_failed(Some("mail"), T0 + 100).unwrap(), 0);
        assert_eq!(s.retry_failed(Some("slack"), T0 + 100).unwrap(), 1);
        let due = s.due_outbox(T0 + 100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempts, 2, "retrying keeps the attempt count");
        s.mark_failed(slack, T0 + 100, "HTTP 400", None).unwrap();
        assert_eq!(s.retry_failed(None, T0 + 200).unwrap(), 1);
    }

    fn idempotency_keys_are_per_alert_and_sink_and_stable(s: &mut dyn CollectorStore) {
        let ids = store(
            s,
            T0,
            vec![(alert(T0, "a"), notify(&["slack", "mail"])), (alert(T0, "b"), notify(&["slack"]))],
        );
        let keys = |s: &mut dyn CollectorStore| {
            let mut k: Vec<(i64, String, String)> = s
                .due_outbox(T0, 10)
                .unwrap()
                .into_iter()
                .map(|o| (o.alert_id, o.sink, o.idempotency_key))
                .collect();
            k.sort();
            k
        };
        let first = keys(s);
        assert_eq!(first.len(), 3);
        let distinct: std::collections::HashSet<&String> = first.iter().map(|k| &k.2).collect();
        assert_eq!(distinct.len(), 3);
        for (alert_id, sink, key) in &first {
            assert!(key.ends_with(&format!("-{alert_id}-{sink}")), "{key}");
        }
        let d = delivery(s, ids["a"], "slack");
        s.mark_failed(d, T0, "503", Some(T0)).unwrap();
        assert_eq!(keys(s), first, "the same key at every attempt");
    }

    fn purge_keeps_undelivered_and_recent(s: &mut dyn CollectorStore) {
        let old = T0 - 40 * DAY;
        let mut hit = alert(old, "dns-old");
        hit.dns = Some(Box::new(DnsHit {
            client: Some("192.0.2.7".into()),
            domain: "bad.example".into(),
            ..DnsHit::default()
        }));
        let old_ids = store(
            s,
            old,
            vec![
                (alert(old, "delivered"), notify(&["slack"])),
                (alert(old, "undelivered"), notify(&["slack"])),
                (alert(old, "no-sinks"), notify(&[])),
                (hit, notify(&[])),
            ],
        );
        let new_ids = store(s, T0, vec![(alert(T0, "recent"), notify(&["slack"]))]);
        let d = delivery(s, old_ids["delivered"], "slack");
        s.mark_sent(d, old + 1).unwrap();
        let d = delivery(s, old_ids["undelivered"], "slack");
        s.mark_failed(d, old + 1, "gave up", None)
            .unwrap();
        let d = delivery(s, new_ids["recent"], "slack");
        s.mark_sent(d, T0).unwrap();

        let stats = s.purge(T0, 30).unwrap();
        assert_eq!(
            stats,
            PurgeStats { alerts: 3, outbox: 1, bans: 0, report: 0, dns_hits: 1 }
        );
        let left: Vec<String> = s
            .alerts_between(0, T0 + 1, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.alert.rule_id)
            .collect();
        assert_eq!(left, ["undelivered", "recent"]);
        assert_eq!(s.outbox_list(None, 10).unwrap().len(), 2);
        // Nothing more to do the second time.
        assert_eq!(s.purge(T0, 30).unwrap(), PurgeStats::default());
        // Once delivered, the last old alert goes too (with its delivery).
        s.retry_failed(None, T0).unwrap();
        let d = delivery(s, old_ids["undelivered"], "slack");
        s.mark_sent(d, old + 2).unwrap();
        let stats = s.purge(T0, 30).unwrap();
        assert_eq!((stats.alerts, stats.outbox), (1, 1));
        assert_eq!(s.outbox_list(None, 10).unwrap().len(), 1);
        assert!(s.report_entries(0, T0 + 1).unwrap().is_empty());
        assert_eq!(s.delete_report_entries(T0 + 1).unwrap(), 0);
    }

    fn meta_values_are_kept_and_replaced(s: &mut dyn CollectorStore) {
        assert_eq!(s.meta("report.last_to").unwrap(), None);
        s.set_meta("report.last_to", "10").unwrap();
        s.set_meta("report.last_to", "20").unwrap();
        assert_eq!(s.meta("report.last_to").unwrap().as_deref(), Some("20"));
        // Offered once by each of several processes: the first stays.
        assert_eq!(s.init_meta("k", "first").unwrap(), "first");
        assert_eq!(s.init_meta("k", "second").unwrap(), "first");
        assert_eq!(s.meta("k").unwrap().as_deref(), Some("first"));
        // Every database has its own instance id (the deliveries' idempotency keys).
        assert!(!s.meta("instance").unwrap().unwrap().is_empty());
    }

    fn counters_and_profiles_read_back(s: &mut dyn CollectorStore) {
        assert_eq!(s.load_counters("fleet").unwrap(), None);
        let c = CounterSnapshot { name: "fleet".into(), data: vec![0, 159, 255, 1], saved_at: T0 };
        s.put_counters(&c).unwrap();
        assert_eq!(s.load_counters("fleet").unwrap(), Some(c));
        assert_eq!(s.profile("ssh|root").unwrap(), None);
    }

    fn operators_and_tokens_round_trip(s: &mut dyn CollectorStore) {
        assert!(s.set_operator("alice", "$argon2id$x", 1).unwrap());
        assert!(!s.set_operator("alice", "$argon2id$y", 2).unwrap());
        assert_eq!(s.operator_password("alice").unwrap().as_deref(), Some("$argon2id$y"));
        assert_eq!(s.operator_password("bob").unwrap(), None);
        assert!(s.set_operator("Zed", "$argon2id$z", 3).unwrap());
        assert!(s.set_operator("bob", "$argon2id$b", 3).unwrap());
        // Sorted bytewise, whatever the database's locale.
        assert_eq!(s.operators().unwrap(), ["Zed", "alice", "bob"]);

        let id = s.create_api_token("ci", "ab12", 5).unwrap();
        let other = s.create_api_token("cron", "cd34", 6).unwrap();
        assert_ne!(id, other);
        let (t, digest) = s.use_api_token("ab12", 9).unwrap().unwrap();
        assert_eq!((t.id, t.name.as_str(), digest.as_str()), (id, "ci", "ab12"));
        assert_eq!((t.created_at, t.last_used, t.revoked_at), (5, None, None));
        let (t, _) = s.use_api_token("ab12", 12).unwrap().unwrap();
        assert_eq!(t.last_used, Some(9), "the token as it was before this use");
        let tokens = s.api_tokens().unwrap();
        assert_eq!(tokens.iter().map(|t| t.id).collect::<Vec<_>>(), [id, other]);
        assert_eq!((tokens[0].last_used, tokens[1].last_used), (Some(12), None));
        assert!(s.use_api_token("ffff", 9).unwrap().is_none());
        assert!(s.revoke_api_token(id, 10).unwrap());
        assert!(!s.revoke_api_token(id, 11).unwrap());
        assert!(s.use_api_token("ab12", 11).unwrap().is_none());
        assert_eq!(s.api_tokens().unwrap()[0].revoked_at, Some(10));
        assert!(s.remove_operator("alice").unwrap());
        assert!(!s.remove_operator("alice").unwrap());
        assert_eq!(s.operators().unwrap(), ["Zed", "bob"]);
    }

    fn analysis_rows_round_trip_and_cache_by_key(s: &mut dyn CollectorStore) {
        let ids = store(s, T0, vec![(alert(T0, "r"), notify(&[]))]);
        let id = ids["r"];
        assert_eq!(s.analysis(id).unwrap(), None);
        let mut a = Analysis {
            alert_id: id,
            state: AnalysisState::Pending,
            model: None,
            text: None,
            error: None,
            cache_key: Some("r|192.0.2.1".into()),
            requested_at: 100,
            finished_at: None,
            latency_ms: None,
        };
        s.put_analysis(&a).unwrap();
        assert_eq!(s.analysis(id).unwrap().unwrap().state, AnalysisState::Pending);
        assert_eq!(s.cached_analysis("r|192.0.2.1", 0).unwrap(), None);
        a.state = AnalysisState::Done;
        a.text = Some("looks like a brute force".into());
        a.model = Some("m".into());
        a.finished_at = Some(105);
        a.latency_ms = Some(4_900);
        s.put_analysis(&a).unwrap();
        assert_eq!(s.analysis(id).unwrap().as_ref(), Some(&a));
        assert_eq!(s.cached_analysis("r|192.0.2.1", 100).unwrap(), Some(a.clone()));
        assert_eq!(s.cached_analysis("r|192.0.2.1", 106).unwrap(), None);
        assert_eq!(s.cached_analysis("other", 0).unwrap(), None);
        // No analysis of an alert that is not stored.
        let stray = Analysis { alert_id: id + 1000, ..a.clone() };
        assert!(s.put_analysis(&stray).is_err());
        assert_eq!(s.analysis(id + 1000).unwrap(), None);
        // Retention deletes the analysis with its alert.
        assert_eq!(s.purge(T0 + 31 * DAY, 30).unwrap().alerts, 1);
        assert_eq!(s.analysis(id).unwrap(), None);
        assert_eq!(s.cached_analysis("r|192.0.2.1", 0).unwrap(), None);
    }

    fn pending_analyses_are_finished_once(s: &mut dyn CollectorStore) {
        let ask = |key: &str| AlertPlan {
            notifiers: vec!["slack".into()],
            analysis: Some((AnalysisState::Pending, Some(key.to_string()))),
        };
        let skip = AlertPlan {
            notifiers: vec![],
            analysis: Some((AnalysisState::Skipped, None)),
        };
        let ids = store(
            s,
            T0,
            vec![
                (alert(T0, "p1"), ask("k")),
                (alert(T0, "p2"), ask("k")),
                (alert(T0, "p3"), ask("j")),
                (alert(T0, "skipped"), skip),
            ],
        );
        let pending = s.pending_analyses(10).unwrap();
        assert_eq!(
            pending.iter().map(|p| p.alert_id).collect::<Vec<_>>(),
            [ids["p1"], ids["p2"], ids["p3"]]
        );
        assert_eq!(pending[0].cache_key.as_deref(), Some("k"));
        assert_eq!(pending[0].requested_at, T0);
        assert_eq!(pending[0].alert_json, alert(T0, "p1").json);
        assert_eq!(s.pending_analyses(1).unwrap().len(), 1);
        assert_eq!(s.analysis(ids["skipped"]).unwrap().unwrap().state, AnalysisState::Skipped);
        // Delivery sees the analysis it waits for.
        let due = s.due_outbox_for(Some("slack"), T0, 10).unwrap();
        assert!(due.iter().all(|o| o.analysis.as_ref().unwrap().state == AnalysisState::Pending));

        let answer = Analysis {
            alert_id: 0,
            state: AnalysisState::Done,
            model: Some("m".into()),
            text: Some("benign".into()),
            error: None,
            cache_key: None,
            requested_at: 0,
            finished_at: Some(T0 + 5),
            latency_ms: Some(800),
        };
        let both = [ids["p1"], ids["p2"], ids["skipped"]];
        assert_eq!(s.finish_analyses(&both, &answer).unwrap(), 2);
        assert_eq!(s.finish_analyses(&both, &answer).unwrap(), 0, "no longer pending");
        let done = s.analysis(ids["p2"]).unwrap().unwrap();
        assert_eq!(
            (done.state, done.text.as_deref(), done.cache_key.as_deref(), done.requested_at),
            (AnalysisState::Done, Some("benign"), Some("k"), T0)
        );
        assert_eq!(s.analysis(ids["skipped"]).unwrap().unwrap().state, AnalysisState::Skipped);
        assert_eq!(
            s.pending_analyses(10).unwrap().iter().map(|p| p.alert_id).collect::<Vec<_>>(),
            [ids["p3"]]
        );
        let out = s.due_outbox_for(Some("slack"), T0, 10).unwrap();
        let p1 = out.iter().find(|o| o.alert_id == ids["p1"]).unwrap();
        let l = p1.analysis.as_ref().unwrap();
        assert_eq!((l.state, l.text.as_deref()), (AnalysisState::Done, Some("benign")));
    }
}

/// Alert partitions whose day is wholly past the cutoff, none of whose alerts is kept, are
/// dropped whole (with their deliveries and analyses); a day holding an undelivered alert
/// or one dated after the cutoff stays, its other old alerts deleted row by row.
#[test]
fn postgres_retention_drops_whole_old_days() {
    let Some(db) = TestDb::create() else { return };
    let mut pg = PgStore::connect(db.url(), None).unwrap();
    let s: &mut dyn CollectorStore = &mut pg;
    let (d1, d2, d3) = (T0 - 50 * DAY, T0 - 45 * DAY, T0 - 40 * DAY);
    let mut ask = notify(&["slack"]);
    ask.analysis = Some((AnalysisState::Pending, Some("k".into())));
    let first = store(
        s,
        d1,
        vec![
            (alert(d1, "d1-a"), ask.clone()),
            (alert(d1, "d1-b"), notify(&[])),
        ],
    );
    let second = store(
        s,
        d2,
        vec![
            (alert(d2, "d2-undelivered"), notify(&["slack"])),
            (alert(d2, "d2-old"), notify(&[])),
        ],
    );
    // Dated after the cutoff though stored on an old day (a sender's clock ahead): kept, as
    // SQLite keeps it.
    store(
        s,
        d3,
        vec![
            (alert(T0, "d3-future"), notify(&[])),
            (alert(d3, "d3-old"), notify(&[])),
        ],
    );
    store(s, T0, vec![(alert(T0, "today"), notify(&[]))]);
    let d = delivery(s, first["d1-a"], "slack");
    s.mark_sent(d, T0).unwrap();
    let d = delivery(s, second["d2-undelivered"], "slack");
    s.mark_failed(d, d2, "gave up", None).unwrap();
    let parts = || {
        db.sql(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'alerts'::regclass",
        )
    };
    assert_eq!(
        parts(),
        "alerts_d20261018,alerts_d20261023,alerts_d20261028,alerts_d20261207"
    );

    let stats = s.purge(T0, 30).unwrap();
    assert_eq!((stats.alerts, stats.outbox), (4, 0), "{stats:?}");
    assert_eq!(
        parts(),
        "alerts_d20261023,alerts_d20261028,alerts_d20261207",
        "only the first day goes whole"
    );
    let left: Vec<String> = s
        .alerts_between(i64::MIN, i64::MAX, 100)
        .unwrap()
        .into_iter()
        .map(|a| a.alert.rule_id)
        .collect();
    assert_eq!(left, ["d2-undelivered", "d3-future", "today"]);
    // No delivery or analysis is left pointing at a purged alert.
    assert_eq!(
        db.sql("SELECT count(*) FROM outbox WHERE alert_id NOT IN (SELECT id FROM alerts)"),
        "0"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM alert_analysis WHERE alert_id NOT IN (SELECT id FROM alerts)"),
        "0"
    );
    // A dropped day is made again if something is stored on it (this connection forgot it).
    store(s, d1 + 10, vec![(alert(d1, "d1-again"), notify(&[]))]);
    assert!(parts().starts_with("alerts_d20261018,"));
}

/// Collectors sharing a database may run retention at the same time: they take turns
/// (an advisory lock) instead of deadlocking on the partitions they both drop.
#[test]
fn postgres_concurrent_retention_takes_turns() {
    let Some(db) = TestDb::create() else { return };
    let mut pg = PgStore::connect(db.url(), None).unwrap();
    for d in 40..46 {
        let day = T0 - d * DAY;
        store(
            &mut pg,
            day,
            vec![(alert(day, &format!("day-{d}")), notify(&[]))],
        );
    }
    let url = db.url().to_string();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url, None).unwrap();
                s.purge(T0, 30).map(|p| p.alerts)
            })
        })
        .collect();
    let purged: u64 = runs.into_iter().map(|t| t.join().unwrap().unwrap()).sum();
    assert_eq!(purged, 6, "each alert purged once");
    assert_eq!(pg.alerts_between(i64::MIN, i64::MAX, 100).unwrap().len(), 0);
}

backends! {
    /// PostgreSQL's `text` refuses NUL: a key or name holding one used to fail the call
    /// there. On both backends it is stored (PostgreSQL: the NUL as U+FFFD) and found again
    /// by the same key, and a key never stored is simply not found.
    fn keys_and_names_with_nul_are_stored_or_not_found(s: &mut dyn CollectorStore) {
        assert_eq!(s.profile("root\0@203.0.113.9").unwrap(), None);
        assert_eq!(s.meta("never\0set").unwrap(), None);
        s.set_meta("k\0", "v\0alue").unwrap();
        let v = s.meta("k\0").unwrap().unwrap();
        assert!(v == "v\0alue" || v == "v\u{fffd}alue", "{v:?}");

        assert_eq!(s.operator_password("eve\0").unwrap(), None);
        assert!(!s.remove_operator("eve\0").unwrap());
        assert!(s.set_operator("bob\0", "$argon2id$b", 1).unwrap());
        assert_eq!(
            s.operator_password("bob\0").unwrap().as_deref(),
            Some("$argon2id$b")
        );
        assert_eq!(s.operators().unwrap().len(), 1);
        assert!(s.create_api_token("ci\0", &"a".repeat(64), 2).unwrap() > 0);
        assert!(s.remove_operator("bob\0").unwrap());
        assert!(s.operators().unwrap().is_empty());
    }
}
