//! lighttpd's mod_auth (formerly http_auth) failures, from its error log
//! (`2018-01-16 14:10:32: (mod_auth.c.525) password doesn't match for /x username: U, IP: A`)
//! or through syslog (`lighttpd[764]: (mod_auth.c.853) …`).
//!
//! The peer is the address after the last `IP: `, which ends the line: the path and the user
//! name before it are the client's text and cannot move it.

use logward_core::{Dataset, Event};

use super::super::{guarded, Found};
use super::{login_failure, ymd_hms};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::text::FastFind;

/// A line of lighttpd's own error log (starts with `YYYY-MM-DD HH:MM:SS: `).
pub fn decode_file<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (date, time) = ymd_hms(line.as_bytes(), b'-')?;
    let msg = line.get(19..)?.strip_prefix(": ")?;
    let timestamp = years.wall_clock(date, time, 0)?;
    let found = decode(msg, e)?;
    Some(Unframed {
        found,
        timestamp: Some(timestamp),
        program: Some("lighttpd"),
    })
}

/// `(FILE.c.LINE) MESSAGE[,] IP: A` (fail2ban's samples also drop the opening parenthesis).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = message.strip_prefix('(').unwrap_or(message);
        let (source_file, msg) = m.split_once(") ")?;
        if !(source_file.starts_with("mod_auth.c.") || source_file.starts_with("http_auth.c.")) {
            return None;
        }
        let (text, addr) = msg.frsplit_once("IP: ")?;
        let addr = addr.trim_end_matches(' ');
        let text = text.trim_end_matches(' ');
        let text = text.strip_suffix(',').unwrap_or(text);
        const L: Dataset = Dataset::Lighttpd;
        if let Some(rest) = text.strip_prefix("password doesn't match for ") {
            let user = rest.frsplit_once(" username: ").map_or("", |(_, u)| u);
            login_failure(e, L, "bad-password", user);
        } else if let Some(rest) = text.strip_prefix("digest: auth failed for ") {
            let user = rest
                .strip_suffix(": wrong password")
                .map_or("", |u| u.trim_matches(' '));
            login_failure(e, L, "bad-password", user);
        } else if text.starts_with("digest: auth failed: ")
            || text == "get_password failed"
            || text.starts_with("client used invalid token")
        {
            login_failure(e, L, "auth-failed", "");
        } else if let Some(rest) = text.strip_prefix("user \"") {
            // `user "U" not found: REALM`, `user "U" password mismatch: REALM`.
            let (u, tail) = rest.fsplit_once("\" ")?;
            let reason = if tail.starts_with("not found") {
                "invalid-user"
            } else if tail.starts_with("password mismatch") {
                "bad-password"
            } else {
                return None;
            };
            login_failure(e, L, reason, u);
        } else {
            return None;
        }
        super::peer(e, addr, None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        for (m, reason, user, ip) in [
            ("(mod_auth.c.525) password doesn't match for /test-url username: test, IP: 192.0.2.1", "bad-password", Some("test"), "192.0.2.1"),
            ("mod_auth.c.828) password doesn't match for /secure/ username: test IP: 192.0.2.2", "bad-password", Some("test"), "192.0.2.2"),
            ("(mod_auth.c.791) digest: auth failed for  tester : wrong password, IP: 192.0.2.3", "bad-password", Some("tester"), "192.0.2.3"),
            ("(mod_auth.c.791) digest: auth failed: uri mismatch (/uri1 != /uri2), IP: 192.0.2.4", "auth-failed", None, "192.0.2.4"),
            ("(http_auth.c.877) get_password failed, IP: 4.4.4.4", "auth-failed", None, "4.4.4.4"),
            // An injected `IP: ` in the user name does not move the peer.
            ("(mod_auth.c.525) password doesn't match for / username: x, IP: 6.6.6.6, IP: 192.0.2.9", "bad-password", Some("x, IP: 6.6.6.6"), "192.0.2.9"),
        ] {
            let e = Decoded::run(|e| decode(m, e)).unwrap().event;
            assert_eq!((e.reason, e.user_name.as_deref(), e.source_address.as_deref()), (Some(reason), user, Some(ip)), "{m}");
        }
        assert!(Decoded::run(|e| decode(
            "(mod_auth.c.1) password doesn't match for / username: x, IP: evil",
            e
        ))
        .is_none());
        assert!(Decoded::run(|e| decode("(server.c.1) server started", e)).is_none());
    }
}
