//! Monit's HTTP interface, through syslog (`monit[pid]:`) or its own log file
//! (`[CET Nov  6 10:14:52] error    : MESSAGE`, also `[2024-11-06T10:14:52+0100] …`):
//!
//! - `HttpRequest: access denied -- client A: wrong password for user 'U'` (also `unknown user
//!   'U'`, `empty password`; `A` may be bracketed);
//! - older: `Warning: Client 'A' supplied unknown user 'U' accessing monit httpd` (and `wrong
//!   password for user 'U'`).
//!
//! The address precedes the user in both. `missing or invalid Authorization header`, `empty
//! username` and `unknown user ''` are a browser's first request before it asks for a
//! password — no attempt, no event (fail2ban ignores them too). The file's zone abbreviation is
//! not read: its time is taken in the input's zone.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::{datetime, failure, instant, is_ip, offset, unframed_found};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, Found};
use crate::text::FastFind;

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| denied(message, e))
}

/// A line of Monit's own log file.
pub fn unframed<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (stamp, rest) = line.strip_prefix('[')?.fsplit_once("] ")?;
    let (_level, message) = rest.fsplit_once(" : ")?;
    let timestamp = match stamp.as_bytes().first()? {
        b'0'..=b'9' => {
            let (date, time, nanos, used) = datetime(stamp.as_bytes())?;
            let zone = offset(stamp.as_bytes().get(used..)?).map(|(o, _)| o);
            instant(years, date, time, nanos, zone)
        }
        // `ZONE Mon dd hh:mm:ss`: the zone name is not read.
        _ => years
            .parse_bsd(stamp.split_once(' ')?.1.as_bytes())
            .map(|(t, _)| t),
    };
    unframed_found(guarded(e, |e| denied(message, e)), timestamp, "monit")
}

fn denied<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = m.trim_end_matches([' ', '\r']);
    let (addr, why) = if let Some(rest) = m.strip_prefix("HttpRequest: access denied -- client ") {
        let (addr, why) = rest.fsplit_once(": ")?;
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        (addr, why)
    } else {
        let rest = m.strip_prefix("Warning: Client '")?;
        let (addr, why) = rest.fsplit_once("' supplied ")?;
        (addr, why.strip_suffix(" accessing monit httpd")?)
    };
    if !is_ip(addr) {
        return None;
    }
    let quoted = |s: &'a str| s.strip_prefix('\'')?.strip_suffix('\'');
    let (reason, user) = if why == "empty password" {
        ("empty-password", None)
    } else if let Some(u) = why.strip_prefix("wrong password for user ") {
        ("bad-password", Some(quoted(u)?))
    } else if let Some(u) = why.strip_prefix("unknown user ") {
        ("invalid-user", Some(quoted(u)?).filter(|u| !u.is_empty()))
    } else {
        return None;
    };
    // `unknown user ''`: no name given yet.
    if reason == "invalid-user" && user.is_none() {
        return None;
    }
    failure(
        e,
        Dataset::Monit,
        reason,
        user.map(Cow::Borrowed),
        Cow::Borrowed(addr),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::{apps, Decoded};
    use logward_core::Outcome;

    fn d(m: &str) -> Option<Event<'_>> {
        Decoded::run(|e| decode(m, e)).map(|d| d.event)
    }

    #[test]
    fn forms() {
        let e = d("HttpRequest: access denied -- client 1.2.3.4: wrong password for user 'test2'")
            .unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.user_name.as_deref(), Some("test2"));
        assert_eq!(e.source_address.as_deref(), Some("1.2.3.4"));
        let e = d("HttpRequest: access denied -- client 2001:db8::1: unknown user 'x'").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::1"));
        assert_eq!(
            d("HttpRequest: access denied -- client 1.2.3.4: empty password")
                .unwrap()
                .reason,
            Some("empty-password")
        );
        for no in [
            "HttpRequest: access denied -- client 1.2.3.4: missing or invalid Authorization header",
            "HttpRequest: access denied -- client 1.2.3.4: empty username",
            "HttpRequest: access denied -- client 1.2.3.4: unknown user ''",
        ] {
            assert!(d(no).is_none(), "{no}");
        }
    }

    #[test]
    fn own_file() {
        let mut y = YearResolver::fixed(2005, 0);
        let mut e = Event::default();
        let u = apps::unframed("[PDT Apr 16 21:05:29] error    : Warning: Client '69.93.127.111' supplied unknown user 'foo' accessing monit httpd", &mut y, &mut e).unwrap();
        assert_eq!(u.timestamp.unwrap().to_string(), "2005-04-16T21:05:29Z");
        assert_eq!(e.user_name.as_deref(), Some("foo"));
        assert_eq!(e.source_address.as_deref(), Some("69.93.127.111"));
        let mut e = Event::default();
        let u = apps::unframed("[2024-11-06T10:14:52+0100] error    : HttpRequest: access denied -- client [192.168.1.85]: wrong password for user 'root'", &mut y, &mut e).unwrap();
        assert_eq!(
            u.timestamp.unwrap().to_string(),
            "2024-11-06T10:14:52+01:00"
        );
        assert_eq!(e.source_address.as_deref(), Some("192.168.1.85"));
    }
}
