//! `logward scan --rules`, `logward check` and `logward default-config`, end to end.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::process::Output;

use logward_test_support::{run_utc, text};

fn logward(args: &[&str]) -> Output {
    run_utc(env!("CARGO_BIN_EXE_logward"), args)
}

fn brute_force_log(dir: &std::path::Path) -> std::path::PathBuf {
    let mut s = String::new();
    for i in 0..6 {
        s.push_str(&format!(
            "Mar  3 10:00:0{i} srv sshd[9]: Failed password for root from 203.0.113.5 port {} ssh2\n",
            4000 + i
        ));
    }
    s.push_str("Mar  3 10:05:00 srv sshd[10]: Accepted publickey for ann from 192.0.2.1 port 5000 ssh2: ED25519 SHA256:x\n");
    let p = dir.join("auth.log");
    std::fs::write(&p, s).expect("write log");
    p
}

/// `scan --rules default` over [`brute_force_log`] in `format`.
fn scan_brute_force(format: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = brute_force_log(dir.path());
    logward(&[
        "scan",
        "--year",
        "2026",
        "--rules",
        "default",
        "--format",
        format,
        log.to_str().expect("utf-8 path"),
    ])
}

#[test]
fn scan_rules_default_prints_ndjson_alerts() {
    let o = scan_brute_force("ndjson");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let alerts: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let bf = &alerts[0];
    assert_eq!(bf["rule"]["id"], "ssh-bruteforce");
    assert_eq!(bf["event"]["kind"], "alert");
    assert_eq!(bf["event"]["severity"], 4);
    assert_eq!(bf["logward"]["severity"], "high");
    assert_eq!(bf["source"]["ip"], "203.0.113.5");
    assert_eq!(bf["@timestamp"], "2026-03-03T10:00:04Z");
    assert_eq!(bf["labels"]["failures"], "5");
    assert_eq!(alerts[1]["rule"]["id"], "ssh-login");
    assert_eq!(alerts[1]["logward"]["severity"], "info");
}

#[test]
fn scan_rules_summary_counts_per_rule() {
    let o = scan_brute_force("summary");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("alerts 2  ban requests 1"), "{out}");
    assert!(out.contains("1  high      ssh-bruteforce"), "{out}");
}

#[test]
fn check_reports_every_error_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("rules.yaml");
    std::fs::write(
        &p,
        "chains:\n  a:\n    - {type: equals, field: user.nam, value: x}\n    - {type: noop, then: b}\n",
    )
    .expect("write rules");
    let path = p.to_str().expect("utf-8 path");
    let o = logward(&["check", "--config", path]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("{path}:3:29: unknown field `user.nam`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:4:26: unknown chain `b`")),
        "{err}"
    );
    assert!(err.contains("2 errors"), "{err}");
    // A rules file that does not exist is an error too; --rules FILE reports the same way.
    let o = logward(&["scan", "--rules", path, "-"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown field `user.nam`"));
}

#[test]
fn default_config_round_trips_through_check() {
    let o = logward(&["default-config"]);
    assert!(o.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("default.yaml");
    std::fs::write(&p, &o.stdout).expect("write");
    let o = logward(&["check", "--config", p.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("43 rules"), "{}", text(&o.stdout));
    let o = logward(&["check"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn the_fleet_ruleset_prints_and_checks() {
    let o = logward(&["default-config", "--fleet-rules"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("id: fleet-bruteforce"));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("fleet.yaml");
    std::fs::write(&p, &o.stdout).expect("write");
    let o = logward(&["check", "--config", p.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("1 rules"), "{}", text(&o.stdout));
    let o = logward(&["default-config", "--fleet-rules", "--rules"]);
    assert_eq!(o.status.code(), Some(2));
}
