//! phpMyAdmin's syslog lines (`phpMyAdmin[pid]:`, `$cfg['AuthLog'] = 'syslog'`; a file
//! `AuthLog` gets the same text after `Mon dd hh:mm:ss phpmyadmin: `):
//! `user denied: U (STATUS) from A` and `user authenticated: U from A`. The user comes
//! first and is typed by the client; the status and the address are phpMyAdmin's and come
//! last, so both are read from the right.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{is_ip, login};
use crate::decoders::{guarded, scan, start, Found};
use crate::text::FastFind;

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (head, addr) = scan::trim_end_blanks(message).frsplit_once(" from ")?;
    if !is_ip(addr) {
        return None;
    }
    let addr = Cow::Borrowed(addr);
    if let Some(user) = head.strip_prefix("user authenticated: ") {
        return guarded(e, |e| {
            let user = Some(Cow::Borrowed(user));
            login(e, Dataset::Phpmyadmin, Outcome::Success, None, user, addr)
        });
    }
    let (user, status) = head.strip_prefix("user denied: ")?.frsplit_once(" (")?;
    let reason = match status.strip_suffix(')')? {
        "mysql-denied" => "bad-password",
        "empty-denied" => "empty-password",
        "allow-denied" | "root-denied" => "not-allowed",
        // Signed out for inactivity: a session ending, not an attempt.
        "no-activity" => {
            return guarded(e, |e| {
                start(e, Dataset::Phpmyadmin, Action::UserLogout, Outcome::Success);
                e.user_name = Some(Cow::Borrowed(user)).filter(|u| !u.is_empty());
                e.set_source(addr, None);
                Found::yes()
            })
        }
        _ => "auth-failed",
    };
    guarded(e, |e| {
        let user = Some(Cow::Borrowed(user));
        login(
            e,
            Dataset::Phpmyadmin,
            Outcome::Failure,
            Some(reason),
            user,
            addr,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let e = Decoded::run(|e| decode("user denied: root (mysql-denied) from 192.0.2.1", e))
            .unwrap()
            .event;
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.user_name.as_deref(), Some("root"));
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        let e = Decoded::run(|e| {
            decode(
                "user denied: a (b) from 9.9.9.9 (empty-denied) from 2001:db8::2",
                e,
            )
        })
        .unwrap()
        .event;
        assert_eq!(e.reason, Some("empty-password"));
        assert_eq!(e.user_name.as_deref(), Some("a (b) from 9.9.9.9"));
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::2"));
        let e = Decoded::run(|e| decode("user denied: bob (no-activity) from 192.0.2.1", e))
            .unwrap()
            .event;
        assert_eq!(e.action, Some(Action::UserLogout));
        let e = Decoded::run(|e| decode("user authenticated: bob from 192.0.2.1", e))
            .unwrap()
            .event;
        assert_eq!(e.outcome, Outcome::Success);
        assert!(
            Decoded::run(|e| decode("user denied: root (mysql-denied) from host", e)).is_none()
        );
        // Its own log file (`AuthLog` a path): a BSD time, no host, the tag `phpmyadmin:`.
        let mut d = crate::LineDecoder::new(crate::YearResolver::fixed(2026, 0));
        let e =
            d.decode("Aug 22 14:50:22 phpmyadmin: user denied: root (mysql-denied) from 192.0.2.1");
        assert_eq!(e.dataset, Some(Dataset::Phpmyadmin));
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
    }
}
