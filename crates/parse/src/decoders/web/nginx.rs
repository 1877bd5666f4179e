//! nginx's error log: `2013/04/11 14:22:43 [error] 123#0: *5 MESSAGE, client: A, server: S,
//! request: "…", host: "…"`, as a file or through syslog/journal (`nginx: …`, with or without
//! the date, and fail2ban's doubled `host nginx: ` prefix).
//!
//! The peer is the address after `, client: ` that is followed by `, server: ` or the end of
//! the line. nginx escapes neither the user name (before it) nor the request line, host or
//! referrer (after it), so a line holding two such addresses that differ names no peer
//! (reported as ambiguous, and withheld): a client never chooses whom a line blames.

use std::borrow::Cow;

use logward_core::{parse_ip, Dataset, Event};

use super::super::{guarded, Found};
use super::{abuse, login_failure, probes, ymd_hms};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::text::FastFind;

/// A line of nginx's own error log file (starts with `YYYY/MM/DD HH:MM:SS `).
pub fn decode_file<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (date, time) = ymd_hms(line.as_bytes(), b'/')?;
    let timestamp = years.wall_clock(date, time, 0)?;
    let found = guarded(e, |e| error_line(line.get(20..)?, e))?;
    Some(Unframed {
        found,
        timestamp: Some(timestamp),
        program: Some("nginx"),
    })
}

/// A message nginx sent through syslog or the journal: an error-log line (with or without
/// its date) or an access-log line.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut m = message;
    // fail2ban's journal sample repeats the tag: `host nginx: 2025/09/07 …`.
    if let Some((host, rest)) = m.fsplit_once(" nginx: ") {
        if !super::super::scan::has_space(host) {
            m = rest;
        }
    }
    if ymd_hms(m.as_bytes(), b'/').is_some() {
        m = m.get(20..)?;
    }
    if m.starts_with('[') {
        return guarded(e, |e| error_line(m, e));
    }
    super::access::decode(m, e)
}

/// `[level] PID#TID: [*CID ]MESSAGE, client: …`.
fn error_line<'a>(s: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (level, rest) = s.strip_prefix('[')?.fsplit_once("] ")?;
    let (pid_tid, rest) = rest.fsplit_once(": ")?;
    let (pid, tid) = pid_tid.split_once('#')?;
    if !all_digits(pid) || !all_digits(tid) {
        return None;
    }
    let body = match rest.strip_prefix('*') {
        Some(r) => {
            let (cid, body) = r.split_once(' ')?;
            if !all_digits(cid) {
                return None;
            }
            body
        }
        None => rest,
    };
    body_event(level, body, e)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// Every `, client: A` followed by `, server: ` or the end: (offset, A).
fn client_candidates(body: &str) -> impl Iterator<Item = (usize, &str)> {
    const KEY: &str = ", client: ";
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let at = from + body.get(from..)?.ffind(KEY)?;
        from = at + KEY.len();
        let rest = &body[from..];
        let end = crate::text::find_byte(b',', rest.as_bytes()).unwrap_or(rest.len());
        let (addr, after) = rest.split_at(end);
        if (after.is_empty() || after.starts_with(", server: ")) && parse_ip(addr).is_some() {
            return Some((at, addr));
        }
    })
}

/// The request's path from `…, request: "METHOD PATH PROTO"`.
fn request_path(after_client: &str) -> Option<&str> {
    let (_, r) = after_client.fsplit_once(", request: \"")?;
    let (_method, r) = r.split_once(' ')?;
    let end = r.find([' ', '"']).unwrap_or(r.len());
    Some(&r[..end])
}

fn body_event<'a>(level: &str, body: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let candidates: Vec<(usize, &'a str)> = client_candidates(body).collect();
    let &(at, addr) = candidates.first()?;
    if candidates.iter().all(|(_, a)| *a == addr) {
        let after = &body[at + ", client: ".len() + addr.len()..];
        classify(level, &body[..at], request_path(after), e)?;
        return super::peer(e, addr, None);
    }
    // Forged: the message ends before one of them, and which one is nginx's cannot be told.
    candidates
        .iter()
        .find_map(|&(at, _)| classify(level, &body[..at], None, e))?;
    let mut ambiguous_peers: Vec<super::super::Peer<'a>> = Vec::new();
    for &(_, a) in &candidates {
        if !ambiguous_peers.iter().any(|(p, _)| p == a) {
            ambiguous_peers.push((Cow::Borrowed(a), None));
        }
    }
    Some(Found { ambiguous_peers })
}

/// Sets the event for the message before `, client: `; `None` for lines that are no
/// security event.
fn classify<'a>(level: &str, msg: &'a str, path: Option<&str>, e: &mut Event<'a>) -> Option<()> {
    const N: Dataset = Dataset::Nginx;
    if let Some(rest) = msg.strip_prefix("user \"") {
        // `user "U": password mismatch`, `user "U" was not found in "FILE"`.
        if let Some(u) = rest.strip_suffix("\": password mismatch") {
            login_failure(e, N, "bad-password", u);
        } else if let Some((u, _)) = rest
            .fsplit_once("\" was not found in \"")
            .or_else(|| rest.fsplit_once("\": was not found in \""))
        {
            login_failure(e, N, "invalid-user", u);
        } else {
            return None;
        }
    } else if let Some(rest) = msg.strip_prefix("PAM: user '") {
        // ngx_http_auth_pam: `PAM: user 'U' - not authenticated: REASON`.
        let (u, _) = rest.fsplit_once("' - not authenticated: ")?;
        login_failure(e, N, "pam-failure", u);
    } else if msg.starts_with("limiting requests, excess: ")
        || msg.starts_with("delaying request, excess: ")
        || msg.starts_with("limiting connections by zone ")
    {
        abuse(e, N, "rate-limit");
    } else if msg == "access forbidden by rule" {
        abuse(e, N, "forbidden");
    } else if msg.ends_with("\" failed (2: No such file or directory)")
        && msg.starts_with("open() \"")
        || msg.starts_with('"') && msg.ends_with("\" is not found (2: No such file or directory)")
    {
        if !path.is_some_and(probes::is_scan_path) {
            return None;
        }
        abuse(e, N, "web-scan");
    } else if level == "crit"
        && (msg.starts_with("SSL_do_handshake() failed (SSL: ")
            || msg.starts_with("SSL_read() failed (SSL: "))
    {
        abuse(e, N, "bad-tls");
    } else if msg.starts_with("client sent too long URI")
        || msg.starts_with("client sent too large request")
        || msg.starts_with("client intended to send too large body")
    {
        abuse(e, N, "overflow");
    } else if msg.starts_with("client sent invalid method")
        || msg.starts_with("client sent invalid request")
    {
        abuse(e, N, "bad-request");
    } else {
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;
    use logward_core::{Action, Outcome};

    fn file(line: &str) -> Option<Decoded<'_>> {
        let mut y = YearResolver::fixed(2026, 0);
        Decoded::run(|e| decode_file(line, &mut y, e).map(|u| u.found))
    }

    #[test]
    fn auth_failures() {
        let d = file(r#"2012/04/09 11:53:36 [error] 2865#0: *66647 user "xyz": password mismatch, client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com""#).unwrap();
        let e = d.event;
        assert_eq!(
            (e.action(), e.outcome, e.reason),
            (Action::UserLogin, Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.user_name.as_deref(), Some("xyz"));
        assert_eq!(e.source_address.as_deref(), Some("192.0.43.10"));
        let e = file(r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "x y" was not found in "/var/www/.htpasswd", client: 2001:db8::1, server: s"#).unwrap().event;
        assert_eq!(
            (e.reason, e.user_name.as_deref()),
            (Some("invalid-user"), Some("x y"))
        );
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn injected_clients_are_withheld() {
        // The request line carries a second `, client: …, server: `.
        let d = file(r#"2012/04/09 11:53:36 [error] 1#0: *1 user "x": password mismatch, client: 192.0.2.1, server: s, request: "GET /a, client: 6.6.6.6, server: x HTTP/1.1", host: "h""#).unwrap();
        assert_eq!(d.event.reason, Some("bad-password"));
        assert_eq!(d.ambiguous_peers.len(), 2);
        // Not an address, or not followed by `, server: `: not a candidate.
        let d = file(r#"2012/04/09 11:53:36 [error] 1#0: *1 user "x": password mismatch, client: 192.0.2.1, server: s, request: "GET /a,%20client: 6.6.6.6 HTTP/1.1", referrer: "x, client: evil, server: y""#).unwrap();
        assert!(d.ambiguous_peers.is_empty());
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
    }

    #[test]
    fn abuse_and_others() {
        for (line, reason) in [
            (
                r#"2015/10/29 20:01:02 [error] 256554#0: *99927 limiting requests, excess: 1.852 by zone "one", client: 1.2.3.4, server: example.com, request: "POST /index.htm HTTP/1.0", host: "exmaple.com""#,
                "rate-limit",
            ),
            (
                r#"2018/09/14 19:03:05 [error] 2035#2035: *9134 access forbidden by rule, client: 12.34.56.78, server: www.example.net, request: "GET /x HTTP/1.1", host: "www.example.net""#,
                "forbidden",
            ),
            (
                r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/site/cgi-bin/php4" failed (2: No such file or directory), client: 5.7.9.2, server: localhost, request: "GET /cgi-bin/php4 HTTP/1.1", host: "1.2.3.4""#,
                "web-scan",
            ),
            (
                r#"2020/11/25 14:42:16 [crit] 76952#76952: *2454307 SSL_do_handshake() failed (SSL: error:1408F0C6:SSL routines:ssl3_get_record:packet length too long) while SSL handshaking, client: 142.93.180.14, server: 0.0.0.0:443"#,
                "bad-tls",
            ),
        ] {
            let e = file(line).unwrap().event;
            assert_eq!(
                (e.action(), e.reason),
                (Action::ServiceAbuse, Some(reason)),
                "{line}"
            );
        }
        for line in [
            r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/site/favicon.ico" failed (2: No such file or directory), client: 5.7.9.2, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "1.2.3.4""#,
            r#"2020/11/25 16:02:45 [error] 76952#76952: *5645766 connect() failed (111: Connection refused) while connecting to upstream, client: 5.126.32.148, server: www.google.de, request: "GET /admin/config HTTP/2.0", upstream: "http://127.0.0.1:3000/admin/config", host: "www.google.de""#,
            r#"2012/04/09 11:53:29 [error] 2865#0: *1 no user/password was provided for basic authentication, client: 192.0.43.10, server: s, request: "GET / HTTP/1.1""#,
        ] {
            assert!(file(line).is_none(), "{line}");
        }
    }

    #[test]
    fn through_syslog() {
        let m = r#"host nginx: 2025/09/07 21:20:40 [error] 23141#23141: *24470 PAM: user 'username' - not authenticated: Authentication failure, client: 192.0.2.120, server: webdav.sub.domain, request: "GET / HTTP/2.0", host: "webdav.sub.domain""#;
        let e = Decoded::run(|e| decode(m, e)).unwrap().event;
        assert_eq!(
            (e.reason, e.user_name.as_deref()),
            (Some("pam-failure"), Some("username"))
        );
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.120"));
    }
}
