//! Sendmail (`sendmail`, `sm-mta`, `sm-msp-queue`, and the process titles `sm-*` such as
//! `sm-acceptingconnections`).
//!
//! Sendmail names a client as `relay=[NAME ][A][ (may be forged)]`, or as `NAME [A]` at
//! the start of the text after the queue id. In `AUTH failure …, user=U, relay=…` and in
//! `ruleset=…, arg1=<X>, relay=…, reject=… <X>…` the client chose U and X, which stand on
//! both sides of the real `relay=`: every `, relay=` followed by a host and the field that
//! must follow it (`, reject=` or the end) is a candidate, and more than one is ambiguous.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::{abuse, host_bracket, login_failed, non_empty, probe, set_peer, Peers};
use crate::decoders::{guarded, scan, Found};

const DS: Dataset = Dataset::Sendmail;

/// Whether a syslog program is Sendmail.
#[inline]
pub fn is_sendmail(program: &str) -> bool {
    program == "sendmail" || program.starts_with("sm-")
}

/// Decodes one Sendmail message into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = scan::trim_end_blanks(message);
        let (id, rest) = scan::word(m);
        let body = match id.strip_suffix(':') {
            Some(q) if q.len() >= 8 && q.bytes().all(|b| b.is_ascii_alphanumeric()) => rest,
            _ => m,
        };
        dispatch(body, e)
    })
}

fn dispatch<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(r) = m.strip_prefix("ruleset=") {
        return ruleset(r, e);
    }
    if let Some(r) = m.strip_prefix("AUTH failure (") {
        return auth_failure(r, e);
    }
    if let Some(r) = m.strip_prefix("rejecting commands from ") {
        let (addr, after) = host_bracket(r.trim_start_matches(' '))?;
        if !after.starts_with(" due to pre-greeting traffic") {
            return None;
        }
        set_peer(e, addr, None);
        return abuse(e, DS, "pregreet");
    }
    if let Some(r) = m.strip_prefix("lost input channel from ") {
        let (addr, _) = host_bracket(r)?;
        set_peer(e, addr, None);
        return probe(e, DS, "lost-connection");
    }
    if let Some(r) = m.strip_prefix("from=") {
        return no_recipients(r, e);
    }
    // `[NAME ][A][ (may be forged)]: …` or `… did not issue …`.
    let (addr, after) = host_bracket(m)?;
    let after = after.strip_prefix(" (may be forged)").unwrap_or(after);
    set_peer(e, addr, None);
    if let Some(r) = after.strip_prefix(": possible SMTP attack: command=") {
        return if r.starts_with("AUTH,") {
            login_failed(e, DS, "too-many-failures")
        } else {
            abuse(e, DS, "too-many-errors")
        };
    }
    if let Some(r) = after.strip_prefix(": ") {
        let (cmd, _) = scan::word(r);
        if (cmd.eq_ignore_ascii_case("EXPN") || cmd.eq_ignore_ascii_case("VRFY"))
            && r.ends_with(" [rejected]")
        {
            return abuse(e, DS, "expn-vrfy");
        }
        return None;
    }
    if after.starts_with(" did not issue MAIL/EXPN/VRFY/ETRN") {
        return probe(e, DS, "no-mail");
    }
    None
}

/// Every `relay=HOST` that starts a field and is followed by `next` (a field, or `""` for
/// the end of the line).
fn relays<'a>(m: &'a str, next: &[&str], peers: &mut Peers<'a>) {
    let mut at = 0;
    while let Some(i) = m.get(at..).and_then(|t| scan::find(t, "relay=")) {
        let p = at + i;
        at = p + 6;
        if !(p == 0 || m.get(..p).is_some_and(|h| h.ends_with(", "))) {
            continue;
        }
        let Some((addr, after)) = m.get(p + 6..).and_then(host_bracket) else {
            continue;
        };
        let after = after.strip_prefix(" (may be forged)").unwrap_or(after);
        if next.iter().any(|n| {
            if n.is_empty() {
                after.is_empty()
            } else {
                after.starts_with(n)
            }
        }) {
            peers.push(addr, None);
        }
    }
}

/// `ruleset=check_rcpt, arg1=<X>, relay=HOST, reject=CODE X.Y.Z TEXT`.
fn ruleset<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut peers = Peers::default();
    relays(r, &[", reject="], &mut peers);
    let (_, why) = scan::rsplit_once(r, ", reject=")?;
    let has = |p: &str| scan::contains(why, p);
    let reason = if has("Relaying denied") || has("Relaying temporarily denied") {
        "relay-denied"
    } else if has("User unknown") {
        "unknown-recipient"
    } else if has("Domain of sender address") {
        "sender-rejected"
    } else if has("listed at") || has("blacklist") || has(" RBL") || has(" PBL") || has(" BL") {
        "rbl-listed"
    } else if has("rate limit") || has("Too many open connections") {
        "rate-limit"
    } else if has("reverse DNS") || has("PTR record") {
        "client-rejected"
    } else {
        "smtp-rejected"
    };
    let found = peers.apply(e)?;
    abuse(e, DS, reason).map(|_| found)
}

/// `AUTH failure (MECH): WHY, user=U, relay=HOST[ (may be forged)]`.
fn auth_failure<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut peers = Peers::default();
    relays(r, &[""], &mut peers);
    if let Some((head, _)) = scan::rsplit_once(r, ", relay=") {
        if let Some((_, u)) = scan::split_once(head, ", user=") {
            e.user_name = non_empty(u).map(Cow::Borrowed);
        }
    }
    let found = peers.apply(e)?;
    login_failed(e, DS, "auth-failed").map(|_| found)
}

/// `from=<S>, size=0, class=0, nrcpts=0, …, relay=HOST`: a transaction no recipient was
/// accepted for (after `User unknown`s): a probe, never counted as a login.
fn no_recipients<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if !scan::contains(r, ", nrcpts=0,") {
        return None;
    }
    let mut peers = Peers::default();
    relays(r, &["", ", "], &mut peers);
    let found = peers.apply(e)?;
    probe(e, DS, "no-recipients").map(|_| found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn dec(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(m, e))
    }

    #[test]
    fn injected_relay_in_user_is_not_a_candidate() {
        let d = dec("06I02CNi016765: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=criminal, relay=[192.0.2.100], relay=[192.0.2.4] (may be forged)").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.4"));
        assert!(d.ambiguous_peers.is_empty());
    }

    #[test]
    fn reject_reasons() {
        let d = dec("s1N706jo003992: ruleset=check_rcpt, arg1=<j@c.pt>, relay=[151.232.63.226], reject=550 5.7.1 <j@c.pt>... Rejected: 151.232.63.226 listed at sbl-xbl.spamhaus.org").unwrap();
        assert_eq!(d.event.reason, Some("rbl-listed"));
        assert_eq!(d.event.source_address.as_deref(), Some("151.232.63.226"));
    }
}
