//! Roundcube webmail: its own log files (`[22-Jan-2013 22:28:21 +0200]: …`, reached through
//! `unframed`) and the same text through syslog (`roundcube: …`).
//!
//! `IMAP Error: Login failed for U[ against S] from A[(X-Real-IP: …)]. RESPONSE in FILE on
//! line N (METHOD URL)`, `FAILED login for U from A`, `Failed login for U from A in session
//! S (error: N)`. U is the client's, and RESPONSE may echo it (`user=U from …`), so every
//! ` from A` that ends where the peer must (the end, `. `, `(`, ` in session `) is a
//! candidate; more than one is ambiguous and the peer is withheld.

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Dataset, Event, Timestamp};

use super::{login_failed, non_empty, Peers};
use crate::decoders::{guarded, scan, Found};

const DS: Dataset = Dataset::Roundcube;

/// Decodes one Roundcube message (after the syslog tag or the log file's date) into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let mut m = scan::trim_end_blanks(message);
        // Roundcube ≥ 1.1 prefixes its session: `<3z506z6r> `.
        if let Some(r) = m.strip_prefix('<') {
            let (id, rest) = scan::word(r);
            if id.ends_with('>') {
                m = rest;
            }
        }
        let rest = m
            .strip_prefix("IMAP Error: Login failed for ")
            .or_else(|| m.strip_prefix("FAILED login for "))
            .or_else(|| m.strip_prefix("Failed login for "))?;
        let mut peers = Peers::default();
        let mut user = None;
        for at in scan::find_spaced(rest, " from ") {
            let Some(tail) = rest.get(at + 6..) else {
                continue;
            };
            let end = tail
                .bytes()
                .position(|b| matches!(b, b' ' | b'(' | b','))
                .unwrap_or(tail.len());
            let Some(word) = tail.get(..end) else {
                continue;
            };
            let after = tail.get(end..).unwrap_or("");
            let (addr, closed) = match word.strip_suffix('.') {
                Some(a) => (a, after.is_empty() || after.starts_with(' ')),
                None => (
                    word,
                    after.is_empty() || after.starts_with('(') || after.starts_with(" in session "),
                ),
            };
            if closed && parse_ip(addr).is_some() {
                peers.push(addr, None);
                user.get_or_insert(rest.get(..at).unwrap_or(""));
            }
        }
        let user = user.map(|u| scan::rsplit_once(u, " against ").map_or(u, |(u, _)| u));
        e.user_name = user.and_then(non_empty).map(Cow::Borrowed);
        let found = peers.apply(e)?;
        login_failed(e, DS, "auth-failed").map(|_| found)
    })
}

/// `[DD-Mon-YYYY HH:MM:SS[ ±ZZZZ]]: ` at the start of a line: the time (a zone-less one
/// read as `wall`) and the message after it.
pub fn split_header(
    line: &str,
    wall: impl FnOnce((i32, u32, u32), (u32, u32, u32)) -> Option<Timestamp>,
) -> Option<(Option<Timestamp>, &str)> {
    let inner = line.strip_prefix('[')?;
    let (stamp, msg) = scan::split_once(inner, "]: ")?;
    let b = stamp.as_bytes();
    if b.get(2) != Some(&b'-') || b.get(6) != Some(&b'-') || b.get(11) != Some(&b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = stamp.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then_some(())?;
        s.parse().ok()
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = stamp.get(3..6)?;
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let date = (i32::try_from(num(7..11)?).ok()?, month, num(0..2)?);
    if b.get(14) != Some(&b':') || b.get(17) != Some(&b':') {
        return None;
    }
    let time = (num(12..14)?, num(15..17)?, num(18..20)?);
    let ts = match stamp.get(20..) {
        Some("") | None => wall(date, time),
        Some(z) => {
            let z = z.strip_prefix(' ')?;
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = z.get(1..)?;
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let h: i32 = digits.get(..2)?.parse().ok()?;
            let m: i32 = digits.get(2..)?.parse().ok()?;
            Timestamp::from_local(date, time, 0, sign * (h * 3600 + m * 60))
        }
    };
    Some((Some(ts?), msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn injected_from_in_user_is_ambiguous() {
        let d = Decoded::run(|e| decode("IMAP Error: Login failed for admin from 127.0.0.1. from 1.2.3.4. AUTHENTICATE PLAIN: A0002 NO Login failed.", e)).unwrap();
        assert_eq!(d.ambiguous_peers.len(), 2);
        let d = Decoded::run(|e| decode("IMAP Error: Login failed for admin from 127.0.0.1 from 1.2.3.4. AUTHENTICATE PLAIN: A0002 NO Login failed.", e)).unwrap();
        assert!(d.ambiguous_peers.is_empty());
        assert_eq!(d.event.source_address.as_deref(), Some("1.2.3.4"));
        assert_eq!(d.event.user_name.as_deref(), Some("admin from 127.0.0.1"));
    }

    #[test]
    fn header() {
        let (ts, msg) = split_header(
            "[22-Jan-2013 22:28:21 +0200]: FAILED login for u from 1.2.3.4",
            |_, _| None,
        )
        .unwrap();
        assert_eq!(msg, "FAILED login for u from 1.2.3.4");
        let mut s = String::new();
        ts.unwrap().write_rfc3339(&mut s).unwrap();
        assert_eq!(s, "2013-01-22T22:28:21+02:00");
    }
}
