//! `logward collector`, end to end through the real binary: gen-cert, token create,
//! agents list/revoke, config errors, and the server answering on 127.0.0.1.
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use logward_store::{CollectorStore as _, SqliteStore, TokenCheck};
use logward_test_support::{run_with_stdin, text};

fn logward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(args)
        .output()
        .expect("run logward")
}

/// `logward collector` on 127.0.0.1 with a free port and its state in `dir/st`; the child
/// and the address it logged that it listens on. Its log is drained in the background.
fn start_collector(dir: &Path) -> (Child, String) {
    let cfg = dir.join("c.yaml");
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nstate_dir: st\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(["collector", "--config", cfg.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("LOGWARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading its log: a closed pipe would fail the collector's next log line.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn gen_cert_token_and_agents() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let out = logward(&[
        "collector",
        "gen-cert",
        "--out",
        tls.to_str().unwrap(),
        "--name",
        "localhost",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(tls.join("cert.pem"))
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    let mode = std::fs::metadata(tls.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let st = dir.path().join("st");
    let st_s = st.to_str().unwrap();
    let out = logward(&[
        "collector",
        "token",
        "create",
        "--ttl",
        "1h",
        "--state-dir",
        st_s,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert_eq!(token.len(), 64);
    let digest = logward_collector::sha256_hex(token.as_bytes());
    let mut store = SqliteStore::open_dir(&st).unwrap();
    assert_eq!(
        store
            .redeem_enrol_token(&digest, 1, "agent-1", "web01", "s", Some("0.1.0"))
            .unwrap(),
        TokenCheck::Redeemed
    );
    let out = logward(&["collector", "agents", "list", "--state-dir", st_s]);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("agent-1") && listed.contains("web01") && listed.contains("active"),
        "{listed}"
    );
    let out = logward(&[
        "collector",
        "agents",
        "revoke",
        "agent-1",
        "--state-dir",
        st_s,
    ]);
    assert!(out.status.success());
    assert!(
        text(&logward(&["collector", "agents", "list", "--state-dir", st_s]).stdout)
            .contains("revoked")
    );
    assert_eq!(
        logward(&[
            "collector",
            "agents",
            "revoke",
            "agent-1",
            "--state-dir",
            st_s
        ])
        .status
        .code(),
        Some(1)
    );
}

#[test]
fn config_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "listen: 0.0.0.0:7650\n").unwrap();
    let out = logward(&["collector", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("c.yaml:1:") && err.contains("not a loopback address"),
        "{err}"
    );
}

#[test]
fn the_server_answers_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start_collector(dir.path());
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("logward_collector_auth_failures_total{reason=\"bad_signature\"} 0"));
    assert!(dir.path().join("st/logward.db").exists());
}

/// `decisions add` used notify's grammar and `bans add` the rules'; both now take the union
/// (`logward_core::duration`). Every spelling here was accepted by one of the old parsers.
#[test]
fn decisions_add_takes_both_old_duration_grammars() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let add = |ip: &str, d: &str| {
        logward(&[
            "collector",
            "--state-dir",
            sd,
            "decisions",
            "add",
            "--ip",
            ip,
            "--duration",
            d,
        ])
    };
    for (ip, d, secs) in [
        ("192.0.2.1", "90", 90),       // rules: bare seconds
        ("192.0.2.2", "1w", 604_800),  // rules and notify
        ("192.0.2.3", "1500ms", 2),    // notify: milliseconds, rounded up to whole seconds
        ("192.0.2.5", "999ms", 1),     // never a 0 s decision
        ("192.0.2.4", " 2 h ", 7_200), // agent intervals: a space before the unit
    ] {
        let out = add(ip, d);
        assert!(out.status.success(), "{d:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("{ip} for {secs}s")),
            "{d:?}: {}",
            text(&out.stdout)
        );
    }
    for bad in ["1.5h", "ten", "0s", "5y"] {
        let out = add("192.0.2.9", bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(
            text(&out.stderr).contains("is not a duration"),
            "{bad:?}: {}",
            text(&out.stderr)
        );
    }
    let list = logward(&["collector", "--state-dir", sd, "decisions", "list"]);
    let list = text(&list.stdout);
    // The 1 s and 2 s decisions may have run out by now on a loaded machine (CI saw it).
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.4"] {
        assert!(list.contains(ip), "{list}");
    }
    assert!(!list.contains("192.0.2.9"), "{list}");
}

fn logward_stdin(args: &[&str], stdin: &str) -> Output {
    run_with_stdin(env!("CARGO_BIN_EXE_logward"), args, stdin)
}

#[test]
fn operators_and_api_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let add = |name: &str, pw: &str| {
        logward_stdin(
            &["collector", "--state-dir", sd, "user", "add", name],
            &format!("{pw}\n"),
        )
    };
    let out = add("alice", "short");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 8"),
        "{}",
        text(&out.stderr)
    );
    let out = add("bad name", "long enough pw");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("user name"));
    let out = add("alice", "long enough pw");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "created operator alice");
    assert_eq!(
        text(&add("alice", "another long pw").stdout).trim(),
        "updated operator alice"
    );
    let out = logward(&["collector", "--state-dir", sd, "user", "list"]);
    assert_eq!(text(&out.stdout), "alice\n");
    // Only an argon2id hash is stored, never the password.
    let phc = SqliteStore::open_dir(dir.path())
        .unwrap()
        .operator_password("alice")
        .unwrap()
        .unwrap();
    assert!(
        phc.starts_with("$argon2id$") && !phc.contains("another"),
        "{phc}"
    );

    let out = logward(&[
        "collector",
        "--state-dir",
        sd,
        "api-token",
        "create",
        "--name",
        "ci",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("lwt_") && token.len() == 68, "{token}");
    let list = text(&logward(&["collector", "--state-dir", sd, "api-token", "list"]).stdout);
    assert!(
        list.contains("ci") && list.contains("active") && !list.contains(&token[4..]),
        "{list}"
    );
    let out = logward(&["collector", "--state-dir", sd, "api-token", "revoke", "1"]);
    assert!(out.status.success());
    let list = text(&logward(&["collector", "--state-dir", sd, "api-token", "list"]).stdout);
    assert!(list.contains("revoked"), "{list}");
    let out = logward(&["collector", "--state-dir", sd, "api-token", "revoke", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let out = logward(&["collector", "--state-dir", sd, "user", "remove", "alice"]);
    assert!(out.status.success());
    assert_eq!(
        text(&logward(&["collector", "--state-dir", sd, "user", "list"]).stdout),
        ""
    );
}

/// One HTTP/1.1 request on its own connection; the whole answer.
fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

#[test]
fn user_remove_ends_the_removed_operators_live_session() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("st");
    let sd = st.to_str().unwrap();
    let out = logward_stdin(
        &["collector", "--state-dir", sd, "user", "add", "alice"],
        "long enough pw\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (mut child, addr) = start_collector(dir.path());
    let body = "user=alice&password=long+enough+pw";
    let login = http(
        &addr,
        &format!(
            "POST /login HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
             content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let session = || {
        http(
            &addr,
            &format!(
                "GET /v1/session HTTP/1.1\r\nhost: {addr}\r\ncookie: {cookie}\r\n\
                 connection: close\r\n\r\n"
            ),
        )
    };
    assert!(session().starts_with("HTTP/1.1 200"), "{}", session());
    let out = logward(&["collector", "--state-dir", sd, "user", "remove", "alice"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = session();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(after.starts_with("HTTP/1.1 401"), "{after}");
}
