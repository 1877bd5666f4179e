//! The collector's writes on both backends: enrolment and agents, the group ingest (per-agent
//! `seq` dedup, keyed events once, the fleet rules' effects in the same transaction), the
//! decisions change log and the fleet retention. The same assertions as the SQLite unit
//! tests (sqlite/agents.rs, ingest.rs, decisions.rs), plus what only PostgreSQL has: several
//! collectors on one database, day partitions.

// Test bodies outside #[test] fns (backends! makes them) unwrap like tests.
#![allow(clippy::unwrap_used)]

mod common;

use logward_store::{
    AlertFilter, AlertPlan, Analysis, AnalysisState, CollectorStore, CounterSnapshot, DecisionOp,
    DecisionSelector, DnsHit, DnsHitFilter, FleetEffects, FleetEvent, FleetItem, FleetOutput,
    Heartbeat, NewAlert, NewDecision, PgStore, ProfileRow, Store as _, StoreError, TokenCheck,
    UnixTime,
};
use logward_test_support::postgres::TestDb;

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

/// Sequences 1 to 3, each the same failed login at t=1000.
fn three_events() -> Vec<FleetItem> {
    (1..=3)
        .map(|seq| FleetItem::Event {
            seq,
            event: event(1000),
        })
        .collect()
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

fn alert(rule: &str) -> NewAlert {
    NewAlert {
        time: 1000,
        rule_id: rule.into(),
        severity: 4,
        host: Some("fleet".into()),
        source_address: Some("192.0.2.1".into()),
        user: None,
        json: "{}".into(),
        dns: None,
    }
}

backends! {
    fn tokens_are_one_use_and_expire(s: &mut dyn CollectorStore) {
        s.create_enrol_token("aa", 100, 200).unwrap();
        s.create_enrol_token("bb", 100, 150).unwrap();
        let redeem = |s: &mut dyn CollectorStore, t, now, id, v| {
            s.redeem_enrol_token(t, now, id, "h", "s", v).unwrap()
        };
        assert_eq!(redeem(s, "zz", 120, "a1", None), TokenCheck::Unknown);
        assert_eq!(redeem(s, "aa", 120, "a1", Some("0.1")), TokenCheck::Redeemed);
        assert_eq!(redeem(s, "aa", 121, "a2", None), TokenCheck::Used);
        assert_eq!(redeem(s, "bb", 150, "a3", None), TokenCheck::Expired);
        let a = s.agent("a1").unwrap().unwrap();
        assert_eq!((a.host.as_str(), a.secret.as_deref()), ("h", Some("s")));
        assert_eq!((a.version.as_deref(), a.last_seen, a.last_seq), (Some("0.1"), Some(120), 0));
        assert!(!format!("{a:?}").contains("\"s\""));
        assert!(s.agent("a2").unwrap().is_none());
        assert!(s.revoke_agent("a1", 130).unwrap());
        assert!(!s.revoke_agent("a1", 131).unwrap());
        assert!(!s.revoke_agent("nobody", 131).unwrap());
        assert_eq!(s.agents().unwrap()[0].revoked_at, Some(130));
    }

    fn shared_agents_register_once_and_heartbeats_are_recorded(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web02", 10).unwrap();
        s.register_shared_agent("web01", 11).unwrap();
        s.register_shared_agent("web02", 12).unwrap();
        let ids: Vec<_> = s.agents().unwrap().into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["web01", "web02"], "by host then id, each once");
        let a = s.agent("web02").unwrap().unwrap();
        assert_eq!((a.created_at, a.secret), (10, None));
        let hb = Heartbeat {
            version: Some("1.2".into()),
            host: None,
            spool_items: Some(5),
            spool_bytes: Some(500),
            oldest_unsent: Some(7),
        };
        s.record_heartbeat("web02", 20, &hb).unwrap();
        // A heartbeat without a version keeps the known one.
        s.record_heartbeat("web02", 21, &Heartbeat { version: None, ..hb.clone() }).unwrap();
        let a = s.agent("web02").unwrap().unwrap();
        assert_eq!(
            (a.last_seen, a.version.as_deref(), a.spool_items, a.spool_bytes, a.oldest_unsent),
            (Some(21), Some("1.2"), Some(5), Some(500), Some(7))
        );
    }

    fn ingest_skips_duplicate_sequences_and_purges(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        let items = three_events();
        let c = s.ingest("web01", 2000, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (3, 0));
        let c = s.ingest("web01", 2001, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (0, 3));
        assert_eq!(s.count_fleet_events(Some("web01")).unwrap(), 3);
        assert_eq!(s.count_fleet_events(Some("web09")).unwrap(), 0);
        let a = s.agent("web01").unwrap().unwrap();
        assert_eq!((a.last_seq, a.last_seen), (3, Some(2001)));
        assert!(matches!(
            s.ingest("nobody", 1, &items),
            Err(StoreError::NotFound { what: "agent", .. })
        ));
        let id = s.add_decision(&decision("192.0.2.1", Some(60), 1000)).unwrap();
        let d = s.decisions_after(0, 10).unwrap();
        assert_eq!((d[0].id, d[0].expires_at), (id, Some(1060)));
        assert!(s.decisions_after(id, 10).unwrap().is_empty());
        let p = s.purge_fleet(1000 + 2 * 86_400, 1).unwrap();
        assert_eq!((p.events, p.decisions), (3, 1));
        assert_eq!(s.count_fleet_events(None).unwrap(), 0);
        // The sequence survives the events: a resent batch is still a duplicate.
        let c = s.ingest("web01", 2 * 86_400 + 5, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (0, 3));
    }

    fn batches_stored_out_of_order_are_each_stored_once(s: &mut dyn CollectorStore) {
        // Several collectors (or NATS messages in flight) store an agent's batches in any
        // order: a later batch first must not make the earlier ones duplicates.
        s.register_shared_agent("web01", 10).unwrap();
        let batch = |seqs: std::ops::RangeInclusive<i64>| -> Vec<FleetItem> {
            seqs.map(|seq| FleetItem::Event { seq, event: event(1000) }).collect()
        };
        for (seqs, stored) in [(7..=9, 3), (1..=3, 3), (5..=6, 2), (1..=9, 1), (4..=8, 0)] {
            let c = s.ingest("web01", 2000, &batch(seqs.clone())).unwrap();
            let total = (*seqs.end() - *seqs.start() + 1) as u64;
            assert_eq!((c.events, c.duplicates), (stored, total - stored), "{seqs:?}");
        }
        assert_eq!(s.count_fleet_events(None).unwrap(), 9);
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 9, "the highest seq");
        // An agent's alert is a seq'd item too.
        let items = [FleetItem::Alert { seq: 10, alert: alert("r"), plan: AlertPlan::default() }];
        assert_eq!(s.ingest("web01", 2000, &items).unwrap().alerts, 1);
        assert_eq!(s.ingest("web01", 2000, &items).unwrap().duplicates, 1);
    }

    fn retention_merges_old_seq_ranges_and_keeps_them_duplicates(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        let one = |seq| [FleetItem::Event { seq, event: event(1000) }];
        // Gaps (2, 4) that stay open: three ranges, old by the purge.
        for seq in [1, 3, 5] {
            assert_eq!(s.ingest("web01", 1000, &one(seq)).unwrap().events, 1);
        }
        assert_eq!(s.ingest("web01", 3 * 86_400, &one(20)).unwrap().events, 1);
        s.purge_fleet(3 * 86_400, 1).unwrap();
        // Everything stored before stays a duplicate; a gap that old counts one too (it is
        // past retention); the newer range is kept as it is, and new seqs are stored.
        for seq in [1, 2, 3, 5, 20] {
            let c = s.ingest("web01", 3 * 86_400, &one(seq)).unwrap();
            assert_eq!((c.events, c.duplicates), (0, 1), "seq {seq}");
        }
        for seq in [6, 19, 21] {
            assert_eq!(s.ingest("web01", 3 * 86_400, &one(seq)).unwrap().events, 1, "seq {seq}");
        }
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 21);
    }

    fn a_sequence_repeated_inside_one_request_is_stored_once(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        let mut items = three_events();
        items.push(FleetItem::Event { seq: 2, event: event(1000) });
        items.push(FleetItem::Event { seq: 4, event: event(1001) });
        let c = s.ingest("web01", 2000, &items).unwrap();
        assert_eq!((c.events, c.duplicates), (4, 1));
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 4);
    }

    fn a_large_group_is_stored_whole_and_in_order(s: &mut dyn CollectorStore) {
        // Enough rows for PostgreSQL's COPY path, with every optional column missing on some.
        s.register_shared_agent("web01", 10).unwrap();
        let items: Vec<FleetItem> = (1..=300)
            .map(|seq| {
                let mut e = event(1000 + seq);
                e.json = format!("{{\"n\":{seq},\"s\":\"tab\\t \u{e9}\"}}");
                if seq % 3 == 0 {
                    e.host = None;
                }
                if seq % 5 == 0 {
                    (e.source_ip, e.user) = (None, None);
                }
                FleetItem::Event { seq, event: e }
            })
            .collect();
        let c = s.ingest("web01", 2000, &items).unwrap();
        assert_eq!(c.events, 300);
        let json = s.fleet_event_json(1000).unwrap();
        let want: Vec<String> = (1..=300)
            .map(|n| format!("{{\"n\":{n},\"s\":\"tab\\t \u{e9}\"}}"))
            .collect();
        assert_eq!(json, want);
        assert_eq!(s.count_fleet_events(Some("web01")).unwrap(), 200);
        assert_eq!(s.fleet_event_json(7).unwrap().len(), 7);
    }

    fn a_nul_in_a_logged_name_does_not_poison_the_batch(s: &mut dyn CollectorStore) {
        // An attacker's user name or DNS name with a NUL (PostgreSQL's text refuses it): the
        // batch is stored, and nothing stops the agent's next batches.
        s.register_shared_agent("web\0one", 10).unwrap();
        let mut e = event(1000);
        e.user = Some("ro\0ot".into());
        e.json = r#"{"user":{"name":"ro\u0000ot"}}"#.into();
        let mut a = alert("dns-listed");
        a.user = Some("x\0".into());
        a.dns = Some(Box::new(DnsHit {
            client: Some("192.0.2.7".into()),
            domain: "bad\0.example".into(),
            answer: Some("\0".into()),
            ..DnsHit::default()
        }));
        let plan = AlertPlan {
            notifiers: vec!["mail\0".into()],
            analysis: Some((AnalysisState::Pending, Some("k\0".into()))),
        };
        let items = [
            FleetItem::Event { seq: 1, event: e },
            FleetItem::Alert { seq: 2, alert: a, plan },
            FleetItem::Keyed { key: [7; 16], event: event(1000) },
        ];
        let mut rules = |_: &[usize]| {
            Ok(FleetEffects {
                outputs: vec![FleetOutput::Decision(NewDecision {
                    reason: "user ro\0ot".into(),
                    ..decision("192.0.2.1", Some(60), 1000)
                })],
                profiles: vec![ProfileRow { key: "ro\0ot".into(), data: vec![1], updated_at: 1 }],
                ..FleetEffects::default()
            })
        };
        let c = s.ingest_with("web\0one", 2000, &items, &mut rules).unwrap();
        assert_eq!((c.events, c.alerts, c.fleet_decisions), (2, 1, 1));
        assert_eq!(s.fleet_event_json(10).unwrap()[0], r#"{"user":{"name":"ro\u0000ot"}}"#);
        let hb = Heartbeat { version: Some("1\0".into()), ..Heartbeat::default() };
        s.record_heartbeat("web\0one", 2001, &hb).unwrap();
        let more = [FleetItem::Event { seq: 3, event: event(1001) }];
        assert_eq!(s.ingest("web\0one", 2002, &more).unwrap().events, 1);
        assert_eq!(s.agent("web\0one").unwrap().unwrap().last_seq, 3);
    }

    fn lookups_with_a_nul_find_only_what_was_stored_with_it(s: &mut dyn CollectorStore) {
        // Every text an outsider chooses reaches the store with the same rule: on PostgreSQL
        // its NULs become U+FFFD both when stored and when looked up, so either backend
        // finds what was stored with that NUL, finds nothing for anything else, and never
        // fails the call (the API answers 404 or an empty list, not 500).
        s.create_enrol_token(&"a".repeat(64), 10, 100).unwrap();
        let check = s
            .redeem_enrol_token(&"a".repeat(64), 11, "ag\0one", "h\0st", "secret", Some("1\0"))
            .unwrap();
        assert_eq!(check, TokenCheck::Redeemed);
        assert_eq!(
            s.redeem_enrol_token(&"b\0".repeat(32), 11, "x", "x", "x", None).unwrap(),
            TokenCheck::Unknown
        );
        assert!(s.agent("ag\0one").unwrap().is_some());
        assert!(s.agent("ag\0two").unwrap().is_none());
        assert!(s.agent("\0").unwrap().is_none());
        s.record_heartbeat("ag\0two", 12, &Heartbeat::default()).unwrap();

        let mut e = event(1000);
        e.host = Some("h\0st".into());
        let mut a = alert("dns-listed");
        a.user = Some("ro\0ot".into());
        a.dns = Some(Box::new(DnsHit {
            client: Some("192.0.2.7".into()),
            domain: "bad\0.example".into(),
            ..DnsHit::default()
        }));
        let plan = AlertPlan {
            notifiers: vec!["mail".into()],
            analysis: Some((AnalysisState::Pending, Some("k\0".into()))),
        };
        let items = [
            FleetItem::Event { seq: 1, event: e },
            FleetItem::Alert { seq: 2, alert: a, plan },
        ];
        assert_eq!(s.ingest("ag\0one", 2000, &items).unwrap().events, 1);
        assert_eq!(s.count_fleet_events(Some("h\0st")).unwrap(), 1);
        assert_eq!(s.count_fleet_events(Some("web01\0")).unwrap(), 0);

        let by_user = |user: &str| AlertFilter { user: Some(user.into()), ..Default::default() };
        let found = s.query_alerts(&by_user("ro\0ot"), 10).unwrap().alerts;
        assert_eq!(found.len(), 1);
        assert!(s.query_alerts(&by_user("root\0"), 10).unwrap().alerts.is_empty());
        let domain = |d: &str| DnsHitFilter { domain: Some(d.into()), ..Default::default() };
        assert_eq!(s.dns_hits(&domain("bad\0.example"), 10).unwrap().len(), 1);
        assert!(s.dns_hits(&domain("good\0.example"), 10).unwrap().is_empty());

        // An LLM's answer and a webhook's error are an outsider's text too.
        let id = found[0].id;
        assert_eq!(s.cached_analysis("k\0", 0).unwrap(), None);
        let done = Analysis {
            alert_id: id,
            state: AnalysisState::Done,
            model: Some("m\0".into()),
            text: Some("an\0swer".into()),
            error: None,
            cache_key: Some("k\0".into()),
            requested_at: 2000,
            finished_at: Some(2001),
            latency_ms: Some(5),
        };
        s.put_analysis(&done).unwrap();
        let cached = s.cached_analysis("k\0", 0).unwrap().unwrap();
        assert!(matches!(cached.text.as_deref(), Some("an\0swer" | "an\u{fffd}swer")));
        assert_eq!(s.cached_analysis("k\0x", 0).unwrap(), None);
        let out = s.outbox_list(None, 10).unwrap();
        s.mark_failed(out[0].id, 2002, "502: \0 in the body", Some(2060)).unwrap();

        assert_eq!(s.delete_decision(DecisionSelector::Target("192.0.2.1\0"), 2003).unwrap(), None);
        assert!(s.revoke_agent("ag\0one", 2004).unwrap());
        assert!(!s.revoke_agent("ag\0three", 2004).unwrap());
    }

    fn the_rules_leaders_pass_commits_with_its_position_or_not_at_all(s: &mut dyn CollectorStore) {
        assert!(s.lead_rules().unwrap(), "a lone store leads");
        let fx = || FleetEffects {
            outputs: vec![
                FleetOutput::Alert(alert("fleet-bruteforce"), AlertPlan::default()),
                FleetOutput::Decision(decision("192.0.2.1", Some(60), 1000)),
            ],
            counters: Some(CounterSnapshot { name: "lead".into(), data: vec![7], saved_at: 1000 }),
            profiles: Vec::new(),
        };
        let c = s.commit_rules("pos", None, "1", 2000, &mut |_| Ok(fx())).unwrap();
        assert_eq!((c.fleet_alerts, c.fleet_decisions), (1, 1));
        assert_eq!(s.meta("pos").unwrap().as_deref(), Some("1"));
        assert_eq!(s.load_counters("lead").unwrap().unwrap().data, vec![7]);
        // A pass from a position another leader moved since: nothing of it commits.
        let stale = s.commit_rules("pos", None, "2", 2001, &mut |_| Ok(fx()));
        assert!(matches!(stale, Err(StoreError::Invalid { .. })), "{stale:?}");
        // The rules failing: nothing commits either.
        let failed = s.commit_rules("pos", Some("1"), "2", 2001, &mut |_| {
            Err(StoreError::Invalid { what: "rules", detail: "failed".into() })
        });
        assert!(failed.is_err());
        assert_eq!(s.meta("pos").unwrap().as_deref(), Some("1"));
        assert_eq!(s.alerts_between(0, i64::MAX, 10).unwrap().len(), 1);
        s.commit_rules("pos", Some("1"), "2", 2002, &mut |_| Ok(FleetEffects::default()))
            .unwrap();
        assert_eq!(s.meta("pos").unwrap().as_deref(), Some("2"));
    }

    fn keyed_events_are_stored_once_and_need_no_agent(s: &mut dyn CollectorStore) {
        let keyed = |k: u8| FleetItem::Keyed {
            key: [k; 16],
            event: event(1000),
        };
        let mut seen = Vec::new();
        let mut rules = |new: &[usize]| {
            seen.push(new.to_vec());
            Ok(FleetEffects::default())
        };
        // A repeat inside one request too.
        let items = [keyed(1), keyed(2), keyed(1)];
        let c = s.ingest_with("beats:dc01", 2000, &items, &mut rules).unwrap();
        assert_eq!((c.events, c.duplicates), (2, 1));
        // The window resent whole after a lost ACK, with one new event.
        let items = [keyed(1), keyed(2), keyed(3)];
        let c = s.ingest_with("beats:dc01", 2001, &items, &mut rules).unwrap();
        assert_eq!((c.events, c.duplicates), (1, 2));
        assert_eq!(seen, [vec![0, 1], vec![2]], "the rules see each event once");
        assert_eq!(s.count_fleet_events(None).unwrap(), 3);
        assert!(s.agent("beats:dc01").unwrap().is_none());
        // Keys go with their events.
        s.purge_fleet(1000 + 2 * 86_400, 1).unwrap();
        let c = s.ingest("beats:dc01", 2002, &[keyed(1)]).unwrap();
        assert_eq!(c.events, 1);
    }

    fn fleet_rules_commit_with_the_ingest_and_see_only_new_events(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        let items = three_events();
        let mut seen = Vec::new();
        let mut rules = |new: &[usize]| {
            seen.push(new.to_vec());
            Ok(FleetEffects {
                outputs: vec![
                    FleetOutput::Alert(alert("fleet-bruteforce"), AlertPlan::default()),
                    FleetOutput::Decision(decision("192.0.2.1", Some(60), 1000)),
                ],
                counters: Some(CounterSnapshot {
                    name: "fleet".into(),
                    data: vec![1, 2, 3],
                    saved_at: 1000,
                }),
                profiles: vec![ProfileRow {
                    key: "alice".into(),
                    data: b"{}".to_vec(),
                    updated_at: 1000,
                }],
            })
        };
        let c = s.ingest_with("web01", 2000, &items[..2], &mut rules).unwrap();
        assert_eq!((c.events, c.fleet_alerts, c.fleet_decisions), (2, 1, 1));
        // A retry with one new item: the rules see only that one.
        let c = s.ingest_with("web01", 2001, &items, &mut rules).unwrap();
        assert_eq!((c.events, c.duplicates, c.fleet_decisions), (1, 2, 0));
        assert_eq!(seen, [vec![0, 1], vec![2]]);
        let d = s.decisions_in_force(1001).unwrap();
        assert_eq!(d.len(), 1);
        assert!(d[0].alert_id.is_some());
        assert_eq!(s.load_counters("fleet").unwrap().unwrap().data, [1, 2, 3]);
        assert_eq!(s.profile("alice").unwrap().unwrap(), b"{}", "profiles commit with it");
        let stored = s.alerts_between(0, 3000, 10).unwrap();
        assert_eq!(stored.len(), 2, "one fleet alert per request with new events");
        assert_eq!(d[0].alert_id, Some(stored[0].id), "the decision points at its alert");
        // Failing rules roll the whole request back.
        let more = [FleetItem::Event { seq: 4, event: event(1000) }];
        let mut failing = |_: &[usize]| Err(StoreError::Invalid {
            what: "rules",
            detail: "boom".into(),
        });
        assert!(s.ingest_with("web01", 2002, &more, &mut failing).is_err());
        assert_eq!(s.count_fleet_events(None).unwrap(), 3);
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 3);
        // And the store works on after the rollback (PostgreSQL: the day's partition it
        // thought it had made is made again).
        let c = s.ingest("web01", 90_000, &more).unwrap();
        assert_eq!(c.events, 1);
    }

    fn a_group_commits_all_its_requests_or_none(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        s.register_shared_agent("web02", 10).unwrap();
        let items = three_events();
        let req = |agent_id, items| logward_store::IngestRequest { agent_id, now: 2000, items };
        // The same agent twice in one group: the second request sees the first's last_seq.
        let reqs = [req("web01", &items[..2]), req("web02", &items[..]), req("web01", &items[..])];
        let mut calls = Vec::new();
        let c = s
            .ingest_group(&reqs, &mut |r, fresh, profiles| {
                calls.push((r, fresh.to_vec()));
                // Profiles written by an earlier request of the group are visible.
                let p = profiles.profile("bob")?;
                Ok(FleetEffects {
                    profiles: vec![ProfileRow {
                        key: "bob".into(),
                        data: vec![p.map_or(1, |d| d[0] + 1)],
                        updated_at: 2000,
                    }],
                    ..FleetEffects::default()
                })
            })
            .unwrap();
        let events: Vec<_> = c.iter().map(|c| (c.events, c.duplicates)).collect();
        assert_eq!(events, [(2, 0), (3, 0), (1, 2)]);
        assert_eq!(calls, [(0, vec![0, 1]), (1, vec![0, 1, 2]), (2, vec![2])]);
        assert_eq!(s.profile("bob").unwrap().unwrap(), [3]);
        assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 3);
        // One unknown agent fails the whole group.
        let more = [FleetItem::Event { seq: 9, event: event(1000) }];
        let reqs = [req("web02", &more[..]), req("nobody", &more[..])];
        assert!(s.ingest_group(&reqs, &mut |_, _, _| Ok(FleetEffects::default())).is_err());
        assert_eq!(s.count_fleet_events(None).unwrap(), 6);
        assert_eq!(s.agent("web02").unwrap().unwrap().last_seq, 3);
    }

    fn agents_alerts_are_stored_once_and_a_bad_one_stores_nothing(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        let items = dns_alert_and_event();
        let c = s.ingest("web01", 2000, &items).unwrap();
        assert_eq!((c.alerts, c.events), (1, 1));
        let stored = s.alerts_between(0, 3000, 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].alert.rule_id.as_str(), stored[0].alert.severity), ("dns-listed", 4));
        let counts = s.outbox_counts().unwrap();
        assert_eq!(counts.pending, 2, "one delivery per notifier, the repeat once");
        let due: Vec<_> = s.due_outbox(2000, 10).unwrap().into_iter().map(|o| o.sink).collect();
        assert_eq!(due, ["mail", "hook"]);
        assert_eq!(s.pending_analyses(10).unwrap().len(), 1);
        // A retry stores neither again.
        let c = s.ingest("web01", 2001, &items).unwrap();
        assert_eq!((c.alerts, c.events, c.duplicates), (0, 0, 2));
        // A severity outside 1–5 is refused and nothing of the request is stored.
        let mut bad = alert("bad");
        bad.severity = 9;
        let items = [
            FleetItem::Event { seq: 3, event: event(1000) },
            FleetItem::Alert { seq: 4, alert: bad, plan: AlertPlan::default() },
        ];
        let e = s.ingest("web01", 2001, &items).unwrap_err().to_string();
        assert!(e.contains("severity"), "{e}");
        assert_eq!(s.count_fleet_events(None).unwrap(), 1);
    }

    fn decisions_are_a_change_log_with_one_in_force_per_target(s: &mut dyn CollectorStore) {
        let (id, c) = s.put_decision(&decision("192.0.2.1", Some(60), 1000)).unwrap();
        assert_eq!(c.unwrap().op, DecisionOp::Add);
        // Shorter: nothing changes. Longer: extended, same decision.
        let (id2, c) = s.put_decision(&decision("192.0.2.1", Some(10), 1001)).unwrap();
        assert_eq!((id2, c), (id, None));
        let (id3, c) = s.put_decision(&decision("192.0.2.1", Some(600), 1002)).unwrap();
        let c = c.unwrap();
        assert_eq!((id3, c.op, c.expires_at), (id, DecisionOp::Extend, Some(1602)));
        assert_eq!(s.decisions_in_force(1003).unwrap().len(), 1);
        assert_eq!(s.decisions_in_force(1003).unwrap()[0].duration_secs, Some(602));
        assert!(s.put_decision(&decision("192.0.2.1", Some(0), 1003)).is_err());
        // Lifted by target; a second lift finds nothing.
        let d = s
            .delete_decision(DecisionSelector::Target("192.0.2.1"), 1100)
            .unwrap()
            .unwrap();
        assert_eq!((d.op, d.decision_id, d.expires_at), (DecisionOp::Delete, id, Some(1100)));
        assert!(s.delete_decision(DecisionSelector::Id(id), 1101).unwrap().is_none());
        // A new one for the target after the lift, then its expiry.
        let (nid, _) = s.put_decision(&decision("192.0.2.1", Some(5), 1200)).unwrap();
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
        assert_eq!(s.decision_changes_after(0, 2).unwrap().len(), 2);
        // Lifted by id.
        let (did, _) = s.put_decision(&decision("198.51.100.9", Some(50), 1300)).unwrap();
        let d = s.delete_decision(DecisionSelector::Id(did), 1301).unwrap().unwrap();
        assert_eq!((d.target.as_str(), d.op), ("198.51.100.9", DecisionOp::Delete));
        // Permanent decisions are not extended by timed ones, and do not expire.
        s.put_decision(&decision("2001:db8::1", None, 1300)).unwrap();
        assert!(s.put_decision(&decision("2001:db8::1", Some(99), 1301)).unwrap().1.is_none());
        assert_eq!(s.expire_decisions(i64::MAX / 2).unwrap(), 0);
        let all = s.decisions_after(0, 100).unwrap();
        assert_eq!(all.len(), 4);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    }

    fn fleet_rules_lift_decisions_in_the_ingest(s: &mut dyn CollectorStore) {
        s.register_shared_agent("web01", 10).unwrap();
        s.put_decision(&decision("192.0.2.1", Some(600), 1000)).unwrap();
        let mut rules = |_: &[usize]| {
            Ok(FleetEffects {
                outputs: vec![
                    FleetOutput::Lift { target: "192.0.2.1".into(), at: 1010 },
                    FleetOutput::Lift { target: "192.0.2.99".into(), at: 1010 },
                ],
                ..FleetEffects::default()
            })
        };
        let c = s.ingest_with("web01", 2000, &three_events(), &mut rules).unwrap();
        assert_eq!(c.fleet_decisions, 1, "only the decision in force is lifted");
        assert!(s.decisions_in_force(1011).unwrap().is_empty());
    }

    fn fleet_retention_takes_old_decisions_and_tokens(s: &mut dyn CollectorStore) {
        let day = 86_400;
        s.create_enrol_token("old", 0, 100).unwrap();
        s.create_enrol_token("new", 10 * day, 11 * day).unwrap();
        s.put_decision(&decision("192.0.2.1", Some(60), 1000)).unwrap();
        s.put_decision(&decision("192.0.2.2", Some(60), 10 * day)).unwrap();
        s.put_decision(&decision("192.0.2.3", None, 1000)).unwrap();
        s.expire_decisions(10 * day + 100).unwrap();
        let p = s.purge_fleet(10 * day + 100, 2).unwrap();
        assert_eq!((p.decisions, p.tokens), (1, 1));
        let left: Vec<_> = s.decisions_after(0, 10).unwrap().into_iter().map(|d| d.target).collect();
        assert_eq!(left, ["192.0.2.2", "192.0.2.3"]);
        // The kept decisions' changes are kept; the purged one's are gone.
        let log = s.decision_changes_after(0, 100).unwrap();
        assert!(log.iter().all(|c| c.target != "192.0.2.1"), "{log:?}");
        assert_eq!(log.len(), 3);
    }
}

/// An agent's DNS alert (two notifiers, one repeated; an analysis asked for), then an event.
fn dns_alert_and_event() -> [FleetItem; 2] {
    let mut dns = alert("dns-listed");
    dns.dns = Some(Box::new(DnsHit {
        client: Some("192.0.2.7".into()),
        domain: "bad.example".into(),
        ..DnsHit::default()
    }));
    let plan = AlertPlan {
        notifiers: vec!["mail".into(), "hook".into(), "mail".into()],
        analysis: Some((AnalysisState::Pending, Some("k1".into()))),
    };
    [
        FleetItem::Alert {
            seq: 1,
            alert: dns,
            plan,
        },
        FleetItem::Event {
            seq: 2,
            event: event(1000),
        },
    ]
}

#[test]
fn postgres_an_alert_commits_with_its_deliveries_analysis_and_dns_hit() {
    let Some(db) = TestDb::create() else { return };
    let mut s = pg_with_web01(&db);
    s.ingest("web01", 2000, &dns_alert_and_event()).unwrap();
    let id = db.sql("SELECT id FROM alerts");
    assert_eq!(
        db.sql("SELECT string_agg(alert_id || ':' || sink || ':' || state || ':' || next_attempt_at, ',' ORDER BY id) FROM outbox"),
        format!("{id}:mail:pending:2000,{id}:hook:pending:2000")
    );
    assert_eq!(
        db.sql("SELECT alert_id || ':' || state || ':' || cache_key || ':' || requested_at FROM alert_analysis"),
        format!("{id}:pending:k1:2000")
    );
    assert_eq!(
        db.sql("SELECT alert_id || ':' || day || ':' || client || ':' || domain FROM dns_hits"),
        format!("{id}:0:192.0.2.7:bad.example")
    );
    assert_eq!(
        db.sql("SELECT time || ':' || stored_at || ':' || severity FROM alerts"),
        "1000:2000:4"
    );
}

#[test]
fn postgres_counters_are_saved_with_the_ingest_and_replaced() {
    let Some(db) = TestDb::create() else { return };
    let mut s = pg_with_web01(&db);
    let mut rules = |_: &[usize]| {
        Ok(FleetEffects {
            counters: Some(CounterSnapshot {
                name: "fleet".into(),
                data: vec![1],
                saved_at: 1,
            }),
            ..FleetEffects::default()
        })
    };
    s.ingest_with("web01", 2000, &three_events(), &mut rules)
        .unwrap();
    assert_eq!(
        db.sql("SELECT encode(data, 'hex') || ':' || saved_at FROM counters"),
        "01:1"
    );
    s.put_counters(&CounterSnapshot {
        name: "fleet".into(),
        data: vec![2, 2],
        saved_at: 2,
    })
    .unwrap();
    assert_eq!(
        db.sql("SELECT encode(data, 'hex') || ':' || saved_at FROM counters"),
        "0202:2"
    );
}

/// A PostgreSQL store on `db` with the shared-key agent `web01`.
fn pg_with_web01(db: &TestDb) -> PgStore {
    let mut s = PgStore::connect(db.url(), None).unwrap();
    s.register_shared_agent("web01", 10).unwrap();
    s
}

#[test]
fn postgres_events_and_alerts_go_to_the_day_partition_of_their_storage_time() {
    let Some(db) = TestDb::create() else { return };
    let mut s = pg_with_web01(&db);
    let day = 86_400;
    // Sent "in 1970" and "in 2999": stored under the collector's days, 3 and 4.
    let items = [
        FleetItem::Event {
            seq: 1,
            event: event(5),
        },
        FleetItem::Alert {
            seq: 2,
            alert: alert("r"),
            plan: AlertPlan::default(),
        },
    ];
    s.ingest("web01", 3 * day + 1, &items).unwrap();
    let items = [FleetItem::Event {
        seq: 3,
        event: event(32_503_680_000),
    }];
    s.ingest("web01", 4 * day + 1, &items).unwrap();
    let parts = db.sql(
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r'",
    );
    assert_eq!(
        parts,
        "alerts_d19700104,alerts_d19700105,fleet_events_d19700104,fleet_events_d19700105"
    );
    // Retention drops the days wholly before the cutoff, and counts their rows.
    let p = s.purge_fleet(5 * day, 1).unwrap();
    assert_eq!(p.events, 1);
    assert_eq!(db.sql("SELECT count(*) FROM fleet_events"), "1");
    assert!(!db
        .sql("SELECT string_agg(relname, ',') FROM pg_class")
        .contains("fleet_events_d19700104"));
    // A later ingest on the same connection still finds (or makes) its day.
    let items = [FleetItem::Event {
        seq: 4,
        event: event(5),
    }];
    assert_eq!(s.ingest("web01", 3 * day + 2, &items).unwrap().events, 1);
}

#[test]
fn postgres_two_collectors_store_a_batch_they_both_received_once() {
    let Some(db) = TestDb::create() else { return };
    drop(pg_with_web01(&db));
    let batch: Vec<FleetItem> = (1..=200)
        .map(|seq| FleetItem::Event {
            seq,
            event: event(1000),
        })
        .chain((0..50u8).map(|k| FleetItem::Keyed {
            key: [k; 16],
            event: event(1000),
        }))
        .collect();
    let batch = std::sync::Arc::new(batch);
    let collectors: Vec<_> = (0..4)
        .map(|_| {
            let (url, batch) = (db.url().to_string(), batch.clone());
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url, None).unwrap();
                let mut stored = 0;
                // Each collector gets the batch in a few slices, retried whole.
                for end in [50, 120, 250, 250] {
                    let c = s.ingest("web01", 2000, &batch[..end]).unwrap();
                    stored += c.events;
                }
                stored
            })
        })
        .collect();
    let stored: u64 = collectors.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(stored, 250, "each event counted stored by one collector");
    assert_eq!(db.sql("SELECT count(*) FROM fleet_events"), "250");
    assert_eq!(
        db.sql("SELECT count(DISTINCT seq) FROM fleet_events WHERE seq > 0"),
        "200"
    );
}

#[test]
fn postgres_collectors_storing_an_agents_batches_in_any_order_store_each_once() {
    let Some(db) = TestDb::create() else { return };
    drop(pg_with_web01(&db));
    // 40 batches of 5 seqs, each sent to two of four collectors, every collector going
    // through its share in a different order: what one stores the others count duplicates.
    let batches: Vec<Vec<FleetItem>> = (0..40i64)
        .map(|b| {
            (b * 5 + 1..=b * 5 + 5)
                .map(|seq| FleetItem::Event {
                    seq,
                    event: event(1000),
                })
                .collect()
        })
        .collect();
    let batches = std::sync::Arc::new(batches);
    let collectors: Vec<_> = (0..4usize)
        .map(|c| {
            let (url, batches) = (db.url().to_string(), batches.clone());
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url, None).unwrap();
                let mut mine: Vec<usize> = (0..40).filter(|b| b % 2 == c % 2).collect();
                match c {
                    0 | 1 => mine.reverse(),
                    _ => mine.sort_by_key(|b| (b * 7) % 40),
                }
                mine.iter()
                    .map(|&b| s.ingest("web01", 2000, &batches[b]).unwrap().events)
                    .sum::<u64>()
            })
        })
        .collect();
    let stored: u64 = collectors.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(stored, 200, "each event counted stored by one collector");
    assert_eq!(
        db.sql("SELECT count(DISTINCT seq) FROM fleet_events"),
        "200"
    );
    assert_eq!(db.sql("SELECT count(*) FROM fleet_events"), "200");
    // In-order or not, the ranges merged back into one.
    assert_eq!(
        db.sql("SELECT first_seq || '-' || last_seq FROM agent_seq_ranges"),
        "1-200"
    );
}

#[test]
fn postgres_two_collectors_banning_one_address_make_one_decision() {
    let Some(db) = TestDb::create() else { return };
    drop(PgStore::connect(db.url(), None).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let url = db.url().to_string();
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url, None).unwrap();
                s.put_decision(&decision("192.0.2.1", Some(60 + i), 1000))
                    .unwrap()
            })
        })
        .collect();
    let ids: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap().0).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(db.sql("SELECT count(*) FROM decisions"), "1");
    assert_eq!(db.sql("SELECT expires_at FROM decisions"), "1063");
    assert_eq!(
        db.sql("SELECT count(*) FROM decision_changes WHERE op = 'add'"),
        "1"
    );
}

#[test]
fn postgres_a_lost_connection_is_opened_again_and_a_retried_batch_is_stored_once() {
    let Some(db) = TestDb::create() else { return };
    let mut s = pg_with_web01(&db);
    let items = three_events();
    assert_eq!(s.ingest("web01", 2000, &items[..1]).unwrap().events, 1);
    // What a server restart does to the collector's connection.
    let killed = db.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    assert_eq!(killed, "1");
    // The call that meets the loss fails whole; the retry runs on a new connection.
    let mut stored = 0;
    let mut failures = 0;
    for _ in 0..3 {
        match s.ingest("web01", 2001, &items) {
            Ok(c) => {
                stored += c.events;
                break;
            }
            Err(e) => {
                failures += 1;
                assert!(
                    e.to_string().contains("PostgreSQL") || e.to_string().contains("postgres"),
                    "{e}"
                );
            }
        }
    }
    assert!(failures <= 1, "one failed call at most");
    assert_eq!(stored, 2);
    assert_eq!(db.sql("SELECT count(*) FROM fleet_events"), "3");
    assert_eq!(s.agent("web01").unwrap().unwrap().last_seq, 3);
}

#[test]
fn postgres_a_decision_change_never_becomes_visible_after_a_later_numbered_one() {
    // Agents keep the highest `seq` they polled: had collector B's change (numbered after
    // A's) committed while A's was still open, an agent would skip A's ban for good.
    let Some(db) = TestDb::create() else { return };
    drop(pg_with_web01(&db));
    let (paused_tx, paused) = std::sync::mpsc::channel();
    let (resume, resume_rx) = std::sync::mpsc::channel::<()>();
    let url = db.url().to_string();
    let a = std::thread::spawn(move || {
        let mut s = PgStore::connect(&url, None).unwrap();
        let items = three_events();
        let req = |items| logward_store::IngestRequest {
            agent_id: "web01",
            now: 2000,
            items,
        };
        let reqs = [req(&items[..2]), req(&items[2..])];
        s.ingest_group(&reqs, &mut |r, _, _| {
            if r == 0 {
                return Ok(FleetEffects {
                    outputs: vec![FleetOutput::Decision(decision("192.0.2.1", Some(60), 1000))],
                    ..FleetEffects::default()
                });
            }
            // A's change is logged, not committed: let B try now.
            paused_tx.send(()).unwrap();
            resume_rx.recv().unwrap();
            Ok(FleetEffects::default())
        })
        .unwrap();
    });
    paused.recv().unwrap();
    let url = db.url().to_string();
    let b = std::thread::spawn(move || {
        let mut s = PgStore::connect(&url, None).unwrap();
        s.put_decision(&decision("192.0.2.2", Some(60), 1001))
            .unwrap();
    });
    // B either waits for A's commit (on a lock) or, wrongly, commits first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !b.is_finished()
        && db.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        ) != "1"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "B neither waited nor finished"
        );
        std::thread::yield_now();
    }
    let mut reader = PgStore::connect(db.url(), None).unwrap();
    let seen = reader.decision_changes_after(0, 10).unwrap();
    assert!(seen.is_empty(), "B's change visible before A's: {seen:?}");
    resume.send(()).unwrap();
    a.join().unwrap();
    b.join().unwrap();
    let targets: Vec<_> = reader
        .decision_changes_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.target)
        .collect();
    assert_eq!(targets, ["192.0.2.1", "192.0.2.2"]);
}

#[test]
fn postgres_collectors_storing_a_new_days_first_rows_together_all_succeed() {
    // Each new day makes two partitions; collectors that made them in different orders
    // (events then alerts, alerts then events) could deadlock and fail an ingest.
    let Some(db) = TestDb::create() else { return };
    drop(PgStore::connect(db.url(), None).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let url = db.url().to_string();
            std::thread::spawn(move || {
                let mut s = PgStore::connect(&url, None).unwrap();
                let agent = format!("web{i}");
                s.register_shared_agent(&agent, 10).unwrap();
                for day in 10..20i64 {
                    // Sequences in request order.
                    let (ev_seq, al_seq) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
                    let ev = [FleetItem::Event {
                        seq: 2 * day + ev_seq,
                        event: event(1000),
                    }];
                    let al = [FleetItem::Alert {
                        seq: 2 * day + al_seq,
                        alert: alert("r"),
                        plan: AlertPlan::default(),
                    }];
                    let req = |items| logward_store::IngestRequest {
                        agent_id: &agent,
                        now: day * 86_400 + 5,
                        items,
                    };
                    let reqs = if i % 2 == 0 {
                        [req(&ev[..]), req(&al[..])]
                    } else {
                        [req(&al[..]), req(&ev[..])]
                    };
                    s.ingest_group(&reqs, &mut |_, _, _| Ok(FleetEffects::default()))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(db.sql("SELECT count(*) FROM fleet_events"), "40");
    assert_eq!(db.sql("SELECT count(*) FROM alerts"), "40");
}

#[test]
fn postgres_one_session_leads_the_fleet_rules_until_it_ends() {
    let Some(db) = TestDb::create() else { return };
    let mut first = PgStore::connect(db.url(), None).unwrap();
    let mut second = PgStore::connect(db.url(), None).unwrap();
    assert!(first.lead_rules().unwrap());
    assert!(first.lead_rules().unwrap(), "asked again, still the leader");
    assert!(!second.lead_rules().unwrap(), "one leader at a time");
    // The follower cannot commit a pass, whatever position it read.
    let r = second.commit_rules("pos", None, "1", 2000, &mut |_| Ok(FleetEffects::default()));
    assert!(matches!(r, Err(StoreError::Invalid { .. })), "{r:?}");
    assert_eq!(second.meta("pos").unwrap(), None);
    // The leader's session ends (a dead collector): the lead is free.
    drop(first);
    assert!(logward_test_support::wait_until(
        std::time::Duration::from_secs(10),
        || { second.lead_rules().unwrap() }
    ));
    second
        .commit_rules("pos", None, "1", 2000, &mut |_| Ok(FleetEffects::default()))
        .unwrap();
}
