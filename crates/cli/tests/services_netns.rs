//! Real services, real clients, real logs: Debian's Dovecot (IMAP), vsftpd (FTP) and nginx
//! (HTTP basic auth) run inside a network namespace this test creates, each writing its own
//! log file in its own format; clients in a second namespace fail to log in to each from an
//! address of their own; `logward run`, following the three logs with its default rules,
//! raises the brute-force alert with each client's address and bans it — in the lab's
//! nftables (never the host's) — after which that client can no longer connect.
//!
//! Needs root and the `dovecot-imapd`, `vsftpd`, `nginx`, `nftables`, `iproute2` and
//! `python3` packages (scripts/test.sh installs them): without them the test says why and
//! returns, except under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // the test spawns the services, the clients and logward

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use logward_test_support::daemon::Daemon;
use logward_test_support::netns::{self, cmd};
use logward_test_support::wait_until;
use logward_test_support::{spawn, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

const SERVER: &str = "10.200.15.1";
const IMAP_CLIENT: &str = "10.200.15.2";
const FTP_CLIENT: &str = "10.200.15.3";
const WEB_CLIENT: &str = "10.200.15.4";

/// The lab, and on drop every process still running in its server namespace (dovecot's and
/// nginx's workers outlive a killed master) stopped before the namespaces go.
struct Lab(netns::Lab);

impl Drop for Lab {
    fn drop(&mut self) {
        let pids = cmd(&["ip", "netns", "pids", &self.0.fw]);
        for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
            let _ = cmd(&["kill", "-9", pid]);
        }
    }
}

/// Starts `argv` inside the server namespace, stderr into `dir/<name>.stderr`.
fn serve(lab: &Lab, dir: &Path, name: &str, argv: &[&str]) -> Proc {
    let mut all = vec!["netns", "exec", lab.0.fw.as_str()];
    all.extend_from_slice(argv);
    spawn("ip", &all, &dir.join(format!("{name}.stderr")))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Dovecot serving IMAP on [`SERVER`]:143 from a passwd-file with one user, logging to
/// `dir/dovecot.log` (its own format: `Dec 06 10:00:01 auth: Info: …`).
fn dovecot(lab: &Lab, dir: &Path) -> Proc {
    let d = dir.display();
    for sub in ["dovecot-run", "dovecot-state", "mail"] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
    }
    write(&dir.join("imap.passwd"), "alice:{PLAIN}correct horse\n");
    write(
        &dir.join("dovecot.conf"),
        &format!(
            "protocols = imap\nlisten = {SERVER}\nbase_dir = {d}/dovecot-run\n\
             state_dir = {d}/dovecot-state\nlog_path = {d}/dovecot.log\n\
             auth_verbose = yes\nauth_failure_delay = 0\nssl = no\n\
             disable_plaintext_auth = no\ndefault_internal_user = dovecot\n\
             default_login_user = dovenull\nmail_location = maildir:{d}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/imap.passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n"
        ),
    );
    serve(
        lab,
        dir,
        "dovecot",
        &["dovecot", "-F", "-c", &format!("{d}/dovecot.conf")],
    )
}

/// vsftpd on [`SERVER`]:21, local users through PAM, logging to `dir/vsftpd.log` (its own
/// format: `Sun Dec  6 10:00:01 2026 [pid 9] [user] FAIL LOGIN: Client "A"`).
fn vsftpd(lab: &Lab, dir: &Path) -> Proc {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("vsftpd-empty")).expect("dir");
    write(
        &dir.join("vsftpd.conf"),
        &format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address={SERVER}\nbackground=NO\n\
             anonymous_enable=NO\nlocal_enable=YES\npam_service_name=vsftpd\n\
             seccomp_sandbox=NO\nsecure_chroot_dir={d}/vsftpd-empty\n\
             vsftpd_log_file={d}/vsftpd.log\nxferlog_enable=YES\nxferlog_std_format=NO\n"
        ),
    );
    serve(lab, dir, "vsftpd", &["vsftpd", &format!("{d}/vsftpd.conf")])
}

/// nginx on [`SERVER`]:80 asking for basic auth against an htpasswd file, logging errors to
/// `dir/nginx-error.log` (`2026/12/06 10:00:01 [error] 7#7: *1 user "x" was not found …`).
fn nginx(lab: &Lab, dir: &Path) -> Proc {
    let d = dir.display();
    for sub in ["nginx", "www"] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
    }
    write(&dir.join("www/index.html"), "welcome\n");
    write(&dir.join("htpasswd"), "alice:{PLAIN}correct horse\n");
    let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("  {t}_temp_path {d}/nginx/{t};\n"))
        .collect();
    write(
        &dir.join("nginx.conf"),
        &format!(
            "daemon off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
             events {{}}\nhttp {{\n  access_log {d}/nginx-access.log;\n{temp}\
             server {{\n    listen {SERVER}:80;\n    location / {{\n      \
             auth_basic \"logward test\";\n      auth_basic_user_file {d}/htpasswd;\n      \
             root {d}/www;\n    }}\n  }}\n}}\n"
        ),
    );
    serve(
        lab,
        dir,
        "nginx",
        &[
            "nginx",
            "-p",
            &format!("{d}/nginx"),
            "-e",
            &format!("{d}/nginx-error.log"),
            "-c",
            &format!("{d}/nginx.conf"),
        ],
    )
}

/// Runs a Python client inside the client namespace; its stdout. Python's own libraries are
/// the clients (imaplib-style raw IMAP, ftplib), curl the HTTP one.
fn client(lab: &Lab, argv: &[&str]) -> String {
    let mut all = vec!["netns", "exec", lab.0.peer.as_str()];
    all.extend_from_slice(argv);
    let out = Command::new("ip")
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .expect("client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` IMAP logins with a wrong password from `src`, one connection each; the server's
/// answers to the LOGIN commands.
fn imap_failures(lab: &Lab, src: &str, n: usize) -> String {
    let script = format!(
        r#"
import socket, threading
def attempt(i):
    try:
        s = socket.create_connection(("{SERVER}", 143), timeout=3, source_address=("{src}", 0))
    except OSError as e:
        print("connect failed:", type(e).__name__)
        return
    s.settimeout(30)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a1 LOGIN mallory%d wrong\r\n" % i)
    print(f.readline().decode().strip())
    s.close()
# Dovecot delays the answers to an address that keeps failing (up to 15 s): side by side.
t = [threading.Thread(target=attempt, args=(i,)) for i in range({n})]
[x.start() for x in t]
[x.join() for x in t]
"#
    );
    client(lab, &["python3", "-c", &script])
}

/// `n` FTP logins with a wrong password from `src` (ftplib); what each attempt got.
fn ftp_failures(lab: &Lab, src: &str, n: usize) -> String {
    let script = format!(
        r#"
import ftplib, threading
def attempt(i):
    try:
        f = ftplib.FTP(timeout=5, source_address=("{src}", 0))
        f.connect("{SERVER}", 21)
        try:
            f.login("alice", "wrong%d" % i)
            print("logged in?!")
        except ftplib.error_perm as e:
            print(e)
        f.close()
    except OSError as e:
        print("connect failed:", type(e).__name__)
# vsftpd (PAM) answers a wrong password after a delay: the attempts run side by side.
t = [threading.Thread(target=attempt, args=(i,)) for i in range({n})]
[x.start() for x in t]
[x.join() for x in t]
"#
    );
    client(lab, &["python3", "-c", &script])
}

/// `n` HTTP requests with wrong basic-auth credentials from `src` (curl); the status codes.
fn http_failures(lab: &Lab, src: &str, n: usize) -> String {
    let mut codes = String::new();
    for i in 0..n {
        let user = format!("mallory{i}:wrong");
        codes += &client(
            lab,
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-m",
                "3",
                "-w",
                "%{http_code}\n",
                "--interface",
                src,
                "-u",
                &user,
                &format!("http://{SERVER}/"),
            ],
        );
    }
    codes
}

#[test]
fn real_services_brute_forced_from_the_network_are_alerted_and_banned() {
    if !netns::prerequisites(
        "real services test",
        &[
            ("nft", "--version"),
            ("ip", "-V"),
            ("dovecot", "--version"),
            ("vsftpd", "-v"),
            ("nginx", "-v"),
            ("python3", "--version"),
            ("curl", "--version"),
        ],
        "nftables, iproute2, dovecot-imapd, vsftpd, nginx, python3, curl",
    ) {
        return;
    }
    let lab = Lab(netns::Lab::new(
        "svc",
        &[format!("{SERVER}/24")],
        &[IMAP_CLIENT, FTP_CLIENT, WEB_CLIENT].map(|a| format!("{a}/24")),
    ));
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    // The services drop privileges (dovenull, nobody): they must be able to reach their files.
    cmd(&["chmod", "755", &dir.display().to_string()]);
    let _services = [dovecot(&lab, dir), vsftpd(&lab, dir), nginx(&lab, dir)];
    for port in [143, 21, 80] {
        assert!(
            listening(&lab, port),
            "nothing listens on {SERVER}:{port}; service stderr:\n{}",
            stderr_of(dir)
        );
    }

    let logs = ["dovecot.log", "vsftpd.log", "nginx-error.log"];
    let sources: String = logs
        .iter()
        .map(|l| {
            let p = dir.join(l);
            // The services may not have written yet: logward follows files that appear.
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p);
            format!(
                "  - {{type: file, path: {}, start_at: beginning}}\n",
                p.display()
            )
        })
        .collect();
    let cfg = dir.join("agent.yaml");
    write(
        &cfg,
        &format!(
            "sources:\n{sources}bans:\n  enabled: true\n  nft: [ip, netns, exec, {}, nft]\n",
            lab.0.fw
        ),
    );
    let state = dir.join("state");
    let dm = Daemon::start_with(BIN, &["--format", "ndjson"], &cfg, &state, dir);
    assert!(dm.up(), "the daemon did not come up:\n{}", dm.log());

    // Six failed logins at each service, each from its own address. Five make a brute force:
    // the ban can come before the sixth gets an answer.
    let imap = imap_failures(&lab, IMAP_CLIENT, 6);
    assert!(
        imap.matches("NO [AUTHENTICATIONFAILED]").count() >= 5,
        "{imap}"
    );
    let ftp = ftp_failures(&lab, FTP_CLIENT, 6);
    assert!(ftp.matches("530 Login incorrect").count() >= 5, "{ftp}");
    let web = http_failures(&lab, WEB_CLIENT, 6);
    assert!(web.matches("401").count() >= 5, "{web}");

    let mut alerted = Vec::new();
    while alerted.len() < 3 {
        let Some(a) = dm.alert(Duration::from_secs(20)) else {
            panic!(
                "alerts so far {alerted:?}; daemon log:\n{}\nservice logs:\n{}",
                dm.log(),
                logs.iter()
                    .map(|l| std::fs::read_to_string(dir.join(l)).unwrap_or_default())
                    .collect::<String>()
            );
        };
        let v: serde_json::Value = serde_json::from_str(&a).expect("alert JSON");
        if v.pointer("/rule/id").and_then(|r| r.as_str()) != Some("auth-bruteforce") {
            continue;
        }
        let ip = v
            .pointer("/source/ip")
            .and_then(|s| s.as_str())
            .unwrap_or("");
        let dataset = v
            .pointer("/event/dataset")
            .and_then(|s| s.as_str())
            .unwrap_or("");
        alerted.push((ip.to_owned(), dataset.to_owned()));
    }
    alerted.sort();
    assert_eq!(
        alerted,
        [
            (IMAP_CLIENT.to_owned(), "dovecot".to_owned()),
            (FTP_CLIENT.to_owned(), "vsftpd".to_owned()),
            (WEB_CLIENT.to_owned(), "nginx".to_owned()),
        ]
    );

    // Banned in the lab's firewall: each client's next attempt cannot even connect.
    assert!(
        wait_until(Duration::from_secs(10), || {
            let set = lab
                .0
                .nft_text(&["list", "set", "inet", "logward", "ipv4_addr"]);
            [IMAP_CLIENT, FTP_CLIENT, WEB_CLIENT]
                .iter()
                .all(|a| set.contains(a))
        }),
        "{}",
        lab.0.nft_text(&["list", "ruleset"])
    );
    assert!(imap_failures(&lab, IMAP_CLIENT, 1).contains("connect failed"));
    assert!(ftp_failures(&lab, FTP_CLIENT, 1).contains("connect failed"));
    assert_eq!(http_failures(&lab, WEB_CLIENT, 1).trim(), "000");
}

/// Whether something listens on [`SERVER`]:`port` in the server namespace, within 10 s.
fn listening(lab: &Lab, port: u16) -> bool {
    let want = format!("{SERVER}:{port} ");
    wait_until(Duration::from_secs(10), || {
        let out = cmd(&["ip", "netns", "exec", &lab.0.fw, "ss", "-Hltn"]);
        String::from_utf8_lossy(&out.stdout).contains(&want)
    })
}

/// What the services wrote to stderr, for a failure message.
fn stderr_of(dir: &Path) -> String {
    ["dovecot", "vsftpd", "nginx"]
        .iter()
        .map(|n| {
            let t = std::fs::read_to_string(dir.join(format!("{n}.stderr"))).unwrap_or_default();
            format!("--- {n}\n{t}")
        })
        .collect()
}
