//! The forward sender on its own: a spool committed through the store, a [`Forwarder`] and
//! the collector stand-in of the CLI tests (crates/cli/tests/support/receiver.py, which checks
//! every signature with its own HMAC code). What the daemon adds around it is tested in
//! crates/cli/tests/forward_cli.rs.
#![allow(clippy::disallowed_methods)] // the test starts python3
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use logward_agent::config::Forward;
use logward_agent::forward::{Credentials, Forwarder};
use logward_store::{AgentStore as _, Batch, Checkpoint, SpoolItem, SpoolKind, SqliteStore};
use serde_json::Value;

const SECRET: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";

struct Receiver {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Receiver {
    fn start(dir: &Path) -> Receiver {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("agents.json"),
            serde_json::json!({ "a1": SECRET }).to_string(),
        )
        .unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/support/receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
        Receiver {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    fn posts(&self) -> Vec<Value> {
        self.lines("requests.ndjson")
            .into_iter()
            .filter(|q| q["path"] == "/v1/events")
            .collect()
    }

    fn lines(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spool(state: &Path, jsons: &[&str]) {
    let mut s = SqliteStore::open_dir(state).unwrap();
    let mut b = Batch::default();
    b.checkpoints.push(Checkpoint::new("test", 1));
    b.spool = jsons
        .iter()
        .map(|j| SpoolItem {
            kind: SpoolKind::Event,
            time: 1,
            json: (*j).to_owned(),
        })
        .collect();
    s.commit_batch(&b).unwrap();
}

fn settings() -> Forward {
    Forward {
        batch_age: Duration::from_millis(100),
        heartbeat: Duration::from_secs(3600),
        decisions: false,
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..Forward::default()
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn spool_items(state: &Path) -> u64 {
    SqliteStore::open_dir(state)
        .unwrap()
        .spool_stats()
        .unwrap()
        .items
}

fn start(state: &Path, r: &Receiver, s: &Forward) -> Forwarder {
    let creds = Credentials {
        collector: format!("http://127.0.0.1:{}", r.port),
        agent_id: "a1".into(),
        secret: SECRET.into(),
        ca: None,
        decisions_key: None,
    };
    Forwarder::start(state, s, creds, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_lines_are_counted_and_not_retried() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let r = Receiver::start(&d.path().join("r"));
    // The middle item is not an object: the collector rejects that line alone.
    spool(&state, &[r#"{"n":1}"#, "[1]", r#"{"n":3}"#]);
    let f = start(&state, &r, &settings());
    let st = f.stats();
    // The counters are bumped just after the spool rows go: wait for both.
    until("an empty spool and the counts", || {
        spool_items(&state) == 0
            && st.sent.load(Ordering::Relaxed) + st.rejected.load(Ordering::Relaxed) == 3
    })
    .await;
    assert_eq!(st.rejected.load(Ordering::Relaxed), 1);
    assert_eq!(st.sent.load(Ordering::Relaxed), 2);
    assert!(st.last_success.load(Ordering::Relaxed) > 0);
    let items = r.lines("items.ndjson");
    assert_eq!(
        items,
        [
            serde_json::json!({"seq": 1, "event": {"n": 1}}),
            serde_json::json!({"seq": 3, "event": {"n": 3}})
        ]
    );
    // Not sent again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.posts().len(), 1);
    assert!(r.lines("bad.ndjson").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_halves_the_batch_until_it_fits() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let r = Receiver::start(&d.path().join("r"));
    std::fs::write(r.dir.join("max_items"), "5").unwrap();
    let jsons: Vec<String> = (1..=20).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    spool(
        &state,
        &jsons.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let f = start(&state, &r, &settings());
    until("an empty spool", || spool_items(&state) == 0).await;
    let statuses: Vec<(u64, u64)> = r
        .posts()
        .iter()
        .map(|q| (q["status"].as_u64().unwrap(), q["items"].as_u64().unwrap()))
        .collect();
    // 20 → 413, 10 → 413, then batches of 5.
    assert_eq!(
        statuses,
        [(413, 20), (413, 10), (200, 5), (200, 5), (200, 5), (200, 5)]
    );
    let seqs: Vec<u64> = r
        .lines("items.ndjson")
        .iter()
        .map(|i| i["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert_eq!(f.stats().send_errors.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_by_the_receiver_and_nothing_is_deleted() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let r = Receiver::start(&d.path().join("r"));
    spool(&state, &[r#"{"n":1}"#]);
    let creds = Credentials {
        collector: format!("http://127.0.0.1:{}", r.port),
        agent_id: "a1".into(),
        secret: "not-the-secret".into(),
        ca: None,
        decisions_key: None,
    };
    let f = Forwarder::start(&state, &settings(), creds, None).unwrap();
    until("a refused request", || !r.lines("bad.ndjson").is_empty()).await;
    until("a counted error", || {
        f.stats().send_errors.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(r.lines("bad.ndjson")[0]["reason"], "bad signature");
    assert_eq!(spool_items(&state), 1);
    assert!(r.lines("items.ndjson").is_empty());
}
