//! 3proxy's default log (`L%d-%m-%Y %H:%M:%S %z %N.%p %E %U %C:%c %R:%r %O %I %h %T`): an
//! error code `%E` whose last two digits are 01–09 is an authentication or ACL refusal (as
//! fail2ban's filter reads it) → `user-login` failure `auth-failed`.
//!
//! The user `%U` (from a proxy `Authorization` header) and the request `%T` are client text
//! and may hold blanks, so the client `%C:%c` is every place where `A:P R:P N N N` fits;
//! more than one distinct address makes the line ambiguous.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Timestamp};

use super::{guarded, peer, scan, Found, Peer};

/// Decodes one log line; its own time too.
pub fn decode<'a>(line: &'a str, e: &mut Event<'a>) -> Option<(Found<'a>, Option<Timestamp>)> {
    let mut ts = None;
    let found = guarded(e, |e| {
        let (date, rest) = scan::word(line);
        let (time, rest) = scan::word(rest);
        let (zone, rest) = scan::word(rest);
        ts = stamp(date, time, zone);
        ts?;
        let (service, rest) = scan::word(rest);
        if !service.contains('.') {
            return None;
        }
        let (code, rest) = scan::word(rest);
        if code.len() != 5 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u32 = code.parse().ok()?;
        if !(1..=9).contains(&(n % 100)) {
            return None;
        }
        let (user, _) = scan::word(rest);
        let words: Vec<&str> = rest.split(' ').collect();
        let mut peers: Vec<Peer<'a>> = Vec::new();
        for w in words.windows(5) {
            let nums = w[2..5]
                .iter()
                .all(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()));
            if !nums || peer::ip_port(w[1]).is_none() {
                continue;
            }
            if let Some((a, p)) = peer::ip_port(w[0]) {
                if p.is_some() && !peers.iter().any(|(x, _)| x == a) {
                    peers.push((Cow::Borrowed(a), p));
                }
            }
        }
        let (a, p) = peers.first().cloned()?;
        e.set_source(a, p);
        if user != "-" {
            peer::user(e, user);
        }
        let _: Found<'_> = peer::login_failed(e, Dataset::ThreeProxy, "auth-failed")?;
        Some(super::Found {
            ambiguous_peers: if peers.len() > 1 { peers } else { Vec::new() },
        })
    })?;
    Some((found, ts))
}

/// `11-06-2013 02:09:40 +0300`.
fn stamp(date: &str, time: &str, zone: &str) -> Option<Timestamp> {
    let d = date.as_bytes();
    if d.len() != 10 || d[2] != b'-' || d[5] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (day, month, year) = (
        num(date.get(..2)?)?,
        num(date.get(3..5)?)?,
        num(date.get(6..)?)?,
    );
    let mut t = time.split(':');
    let (h, m, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    let z = zone.as_bytes();
    if z.len() != 5 || !matches!(z[0], b'+' | b'-') {
        return None;
    }
    let (zh, zm) = (num(zone.get(1..3)?)?, num(zone.get(3..)?)?);
    let off = (zh * 3600 + zm * 60) as i32;
    let off = if z[0] == b'-' { -off } else { off };
    Timestamp::from_local((year as i32, month, day), (h, m, s), 0, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let mut e = Event::default();
        let (_, ts) = decode("11-06-2013 02:09:40 +0300 PROXY.3128 00004 - 1.2.3.4:28783 0.0.0.0:0 0 0 0 GET http://www.yandex.ua/ HTTP/1.1", &mut e).unwrap();
        assert_eq!(e.source_address.as_deref(), Some("1.2.3.4"));
        assert_eq!(ts.unwrap().to_string(), "2013-06-11T02:09:40+03:00");
        let mut e = Event::default();
        let (found, _) = decode("11-06-2013 02:09:40 +0300 PROXY.3128 00004 x 6.6.6.6:1 0.0.0.0:0 0 0 0 1.2.3.4:28783 0.0.0.0:0 0 0 0 GET http://x/ HTTP/1.1", &mut e).unwrap();
        assert_eq!(found.ambiguous_peers.len(), 2);
        let mut e = Event::default();
        assert!(decode("11-06-2013 02:09:40 +0300 PROXY.3128 00000 - 1.2.3.4:28783 0.0.0.0:0 0 0 0 GET http://x/ HTTP/1.1", &mut e).is_none());
    }
}
