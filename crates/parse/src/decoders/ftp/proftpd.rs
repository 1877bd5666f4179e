//! ProFTPD: `SERVER (NAME[A]) - MSG` (also `SERVER (NAME[A]): MSG`), in syslog and in its
//! own `proftpd.log` (`service_logs`). The peer is the address in the session prefix, which
//! ProFTPD took from the socket; NAME is its reverse lookup (the resolver admits no
//! brackets in a host name), and the message after it, which holds the user name the
//! client sent, is never searched for an address.

use logward_core::{Action, Dataset, Event, Outcome};

use super::super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| session(message, e))
}

fn session<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (_server, rest) = scan::word(m);
    let rest = rest.strip_prefix('(')?;
    let open = scan::find_byte(b'[', rest.as_bytes())?;
    let inner = rest.get(open + 1..)?;
    let close = scan::find_byte(b']', inner.as_bytes())?;
    let addr = inner.get(..close)?;
    let after = inner.get(close + 1..)?.strip_prefix(')')?;
    let msg = after
        .strip_prefix(" - ")
        .or_else(|| after.strip_prefix(": "))?;
    body(scan::trim_end_blanks(msg), e)?;
    peer::set(e, addr, None)?;
    Found::yes()
}

fn body<'a>(msg: &'a str, e: &mut Event<'a>) -> Option<()> {
    if let Some(rest) = msg.strip_prefix("USER ") {
        // The user name is client text: cut at the last marker (the text after it is
        // ProFTPD's own).
        if let Some(i) = scan::rfind(rest, ": no such user found from ") {
            peer::user(e, rest.get(..i)?);
            return failed(e, "invalid-user");
        }
        if let Some(i) = scan::rfind(rest, " (Login failed): ") {
            peer::user(e, rest.get(..i)?);
            let why = rest.get(i + " (Login failed): ".len()..)?;
            return failed(
                e,
                if why.starts_with("Incorrect password") {
                    "bad-password"
                } else {
                    "not-allowed"
                },
            );
        }
        let i = scan::rfind(rest, ": Login successful")?;
        peer::user(e, rest.get(..i)?);
        let _: Found<'_> = peer::event(
            e,
            Dataset::Proftpd,
            Action::UserLogin,
            Outcome::Success,
            None,
        )?;
        return Some(());
    }
    if let Some(rest) = msg.strip_prefix("SECURITY VIOLATION: ") {
        let (user, tail) = scan::word(rest);
        if !tail.starts_with("login attempted") {
            return None;
        }
        peer::user(e, user);
        return failed(e, "root-refused");
    }
    if msg.starts_with("Maximum login attempts (") && msg.ends_with(") exceeded") {
        return failed(e, "max-attempts");
    }
    None
}

fn failed(e: &mut Event<'_>, reason: &'static str) -> Option<()> {
    peer::login_failed(e, Dataset::Proftpd, reason).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn an_injected_session_prefix_in_the_user_name_is_not_the_peer() {
        let d = Decoded::run(|e| decode("srv (::ffff:59.167.242.100[::ffff:59.167.242.100]): USER srv proftpd[17424] srv (x[1.2.3.44]): no such user found from ::ffff:59.167.242.100 [::ffff:59.167.242.100] to ::ffff:113.212.99.194:21", e)).unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("59.167.242.100"));
        assert_eq!(d.event.reason, Some("invalid-user"));
    }

    #[test]
    fn forms() {
        let d = Decoded::run(|e| {
            decode(
                "srv (h.example[192.0.2.5]) - USER bob: Login successful.",
                e,
            )
        })
        .unwrap();
        assert_eq!(
            (d.event.outcome, d.event.user_name.as_deref()),
            (Outcome::Success, Some("bob"))
        );
        let d = Decoded::run(|e| {
            decode(
                "srv (h[192.0.2.5]) - Maximum login attempts (3) exceeded",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.reason, Some("max-attempts"));
        assert!(Decoded::run(|e| decode("srv (h[192.0.2.5]) - FTP session opened.", e)).is_none());
    }
}
