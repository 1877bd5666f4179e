//! The Beats input end to end: pylogbeat (PyPI, an independent client implementation)
//! ships Winlogbeat-shaped documents through TLS with a client certificate to (a) a real
//! `logward run` with a `type: beats` source → the brute force alert, the sender named by its
//! certificate; (b) a real `logward collector` with `beats:` → events stored and visible in
//! the API; the collector SIGKILLed mid-stream and restarted → the client resends its
//! unacknowledged window and every event is stored exactly once.
#![allow(clippy::disallowed_methods)] // the tests start python3 and the collector
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use logward_core::{Clock, SystemClock, Timestamp};
use logward_store::{CollectorStore as _, SqliteStore};
use logward_test_support::daemon::Daemon;
use logward_test_support::{free_port, skip, spawn, wait_for, wait_port, wait_until, Proc};
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(60);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logward")
}

/// Whether python3 can import pylogbeat (scripts/test.sh installs it).
fn have_pylogbeat() -> bool {
    Command::new("python3")
        .args(["-c", "import pylogbeat"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A CA, the listener's certificate for 127.0.0.1 and client certificates (CN `dc01`,
/// `dc02`, `dc03`) it signed, as PEM files in `dir`.
fn pki(dir: &Path) {
    use logward_test_support::pki::{Ca, Role};
    let ca = Ca::new(dir, "ca", "logward test CA");
    ca.leaf("server", "127.0.0.1", "server", Role::Server);
    for c in ["dc01", "dc02", "dc03"] {
        ca.leaf(c, &format!("{c}.test"), c, Role::Client);
    }
}

/// The `tls:` of a listener on `dir`'s PKI requiring client certificates.
fn tls_yaml(dir: &Path) -> String {
    let p = |n: &str| dir.join(n).display().to_string();
    format!(
        "{{cert: {}, key: {}, client_ca: {}}}",
        p("server.pem"),
        p("server.key"),
        p("ca.pem")
    )
}

/// A Windows 4625 (failed network logon) as Winlogbeat 8 ships it.
fn failed_logon(t: Timestamp, record: u64, ip: &str, user: &str) -> String {
    let mut at = String::new();
    t.write_rfc3339(&mut at).unwrap();
    json!({
        "@timestamp": at,
        "agent": {"type": "winlogbeat", "version": "8.15.0"},
        "ecs": {"version": "8.0.0"},
        "event": {"code": "4625", "kind": "event", "outcome": "failure",
                  "provider": "Microsoft-Windows-Security-Auditing", "action": "logon-failed"},
        "host": {"name": "dc01.corp.example"},
        "log": {"level": "information"},
        "message": "An account failed to log on.",
        "winlog": {
            "api": "wineventlog", "channel": "Security", "event_id": "4625",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "computer_name": "DC01.corp.example", "record_id": record.to_string(),
            "process": {"pid": 612, "thread": {"id": 3184}}, "keywords": ["Audit Failure"],
            "opcode": "Info", "task": "Logon",
            "event_data": {
                "SubjectUserSid": "S-1-0-0", "TargetUserName": user, "TargetDomainName": "CORP",
                "Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc000006a",
                "LogonType": "3", "LogonProcessName": "NtLmSsp ",
                "AuthenticationPackageName": "NTLM", "WorkstationName": "KALI",
                "IpAddress": ip, "IpPort": "0"
            }
        }
    })
    .to_string()
}

fn ago(secs: i64) -> Timestamp {
    Timestamp {
        unix: SystemClock.now().unix - secs,
        nanos: 0,
        offset: 0,
    }
}

/// pylogbeat shipping `docs` as `client` to `port`; its output lines arrive on the channel.
struct Shipper {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Shipper {
    fn start(dir: &Path, port: u16, client: &str, docs: &[String], extra: &[&str]) -> Shipper {
        let file = dir.join(format!("{client}-{}.ndjson", docs.len()));
        std::fs::write(&file, docs.join("\n")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/beats_ship.py");
        let p = |n: &str| dir.join(n).display().to_string();
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--file"])
            .arg(&file)
            .args(["--ca", &p("ca.pem")])
            .args(["--cert", &p(&format!("{client}.pem"))])
            .args(["--key", &p(&format!("{client}.key"))])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Shipper {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    fn acked(&mut self) -> usize {
        self.drain();
        self.seen.iter().filter(|l| l.starts_with("ACKED")).count()
    }

    /// Waits for the client to end; its lines and whether it succeeded.
    fn finish(mut self) -> (Vec<String>, bool) {
        let mut ok = None;
        wait_until(WITHIN, || {
            ok = self.child.try_wait().unwrap().map(|s| s.success());
            ok.is_some()
        });
        let Some(ok) = ok else {
            let _ = self.child.kill();
            panic!("the client hangs; it printed {:?}", self.seen);
        };
        // The reader thread ends with the pipe.
        for l in self.lines.iter() {
            self.seen.push(l);
        }
        (self.seen, ok)
    }
}

#[test]
fn winlogbeat_through_tls_to_logward_run_raises_the_brute_force_alert() {
    if !have_pylogbeat() {
        skip!("python3 with pylogbeat (scripts/test.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    let port = free_port();
    let cfg = d.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - type: beats\n    listen: 127.0.0.1:{port}\n    tls: {}\noutput: {{format: ndjson}}\n",
            tls_yaml(d)
        ),
    )
    .unwrap();
    let state = d.join("state");
    let daemon = Daemon::start(bin(), &cfg, &state, d);
    assert!(daemon.up(), "{}", daemon.log());
    assert!(wait_port(port, WITHIN));

    let docs: Vec<String> = (0..6)
        .map(|i| failed_logon(ago(30 - i), 1000 + i as u64, "203.0.113.7", "administrator"))
        .collect();
    let (lines, ok) = Shipper::start(d, port, "dc01", &docs, &["--window", "3"]).finish();
    assert!(ok, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("ACKED 3")).count(),
        2,
        "{lines:?}"
    );
    let alert = daemon.alert(WITHIN).expect("an alert");
    let a: Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(a["rule"]["id"], "windows-bruteforce", "{alert}");
    let e = &a;
    assert_eq!(e["source"]["ip"], "203.0.113.7", "{alert}");
    assert_eq!(e["event"]["dataset"], "windows.security", "{alert}");
    assert_eq!(e["winlog"]["event_id"], "4625", "{alert}");
    // Who sent it is the certificate's CN; the document's computer is only a claim.
    assert_eq!(e["host"]["name"], "dc01", "{alert}");
    assert_eq!(e["logward"]["claimed_host"], "DC01.corp.example", "{alert}");

    // A client without a certificate gets no further than the handshake.
    let file = d.join("anon.ndjson");
    std::fs::write(&file, &docs[0]).unwrap();
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/beats_ship.py"))
        .args(["--port", &port.to_string(), "--file"])
        .arg(&file)
        .args(["--ca", &d.join("ca.pem").display().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ERROR"));
    daemon.stop();
}

/// `logward collector --config` in `dir`, its log appended to `dir/collector.log`.
fn collector(dir: &Path) -> Proc {
    let cfg = dir.join("collector.yaml").display().to_string();
    spawn(
        bin(),
        &["collector", "--config", &cfg],
        &dir.join("collector.log"),
    )
}

fn get(url: &str, token: &str) -> Value {
    let r = reqwest::blocking::Client::new()
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap();
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

#[test]
fn winlogbeat_to_the_collector_stored_once_across_a_sigkill_and_seen_in_the_api() {
    if !have_pylogbeat() {
        skip!("python3 with pylogbeat (scripts/test.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    let (http, port) = (free_port(), free_port());
    let state = d.join("state");
    std::fs::write(
        d.join("collector.yaml"),
        format!(
            "listen: 127.0.0.1:{http}\nstate_dir: {}\nbeats:\n  listen: 127.0.0.1:{port}\n  tls: {}\n",
            state.display(),
            tls_yaml(d)
        ),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["collector", "--state-dir"])
        .arg(&state)
        .args(["api-token", "create", "--name", "test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let mut c = collector(d);
    assert!(wait_port(port, WITHIN), "the Beats input listens");
    // 80 failed logons, 10 a window, paced so that the collector dies mid-stream.
    let docs: Vec<String> = (0..80)
        .map(|i| failed_logon(ago(120 - i), 5000 + i as u64, "203.0.113.50", "svc-backup"))
        .collect();
    let mut ship = Shipper::start(
        d,
        port,
        "dc01",
        &docs,
        &["--window", "10", "--pause", "0.2", "--retry-for", "60"],
    );
    wait_until(WITHIN, || ship.acked() >= 2);
    c.0.kill().unwrap(); // SIGKILL
    c.0.wait().unwrap();
    let acked_before = ship.acked();
    assert!(
        acked_before < 8,
        "killed mid-stream ({acked_before} windows acked)"
    );
    let mut c = collector(d);
    let (lines, ok) = ship.finish();
    assert!(ok, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("RESEND")),
        "the window in flight was resent: {lines:?}"
    );
    // Two more Beats from the same address: a fleet brute force over three senders.
    for (client, record) in [("dc02", 1u64), ("dc03", 2)] {
        let doc = [failed_logon(ago(5), record, "203.0.113.50", "svc-backup")];
        let (lines, ok) = Shipper::start(d, port, client, &doc, &[]).finish();
        assert!(ok, "{lines:?}");
    }

    let base = format!("http://127.0.0.1:{http}");
    let alert = wait_for("the fleet brute force alert", WITHIN, || {
        let v = get(&format!("{base}/v1/alerts"), &token);
        v["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["rule_id"] == "fleet-bruteforce")
            .cloned()
    });
    assert_eq!(alert["source_address"], "203.0.113.50", "{alert}");
    let detail = get(&format!("{base}/v1/alerts/{}", alert["id"]), &token);
    let events = detail["events"].as_array().unwrap();
    let mut hosts: Vec<&str> = events.iter().filter_map(|e| e["host"].as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts, ["dc01", "dc02", "dc03"], "{detail}");
    assert!(events
        .iter()
        .all(|e| e["agent_id"].as_str().unwrap().starts_with("beats:")));
    assert!(events
        .iter()
        .all(|e| e["event"]["winlog"]["computer_name"] == "DC01.corp.example"));
    // The alert carries the Winlogbeat document (the alert page shows it); the events' rows
    // keep their winlog fields, not the document again.
    let original = alert["original"].as_str().unwrap_or_default();
    assert!(
        original.starts_with('{') && original.contains("\"event_data\""),
        "{alert}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["original"].is_null() && e["winlog"]["event_id"] == "4625"),
        "{detail}"
    );

    c.0.kill().unwrap();
    c.0.wait().unwrap();
    // Every event exactly once: 80 records from dc01, one each from dc02 and dc03.
    let mut s = SqliteStore::open_dir(&state).unwrap();
    let stored = s.fleet_event_json(1000).unwrap();
    let mut records: Vec<(String, String)> = stored
        .iter()
        .map(|j| {
            let v: Value = serde_json::from_str(j).unwrap();
            (
                v["host"]["name"].as_str().unwrap().to_owned(),
                v["winlog"]["record_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(records.len(), 82, "stored once each");
    records.sort();
    records.dedup();
    assert_eq!(records.len(), 82, "no record twice");
}

/// `--config agent.yaml` (a relative path without a folder) made the beats source of the
/// agent, and the collector's Beats input, read their relative `tls:` files from `/`
/// (`/server.pem`): neither listened.
#[test]
fn beats_tls_paths_relative_to_a_config_named_by_a_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    let tls = "tls: {cert: server.pem, key: server.key, client_ca: ca.pem}";
    let (port, http) = (free_port(), free_port());
    std::fs::write(
        d.join("agent.yaml"),
        format!("sources:\n  - type: beats\n    listen: 127.0.0.1:{port}\n    {tls}\n"),
    )
    .unwrap();
    let cport = free_port();
    std::fs::write(
        d.join("collector.yaml"),
        format!(
            "listen: 127.0.0.1:{http}\nstate_dir: cstate\nbeats:\n  listen: 127.0.0.1:{cport}\n  {tls}\n"
        ),
    )
    .unwrap();
    let start = |args: &[&str], log: &str| {
        let err = std::fs::File::create(d.join(log)).unwrap();
        Proc(
            Command::new(bin())
                .args(args)
                .current_dir(d)
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .unwrap(),
        )
    };
    let _agent = start(
        &["run", "--config", "agent.yaml", "--state-dir", "state"],
        "run.err",
    );
    let _collector = start(
        &["collector", "--config", "collector.yaml"],
        "collector.err",
    );
    for log in ["run.err", "collector.err"] {
        let text = || std::fs::read_to_string(d.join(log)).unwrap_or_default();
        assert!(
            wait_until(WITHIN, || {
                let t = text();
                t.contains("beats: listening") || t.contains("ERROR") || t.contains("logward: ")
            }),
            "{log}: {}",
            text()
        );
        assert!(text().contains("beats: listening"), "{log}: {}", text());
    }
}

/// A Beats listener whose certificate file is missing (or is no certificate) was accepted
/// by `logward check`, and `logward run` then ran on without the listener, logging one line:
/// a Beat pointed at it found nothing listening. Now the config is refused, the file named.
#[test]
fn a_missing_beats_certificate_is_a_config_error_not_a_silent_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    std::fs::write(d.join("not-a-cert.pem"), "hello\n").unwrap();
    for (cert, named) in [
        ("missing.pem", "missing.pem"),
        ("not-a-cert.pem", "not-a-cert.pem"),
    ] {
        let tls = format!("tls: {{cert: {cert}, key: server.key, client_ca: ca.pem}}");
        let port = free_port();
        std::fs::write(
            d.join("agent.yaml"),
            format!("sources:\n  - type: beats\n    listen: 127.0.0.1:{port}\n    {tls}\n"),
        )
        .unwrap();
        std::fs::write(
            d.join("collector.yaml"),
            format!(
                "listen: 127.0.0.1:{}\nstate_dir: cstate\nbeats:\n  listen: 127.0.0.1:{}\n  {tls}\n",
                free_port(),
                free_port()
            ),
        )
        .unwrap();
        for args in [
            &["check", "--config", "agent.yaml"][..],
            &["check", "--config", "collector.yaml"][..],
            &["run", "--config", "agent.yaml", "--state-dir", "state"][..],
            &["collector", "--config", "collector.yaml"][..],
        ] {
            let out = Command::new(bin())
                .args(args)
                .current_dir(d)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} with {cert}: {err}");
            assert!(err.contains(named), "{args:?} names {named}: {err}");
        }
    }
}
