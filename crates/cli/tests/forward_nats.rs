//! Agents and a collector through NATS JetStream (docs/SCALE.md), every part real on
//! 127.0.0.1: Debian's `nats-server -js` with its store in a temp dir, the collector binary
//! with `nats:`, `logward run` agents following files with `transport: nats`. Events are
//! stored exactly once through a NATS restart and a collector SIGKILL; hostile batches
//! published straight to the stream are refused and counted as on HTTP.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and nats-server
#![allow(clippy::unwrap_used)]

#[path = "support/nats.rs"]
mod nats;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use logward_core::wire;
use logward_test_support::postgres::TestDb;
use logward_test_support::{append, free_port, spawn, wait_until, Proc};
use nats::{nats_server, Agent, Collector, BIN, WAIT};

/// `n` distinct sshd failures of agent `a`, numbered from `from`.
fn failures(a: usize, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "Nov 23 10:{:02}:{:02} host{a} sshd[{}]: Failed password for root from 198.51.100.{} port {} ssh2\n",
                i / 60 % 60,
                i % 60,
                1000 + i,
                1 + i % 200,
                20000 + a * 1000 + i
            )
        })
        .collect()
}

#[test]
fn nats_agents_store_every_event_once_through_a_nats_restart_and_a_collector_kill() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let mut nats = Some(nats_server(d.path(), nats_port, &[]));
    let c = Collector::new(d.path(), nats_port, "");
    let mut collector = Some(c.start());
    let agents: Vec<Agent> = (0..2)
        .map(|i| Agent::new(d.path(), i, nats_port, &c))
        .collect();
    let _running: Vec<Proc> = agents.iter().map(Agent::start).collect();
    let mut written = 0;
    let mut write = |n: usize| {
        for (i, a) in agents.iter().enumerate() {
            append(&a.log, &failures(i, written, n));
        }
        written += n;
        written
    };
    let stored = |n: usize| {
        let ok = wait_until(WAIT, || c.count() == 2 * n as u64);
        assert!(
            ok,
            "{} stored, {} expected\n{}\n{}\ncollector:\n{}\nagent:\n{}",
            c.count(),
            2 * n,
            c.metrics(),
            agents
                .iter()
                .map(|a| {
                    a.metrics()
                        .lines()
                        .filter(|l| l.contains("forward") || l.contains("spool"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect::<Vec<_>>()
                .join("\n---\n"),
            c.log(),
            std::fs::read_to_string(&agents[0].err).unwrap_or_default()
        );
    };

    // Both agents' events through the stream.
    stored(write(40));

    // NATS goes away while the agents write: their spools hold the batches.
    drop(nats.take());
    let n = write(40);
    assert!(wait_until(WAIT, || agents.iter().all(|a| a.has_read(n))));
    nats = Some(nats_server(d.path(), nats_port, &[]));
    stored(n);

    // The collector is SIGKILLed mid-stream and started again.
    let n = write(300);
    assert!(
        wait_until(WAIT, || c.count() > 160),
        "nothing of the last batch stored"
    );
    drop(collector.take());
    assert!(wait_until(WAIT, || agents.iter().all(|a| a.has_read(n))));
    collector = Some(c.start());
    stored(n);

    // Every line once: the stored originals are exactly the lines written.
    let want: BTreeSet<String> = (0..2)
        .flat_map(|i| {
            failures(i, 0, n)
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let got = c.originals();
    assert_eq!(got.len(), want.len(), "stored twice");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    // Nothing pending, nothing left to redeliver: the count stays.
    assert!(wait_until(WAIT, || {
        c.metric("logward_collector_nats_consumer_messages{state=\"pending\"}") == 0
            && c.metric("logward_collector_nats_consumer_messages{state=\"ack_pending\"}") == 0
    }));
    assert_eq!(c.count(), 2 * n as u64);
    drop((collector, nats));
}

/// Two collectors share the stream on one PostgreSQL; one is SIGKILLed mid-stream.
#[test]
fn nats_two_collectors_on_postgres_share_the_stream_and_store_every_event_once_through_a_kill() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let store = format!("store: {{type: postgres, url: \"{}\"}}\n", db.url());
    let cs: Vec<Collector> = (0..2)
        .map(|i| Collector::new(&d.path().join(format!("c{i}")), nats_port, &store))
        .collect();
    let mut running: Vec<Option<Proc>> = cs.iter().map(|c| Some(c.start())).collect();
    // Enrolled through the first; the second reads the same agents from PostgreSQL.
    let agents: Vec<Agent> = (0..3)
        .map(|i| Agent::new(d.path(), i, nats_port, &cs[0]))
        .collect();
    let _agents: Vec<Proc> = agents.iter().map(Agent::start).collect();
    let count = || {
        db.sql("SELECT count(*) FROM fleet_events")
            .parse::<u64>()
            .unwrap_or(0)
    };
    let acked = |c: &Collector| c.metric("logward_collector_nats_messages_total{fate=\"acked\"}");
    let mut written = 0;
    let mut write = |n: usize| {
        for (i, a) in agents.iter().enumerate() {
            append(&a.log, &failures(i, written, n));
        }
        written += n;
        written
    };

    // Both collectors take messages off the one consumer.
    let n = write(400);
    assert!(
        wait_until(WAIT, || count() == 3 * n as u64),
        "{} stored of {}\n{}\n{}",
        count(),
        3 * n,
        cs[0].log(),
        cs[1].log()
    );
    assert!(
        acked(&cs[0]) > 0 && acked(&cs[1]) > 0,
        "one collector did all"
    );

    // One is SIGKILLed mid-stream (what it held goes to the other after ack_wait) and
    // started again.
    let n = write(600);
    assert!(wait_until(WAIT, || count() > 3 * 400 + 100));
    drop(running[0].take());
    assert!(wait_until(WAIT, || agents.iter().all(|a| a.has_read(n))));
    running[0] = Some(cs[0].start());
    assert!(
        wait_until(WAIT, || count() == 3 * n as u64),
        "{} stored of {}\n{}",
        count(),
        3 * n,
        cs[1].log()
    );
    // Every line exactly once.
    assert_eq!(
        db.sql("SELECT count(DISTINCT (json::json #>> '{event,original}')) FROM fleet_events"),
        (3 * n).to_string()
    );
    assert!(wait_until(WAIT, || cs.iter().all(|c| {
        c.metric("logward_collector_nats_consumer_messages{state=\"ack_pending\"}") == 0
    })));
    assert_eq!(
        count(),
        3 * n as u64,
        "nothing stored twice after the stream drained"
    );
    drop(running);
}

fn signed_headers(
    agent: &str,
    secret: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> async_nats::HeaderMap {
    let digest = wire::body_digest(body);
    let mut h = async_nats::HeaderMap::new();
    h.insert(wire::HEADER_AGENT, agent);
    h.insert(wire::HEADER_TIMESTAMP, ts.to_string().as_str());
    h.insert(wire::HEADER_NONCE, nonce);
    h.insert(wire::HEADER_CONTENT_SHA256, digest.as_str());
    h.insert(
        wire::HEADER_SIGNATURE,
        wire::sign_digest(secret.as_bytes(), "POST", "/v1/events", ts, nonce, &digest).as_str(),
    );
    h.insert("content-encoding", "gzip");
    h
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

/// `(agent id, secret)` of a fresh enrolment, as `logward enroll` gets them.
fn enrolled(c: &Collector, dir: &Path, name: &str) -> (String, String) {
    let state = dir.join(name);
    c.enroll(&state);
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("collector.json")).unwrap()).unwrap();
    (
        creds["agent_id"].as_str().unwrap().to_owned(),
        creds["secret"].as_str().unwrap().to_owned(),
    )
}

fn revoke(c: &Collector, agent: &str) {
    let o = Command::new(BIN)
        .args(["collector", "agents", "revoke", agent, "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A gzipped batch of one sshd failure, its `seq` 1.
fn one_event() -> Vec<u8> {
    let line = failures(0, 0, 1);
    let event = format!(
        "{{\"seq\":1,\"event\":{{\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{{\"original\":{}}}}}}}\n",
        serde_json::to_string(line.trim_end()).unwrap()
    );
    gzip(event.as_bytes())
}

/// Publishes each `(agent, headers, body)` to its agent's subject, confirmed by the server.
fn publish_all(nats_port: u16, batches: Vec<(String, async_nats::HeaderMap, Vec<u8>)>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        for (agent, h, body) in batches {
            js.publish_with_headers(format!("logward.events.{agent}"), h, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
}

/// With PostgreSQL the fleet rules leader checks every batch again, the pass's agents
/// looked up on its own store connection: a revoked agent's, an unknown agent's and a
/// forged batch are refused there too (under `nats-rules`), the good one counted.
#[test]
fn nats_the_rules_leader_refuses_a_revoked_an_unknown_and_a_forged_batch() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let store = format!("store: {{type: postgres, url: \"{}\"}}\n", db.url());
    let c = Collector::new(d.path(), nats_port, &store);
    let _collector = c.start();
    assert!(wait_until(WAIT, || c.leads()), "no leader:\n{}", c.log());
    let (a, secret) = enrolled(&c, d.path(), "a");
    let (revoked, revoked_secret) = enrolled(&c, d.path(), "r");
    revoke(&c, &revoked);
    let now = logward_core::clock::unix_now();
    let good = one_event();
    let nonce = |i: u32| format!("{:032x}", 0xdef0_0000u64 + u64::from(i));
    let ghost = "ghost-agent".to_owned();
    publish_all(
        nats_port,
        vec![
            (
                a.clone(),
                signed_headers(&a, &secret, now, &nonce(1), &good),
                good.clone(),
            ),
            (
                revoked.clone(),
                signed_headers(&revoked, &revoked_secret, now, &nonce(2), &good),
                good.clone(),
            ),
            (
                a.clone(),
                signed_headers(&a, "not the agent's secret at all", now, &nonce(3), &good),
                good.clone(),
            ),
            (
                ghost.clone(),
                signed_headers(&ghost, &secret, now, &nonce(4), &good),
                good.clone(),
            ),
        ],
    );
    let fate = |f: &str| {
        c.metric(&format!(
            "logward_collector_rules_messages_total{{fate=\"{f}\"}}"
        ))
    };
    assert!(
        wait_until(WAIT, || fate("counted") == 4),
        "{}\n{}",
        c.metrics(),
        c.log()
    );
    assert_eq!(fate("refused"), 3, "{}", c.metrics());
    assert_eq!(
        c.metric("logward_collector_requests_total{endpoint=\"nats-rules\",status=\"401\"}"),
        3
    );
    let reason = |r: &str| {
        c.metric(&format!(
            "logward_collector_auth_failures_total{{reason=\"{r}\"}}"
        ))
    };
    // Each refused by the ingest consumer and by the leader.
    assert_eq!(reason("revoked_agent"), 2, "{}", c.metrics());
    assert_eq!(reason("unknown_agent"), 2);
    assert_eq!(reason("bad_signature"), 2);
    let stored = db.sql("SELECT count(*) FROM fleet_events");
    assert_eq!(stored.trim(), "1", "the good batch stored once");
}

#[test]
fn nats_hostile_batches_are_refused_and_counted_as_on_http() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let c = Collector::new(
        d.path(),
        nats_port,
        "limits: {body_bytes: 65536, decompressed_bytes: 1048576}\n",
    );
    let _collector = c.start();
    let (a, secret) = enrolled(&c, d.path(), "a");
    let (b, _) = enrolled(&c, d.path(), "b");
    let (revoked, revoked_secret) = enrolled(&c, d.path(), "r");
    revoke(&c, &revoked);
    let now = logward_core::clock::unix_now();
    let good = one_event();
    let nonce = |i: u32| format!("{:032x}", 0xabc0_0000u64 + u64::from(i));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        let publish = |subject: String, h: async_nats::HeaderMap, body: Vec<u8>| {
            let js = js.clone();
            async move {
                js.publish_with_headers(subject, h, body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap()
            }
        };
        let subject = |agent: &str| format!("logward.events.{agent}");
        // The one good batch, published twice with its Nats-Msg-Id: the server drops the
        // second as a duplicate.
        let mut h = signed_headers(&a, &secret, now, &nonce(1), &good);
        h.insert("Nats-Msg-Id", format!("{a}:1-1").as_str());
        assert!(
            !publish(subject(&a), h.clone(), good.clone())
                .await
                .duplicate
        );
        assert!(publish(subject(&a), h, good.clone()).await.duplicate);
        // The same batch replayed without the id: a new message, the same nonce.
        let replay = signed_headers(&a, &secret, now, &nonce(1), &good);
        // Unsigned.
        let mut unsigned = async_nats::HeaderMap::new();
        unsigned.insert("content-encoding", "gzip");
        // Signed with another key.
        let forged = signed_headers(&a, "not the agent's secret at all", now, &nonce(2), &good);
        // A's own signature on B's subject: A speaking for B.
        let other = signed_headers(&a, &secret, now, &nonce(3), &good);
        // Signed long ago (stale against the server's time of storing it).
        let stale = signed_headers(&a, &secret, now - 3600, &nonce(4), &good);
        // A revoked agent's own, well signed.
        let gone = signed_headers(&revoked, &revoked_secret, now, &nonce(7), &good);
        // Over limits.body_bytes as sent, and a small body over decompressed_bytes.
        let big: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let oversized = signed_headers(&a, &secret, now, &nonce(5), &big);
        let bomb = gzip(&vec![b'\n'; 4 << 20]);
        let bombed = signed_headers(&a, &secret, now, &nonce(6), &bomb);
        // Wait for the good one to be stored before the replay, so the replay comes second.
        publish(subject(&a), replay.clone(), good.clone()).await;
        publish(subject(&a), unsigned, good.clone()).await;
        publish(subject(&a), forged, good.clone()).await;
        publish(subject(&b), other, good.clone()).await;
        publish(subject(&a), stale, good.clone()).await;
        publish(subject(&a), oversized, big).await;
        publish(subject(&a), bombed, bomb).await;
        publish(subject(&revoked), gone, good.clone()).await;
    });
    let settled = || {
        c.metric("logward_collector_nats_messages_total{fate=\"acked\"}")
            + c.metric("logward_collector_nats_messages_total{fate=\"terminated\"}")
    };
    assert!(
        wait_until(WAIT, || settled() == 9),
        "{}\n{}",
        c.metrics(),
        c.log()
    );
    let reason = |r: &str| {
        c.metric(&format!(
            "logward_collector_auth_failures_total{{reason=\"{r}\"}}"
        ))
    };
    assert_eq!(reason("missing_header"), 1);
    assert_eq!(reason("bad_signature"), 2, "forged, and A on B's subject");
    assert_eq!(reason("stale_timestamp"), 1);
    assert_eq!(reason("revoked_agent"), 1);
    let status = |s: u16| {
        c.metric(&format!(
            "logward_collector_requests_total{{endpoint=\"nats\",status=\"{s}\"}}"
        ))
    };
    assert_eq!(
        status(413),
        2,
        "over body_bytes, and over decompressed_bytes"
    );
    assert_eq!(status(401), 6, "{}", c.metrics());
    assert_eq!(
        c.metric("logward_collector_nats_messages_total{fate=\"terminated\"}"),
        8
    );
    // The replay, judged after the original (the stream's order), is a replayed nonce;
    // the one event is stored once.
    assert_eq!(reason("replayed_nonce"), 1, "{}", c.metrics());
    assert_eq!(c.count(), 1);
}

#[test]
fn nats_over_tls_with_a_password_and_a_wrong_password_keeps_the_spool() {
    use logward_test_support::pki::{Ca, Role};
    let d = tempfile::tempdir().unwrap();
    let pki = d.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let ca = Ca::new(&pki, "ca", "logward test CA");
    ca.leaf("nats", "127.0.0.1", "nats", Role::Server);
    let (cert, key) = (pki.join("nats.pem"), pki.join("nats.key"));
    let nats_port = free_port();
    let _nats = nats_server(
        d.path(),
        nats_port,
        &[
            "--tls",
            "--tlscert",
            cert.to_str().unwrap(),
            "--tlskey",
            key.to_str().unwrap(),
            "--user",
            "logward",
            "--pass",
            "nats test password",
        ],
    );
    let good = d.path().join("nats.pass");
    std::fs::write(&good, "nats test password\n").unwrap();
    let bad = d.path().join("wrong.pass");
    std::fs::write(&bad, "not the password\n").unwrap();
    let nats = |pass: &Path| {
        format!(
            "{{url: \"tls://127.0.0.1:{nats_port}\", user: logward, password_file: {}, ca: {}}}",
            pass.display(),
            pki.join("ca.pem").display()
        )
    };
    let c = Collector::with_nats(d.path(), &nats(&good), "");
    let _collector = c.start();
    let ok = Agent::with_nats(d.path(), 0, &nats(&good), &c);
    let refused = Agent::with_nats(d.path(), 1, &nats(&bad), &c);
    let _running = [ok.start(), refused.start()];
    append(&ok.log, &failures(0, 0, 10));
    append(&refused.log, &failures(1, 0, 10));
    assert!(
        wait_until(WAIT, || c.count() == 10),
        "{} stored\n{}",
        c.count(),
        std::fs::read_to_string(&ok.err).unwrap_or_default()
    );
    // The agent the server refuses keeps its events in the spool and retries.
    assert!(wait_until(WAIT, || refused.has_read(10)
        && refused.metric("logward_forward_send_errors_total") > 0));
    assert!(refused.metric("logward_forward_spool_items") >= 10);
    assert_eq!(refused.metric("logward_forward_sent_total"), 0);
    assert_eq!(c.count(), 10);
}

#[test]
fn nats_a_consumer_without_explicit_acks_is_refused_not_used() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    // Made by hand before any collector, acknowledging all earlier messages with each ack:
    // a dying collector's batches would be taken for stored.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use async_nats::jetstream::{consumer, stream};
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        js.create_stream(stream::Config {
            name: "LOGWARD_EVENTS".into(),
            subjects: vec!["logward.events.>".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .create_consumer(consumer::pull::Config {
            durable_name: Some("logward-collector".into()),
            ack_policy: consumer::AckPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    });
    let c = Collector::new(d.path(), nats_port, "");
    let _collector = spawn(
        BIN,
        &["collector", "--config", c.config.to_str().unwrap()],
        &d.path().join("collector.err"),
    );
    assert!(
        wait_until(WAIT, || c.log().contains("ack policy All")),
        "{}",
        c.log()
    );
    assert_eq!(c.metric("logward_collector_nats_up"), 0);
}
