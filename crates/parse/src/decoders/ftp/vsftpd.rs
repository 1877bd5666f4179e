//! vsftpd: `[U] FAIL LOGIN: Client "A"[, "why"]` and `[U] OK LOGIN: Client "A"` (syslog), the
//! same after `[pid N] ` in its own log (`vsftpd.log`, see `service_logs`).
//!
//! The user name in brackets is client text and may itself hold `] FAIL LOGIN: Client "…`;
//! what follows the real marker (the address vsftpd took from the socket, then an optional
//! reason of vsftpd's own) never does, so the last marker is the real one.

use logward_core::{Action, Dataset, Event, Outcome};

use super::super::{guarded, peer, scan, Found};

const FAIL: &str = "] FAIL LOGIN: Client \"";
const OK: &str = "] OK LOGIN: Client \"";

/// Decodes a vsftpd message (with or without its own `[pid N] ` prefix).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| login(message, e))
}

fn login<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = strip_pid(m).strip_prefix('[')?;
    let fail = scan::rfind(m, FAIL);
    let ok = scan::rfind(m, OK);
    let (at, len, outcome) = match (fail, ok) {
        (Some(f), Some(o)) if o > f => (o, OK.len(), Outcome::Success),
        (Some(f), _) => (f, FAIL.len(), Outcome::Failure),
        (None, Some(o)) => (o, OK.len(), Outcome::Success),
        (None, None) => return None,
    };
    let user = m.get(..at)?;
    let tail = m.get(at + len..)?;
    let (addr, rest) = tail.split_once('"')?;
    if !(rest.is_empty() || rest.starts_with(", \"")) {
        return None;
    }
    peer::set(e, addr, None)?;
    peer::user(e, user);
    let reason = (outcome == Outcome::Failure).then_some("bad-password");
    peer::event(e, Dataset::Vsftpd, Action::UserLogin, outcome, reason)
}

/// `[pid N] rest` → `rest`.
fn strip_pid(m: &str) -> &str {
    m.strip_prefix("[pid ")
        .and_then(|r| r.split_once("] "))
        .filter(|(pid, _)| !pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()))
        .map_or(m, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| decode("[pid 15019] [guest] FAIL LOGIN: Client \"::ffff:192.0.2.1\", \"User is not in the allow user list.\"", e)).unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(d.event.user_name.as_deref(), Some("guest"));
        assert_eq!(d.event.outcome, Outcome::Failure);
        let d = Decoded::run(|e| decode("[bob] OK LOGIN: Client \"192.0.2.9\"", e)).unwrap();
        assert_eq!(d.event.outcome, Outcome::Success);
    }

    #[test]
    fn a_user_name_cannot_move_the_peer() {
        let d = Decoded::run(|e| {
            decode(
                "[x] FAIL LOGIN: Client \"6.6.6.6] FAIL LOGIN: Client \"192.0.2.1\"",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
        assert!(Decoded::run(|e| decode("[x] FAIL LOGIN: Client \"host.example\"", e)).is_none());
    }
}
