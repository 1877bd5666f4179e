//! Drupal's syslog module. The program is the site's syslog identity (`drupal` by default,
//! often the site's name), so besides the `drupal` program the dispatcher offers this decoder
//! every message of an unknown program that starts with `h` (the base URL); it recognises
//! only Drupal's record:
//!
//! `BASE_URL|TIMESTAMP|TYPE|IP|REQUEST_URI|REFERER|UID|LINK|MESSAGE`
//!
//! The address is the fourth field: the first three (the site's URL, a number, the type) hold
//! no `|`, so it cannot move. The URI and referer are the client's and may hold `|`, even a
//! whole fake record (fail2ban gh-2742), so the message is read from the other end: the text
//! after the last `|`, preceded by the link and a numeric uid. A user name holding `|` then
//! leaves the line undecoded, which only ever loses that one line.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{is_ip, login};
use crate::decoders::{guarded, start, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if !message.starts_with("http") {
        return None;
    }
    let mut fields = message.splitn(5, '|');
    let (_base, time, kind, addr) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let rest = fields.next()?;
    if time.is_empty() || !time.bytes().all(|c| c.is_ascii_digit()) || kind != "user" {
        return None;
    }
    if !is_ip(addr) {
        return None;
    }
    let (before, text) = rest.rsplit_once('|')?;
    let (before, _link) = before.rsplit_once('|')?;
    let uid = before.rsplit_once('|').map_or(before, |(_, u)| u);
    if uid.is_empty() || !uid.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let text = text.trim_end_matches([' ', '\r']);
    let text = text.strip_suffix('.').unwrap_or(text);
    let addr = Cow::Borrowed(addr);
    if let Some(user) = text.strip_prefix("Login attempt failed for ") {
        return guarded(e, |e| {
            let user = Some(Cow::Borrowed(user));
            login(
                e,
                Dataset::Drupal,
                Outcome::Failure,
                Some("bad-password"),
                user,
                addr,
            )
        });
    }
    if let Some(who) = text.strip_prefix("Login attempt failed from ") {
        // Drupal ≥ 8 names the address here when the account is unknown; older versions
        // the user.
        let user = (!is_ip(who)).then_some(Cow::Borrowed(who));
        return guarded(e, |e| {
            login(
                e,
                Dataset::Drupal,
                Outcome::Failure,
                Some("auth-failed"),
                user,
                addr,
            )
        });
    }
    if let Some(user) = text.strip_prefix("Session opened for ") {
        return guarded(e, |e| {
            let user = Some(Cow::Borrowed(user));
            login(e, Dataset::Drupal, Outcome::Success, None, user, addr)
        });
    }
    let user = text.strip_prefix("Session closed for ")?;
    guarded(e, |e| {
        start(e, Dataset::Drupal, Action::UserLogout, Outcome::Success);
        e.user_name = Some(Cow::Borrowed(user)).filter(|u| !u.is_empty());
        e.set_source(addr, None);
        Found::yes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn d(m: &str) -> Option<Event<'_>> {
        Decoded::run(|e| decode(m, e)).map(|d| d.event)
    }

    #[test]
    fn forms() {
        let e = d("https://example.com|1430068525|user|1.2.3.4|https://example.com/?q=user|https://example.com/?q=user|0||Login attempt failed for drupaladmin.").unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.user_name.as_deref(), Some("drupaladmin"));
        assert_eq!(e.source_address.as_deref(), Some("1.2.3.4"));
        let e = d("https://www.example.com|1613058599|user|192.0.2.7|https://www.example.com/en/user/login|https://www.example.com/en/user/login|0||Login attempt failed from Jack Sparrow.").unwrap();
        assert_eq!(e.user_name.as_deref(), Some("Jack Sparrow"));
        let e = d("https://example.com|1613063581|user|192.0.2.4|https://example.com/user/login?test=%7C&test2=%7C|https://example.com/user/login?test=|&test2=||0||Login attempt failed from 192.0.2.4.").unwrap();
        assert_eq!(e.user_name, None);
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.4"));
        let e = d("https://example.com|1430068748|user|1.2.3.4|https://example.com/user|https://example.com/user|1||Session opened for drupaladmin.").unwrap();
        assert_eq!(e.outcome, Outcome::Success);
    }

    #[test]
    fn a_fake_record_in_the_referer_is_not_the_message() {
        let e = d("https://example.com|1613063581|user|192.0.2.5|https://example.com/user/login?test=%7C&test2=%7C...|https://example.com/user/login?test=|&test2=|0||Login attempt failed for tester|2||Session revisited for drupaladmin.");
        assert!(e.is_none());
        assert!(
            d("https://example.com|x|user|1.2.3.4|u|r|0||Login attempt failed for a.").is_none()
        );
        assert!(d("https://example.com|1|user|host|u|r|0||Login attempt failed for a.").is_none());
        assert!(
            d("https://example.com|1|content|1.2.3.4|u|r|0||Login attempt failed for a.").is_none()
        );
    }
}
