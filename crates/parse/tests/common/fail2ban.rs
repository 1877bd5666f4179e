//! fail2ban's annotated filter test logs (corpus `fail2ban/logs/`; the annotation format is in
//! the corpus's PROVENANCE.md §1): one check per file, which prints its table.
//!
//! Each file is decoded once, whole, in order, by one decoder, so the session correlator sees
//! the earlier lines as it would in a real log.
//!
//! - Every `"match": true` line naming a host must yield a failure (`event.outcome: failure`,
//!   a `connection-probe` or a `service-abuse`) whose `source.ip` is the host (`source.address`
//!   when the host is a name), and whose `user.name` or `user.target.name` is the user when
//!   one is given.
//! - No `"match": false` line may yield what a brute-force rule counts against its source (an
//!   authentication failure outside the `pam` dataset, which repeats the service's own line,
//!   or a `service-abuse`): logward must never count a line fail2ban ignores.
//! - No line naming its host may yield an event blaming another peer.
//!
//! Lines where logward deliberately differs are listed per file, by exact text, with the
//! reason; a listed line that is not in the file fails the check, so nothing hides there.
//! `filterOptions` and `addFILE` are ignored: each line is decoded once, and logward's events
//! carry what fail2ban's modes select between.
#![allow(dead_code)]

use std::net::IpAddr;

use logward_core::{Action, Category, Dataset, Event, Outcome};
use serde_json::Value;

pub struct Expect {
    pub line_no: usize,
    pub matched: bool,
    pub host: Option<String>,
    pub user: Option<String>,
}

/// The `# failJSON:` annotations of a file; `line_no` is the 0-based index of the line each
/// applies to (the next one).
pub fn annotations(text: &str) -> Vec<Expect> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if !l.starts_with('#') {
            continue;
        }
        let t = l.trim_start_matches('#').trim_start();
        let Some(json) = t.strip_prefix("failJSON:") else {
            continue;
        };
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

/// What fail2ban would count: a failure, a probe or abuse.
pub fn is_failure(e: &Event<'_>) -> bool {
    e.outcome == Outcome::Failure
        || matches!(e.action(), Action::ConnectionProbe | Action::ServiceAbuse)
}

/// What the default rules count against `source.ip`: an authentication failure (not PAM's
/// repeat of the service's own line, nor a public key a client offered and the server
/// declined: clients offer every key they hold, so that is no attack — fail2ban's
/// `publickey = nofail`) or abuse of a service.
pub fn is_counted(e: &Event<'_>) -> bool {
    let auth_failure = e.outcome == Outcome::Failure
        && e.category.contains(Category::AUTHENTICATION)
        && e.dataset != Some(Dataset::Pam)
        && e.reason != Some("bad-key");
    auth_failure || e.action() == Action::ServiceAbuse
}

/// Whether the event's source is `host`: `source.ip` for addresses, `source.address` for
/// names.
pub fn source_is(e: &Event<'_>, host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => e.source_ip == Some(ip),
        Err(_) => e.source_address.as_deref() == Some(host),
    }
}

/// Checks one file of `fail2ban/logs/` (see the module comment); `known` lists the lines
/// where logward deliberately differs, with why. Returns silently when the corpus is absent.
pub fn check(name: &str, known: &[(&str, &str)]) {
    let Some(dir) = logward_test_support::corpus("") else {
        return;
    };
    let text = super::read_lossy(&dir.join("fail2ban/logs").join(name));
    let lines: Vec<&str> = text.lines().collect();
    let events = super::decode_all(&text);
    assert_eq!(lines.len(), events.len());
    for (line, _) in known {
        assert!(
            lines.iter().any(|l| l == line),
            "{name}: stale known difference: {line}"
        );
    }
    let (mut expected, mut matched, mut known_n) = (0, 0, 0);
    let (mut wrong_source, mut false_blame) = (0, 0);
    let mut problems = Vec::new();
    for a in annotations(&text) {
        let Some(line) = lines.get(a.line_no) else {
            panic!("{name}: failJSON on the last line");
        };
        let e = &events[a.line_no];
        if let Some(why) = known.iter().find(|(l, _)| l == line).map(|(_, w)| w) {
            known_n += 1;
            eprintln!("  known difference ({why}): {line}");
            continue;
        }
        if let (Some(host), Some(src)) = (a.host.as_deref(), e.source_address.as_deref()) {
            if !source_is(e, host) {
                wrong_source += 1;
                problems.push(format!("WRONG SOURCE {src} (true peer {host}): {line}"));
            }
        }
        if !a.matched {
            if is_counted(e) && e.source_address.is_some() {
                false_blame += 1;
                problems.push(format!(
                    "FALSE BLAME {} {} {:?}: {line}",
                    e.action(),
                    e.outcome.as_str(),
                    e.source_address
                ));
            }
            continue;
        }
        let Some(host) = a.host.as_deref() else {
            continue;
        };
        expected += 1;
        let user_ok = match a.user.as_deref() {
            Some(u) => {
                e.user_name.as_deref() == Some(u) || e.user_target_name.as_deref() == Some(u)
            }
            None => true,
        };
        if is_failure(e) && source_is(e, host) && user_ok {
            matched += 1;
        } else {
            problems.push(format!(
                "MISSED host={host} user={:?}: got {} {} {:?} source={:?} user={:?}: {line}",
                a.user,
                e.dataset.map_or("-", |d| d.as_str()),
                e.action(),
                e.outcome.as_str(),
                e.source_address,
                e.user_name
            ));
        }
    }
    eprintln!(
        "fail2ban {name:<22} {matched:>4}/{expected:<4} matched  {known_n:>2} known differences  {wrong_source} wrong sources  {false_blame} false blames"
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(expected > 0 || known_n > 0, "{name}: no annotations read");
    assert!(problems.is_empty(), "{name}: {} problems", problems.len());
}
