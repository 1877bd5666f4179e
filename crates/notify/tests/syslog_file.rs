//! The syslog notifier against real UDP, TCP and unix-datagram listeners, whose messages the
//! test parses with its own RFC 5424, RFC 6587 and CEF readers; the file notifier's NDJSON,
//! mode and size rotation on a real file system.
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{alert, certificate, check, message, notifier, render, Receiver};
use logward_notify::config::Language;
use logward_notify::SendError;
use serde_json::Value;

/// An RFC 5424 message, split by the test's own reading of the grammar.
#[derive(Debug)]
struct Syslog {
    pri: u16,
    version: String,
    timestamp: String,
    hostname: String,
    app: String,
    procid: String,
    msgid: String,
    sd: String,
    msg: String,
}

fn parse_5424(line: &str) -> Syslog {
    let rest = line.strip_prefix('<').unwrap();
    let (pri, rest) = rest.split_once('>').unwrap();
    let mut it = rest.splitn(7, ' ');
    let mut next = || it.next().unwrap().to_owned();
    let (version, timestamp, hostname, app, procid, msgid) =
        (next(), next(), next(), next(), next(), next());
    let rest = next();
    // STRUCTURED-DATA: `-` or `[…]…` with `\]`, `\"` and `\\` escaped inside values.
    let (sd, msg) = if let Some(m) = rest.strip_prefix("- ") {
        ("-".to_owned(), m.to_owned())
    } else {
        let bytes = rest.as_bytes();
        let (mut i, mut in_value, mut depth) = (0, false, 0);
        loop {
            match bytes[i] {
                b'\\' if in_value => i += 1,
                b'"' => in_value = !in_value,
                b'[' if !in_value => depth += 1,
                b']' if !in_value => {
                    depth -= 1;
                    if depth == 0 && bytes.get(i + 1) != Some(&b'[') {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        (rest[..=i].to_owned(), rest[i + 2..].to_owned())
    };
    Syslog {
        pri: pri.parse().unwrap(),
        version,
        timestamp,
        hostname,
        app,
        procid,
        msgid,
        sd,
        msg,
    }
}

/// A CEF line: the seven header fields and the extension pairs, unescaped.
fn parse_cef(s: &str) -> (Vec<String>, Vec<(String, String)>) {
    let body = s.strip_prefix("CEF:").unwrap();
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars();
    while header.len() < 7 {
        match chars.next().unwrap() {
            '\\' => cur.push(chars.next().unwrap()),
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext: String = chars.collect();
    // Keys are the words before each unescaped `=`; a value runs to the space before the
    // next key.
    let mut raw_pairs: Vec<(String, String)> = Vec::new();
    let mut token = String::new();
    let mut it = ext.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                token.push('\\');
                token.push(it.next().unwrap());
            }
            '=' => {
                let (before, key) = match token.rfind(' ') {
                    Some(i) => (token[..i].to_owned(), token[i + 1..].to_owned()),
                    None => (String::new(), token.clone()),
                };
                if let Some(last) = raw_pairs.last_mut() {
                    last.1 = before;
                }
                raw_pairs.push((key, String::new()));
                token.clear();
            }
            c => token.push(c),
        }
    }
    if let Some(last) = raw_pairs.last_mut() {
        last.1 = token;
    }
    let unescape = |v: &str| {
        let mut out = String::new();
        let mut it = v.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next().unwrap() {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let pairs = raw_pairs
        .into_iter()
        .map(|(k, v)| (k, unescape(&v)))
        .collect();
    (header, pairs)
}

fn ext<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn udp_json_in_rfc_5424() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let n = notifier(&format!(
        "type: syslog\ntransport: udp\naddress: 127.0.0.1:{}\nhostname: web01-test\n",
        sock.local_addr().unwrap().port()
    ));
    let sent = n.send(&message()).await.unwrap();
    assert_eq!(sent.status, 0);
    let mut buf = vec![0; 65536];
    let len = sock.recv(&mut buf).unwrap();
    let line = std::str::from_utf8(&buf[..len]).unwrap();
    let s = parse_5424(line);
    assert_eq!(s.pri, 10 * 8 + 3, "authpriv.err for a high alert: {line}");
    assert_eq!(s.version, "1");
    let ts = chrono::DateTime::parse_from_rfc3339(&s.timestamp).unwrap();
    assert!((chrono::Utc::now() - ts.to_utc()).num_seconds().abs() < 60);
    assert_eq!(s.hostname, "web01-test");
    assert_eq!(s.app, "logward");
    assert_eq!(s.procid, std::process::id().to_string());
    assert_eq!(s.msgid, "ssh-login");
    assert_eq!(
        s.sd,
        format!(
            "[origin software=\"logward\" swVersion=\"{}\"]",
            env!("CARGO_PKG_VERSION")
        )
    );
    let json: Value = serde_json::from_str(&s.msg).unwrap();
    assert_eq!(json, alert());
}

#[tokio::test]
async fn tcp_octet_counted_cef_one_message_per_alert() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all
    });
    let mut evil = alert();
    evil["rule"]["name"] = Value::from(r"pipe | and \ backslash");
    evil["rule"]["id"] = Value::from("custom-rule");
    evil["message"] = Value::from("line one\nkey=value \\ end");
    evil["user"]["name"] = Value::from("eve = admin");
    evil["logward"]["severity"] = Value::from("critical");
    evil["source"] = serde_json::json!({"address": "scanner.example.net"});
    let m = render(vec![alert(), evil], Language::En);
    let n = notifier(&format!(
        "type: syslog\ntransport: tcp\naddress: 127.0.0.1:{port}\nfacility: local0\npayload: cef\n"
    ));
    n.send(&m).await.unwrap();
    let bytes = reader.join().unwrap();
    let text = String::from_utf8(bytes).unwrap();

    // RFC 6587 octet counting: `LEN SP MSG`, LEN in bytes.
    let mut frames = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        frames.push(&tail[..len]);
        rest = &tail[len..];
    }
    assert_eq!(frames.len(), 2, "{text}");

    let first = parse_5424(frames[0]);
    assert_eq!(first.pri, 16 * 8 + 3);
    let (h, e) = parse_cef(&first.msg);
    assert_eq!(
        h,
        [
            "0",
            "logward",
            "logward",
            env!("CARGO_PKG_VERSION"),
            "ssh-login",
            "SSH login",
            "8"
        ]
    );
    assert_eq!(ext(&e, "src"), Some("192.0.2.10"));
    assert_eq!(ext(&e, "spt"), Some("52022"));
    assert_eq!(ext(&e, "suser"), Some("alice"));
    assert_eq!(ext(&e, "dhost"), Some("web01"));
    assert_eq!(ext(&e, "outcome"), Some("success"));
    assert_eq!(ext(&e, "rt"), Some("1795341922000"));
    assert_eq!(ext(&e, "cnt"), Some("1"));
    assert_eq!(
        ext(&e, "msg"),
        Some("alice logged in over SSH from 192.0.2.10 (publickey)")
    );

    let second = parse_5424(frames[1]);
    assert_eq!(second.pri, 16 * 8 + 2, "local0.crit");
    assert_eq!(second.msgid, "custom-rule");
    assert!(
        !second.msg.contains('\n'),
        "a CEF event is one line: {}",
        second.msg
    );
    let (h, e) = parse_cef(&second.msg);
    assert_eq!(h[5], r"pipe | and \ backslash");
    assert_eq!(h[6], "10");
    assert_eq!(ext(&e, "suser"), Some("eve = admin"));
    assert_eq!(ext(&e, "msg"), Some("line one\nkey=value \\ end"));
    assert_eq!(ext(&e, "shost"), Some("scanner.example.net"));
    assert_eq!(ext(&e, "src"), None);
}

#[tokio::test]
async fn unix_datagrams_to_a_local_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let mut a = alert();
    a["logward"]["severity"] = Value::from("info");
    a["message"] = Value::from("长消息 ".repeat(400));
    let n = notifier(&format!(
        "type: syslog\naddress: {}\nmax_size: 600\n",
        path.display()
    ));
    n.send(&render(vec![a], Language::En)).await.unwrap();
    let mut buf = vec![0; 65536];
    let len = sock.recv(&mut buf).unwrap();
    assert!(len <= 600, "{len}");
    let line = std::str::from_utf8(&buf[..len]).unwrap();
    let s = parse_5424(line);
    assert_eq!(s.pri, 10 * 8 + 6, "authpriv.info");
    assert!(s.msg.ends_with('…'), "{}", s.msg);

    // No listener: the daemon is down or restarting, worth a retry.
    drop(sock);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        n.send(&message()).await,
        Err(SendError::Transient { .. })
    ));
    let port = logward_test_support::free_port();
    let tcp = notifier(&format!(
        "type: syslog\ntransport: tcp\naddress: 127.0.0.1:{port}\n"
    ));
    assert!(matches!(
        tcp.send(&message()).await,
        Err(SendError::Transient { .. })
    ));
}

#[tokio::test]
async fn tls_to_a_python_ssl_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let out = dir.path().join("received");
    let server = Receiver::start("tls_syslog.py", &[&cert, &key, out.to_str().unwrap()]);
    let n = notifier(&format!(
        "type: syslog\ntransport: tls\naddress: 127.0.0.1:{}\nca_file: {cert}\n",
        server.port()
    ));
    n.send(&message()).await.unwrap();
    let mut waited = 0;
    while !out.exists() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let (len, msg) = text.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), msg.len());
    let s = parse_5424(msg);
    assert_eq!(s.pri, 10 * 8 + 3);
    assert_eq!(serde_json::from_str::<Value>(&s.msg).unwrap(), alert());

    // Without the CA: refused, and transient (a certificate can be fixed without us).
    let server = Receiver::start("tls_syslog.py", &[&cert, &key, out.to_str().unwrap()]);
    let n = notifier(&format!(
        "type: syslog\ntransport: tls\naddress: 127.0.0.1:{}\n",
        server.port()
    ));
    match n.send(&message()).await {
        Err(e @ SendError::Transient { .. }) => assert!(e.to_string().contains("TLS"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syslog_configs_are_checked() {
    assert!(check("type: syslog\n").is_empty());
    let e = check(
        "type: syslog\ntransport: udp\naddress: siem\nfacility: local9\nmax_size: 100\nhostname: \"a b\"\n",
    );
    assert_eq!(e.len(), 4, "{e:?}");
    let e = check("type: syslog\ntransport: tls\n");
    assert!(e[0].contains("needs an address"), "{e:?}");
    let e = check("type: syslog\ntransport: udp\naddress: siem:514\nca_file: ca.pem\n");
    assert!(e[0].contains("only for transport tls"), "{e:?}");
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn file_appends_ndjson_created_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/alerts.log");
    let n = notifier(&format!("type: file\npath: {}\n", path.display()));
    n.send(&message()).await.unwrap();
    let mut other = alert();
    other["rule"]["id"] = Value::from("root-login");
    let sent = n
        .send(&render(vec![alert(), other], Language::En))
        .await
        .unwrap();
    assert_eq!(sent.answer, "2 line(s) appended");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let lines = lines_of(&path);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["rule"]["id"], "root-login");
    for l in &lines {
        let t = chrono::DateTime::parse_from_rfc3339(l["notified_at"].as_str().unwrap()).unwrap();
        assert!((chrono::Utc::now() - t.to_utc()).num_seconds().abs() < 60);
        assert_eq!(l["user"]["name"], "alice");
    }
}

#[tokio::test]
async fn file_rotates_by_size_and_keeps_n() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.log");
    let n = notifier(&format!(
        "type: file\npath: {}\nmax_size: 4KiB\nkeep: 2\n",
        path.display()
    ));
    for i in 0..40 {
        let mut a = alert();
        a["message"] = Value::from(format!("n={i} {}", "x".repeat(300)));
        n.send(&render(vec![a], Language::En)).await.unwrap();
    }
    let rotated = |k: u32| dir.path().join(format!("alerts.log.{k}"));
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists());
    let mut seen = Vec::new();
    for p in [rotated(2), rotated(1), path.clone()] {
        assert!(std::fs::metadata(&p).unwrap().len() <= 4096, "{p:?}");
        for l in lines_of(&p) {
            let msg = l["message"].as_str().unwrap();
            let i: u32 = msg[2..msg.find(' ').unwrap()].parse().unwrap();
            seen.push(i);
        }
    }
    // The newest alerts, in order, none lost between the kept files.
    assert_eq!(seen.last(), Some(&39));
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
    assert!(seen.len() >= 12, "{seen:?}");

    // keep: 0 drops the full file.
    let path = dir.path().join("nokeep.log");
    let n = notifier(&format!(
        "type: file\npath: {}\nmax_size: 4096\nkeep: 0\n",
        path.display()
    ));
    for _ in 0..20 {
        n.send(&message()).await.unwrap();
    }
    assert!(!dir.path().join("nokeep.log.1").exists());
    assert!(std::fs::metadata(&path).unwrap().len() <= 4096);
}

#[test]
fn file_configs_are_checked() {
    assert!(check("type: file\npath: a.log\nmax_size: 10MiB\n").is_empty());
    let e = check("type: file\npath: \"\"\nmax_size: 100\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(serde_saphyr::from_str::<logward_notify::NotifierConfig>(
        "type: file\npath: a\nmax_size: 10MB\n"
    )
    .is_err());
}
