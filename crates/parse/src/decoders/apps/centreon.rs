//! Centreon's `login.log`: `2019-10-21 18:55:15|-1|0|0|[WEB] [A] Authentication failed for
//! 'U' : REASON`. The address is the bracket after the origin tag, before the user's text.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::{datetime, failure, instant, is_ip, unframed_found};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, Found};
use crate::text::FastFind;

pub fn unframed<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (date, time, nanos, used) = datetime(line.as_bytes())?;
    let rest = line.get(used..)?.strip_prefix('|')?;
    // Three numeric fields (contact id, …), then the message.
    let mut fields = rest.splitn(4, '|');
    for _ in 0..3 {
        let f = fields.next()?;
        let f = f.strip_prefix('-').unwrap_or(f);
        if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let message = fields.next()?;
    let found = guarded(e, |e| decode_message(message, e));
    unframed_found(found, instant(years, date, time, nanos, None), "centreon")
}

fn decode_message<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (_origin, rest) = m.strip_prefix('[')?.fsplit_once("] [")?;
    let (addr, rest) = rest.fsplit_once("] ")?;
    let rest = rest.strip_prefix("Authentication failed for '")?;
    let (user, why) = rest.frsplit_once("' : ")?;
    if !is_ip(addr) {
        return None;
    }
    let why = why.trim_end_matches([' ', '\r']);
    let reason = if why == "password mismatch" {
        "bad-password"
    } else if why.fcontains("not found") || why.fcontains("could not find") {
        "invalid-user"
    } else {
        "auth-failed"
    };
    failure(
        e,
        Dataset::Centreon,
        reason,
        Some(Cow::Borrowed(user)),
        Cow::Borrowed(addr),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::apps;

    #[test]
    fn failure_line() {
        let mut e = Event::default();
        let line = "2019-10-21 18:55:15|-1|0|0|[WEB] [50.97.225.132] Authentication failed for 'admin' : password mismatch";
        let u = apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e).unwrap();
        assert_eq!(u.timestamp.unwrap().to_string(), "2019-10-21T18:55:15Z");
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.user_name.as_deref(), Some("admin"));
        assert_eq!(e.source_address.as_deref(), Some("50.97.225.132"));
        let mut e = Event::default();
        let line = "2019-10-21 18:55:15|-1|0|0|[WEB] [x] Authentication failed for '[9.9.9.9]' : password mismatch";
        assert!(apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e).is_none());
    }
}
