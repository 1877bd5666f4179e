//! A real OpenSSH server (Debian's `openssh-server`) on loopback, logging with `sshd -E FILE`
//! (the message alone: no time, no tag, CRLF), and a real `ssh` client failing to log in: the
//! file is decoded line by line as `logward scan` would, and every authentication failure,
//! probe and the server's own lines come out as docs/EVENTS.md says — with the client's
//! address from the grammar, never from the user name it chose.
#![allow(clippy::disallowed_methods)] // the test starts sshd, ssh-keygen and ssh
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use logward_core::{Action, Event, Outcome};
use logward_test_support::{free_port, netns, wait_until};

const SSHD: &str = "/usr/sbin/sshd";

/// One password login attempt as `user` that fails (`NumberOfPasswordPrompts` wrong
/// passwords from an askpass script, no terminal needed).
fn ssh_fails(dir: &Path, port: u16, user: &str, tries: u32) {
    let out = Command::new("ssh")
        .args([
            "-n",
            "-F",
            "/dev/null",
            "-p",
            &port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            &format!("NumberOfPasswordPrompts={tries}"),
            "-o",
            "ConnectTimeout=10",
            &format!("{user}@127.0.0.1"),
            "true",
        ])
        .env("SSH_ASKPASS", dir.join("askpass"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", "none")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong password logged in");
}

fn decode_file(path: &Path) -> (Vec<String>, Vec<Event<'static>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut d = common::decoder();
    let events = lines.iter().map(|l| d.decode(l).into_owned()).collect();
    (lines, events)
}

#[test]
fn real_sshd_log_file_decodes_failures_with_their_peer() {
    if !netns::prerequisites(
        "real_sshd_log_file_decodes_failures_with_their_peer",
        &[(SSHD, "-V"), ("ssh", "-V")], // ssh-keygen comes with ssh
        "openssh-server openssh-client",
    ) {
        return;
    }
    let tmp = tempfile_dir();
    let dir = tmp.as_path();
    let key = dir.join("hostkey");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    // sshd's privilege separation directory (the package's tmpfiles.d entry makes it at boot).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let askpass = dir.join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho not-the-password\n").unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let config = dir.join("sshd_config");
    let mut f = std::fs::File::create(&config).unwrap();
    write!(
        f,
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
         PasswordAuthentication yes\nKbdInteractiveAuthentication no\nLogLevel VERBOSE\n\
         MaxAuthTries 3\n",
        key.display(),
        dir.join("sshd.pid").display()
    )
    .unwrap();
    drop(f);
    let log = dir.join("sshd.log");
    // -D: stays in the foreground, a child this test owns (killed on drop).
    let server = Command::new(SSHD)
        .args(["-D", "-f"])
        .arg(&config)
        .arg("-E")
        .arg(&log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let _server = logward_test_support::Proc(server);
    let listening =
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Server listening on"));
    assert!(
        wait_until(Duration::from_secs(10), listening),
        "sshd did not start"
    );

    // A user name that spells another peer, then root.
    let forged = "evil from 192.0.2.66 port 22 ssh2";
    ssh_fails(dir, port, forged, 3);
    ssh_fails(dir, port, "root", 3);
    // A client that is not SSH at all.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    drop(s);
    let done = || {
        std::fs::read_to_string(&log).is_ok_and(|t| {
            t.matches("Too many authentication failures").count() >= 2
                && t.contains("banner exchange")
        })
    };
    assert!(
        wait_until(Duration::from_secs(20), done),
        "sshd log incomplete"
    );

    let (lines, events) = decode_file(&log);
    let mut failed = 0;
    for (line, e) in lines.iter().zip(&events) {
        let why = || format!("{line:?} → {} {:?}", e.action(), e.reason);
        // Whatever the line, a peer is the client's.
        if let Some(src) = e.source_address.as_deref() {
            assert_eq!(src, "127.0.0.1", "{}", why());
        }
        if line.starts_with("Failed password for ") {
            failed += 1;
            assert_eq!(e.action(), Action::UserLogin, "{}", why());
            assert_eq!(e.outcome, Outcome::Failure, "{}", why());
            assert_eq!(e.source_address.as_deref(), Some("127.0.0.1"), "{}", why());
            assert_eq!(e.process_name.as_deref(), Some("sshd"));
            let user = e.user_name.as_deref();
            assert!(user == Some(forged) || user == Some("root"), "{}", why());
            let reason = if user == Some("root") {
                "bad-password"
            } else {
                "invalid-user"
            };
            assert_eq!(e.reason, Some(reason), "{}", why());
        }
        if line.starts_with("Invalid user ") {
            assert_eq!(
                (e.reason, e.source_address.as_deref()),
                (Some("invalid-user"), Some("127.0.0.1")),
                "{}",
                why()
            );
        }
        if line.starts_with("maximum authentication attempts exceeded") {
            assert_eq!(
                (e.reason, e.source_address.as_deref()),
                (Some("max-attempts"), Some("127.0.0.1")),
                "{}",
                why()
            );
        }
        // Only the unambiguous login verdicts are taken from a program-less line.
        if line.starts_with("Server listening") || line.starts_with("Received signal") {
            assert_eq!(e.action(), Action::Unknown, "{}", why());
        }
    }
    assert_eq!(failed, 6, "six wrong passwords: {lines:#?}");
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn as_path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!("logward-real-sshd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}
