//! Fleet decisions over NATS JetStream (docs/SCALE.md), every part real on 127.0.0.1:
//! `nats-server -js`, collector binaries with `nats:` (SQLite, or two on one PostgreSQL),
//! `logward run` agents with `transport: nats` whose HTTP link to the collector is out of
//! reach, so decisions can only come from the stream. Agents apply the decisions a
//! collector signed — made through the API, the CLI, on either collector — once each, also
//! across a restart, and refuse what any other NATS client publishes on the subject.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and nats-server
#![allow(clippy::unwrap_used)]

#[path = "support/nats.rs"]
mod nats;

use std::path::{Path, PathBuf};
use std::process::Command;

use logward_core::nats::{DecisionKey, DECISIONS_SUBJECT, HEADER_DECISION_SIGNATURE};
use logward_store::AgentStore as _;
use logward_test_support::postgres::TestDb;
use logward_test_support::{free_port, wait_until};
use nats::{nats_server, Agent, Collector, BIN, WAIT};

/// An agent that records its ban commands in `nft.txt`, whose `forward.collector` is a
/// port nobody listens on: no poll can reach the collector.
fn watching_agent(dir: &Path, i: usize, nats_port: u16, c: &Collector) -> (Agent, PathBuf) {
    let rec = dir.join(format!("nft{i}.txt"));
    let nats = format!("{{url: \"nats://127.0.0.1:{nats_port}\", stream: LOGWARD_EVENTS}}");
    let forward = format!(
        "  collector: \"http://127.0.0.1:{}\"\n  decisions: {{enabled: true, poll: 200ms}}\n",
        free_port()
    );
    let bans = format!(
        "bans:\n  enabled: true\n  nft: [sh, -c, 'cat >> {}']\n",
        rec.display()
    );
    (Agent::with(dir, i, &nats, &forward, &bans, c), rec)
}

/// Whether the agent's ban commands name `target`.
fn banned(rec: &Path, target: &str) -> bool {
    std::fs::read_to_string(rec).is_ok_and(|t| t.contains(target))
}

fn api_token(c: &Collector) -> String {
    let out = Command::new(BIN)
        .args(["collector", "api-token", "create", "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `POST /v1/bans` on `c`.
fn api_ban(c: &Collector, token: &str, target: &str) {
    let r = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/bans", c.port))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"target": target, "duration_secs": 3600, "reason": "test"})
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
}

/// `logward collector decisions add` on `c`'s store (another process than the collector).
fn cli_ban(c: &Collector, target: &str) {
    let out = Command::new(BIN)
        .args([
            "collector",
            "decisions",
            "add",
            "--ip",
            target,
            "--duration",
            "1h",
        ])
        .arg("--config")
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn logs(c: &Collector, a: &Agent) -> String {
    format!(
        "collector:\n{}\nagent:\n{}",
        c.log(),
        std::fs::read_to_string(&a.err).unwrap_or_default()
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn nats_agents_apply_signed_decisions_without_polling_once_across_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let c = Collector::new(&d.path().join("c"), nats_port, "");
    let _collector = c.start();
    let token = api_token(&c);
    let (a, rec) = watching_agent(d.path(), 0, nats_port, &c);
    let agent = a.start();

    // Through the API: from the stream, the HTTP link being out of reach.
    api_ban(&c, &token, "192.0.2.10");
    assert!(
        wait_until(WAIT, || banned(&rec, "192.0.2.10")),
        "{}",
        logs(&c, &a)
    );
    // Through the CLI, another process: the publisher finds it in the log.
    cli_ban(&c, "192.0.2.11");
    assert!(
        wait_until(WAIT, || banned(&rec, "192.0.2.11")),
        "{}",
        logs(&c, &a)
    );
    assert_eq!(a.metric("logward_forward_decisions_total"), 2);

    // Restarted while a decision is made: it comes from the stream after the restart, and
    // the two applied before do not come again.
    drop(agent);
    api_ban(&c, &token, "192.0.2.12");
    assert!(wait_until(WAIT, || {
        c.metric("logward_collector_nats_decisions_total{fate=\"published\"}") == 3
    }));
    let _agent = a.start();
    assert!(
        wait_until(WAIT, || banned(&rec, "192.0.2.12")),
        "{}",
        logs(&c, &a)
    );
    assert!(wait_until(WAIT, || a
        .metric("logward_forward_decisions_total")
        == 1));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        a.metric("logward_forward_decisions_total"),
        1,
        "applied once"
    );
    assert_eq!(a.metric("logward_forward_decisions_invalid_total"), 0);
}

#[test]
fn forged_decisions_published_by_any_nats_client_are_not_applied_and_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let c = Collector::new(&d.path().join("c"), nats_port, "");
    let _collector = c.start();
    let token = api_token(&c);
    let (a, rec) = watching_agent(d.path(), 0, nats_port, &c);
    let _agent = a.start();
    api_ban(&c, &token, "192.0.2.20");
    assert!(
        wait_until(WAIT, || banned(&rec, "192.0.2.20")),
        "{}",
        logs(&c, &a)
    );

    // A client with publish rights (the agents have them) publishes on the subject.
    runtime().block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        let real = js
            .get_stream("LOGWARD_DECISIONS")
            .await
            .unwrap()
            .get_last_raw_message_by_subject(DECISIONS_SUBJECT)
            .await
            .unwrap();
        let real_sig = real
            .headers
            .get(HEADER_DECISION_SIGNATURE)
            .unwrap()
            .as_str()
            .to_owned();
        let mut change: serde_json::Value = serde_json::from_slice(&real.payload).unwrap();
        let publish = |body: Vec<u8>, sig: Option<String>| {
            let js = js.clone();
            async move {
                let mut h = async_nats::HeaderMap::new();
                if let Some(s) = sig {
                    h.insert(HEADER_DECISION_SIGNATURE, s.as_str());
                }
                js.publish_with_headers(DECISIONS_SUBJECT, h, body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        };
        // Unsigned: a ban, and a lift of the real one.
        change["id"] = 1000.into();
        change["target"] = "192.0.2.66".into();
        publish(serde_json::to_vec(&change).unwrap(), None).await;
        let mut lift = change.clone();
        lift["id"] = 1001.into();
        lift["action"] = "delete".into();
        lift["target"] = "192.0.2.20".into();
        publish(serde_json::to_vec(&lift).unwrap(), None).await;
        // Signed, with another key.
        change["id"] = 1002.into();
        change["target"] = "192.0.2.67".into();
        let body = serde_json::to_vec(&change).unwrap();
        let other = DecisionKey::from_secret([9; 32]).sign(&body);
        publish(body, Some(other)).await;
        // The real message's signature over another target.
        let mut replay: serde_json::Value = serde_json::from_slice(&real.payload).unwrap();
        replay["target"] = "192.0.2.68".into();
        publish(serde_json::to_vec(&replay).unwrap(), Some(real_sig)).await;
    });

    // A real decision after them: once it is applied, the forgeries were judged.
    api_ban(&c, &token, "192.0.2.21");
    assert!(
        wait_until(WAIT, || banned(&rec, "192.0.2.21")),
        "{}",
        logs(&c, &a)
    );
    assert_eq!(a.metric("logward_forward_decisions_forged_total"), 4);
    assert_eq!(a.metric("logward_forward_decisions_invalid_total"), 4);
    assert_eq!(a.metric("logward_forward_decisions_total"), 2);
    let nft = std::fs::read_to_string(&rec).unwrap();
    for forged in ["192.0.2.66", "192.0.2.67", "192.0.2.68"] {
        assert!(!nft.contains(forged), "{forged} applied:\n{nft}");
    }
    // The real ban stands: the forged lift did not end it.
    let active: Vec<String> = logward_store::SqliteStore::open_dir(&a.state)
        .unwrap()
        .active_bans(logward_core::clock::unix_now())
        .unwrap()
        .into_iter()
        .map(|b| b.target.to_string())
        .collect();
    assert!(active.contains(&"192.0.2.20".to_owned()), "{active:?}");
}

#[test]
fn two_collectors_on_one_postgresql_each_decision_reaches_the_agent_once() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let store = format!("store: {{type: postgres, url: \"{}\"}}\n", db.url());
    let cs: Vec<Collector> = (0..2)
        .map(|i| Collector::new(&d.path().join(format!("c{i}")), nats_port, &store))
        .collect();
    let _running: Vec<_> = cs.iter().map(Collector::start).collect();
    let token = api_token(&cs[0]);
    // Enrolled through the first: it pins the key both collectors share.
    let (a, rec) = watching_agent(d.path(), 0, nats_port, &cs[0]);
    let _agent = a.start();
    api_ban(&cs[0], &token, "192.0.2.30");
    api_ban(&cs[1], &token, "192.0.2.31");
    cli_ban(&cs[1], "192.0.2.32");
    api_ban(&cs[1], &token, "192.0.2.33");
    for t in ["192.0.2.30", "192.0.2.31", "192.0.2.32", "192.0.2.33"] {
        assert!(
            wait_until(WAIT, || banned(&rec, t)),
            "{t}\n{}\n{}",
            cs[1].log(),
            logs(&cs[0], &a)
        );
    }
    let published = || {
        cs.iter()
            .map(|c| c.metric("logward_collector_nats_decisions_total{fate=\"published\"}"))
            .sum::<u64>()
    };
    assert_eq!(published(), 4, "each change stored once by the stream");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(a.metric("logward_forward_decisions_total"), 4, "each once");
    assert_eq!(a.metric("logward_forward_decisions_invalid_total"), 0);
    let stored = runtime().block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        let mut s = js.get_stream("LOGWARD_DECISIONS").await.unwrap();
        s.info().await.unwrap().state.messages
    });
    assert_eq!(stored, 4);
}

#[test]
fn nats_heartbeats_show_the_agent_with_its_spool_and_forged_ones_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let _nats = nats_server(d.path(), nats_port, &[]);
    let c = Collector::new(&d.path().join("c"), nats_port, "");
    let _collector = c.start();
    // Its HTTP link out of reach: heartbeats can only come over NATS.
    let (a, _) = watching_agent(d.path(), 0, nats_port, &c);
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.state.join("collector.json")).unwrap()).unwrap();
    let id = creds["agent_id"].as_str().unwrap().to_owned();
    let _agent = a.start();
    let seen = || {
        logward_store::SqliteStore::open_dir(&c.state)
            .ok()
            .and_then(|mut s| logward_store::CollectorStore::agent(&mut s, &id).ok())
            .flatten()
            .filter(|g| g.last_seen.is_some() && g.spool_items.is_some())
    };
    assert!(wait_until(WAIT, || seen().is_some()), "{}", logs(&c, &a));
    let g = seen().unwrap();
    assert_eq!(g.spool_items, Some(0));
    assert!(g.version.is_some());
    let ok = "logward_collector_requests_total{endpoint=\"nats_heartbeat\",status=\"200\"}";
    assert!(c.metric(ok) >= 1);

    // Any client may publish on the agent's subject: unsigned, or signed with another key.
    runtime().block_on(async {
        let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let subject = format!("logward.heartbeat.{id}");
        let body = br#"{"version":"forged","spool_items":999}"#.to_vec();
        client
            .publish(subject.clone(), body.clone().into())
            .await
            .unwrap();
        let ts = logward_core::clock::unix_now();
        let nonce = "0123456789abcdef0123456789abcdef";
        let digest = logward_core::wire::body_digest(&body);
        let sig = logward_core::wire::sign_digest(
            "00".repeat(32).as_bytes(),
            "POST",
            "/v1/heartbeat",
            ts,
            nonce,
            &digest,
        );
        let mut h = async_nats::HeaderMap::new();
        h.insert(logward_core::wire::HEADER_AGENT, id.as_str());
        h.insert(
            logward_core::wire::HEADER_TIMESTAMP,
            ts.to_string().as_str(),
        );
        h.insert(logward_core::wire::HEADER_NONCE, nonce);
        h.insert(logward_core::wire::HEADER_SIGNATURE, sig.as_str());
        h.insert(logward_core::wire::HEADER_CONTENT_SHA256, digest.as_str());
        client
            .publish_with_headers(subject, h, body.into())
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
    let refused = "logward_collector_requests_total{endpoint=\"nats_heartbeat\",status=\"401\"}";
    assert!(
        wait_until(WAIT, || c.metric(refused) == 2),
        "{}",
        c.metrics()
    );
    assert!(c.metric("logward_collector_auth_failures_total{reason=\"bad_signature\"}") >= 1);
    // Recorded heartbeats stay the agent's own.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let g = seen().unwrap();
    assert_ne!(g.version.as_deref(), Some("forged"));
    assert_ne!(g.spool_items, Some(999));
}
