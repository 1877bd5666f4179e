//! `logward collector status` from the real binary: on SQLite beside a running collector
//! (one live collector, agents, today's events; NATS configured but down: said so, exit 3);
//! on PostgreSQL with two collectors on a real nats-server (`-js`, its store in a temp dir):
//! both live, one rules leader, the stream and its consumers read from the server, and a
//! SIGKILLed collector shown gone once its last heartbeat is older than `--stale-after`.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and nats-server
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use logward_test_support::postgres::TestDb;
use logward_test_support::{free_port, spawn, wait_port, wait_until, Proc};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const WAIT: Duration = Duration::from_secs(60);
const KEY: &str = "collector-status-shared-key-0123456789";

/// `logward collector status --config CONFIG ARGS`: its exit code and standard output.
fn status(config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["collector", "status", "--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn status_json(config: &Path, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, text) = status(config, &a);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (code, v)
}

fn collector(dir: &Path, config: &Path, port: u16) -> Proc {
    let p = spawn(
        BIN,
        &["collector", "--config", config.to_str().unwrap()],
        &dir.join(format!("collector-{port}.err")),
    );
    assert!(wait_port(port, WAIT), "the collector did not listen");
    p
}

/// One signed batch of one event, as an agent with the shared key posts it.
fn post_event(port: u16, host: &str) {
    let body = format!(
        "{{\"seq\":1,\"event\":{{\"event\":{{\"dataset\":\"sshd\",\"action\":\"user-login\",\
         \"outcome\":\"failure\"}},\"source\":{{\"ip\":\"192.0.2.9\",\"port\":40000}},\
         \"user\":{{\"name\":\"root\"}},\"@timestamp\":\"{}\"}}}}\n",
        chrono_now()
    )
    .into_bytes();
    let ts = logward_core::clock::unix_now();
    let nonce = format!("{:032x}", u128::from(std::process::id()) << 64 | ts as u128);
    let digest = logward_core::wire::body_digest(&body);
    let sig =
        logward_core::wire::sign_digest(KEY.as_bytes(), "POST", "/v1/events", ts, &nonce, &digest);
    let r = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/events"))
        .header(logward_core::wire::HEADER_AGENT, host)
        .header(logward_core::wire::HEADER_TIMESTAMP, ts.to_string())
        .header(logward_core::wire::HEADER_NONCE, nonce)
        .header(logward_core::wire::HEADER_CONTENT_SHA256, digest)
        .header(logward_core::wire::HEADER_SIGNATURE, sig)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
}

/// Now, as the RFC 3339 UTC text events carry.
fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn status_on_sqlite_shows_the_collector_agents_and_today() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = d.path().join("c.yaml");
    let state = d.path().join("state");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nstate_dir: {}\nauth: {{mode: shared, key: {KEY}}}\n",
            state.display()
        ),
    )
    .unwrap();
    let mut c = collector(d.path(), &config, port);
    post_event(port, "web01");

    // The first heartbeat is written at start.
    let mut last = Value::Null;
    assert!(
        wait_until(WAIT, || {
            last = status_json(&config, &[]).1;
            last["collectors"].as_array().is_some_and(|c| c.len() == 1)
        }),
        "{last:#}"
    );
    let (code, v) = status_json(&config, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["store"]["backend"], "sqlite");
    assert!(v["store"]["schema_version"].as_u64().unwrap() >= 14);
    let me = &v["collectors"][0];
    assert_eq!(me["live"], true);
    assert_eq!(me["role"], "inline", "SQLite: the rules run in the ingest");
    assert_eq!(me["pid"], c.0.id());
    assert_eq!(me["listen"], format!("127.0.0.1:{port}"));
    assert_eq!(v["agents"]["total"], 1);
    assert_eq!(v["agents"]["recent"], 1);
    assert_eq!(v["today"]["events"], 1);
    assert!(v["nats"].is_null());

    let (code, text) = status(&config, &[]);
    assert_eq!(code, 0);
    assert!(text.contains("store       sqlite "), "{text}");
    assert!(text.contains("collectors  1 live, 0 gone"), "{text}");
    assert!(
        text.contains("agents      1 (1 seen in the last 5 min, 0 revoked)"),
        "{text}"
    );
    assert!(text.contains("today       1 events, 0 alerts"), "{text}");

    // NATS configured but nothing listening: said so, the store still shown, exit 3.
    let with_nats = d.path().join("nats.yaml");
    std::fs::write(
        &with_nats,
        format!(
            "listen: 127.0.0.1:{port}\nstate_dir: {}\nauth: {{mode: shared, key: {KEY}}}\n\
             nats: {{url: \"nats://127.0.0.1:{}\"}}\n",
            state.display(),
            free_port()
        ),
    )
    .unwrap();
    let (code, text) = status(&with_nats, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("UNREACHABLE"), "{text}");
    assert!(text.contains("collectors  1 live"), "{text}");

    // A clean stop (SIGTERM) deletes the row.
    let term = Command::new("kill")
        .args(["-TERM", &c.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let _ = c.0.wait();
    let (code, v) = status_json(&config, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["collectors"], serde_json::json!([]), "{v:#}");
}

#[test]
fn status_with_two_collectors_on_postgres_and_nats() {
    let Some(db) = TestDb::create() else { return };
    let found = Command::new("nats-server").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "nats-server is not installed: `apt-get install nats-server` (scripts/test.sh does)"
    );
    let d = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let store = d.path().join("nats-store");
    let np = nats_port.to_string();
    let _nats = spawn(
        "nats-server",
        &[
            "-js",
            "-sd",
            store.to_str().unwrap(),
            "-a",
            "127.0.0.1",
            "-p",
            &np,
        ],
        &d.path().join("nats.err"),
    );
    assert!(wait_port(nats_port, WAIT), "nats-server did not listen");

    let configs: Vec<(PathBuf, u16)> = (0..2)
        .map(|i| {
            let port = free_port();
            let dir = d.path().join(format!("c{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let config = dir.join("collector.yaml");
            std::fs::write(
                &config,
                format!(
                    "listen: 127.0.0.1:{port}\nstate_dir: {}\n\
                     store: {{type: postgres, url: \"{}\"}}\n\
                     auth: {{mode: shared, key: {KEY}}}\n\
                     nats: {{url: \"nats://127.0.0.1:{nats_port}\"}}\n",
                    dir.join("state").display(),
                    db.url()
                ),
            )
            .unwrap();
            (config, port)
        })
        .collect();
    let mut procs: Vec<Proc> = configs
        .iter()
        .map(|(config, port)| collector(config.parent().unwrap(), config, *port))
        .collect();
    let config = &configs[0].0;
    // Stored over HTTP: today's partitions made.
    post_event(configs[0].1, "web01");

    // Both live, one of them leading the fleet rules (the role is in the next heartbeat).
    let mut v = Value::Null;
    let roles = |v: &Value| -> Vec<String> {
        let mut r: Vec<String> = v["collectors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["live"] == true)
            .map(|c| c["role"].as_str().unwrap_or("").to_owned())
            .collect();
        r.sort();
        r
    };
    assert!(
        wait_until(WAIT, || {
            v = status_json(config, &[]).1;
            roles(&v) == ["leader", "standby"]
        }),
        "{v:#}"
    );
    let (code, v) = status_json(config, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["store"]["backend"], "postgres");
    assert!(!v["store"]["at"].as_str().unwrap().contains("***"));
    let n = &v["nats"];
    assert!(n["error"].is_null(), "{n:#}");
    assert_eq!(n["stream"], "LOGWARD_EVENTS");
    let consumers: Vec<&str> = n["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(consumers, ["logward-collector", "logward-rules"], "{n:#}");
    assert_eq!(v["today"]["events"], 1, "{v:#}");
    assert!(
        v["partitions"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("fleet_events_d"))),
        "{v:#}"
    );
    let (_, text) = status(config, &[]);
    assert!(text.contains("collectors  2 live, 0 gone"), "{text}");
    assert!(text.contains("  live  leader "), "{text}");
    assert!(text.contains("stream LOGWARD_EVENTS"), "{text}");
    assert!(text.contains("consumer logward-rules: pending"), "{text}");

    // The second collector SIGKILLed: its row stays, shown gone once older than the
    // threshold; the first keeps its heartbeat (every 5 s) and stays live.
    let killed = procs[1].0.id();
    procs[1].0.kill().unwrap();
    let _ = procs[1].0.wait();
    let stale = ["--stale-after", "9"];
    let mut v = Value::Null;
    assert!(
        wait_until(WAIT, || {
            v = status_json(config, &stale).1;
            v["collectors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["pid"] == killed && c["live"] == false)
        }),
        "{v:#}"
    );
    let rows = v["collectors"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v:#}");
    let alive = rows.iter().find(|c| c["pid"] != killed).unwrap();
    assert_eq!(alive["live"], true, "{v:#}");
    let (code, text) = status(config, &stale);
    assert_eq!(code, 0, "a gone collector is shown, not an error: {text}");
    assert!(text.contains("collectors  1 live, 1 gone"), "{text}");
    drop(procs);
}
