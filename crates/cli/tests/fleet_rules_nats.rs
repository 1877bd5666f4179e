//! The fleet rules with three collectors on one NATS stream and one PostgreSQL database
//! (docs/SCALE.md "Fleet rules with several collectors"), every part real on 127.0.0.1:
//! Debian's `nats-server -js` with its store in a temp dir, the test cluster's database
//! (`TestDb`), three collector binaries. Signed batches are published straight to the
//! stream as agents publish them. One address failing on three hosts, its batches spread
//! over the collectors, makes exactly one fleet alert and one decision; the rules leader
//! SIGKILLed with an address at two of three hosts, another takes over with the counters
//! and the third host's failure raises the alert — once.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and nats-server
#![allow(clippy::unwrap_used)]

#[path = "support/nats.rs"]
mod nats;

use logward_core::wire;
use logward_test_support::postgres::TestDb;
use logward_test_support::{free_port, wait_until, Proc};
use nats::{nats_server, Collector, WAIT};

const KEY: &str = "fleet-rules-shared-key-0123456789";

/// One failed sshd login from `ip` as `host`'s batch `seq`, signed with the shared key.
fn failure_batch(host: &str, seq: u64, ip: &str) -> (async_nats::HeaderMap, Vec<u8>) {
    let line = format!(
        "{{\"seq\":{seq},\"event\":{{\"event\":{{\"dataset\":\"sshd\",\"action\":\"user-login\",\"outcome\":\"failure\"}},\
         \"source\":{{\"ip\":\"{ip}\",\"port\":40000}},\"user\":{{\"name\":\"root\"}}}}}}\n"
    );
    let body = line.into_bytes();
    let ts = logward_core::clock::unix_now();
    let nonce = format!("{:032x}", rand_u128());
    let digest = wire::body_digest(&body);
    let mut h = async_nats::HeaderMap::new();
    h.insert(wire::HEADER_AGENT, host);
    h.insert(wire::HEADER_TIMESTAMP, ts.to_string().as_str());
    h.insert(wire::HEADER_NONCE, nonce.as_str());
    h.insert(wire::HEADER_CONTENT_SHA256, digest.as_str());
    h.insert(
        wire::HEADER_SIGNATURE,
        wire::sign_digest(KEY.as_bytes(), "POST", "/v1/events", ts, &nonce, &digest).as_str(),
    );
    (h, body)
}

fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    t ^ (u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64) ^ u128::from(std::process::id())
}

/// Publishes batches to the stream, each confirmed by the server.
fn publish(nats_port: u16, batches: &[(&str, u64, &str)]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        for (host, seq, ip) in batches {
            let (h, body) = failure_batch(host, *seq, ip);
            js.publish_with_headers(format!("logward.events.{host}"), h, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
}

fn count(db: &TestDb, sql: &str) -> u64 {
    db.sql(sql).trim().parse().unwrap_or(0)
}

fn fleet_alerts(db: &TestDb, ip: &str) -> u64 {
    count(
        db,
        &format!(
            "SELECT count(*) FROM alerts WHERE host = 'fleet' AND rule_id = 'fleet-bruteforce' \
             AND json LIKE '%failed logins from {ip} on %'"
        ),
    )
}

fn decisions(db: &TestDb, ip: &str) -> u64 {
    count(
        db,
        &format!("SELECT count(*) FROM decisions WHERE target = '{ip}'"),
    )
}

/// Every collector's figure `name` added up.
fn total(cs: &[&Collector], name: &str) -> u64 {
    cs.iter().map(|c| c.metric(name)).sum()
}

#[test]
fn fleet_rules_with_three_collectors_raise_once_and_survive_the_leaders_death() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let shared = format!(
        "store: {{type: postgres, url: \"{}\"}}\nauth: {{mode: shared, key: {KEY}}}\n",
        db.url()
    );
    let cs: Vec<Collector> = (0..3)
        .map(|i| Collector::new(&d.path().join(format!("c{i}")), nats_port, &shared))
        .collect();
    let mut procs: Vec<Option<Proc>> = cs.iter().map(|c| Some(c.start())).collect();
    let all: Vec<&Collector> = cs.iter().collect();
    assert!(
        wait_until(WAIT, || total(&all, "logward_collector_rules_leader") == 1),
        "no single rules leader:\n{}",
        cs.iter().map(Collector::log).collect::<String>()
    );

    // One address failing on three hosts, the batches spread over the collectors by the
    // shared consumer; another on two hosts only.
    let a = "198.51.100.7";
    let b = "198.51.100.8";
    publish(
        nats_port,
        &[
            ("web01", 1, a),
            ("web02", 1, a),
            ("web01", 2, b),
            ("web03", 1, a),
            ("web02", 2, b),
        ],
    );
    let counted = r#"logward_collector_rules_messages_total{fate="counted"}"#;
    assert!(
        wait_until(WAIT, || total(&all, counted) == 5
            && count(&db, "SELECT count(*) FROM fleet_events") == 5),
        "not every batch stored and counted:\n{}",
        cs.iter().map(Collector::log).collect::<String>()
    );
    assert_eq!(fleet_alerts(&db, a), 1, "one fleet alert for three hosts");
    assert_eq!(decisions(&db, a), 1, "one fleet decision");
    assert_eq!(fleet_alerts(&db, b), 0, "two hosts are not three");

    // The leader dies with `c` at two hosts of three; another takes over with the counters.
    let c = "198.51.100.9";
    publish(nats_port, &[("web01", 3, c), ("web02", 3, c)]);
    assert!(
        wait_until(WAIT, || total(&all, counted) == 7),
        "the leader did not count the batches"
    );
    let leader = cs.iter().position(Collector::leads).unwrap();
    drop(procs[leader].take()); // SIGKILL
    let others: Vec<&Collector> = (0..3).filter(|&i| i != leader).map(|i| &cs[i]).collect();
    assert!(
        wait_until(WAIT, || total(&others, "logward_collector_rules_leader")
            == 1),
        "no collector took the lead over:\n{}",
        cs.iter().map(Collector::log).collect::<String>()
    );
    publish(nats_port, &[("web03", 2, c), ("web03", 3, b)]);
    assert!(
        wait_until(WAIT, || fleet_alerts(&db, c) == 1
            && fleet_alerts(&db, b) == 1),
        "the counters did not survive the leader's death:\n{}",
        cs.iter().map(Collector::log).collect::<String>()
    );
    // Everything settled: every message stored once and counted once, nothing twice.
    assert!(
        wait_until(WAIT, || count(&db, "SELECT count(*) FROM fleet_events")
            == 9
            && others.iter().all(|o| o.metric(
                r#"logward_collector_rules_consumer_messages{state="ack_pending"}"#
            ) == 0
                && o.metric(
                    r#"logward_collector_rules_consumer_messages{state="pending"}"#
                ) == 0)),
        "the stream was not drained"
    );
    for ip in [a, b, c] {
        assert_eq!(fleet_alerts(&db, ip), 1, "{ip}: raised exactly once");
        assert_eq!(decisions(&db, ip), 1, "{ip}: one decision");
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM alerts WHERE host = 'fleet'"),
        3
    );
}
