//! MySQL and MariaDB: `Access denied for user 'U'@'H'[ (using password: YES|NO)]`, behind
//! whatever header the server wrote (`130324  0:04:00 [Warning] `, `2015-10-07 06:09:42 5907
//! [Warning] `, `2019-01-03T08:50:04.634875Z 113 [Note] [MY-010926] [Server] `), in syslog
//! (`mysqld`, `mariadbd`) or in the server's own error log (`service_logs`).
//!
//! U is the name the client sent, unescaped, so it may hold `'@'`; H (the client's address,
//! or its name when the server resolves and verifies names) never holds a quote, so H is what
//! follows the last `'@'`. The line must end where MySQL's format ends: text after it
//! (`… (using password: YES) condition …`) is someone else's.

use std::borrow::Cow;

use logward_core::{Dataset, Event};

use super::super::{guarded, peer, scan, Found};

const DENIED: &str = "Access denied for user '";

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| denied(skip_header(message)?, e))
}

/// Skips the header tokens MySQL's versions write before the message: dates, times, thread
/// ids (digits and `-:.TZ`) and bracketed tags without blanks. At most eight.
fn skip_header(mut m: &str) -> Option<&str> {
    for _ in 0..8 {
        m = m.trim_start_matches(' ');
        if m.starts_with(DENIED) {
            return Some(m);
        }
        let (tok, rest) = scan::word(m);
        let tag = tok.len() > 2 && tok.starts_with('[') && tok.ends_with(']');
        let stamp = !tok.is_empty()
            && tok
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'.' | b'T' | b'Z'));
        if !(tag || stamp) {
            return None;
        }
        m = rest;
    }
    None
}

fn denied<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let rest = m.strip_prefix(DENIED)?;
    let rest = scan::trim_end_blanks(rest);
    let (body, reason) = if let Some(b) = rest.strip_suffix(" (using password: YES)") {
        (b, "bad-password")
    } else if let Some(b) = rest.strip_suffix(" (using password: NO)") {
        (b, "no-password")
    } else {
        (rest, "auth-failed")
    };
    let (user, host) = body.strip_suffix('\'')?.rsplit_once("'@'")?;
    if peer::is_ip(host) {
        e.set_source(Cow::Borrowed(host), None);
    } else if is_host_name(host) {
        // A name MySQL resolved and checked forward (or `localhost`): kept as written.
        e.source_address = Some(Cow::Borrowed(host));
    } else {
        return None;
    }
    peer::user(e, user);
    peer::login_failed(e, Dataset::Mysql, reason)
}

fn is_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn headers_and_injection() {
        for m in [
            "130324  0:04:00 [Warning] Access denied for user 'root'@'192.0.2.1' (using password: NO)",
            "[MY-010926] [Server] Access denied for user 'root'@'192.0.2.1' (using password: NO)",
            "2019-09-06  1:45:18 140581192722176 [Warning] Access denied for user 'root'@'192.0.2.1' (using password: YES)",
            "2020-01-16 21:34:14 4644 [Warning] Access denied for user 'root'@'192.0.2.1'",
            "Access denied for user 'x'@'6.6.6.6'@'192.0.2.1' (using password: YES)",
        ] {
            let d = Decoded::run(|e| decode(m, e)).unwrap();
            assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"), "{m}");
        }
        for m in [
            "6 [Note] Access denied for user 'root'@'localhost' (using password: YES) condition lead to a hypothetical failure",
            "Wrong data: Access denied for user 'root'@'192.0.2.1'",
            "Access denied for user 'root'@'a b'",
        ] {
            assert!(Decoded::run(|e| decode(m, e)).is_none(), "{m}");
        }
    }
}
