//! Web servers: nginx's and Apache's error logs, combined/common access logs, lighttpd's
//! auth lines and HAProxy's HTTP log, as files of their own (see [`super::unframed`]) and
//! through syslog (`nginx:`, `httpd:`, `apache2:`, `lighttpd:`, `haproxy[N]:`).
//!
//! Every peer comes from where the server writes the connection's address, never from text
//! the client sent: an access log's first field (second after a virtual host), Apache's
//! `[client A:P]` header bracket, nginx's `, client: A` (withheld when the line holds two
//! that disagree: nginx escapes neither the request line nor the user name), lighttpd's
//! final `IP: A`, HAProxy's first field. Peers must be IP addresses.

use std::borrow::Cow;

use logward_core::{parse_ip, Action, Dataset, Event, Outcome, Timestamp};

use super::{start, Found};

pub mod access;
pub mod apache;
pub mod haproxy;
pub mod lighttpd;
pub mod nginx;
pub mod probes;

/// A login that failed at a web server (`user-login` / failure).
fn login_failure<'a>(e: &mut Event<'a>, dataset: Dataset, reason: &'static str, user: &'a str) {
    start(e, dataset, Action::UserLogin, Outcome::Failure);
    e.reason = Some(reason);
    if !user.is_empty() {
        e.user_name = Some(Cow::Borrowed(user));
    }
}

/// Abuse the server refused or caught (`service-abuse` / failure, the kind in the reason).
fn abuse(e: &mut Event<'_>, dataset: Dataset, reason: &'static str) {
    start(e, dataset, Action::ServiceAbuse, Outcome::Failure);
    e.reason = Some(reason);
}

/// Sets the peer when `addr` is an IP address; `None` otherwise (the caller gives up).
fn peer<'a>(e: &mut Event<'a>, addr: &'a str, port: Option<u16>) -> Option<Found<'a>> {
    parse_ip(addr)?;
    e.set_source(Cow::Borrowed(addr), port);
    Found::yes()
}

/// `A:P`, `[A]:P`, or a bare address (IPv6 included): (address, port).
fn split_addr_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => Some(super::scan::port(p.as_bytes())?),
            None if p.is_empty() => None,
            None => return None,
        };
        return Some((a, port));
    }
    if parse_ip(s).is_some() {
        return Some((s, None));
    }
    let (a, p) = s.rsplit_once(':')?;
    Some((a, Some(super::scan::port(p.as_bytes())?)))
}

/// (year, month, day) and (hour, minute, second), as [`YearResolver::wall_clock`] takes them.
///
/// [`YearResolver::wall_clock`]: crate::clock::YearResolver::wall_clock
type Date = (i32, u32, u32);
type Time = (u32, u32, u32);

/// `n` ASCII digits at the start of `b`.
#[inline]
fn num(b: &[u8], n: usize) -> Option<u32> {
    logward_core::time::digits_at(b, 0, n)
}

use crate::clock::month_abbr as month;

/// `HH:MM:SS` at the start of `b`.
fn hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return None;
    }
    Some((num(b, 2)?, num(b.get(3..)?, 2)?, num(b.get(6..)?, 2)?))
}

/// `YYYY?MM?DD HH:MM:SS` with `sep` between the date's parts (nginx `/`, lighttpd `-`):
/// the wall-clock date and time.
fn ymd_hms(b: &[u8], sep: u8) -> Option<(Date, Time)> {
    if b.get(4) != Some(&sep) || b.get(7) != Some(&sep) || b.get(10) != Some(&b' ') {
        return None;
    }
    let date = (
        num(b, 4)? as i32,
        num(b.get(5..)?, 2)?,
        num(b.get(8..)?, 2)?,
    );
    Some((date, hms(b.get(11..)?)?))
}

/// The access log's `dd/Mon/yyyy:HH:MM:SS +zzzz` (the part inside the brackets).
fn clf_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let date = (num(&b[7..], 4)? as i32, month(&b[3..])?, num(b, 2)?);
    let time = hms(&b[12..])?;
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(&b[22..], 2)?, num(&b[24..], 2)?);
    if oh > 23 || om > 59 {
        return None;
    }
    let offset = sign * (oh * 3600 + om * 60) as i32;
    Timestamp::from_local(date, time, 0, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LineDecoder, YearResolver};

    #[test]
    fn syslog_and_file_forms_dispatch() {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        for (line, dataset, program, source) in [
            ("Mar  4 02:11:57 h lighttpd[764]: (mod_auth.c.853) password doesn't match for / username: user1 IP: 192.0.2.211", Dataset::Lighttpd, "lighttpd", "192.0.2.211"),
            ("Feb 15 16:23:40 srv httpd/backend1[22034]: [authz_core:error] [pid 22036] [client 192.0.2.2:59392] AH01630: client denied by server configuration: /home/backend1/", Dataset::Apache, "httpd/backend1", "192.0.2.2"),
            ("Nov 14 22:45:11 test haproxy[760]: 192.168.33.1:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"", Dataset::Haproxy, "haproxy", "192.168.33.1"),
            ("Nov 14 22:45:11 web nginx: 203.0.113.9 - - [14/Nov/2026:22:45:11 +0000] \"GET /wp-login.php HTTP/1.1\" 404 0 \"-\" \"x\"", Dataset::HttpAccess, "nginx", "203.0.113.9"),
            ("2012/04/09 11:53:29 [error] 2865#0: *66647 user \"xyz\" was not found in \"/var/www/.htpasswd\", client: 192.0.43.10, server: www.myhost.com", Dataset::Nginx, "nginx", "192.0.43.10"),
            ("[Wed Jul 17 22:18:52 2013] [error] [client 127.0.0.1] user u: authentication failure for \"/x\": Password Mismatch", Dataset::Apache, "httpd", "127.0.0.1"),
            ("2011-12-25 17:09:20: (http_auth.c.875) password doesn't match for /gitweb/ username: francois, IP: 4.4.4.4", Dataset::Lighttpd, "lighttpd", "4.4.4.4"),
        ] {
            let e = d.decode(line);
            assert_eq!(e.dataset, Some(dataset), "{line}");
            assert_eq!(e.process_name.as_deref(), Some(program), "{line}");
            assert_eq!(e.source_address.as_deref(), Some(source), "{line}");
            assert!(e.timestamp.is_some(), "{line}");
        }
        // An ordinary request: recognised, timed, no event, no source.
        let e = d.decode(r#"198.51.100.7 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "-" "Mozilla/5.0""#);
        assert_eq!(
            (e.action(), e.dataset),
            (Action::Unknown, Some(Dataset::HttpAccess))
        );
        assert_eq!(e.source_address, None);
        assert_eq!(
            e.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2026-10-10T13:55:36-07:00")
        );
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(split_addr_port("1.2.3.4:80"), Some(("1.2.3.4", Some(80))));
        assert_eq!(split_addr_port("1.2.3.4"), Some(("1.2.3.4", None)));
        assert_eq!(split_addr_port("2001:db8::1"), Some(("2001:db8::1", None)));
        assert_eq!(
            split_addr_port("2001:db8::1234:58430"),
            Some(("2001:db8::1234", Some(58430)))
        );
        assert_eq!(
            split_addr_port("[2001:db8::1]:51548"),
            Some(("2001:db8::1", Some(51548)))
        );
        assert_eq!(split_addr_port("[2001:db8::1]x"), None);
    }

    #[test]
    fn clf_times() {
        let t = clf_time("10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.to_string(), "2000-10-10T13:55:36-07:00");
        assert!(clf_time("32/Oct/2000:13:55:36 -0700").is_none());
        assert!(clf_time("10/Oct/2000:13:55:36 +9900").is_none());
    }
}
