//! What an admin sees in chat, end to end: the real daemon reads real log lines and delivers
//! to a real webhook receiver on 127.0.0.1 with the default dedup (10 min). The body template
//! records the title and text a chat robot would show.
#![allow(clippy::disallowed_methods)] // the test spawns the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use logward_test_support::daemon::Daemon;
use serde_json::Value;

#[path = "support/webhook.rs"]
mod webhook;

use webhook::{Hook, Request};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

const BODY: &str =
    r#"'{"title": {{ title|tojson }}, "text": {{ text|tojson }}, "alert": {{ alert|tojson }}}'"#;

/// A daemon reading `lines` from the start of its log, delivering to `hook` (with `extra`
/// notify settings and, when given, its own rules).
fn run(dir: &Path, port: u16, lines: &str, extra: &str, rules: Option<&str>) -> Daemon {
    let log = dir.join("auth.log");
    std::fs::write(&log, lines).unwrap();
    let rules = match rules {
        Some(r) => {
            std::fs::write(dir.join("rules.yaml"), r).unwrap();
            "rules: rules.yaml\n"
        }
        None => "",
    };
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n{rules}\
             notify:\n  notifiers:\n    hook: {{type: webhook, url: 'http://127.0.0.1:{port}/chat', body: {BODY}{extra}}}\n    \
             log: {{type: file, path: {}}}\n",
            log.display(),
            dir.join("alerts.ndjson").display()
        ),
    )
    .unwrap();
    Daemon::start(BIN, &cfg, &dir.join("state"), dir)
}

fn messages(reqs: &[Request]) -> Vec<Value> {
    reqs.iter().map(Request::json).collect()
}

/// The users an alert (or each alert of a digest) names.
fn users(m: &Value) -> Vec<String> {
    let a = &m["alert"];
    let all = match a.get("alerts") {
        Some(list) => list.as_array().unwrap().clone(),
        None => vec![a.clone()],
    };
    all.iter()
        .map(|a| a["user"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Issue 13: the dedup key had no user and held repeats for ten minutes, so a second user's
/// login from the same address was never named and a second critical login waited. Each
/// login and each critical alert now goes out at once, on its own, naming its user and key.
#[test]
fn default_dedup_delivers_every_login_at_once_and_never_merges_users() {
    let d = tempfile::tempdir().unwrap();
    let (hook, port) = Hook::start_on(0);
    let lines = "\
Jan 10 10:00:01 web sshd[101]: Accepted publickey for alice from 192.0.2.10 port 40001 ssh2: ED25519 SHA256:AliceKeyFingerprint0\n\
Jan 10 10:00:02 web sshd[102]: Accepted publickey for bob from 192.0.2.10 port 40002 ssh2: ED25519 SHA256:BobKeyFingerprint00\n\
Jan 10 10:00:03 web sshd[103]: Accepted publickey for alice from 192.0.2.10 port 40003 ssh2: ED25519 SHA256:AliceKeyFingerprint0\n\
Jan 10 10:00:04 web sshd[104]: Failed password for carol from 198.51.100.7 port 40004 ssh2\n\
Jan 10 10:00:05 web sshd[105]: Failed password for carol from 198.51.100.7 port 40005 ssh2\n\
Jan 10 10:00:06 web sshd[106]: Failed password for carol from 198.51.100.7 port 40006 ssh2\n\
Jan 10 10:00:07 web sshd[107]: Accepted password for carol from 198.51.100.7 port 40007 ssh2\n";
    let dm = run(d.path(), port, lines, "", None);
    // Four ssh-login alerts and one critical ssh-login-after-failures, each its own message.
    hook.wait_for(Duration::from_secs(15), |r| r.len() >= 5);
    std::thread::sleep(Duration::from_millis(500)); // a merged or extra message would show
    let got = messages(&hook.accepted());
    assert_eq!(got.len(), 5, "{got:#?}\n{}", dm.log());
    let mut logins: Vec<String> = got
        .iter()
        .filter(|m| m["alert"]["rule"]["id"] == "ssh-login")
        .flat_map(users)
        .collect();
    logins.sort();
    assert_eq!(logins, ["alice", "alice", "bob", "carol"], "{got:#?}");
    for m in &got {
        assert!(m["alert"].get("digest").is_none(), "{m:#}");
        let title = m["title"].as_str().unwrap();
        assert!(!title.contains("(x"), "nothing merged: {title}");
        let user = users(m)[0].clone();
        let text = m["text"].as_str().unwrap();
        assert!(text.contains(&format!("User: {user}")), "{text}");
    }
    let critical: Vec<&Value> = got
        .iter()
        .filter(|m| m["alert"]["rule"]["id"] == "ssh-login-after-failures")
        .collect();
    assert_eq!(critical.len(), 1, "{got:#?}");
    assert!(critical[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("[CRITICAL]"));
    // A key login's message shows the key.
    let bob = got.iter().find(|m| users(m) == ["bob"]).unwrap();
    assert!(
        bob["text"]
            .as_str()
            .unwrap()
            .contains("Key: SHA256:BobKeyFingerprint00"),
        "{bob:#}"
    );
}

const RULES: &str = r#"chains:
  root-guess:
    - {type: equals, field: event.outcome, value: failure}
    - {type: equals, field: user.name, value: root}
    - {type: alert, id: root-guess, name: Root password guess, severity: critical, message: "root password guessed from {{ source.ip }}"}
  probe:
    - {type: equals, field: event.outcome, value: failure}
    - {type: alert, id: probe, name: Failed login, severity: medium, tags: [bruteforce], message: "failed login for {{ user.name }} from {{ source.ip }}"}
"#;

/// Issue 13: a critical alert went out inside an unlabelled rate-limit digest ("6 alerts
/// (6 events)") and repeats of one critical alert were held by the dedup window. Critical
/// alerts are never held back by a rate limit or a dedup window; the digest of the rest
/// says its highest severity and host in its title and names the users and addresses.
#[test]
fn critical_alerts_pass_the_rate_limit_and_a_digest_says_what_it_holds() {
    let d = tempfile::tempdir().unwrap();
    let (hook, port) = Hook::start_on(0);
    let mut lines = String::new();
    for i in 1..=4 {
        lines.push_str(&format!(
            "Jan 10 10:00:0{i} web sshd[{i}]: Failed password for u{i} from 192.0.2.{i} port 4000{i} ssh2\n"
        ));
    }
    for i in 5..=6 {
        lines.push_str(&format!(
            "Jan 10 10:00:0{i} web sshd[{i}]: Failed password for root from 203.0.113.9 port 4000{i} ssh2\n"
        ));
    }
    // Three messages a minute: the two critical alerts and one digest of the four others.
    let dm = run(d.path(), port, &lines, ", rate: [3/1m]", Some(RULES));
    let got = hook.wait_for(Duration::from_secs(15), |r| {
        messages(r).iter().map(|m| users(m).len()).sum::<usize>() >= 6
    });
    let got = messages(&got);
    assert_eq!(got.len(), 3, "{got:#?}\n{}", dm.log());
    let critical: Vec<&Value> = got
        .iter()
        .filter(|m| m["alert"]["rule"]["id"] == "root-guess")
        .collect();
    assert_eq!(critical.len(), 2, "each on its own: {got:#?}");
    for m in critical {
        assert!(m["title"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] Root password guess on web"));
    }
    let digest = got.iter().find(|m| m["alert"]["digest"] == true).unwrap();
    assert_eq!(
        digest["title"], "[MEDIUM] logward: 4 alerts (4 events) on web",
        "{digest:#}"
    );
    let text = digest["text"].as_str().unwrap();
    assert!(text.contains("Users: u1, u2, u3, u4"), "{text}");
    assert!(
        text.contains("Sources: 192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4"),
        "{text}"
    );
    assert_eq!(digest["alert"]["severity"], "medium");
    assert_eq!(digest["alert"]["hosts"], serde_json::json!(["web"]));
}

/// Issue 13: with no route every alert (each logout too) went to every notifier. Without
/// routes, chat gets logins, account changes, bans and high alerts; the alert log (a `file`
/// notifier) gets everything.
#[test]
fn without_routes_chat_gets_logins_and_the_alert_log_everything() {
    let d = tempfile::tempdir().unwrap();
    let (hook, port) = Hook::start_on(0);
    let lines = "\
Jan 10 10:00:01 web sshd[101]: Accepted publickey for alice from 192.0.2.10 port 40001 ssh2: ED25519 SHA256:AliceKeyFingerprint0\n\
Jan 10 10:00:02 web sshd[101]: pam_unix(sshd:session): session closed for user alice\n";
    let dm = run(d.path(), port, lines, "", None);
    let alert_log = d.path().join("alerts.ndjson");
    let t = std::time::Instant::now();
    let logged = loop {
        let text = std::fs::read_to_string(&alert_log).unwrap_or_default();
        if text.lines().count() >= 2 || t.elapsed() > Duration::from_secs(15) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rules: Vec<String> = logged
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["rule"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(rules, ["ssh-login", "user-logout"], "{}", dm.log());
    hook.wait_for(Duration::from_secs(15), |r| !r.is_empty());
    std::thread::sleep(Duration::from_millis(500)); // a logout would arrive by now
    let chat = messages(&hook.accepted());
    assert_eq!(chat.len(), 1, "{chat:#?}");
    assert_eq!(chat[0]["alert"]["rule"]["id"], "ssh-login");
}
