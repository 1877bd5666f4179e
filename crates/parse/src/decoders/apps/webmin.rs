//! Webmin (`webmin[pid]:` in auth.log): `Invalid login as U from A` (wrong password),
//! `Non-existent login as U from A`, `Successful login as U from A`. The user is typed by the
//! client and comes first, the address is last: it is read after the last ` from `.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Outcome};

use super::login;
use crate::decoders::{guarded, scan, Found};
use crate::text::FastFind;

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (outcome, reason, rest) = if let Some(r) = message.strip_prefix("Invalid login as ") {
        (Outcome::Failure, Some("bad-password"), r)
    } else if let Some(r) = message.strip_prefix("Non-existent login as ") {
        (Outcome::Failure, Some("invalid-user"), r)
    } else if let Some(r) = message.strip_prefix("Successful login as ") {
        (Outcome::Success, None, r)
    } else {
        return None;
    };
    let (user, addr) = scan::trim_end_blanks(rest).frsplit_once(" from ")?;
    if addr.contains(' ') {
        return None;
    }
    guarded(e, |e| {
        login(
            e,
            Dataset::Webmin,
            outcome,
            reason,
            Some(Cow::Borrowed(user)),
            Cow::Borrowed(addr),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let e = Decoded::run(|e| decode("Non-existent login as admin@x.au from 14.200.251.155", e))
            .unwrap()
            .event;
        assert_eq!(e.reason, Some("invalid-user"));
        assert_eq!(e.user_name.as_deref(), Some("admin@x.au"));
        assert_eq!(e.source_address.as_deref(), Some("14.200.251.155"));
        let e = Decoded::run(|e| decode("Invalid login as r from 9.9.9.9 from 89.2.49.230 ", e))
            .unwrap()
            .event;
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.user_name.as_deref(), Some("r from 9.9.9.9"));
        assert_eq!(e.source_address.as_deref(), Some("89.2.49.230"));
        let e = Decoded::run(|e| decode("Successful login as root from 192.0.2.1", e))
            .unwrap()
            .event;
        assert_eq!(e.outcome, Outcome::Success);
        assert!(Decoded::run(|e| decode("Invalid login as root from ", e)).is_none());
        assert!(Decoded::run(|e| decode("Timeout of session for root", e)).is_none());
    }
}
