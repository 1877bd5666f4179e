//! dropbear, the small SSH server of routers and embedded systems (texts from its
//! `svr-auth*.c` and `svr-session.c`).
//!
//! The peer is dropbear's `A:P` (an IPv6 address keeps its colons: the port is after the
//! last). User names are the client's and always quoted (`'U'`), so the peer is read where
//! the grammar puts it: after a fixed prefix (`… nonexistent user from A:P`, `Exit before auth
//! from <A:P>: …`) or after the closing quote at the end (`… for 'U' from A:P`), never
//! from inside the quotes.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, scan, start, Found};

/// Decodes one dropbear message into `e`; `None` (and `e` untouched) for the rest (listening,
/// forwarding, key options …).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| dispatch(strip_journal_prefix(message), e))
}

/// Some builds log to the journal with their own `[PID] Mon DD HH:MM:SS ` in front (fail2ban
/// gh-3597): dropped.
fn strip_journal_prefix(m: &str) -> &str {
    let Some(r) = m.strip_prefix('[') else {
        return m;
    };
    let end = scan::digits(r.as_bytes());
    let Some(r) = r.get(end..).and_then(|r| r.strip_prefix("] ")) else {
        return m;
    };
    // `Mon DD HH:MM:SS `: 16 bytes, the time's colons where they belong.
    match (r.as_bytes().get(9), r.as_bytes().get(12), r.get(16..)) {
        (Some(b':'), Some(b':'), Some(rest)) if r.as_bytes().get(15) == Some(&b' ') => rest,
        _ => m,
    }
}

fn dispatch<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = scan::trim_end_blanks(m);
    // Old releases wrote the first word in lower case.
    let (first, rest) = scan::word(m);
    match first.as_bytes().first()?.to_ascii_lowercase() {
        b'b' if first.eq_ignore_ascii_case("bad") => {
            let r = rest.strip_prefix("password attempt for '")?;
            quoted_user_then_peer(r, e, Outcome::Failure, Some("bad-password"), "password")
        }
        b't' if first == "Too-long" => {
            let r = rest.strip_prefix("password attempt for '")?;
            quoted_user_then_peer(r, e, Outcome::Failure, Some("bad-password"), "password")
        }
        b'l' if first.eq_ignore_ascii_case("login") => {
            let r = rest.strip_prefix("attempt ")?;
            if let Some(r) = r.strip_prefix("for nonexistent user from ") {
                login(e, Outcome::Failure, Some("invalid-user"), None);
                return peer(e, r);
            }
            // `Login attempt with wrong user U from A:P` (a second user name in one
            // connection): U is unquoted, so the peer is the last word.
            let r = r.strip_prefix("with wrong user ")?;
            let (user, a) = scan::rsplit_once(r, " from ")?;
            login(e, Outcome::Failure, Some("user-change"), Some(user));
            peer(e, a)
        }
        b'p' => match first {
            "Password" | "PAM" => {
                let r = rest
                    .strip_prefix("auth succeeded for '")
                    .or_else(|| rest.strip_prefix("password auth succeeded for '"))?;
                let (r, more) = extra_auth(r);
                let outcome = if more {
                    Outcome::Unknown
                } else {
                    Outcome::Success
                };
                quoted_user_then_peer(r, e, outcome, None, "password")
            }
            "Pubkey" => pubkey(rest, e),
            _ => None,
        },
        b'a' if first == "Auth" => {
            let r = rest.strip_prefix("succeeded with blank password for '")?;
            quoted_user_then_peer(r, e, Outcome::Success, None, "password")
        }
        b'e' if first == "Exit" => exit(rest, e),
        b'u' if first == "User" => user_refused(rest, e),
        b'r' if m == "root login rejected" => {
            login(e, Outcome::Failure, Some("root-refused"), Some("root"));
            Found::yes()
        }
        b'c' if first == "Child" => {
            let r = rest.strip_prefix("connection from ")?;
            start(
                e,
                Dataset::Dropbear,
                Action::ConnectionOpened,
                Outcome::Unknown,
            );
            peer(e, r)
        }
        _ => None,
    }
}

/// A `user-login` event of this outcome and reason.
fn login<'a>(
    e: &mut Event<'a>,
    outcome: Outcome,
    reason: Option<&'static str>,
    user: Option<&'a str>,
) {
    start(e, Dataset::Dropbear, Action::UserLogin, outcome);
    e.reason = reason;
    e.user_name = user.map(Cow::Borrowed);
}

/// `A:P`, `[A]:P` or `A` (the whole of `s`): the peer.
fn peer<'a>(e: &mut Event<'a>, s: &'a str) -> Option<Found<'a>> {
    let (addr, p) = split_addr_port(s)?;
    e.set_source(Cow::Borrowed(addr), p);
    Found::yes()
}

/// `A:P` → (A, P); `[A]:P` → (A, P); `None` unless `s` holds only what a numeric address
/// and port can (dropbear never resolves names), so a quote or a blank of client text is
/// never taken for a peer.
pub(crate) fn split_addr_port(s: &str) -> Option<(&str, Option<u16>)> {
    let ok = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b':' | b'.' | b'%' | b'[' | b']');
    if s.is_empty() || !s.as_bytes().iter().all(ok) {
        return None;
    }
    if let Some(r) = s.strip_prefix('[') {
        let (a, p) = r.split_once("]:")?;
        return Some((a, Some(scan::port(p.as_bytes())?)));
    }
    match s.rsplit_once(':') {
        Some((a, p)) if !a.is_empty() => match scan::port(p.as_bytes()) {
            Some(p) => Some((a, Some(p))),
            // A bare IPv6 address ends in a group, not a port.
            None => Some((s, None)),
        },
        _ => Some((s, None)),
    }
}

/// `…, extra auth required` at the end: stripped, and whether it was there.
fn extra_auth(r: &str) -> (&str, bool) {
    match r.strip_suffix(", extra auth required") {
        Some(r) => (r, true),
        None => (r, false),
    }
}

/// `U' from A:P` (the rest of `… for '`): U is everything before the last `' from `.
fn quoted_user_then_peer<'a>(
    r: &'a str,
    e: &mut Event<'a>,
    outcome: Outcome,
    reason: Option<&'static str>,
    method: &'static str,
) -> Option<Found<'a>> {
    let (user, a) = scan::rsplit_once(r, "' from ")?;
    login(e, outcome, reason, Some(user));
    e.auth_method = Some(method);
    peer(e, a)
}

/// `Pubkey auth succeeded for 'U' with [T ]key FP from A:P[, extra auth required]`, `Pubkey
/// auth bad signature for 'U' with key FP from A:P`, `Pubkey auth attempt with unknown algo
/// for 'U' from A:P`.
fn pubkey<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (outcome, r) = if let Some(r) = rest.strip_prefix("auth succeeded for '") {
        (Outcome::Success, r)
    } else if let Some(r) = rest.strip_prefix("auth bad signature for '") {
        (Outcome::Failure, r)
    } else if let Some(r) = rest.strip_prefix("auth attempt with unknown algo for '") {
        return quoted_user_then_peer(r, e, Outcome::Failure, Some("bad-key"), "publickey");
    } else {
        return None;
    };
    let (r, more) = extra_auth(r);
    // From the right: ` from A:P` ends the line, `' with [T ]key FP` precedes it; FP and T
    // are dropbear's, U before them the client's.
    let (head, a) = scan::rsplit_once(r, " from ")?;
    let at = memchr::memmem::rfind(head.as_bytes(), b"' with ")?;
    let user = head.get(..at)?;
    let key = head.get(at + 7..)?;
    let (kt, fp) = match key.strip_prefix("key ") {
        Some(fp) => (None, fp),
        None => {
            let (kt, r) = scan::word(key);
            (Some(kt), r.strip_prefix("key ")?)
        }
    };
    let outcome = if more { Outcome::Unknown } else { outcome };
    let reason = (outcome == Outcome::Failure).then_some("bad-key");
    login(e, outcome, reason, Some(user));
    e.auth_method = Some("publickey");
    e.auth_key_type = kt.map(Cow::Borrowed);
    if !fp.is_empty() && !scan::has_space(fp) {
        e.auth_key_fingerprint = Some(Cow::Borrowed(fp));
    }
    peer(e, a)
}

/// `Exit before auth from <A:P>: [(user 'U', N fails): ]WHY`, the old `Exit before auth (user
/// 'U', N fails): WHY` and `Exit (U) from <A:P>: WHY` (after authentication). Only `Max auth
/// tries reached` is a failure of its own (fail2ban counts it); the others are disconnects.
fn exit<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(r) = rest.strip_prefix("before auth") {
        let (peer_text, r) = match r.strip_prefix(" from <") {
            Some(r) => {
                let (a, r) = r.split_once(">: ")?;
                (Some(a), r)
            }
            None => (None, r.strip_prefix(' ').unwrap_or(r)),
        };
        // `(user 'U', N fails): WHY`: U is the client's, `', N fails): ` ends it.
        let (user, why) = match r.strip_prefix("(user '") {
            Some(r) => {
                let at = fails_end(r)?;
                (Some(r.get(..at.0)?), r.get(at.1..)?)
            }
            None => (None, r),
        };
        let max = why.strip_prefix("Max auth tries reached - user '");
        let mut peer_text = peer_text;
        let mut user = user;
        if let Some(m) = max {
            // Old releases: `… - user 'U' from A:P`; new: `… - user 'U'`.
            let tail =
                scan::rsplit_once(m, "' from ").filter(|(_, a)| split_addr_port(a).is_some());
            match (peer_text, tail) {
                (None, Some((u, a))) => {
                    peer_text = Some(a);
                    user = user.or(Some(u));
                }
                _ => user = user.or_else(|| m.strip_suffix('\'')),
            }
            login(e, Outcome::Failure, Some("max-attempts"), user);
        } else {
            start(
                e,
                Dataset::Dropbear,
                Action::ConnectionProbe,
                Outcome::Failure,
            );
            e.reason = Some("preauth-disconnect");
            e.user_name = user.map(Cow::Borrowed);
        }
        return match peer_text {
            Some(a) => peer(e, a),
            None => Found::yes(),
        };
    }
    // `Exit (U) from <A:P>: WHY`: a session ended.
    let r = rest.strip_prefix('(')?;
    let at = memchr::memmem::rfind(r.as_bytes(), b") from <")?;
    let user = r.get(..at)?;
    let (a, _) = r.get(at + 8..)?.split_once(">: ")?;
    start(
        e,
        Dataset::Dropbear,
        Action::ConnectionClosed,
        Outcome::Unknown,
    );
    e.user_name = Some(Cow::Borrowed(user));
    peer(e, a)
}

/// In `U', N fails): WHY`, where U ends and WHY starts: the last `', N fails): `.
fn fails_end(r: &str) -> Option<(usize, usize)> {
    let b = r.as_bytes();
    let mut best = None;
    for at in scan::find_spaced(r, " fails): ") {
        // Back over `', N`.
        let head = b.get(..at)?;
        let mut i = head.len();
        while i > 0 && head.get(i - 1).is_some_and(u8::is_ascii_digit) {
            i -= 1;
        }
        if i < head.len() && head.get(..i).is_some_and(|h| h.ends_with(b"', ")) {
            best = Some((i - 3, at + 9));
        }
    }
    best
}

/// `User 'U' has blank password, rejected`, `User account 'U' is locked`, `User 'U' has
/// invalid shell, rejected`: refused before any password (no peer on the line).
fn user_refused<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (r, reason) = if let Some(r) = rest.strip_prefix("account '") {
        (r.strip_suffix("' is locked")?, "locked-out")
    } else {
        let r = rest.strip_prefix('\'')?;
        if let Some(u) = r.strip_suffix("' has blank password, rejected") {
            (u, "not-allowed")
        } else {
            (
                r.strip_suffix("' has invalid shell, rejected")?,
                "not-allowed",
            )
        }
    };
    login(e, Outcome::Failure, Some(reason), Some(r));
    Found::yes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::test_summary::sum;
    use crate::decoders::Decoded;

    fn d(m: &str) -> Decoded<'_> {
        Decoded::run(|e| decode(m, e)).unwrap_or_else(|| panic!("not decoded: {m}"))
    }

    #[test]
    fn failures() {
        for (m, reason, host, port, user) in [
            ("Bad password attempt for 'root' from 1.2.3.4:60588", "bad-password", "1.2.3.4", Some(60588), Some("root")),
            ("bad password attempt for 'root' from 198.51.100.87:5543", "bad-password", "198.51.100.87", Some(5543), Some("root")),
            ("[825] Jul 10 23:53:52 Bad password attempt for 'root' from 1.2.3.4:52289", "bad-password", "1.2.3.4", Some(52289), Some("root")),
            ("Bad password attempt for 'x' from 6.6.6.6:1' from 1.2.3.4:5", "bad-password", "1.2.3.4", Some(5), Some("x' from 6.6.6.6:1")),
            ("Too-long password attempt for 'root' from 1.2.3.4:5", "bad-password", "1.2.3.4", Some(5), Some("root")),
            ("login attempt for nonexistent user from ::ffff:198.51.100.215:60495", "invalid-user", "198.51.100.215", Some(60495), None),
            ("Login attempt for nonexistent user from 1.2.3.4:60794", "invalid-user", "1.2.3.4", Some(60794), None),
            ("Login attempt with wrong user bob from 1.2.3.4:6", "user-change", "1.2.3.4", Some(6), Some("bob")),
            ("Exit before auth (user 'root', 10 fails): Max auth tries reached - user 'root' from 1.2.3.4:60588", "max-attempts", "1.2.3.4", Some(60588), Some("root")),
            ("Exit before auth from <192.0.2.3:52289>: (user 'root', 10 fails): Max auth tries reached - user 'root'", "max-attempts", "192.0.2.3", Some(52289), Some("root")),
            ("Exit before auth from <192.0.2.3:52325>: Max auth tries reached - user 'is invalid'", "max-attempts", "192.0.2.3", Some(52325), Some("is invalid")),
            ("Exit before auth from <[2001:db8::3]:52325>: Max auth tries reached - user 'a'", "max-attempts", "2001:db8::3", Some(52325), Some("a")),
            ("Pubkey auth bad signature for 'git' with key sha1!! 00:11 from 1.2.3.4:7", "bad-key", "1.2.3.4", Some(7), Some("git")),
            ("Pubkey auth attempt with unknown algo for 'git' from 1.2.3.4:7", "bad-key", "1.2.3.4", Some(7), Some("git")),
        ] {
            let x = d(m);
            assert_eq!(sum(&x), ("user-login", "failure", Some(reason), Some(host), port, user), "{m}");
            assert_eq!(x.event.dataset, Some(Dataset::Dropbear));
        }
        let x = d("Exit before auth (user 'x', 1 fails): Max auth tries reached - user 'x' from 6.6.6.6:1'");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("max-attempts"),
                None,
                None,
                Some("x")
            )
        );
        let x = d("User account 'bob' is locked");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "failure",
                Some("locked-out"),
                None,
                None,
                Some("bob")
            )
        );
        let x = d("Exit before auth from <192.0.2.3:5>: Exited normally");
        assert_eq!(
            sum(&x),
            (
                "connection-probe",
                "failure",
                Some("preauth-disconnect"),
                Some("192.0.2.3"),
                Some(5),
                None
            )
        );
        // The user's quoted text cannot move the peer of the old form without one.
        let x = d("Exit before auth (user 'a from 6.6.6.6:1', 1 fails): Error reading: Connection reset by peer");
        assert_eq!(x.event.source_address, None);
        assert_eq!(x.event.user_name.as_deref(), Some("a from 6.6.6.6:1"));
    }

    #[test]
    fn successes_and_others() {
        let x = d("Password auth succeeded for 'root' from 192.0.2.5:4000");
        assert_eq!(
            sum(&x),
            (
                "user-login",
                "success",
                None,
                Some("192.0.2.5"),
                Some(4000),
                Some("root")
            )
        );
        let x = d(
            "Pubkey auth succeeded for 'root' with ssh-ed25519 key SHA256:abc from 192.0.2.5:4000",
        );
        assert_eq!(sum(&x).1, "success");
        assert_eq!(x.event.auth_key_type.as_deref(), Some("ssh-ed25519"));
        assert_eq!(x.event.auth_key_fingerprint.as_deref(), Some("SHA256:abc"));
        let x = d("Pubkey auth succeeded for 'root' with key md5 00:11 from 192.0.2.5:4000");
        assert_eq!(sum(&x).3, Some("192.0.2.5"));
        let x = d("Password auth succeeded for 'root' from 192.0.2.5:4000, extra auth required");
        assert_eq!(sum(&x).1, "unknown");
        let x = d("Child connection from 192.0.2.5:4000");
        assert_eq!(sum(&x).0, "connection-opened");
        let x = d("Child connection from [2001:db8::5]:4000");
        assert_eq!(sum(&x).3, Some("2001:db8::5"));
        let x = d("Exit (root) from <192.0.2.5:4000>: Disconnect received");
        assert_eq!(
            sum(&x),
            (
                "connection-closed",
                "unknown",
                None,
                Some("192.0.2.5"),
                Some(4000),
                Some("root")
            )
        );
        for m in [
            "Failed listening on '7001': Error listening: Address already in use",
            "Running in background",
            "Bad password attempt for 'root' from 1.2.3.4:5 6",
            "",
        ] {
            assert!(Decoded::run(|e| decode(m, e)).is_none(), "{m}");
        }
    }
}
