//! One engine runner: `logward scan --rules default` and the live agent (`logward run`
//! following the same file) drive the engine the same way — enrichment, the rules, then the
//! login detector — so one log raises exactly the same alerts in both (rule, address, user,
//! how many).
//!
//! With ../shared/corpus/geoip (MaxMind's test databases) both enrich with GeoIP and the
//! log's stolen login raises `impossible-travel` and `login-anomaly` too; without it the
//! test compares the rules' alerts only and says so (`SKIPPED: …`), except under `CI=true`,
//! where a missing corpus is a failure.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use logward_core::{Clock, SystemClock, Timestamp};
use serde_json::Value;

use logward_test_support::daemon::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// RFC 3339 (no year to guess), `secs` after a start 30 days ago at 09:00 UTC.
fn at(secs: i64) -> String {
    let now = SystemClock.now().unix;
    let start = now - 30 * 86_400;
    let start = start - start % 86_400 + 9 * 3600;
    Timestamp {
        unix: start + secs,
        nanos: 0,
        offset: 0,
    }
    .to_string()
}

/// Three weeks of alice's logins from London, a brute force and a user enumeration, then
/// alice from Changchun with a key never seen an hour after her last login, and a sudo
/// failure.
fn log_text() -> String {
    let mut out = String::new();
    let mut day_secs = 0;
    for day in 0..22i64 {
        day_secs = day * 86_400 + day * 60;
        out.push_str(&format!(
            "{} web01 sshd[100]: Accepted publickey for alice from 81.2.69.142 port 5000 ssh2: ED25519 SHA256:laptop\n",
            at(day_secs)
        ));
    }
    let burst = day_secs + 1800;
    for i in 0..7 {
        out.push_str(&format!(
            "{} web01 sshd[{}]: Failed password for root from 203.0.113.77 port {} ssh2\n",
            at(burst + 5 * i),
            300 + i,
            40_000 + i
        ));
    }
    for i in 0..6 {
        out.push_str(&format!(
            "{} web01 sshd[{}]: Failed password for invalid user u{i} from 198.51.100.23 port {} ssh2\n",
            at(burst + 40 + 3 * i),
            400 + i,
            41_000 + i
        ));
    }
    let stolen = day_secs + 3600;
    out.push_str(&format!(
        "{} web01 sshd[200]: Accepted publickey for alice from 175.16.199.37 port 5001 ssh2: ED25519 SHA256:stolen\n",
        at(stolen)
    ));
    out.push_str(&format!(
        "{} web01 sudo[500]:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh\n",
        at(stolen + 300)
    ));
    out
}

/// (rule, source address, user) of each NDJSON alert line, sorted.
fn keys<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut k: Vec<_> = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            (
                text(&v["rule"]["id"]),
                text(&v["source"]["ip"]),
                text(&v["user"]["name"]),
            )
        })
        .collect();
    k.sort();
    k
}

fn scan(log: &Path, state: &Path, geoip: Option<&Path>) -> Vec<(String, String, String)> {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "scan",
        "--rules",
        "default",
        "--format",
        "ndjson",
        "--state-dir",
    ])
    .arg(state);
    if let Some(g) = geoip {
        cmd.arg("--geoip").arg(g);
    }
    let o = cmd.arg(log).env("TZ", "UTC").output().unwrap();
    assert!(o.status.success(), "{o:?}");
    keys(String::from_utf8_lossy(&o.stdout).lines())
}

fn run(dir: &Path, log: &Path, lines: u64, geoip: Option<&Path>) -> Vec<(String, String, String)> {
    let cfg = dir.join("agent.yaml");
    let mut text = format!(
        "sources:\n  - {{type: file, path: {}, start_at: beginning}}\noutput: {{format: ndjson}}\n",
        log.display()
    );
    if let Some(g) = geoip {
        text.push_str(&format!("enrich:\n  geoip: {}\n", g.display()));
    }
    std::fs::write(&cfg, text).unwrap();
    let state = dir.join("run-state");
    let mut agent = Daemon::start(BIN, &cfg, &state, dir);
    agent.wait_lines(&state, lines);
    agent.terminate();
    // Stdout is closed once it exited: everything it printed is on the channel.
    let mut printed = Vec::new();
    while let Some(l) = agent.alert(Duration::from_secs(2)) {
        printed.push(l);
    }
    keys(printed.iter().map(String::as_str))
}

#[test]
fn scan_rules_and_run_raise_the_same_alerts_for_one_log() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("auth.log");
    let text = log_text();
    std::fs::write(&log, &text).unwrap();
    let geoip = logward_test_support::corpus("geoip");

    let offline = scan(&log, &d.path().join("scan-state"), geoip.as_deref());
    let live = run(
        d.path(),
        &log,
        text.lines().count() as u64,
        geoip.as_deref(),
    );

    let count = |id: &str| offline.iter().filter(|k| k.0 == id).count();
    assert_eq!(count("ssh-bruteforce"), 2, "{offline:#?}");
    assert_eq!(count("ssh-user-enumeration"), 1, "{offline:#?}");
    assert_eq!(count("sudo-failure"), 1, "{offline:#?}");
    if geoip.is_some() {
        assert_eq!(count("impossible-travel"), 1, "{offline:#?}");
        assert_eq!(count("login-anomaly"), 1, "{offline:#?}");
    }
    assert_eq!(live, offline);
}

/// One Zeek JSON dns.log record, `secs` after a fixed start.
fn zeek(secs: u64, client: &str, query: &str, answers: &[&str]) -> String {
    serde_json::json!({
        "ts": 1_767_225_600 + secs, "uid": "Cparity", "id.orig_h": client, "id.orig_p": 40000,
        "id.resp_h": "10.0.0.53", "id.resp_p": 53, "proto": "udp", "trans_id": 7,
        "query": query, "qclass": 1, "qclass_name": "C_INTERNET", "qtype_name": "A",
        "rcode": 0, "rcode_name": "NOERROR", "answers": answers, "rejected": false
    })
    .to_string()
}

/// (rule, client, question, owner) of each NDJSON alert line, sorted.
fn dns_keys<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<[String; 4]> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut k: Vec<_> = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            [
                text(&v["rule"]["id"]),
                text(&v["client"]["ip"]),
                text(&v["dns"]["question"]["name"]),
                text(&v["logward"]["dns"]["owner"]),
            ]
        })
        .collect();
    k.sort();
    k
}

/// `logward scan --rules default --config` applied no DNS check at all: the threat list's
/// hits `logward run` alerts on went by unseen offline. Now both run the configured check —
/// trusted client and domain, dedup, the list, owners — and raise the same alerts.
#[test]
fn scan_with_the_agent_config_applies_the_dns_check_as_run_does() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("hosts.txt"),
        "0.0.0.0 evil.test\n0.0.0.0 bad.corp.example\n",
    )
    .unwrap();
    let mut lines: Vec<String> = (0..20)
        .map(|i| zeek(i, "10.1.2.3", "a.evil.test", &["203.0.113.5"]))
        .collect();
    lines.push(zeek(30, "10.9.9.9", "evil.test", &[]));
    lines.push(zeek(31, "10.1.2.3", "bad.corp.example", &[]));
    lines.push(zeek(32, "10.2.0.7", "www.evil.test", &["198.51.100.66"]));
    lines.push(zeek(33, "10.2.0.7", "www.good.test", &[]));
    let log = dir.join("dns.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        "sources:\n  - {type: file, path: dns.log, start_at: beginning}\n\
         output: {format: ndjson}\n\
         dns:\n\
         \x20 trusted: {clients: [10.9.9.9], domains: [corp.example]}\n\
         \x20 owners: [{network: 10.1.0.0/16, owner: netops}]\n\
         \x20 lists: [{name: badd-boyz, path: hosts.txt, severity: high}]\n",
    )
    .unwrap();

    let o = Command::new(BIN)
        .args([
            "scan", "--rules", "default", "--format", "ndjson", "--config",
        ])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.join("scan-state"))
        .arg(&log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let offline = dns_keys(String::from_utf8_lossy(&o.stdout).lines());

    let state = dir.join("run-state");
    let mut agent = Daemon::start(BIN, &cfg, &state, dir);
    agent.wait_lines(&state, lines.len() as u64);
    agent.terminate();
    let mut printed = Vec::new();
    while let Some(l) = agent.alert(Duration::from_secs(2)) {
        printed.push(l);
    }
    let live = dns_keys(printed.iter().map(String::as_str));

    let key = |rule: &str, client: &str, name: &str, owner: &str| {
        [rule, client, name, owner].map(str::to_owned)
    };
    assert_eq!(
        offline,
        [
            key("dns-list-hit", "10.1.2.3", "a.evil.test", "netops"),
            key("dns-list-hit", "10.2.0.7", "www.evil.test", "-"),
        ]
    );
    assert_eq!(live, offline);
}
