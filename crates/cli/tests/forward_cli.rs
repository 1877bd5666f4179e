//! The `forward` sink and `logward enroll` end to end: the real binary against a collector
//! stand-in (tests/support/receiver.py) that implements docs/COLLECTOR.md on its own — it
//! checks every signature with Python's hmac, decompresses gzip, drops seqs it already stored
//! as the collector does, and records what it saw.
#![allow(clippy::disallowed_methods)] // tests spawn the binary, python3, openssl and `kill`
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use logward_store::{AgentStore as _, SqliteStore, Store};
use logward_test_support::daemon::{self, Daemon};
use logward_test_support::{free_port, wait_until};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const AGENT: &str = "agent-test";
const SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

fn receiver_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/receiver.py")
}

/// The collector stand-in, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Receiver {
    fn start(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> Receiver {
        std::fs::create_dir_all(dir).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(receiver_script())
            .arg("--dir")
            .arg(dir)
            .args(["--port", &port.to_string()]);
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("receiver did not start: {line:?}"))
            .parse()
            .unwrap();
        Receiver {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    fn lines(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn items(&self) -> Vec<Value> {
        self.lines("items.ndjson")
    }

    fn requests(&self, path: &str) -> Vec<Value> {
        self.lines("requests.ndjson")
            .into_iter()
            .filter(|r| r["path"] == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers the test agent's secret with the receiver and writes the agent's
/// collector.json, as `logward enroll` would.
fn enrolled(state: &Path, receiver_dir: &Path, port: u16) {
    std::fs::create_dir_all(receiver_dir).unwrap();
    std::fs::write(
        receiver_dir.join("agents.json"),
        serde_json::json!({ AGENT: SECRET }).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(
        state.join("collector.json"),
        serde_json::json!({
            "collector": format!("http://127.0.0.1:{port}"),
            "agent_id": AGENT,
            "secret": SECRET,
            "ca": null,
        })
        .to_string(),
    )
    .unwrap();
}

/// `logward run --format none`, which must come up.
fn start_agent(config: &Path, state: &Path, dir: &Path) -> Daemon {
    let a = Daemon::start_with(BIN, &["--format", "none"], config, state, dir);
    assert!(a.up(), "the agent did not start:\n{}", a.log());
    a
}

fn metric(state: &Path, name: &str) -> Option<u64> {
    let o = Command::new(BIN)
        .args(["metrics", "--state-dir"])
        .arg(state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.parse().ok())
}

fn wait_for(what: &str, within: Duration, f: impl FnMut() -> bool) {
    assert!(wait_until(within, f), "timed out waiting for {what}");
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// `n` sshd failures from `ip` (5 of them make an `ssh-bruteforce` alert), numbered from
/// `from` so every line is distinct.
fn failures(ip: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            format!(
                "Jan 10 10:{:02}:{:02} web sshd[{}]: Failed password for root from {ip} port {} ssh2",
                (i / 60) % 60,
                i % 60,
                1000 + i,
                10000 + i
            )
        })
        .collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    log: PathBuf,
    config: PathBuf,
    state: PathBuf,
    rdir: PathBuf,
}

fn setup(forward: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let log = root.join("auth.log");
    std::fs::write(&log, "").unwrap();
    let config = root.join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n{extra}forward:\n{forward}",
            log.display()
        ),
    )
    .unwrap();
    Setup {
        state: root.join("state"),
        rdir: root.join("receiver"),
        _dir: dir,
        root,
        log,
        config,
    }
}

const FAST: &str = "  batch: {age: 200ms}\n  heartbeat: 1s\n  decisions: {enabled: false}\n  \
                    backoff: {min: 100ms, max: 500ms}\n";

/// The line (1-based) an event came from: `failures` gives line n the port 10000 + n - 1.
fn line_of(item: &Value) -> Option<u64> {
    Some(item["event"]["source"]["port"].as_u64()? - 9999)
}

/// Every seq from 1 to the highest, once; and the events' line numbers.
fn check_complete(items: &[Value]) -> Vec<u64> {
    let seqs: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs with a gap, a repeat or out of order");
    items.iter().filter_map(line_of).collect()
}

fn alerts_in(items: &[Value]) -> usize {
    items.iter().filter(|i| i.get("alert").is_some()).count()
}

fn stored_alerts(state: &Path) -> usize {
    SqliteStore::open_dir(state)
        .unwrap()
        .alerts_between(0, i64::MAX, 100_000)
        .unwrap()
        .len()
}

#[test]
fn events_and_alerts_arrive_in_order_signed_and_gzipped() {
    let s = setup(FAST, "");
    let r = Receiver::start(&s.rdir, 0, None);
    enrolled(&s.state, &s.rdir, r.port);
    let agent = start_agent(&s.config, &s.state, &s.root);
    append(&s.log, &failures("203.0.113.9", 0, 5));
    append(&s.log, &failures("198.51.100.7", 5, 5));
    wait_for("10 events and 2 alerts", Duration::from_secs(15), || {
        r.items().len() >= 12
    });
    wait_for("a heartbeat", Duration::from_secs(5), || {
        !r.lines("heartbeats.ndjson").is_empty()
    });
    agent.stop();
    let items = r.items();
    assert_eq!(items.len(), 12);
    assert_eq!(check_complete(&items), (1..=10).collect::<Vec<_>>());
    assert_eq!(alerts_in(&items), 2);
    // Each alert follows the event that raised it.
    assert!(
        items[5]["alert"]["rule"]["id"] == "ssh-bruteforce",
        "{:?}",
        items[5]
    );
    assert_eq!(items[5]["alert"]["source"]["ip"], "203.0.113.9");
    assert!(
        r.lines("bad.ndjson").is_empty(),
        "{:?}",
        r.lines("bad.ndjson")
    );
    let posts = r.requests("/v1/events");
    assert!(!posts.is_empty());
    assert!(posts.iter().all(|p| p["gzip"] == true), "{posts:?}");
    let hb = &r.lines("heartbeats.ndjson")[0];
    assert!(hb["spool_items"].is_u64() && hb["host"].is_string(), "{hb}");
}

/// One Zeek JSON dns.log record, `secs` after a fixed start.
fn zeek(secs: u64, client: &str, query: &str) -> String {
    serde_json::json!({
        "ts": 1_767_225_600 + secs, "uid": "Cfwd", "id.orig_h": client, "id.orig_p": 40000,
        "id.resp_h": "10.0.0.53", "id.resp_p": 53, "proto": "udp", "trans_id": 7,
        "query": query, "qclass": 1, "qclass_name": "C_INTERNET", "qtype_name": "A",
        "rcode": 0, "rcode_name": "NOERROR", "answers": ["192.0.2.80"], "rejected": false
    })
    .to_string()
}

/// DNS queries the DNS check trusted (a trusted client, a trusted domain) or saw again within
/// its dedup window were forwarded with `forward.events: all` like any event: the collector
/// stored the operator's declared noise and every repeat. Only the checked queries go now,
/// with their alerts.
#[test]
fn trusted_and_repeated_dns_queries_are_not_forwarded() {
    let s = setup(
        FAST,
        "dns:\n  trusted: {clients: [10.9.9.9], domains: [corp.example]}\n  \
         lists: [{name: badd-boyz, path: hosts.txt, severity: high}]\n",
    );
    std::fs::write(s.root.join("hosts.txt"), "0.0.0.0 evil.test\n").unwrap();
    let r = Receiver::start(&s.rdir, 0, None);
    enrolled(&s.state, &s.rdir, r.port);
    let agent = start_agent(&s.config, &s.state, &s.root);
    append(
        &s.log,
        &[
            zeek(0, "10.1.2.3", "a.evil.test"),
            zeek(1, "10.1.2.3", "a.evil.test"),
            zeek(2, "10.1.2.3", "a.evil.test"),
            zeek(3, "10.9.9.9", "www.example.org"),
            zeek(4, "10.1.2.3", "intranet.corp.example"),
            zeek(5, "10.2.0.7", "www.good.test"),
        ],
    );
    // Items arrive in the order they were made: once the last query is in, so is the rest.
    let last = |items: &[Value]| {
        items
            .iter()
            .any(|i| i["event"]["dns"]["question"]["name"] == "www.good.test")
    };
    wait_for("the last query", Duration::from_secs(15), || {
        last(&r.items())
    });
    assert_eq!(metric(&s.state, "logward_dns_queries_total"), Some(6));
    assert_eq!(metric(&s.state, "logward_dns_deduped_total"), Some(2));
    agent.stop();
    let items = r.items();
    let shown: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            let (kind, v) = match i.get("alert") {
                Some(a) => ("alert", a),
                None => ("event", &i["event"]),
            };
            (
                format!("{kind} {}", v["client"]["ip"].as_str().unwrap_or("-")),
                v["dns"]["question"]["name"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned(),
            )
        })
        .collect();
    let want = |k: &str, n: &str| (k.to_owned(), n.to_owned());
    assert_eq!(
        shown,
        [
            want("event 10.1.2.3", "a.evil.test"),
            want("alert 10.1.2.3", "a.evil.test"),
            want("event 10.2.0.7", "www.good.test"),
        ],
        "{items:#?}"
    );
}

/// Events plus alerts the agent produced so far (each is one spool item).
fn produced(state: &Path) -> Option<u64> {
    Some(metric(state, "logward_events_total")? + metric(state, "logward_alerts_total")?)
}

#[test]
fn a_spool_filled_during_an_outage_and_a_kill_9_arrives_exactly_once() {
    let s = setup(FAST, "");
    let port = free_port();
    enrolled(&s.state, &s.rdir, port);
    // The collector is down: the spool grows.
    let agent = start_agent(&s.config, &s.state, &s.root);
    append(&s.log, &failures("203.0.113.9", 0, 200));
    wait_for("200 events spooled", Duration::from_secs(15), || {
        metric(&s.state, "logward_events_total") == Some(200)
            && metric(&s.state, "logward_forward_spool_items") == produced(&s.state)
    });
    wait_for("a failed send", Duration::from_secs(10), || {
        metric(&s.state, "logward_forward_send_errors_total").is_some_and(|n| n > 0)
    });
    drop(agent); // SIGKILL
    append(&s.log, &failures("198.51.100.7", 200, 100));
    let agent = start_agent(&s.config, &s.state, &s.root);
    wait_for("100 more events spooled", Duration::from_secs(15), || {
        metric(&s.state, "logward_events_total") == Some(100)
    });
    let spooled = metric(&s.state, "logward_forward_spool_items").unwrap();
    assert_eq!(spooled, 300 + stored_alerts(&s.state) as u64);
    // The collector comes back: everything arrives, in order, once.
    let r = Receiver::start(&s.rdir, port, None);
    wait_for("the spool sent", Duration::from_secs(20), || {
        r.items().len() as u64 >= spooled
    });
    // Killed while sending: what follows still arrives exactly once.
    append(&s.log, &failures("192.0.2.44", 300, 2000));
    wait_for("the first new items", Duration::from_secs(10), || {
        r.items().len() as u64 > spooled
    });
    drop(agent); // SIGKILL
    let agent = start_agent(&s.config, &s.state, &s.root);
    wait_for("every event read", Duration::from_secs(30), || {
        SqliteStore::open_dir(&s.state)
            .unwrap()
            .checkpoints()
            .unwrap()
            .iter()
            .any(|c| c.line == 2300)
    });
    wait_for("an empty spool", Duration::from_secs(30), || {
        metric(&s.state, "logward_forward_spool_items") == Some(0)
    });
    agent.stop();
    let items = r.items();
    let alerts = stored_alerts(&s.state);
    assert!(alerts >= 3, "{alerts}");
    assert_eq!(check_complete(&items), (1..=2300).collect::<Vec<_>>());
    assert_eq!(alerts_in(&items), alerts);
    assert_eq!(items.len(), 2300 + alerts);
    assert!(r.lines("bad.ndjson").is_empty());
}

#[test]
fn a_full_spool_drops_the_oldest_events_and_keeps_every_alert() {
    let s = setup(&format!("{FAST}  spool_max: 16KiB\n"), "");
    let port = free_port();
    enrolled(&s.state, &s.rdir, port);
    let agent = start_agent(&s.config, &s.state, &s.root);
    append(&s.log, &failures("203.0.113.9", 0, 300));
    wait_for("events dropped", Duration::from_secs(15), || {
        metric(&s.state, "logward_forward_dropped_total").is_some_and(|n| n > 0)
            && metric(&s.state, "logward_events_total") == Some(300)
    });
    let dropped = metric(&s.state, "logward_forward_dropped_total").unwrap();
    let bytes = metric(&s.state, "logward_forward_spool_bytes").unwrap();
    assert!(bytes <= 16 * 1024, "{bytes}");
    let r = Receiver::start(&s.rdir, port, None);
    wait_for("an empty spool", Duration::from_secs(20), || {
        metric(&s.state, "logward_forward_spool_items") == Some(0)
    });
    agent.stop();
    let items = r.items();
    let alerts = stored_alerts(&s.state);
    assert!(alerts >= 1);
    assert_eq!(
        alerts_in(&items),
        alerts,
        "every alert kept: {:?}",
        items
            .iter()
            .map(|i| i.to_string())
            .take(3)
            .collect::<Vec<_>>()
    );
    let lines: Vec<u64> = items.iter().filter_map(line_of).collect();
    assert_eq!(lines.len() as u64, 300 - dropped);
    // The oldest went: what is left is the newest, in order.
    let first = 300 - lines.len() as u64 + 1;
    assert_eq!(lines, (first..=300).collect::<Vec<_>>());
    let log = std::fs::read_to_string(s.root.join(daemon::STDERR)).unwrap();
    assert_eq!(log.matches("forward spool full").count(), 1, "{log}");
}

#[test]
fn a_429_retry_after_is_honoured() {
    let s = setup(FAST, "");
    let r = Receiver::start(&s.rdir, 0, None);
    enrolled(&s.state, &s.rdir, r.port);
    std::fs::write(s.rdir.join("throttle"), "1 3").unwrap();
    let agent = start_agent(&s.config, &s.state, &s.root);
    append(&s.log, &failures("203.0.113.9", 0, 3));
    wait_for("3 events", Duration::from_secs(15), || r.items().len() >= 3);
    let m = metric(&s.state, "logward_forward_throttled_total");
    agent.stop();
    let posts = r.requests("/v1/events");
    assert_eq!(posts[0]["status"], 429);
    assert_eq!(posts[1]["status"], 200);
    let waited = posts[1]["time"].as_f64().unwrap() - posts[0]["time"].as_f64().unwrap();
    assert!(waited >= 2.9, "retried after {waited} s, Retry-After was 3");
    assert_eq!(m, Some(1));
    check_complete(&r.items());
}

#[test]
fn fleet_decisions_are_validated_applied_with_the_ban_action_and_not_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("nft.txt");
    let bans = format!(
        "bans:\n  enabled: true\n  nft: [sh, -c, 'cat >> {}']\n",
        rec.display()
    );
    let s = setup(
        "  heartbeat: 1s\n  decisions: {poll: 200ms}\n  backoff: {min: 100ms, max: 500ms}\n",
        &bans,
    );
    std::fs::create_dir_all(&s.rdir).unwrap();
    std::fs::write(
        s.rdir.join("decisions.json"),
        r#"[{"id": 1, "target": "192.0.2.7", "duration_secs": 600, "reason": "fleet: ssh-bruteforce", "rule_id": "ssh-bruteforce", "created_at": 1, "expires_at": null},
            {"id": 2, "target": "evil; flush ruleset", "duration_secs": 600, "reason": "x", "rule_id": null, "created_at": 1, "expires_at": null},
            {"id": 3, "target": "2001:db8::/48", "duration_secs": null, "reason": "fleet", "rule_id": null, "created_at": 1, "expires_at": null}]"#,
    )
    .unwrap();
    let r = Receiver::start(&s.rdir, 0, None);
    enrolled(&s.state, &s.rdir, r.port);
    let agent = start_agent(&s.config, &s.state, &s.root);
    wait_for("the ban applied", Duration::from_secs(15), || {
        std::fs::read_to_string(&rec)
            .is_ok_and(|t| t.contains("192.0.2.7") && t.contains("2001:db8::/48"))
    });
    wait_for("the cursor stored", Duration::from_secs(5), || {
        r.requests("/v1/decisions")
            .iter()
            .any(|q| q["query"] == "since=3")
    });
    agent.stop();
    let nft = std::fs::read_to_string(&rec).unwrap();
    assert!(!nft.contains("evil"), "{nft}");
    let mut store = SqliteStore::open_dir(&s.state).unwrap();
    let now = logward_core::clock::unix_now();
    let active: BTreeSet<String> = store
        .active_bans(now)
        .unwrap()
        .iter()
        .map(|b| format!("{} {}", b.target, b.reason))
        .collect();
    assert!(
        active.contains("192.0.2.7 fleet: ssh-bruteforce"),
        "{active:?}"
    );
    assert!(active.contains("2001:db8::/48 fleet"), "{active:?}");
    assert_eq!(active.len(), 2, "{active:?}");
    assert_eq!(
        store.forward_state("decisions_since").unwrap().as_deref(),
        Some("3")
    );
    drop(store);
    // A restart asks only for what came after.
    let before = r.requests("/v1/decisions").len();
    let agent = start_agent(&s.config, &s.state, &s.root);
    wait_for("a poll after the restart", Duration::from_secs(10), || {
        r.requests("/v1/decisions").len() > before
    });
    agent.stop();
    let after = &r.requests("/v1/decisions")[before..];
    assert!(after.iter().all(|q| q["query"] == "since=3"), "{after:?}");
    assert!(r.lines("bad.ndjson").is_empty());
}

fn enroll(args: &[&str], state: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("enroll")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn enroll_writes_owner_only_credentials_and_refuses_a_bad_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let rdir = dir.path().join("receiver");
    std::fs::create_dir_all(&rdir).unwrap();
    std::fs::write(rdir.join("tokens"), "t0ken-one\n").unwrap();
    let r = Receiver::start(&rdir, 0, None);
    let url = format!("http://127.0.0.1:{}", r.port);
    let state = dir.path().join("state");

    let o = enroll(&["--collector", &url, "--token", "nope"], &state);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("token unknown, used or expired"), "{err}");
    assert!(!state.join("collector.json").exists());

    let o = enroll(&["--collector", &url, "--token", "t0ken-one"], &state);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = state.join("collector.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let agents: Value =
        serde_json::from_str(&std::fs::read_to_string(rdir.join("agents.json")).unwrap()).unwrap();
    assert_eq!(c["agent_id"], "agent-1");
    assert_eq!(c["secret"], agents["agent-1"]);
    assert_eq!(c["collector"], url);
    assert!(c["ca"].is_null());

    // Used once: refused the second time.
    let o = enroll(&["--collector", &url, "--token", "t0ken-one"], &state);
    assert!(String::from_utf8_lossy(&o.stderr).contains("token unknown, used or expired"));
}

/// A CA, and (for `server`) a certificate for 127.0.0.1 it signs; with openssl.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    let ec = "ec_paramgen_curve:prime256v1";
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            ec,
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

#[test]
fn a_pinned_ca_is_the_only_one_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d, "ca1");
    make_ca(d, "ca2");
    let ec = "ec_paramgen_curve:prime256v1";
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            ec,
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca1.pem",
            "-CAkey",
            "ca1.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "srv.pem",
            "-extfile",
            "ext.cnf",
        ],
    );
    let rdir = d.join("receiver");
    std::fs::create_dir_all(&rdir).unwrap();
    std::fs::write(rdir.join("tokens"), "tok\n").unwrap();
    let r = Receiver::start(&rdir, 0, Some((&d.join("srv.pem"), &d.join("srv.key"))));
    let url = format!("https://127.0.0.1:{}", r.port);
    let state = d.join("state");
    let ca2 = d.join("ca2.pem");
    let ca1 = d.join("ca1.pem");

    // Another CA: refused before any token is sent.
    let o = enroll(
        &[
            "--collector",
            &url,
            "--token",
            "tok",
            "--ca",
            ca2.to_str().unwrap(),
        ],
        &state,
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(!state.join("collector.json").exists());
    // The web roots do not know this CA either.
    let o = enroll(&["--collector", &url, "--token", "tok"], &state);
    assert!(!o.status.success());

    let o = enroll(
        &[
            "--collector",
            &url,
            "--token",
            "tok",
            "--ca",
            ca1.to_str().unwrap(),
        ],
        &state,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("collector.json")).unwrap())
            .unwrap();
    assert_eq!(c["ca"], ca1.to_str().unwrap());
}

#[test]
fn the_forward_example_checks_and_an_unenrolled_agent_says_what_to_do() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/forward.yaml");
    let o = Command::new(BIN)
        .args(["check", "--config", example])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // `forward:` without collector.json: refused at start, with the command to run.
    let s = setup("  heartbeat: 1s\n", "");
    let o = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&s.config)
        .arg("--state-dir")
        .arg(&s.state)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("logward enroll"), "{err}");
}
