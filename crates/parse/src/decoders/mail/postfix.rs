//! Postfix: `smtpd` (also `submission/smtpd`, `smtps/smtpd`, any `postfix-NAME/…` instance)
//! and `postscreen`.
//!
//! The peer is always the `[A]` of `name[A]` (postscreen: `[A]:P`) right after `from ` (or
//! `for `, or `warning: `), a position Postfix writes before any client text; the name is
//! the verified reverse-DNS name (`unknown` otherwise), which holds no blank or bracket. The
//! addresses in the reject text (`cannot find your hostname, [A]`), the HELO name and the
//! envelope addresses are never read as peers.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{abuse, colon_port, host_bracket, login_failed, non_empty, probe, set_peer};
use crate::decoders::{guarded, scan, start, Found};

const DS: Dataset = Dataset::Postfix;

/// Whether a syslog program is a Postfix daemon (`postfix/smtpd`, `postfix-in/smtpd`, …).
#[inline]
pub fn is_postfix(program: &str) -> bool {
    program.starts_with("postfix")
}

/// Decodes one Postfix message into `e`; `None` (and `e` untouched) for lines that are not
/// about a client's authentication or abuse.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| dispatch(message, e))
}

fn dispatch<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = scan::trim_end_blanks(m);
    let (first, rest) = scan::word(m);
    match first {
        "warning:" => warning(rest, e),
        "NOQUEUE:" => after_queue_id(rest, e),
        "improper" => after_command(
            scan::split_once(rest, "pipelining ")?.1,
            e,
            "pipelining",
            false,
        ),
        "too" if rest.starts_with("many errors ") => {
            after_command(rest.get(12..)?, e, "too-many-errors", true)
        }
        "lost" => lost_connection(rest.strip_prefix("connection ")?, e),
        "disconnect" => disconnect(rest.strip_prefix("from ")?, e),
        "PREGREET" => postscreen_peer(rest, e, true, "pregreet"),
        "HANGUP" => postscreen_peer(rest, e, false, "hangup"),
        "COMMAND" | "BARE" | "NON-SMTP" => {
            let reason = if first == "COMMAND" {
                "command-limit"
            } else {
                "bad-command"
            };
            postscreen_peer(rest, e, true, reason)
        }
        "DNSBL" => {
            let (addr, after) = host_bracket(scan::split_once(rest, " for ")?.1)?;
            set_peer(e, addr, colon_port(after).0);
            abuse(e, DS, "rbl-listed")
        }
        // A queue id (`00ADB3C0899:`, `44JCRG5tYPzCqt2:`) before `reject:`/`milter-reject:`.
        q if q.len() > 1
            && q.ends_with(':')
            && q.bytes()
                .take(q.len() - 1)
                .all(|b| b.is_ascii_alphanumeric()) =>
        {
            after_queue_id(rest, e)
        }
        _ => None,
    }
}

/// What follows `NOQUEUE: ` or a queue id.
fn after_queue_id<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (word, rest) = scan::word(rest);
    match word {
        "reject:" => reject(rest, false, e),
        "milter-reject:" => reject(rest, true, e),
        "lost" => lost_connection(rest.strip_prefix("connection ")?, e),
        _ => None,
    }
}

/// `CMD from name[A][:P]: CODE X.Y.Z [<ADDR>: ]TEXT[; from=<S> to=<R> proto=… helo=<H>]`.
fn reject<'a>(rest: &'a str, milter: bool, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (cmd, rest) = scan::word(rest);
    let (addr, after) = host_bracket(rest.strip_prefix("from ")?)?;
    let (port, after) = colon_port(after);
    let text = after.strip_prefix(": ")?;
    set_peer(e, addr, port);
    abuse(e, DS, reject_reason(cmd, text, milter))
}

/// The kind of a reject, from Postfix's own words (before `; from=`, where the client's
/// envelope starts). Only the reason label depends on it, never the peer.
fn reject_reason(cmd: &str, text: &str, milter: bool) -> &'static str {
    let text = scan::split_once(text, "; from=")
        .or_else(|| scan::split_once(text, "; proto="))
        .map_or(text, |(t, _)| t);
    let has = |p: &str| scan::contains(text, p);
    if has("blocked using") {
        "rbl-listed"
    } else if has("Relay access denied") {
        "relay-denied"
    } else if has("Recipient address rejected") {
        if has("User unknown") || has("undeliverable") || has("unknown user") {
            "unknown-recipient"
        } else {
            "recipient-rejected"
        }
    } else if has("Helo command rejected") {
        "helo-rejected"
    } else if has("Sender address rejected") {
        "sender-rejected"
    } else if has("Client host rejected") {
        "client-rejected"
    } else if milter || has("Data command rejected") || matches!(cmd, "DATA" | "BDAT") {
        "message-rejected"
    } else {
        "smtp-rejected"
    }
}

/// `warning: …`: SASL failures, rate limits, reverse-DNS mismatches.
fn warning<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    match rest.as_bytes().first()? {
        b'h' if rest.starts_with("hostname ") => {
            // `hostname N does not resolve to address A[: reason]`: N is one word.
            let (_, r) = scan::word(rest.get(9..)?);
            let r = r.strip_prefix("does not resolve to address ")?;
            let (addr, _) = scan::word(r);
            let addr = addr.strip_suffix(':').unwrap_or(addr);
            logward_core::event::parse_ip(addr)?;
            set_peer(e, addr, None);
            probe(e, DS, "reverse-mapping")
        }
        b'n' if rest.starts_with("non-SMTP command from ") => {
            // `non-SMTP command from name[A]: GET / HTTP/1.1`: a web scanner at the SMTP port.
            let (addr, _) = host_bracket(rest.get(22..)?)?;
            set_peer(e, addr, None);
            abuse(e, DS, "bad-command")
        }
        b'C' | b'M' | b'N' | b'R' if scan::contains(rest, " limit exceeded: ") => {
            // `Connection rate limit exceeded: 31 from name[A] for service smtpd`
            let (_, r) = scan::split_once(rest, " limit exceeded: ")?;
            let (_, r) = scan::word(r);
            let (addr, _) = host_bracket(r.strip_prefix("from ")?)?;
            set_peer(e, addr, None);
            abuse(e, DS, "rate-limit")
        }
        _ => {
            let (addr, after) = host_bracket(rest)?;
            let (port, after) = colon_port(after);
            let sasl = after.strip_prefix(": SASL ")?;
            let (_mech, r) = scan::word(sasl);
            let why = r
                .strip_prefix("authentication failed:")?
                .trim_start_matches(' ');
            if why.starts_with("Connection lost to authentication server") {
                // The server's own fault: nothing the client did.
                return None;
            }
            set_peer(e, addr, port);
            if why.starts_with("Invalid authentication mechanism") {
                return probe(e, DS, "bad-mechanism");
            }
            if let Some((_, user)) = scan::rsplit_once(why, "sasl_username=") {
                e.user_name = non_empty(user).map(Cow::Borrowed);
            }
            login_failed(e, DS, "auth-failed")
        }
    }
}

/// `after CMD from name[A][: …]` (after `improper command pipelining`, `too many errors`).
fn after_command<'a>(
    rest: &'a str,
    e: &mut Event<'a>,
    reason: &'static str,
    is_abuse: bool,
) -> Option<Found<'a>> {
    let (_cmd, r) = scan::word(rest.strip_prefix("after ")?);
    let (addr, _) = host_bracket(r.strip_prefix("from ")?)?;
    set_peer(e, addr, None);
    if is_abuse {
        abuse(e, DS, reason)
    } else {
        // fail2ban counts pipelining in its normal mode but not in `errors`: a probe.
        probe(e, DS, reason)
    }
}

/// `lost connection after CMD from name[A]`. After the message was under way (DATA, BDAT,
/// END-OF-MESSAGE) a lost connection is the network's doing, not a probe.
fn lost_connection<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (cmd, r) = scan::word(rest.strip_prefix("after ")?);
    let (addr, _) = host_bracket(r.strip_prefix("from ")?)?;
    set_peer(e, addr, None);
    if matches!(cmd, "DATA" | "BDAT" | "END-OF-MESSAGE") {
        start(e, DS, Action::ConnectionClosed, Outcome::Failure);
        e.reason = Some("lost-connection");
        return Found::yes();
    }
    probe(e, DS, "lost-connection")
}

/// `disconnect from name[A] ehlo=1 auth=0/1 … commands=2/3`: a connection whose every AUTH
/// failed is a probe (the failures themselves were each logged as SASL warnings).
fn disconnect<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (addr, after) = host_bracket(rest)?;
    set_peer(e, addr, None);
    let auth_failed = crate::text::kv(after.trim_start_matches(' '), "auth")
        .and_then(|v| v.split_once('/'))
        .is_some_and(|(ok, n)| ok == "0" && n.parse::<u32>().is_ok_and(|n| n > 0));
    if auth_failed {
        return probe(e, DS, "auth-failed");
    }
    start(e, DS, Action::ConnectionClosed, Outcome::Unknown);
    Found::yes()
}

/// postscreen's `WORD … from [A]:P …` (`PREGREET 14 after 0.08 from [A]:P: EHLO …`,
/// `COMMAND TIME LIMIT from [A]:P after CONNECT`).
fn postscreen_peer<'a>(
    rest: &'a str,
    e: &mut Event<'a>,
    is_abuse: bool,
    reason: &'static str,
) -> Option<Found<'a>> {
    let at = scan::find(rest, "from [")?;
    let (addr, after) = super::bracketed(rest.get(at + 5..)?)?;
    set_peer(e, addr, colon_port(after).0);
    if is_abuse {
        abuse(e, DS, reason)
    } else {
        probe(e, DS, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn dec(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(m, e))
    }

    #[test]
    fn sasl_failure_with_user() {
        let d = dec("warning: unknown[192.0.2.152]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=admin").unwrap();
        assert_eq!(d.event.action(), Action::UserLogin);
        assert_eq!(d.event.outcome, Outcome::Failure);
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.152"));
        assert_eq!(d.event.user_name.as_deref(), Some("admin"));
    }

    #[test]
    fn reject_text_address_is_not_the_peer() {
        let d = dec("NOQUEUE: reject: RCPT from unknown[1.2.3.4]: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [2.3.4.5]; from=<a@b> to=<c@d> proto=ESMTP helo=<[6.6.6.6]>").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("1.2.3.4"));
        assert_eq!(d.event.reason, Some("client-rejected"));
    }

    #[test]
    fn rbl_and_relay() {
        let d = dec("NOQUEUE: reject: RCPT from h[192.0.2.9]: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org; from=<a@b> to=<c@d> proto=ESMTP helo=<x>").unwrap();
        assert_eq!(d.event.reason, Some("rbl-listed"));
        let d = dec("NOQUEUE: reject: RCPT from h[192.0.2.9]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=SMTP").unwrap();
        assert_eq!(d.event.reason, Some("relay-denied"));
        assert_eq!(d.event.action(), Action::ServiceAbuse);
    }

    #[test]
    fn lost_connection_after_data_is_not_a_probe() {
        let d = dec("lost connection after DATA from h[192.0.2.10]").unwrap();
        assert_eq!(d.event.action(), Action::ConnectionClosed);
        let d = dec("lost connection after CONNECT from h[192.0.2.10]").unwrap();
        assert_eq!(d.event.action(), Action::ConnectionProbe);
    }

    #[test]
    fn postscreen_and_scanners() {
        let d = dec("DNSBL rank 3 for [192.0.2.7]:41234").unwrap();
        assert_eq!(d.event.reason, Some("rbl-listed"));
        assert_eq!(d.event.source_port, Some(41234));
        let d = dec("warning: non-SMTP command from unknown[192.0.2.8]: GET / HTTP/1.1").unwrap();
        assert_eq!(d.event.reason, Some("bad-command"));
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.8"));
        let d = dec("disconnect from h[192.0.2.9] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
            .unwrap();
        assert_eq!(d.event.action(), Action::ConnectionClosed);
        let d = dec("disconnect from h[192.0.2.9] ehlo=1 auth=0/3 commands=1/4").unwrap();
        assert_eq!(d.event.action(), Action::ConnectionProbe);
    }

    #[test]
    fn server_side_sasl_trouble_is_not_the_client() {
        assert!(dec("warning: unknown[1.1.1.1]: SASL LOGIN authentication failed: Connection lost to authentication server").is_none());
    }
}
