//! A real mail server on loopback: Debian's Dovecot started in a temp folder, an IMAP client
//! failing to log in, and `logward run` following Dovecot's own log raising the brute-force
//! alert with the client's address. Needs root (Dovecot drops to its own users) and the
//! package dovecot-imapd (scripts/test.sh installs it); skipped without, except under CI.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and the server
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use logward_test_support::daemon::Daemon;
use logward_test_support::{free_port, netns, spawn, wait_port};

#[path = "support/run.rs"]
mod run;
use run::follow_with_loopback_rules;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const DOVECOT: &str = "/usr/sbin/dovecot";

/// Dovecot confined to `dir`: IMAP on 127.0.0.1:`port` only, no TLS, one user (`alice`,
/// password `secret`) in a passwd-file, every failure logged (`auth_verbose`) to
/// `dir/dovecot.log` in Dovecot's own format (no syslog).
fn dovecot_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "base_dir = {d}/run\n\
         state_dir = {d}/state\n\
         log_path = {d}/dovecot.log\n\
         protocols = imap\n\
         listen = 127.0.0.1\n\
         ssl = no\n\
         disable_plaintext_auth = no\n\
         auth_verbose = yes\n\
         auth_failure_delay = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/users\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n"
    )
}

/// One IMAP connection that logs in as `alice` with a wrong password and logs out.
fn failed_login(port: u16, password: &str) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to dovecot");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("* OK"), "{line}");
    write!(w, "a LOGIN alice {password}\r\n").unwrap();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).expect("reply") > 0,
            "dovecot hung up"
        );
        if let Some(reply) = line.strip_prefix("a ") {
            assert!(reply.starts_with("NO"), "{line}");
            break;
        }
    }
    write!(w, "b LOGOUT\r\n").unwrap();
}

#[test]
fn dovecot_imap_login_failures_raise_a_brute_force_alert() {
    if !netns::prerequisites(
        "real Dovecot test",
        &[(DOVECOT, "--version")],
        "dovecot-imapd",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Dovecot's login and auth processes run as its own users and need its sockets.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("users"), "alice:{PLAIN}secret::::::\n").unwrap();
    let port = free_port();
    let conf = dir.join("dovecot.conf");
    std::fs::write(&conf, dovecot_conf(dir, port)).unwrap();
    let _server = spawn(
        DOVECOT,
        &["-F", "-c", conf.to_str().unwrap()],
        &dir.join("dovecot.stderr"),
    );
    let log = dir.join("dovecot.log");
    assert!(
        wait_port(port, Duration::from_secs(10)) && log.exists(),
        "dovecot did not start: {}",
        std::fs::read_to_string(dir.join("dovecot.stderr")).unwrap_or_default()
    );

    let cfg = follow_with_loopback_rules(dir, &log);
    let dm = Daemon::start(BIN, &cfg, &dir.join("agent-state"), dir);

    // Three wrong passwords at once: Dovecot delays each further failure from an address
    // (up to 15 s), so they race it. Each is two lines (the auth process's verdict and the
    // login process's disconnect), five failures make the alert.
    let clients: Vec<_> = (0..3)
        .map(|i| std::thread::spawn(move || failed_login(port, &format!("wrong{i}"))))
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let alert = dm.alert(Duration::from_secs(30));
    let dovecot_log = std::fs::read_to_string(&log).unwrap_or_default();
    let alert = alert.unwrap_or_else(|| panic!("no alert; dovecot.log:\n{dovecot_log}"));
    assert!(
        alert.contains("auth-bruteforce") && alert.contains("127.0.0.1"),
        "{alert}\n{dovecot_log}"
    );
    assert!(
        dovecot_log.contains("passwd-file(alice,127.0.0.1,"),
        "{dovecot_log}"
    );
}
