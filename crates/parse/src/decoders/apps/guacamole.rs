//! Apache Guacamole's web application (Tomcat's log): `Authentication attempt from A for user
//! "U" failed.` and `User "U" successfully authenticated from A.`
//!
//! It reaches logward in three shapes: java.util.logging's two lines (`apr 15, 2013 8:34:08 PM
//! org.slf4j… warn` then `WARNING: Authentication attempt …`, the second framed as program
//! `WARNING`), logback's one line (`12:57:32.907 [thread] WARN  logger - …`, unframed) and
//! Tomcat's journal lines (program `tomcat9` …, logback's line as the message). In every shape
//! the address is on the same line as the verdict, so the decoder stays per line and
//! stateless; the first JUL line carries only the time, which the event then lacks.
//!
//! Behind a proxy Guacamole writes `[X-Forwarded-For, remote address]` in the address's place.
//! The forwarded part is whatever the client sent; the last entry is the address the server
//! saw, and that is the peer.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Outcome};

use super::{is_ip, login, unframed_found};
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, Found};
use crate::text::FastFind;

/// A message of Tomcat (JUL's `WARNING:`/`INFO:` program, or the journal's `tomcatN`), with
/// or without logback's header.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let message = match message.as_bytes().first() {
        Some(c) if c.is_ascii_digit() => strip_logback(message)?,
        _ => message,
    };
    guarded(e, |e| verdict(message, e))
}

/// Logback's line with no syslog header.
pub fn logback<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let body = strip_logback(message)?;
    unframed_found(guarded(e, |e| verdict(body, e)), None, "guacamole")
}

/// `HH:MM:SS.fff [thread] LEVEL logger - ` → what follows.
fn strip_logback(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let time_ok = b.len() > 9
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit());
    if !time_ok {
        return None;
    }
    let (_, rest) = line.fsplit_once(" [")?;
    let (_thread, rest) = rest.fsplit_once("] ")?;
    let rest = rest.trim_start_matches(' ');
    let (_level, rest) = rest.split_once(' ')?;
    let (_logger, rest) = rest.trim_start_matches(' ').fsplit_once(" - ")?;
    Some(rest)
}

fn verdict<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = m.trim_end_matches([' ', '\r']);
    if let Some(rest) = m.strip_prefix("Authentication attempt from ") {
        // The address comes first: up to ` for user "`, or the bracketed list.
        let (addr, rest) = if rest.starts_with('[') {
            let (list, rest) = rest.fsplit_once("] for user \"")?;
            (last_of_list(list.strip_prefix('[')?)?, rest)
        } else {
            rest.fsplit_once(" for user \"")?
        };
        let user = rest.strip_suffix("\" failed.")?;
        if !is_ip(addr) {
            return None;
        }
        let user = (user != "null").then_some(Cow::Borrowed(user));
        return login(
            e,
            Dataset::Guacamole,
            Outcome::Failure,
            Some("auth-failed"),
            user,
            Cow::Borrowed(addr),
        );
    }
    // The user comes first here: the address is read from the end.
    let rest = m.strip_prefix("User \"")?.strip_suffix('.')?;
    let (user, addr) = if let Some(list) = rest.strip_suffix(']') {
        let (user, list) = list.frsplit_once("\" successfully authenticated from [")?;
        (user, last_of_list(list)?)
    } else {
        rest.frsplit_once("\" successfully authenticated from ")?
    };
    if !is_ip(addr) {
        return None;
    }
    let user = Some(Cow::Borrowed(user));
    login(
        e,
        Dataset::Guacamole,
        Outcome::Success,
        None,
        user,
        Cow::Borrowed(addr),
    )
}

/// The last entry of `A, B, C` (the address the server saw).
fn last_of_list(list: &str) -> Option<&str> {
    Some(list.rsplit(", ").next()?.trim())
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
        let e = d("Authentication attempt from 192.0.2.0 for user \"pippo\" failed.").unwrap();
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.user_name.as_deref(), Some("pippo"));
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.0"));
        let e = d("Authentication attempt from 192.0.2.0 for user \"null\" failed.").unwrap();
        assert_eq!(e.user_name, None);
        let e = d("12:57:32.907 [http-nio-8080-exec-10] WARN  o.a.g.r.auth.AuthenticationService - Authentication attempt from [203.0.113.9, 10.0.0.2] for user \"x\" failed.").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("10.0.0.2"));
        let e = d("User \"a\" successfully authenticated from 9.9.9.9.\" successfully authenticated from 192.0.2.3.").unwrap();
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.3"));
        let e = d("12:00:00.000 [t] INFO  o.a.g.r.auth.AuthenticationService - User \"bob\" successfully authenticated from [203.0.113.9, 192.0.2.4].").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.4"));
        assert_eq!(e.user_name.as_deref(), Some("bob"));
    }

    #[test]
    fn a_user_name_cannot_move_the_peer() {
        let e =
            d("Authentication attempt from 192.0.2.1 for user \"x for user \"y\" failed.").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        assert!(d("Authentication attempt from bob for user \"x\" failed.").is_none());
        assert!(d("apr 15, 2013 8:34:08 PM org.slf4j.impl.JCLLoggerAdapter warn").is_none());
    }
}
