//! cowrie, the SSH/telnet honeypot, in its JSON log (`log.format = json`, one object a
//! line, no syslog header: reached through `unframed`).
//!
//! The object is parsed as JSON (borrowing its strings where they hold no escapes), so a user
//! name or password that spells `"src_ip":"…"` stays inside its own string: the peer is only
//! ever the top-level `src_ip`. Every connection to a honeypot is hostile, so a connect is a
//! `connection-probe` failure (`honeypot`, what fail2ban's filter matches); logins are
//! `user-login` as anywhere else.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome, Timestamp};
use serde::Deserialize;

use super::{start, Found};

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    eventid: Cow<'a, str>,
    #[serde(borrow, default)]
    src_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    src_port: Option<u16>,
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// Whether `line` looks like a cowrie record: a JSON object naming a `cowrie.` event. Cheap,
/// so other JSON lines do not pay for a parse.
pub fn is_cowrie(line: &str) -> bool {
    line.as_bytes().first() == Some(&b'{')
        && memchr::memmem::find(line.as_bytes(), b"\"eventid\":\"cowrie.").is_some()
}

/// Decodes one cowrie JSON record into `e` (decoder fields unset); returns its time too.
/// `None`, with `e` untouched, for anything else or an event that is not about logins,
/// connections or commands.
pub fn decode<'a>(line: &'a str, e: &mut Event<'a>) -> Option<(Found<'a>, Option<Timestamp>)> {
    if !is_cowrie(line) {
        return None;
    }
    let r: Record<'a> = serde_json::from_str(line).ok()?;
    let kind = r.eventid.strip_prefix("cowrie.")?;
    let (action, outcome, reason) = match kind {
        "session.connect" => (Action::ConnectionProbe, Outcome::Failure, Some("honeypot")),
        "login.failed" => (Action::UserLogin, Outcome::Failure, Some("bad-password")),
        "login.success" => (Action::UserLogin, Outcome::Success, Some("honeypot")),
        "session.closed" => (Action::ConnectionClosed, Outcome::Unknown, None),
        "command.input" => (Action::ProcessStarted, Outcome::Unknown, Some("honeypot")),
        _ => return None,
    };
    // Peers are numeric addresses; anything else is not taken for one.
    let ip = r.src_ip.filter(|a| logward_core::parse_ip(a).is_some());
    start(e, Dataset::Cowrie, action, outcome);
    e.reason = reason;
    e.user_name = r.username;
    if action == Action::ProcessStarted {
        e.command_line = r.input;
    }
    if let Some(ip) = ip {
        e.set_source(ip, r.src_port);
    }
    let ts = r
        .timestamp
        .and_then(|t| Timestamp::parse_rfc3339(t.as_bytes()).map(|(t, _)| t));
    Some((Found::default(), ts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn d(line: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(line, e).map(|(f, _)| f))
    }

    #[test]
    fn records() {
        let x = d(r#"{"session":"2a","src_ip":"137.184.154.9","src_port":37416,"eventid":"cowrie.session.connect","timestamp":"2026-08-13T00:00:34.803989Z","message":"New connection"}"#).unwrap_or_else(|| panic!());
        assert_eq!(x.event.action(), Action::ConnectionProbe);
        assert_eq!(x.event.outcome, Outcome::Failure);
        assert_eq!(x.event.source_address.as_deref(), Some("137.184.154.9"));
        assert_eq!(x.event.source_port, Some(37416));
        let x = d(r#"{"eventid":"cowrie.login.failed","username":"root\",\"src_ip\":\"6.6.6.6","password":"x","src_ip":"192.0.2.1"}"#).unwrap_or_else(|| panic!());
        assert_eq!(x.event.action(), Action::UserLogin);
        assert_eq!(x.event.reason, Some("bad-password"));
        assert_eq!(x.event.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            x.event.user_name.as_deref(),
            Some("root\",\"src_ip\":\"6.6.6.6")
        );
        let x = d(r#"{"eventid":"cowrie.command.input","input":"uname -a","src_ip":"192.0.2.1"}"#)
            .unwrap_or_else(|| panic!());
        assert_eq!(x.event.command_line.as_deref(), Some("uname -a"));
        // A name is no peer.
        let x = d(r#"{"eventid":"cowrie.login.failed","src_ip":"evil.example"}"#)
            .unwrap_or_else(|| panic!());
        assert_eq!(x.event.source_address, None);
        for l in [
            r#"{"eventid":"cowrie.client.version","src_ip":"192.0.2.1"}"#,
            r#"{"eventid":"cowrie.login.failed","src_ip":"192.0.2.1","#,
            r#"{"eventid":"cowrie.login.failed","eventid":"cowrie.login.failed"}"#,
            r#"{"eventid":"other.login.failed"}"#,
            "not a json line at all",
        ] {
            assert!(d(l).is_none(), "{l}");
        }
        let mut e = Event::default();
        let (_, ts) = decode(
            r#"{"eventid":"cowrie.session.connect","timestamp":"2026-08-13T00:00:34.803989Z"}"#,
            &mut e,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(ts.map(|t| t.unix), Some(1_786_579_234));
    }
}
