//! openHAB's Jetty request log: `A -  -  [02/sept./2015:00:11:31 +0200] "GET /rest HTTP/1.1"
//! 401 1382`. Jetty ≤ 8 writes ` - ` and then ` - ` again for a request with no user, which
//! is what tells its log from a web server's (Jetty 9 and later write the common log format,
//! which the access-log decoders read); a 401 (a request that failed to authenticate) is a
//! failed login, other statuses are left to the access-log decoders. The month is the JVM
//! locale's (`sept.`, `oct.`): English and French abbreviations are read; with another the
//! event has no time.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Timestamp};

use super::{failure, is_ip, offset, unframed_found};
use crate::decoders::guarded;
use crate::decoders::unframed::Unframed;
use crate::text::FastFind;

pub fn unframed<'a>(line: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let (addr, rest) = line.fsplit_once(" -  -  [")?;
    if !is_ip(addr) {
        return None;
    }
    let (stamp, rest) = rest.fsplit_once("] \"")?;
    // The request line is the client's: the status is read after its last `" `.
    let (_request, tail) = rest.frsplit_once("\" ")?;
    let (status, _bytes) = tail.split_once(' ').unwrap_or((tail, ""));
    if status != "401" {
        return None;
    }
    let found = guarded(e, |e| {
        failure(
            e,
            Dataset::Openhab,
            "auth-failed",
            None,
            Cow::Borrowed(addr),
        )
    });
    unframed_found(found, ncsa_time(stamp), "openhab")
}

/// `dd/Mon/yyyy:hh:mm:ss ±hhmm`.
fn ncsa_time(s: &str) -> Option<Timestamp> {
    let mut parts = s.splitn(3, '/');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = month(parts.next()?)?;
    let rest = parts.next()?;
    let (year, rest) = rest.split_once(':')?;
    let (hms, zone) = rest.split_once(' ')?;
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<u32>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    let (o, _) = offset(zone.as_bytes())?;
    Timestamp::from_local((year.parse().ok()?, month, day), (h, m, sec), 0, o)
}

/// An English or French month abbreviation (`Sep`, `sept.`, `févr.`, `août`).
fn month(m: &str) -> Option<u32> {
    let m = m.trim_end_matches('.').to_lowercase();
    let n = match m.as_str() {
        "jan" | "janv" => 1,
        "feb" | "fév" | "févr" => 2,
        "mar" | "mars" => 3,
        "apr" | "avr" => 4,
        "may" | "mai" => 5,
        "jun" | "juin" => 6,
        "jul" | "juil" => 7,
        "aug" | "août" => 8,
        "sep" | "sept" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" | "déc" => 12,
        _ => return None,
    };
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::YearResolver;
    use crate::decoders::apps;

    fn d(line: &str) -> Option<(Event<'_>, Option<Timestamp>)> {
        let mut e = Event::default();
        let u = apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e)?;
        Some((e, u.timestamp))
    }

    #[test]
    fn unauthorized_requests() {
        let (e, t) = d("175.18.15.10 -  -  [02/sept./2015:00:11:31 +0200] \"GET /openhab.app HTTP/1.1\" 401 1382 ").unwrap();
        assert_eq!(e.dataset, Some(Dataset::Openhab));
        assert_eq!(e.source_address.as_deref(), Some("175.18.15.10"));
        assert_eq!(t.unwrap().to_string(), "2015-09-02T00:11:31+02:00");
        assert!(
            d("175.18.15.11 -  -  [17/oct./2015:00:35:12 +0200] \"GET /x HTTP/1.1\" 200 92 ")
                .is_none()
        );
        // A request line ending in `" 401 1` does not make a 200 a 401.
        assert!(d(
            "175.18.15.11 -  -  [17/oct./2015:00:35:12 +0200] \"GET /x\" 401 1 HTTP/1.1\" 200 92"
        )
        .is_none());
        let (e, _) =
            d("2001:db8::5 -  -  [17/Oct/2015:00:35:12 +0000] \"GET /x HTTP/1.1\" 401 0").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::5"));
    }
}
