//! Conformance with CrowdSec hub parser tests (`sshd-logs`, `sshd-success-logs`, `pam-logs`,
//! `syslog-logs`; assertion format in the corpus's PROVENANCE.md §3).
//!
//! Per input line i (0-based), from `parser.assert`:
//! - `s00-raw` `Parsed["program"|"pid"|"message"]` against our framing;
//! - `s01-parse` `.Success`, `Meta["source_ip"]`, `Meta["target_user"|"user"|"username"]` and
//!   `Meta["log_type"]` against our event.
//!
//! Deliberate differences in meaning, not in outcome:
//! - CrowdSec's `ssh_failed-auth` also covers pre-auth disconnects (`Connection closed by
//!   authenticating user … [preauth]`, `Disconnected from invalid user …`, the obfuscated
//!   handshake's `Magic value check failed`). logward keeps those `connection-probe` (outcome
//!   failure, `event.reason` saying which) and reserves `user-login` for lines that report an
//!   authentication; both are failures, which is what is checked.
//! - `ssh_bad_keyexchange`, `ssh_refused_conn`, `ssh_auth_timeout`, `ssh_dispatch_fatal`
//!   and `pam_user_lock` are failures too (probes, or a locked account).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use logward_core::{Action, Outcome};

#[derive(Default, Debug)]
struct Want {
    success: Option<bool>,
    meta: BTreeMap<String, String>,
    raw: BTreeMap<String, String>,
}

/// `results["STAGE"]["PARSER"][I].REST == VALUE` → (stage, i, rest, value).
fn parse_assert(line: &str) -> Option<(&str, usize, &str, &str)> {
    let r = line.strip_prefix("results[\"")?;
    let (stage, r) = r.split_once("\"]")?;
    let r = r.strip_prefix("[\"")?;
    let (_parser, r) = r.split_once("\"]")?;
    let r = r.strip_prefix('[')?;
    let (i, r) = r.split_once(']')?;
    let (rest, value) = r.split_once(" == ")?;
    Some((
        stage,
        i.parse().ok()?,
        rest.strip_prefix('.')?,
        value.trim(),
    ))
}

fn wants(text: &str) -> BTreeMap<usize, Want> {
    let mut out: BTreeMap<usize, Want> = BTreeMap::new();
    for line in text.lines() {
        let Some((stage, i, rest, value)) = parse_assert(line) else {
            continue;
        };
        let w = out.entry(i).or_default();
        let string = || serde_json::from_str::<String>(value).ok();
        let key = |prefix: &str| {
            rest.strip_prefix(prefix)
                .and_then(|k| k.strip_suffix("\"]"))
                .map(str::to_owned)
        };
        match stage {
            "s01-parse" if rest == "Success" => w.success = Some(value == "true"),
            "s01-parse" => {
                if let (Some(k), Some(v)) = (key("Evt.Meta[\""), string()) {
                    w.meta.insert(k, v);
                }
            }
            "s00-raw" => {
                if let (Some(k), Some(v)) = (key("Evt.Parsed[\""), string()) {
                    w.raw.insert(k, v);
                }
            }
            _ => {}
        }
    }
    out
}

fn check(folder: &str) {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let dir = dir.join("crowdsec-hub").join(folder);
    let log = common::read_lossy(&dir.join(format!("{folder}.log")));
    let assert = common::read_lossy(&dir.join("parser.assert"));
    let lines: Vec<&str> = log.lines().collect();
    let events = common::decode_all(&log);
    let wants = wants(&assert);
    assert!(!wants.is_empty(), "{folder}: nothing asserted");
    let (mut checked, mut problems) = (0, Vec::new());
    for (i, w) in &wants {
        let (Some(e), Some(line)) = (events.get(*i), lines.get(*i)) else {
            panic!("{folder}: assert for line {i} beyond the log");
        };
        let mut bad = |what: String| problems.push(format!("line {i}: {what}: {line}"));
        for (k, v) in &w.raw {
            let got = match k.as_str() {
                "program" => e.process_name.as_deref().map(str::to_owned),
                "pid" => e.process_pid.map(|p| p.to_string()),
                "message" => e.message.as_deref().map(str::to_owned),
                _ => continue,
            };
            checked += 1;
            if got.as_deref() != Some(v.as_str()) {
                bad(format!("raw {k}: want {v:?}, got {got:?}"));
            }
        }
        match w.success {
            Some(true) => {}
            Some(false) => {
                checked += 1;
                if e.outcome == Outcome::Failure && e.source_address.is_some() {
                    bad("CrowdSec does not parse it, we report a failure".into());
                }
                continue;
            }
            None => continue,
        }
        if let Some(ip) = w.meta.get("source_ip") {
            checked += 1;
            if e.source_address.as_deref() != Some(ip.as_str()) {
                bad(format!("source want {ip}, got {:?}", e.source_address));
            }
        }
        for k in ["target_user", "user", "username"] {
            if let Some(u) = w.meta.get(k) {
                checked += 1;
                if e.user_name.as_deref() != Some(u.as_str()) {
                    bad(format!("user want {u}, got {:?}", e.user_name));
                }
            }
        }
        if let Some(t) = w.meta.get("log_type") {
            checked += 1;
            let want = match t.as_str() {
                "auth_success" => Outcome::Success,
                "ssh_failed-auth"
                | "pam_failed_auth"
                | "pam_user_lock"
                | "ssh_bad_keyexchange"
                | "ssh_refused_conn"
                | "ssh_auth_timeout"
                | "ssh_dispatch_fatal" => Outcome::Failure,
                other => panic!("{folder}: unmapped log_type {other}"),
            };
            if e.outcome != want || e.action() == Action::Unknown {
                bad(format!(
                    "log_type {t}: got {} {}",
                    e.action(),
                    e.outcome.as_str()
                ));
            }
        }
    }
    eprintln!(
        "crowdsec {folder}: {} lines asserted, {checked} checks, {} problems",
        wants.len(),
        problems.len()
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(checked > 0, "{folder}: nothing checked");
    assert!(problems.is_empty(), "{folder}: {} problems", problems.len());
}

#[test]
fn crowdsec_sshd_logs() {
    check("sshd-logs");
}

#[test]
fn crowdsec_sshd_success_logs() {
    check("sshd-success-logs");
}

#[test]
fn crowdsec_pam_logs() {
    check("pam-logs");
}

#[test]
fn crowdsec_syslog_logs() {
    check("syslog-logs");
}
