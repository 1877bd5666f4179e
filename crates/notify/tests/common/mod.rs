//! What the notifier tests share: a rendered message, notifiers built from YAML, and the
//! Python receivers under `tests/receivers/`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use logward_notify::config::Language;
use logward_notify::message::Item;
use logward_notify::template::Templates;
use logward_notify::{Message, Notifier, NotifierConfig};
use serde_json::{json, Value};

pub fn alert() -> Value {
    json!({
        "@timestamp": "2026-11-22T10:05:22Z",
        "message": "alice logged in over SSH from 192.0.2.10 (publickey)",
        "event": {"severity": 4, "kind": "alert", "outcome": "success"},
        "host": {"name": "web01"},
        "source": {"address": "192.0.2.10", "ip": "192.0.2.10", "port": 52022},
        "user": {"name": "alice"},
        "logward": {"severity": "high", "auth": {"method": "publickey"}},
        "rule": {"id": "ssh-login", "name": "SSH login"}
    })
}

/// A Windows event's alert as the agent writes it (logward_core's writer): a 4625 network
/// logon failure from workstation KALI, or a 4720 account created by alice (the account
/// acted on: mallory), with their Event XML as `event.original`.
pub fn windows_alert(event_id: u32) -> Value {
    use logward_core::{write_alert, Action, Alert, Dataset, Event, Outcome, Severity, Winlog};
    let logon = event_id == 4625;
    let (action, outcome) = if logon {
        (Action::UserLogin, Outcome::Failure)
    } else {
        (Action::UserCreated, Outcome::Success)
    };
    let mut e = Event::new(Dataset::WindowsSecurity, action, outcome);
    e.timestamp = logward_core::Timestamp::parse_rfc3339(b"2026-11-22T10:05:22Z").map(|t| t.0);
    e.host_name = Some("DC01".into());
    let data: &[(&str, &str)] = if logon {
        e.user_name = Some("administrator".into());
        e.set_source("203.0.113.50".into(), Some(49812));
        &[
            ("TargetUserName", "administrator"),
            ("LogonType", "3"),
            ("WorkstationName", "KALI"),
            ("IpAddress", "203.0.113.50"),
            ("IpPort", "49812"),
        ]
    } else {
        e.user_name = Some("alice".into());
        e.user_target_name = Some("mallory".into());
        &[("TargetUserName", "mallory"), ("SubjectUserName", "alice")]
    };
    e.winlog = Some(Box::new(Winlog {
        channel: "Security".into(),
        event_id,
        provider_name: "Microsoft-Windows-Security-Auditing".into(),
        computer_name: "DC01".into(),
        record_id: Some(9001),
        logon_type: logon.then_some("network"),
        event_data: data
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    }));
    e.original = Some(
        format!("<Event><System><EventID>{event_id}</EventID><Channel>Security</Channel></System></Event>").into(),
    );
    let (rule, name, message) = if logon {
        (
            "auth-bruteforce",
            "Brute force",
            "brute force from 203.0.113.50 (windows.security)",
        )
    } else {
        (
            "account-created",
            "Account created",
            "account mallory created on DC01",
        )
    };
    let mut a = Alert::new(e, rule, name, Severity::High, message);
    a.labels = vec![
        ("auth_failures".into(), "12".into()),
        ("auth_services".into(), "1".into()),
    ];
    let mut out = Vec::new();
    write_alert(&mut out, &a);
    serde_json::from_slice(&out).unwrap()
}

/// One alert (or a digest of several) rendered with the built-in templates.
pub fn render(alerts: Vec<Value>, lang: Language) -> Message {
    let items: Vec<Item> = alerts.into_iter().map(|a| Item::from_json(a, 1)).collect();
    let t = Templates::new(lang, &BTreeMap::new()).unwrap();
    Message::render(&items, &t, "alert-42-n1".into()).unwrap()
}

pub fn message() -> Message {
    render(vec![alert()], Language::En)
}

/// A notifier from its YAML config, which must pass `check`.
pub fn notifier(yaml: &str) -> Notifier {
    let cfg: NotifierConfig = serde_saphyr::from_str(yaml).unwrap();
    let errors = cfg.check(Language::En);
    assert!(errors.is_empty(), "{errors:?}");
    Notifier::build("test", &cfg, Language::En).unwrap()
}

/// `check`'s errors for a YAML config.
pub fn check(yaml: &str) -> Vec<String> {
    let cfg: NotifierConfig = serde_saphyr::from_str(yaml).unwrap();
    cfg.check(Language::En)
}

/// A Python helper from `tests/receivers/`, killed when dropped; the first line it prints
/// (a port, a ready mark) is kept.
#[derive(Debug)]
pub struct Receiver {
    child: Child,
    pub first_line: String,
}

/// A Python 3 that can import `module`: the one on PATH, else Debian's (where
/// `apt-get install python3-<module>` puts it when PATH leads to another Python, pyenv's).
/// `None` when neither can; under `CI=true` that fails the test instead.
pub fn python_with(module: &str) -> Option<&'static str> {
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        logward_test_support::skipped(format_args!(
            "no python3 can import {module} (scripts/test.sh installs it)"
        ));
    }
    found
}

impl Receiver {
    pub fn start(script: &str, args: &[&str]) -> Receiver {
        Receiver::start_with("python3", script, args)
    }

    pub fn start_with(python: &str, script: &str, args: &[&str]) -> Receiver {
        let path = format!("{}/tests/receivers/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(python)
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the test receivers");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.is_empty(), "{script} printed nothing: did it start?");
        Receiver {
            child,
            first_line: line.trim().to_owned(),
        }
    }

    pub fn port(&self) -> u16 {
        self.first_line.parse().unwrap()
    }

    /// `http://127.0.0.1:<port>`, for a receiver that printed its port.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// Every request an HTTP receiver recorded (its `GET /_requests`), oldest first.
    pub async fn recorded(&self) -> Vec<Value> {
        let text = reqwest::get(format!("{}/_requests", self.base()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for 127.0.0.1 (not a CA: rustls refuses a CA as a server's
/// certificate), made with the openssl CLI.
pub fn certificate(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI makes the test certificate");
    assert!(status.success());
    (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    )
}
