//! Courier: the IMAP/POP3 login daemons (`imapd`, `pop3d`, `imapd-ssl`, `pop3d-ssl`,
//! `courierpop3login`, …) and `courieresmtpd`.
//!
//! `LOGIN FAILED, user=U, ip=[A][, port=[P]]`: U is the client's and comes first, so the
//! peer is the last `, ip=[A]`, which must close the line (or be followed by the port only).
//! `error,relay=A,…`: the relay follows a fixed prefix.

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Dataset, Event};

use super::{abuse, bracketed, login_failed, non_empty, set_peer};
use crate::decoders::{guarded, scan, Found};

const DS: Dataset = Dataset::Courier;

/// Whether a syslog program is Courier's (the plain `imapd`/`pop3d` go through
/// [`super::imapd`]).
#[inline]
pub fn is_courier(program: &str) -> bool {
    program.starts_with("courier") || matches!(program, "imapd-ssl" | "pop3d-ssl")
}

/// Decodes one Courier message into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = scan::trim_end_blanks(message);
        if let Some(rest) = m.strip_prefix("LOGIN FAILED, ") {
            login(rest, e)
        } else if let Some(rest) = m.strip_prefix("error,relay=") {
            smtp_error(rest, e)
        } else {
            None
        }
    })
}

fn login<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let at = scan::rfind(rest, "ip=[")?;
    let head = rest.get(..at)?;
    if !(head.is_empty() || head.ends_with(", ")) {
        return None;
    }
    let (addr, after) = bracketed(rest.get(at + 3..)?)?;
    let port = match after.strip_prefix(", port=[") {
        Some(p) => Some(scan::port(p.strip_suffix(']')?.as_bytes())?),
        None if after.is_empty() => None,
        None => return None,
    };
    let user = head
        .strip_suffix(", ")
        .and_then(|h| h.strip_prefix("user="))
        .and_then(non_empty);
    set_peer(e, addr, port);
    e.user_name = user.map(Cow::Borrowed);
    login_failed(e, DS, "auth-failed")
}

/// `error,relay=A,[port=P,]msg="535 Authentication failed.",cmd: …` or
/// `error,relay=A,[ident=…,]from=<S>,to=<R>: 550 User unknown.`
fn smtp_error<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let comma = scan::find_byte(b',', rest.as_bytes())?;
    let addr = rest.get(..comma)?;
    parse_ip(addr)?;
    let mut r = rest.get(comma + 1..)?;
    let mut port = None;
    if let Some(p) = r.strip_prefix("port=") {
        let n = scan::digits(p.as_bytes());
        port = scan::port(p.get(..n)?.as_bytes());
        r = p.get(n..)?.strip_prefix(',')?;
    }
    set_peer(e, addr, port);
    if r.starts_with("msg=\"535 ") {
        return login_failed(e, DS, "auth-failed");
    }
    // The reply follows the last `>: ` (after the client's `to=<R>`).
    let (_, reply) = scan::rsplit_once(r, ">: ")?;
    let reason = if scan::contains(reply, "unknown") {
        "unknown-recipient"
    } else if scan::contains(reply, "elay") {
        "relay-denied"
    } else if reply.starts_with('5') || reply.starts_with('4') {
        "smtp-rejected"
    } else {
        return None;
    };
    abuse(e, DS, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn login_failed_peer_closes_the_line() {
        let d = Decoded::run(|e| {
            decode(
                "LOGIN FAILED, user=a, ip=[::ffff:6.6.6.6], ip=[::ffff:192.0.2.5], port=[255]",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_ip, "192.0.2.5".parse().ok());
        assert_eq!(d.event.user_name.as_deref(), Some("a, ip=[::ffff:6.6.6.6]"));
    }
}
