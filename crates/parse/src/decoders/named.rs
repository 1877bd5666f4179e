//! BIND `named`: a client refused a query, zone transfer or update →
//! `service-abuse` (`query-denied`, `transfer-denied`, `update-denied`). Minimal on purpose:
//! DNS query logging is a later issue.
//!
//! `[CATEGORY: ][SEVERITY: ]client [@0x… ]A#P[ (NAME)]: [view V: ]…`: the peer is the token
//! at a fixed place after `client `, before anything the client sent (the query name is
//! BIND-escaped, so `(`, `)` and blanks in it never end the `(NAME)` field early).

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
        assert!(Decoded::run(|e| decode(
            "client 192.0.2.1#53 (x): query: x IN A +E(0)K (192.0.2.53)",
            e
        ))
        .is_none());
    }
}
