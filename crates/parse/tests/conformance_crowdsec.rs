//! Conformance with CrowdSec hub parser tests (`sshd-logs`, `sshd-success-logs`, `pam-logs`,
//! `syslog-logs`; assertion format in the corpus's PROVENANCE.md §3).
//!
//! Per input line i (0-based), from `parser.assert`:
//! - `s00-raw` `Parsed["program"|"pid"|"message"]` against our framing;
//! - `s01-parse` `.Success`, `Meta["source_ip"]`, `Meta["target_user"|"user"|"username"]` and
//!   `Meta["log_type"]` against our event.
//!
//! Scenario tests (`scenario.assert` of the ssh scenarios): every event an expected alert lists
//! (`Overflow.Alert.Events[j].GetMeta(…)`) must be a decoded line, in file order, with that
//! `source_ip`, `machine` (host name), `timestamp`, user (`target_user`/`user`) and
//! `log_type`'s outcome; and the alert's source (`GetSources()`) must be one of its events'.
//! The buckets themselves are CrowdSec's; logward's rules are checked elsewhere.
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

/// The folder's one `*.log` (usually named after the folder; `sshd-logs-fp` reuses
/// `sshd-logs.log`).
fn log_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{}: one .log expected", dir.display());
    logs.pop().unwrap()
}

fn check(folder: &str) {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let dir = dir.join("crowdsec-hub").join(folder);
    let log = common::read_lossy(&log_file(&dir));
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
            let want = log_type_outcome(t);
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

/// The outcome a CrowdSec `log_type` stands for.
fn log_type_outcome(t: &str) -> Outcome {
    match t {
        "auth_success" => Outcome::Success,
        "ssh_failed-auth"
        | "pam_failed_auth"
        | "pam_user_lock"
        | "ssh_bad_keyexchange"
        | "ssh_refused_conn"
        | "ssh_auth_timeout"
        | "ssh_dispatch_fatal" => Outcome::Failure,
        other => panic!("unmapped log_type {other}"),
    }
}

/// `results[K].Overflow.Alert.Events[J].GetMeta("KEY") == "VALUE"` → (K, J, KEY, VALUE), and
/// `"IP" in results[K].Overflow.GetSources()` → (K, usize::MAX, "source", IP).
fn parse_scenario(line: &str) -> Option<(usize, usize, &str, String)> {
    if let Some((ip, r)) = line.split_once(" in results[") {
        let (k, rest) = r.split_once(']')?;
        if rest != ".Overflow.GetSources()" {
            return None;
        }
        let ip = serde_json::from_str(ip).ok()?;
        return Some((k.parse().ok()?, usize::MAX, "source", ip));
    }
    let r = line.strip_prefix("results[")?;
    let (k, r) = r.split_once(']')?;
    let r = r.strip_prefix(".Overflow.Alert.Events[")?;
    let (j, r) = r.split_once(']')?;
    let r = r.strip_prefix(".GetMeta(\"")?;
    let (key, r) = r.split_once("\")")?;
    let value = serde_json::from_str(r.strip_prefix(" == ")?).ok()?;
    Some((k.parse().ok()?, j.parse().ok()?, key, value))
}

fn check_scenario(folder: &str) {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let dir = dir.join("crowdsec-hub").join(folder);
    let log = common::read_lossy(&log_file(&dir));
    let assert = common::read_lossy(&dir.join("scenario.assert"));
    let events = common::decode_all(&log);
    // results[K] → (its sources, its events' metas by J)
    type Alert = (Vec<String>, BTreeMap<usize, BTreeMap<String, String>>);
    let mut alerts: BTreeMap<usize, Alert> = BTreeMap::new();
    for line in assert.lines() {
        let Some((k, j, key, value)) = parse_scenario(line) else {
            continue;
        };
        let a = alerts.entry(k).or_default();
        if j == usize::MAX {
            a.0.push(value);
        } else {
            a.1.entry(j).or_default().insert(key.to_owned(), value);
        }
    }
    assert!(!alerts.is_empty(), "{folder}: no alert asserted");
    let (mut checked, mut problems) = (0, Vec::new());
    for (k, (sources, metas)) in &alerts {
        // Each listed event is a line after the previous one's.
        let mut next = 0;
        for (j, meta) in metas {
            checked += 1;
            let fits = |e: &logward_core::Event<'_>| {
                let m = |key: &str| meta.get(key).map(String::as_str);
                let user = m("target_user").or_else(|| m("user"));
                let when = m("timestamp")
                    .and_then(|t| logward_core::Timestamp::parse_rfc3339(t.as_bytes()))
                    .map(|(t, _)| t.unix);
                e.source_address.as_deref() == m("source_ip")
                    && (user.is_none() || e.user_name.as_deref() == user)
                    && (m("machine").is_none() || e.host_name.as_deref() == m("machine"))
                    && (when.is_none() || e.timestamp.map(|t| t.unix) == when)
                    && m("log_type").is_none_or(|t| {
                        e.outcome == log_type_outcome(t) && e.action() != Action::Unknown
                    })
            };
            match events.iter().skip(next).position(fits) {
                Some(i) => next += i + 1,
                None => problems.push(format!("alert {k} event {j}: no line fits {meta:?}")),
            }
        }
        for ip in sources {
            checked += 1;
            if !metas.values().any(|m| m.get("source_ip") == Some(ip)) {
                problems.push(format!("alert {k}: source {ip} is none of its events'"));
            }
        }
    }
    eprintln!(
        "crowdsec scenario {folder}: {} alerts, {checked} checks, {} problems",
        alerts.len(),
        problems.len()
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(problems.is_empty(), "{folder}: {} problems", problems.len());
}

#[test]
fn crowdsec_scenarios_ssh() {
    for folder in [
        "ssh-bf",
        "ssh-generic-test",
        "ssh-slow-bf",
        "ssh-time-based-bf",
        "ssh-timeout",
        "sshd-bad-keyexchange-bf",
        "sshd-impossible-travel",
        "sshd-invalid-bf",
        "sshd-refused-conn",
        "sshd_banner_exchange",
    ] {
        check_scenario(folder);
    }
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

#[test]
fn crowdsec_sshd_logs_fp() {
    check("sshd-logs-fp");
}

#[test]
fn crowdsec_sshd_invalid_bf() {
    check("sshd-invalid-bf");
}
