//! HAProxy's HTTP log through syslog: `haproxy[N]: A:P [14/Nov/2015:22:45:11.608] FRONTEND
//! BACKEND/SERVER TR/TW/TC/TR/TA STATUS BYTES …`.
//!
//! A request HAProxy answered itself (`<NOSRV>`) with 401 is its `http-auth` challenge or a
//! refused login (`user-login` failure: the log cannot tell them apart, so a brute-force
//! threshold must allow one per visit, as fail2ban's filter notes); with 403 it is an ACL's
//! `deny` (`service-abuse` `forbidden`). The peer is the first field, which HAProxy writes;
//! the request at the end is the client's text and is not read.

use logward_core::{Dataset, Event};

use super::super::{guarded, scan, Found};
use super::{abuse, login_failure};
use crate::text::word;

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let (client, rest) = word(message);
        // `%ci:%cp`, IPv6 unbracketed: the port follows the last colon.
        let (addr, port) = client.rsplit_once(':')?;
        let port = scan::port(port.as_bytes())?;
        let rest = rest.strip_prefix('[')?;
        let (_accept_date, rest) = rest.split_once("] ")?;
        let (_frontend, rest) = word(rest);
        let (backend_server, rest) = word(rest);
        let (timers, rest) = word(rest);
        let (status, _) = word(rest);
        if !backend_server.ends_with("/<NOSRV>") || !timers.starts_with("-1/-1/-1/-1/") {
            return None;
        }
        match status {
            "401" => login_failure(e, Dataset::Haproxy, "auth-failed", ""),
            "403" => abuse(e, Dataset::Haproxy, "forbidden"),
            _ => return None,
        }
        super::peer(e, addr, Some(port))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let m = r#"::ffff:192.168.33.1:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 "GET / HTTP/1.1""#;
        let e = Decoded::run(|e| decode(m, e)).unwrap().event;
        assert_eq!(
            (e.reason, e.source_address.as_deref(), e.source_port),
            (Some("auth-failed"), Some("192.168.33.1"), Some(58430))
        );
        let m = r#"2001:db8::1234:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 "GET / HTTP/1.1""#;
        let e = Decoded::run(|e| decode(m, e)).unwrap().event;
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::1234"));
        let m = r#"192.168.33.1:58444 [14/Nov/2015:22:45:25.439] main app/app1 1939/0/1/0/1940 403 5168 - - ---- 3/3/0/0/0 0/0 "GET / HTTP/1.1""#;
        assert!(Decoded::run(|e| decode(m, e)).is_none());
    }
}
