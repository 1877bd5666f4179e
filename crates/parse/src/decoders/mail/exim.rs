//! Exim: its main log (`YYYY-MM-DD HH:MM:SS [pid] [msgid] …`, no syslog tag: reached through
//! `unframed`) and the same text through syslog or the journal (`exim[pid]: …`).
//!
//! Exim names a client as `H=name (helo) [A]:P` (or `… for name (helo) [A]:P` after an
//! authenticator, `SMTP call from …`). The HELO is the client's, and so are the quoted
//! command of a protocol error and the envelope addresses (`F=<…>`, `rejected RCPT <…>`),
//! which may stand before or after `H=`. So every place that fits the grammar is collected:
//! `[A]` must close the host (followed by `:P`, a blank, `: ` or the end), and more than one
//! fit makes the peer ambiguous.

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Dataset, Event};

use super::{abuse, bracketed, colon_port, login_failed, non_empty, probe, Peers};
use crate::decoders::{guarded, scan, Found};

const DS: Dataset = Dataset::Exim;

/// Decodes one Exim message (syslog or main-log body, with or without Exim's own date,
/// `[pid]` and message id) into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = scan::trim_end_blanks(message);
        let m = split_date(m).map_or(m, |(_, _, rest)| rest);
        body(strip_ids(strip_syslog_tag(m)), e)
    })
}

/// Exim's `YYYY-MM-DD HH:MM:SS[.fff][ ±ZZZZ] ` prefix: (date, (h, m, s), the rest).
#[allow(clippy::type_complexity)]
pub(crate) fn split_date(m: &str) -> Option<((i32, u32, u32), (u32, u32, u32), &str)> {
    let b = m.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        s.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b' ') {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let date = (i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?);
    let time = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = m.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.get(scan::digits(r.as_bytes())..)?;
    }
    if let Some(r) = rest.strip_prefix(' ') {
        rest = r;
        // `log_timezone`: ` +0100`.
        let z = rest.as_bytes();
        if z.len() >= 5
            && matches!(z.first(), Some(b'+' | b'-'))
            && z.get(1..5)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && matches!(z.get(5), None | Some(b' '))
        {
            rest = rest.get(5..)?.trim_start_matches(' ');
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some((date, time, rest))
}

/// Skips `HOST exim[pid]: ` (syslog-ng's file format after Exim's date, which no frame read).
pub(crate) fn strip_syslog_tag(m: &str) -> &str {
    let (_, rest) = scan::word(m);
    let (tag, after) = scan::word(rest);
    let is_exim = tag.strip_prefix("exim").is_some_and(|t| {
        t == ":"
            || t.strip_prefix('[')
                .and_then(|t| t.strip_suffix("]:"))
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    });
    if is_exim {
        after
    } else {
        m
    }
}

/// Skips `[pid] ` and a message id (`1ahr79-0006jK-G9 `, or Exim 4.97's longer ids).
fn strip_ids(mut m: &str) -> &str {
    if let Some(r) = m.strip_prefix('[') {
        let n = scan::digits(r.as_bytes());
        if let Some(rest) = r.get(n..).and_then(|t| t.strip_prefix("] ")) {
            if n > 0 {
                m = rest;
            }
        }
    }
    let (id, rest) = scan::word(m);
    // Three alphanumeric parts joined by `-`, checked without collecting them.
    let is_id = matches!(id.len(), 16 | 23)
        && id.bytes().filter(|&b| b == b'-').count() == 2
        && id
            .split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if is_id {
        rest
    } else {
        m
    }
}

/// The message after the date and ids.
pub(crate) fn body<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (first, rest) = scan::word(m);
    match first.as_bytes().first()? {
        b'H' | b'F' if first.starts_with("H=") || first.starts_with("F=") => h_line(m, e),
        b'S' if first == "SA:" => spamassassin(rest, e),
        b'S' if first == "SMTP" => smtp(rest, e),
        b'n' if first == "no" => no_line(rest, e),
        // `rejected EHLO from [A]: syntactically invalid argument(s): …`
        b'r' if first == "rejected" => {
            let (verb, r) = scan::word(rest);
            if !matches!(verb, "EHLO" | "HELO") {
                return None;
            }
            let mut peers = Peers::default();
            let after = host(r.strip_prefix("from ")?, &mut peers)?;
            if !after.starts_with(": syntactically invalid argument") {
                return None;
            }
            let found = peers.apply(e)?;
            abuse(e, DS, "helo-rejected").map(|_| found)
        }
        _ => authenticator(rest.strip_prefix("authenticator failed for ")?, e),
    }
}

/// `NAME authenticator failed for HOST: 535 Incorrect authentication data[ (set_id=U)]`.
fn authenticator<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut peers = Peers::default();
    let rest = host(r, &mut peers)?;
    // Past `I=[B]:Q Ci=N`, the SMTP reply.
    let (_, reply) = scan::split_once(rest, ": 535")?;
    if let Some((_, u)) = scan::rsplit_once(reply, "(set_id=") {
        let u = u.get(..scan::rfind_byte(b')', u.as_bytes())?)?;
        e.user_name = non_empty(u).map(Cow::Borrowed);
    }
    let found = peers.apply(e)?;
    login_failed(e, DS, "auth-failed").map(|_| found)
}

/// A host as Exim writes it: `[name ][(helo) ][A][:P]`, A closing it. Pushes every fit into
/// `peers` (a HELO can imitate `) [A]`) and returns the text after the first.
fn host<'a>(s: &'a str, peers: &mut Peers<'a>) -> Option<&'a str> {
    let mut r = s;
    if !r.starts_with('(') && !r.starts_with('[') {
        r = scan::word(r).1;
    }
    if r.starts_with('(') {
        let mut first = None;
        let mut at = 0;
        while let Some(i) = r.get(at..).and_then(|t| scan::find(t, ") [")) {
            let p = at + i + 2;
            at = p;
            if let Some((addr, port, rest)) = closed_bracket(r.get(p..)?) {
                peers.push(addr, port);
                first.get_or_insert(rest);
            }
        }
        return first;
    }
    let (addr, port, rest) = closed_bracket(r)?;
    peers.push(addr, port);
    Some(rest)
}

/// `[A][:P]` that ends a host: followed by the end, a blank or `:`.
fn closed_bracket(s: &str) -> Option<(&str, Option<u16>, &str)> {
    let (addr, after) = bracketed(s)?;
    let (port, rest) = colon_port(after);
    matches!(rest.as_bytes().first(), None | Some(b' ' | b':')).then_some((addr, port, rest))
}

/// Every `H=HOST` of the line, each a candidate (the envelope fields around it are the
/// client's).
fn h_hosts<'a>(m: &'a str, peers: &mut Peers<'a>) {
    let mut at = 0;
    while let Some(i) = m.get(at..).and_then(|t| scan::find(t, "H=")) {
        let p = at + i;
        at = p + 2;
        if p == 0 || m.as_bytes().get(p - 1) == Some(&b' ') {
            if let Some(h) = m.get(p + 2..) {
                host(h, peers);
            }
        }
    }
}

/// `H=… [F=<S>] rejected RCPT <R>: WHY`, `H=… sender verify fail for <S>: WHY`, `F=<S> H=…
/// P=smtp rejected by local_scan(): …`, `H=… rejected after DATA: …`, `H=[A]:P dropped by
/// 'connect' ACL: …`.
fn h_line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let has = |p: &str| scan::contains(m, p);
    let reason = if has(" rejected RCPT ") {
        let why = scan::split_once(m, " rejected RCPT ")?.1;
        let why = scan::split_once(why, ": ").map_or(why, |(_, w)| w);
        let w = |p: &str| scan::contains(why, p);
        if w("relay not permitted") {
            "relay-denied"
        } else if w("dnsbl") || w("black list") || w("blacklist") || w("blocked using") {
            "rbl-listed"
        } else if w("Unknown user") || w("Unrouteable address") || w("unknown user") {
            "unknown-recipient"
        } else if w("Sender verify failed") || w("sender verify") {
            "sender-rejected"
        } else {
            "recipient-rejected"
        }
    } else if has(" sender verify fail for ") || has(" rejected MAIL ") {
        "sender-rejected"
    } else if has(" rejected by local_scan()") {
        "spam"
    } else if has(" rejected after DATA") {
        "message-rejected"
    } else if has(" dropped by '") || has(" rejected connection in ") {
        "acl-drop"
    } else if has(" rejected EHLO or HELO ") {
        "helo-rejected"
    } else {
        return None;
    };
    let mut peers = Peers::default();
    h_hosts(m, &mut peers);
    let found = peers.apply(e)?;
    abuse(e, DS, reason).map(|_| found)
}

/// `SA: Action: … From <S> (host=NAME [A]) for R`: S and R are the client's, so every
/// `(host=NAME [A])` is a candidate.
fn spamassassin<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let action = rest.strip_prefix("Action: ")?;
    if !(action.starts_with("flagged as Spam")
        || action.starts_with("silently tossed")
        || action.starts_with("permanently rejected")
        || action.starts_with("temporarily rejected"))
    {
        return None;
    }
    let mut peers = Peers::default();
    let mut at = 0;
    while let Some(i) = rest.get(at..).and_then(|t| scan::find(t, "(host=")) {
        let p = at + i + 6;
        at = p;
        let Some(h) = rest.get(p..) else { break };
        let (_, r) = scan::word(h);
        if let Some((addr, after)) = bracketed(r) {
            if after.starts_with(')') {
                peers.push(addr, None);
            }
        }
    }
    let found = peers.apply(e)?;
    abuse(e, DS, "spam").map(|_| found)
}

/// `SMTP call from HOST dropped: too many …`, `SMTP protocol error in "CMD" H=HOST …`,
/// `SMTP protocol synchronization error (…): rejected … H=HOST …`, `SMTP connection from
/// HOST closed by DROP in ACL`.
fn smtp<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut peers = Peers::default();
    let (kind, reason) = if let Some(r) = rest.strip_prefix("call from ") {
        let after = host(r, &mut peers)?;
        if !scan::contains(after, " dropped: too many ") {
            return None;
        }
        (true, "too-many-errors")
    } else if let Some(r) = rest.strip_prefix("connection from ") {
        let after = host(r, &mut peers)?;
        if !scan::contains(after, "closed by DROP in ACL") {
            return None;
        }
        (true, "acl-drop")
    } else if rest.starts_with("protocol synchronization error") {
        h_hosts(rest, &mut peers);
        // fail2ban counts pipelining only in some modes (Postfix's too): a probe.
        (false, "pipelining")
    } else if rest.starts_with("protocol error in ") {
        h_hosts(rest, &mut peers);
        if scan::contains(rest, "AUTH command used when not advertised") {
            (true, "auth-not-advertised")
        } else if scan::contains(rest, "authentication mechanism not supported") {
            (false, "bad-mechanism")
        } else {
            (false, "bad-protocol")
        }
    } else {
        return None;
    };
    let found = peers.apply(e)?;
    if kind {
        abuse(e, DS, reason).map(|_| found)
    } else {
        probe(e, DS, reason).map(|_| found)
    }
}

/// `no MAIL in SMTP connection from HOST …`, `no host name found for IP address A`, `no IP
/// address found for host N (during SMTP connection from [A]…)`.
fn no_line<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut peers = Peers::default();
    let reason = if let Some(r) = rest.strip_prefix("MAIL in SMTP connection from ") {
        host(r, &mut peers)?;
        "no-mail"
    } else if let Some(a) = rest.strip_prefix("host name found for IP address ") {
        parse_ip(a)?;
        peers.push(a, None);
        "reverse-dns-missing"
    } else if let Some(r) = rest.strip_prefix("IP address found for host ") {
        let (_, r) = scan::word(r);
        let (addr, after) = bracketed(r.strip_prefix("(during SMTP connection from ")?)?;
        let (port, after) = colon_port(after);
        if !(after.starts_with(')') || after.starts_with(" I=")) {
            return None;
        }
        peers.push(addr, port);
        "reverse-mapping"
    } else {
        return None;
    };
    let found = peers.apply(e)?;
    probe(e, DS, reason).map(|_| found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;
    use logward_core::Action;

    fn dec(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| decode(m, e))
    }

    #[test]
    fn authenticator_failure() {
        let d = dec("2013-01-04 17:03:46 login authenticator failed for h.example ([192.168.2.33]) [24.106.174.74]: 535 Incorrect authentication data (set_id=brian)").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("24.106.174.74"));
        assert_eq!(d.event.user_name.as_deref(), Some("brian"));
        assert!(d.ambiguous_peers.is_empty());
    }

    #[test]
    fn quoted_command_cannot_name_the_peer() {
        let d = dec("SMTP protocol error in \"aUtH lOgIn\" H=(test) [8.8.8.8]\" H=(roxzgj) [192.0.2.6] AUTH command used when not advertised").unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.6"));
        assert_eq!(d.event.action(), Action::ServiceAbuse);
    }

    #[test]
    fn helo_imitating_a_host_is_ambiguous() {
        let d = dec("login authenticator failed for (x) [6.6.6.6] (y) [192.0.2.1]: 535 Incorrect authentication data").unwrap();
        assert_eq!(d.ambiguous_peers.len(), 2);
    }

    #[test]
    fn invalid_helo() {
        let d = dec("2016-04-01 11:08:00 rejected EHLO from [192.0.2.3]: syntactically invalid argument(s): x y").unwrap();
        assert_eq!(d.event.reason, Some("helo-rejected"));
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.3"));
    }

    #[test]
    fn dates_and_ids() {
        assert_eq!(
            split_date("2016-03-21 04:33:13 [26074] x").map(|d| d.2),
            Some("[26074] x")
        );
        assert_eq!(strip_ids("[26074] 1ahrVl-0006mY-79 SMTP"), "SMTP");
    }
}
