//! auditd conformance: fail2ban's `selinux-ssh` log (the audit records of sshd logins) and
//! CrowdSec hub's `auditd-logs` parser test.
//!
//! CrowdSec's assertions name fields logward's events do not carry (`ppid`, `tty`, numeric
//! `uid`/`auid`); what is checked is what the event can say: `process.name: auditd`, the
//! whole line as `message`, `@timestamp` from `audit(TS:…)`, and for `log_type: execve` a
//! `process-started` event for the exec, with the `exe` as its command line (these SYSCALL
//! records have no EXECVE in the fixture, so each is flushed by the joiner at the end of
//! the input: see `decoders::audit::join`).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::{Action, Dataset, Event, Outcome};

#[test]
fn fail2ban_selinux_ssh() {
    common::fail2ban::check("selinux-ssh", &[]);
}

/// Every line's event, then the joiner's flushed events.
fn decode_with_joined(text: &str) -> (Vec<Event<'static>>, Vec<Event<'static>>) {
    let mut d = common::decoder();
    let mut joined = Vec::new();
    let mut events = Vec::new();
    for l in text.lines() {
        events.push(d.decode(l).into_owned());
        joined.extend(std::iter::from_fn(|| d.take_joined()));
    }
    d.finish();
    joined.extend(std::iter::from_fn(|| d.take_joined()));
    (events, joined)
}

/// `…["KEY"] == "VALUE"` of line `i` in the s01-parse stage.
fn asserted(assert: &str, i: usize, key: &str) -> Option<String> {
    let prefix = format!("results[\"s01-parse\"][\"crowdsecurity/auditd-logs\"][{i}].Evt.");
    assert.lines().find_map(|l| {
        let r = l.strip_prefix(&prefix)?;
        let r = r
            .strip_prefix(&format!("Parsed[\"{key}\"] == "))
            .or_else(|| r.strip_prefix(&format!("Meta[\"{key}\"] == ")))?;
        serde_json::from_str::<String>(r.trim()).ok()
    })
}

#[test]
fn crowdsec_auditd_logs() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let dir = dir.join("crowdsec-hub/auditd-logs");
    let log = common::read_lossy(&dir.join("auditd-logs.log"));
    let assert = common::read_lossy(&dir.join("parser.assert"));
    let (events, joined) = decode_with_joined(&log);
    let lines: Vec<&str> = log.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let e = &events[i];
        let Some(message) = asserted(&assert, i, "message") else {
            continue;
        };
        assert_eq!(e.message.as_deref(), Some(message.as_str()), "line {i}");
        assert_eq!(
            e.process_name.as_deref(),
            asserted(&assert, i, "program").as_deref(),
            "line {i}"
        );
        let ts = asserted(&assert, i, "timestamp").unwrap();
        let (secs, ms) = ts.split_once('.').unwrap();
        let t = e.timestamp.unwrap();
        assert_eq!(
            (t.unix, t.nanos / 1_000_000, t.offset),
            (secs.parse().unwrap(), ms.parse().unwrap(), 0),
            "line {i}"
        );
        assert_eq!(asserted(&assert, i, "log_type").as_deref(), Some("execve"));
        let exe = asserted(&assert, i, "exe").unwrap();
        let success = line.contains(" success=yes ");
        let exec = joined.iter().chain(&events).find(|x| {
            x.action() == Action::ProcessStarted
                && x.timestamp == e.timestamp
                && x.command_line.as_deref() == Some(exe.as_str())
                && x.outcome
                    == if success {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    }
        });
        let exec = exec.unwrap_or_else(|| panic!("line {i}: no process-started for {exe}: {line}"));
        assert_eq!(exec.dataset, Some(Dataset::Auditd));
        checked += 1;
    }
    eprintln!(
        "crowdsec auditd-logs: {checked} lines checked, {} execs joined",
        joined.len()
    );
    assert_eq!(checked, 4);
    assert_eq!(joined.len(), 4, "one exec per SYSCALL, none twice");
}
