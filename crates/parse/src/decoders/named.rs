//! BIND `named`: a client refused a query, zone transfer or update →
//! `service-abuse` (`query-denied`, `transfer-denied`, `update-denied`); the query log
//! (`querylog yes`, category `queries`) → `dns-query` (dataset `dns.bind`): `query: NAME
//! CLASS TYPE FLAGS (SERVER)`. BIND 9.18 logs no replies, so these events carry the question,
//! the client, the server address and the transport (`T` in the flags: TCP), never a response
//! code or answers.
//!
//! `[CATEGORY: ][SEVERITY: ]client [@0x… ]A#P[ (NAME)]: [view V: ]…`: the peer is the token
//! at a fixed place after `client `, before anything the client sent (the query name is
//! BIND-escaped, so `(`, `)` and blanks in it never end the `(NAME)` field early).

use logward_core::event::parse_ip;
use logward_core::{Dataset, Event};

use super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| line(scan::trim_end_blanks(message), e))
}

fn line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut m = m;
    // Up to two `word: ` prefixes: a category (`security: `), a severity (`error: `).
    for _ in 0..2 {
        if m.starts_with("client ") {
            break;
        }
        let (w, rest) = scan::word(m);
        let ok = w.len() > 1
            && w.ends_with(':')
            && w[..w.len() - 1]
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c == b'-');
        if !ok {
            return None;
        }
        m = rest;
    }
    let rest = m.strip_prefix("client ")?;
    let rest = match rest.strip_prefix("@0x") {
        Some(r) => scan::word(r).1,
        None => rest,
    };
    let (token, rest) = scan::word(rest);
    let (addr_port, rest) = match token.strip_suffix(':') {
        Some(t) => (t, rest),
        None => {
            // ` (NAME): `
            let r = rest.strip_prefix('(')?;
            let (_, after) = scan::split_once(r, "): ")?;
            (token, after)
        }
    };
    let (a, p) = addr_port.rsplit_once('#')?;
    let p = scan::port(p.as_bytes())?;
    let rest = match rest.strip_prefix("view ") {
        Some(r) => scan::split_once(r, ": ")?.1,
        None => rest,
    };
    if let Some(q) = rest.strip_prefix("query: ") {
        return query(e, a, p, q);
    }
    // BIND 9.3 and older name no query: `query (cache) denied`.
    let old_bind = matches!(rest, "query denied" | "query (cache) denied");
    let reason = if old_bind
        || (rest.starts_with("query '") || rest.starts_with("query (cache) '")) && denied(rest)
    {
        "query-denied"
    } else if (rest.starts_with("zone transfer '") && denied(rest))
        || rest.starts_with("bad zone transfer request: '")
    {
        "transfer-denied"
    } else if rest.starts_with("update '") && denied(rest) {
        "update-denied"
    } else {
        return None;
    };
    peer::set(e, a, Some(p))?;
    peer::abuse(e, Dataset::Named, reason)
}

/// `NAME CLASS TYPE FLAGS[ (SERVER)][ [ECS …]]`: BIND escapes blanks in names (`\032`), so
/// the fields are words.
fn query<'a>(e: &mut Event<'a>, addr: &'a str, port: u16, q: &'a str) -> Option<Found<'a>> {
    let mut w = q.split(' ');
    let (qname, class, qtype, flags) = (w.next()?, w.next()?, w.next()?, w.next()?);
    if qname.is_empty() || !matches!(flags.as_bytes().first(), Some(b'+' | b'-')) {
        return None;
    }
    let server = w
        .next()
        .and_then(|s| s.strip_prefix('(')?.strip_suffix(')'))
        .and_then(parse_ip);
    peer::set(e, addr, Some(port))?;
    let class = crate::dns::fields::mnemonic(class)?;
    let qtype = crate::dns::fields::mnemonic(qtype)?;
    let d = crate::dns::fields::start(e, Dataset::DnsBind, crate::dns::fields::name(qname));
    d.question_class = Some(class);
    d.question_type = Some(qtype);
    d.server_ip = server;
    // `+E(0)TK`: T is TCP; BIND writes no letter for UDP.
    d.transport = Some(if flags.contains('T') { "tcp" } else { "udp" });
    Found::yes()
}

/// `… 'x/T/C' denied` with nothing after but BIND's own `(… did not match)`.
fn denied(s: &str) -> bool {
    s.ends_with("' denied")
        || scan::rsplit_once(s, "' denied (").is_some_and(|(_, t)| t.ends_with(" did not match)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        for m in [
            "client 194.145.196.18#4795: query 'ricreig.com/NS/IN' denied",
            "client 194.145.196.18#1036: query (cache) denied",
            "client 194.145.196.18#4795: view external: query (cache) './NS/IN' denied",
            "error: client 194.145.196.18#52115: zone transfer 'domain.com/AXFR/IN' denied",
            "security: info: client @0x7f4e446fd6e8 194.145.196.18#53 (example.io): query (cache) 'example.io/A/IN' denied",
            "client @0x7f7c95c76968 194.145.196.18#60683 (example.com): query (cache) 'example.com/A/IN' denied (allow-query-cache did not match)",
            "client 194.145.196.18#42592 (simmarket.com.ua): bad zone transfer request: 'simmarket.com.ua/IN': non-authoritative zone (NOTAUTH)",
        ] {
            let d = Decoded::run(|e| decode(m, e)).unwrap();
            assert_eq!(d.event.source_address.as_deref(), Some("194.145.196.18"), "{m}");
        }
    }

    #[test]
    fn query_log_lines() {
        use logward_core::Action;
        for (m, name, qtype, transport, server) in [
            // BIND 9.18, its own file channel and syslog alike.
            ("client @0x7fd1e966d098 127.0.0.1#36914 (Evil.Example): query: Evil.Example IN A +E(0)K (127.0.0.1)", "evil.example", "A", "udp", Some("127.0.0.1")),
            ("client @0x7fd1e64ff898 ::1#45353 (trusted.corp.test): query: trusted.corp.test IN AAAA +E(0)TK (::1)", "trusted.corp.test", "AAAA", "tcp", Some("::1")),
            ("client 192.0.2.1#53 (x): view internal: query: x IN TXT -E(0)DC (192.0.2.53) [ECS 198.51.100.0/24/0]", "x", "TXT", "udp", Some("192.0.2.53")),
            // BIND 9.8: no `(NAME)`, no server.
            ("client 192.0.2.1#4120: query: a\\032b.example IN A +", "a\\032b.example", "A", "udp", None),
            ("queries: info: client @0x1 192.0.2.1#1 (.): query: . IN NS -", "", "NS", "udp", None),
        ] {
            let d = Decoded::run(|e| decode(m, e)).unwrap_or_else(|| panic!("{m}"));
            let e = d.event;
            assert_eq!(e.action, Some(Action::DnsQuery), "{m}");
            assert_eq!(e.dataset, Some(Dataset::DnsBind));
            let q = e.dns.as_ref().unwrap();
            assert_eq!(q.question_name, name, "{m}");
            assert_eq!(q.question_type.as_deref(), Some(qtype));
            assert_eq!(q.question_class.as_deref(), Some("IN"));
            assert_eq!(q.transport, Some(transport));
            assert_eq!(q.server_ip, server.map(|s| s.parse().unwrap()));
            assert_eq!(q.response_code, None);
            assert!(e.source_ip.is_some() && e.source_port.is_some());
        }
        for m in [
            "client 192.0.2.1#53 (x): query: x IN",
            "client 192.0.2.1#53 (x): query: x IN A E",
            "client host#53 (x): query: x IN A +",
            "client 192.0.2.1#53 (x): query failed (REFUSED) for x/IN/A at query.c:5708",
        ] {
            assert!(Decoded::run(|e| decode(m, e)).is_none(), "{m}");
        }
    }
}
