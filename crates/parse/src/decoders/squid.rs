//! Squid's native `access.log`: `TIME ELAPSED CLIENT CODE/STATUS BYTES METHOD URL USER
//! HIER/PEER TYPE`. CLIENT is the third field (before anything the client sent), so it is
//! read from the left. A request squid denied by its ACLs (`…_DENIED…/403`) or a method it
//! refused (`NONE/405`) is `service-abuse` (`proxy-denied`, `bad-method`); `TCP_DENIED/407`
//! asks for proxy credentials, the first step of every authenticated request, and is not.

use logward_core::{Dataset, Event, Timestamp};

use super::{guarded, peer, scan, Found};

/// Decodes one access.log line; its own time too.
pub fn decode<'a>(line: &'a str, e: &mut Event<'a>) -> Option<(Found<'a>, Option<Timestamp>)> {
    let mut ts = None;
    let found = guarded(e, |e| {
        let (time, rest) = scan::word(line);
        ts = Some(epoch(time)?);
        let (_elapsed, rest) = scan::word(rest.trim_start_matches(' '));
        let (client, rest) = scan::word(rest.trim_start_matches(' '));
        let (code, _) = scan::word(rest);
        let (result, status) = code.split_once('/')?;
        // `TCP_DENIED`, `TCP_DENIED_REPLY`, `NONE_NONE_DENIED`…
        let reason = if result.contains("_DENIED") && status == "403" {
            "proxy-denied"
        } else if result.starts_with("NONE") && status == "405" {
            "bad-method"
        } else {
            return None;
        };
        peer::set(e, client, None)?;
        peer::abuse(e, Dataset::Squid, reason)
    })?;
    Some((found, ts))
}

/// `1386543323.000` (seconds.millis since the epoch).
pub(crate) fn epoch(s: &str) -> Option<Timestamp> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || secs.len() > 12 || !secs.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |c| u32::from(c - b'0'));
        nanos = nanos * 10 + d;
    }
    Some(Timestamp {
        unix: secs.parse().ok()?,
        nanos,
        offset: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let mut e = Event::default();
        let (_, ts) = decode("1386543323.000      4 91.188.124.227 TCP_DENIED/403 4099 GET http://www.proxy-listen.de/azenv.php - HIER_NONE/- text/html", &mut e).unwrap();
        assert_eq!(e.source_address.as_deref(), Some("91.188.124.227"));
        assert_eq!(ts.unwrap().to_string(), "2013-12-08T22:55:23Z");
        let mut e = Event::default();
        assert!(decode("1386543323.000      4 91.188.124.227 TCP_DENIED/407 4099 GET http://x/ - HIER_NONE/- text/html", &mut e).is_none());
    }
}
