//! The live agent measures rule windows on the events' own time, like `scan --rules`: a
//! backlog read after downtime or from the start of a file raises what the lines say, not
//! what their arrival in one burst looks like. The real `logward run` follows a real file.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

use logward_test_support::daemon::Daemon;

#[path = "support/run.rs"]
mod run;
use run::{ago, append, follow, sshd_failure, stored_rules};

/// An rsyslog (RFC 3339) sshd failure stamped `ago` seconds before now.
fn failure(secs: i64, ip: &str, n: usize) -> String {
    sshd_failure(ago(secs), ip, 2000 + n, 40000 + n)
}

/// What the daemon stored, rule ids sorted.
fn stored_sorted(state: &Path) -> Vec<String> {
    let mut ids = stored_rules(state);
    ids.sort();
    ids
}

/// What `scan --rules default` raises on the file, rule ids sorted.
fn scan_rules(log: &Path) -> Vec<String> {
    let o = Command::new(BIN)
        .args(["scan", "--rules", "default", "--format", "ndjson"])
        .arg(log)
        .env("TZ", "UTC")
        .output()
        .expect("scan --rules");
    assert!(o.status.success(), "{o:?}");
    let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["rule"]["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The reported bug: the agent stopped, six failures from one address written an hour
/// apart, the agent started — it counted them on its own clock (all within a second) and
/// raised and banned a "5 failed logins in 10 minutes" that never happened.
#[test]
fn backlog_after_downtime_is_counted_on_event_time_not_the_wall_clock() {
    let d = tempfile::tempdir().expect("tempdir");
    let (log, cfg) = follow(d.path(), "");
    let state = d.path().join("state");

    let mut dm = Daemon::start(BIN, &cfg, &state, d.path());
    dm.signal("TERM");
    assert_eq!(dm.wait(Duration::from_secs(5)), Some(0));
    drop(dm);

    // Written while it is down: one failure an hour, six hours.
    let slow: Vec<String> = (0..6)
        .map(|i| failure((6 - i) * 3600, "203.0.113.61", i as usize))
        .collect();
    append(&log, &slow);
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    dm.wait_lines(&state, 6);
    assert!(
        dm.alert(Duration::from_millis(300)).is_none(),
        "an alert for failures an hour apart"
    );
    assert_eq!(stored_sorted(&state), Vec::<String>::new());

    // A real burst in the same backlog is still one: five failures within a minute.
    let burst: Vec<String> = (0..5)
        .map(|i| failure(2 * 3600 - i * 10, "198.51.100.62", 10 + i as usize))
        .collect();
    append(&log, &burst);
    let a = dm
        .alert(Duration::from_secs(5))
        .expect("the burst raises its alert");
    assert!(
        a.contains("ssh-bruteforce") && a.contains("198.51.100.62"),
        "{a}"
    );
    dm.wait_lines(&state, 11);
    // The agent raised exactly what an offline replay of the same file raises.
    assert_eq!(stored_sorted(&state), scan_rules(&log));
}

/// `start_at: beginning` on a fresh state: the whole file is a backlog, counted on its own
/// time.
#[test]
fn start_at_beginning_raises_what_scan_rules_raises() {
    let d = tempfile::tempdir().expect("tempdir");
    let (log, cfg) = follow(d.path(), "");
    let mut lines: Vec<String> = (0..6)
        .map(|i| failure((8 - i) * 3600, "203.0.113.71", i as usize))
        .collect();
    lines.extend((0..5).map(|i| failure(3600 - i * 5, "198.51.100.72", 10 + i as usize)));
    std::fs::write(&log, lines.join("\n") + "\n").expect("log");
    let state = d.path().join("state");
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    dm.wait_lines(&state, 11);
    let a = dm.alert(Duration::from_secs(5)).expect("the burst's alert");
    assert!(a.contains("198.51.100.72"), "{a}");
    assert!(
        dm.alert(Duration::from_millis(300)).is_none(),
        "a second alert"
    );
    let stored = stored_sorted(&state);
    assert_eq!(stored, ["ssh-bruteforce"]);
    assert_eq!(stored, scan_rules(&log));
}
