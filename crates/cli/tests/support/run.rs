//! What the `logward run` tests share: an agent config following one fresh auth.log, sshd
//! failure lines stamped on their own time (rules and bans run on it), appending them, the
//! rule ids the daemon stored, an agent enrolled with a collector and forwarding to it, and
//! the default rules minus their loopback ignore for the tests against real servers.
#![allow(dead_code)] // each test uses part of it

use std::io::Write;
use std::path::{Path, PathBuf};

use logward_core::{Clock, SystemClock, Timestamp};
use logward_store::{AgentStore, SqliteStore, Store};
use logward_test_support::{run_with_stdin, spawn, Proc};

/// The time `secs` seconds before now, in whole seconds, UTC.
pub fn ago(secs: i64) -> Timestamp {
    Timestamp {
        unix: SystemClock.now().unix - secs,
        nanos: 0,
        offset: 0,
    }
}

/// An rsyslog (RFC 3339) sshd failure for root from `ip` at `t`; `pid` and `port` tell the
/// lines apart.
pub fn sshd_failure(t: Timestamp, ip: &str, pid: usize, port: usize) -> String {
    format!("{t} web sshd[{pid}]: Failed password for root from {ip} port {port} ssh2")
}

/// Appends `lines` to the followed file, one a line.
pub fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open log");
    for l in lines {
        writeln!(f, "{l}").expect("append");
    }
}

/// An empty `dir/auth.log` and `dir/agent.yaml` following it from the beginning, `extra`
/// appended to the config; the log's and the config's paths.
pub fn follow(dir: &Path, extra: &str) -> (PathBuf, PathBuf) {
    let log = dir.join("auth.log");
    std::fs::write(&log, "").expect("log");
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n{extra}",
            log.display()
        ),
    )
    .expect("config");
    (log, cfg)
}

/// `dir/agent.yaml` following `log` (a real server's, not created here) from its start with
/// the default rules in `dir/rules.yaml`, except that loopback (the only address a hermetic
/// test has) is not ignored; the config's path.
pub fn follow_with_loopback_rules(dir: &Path, log: &Path) -> PathBuf {
    let rules = include_str!("../../../engine/rules/default.yaml");
    let ignore = "ignore: [127.0.0.0/8, \"::1/128\"]";
    assert!(
        rules.contains(ignore),
        "the default rules' ignore list moved"
    );
    std::fs::write(
        dir.join("rules.yaml"),
        rules.replace(ignore, "ignore: [\"192.0.2.255/32\"]"),
    )
    .expect("rules");
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\nrules: rules.yaml\n",
            log.display()
        ),
    )
    .expect("agent config");
    cfg
}

/// The rule id of every alert the daemon stored in `state`, in stored order.
pub fn stored_rules(state: &Path) -> Vec<String> {
    let mut s = SqliteStore::open_dir(state).expect("store");
    s.alerts_between(0, i64::MAX, 100_000)
        .expect("alerts")
        .into_iter()
        .map(|a| a.alert.rule_id)
        .collect()
}

/// Waits (up to 5 s) until the daemon has recorded every stored alert as printed. Stdout is
/// at least once: the mark is written after the print, so a `kill -9` before it prints the
/// last alerts again at the next start — a test that kills the daemon and then expects no
/// repeat waits for the mark first.
pub fn wait_printed(state: &Path) -> bool {
    logward_test_support::wait_until(std::time::Duration::from_secs(5), || {
        let Ok(mut s) = SqliteStore::open_dir(state) else {
            return false;
        };
        let last = s.last_alert_id().ok().map(|id| id.to_string());
        last.is_some() && s.meta("printed_up_to").ok().flatten() == last
    })
}

/// `n` sshd failures for root numbered from `from` (one a second from 10:00:00), five from
/// each address 203.0.113.1, .2, …: a brute force every five lines of a forwarded log.
pub fn numbered_failures(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "Nov 23 10:{:02}:{:02} web01 sshd[{}]: Failed password for root from 203.0.113.{} port {} ssh2\n",
                i / 60 % 60,
                i % 60,
                1000 + i,
                1 + i / 5,
                20000 + i
            )
        })
        .collect()
}

/// A real agent of the collector at `url`: enrolled as `logward enroll --token-file -` with
/// `token_stdin` on its standard input, then `logward run` following a fresh `dir/auth.log`
/// (see [`follow`]) and forwarding in small batches with a short backoff. The log's path,
/// the agent's state directory and its process.
pub fn forwarding_agent(dir: &Path, url: &str, token_stdin: &str) -> (PathBuf, PathBuf, Proc) {
    const BIN: &str = env!("CARGO_BIN_EXE_logward");
    let state = dir.join("agent");
    let state_s = state.to_str().expect("state dir");
    let (log, cfg) = follow(
        dir,
        "forward:\n  batch: {items: 200, age: 100ms}\n  backoff: {min: 100ms, max: 500ms}\n",
    );
    let enrolled = run_with_stdin(
        BIN,
        &[
            "enroll",
            "--collector",
            url,
            "--token-file",
            "-",
            "--state-dir",
            state_s,
        ],
        token_stdin,
    );
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let agent = spawn(
        BIN,
        &[
            "run",
            "--config",
            cfg.to_str().expect("config"),
            "--state-dir",
            state_s,
        ],
        &dir.join("agent.err"),
    );
    (log, state, agent)
}
