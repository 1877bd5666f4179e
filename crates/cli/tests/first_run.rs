//! A new admin's first commands with the real binary: `logward run` without a config on a host
//! with only wtmp/btmp says what it follows and warns that logins will not be seen; `logward
//! scan` decodes wtmp/btmp by their content (whatever the name) instead of printing binary.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// Runs `logward run` without a config on `root` and returns its stderr up to the line that
/// says it runs (its start-up report).
fn start_up_log(root: &Path, state: &Path) -> String {
    let mut child = Command::new(BIN)
        .args(["run", "--state-dir"])
        .arg(state)
        .env("LOGWARD_DETECT_ROOT", root)
        .env("NO_COLOR", "1")
        .env_remove("LOGWARD_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logward run");
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.expect("read stderr");
        log.push_str(&line);
        log.push('\n');
        if line.contains("control socket") || line.contains("running") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

#[test]
fn run_without_config_warns_when_only_wtmp_btmp_are_there() {
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("var/log")).expect("mkdir");
    std::fs::write(root.join("var/log/wtmp"), b"").expect("wtmp");
    std::fs::write(root.join("var/log/btmp"), b"").expect("btmp");
    let log = start_up_log(&root, &d.path().join("state"));
    assert!(log.contains("following utmp"), "{log}");
    let warn = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("no auth log"))
        .unwrap_or_else(|| panic!("no warning about the missing auth log:\n{log}"));
    assert!(
        warn.contains("will NOT be seen") && warn.contains("rsyslog"),
        "{warn}"
    );

    // With an auth log there is nothing to warn about.
    std::fs::write(root.join("var/log/auth.log"), b"").expect("auth.log");
    let log = start_up_log(&root, &d.path().join("state2"));
    assert!(log.contains("following file"), "{log}");
    assert!(!log.contains("no auth log"), "{log}");
}

/// One glibc utmp record (384 bytes, 32-bit time): type, pid, line, user, host, time, IPv4.
fn record(ty: i16, pid: i32, line: &str, user: &str, host: &str, sec: u32, v4: [u8; 4]) -> Vec<u8> {
    let mut b = vec![0u8; 384];
    b[0..2].copy_from_slice(&ty.to_le_bytes());
    b[4..8].copy_from_slice(&pid.to_le_bytes());
    b[8..8 + line.len()].copy_from_slice(line.as_bytes());
    b[44..44 + user.len()].copy_from_slice(user.as_bytes());
    b[76..76 + host.len()].copy_from_slice(host.as_bytes());
    b[340..344].copy_from_slice(&sec.to_le_bytes());
    b[348..352].copy_from_slice(&v4);
    b
}

fn scan(path: &Path) -> (String, String) {
    let o = Command::new(BIN)
        .args(["scan", "--format", "ndjson"])
        .arg(path)
        .output()
        .expect("run scan");
    assert!(o.status.success(), "{o:?}");
    (
        String::from_utf8(o.stdout).expect("scan prints text, not binary"),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn scan_decodes_btmp_and_wtmp_by_content() {
    let d = tempfile::tempdir().expect("tempdir");
    let t = 1_764_000_000;
    // Failed logins (btmp: LOGIN_PROCESS records with the user names tried), under a name that
    // says nothing.
    let btmp: Vec<u8> = (0..3)
        .flat_map(|i| {
            record(
                6,
                100 + i,
                "ssh:notty",
                "admin",
                "203.0.113.9",
                t + i as u32,
                [203, 0, 113, 9],
            )
        })
        .collect();
    let p = d.path().join("failed-logins.bin");
    std::fs::write(&p, &btmp).expect("write");
    let (out, err) = scan(&p);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}\n{err}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        assert_eq!(v["event"]["dataset"], "btmp", "{l}");
        assert_eq!(v["event"]["outcome"], "failure", "{l}");
        assert_eq!(v["user"]["name"], "admin", "{l}");
        assert_eq!(v["source"]["ip"], "203.0.113.9", "{l}");
    }
    // A session (wtmp: USER_PROCESS, then DEAD_PROCESS), named like a rotated wtmp.
    let mut wtmp = record(
        7,
        200,
        "pts/0",
        "alice",
        "198.51.100.4",
        t,
        [198, 51, 100, 4],
    );
    wtmp.extend(record(8, 200, "pts/0", "", "", t + 60, [0; 4]));
    let p = d.path().join("wtmp.1");
    std::fs::write(&p, &wtmp).expect("write");
    let (out, err) = scan(&p);
    let actions: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            format!(
                "{} {} {}",
                v["event"]["dataset"], v["event"]["action"], v["user"]["name"]
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "\"wtmp\" \"user-login\" \"alice\"",
            "\"wtmp\" \"user-logout\" \"alice\""
        ],
        "{out}\n{err}"
    );
    // Text is still text.
    let p = d.path().join("auth.log");
    std::fs::write(
        &p,
        "Nov 22 09:58:01 web01 sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2\n",
    )
    .expect("write");
    let (out, _) = scan(&p);
    assert!(out.contains("\"dataset\":\"sshd\""), "{out}");
}
