//! A real vsftpd (Debian's package, installed by scripts/test.sh) on loopback, a real FTP
//! client failing to log in, and logward on the log vsftpd wrote: `logward run` following it
//! raises the brute-force alert for the client, and `logward scan` gives every failure as a
//! `user-login` failure from the client's address with the name it sent — also when the name
//! itself carries another address in vsftpd's own words (`x] FAIL LOGIN: Client "6.6.6.6`),
//! which must never become the source. Without vsftpd (or root, which it needs) the test is
//! skipped, except under CI=true.
#![allow(clippy::disallowed_methods)] // the test spawns vsftpd and the binary under test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use logward_test_support::daemon::Daemon;
use logward_test_support::{free_port, run_utc, show, spawn, text, wait_port};
use serde_json::Value;

#[path = "support/run.rs"]
mod run;
use run::follow_with_loopback_rules;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const VSFTPD: &str = "/usr/sbin/vsftpd";

/// The names the client tries (five failures make the brute-force alert): plain ones and one
/// that poses as a second log record.
const NAMES: [&str; 5] = [
    "nosuchuser",
    "root",
    "admin",
    "ftp",
    "x] FAIL LOGIN: Client \"6.6.6.6",
];

fn config(dir: &Path, port: u16) -> String {
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("chroot dir");
    format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
         background=NO\nanonymous_enable=NO\nlocal_enable=YES\npam_service_name=vsftpd\n\
         xferlog_enable=YES\nxferlog_std_format=NO\nvsftpd_log_file={log}\nsyslog_enable=NO\n\
         delay_failed_login=0\nseccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n\
         secure_chroot_dir={empty}\n",
        log = dir.join("vsftpd.log").display(),
        empty = empty.display(),
    )
}

/// One FTP session: the banner, `USER name`, `PASS wrong`, `QUIT`; the reply to PASS.
fn fail_login(port: u16, name: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let mut line = String::new();
    let mut reply = |r: &mut BufReader<TcpStream>| {
        line.clear();
        r.read_line(&mut line).expect("reply");
        line.clone()
    };
    assert!(reply(&mut r).starts_with("220"), "no banner");
    write!(w, "USER {name}\r\n").expect("USER");
    let user = reply(&mut r);
    assert!(user.starts_with("331"), "USER: {user}");
    write!(w, "PASS wrong-password\r\n").expect("PASS");
    let pass = reply(&mut r);
    // Until vsftpd hangs up: it writes the record as the session ends.
    let _ = write!(w, "QUIT\r\n");
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    pass
}

/// The FAIL LOGIN records written (one a line; a name may hold the words too).
fn records(log: &str) -> usize {
    log.lines().filter(|l| l.contains("] FAIL LOGIN: ")).count()
}

#[test]
fn vsftpd_login_failures_alert_on_the_clients_address_never_the_names() {
    if !Path::new(VSFTPD).exists() {
        logward_test_support::skipped("vsftpd is not installed (Debian package vsftpd)");
        return;
    }
    // vsftpd checks passwords through PAM and chroots: it only runs as root.
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        logward_test_support::skipped("vsftpd needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("vsftpd.conf");
    std::fs::write(&conf, config(dir.path(), port)).expect("config");
    let conf_arg = conf.to_str().expect("utf-8 path");
    let _vsftpd = spawn(VSFTPD, &[conf_arg], &dir.path().join("vsftpd.stderr"));
    assert!(
        wait_port(port, Duration::from_secs(10)),
        "vsftpd did not listen: {}",
        std::fs::read_to_string(dir.path().join("vsftpd.stderr")).unwrap_or_default()
    );

    // `logward run` follows vsftpd's log from its start, loopback not ignored.
    let log = dir.path().join("vsftpd.log");
    let cfg = follow_with_loopback_rules(dir.path(), &log);
    let dm = Daemon::start(BIN, &cfg, &dir.path().join("agent-state"), dir.path());

    // One session after the other, each to its end (vsftpd writes the record as it ends).
    for name in NAMES {
        let reply = fail_login(port, name);
        assert!(reply.starts_with("530"), "PASS for {name:?}: {reply}");
    }
    // vsftpd writes the record as the session ends: wait for all of them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let written = loop {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        if records(&t) >= NAMES.len() || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(records(&written), NAMES.len(), "{written}");
    let alert = dm
        .alert(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no alert; vsftpd.log:\n{written}\nlogward:\n{}", dm.log()));
    // The name is shown as the user; the address is the client's.
    assert!(
        alert.contains("auth-bruteforce")
            && alert.contains("source.ip=127.0.0.1")
            && !alert.contains("source.ip=6.6.6.6"),
        "{alert}\n{written}"
    );

    let out = run_utc(
        BIN,
        &["scan", "--format", "ndjson", log.to_str().expect("path")],
    );
    assert!(out.status.success(), "{}", show(&out));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["action"] == "user-login" && e["event"]["outcome"] == "failure")
        .collect();
    assert_eq!(
        failures.len(),
        NAMES.len(),
        "{written}\n{}",
        text(&out.stdout)
    );
    let mut users: Vec<&str> = failures
        .iter()
        .map(|e| {
            assert_eq!(e["event"]["dataset"], "vsftpd", "{e}");
            assert_eq!(e["source"]["ip"], "127.0.0.1", "{e}");
            e["user"]["name"].as_str().unwrap_or_default()
        })
        .collect();
    users.sort_unstable();
    let mut names = NAMES.to_vec();
    names.sort_unstable();
    assert_eq!(users, names);
    assert!(
        !text(&out.stdout).contains("\"ip\":\"6.6.6.6\""),
        "an address from a user name became a source:\n{}",
        text(&out.stdout)
    );
}
