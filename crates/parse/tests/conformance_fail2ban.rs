//! Conformance with fail2ban's annotated sshd and PAM samples (`logs/sshd`, `logs/sshd-journal`,
//! `logs/pam-generic`; annotation format in the corpus's PROVENANCE.md §1).
//!
//! Each file is decoded once, whole, in order, by one decoder, so the session correlator sees
//! the earlier lines as it would in a real log. For every `"match": true` annotation naming a
//! host, that line must yield a failure (`event.outcome: failure`, or a `connection-probe`)
//! whose `source.address` is the host (and `user.name` the user, when given). And no line that
//! names its host may yield an event blaming another peer.
//!
//! `filterOptions`, `addFILE` and `constraint` are ignored: each line is decoded once, and
//! logward's events carry what fail2ban's modes select between.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::{Action, Event, Outcome};
use serde_json::Value;

/// Lines fail2ban counts as failures that are not failures of the line itself, with why.
/// Matched by exact line text so nothing else can hide here.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // fail2ban counts an `Accepted` after failures for *other* users in the same connection
    // as one more failure (gh-2070). That is a rule over the session, not the line: the line
    // is a successful login.
    (
        "Mar  7 18:53:24 bar sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2",
        "several users tried in one connection (a rule's business)",
    ),
    (
        "Mar  7 18:53:34 bar sshd[1559]: Accepted password for known from 192.0.2.116 port 52100 ssh2",
        "several users tried in one connection (a rule's business)",
    ),
    (
        "srv sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2",
        "several users tried in one connection (a rule's business)",
    ),
    (
        "srv sshd[1559]: Accepted password for known from 192.0.2.116 port 52100 ssh2",
        "several users tried in one connection (a rule's business)",
    ),
    // `ruser= rhost=A user=X rhost=B`: both `rhost=A` (U = `X rhost=B`) and `rhost=B`
    // (R = ` rhost=A user=X`) fit pam_unix's format, and R and U can both be client text. fail2ban
    // takes A; logward withholds the peer of a line it cannot settle (no session for a
    // pid-less `daemon`), so an attacker can never choose whom it blames.
    (
        "Jul 19 18:11:52 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152",
        "ambiguous rhost: peer withheld rather than guessed",
    ),
];

struct Expect {
    line_no: usize,
    matched: bool,
    host: Option<String>,
    user: Option<String>,
}

fn annotations(text: &str) -> Vec<Expect> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start_matches('#').trim_start();
        let Some(json) = t.strip_prefix("failJSON:") else {
            continue;
        };
        if !l.starts_with('#') {
            continue;
        }
        let v: Value = serde_json::from_str(json.trim())
            .unwrap_or_else(|e| panic!("line {}: bad failJSON {json}: {e}", i + 1));
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        out.push(Expect {
            line_no: i + 1,
            matched: v.get("match").and_then(Value::as_bool).unwrap_or(false),
            host: s("host").or_else(|| s("ip4")).or_else(|| s("ip6")),
            user: s("user"),
        });
    }
    out
}

fn is_failure(e: &Event<'_>) -> bool {
    e.outcome == Outcome::Failure || e.action() == Action::ConnectionProbe
}

fn check(name: &str) {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let text = common::read_lossy(&dir.join("fail2ban/logs").join(name));
    let lines: Vec<&str> = text.lines().collect();
    let events = common::decode_all(&text);
    assert_eq!(lines.len(), events.len());
    let (mut expected, mut matched, mut wrong_source, mut known) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for a in annotations(&text) {
        let Some(line) = lines.get(a.line_no) else {
            panic!("{name}: failJSON on the last line");
        };
        let e = &events[a.line_no];
        let Some(host) = a.host.as_deref() else {
            continue;
        };
        if let Some(src) = e.source_address.as_deref() {
            if src != host {
                wrong_source += 1;
                problems.push(format!("WRONG SOURCE {src} (true peer {host}): {line}"));
            }
        }
        if !a.matched {
            continue;
        }
        expected += 1;
        if let Some((_, why)) = KNOWN_DIFFERENCES.iter().find(|(l, _)| l == line) {
            known += 1;
            eprintln!("{name}: known difference ({why}): {line}");
            continue;
        }
        let user_ok = match a.user.as_deref() {
            Some(u) => e.user_name.as_deref() == Some(u),
            None => true,
        };
        if is_failure(e) && e.source_address.as_deref() == Some(host) && user_ok {
            matched += 1;
        } else {
            problems.push(format!(
                "MISSED host={host} user={:?}: got {} {} source={:?} user={:?}: {line}",
                a.user,
                e.action(),
                e.outcome.as_str(),
                e.source_address,
                e.user_name
            ));
        }
    }
    eprintln!(
        "fail2ban {name}: {matched}/{} matched ({known} known differences of {expected}), {wrong_source} wrong sources",
        expected - known
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(expected > 0, "{name}: no annotations read");
    assert_eq!(matched, expected - known, "{name}: missed failures");
    assert_eq!(wrong_source, 0, "{name}: wrong sources");
}

#[test]
fn fail2ban_sshd() {
    check("sshd");
}

#[test]
fn fail2ban_sshd_journal() {
    check("sshd-journal");
}

#[test]
fn fail2ban_pam_generic() {
    check("pam-generic");
}

#[test]
fn known_differences_are_all_present() {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let all: String = ["sshd", "sshd-journal", "pam-generic"]
        .iter()
        .map(|n| common::read_lossy(&dir.join("fail2ban/logs").join(n)))
        .collect();
    for (line, _) in KNOWN_DIFFERENCES {
        assert!(
            all.lines().any(|l| l == *line),
            "stale known difference: {line}"
        );
    }
}
