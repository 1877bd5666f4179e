//! Journal entries forged by a local user (`logger -t sshd`) are not sshd's: the real
//! `logward run` follows a real journal (files written by `systemd-journal-remote` from an
//! export stream carrying the journal's own `_UID`/`_COMM`/`_EXE` fields, read by the real
//! `journalctl --directory --follow`).
//!
//! Needs `journalctl` and `systemd-journal-remote` (Debian package of that name): without
//! them the test says why and returns, except under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and journal-remote
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use logward_core::{Clock, SystemClock};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

use logward_test_support::daemon::Daemon;

#[path = "support/run.rs"]
mod run;
use run::stored_rules;

const REMOTE: &[&str] = &[
    "/lib/systemd/systemd-journal-remote",
    "/usr/lib/systemd/systemd-journal-remote",
];

fn journal_remote() -> Option<PathBuf> {
    let remote = REMOTE.iter().map(PathBuf::from).find(|p| p.is_file());
    let journalctl = Command::new("journalctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let why = match (&remote, journalctl) {
        (Some(_), true) => return remote,
        (None, _) => "systemd-journal-remote is not installed (package systemd-journal-remote)",
        (_, false) => "journalctl is not on PATH",
    };
    logward_test_support::skip!("{why}")
}

/// Who wrote an entry, as the journal records it.
struct Writer {
    uid: u32,
    comm: &'static str,
    exe: &'static str,
    unit: &'static str,
}

/// `logger -t sshd …` run by uid 1000 in its login session.
const LOGGER: Writer = Writer {
    uid: 1000,
    comm: "logger",
    exe: "/usr/bin/logger",
    unit: "session-3.scope",
};

/// OpenSSH's sshd.
const SSHD: Writer = Writer {
    uid: 0,
    comm: "sshd",
    exe: "/usr/sbin/sshd",
    unit: "ssh.service",
};

/// One journal entry in export format, as journald would have stored it for `w` writing
/// `message` with `SYSLOG_IDENTIFIER=sshd`, the `n`th entry of a batch twenty seconds old.
fn export(w: &Writer, message: &str, n: u64) -> String {
    export_as("sshd", w, message, n)
}

/// [`export`] with another `SYSLOG_IDENTIFIER`.
fn export_as(ident: &str, w: &Writer, message: &str, n: u64) -> String {
    let now_us = SystemClock.now().unix as u64 * 1_000_000;
    format!(
        "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n\
         _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web01\n\
         SYSLOG_IDENTIFIER={ident}\nSYSLOG_FACILITY=4\nPRIORITY=6\n_PID={}\n\
         _UID={uid}\n_GID={uid}\n_COMM={}\n_EXE={}\n_TRANSPORT=syslog\n\
         _SYSTEMD_UNIT={}\nMESSAGE={message}\n\n",
        now_us - 20_000_000 + n * 1000,
        1_000_000 + n,
        4000 + n,
        w.comm,
        w.exe,
        w.unit,
        uid = w.uid,
    )
}

/// The reported bug: a uid-1000 user's `logger -t sshd` lines got an address banned and a
/// root login reported. Forged: five failures and a root login; real: sshd's five failures.
#[test]
fn journal_entries_forged_with_logger_t_sshd_raise_nothing() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let mut stream = String::new();
    for i in 0..5 {
        let m = format!(
            "Failed password for root from 203.0.113.66 port {} ssh2",
            41000 + i
        );
        stream.push_str(&export(&LOGGER, &m, i));
    }
    stream.push_str(&export(
        &LOGGER,
        "Accepted password for root from 203.0.113.67 port 41100 ssh2",
        5,
    ));
    for i in 0..5 {
        let m = format!(
            "Failed password for root from 198.51.100.68 port {} ssh2",
            42000 + i
        );
        stream.push_str(&export(&SSHD, &m, 10 + i));
    }
    let (dm, state) = follow_journal(&remote, d.path(), &stream);
    dm.wait_lines(&state, 11);
    let a = dm
        .alert(Duration::from_secs(2))
        .expect("sshd's brute force");
    assert!(
        a.contains("ssh-bruteforce") && a.contains("198.51.100.68"),
        "{a}"
    );
    assert!(
        dm.alert(Duration::from_millis(200)).is_none(),
        "a forged entry raised an alert"
    );
    // No brute force, no root login, no login from the forged entries.
    assert_eq!(stored_rules(&state), ["ssh-bruteforce"]);
    let o = Command::new(BIN)
        .args(["metrics", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&o.stdout);
    assert!(
        metrics.contains("logward_journal_forged_total 6"),
        "{metrics}"
    );
    assert!(dm
        .log()
        .contains("claims a program the journal says did not write it"));
}

/// Writes `stream` (export format) into a journal with the real systemd-journal-remote and
/// starts `logward run` following it from the beginning with the default rules.
fn follow_journal(
    remote: &std::path::Path,
    dir: &std::path::Path,
    stream: &str,
) -> (Daemon, PathBuf) {
    let journals = dir.join("journal");
    std::fs::create_dir(&journals).unwrap();
    let export_file = dir.join("entries.export");
    std::fs::write(&export_file, stream).unwrap();
    let status = Command::new(remote)
        .arg(format!(
            "--output={}",
            journals.join("test.journal").display()
        ))
        .arg(&export_file)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "systemd-journal-remote: {status}");
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: journal, directory: {}, start_at: beginning}}\n",
            journals.display()
        ),
    )
    .unwrap();
    let state = dir.join("state");
    let dm = Daemon::start(BIN, &cfg, &state, dir);
    (dm, state)
}

/// The same hole for every other service: a login user's `logger -t nginx` (and a copy of
/// a binary named after the service) wrote nginx's own basic-auth failures for one address;
/// real nginx, as www-data, for another. Only the real ones count.
#[test]
fn journal_entries_forged_for_other_services_raise_nothing() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    const NGINX: Writer = Writer {
        uid: 33,
        comm: "nginx",
        exe: "/usr/sbin/nginx",
        unit: "nginx.service",
    };
    const COPY: Writer = Writer {
        uid: 1000,
        comm: "nginx",
        exe: "/home/eve/nginx",
        unit: "session-3.scope",
    };
    let failure = |ip: &str, i: u64| {
        format!(
            "2026/12/06 10:00:0{i} [error] 7#7: *{i} user \"admin{i}\" was not found in \"/etc/nginx/htpasswd\", client: {ip}, server: , request: \"GET / HTTP/1.1\", host: \"web01\""
        )
    };
    let mut stream = String::new();
    for i in 0..6 {
        let w = if i % 2 == 0 { &LOGGER } else { &COPY };
        stream.push_str(&export_as("nginx", w, &failure("203.0.113.70", i), i));
    }
    for i in 0..5 {
        stream.push_str(&export_as(
            "nginx",
            &NGINX,
            &failure("198.51.100.71", i),
            10 + i,
        ));
    }
    let (dm, state) = follow_journal(&remote, d.path(), &stream);
    std::thread::sleep(Duration::from_secs(3));
    eprintln!("LOG {}", dm.log());
    let _keep = d.path().to_path_buf();
    std::mem::forget(d);
    dm.wait_lines(&state, 11);
    let a = dm
        .alert(Duration::from_secs(2))
        .expect("nginx's brute force");
    assert!(
        a.contains("auth-bruteforce") && a.contains("198.51.100.71"),
        "{a}"
    );
    assert!(
        dm.alert(Duration::from_millis(200)).is_none(),
        "a forged entry raised an alert"
    );
    assert_eq!(stored_rules(&state), ["auth-bruteforce"]);
}
