//! `logward run` following a real audit.log (`type: audit`): every exec reported once, with
//! its arguments and user, across auditd's own rotation (rename to `audit.log.1`, a new
//! `audit.log`) while the agent runs and while it is stopped.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use logward_test_support::daemon::Daemon;

#[path = "support/run.rs"]
mod run;
use run::{ago, append, wait_printed};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

const RULES: &str = "chains:\n  exec:\n    - {type: equals, field: event.action, value: process-started}\n    - {type: alert, id: exec, name: exec, severity: info, message: \"ran {{ process.command_line }} as {{ user.name }}\"}\n";

/// The records of one exec of `cmd-N --flag` by alice, as an enriched audit.log writes them.
fn exec(n: u64) -> Vec<String> {
    let t = ago(1).unix;
    let cmd: String = format!("cmd-{n}")
        .bytes()
        .map(|b| format!("{b:02X}"))
        .collect();
    vec![
        format!("type=SYSCALL msg=audit({t}.100:{n}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid={n} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"cmd\" exe=\"/usr/bin/cmd\" key=(null)\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"alice\" GID=\"alice\""),
        format!("type=EXECVE msg=audit({t}.100:{n}): argc=2 a0={cmd} a1=\"--flag\""),
        format!("type=CWD msg=audit({t}.100:{n}): cwd=\"/home/alice\""),
        format!("type=PROCTITLE msg=audit({t}.100:{n}): proctitle={cmd}"),
    ]
}

fn alerts(dm: &Daemon, n: usize, within: Duration) -> Vec<String> {
    (0..n)
        .map(|i| {
            dm.alert(within)
                .unwrap_or_else(|| panic!("alert {i} of {n} missing\n{}", dm.log()))
        })
        .collect()
}

fn ran(alerts: &[String], n: u64) -> bool {
    alerts
        .iter()
        .filter(|a| a.contains(&format!("ran cmd-{n} --flag as alice")))
        .count()
        == 1
}

fn rotate(log: &Path) {
    let dir = log.parent().unwrap();
    if dir.join("audit.log.1").exists() {
        std::fs::rename(dir.join("audit.log.1"), dir.join("audit.log.2")).unwrap();
    }
    std::fs::rename(log, dir.join("audit.log.1")).unwrap();
    std::fs::write(log, "").unwrap();
}

#[test]
fn execs_are_reported_once_across_rotations_and_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    std::fs::write(&log, "").unwrap();
    std::fs::write(d.path().join("rules.yaml"), RULES).unwrap();
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        "sources:\n  - {type: audit, path: audit.log, start_at: beginning}\nrules: rules.yaml\n",
    )
    .unwrap();
    let state = d.path().join("state");
    let mut dm = Daemon::start(BIN, &cfg, &state, d.path());
    let mut seen = Vec::new();

    append(&log, &[exec(1), exec(2)].concat());
    seen.extend(alerts(&dm, 2, Duration::from_secs(5)));
    // auditd's rotation: the old file renamed, a new one created; a record still written
    // to the old file (before the writer reopens) is read too.
    rotate(&log);
    append(&d.path().join("audit.log.1"), &exec(3));
    append(&log, &exec(4));
    seen.extend(alerts(&dm, 2, Duration::from_secs(5)));
    assert!(wait_printed(&state), "alerts never marked printed");
    dm.terminate();
    assert_eq!(dm.wait(Duration::from_secs(5)), Some(0));
    drop(dm);

    // While it is stopped: more records, another rotation.
    append(&log, &exec(5));
    rotate(&log);
    append(&log, &exec(6));
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    seen.extend(alerts(&dm, 2, Duration::from_secs(5)));
    assert!(
        dm.alert(Duration::from_millis(700)).is_none(),
        "a repeated alert: {seen:?}"
    );
    for n in 1..=6 {
        assert!(
            ran(&seen, n),
            "exec {n} not reported exactly once: {seen:#?}"
        );
    }
    dm.stop();
}
