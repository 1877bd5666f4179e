//! Apache httpd's error log, 2.2 (`[Wed Jul 17 22:18:52 2013] [error] [client A] MESSAGE`)
//! and 2.4 (`[Sun Jul 28 21:27:56.549667 2013] [auth_basic:error] [pid 3146:tid 7]
//! [client A:P] AH01618: MESSAGE`), as a file or through syslog (`ErrorLog syslog`: the same
//! without the date).
//!
//! The peer is the `[client …]` (or `[remote …]`) bracket of the header, which httpd writes
//! before the message: a `[client …]` inside the message (a requested path, mod_security's
//! own copy) is never read.

use logward_core::{Dataset, Event};

use super::super::{guarded, scan, Found};
use super::{abuse, login_failure, month, num, probes, split_addr_port};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::text::FastFind;

/// A line of httpd's own error log (starts with `[Www Mmm dd hh:mm:ss[.ffffff] yyyy] `).
pub fn decode_file<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (date, time, nanos, used) = ctime(line.as_bytes())?;
    let timestamp = years.wall_clock(date, time, nanos)?;
    let found = guarded(e, |e| header(line.get(used..)?, e))?;
    Some(Unframed {
        found,
        timestamp: Some(timestamp),
        program: Some("httpd"),
    })
}

/// A message httpd sent through syslog (`httpd`, `apache2`, `httpd/VHOST`): its error-log
/// header without the date, or an access-log line from a piped logger.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if message.starts_with('[') {
        return guarded(e, |e| header(message, e));
    }
    super::access::decode(message, e)
}

/// `[Www Mmm dd hh:mm:ss[.ffffff] yyyy] ` → (date, time, nanos, bytes used).
fn ctime(b: &[u8]) -> Option<(super::Date, super::Time, u32, usize)> {
    // `[Sun Jul 28 21:27:56`
    if b.first() != Some(&b'[') || b.get(4) != Some(&b' ') || b.get(8) != Some(&b' ') {
        return None;
    }
    let mon = month(b.get(5..)?)?;
    let day = num(b.get(9..)?, 2)?;
    let time = super::hms(b.get(12..)?)?;
    let mut i = 20;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        if let Some((n, used)) = b.get(i + 1..).and_then(logward_core::time::fraction_digits) {
            (nanos, i) = (n, i + 1 + used);
        } else {
            i += 1;
        }
    }
    if b.get(i) != Some(&b' ') || b.get(i + 5) != Some(&b']') || b.get(i + 6) != Some(&b' ') {
        return None;
    }
    let year = num(b.get(i + 1..)?, 4)? as i32;
    Some(((year, mon, day), time, nanos, i + 7))
}

/// `[module:level] [pid N[:tid M]] [client A:P] MESSAGE` (2.2: `[level] [client A]`).
fn header<'a>(s: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let mut rest = s;
    let mut module = "";
    // 2.4 writes `module:level` and a pid, and always a port after the client's address,
    // unbracketed even for IPv6 (`[client 2001:db8::1:51548]`); 2.2 writes the address alone
    // (a port only where the text is no address without it).
    let mut with_port = false;
    // At most the level and pid brackets come before the client's.
    for _ in 0..3 {
        let inner = rest.strip_prefix('[')?;
        let peer_text = inner
            .strip_prefix("client ")
            .or_else(|| inner.strip_prefix("remote "));
        if let Some(p) = peer_text {
            let (addr, port, msg) = if p.starts_with('[') {
                // `[client [2001:db8::1]:51548]`, as fail2ban's samples write it.
                let close = p.find(']')?;
                let end = close + 1 + p[close + 1..].find(']')?;
                let (addr, port) = split_addr_port(&p[..end])?;
                (addr, port, &p[end + 1..])
            } else {
                let (text, msg) = p.split_once(']')?;
                // A custom ErrorLogFormat may leave the port out (`[client 127.0.0.1]`).
                if with_port && !is_ipv4(text) || logward_core::parse_ip(text).is_none() {
                    let (addr, port) = text.rsplit_once(':')?;
                    (addr, Some(scan::port(port.as_bytes())?), msg)
                } else {
                    (text, None, msg)
                }
            };
            let msg = msg.strip_prefix(' ').unwrap_or(msg);
            classify(module, msg, e)?;
            return super::peer(e, addr, port);
        }
        let (field, after) = inner.fsplit_once("] ")?;
        if field.starts_with("pid ") {
            with_port = true;
        } else if let Some((m, _level)) = field.split_once(':') {
            module = m;
            with_port = true;
        }
        rest = after;
    }
    None
}

fn is_ipv4(s: &str) -> bool {
    matches!(logward_core::parse_ip(s), Some(std::net::IpAddr::V4(_))) && !s.contains(':')
}

/// Sets the event for a message after the client bracket; `None` when it is no security
/// event.
fn classify<'a>(module: &str, msg: &'a str, e: &mut Event<'a>) -> Option<()> {
    const A: Dataset = Dataset::Apache;
    // `AH01618: ` error codes (2.4).
    let msg = match msg.strip_prefix("AH") {
        Some(r)
            if r.len() > 7
                && r.as_bytes()[5] == b':'
                && r[..5].bytes().all(|c| c.is_ascii_digit()) =>
        {
            &r[7..]
        }
        _ => msg,
    };
    // The referrer httpd appends is the client's text.
    let text = msg.fsplit_once(", referer: ").map_or(msg, |(m, _)| m);
    let digest = text.strip_prefix("Digest: ");
    let t = digest.unwrap_or(text);

    if let Some(rest) = t.strip_prefix("user ") {
        if let Some(r) = rest.strip_prefix('`') {
            // Digest: user `U' in realm `R' not found: PATH
            let (u, tail) = r.fsplit_once("' in realm `")?;
            tail.fcontains("' not found").then_some(())?;
            login_failure(e, A, "invalid-user", u);
        } else if let Some((u, _)) = rest.fsplit_once(": authentication failure for \"") {
            login_failure(e, A, "bad-password", u);
        } else if let Some((u, _)) = rest.fsplit_once(": authorization failure for \"") {
            login_failure(e, A, "not-allowed", u);
        } else if let Some((u, _)) = rest.fsplit_once(": password mismatch") {
            login_failure(e, A, "bad-password", u);
        } else if let Some(u) = rest.strip_suffix(" not found") {
            login_failure(e, A, "invalid-user", u);
        } else if let Some((u, _)) = rest.fsplit_once(" not found: ") {
            login_failure(e, A, "invalid-user", u);
        } else {
            return None;
        }
    } else if let Some(rest) = t.strip_prefix("Authorization of user ") {
        let (u, _) = rest.fsplit_once(" to access ")?;
        login_failure(e, A, "not-allowed", u);
    } else if t.starts_with("client used wrong authentication scheme")
        || t.starts_with("invalid qop `")
        || t.starts_with("realm mismatch - got `")
        || t.starts_with("unknown algorithm `")
        || t.starts_with("invalid nonce ")
            && (t.ends_with(" user attempted time travel")
                || t.fcontains(" received - length is not "))
    {
        login_failure(e, A, "auth-failed", "");
    } else if t.starts_with("client denied by server configuration") {
        // mod_evasive blocks through the same message.
        let reason = if module.starts_with("evasive") {
            "rate-limit"
        } else {
            "forbidden"
        };
        abuse(e, A, reason);
    } else if t.starts_with("ModSecurity:")
        || t.starts_with("[client ") && t.fcontains("] ModSecurity:")
    {
        if !t.fcontains("Access denied with code ") {
            return None;
        }
        abuse(e, A, "waf-block");
    } else if let Some(path) = t.strip_prefix("File does not exist: ") {
        if !probes::is_probe_file(path) {
            return None;
        }
        abuse(e, A, "web-scan");
    } else if t.starts_with("script '") && t.ends_with("' not found or unable to stat")
        || t.starts_with("script not found or unable to stat: ")
        || t.starts_with("stderr from ") && t.ends_with(": script not found or unable to stat")
        || t.starts_with("Got error 'Primary script unknown")
    {
        abuse(e, A, "web-scan");
    } else if t.starts_with("request failed: URI too long")
        || t.starts_with("request failed: error reading the headers")
            && t.fcontains("LimitRequestFieldSize")
        || t.starts_with("Request header exceeds LimitRequestFieldSize")
        || t.starts_with("Size of a request header field exceeds server limit")
    {
        abuse(e, A, "overflow");
    } else if t.starts_with("Invalid URI in request ")
        || t.starts_with("invalid URI path (")
        || t.starts_with("Invalid method in request ")
        || t.starts_with("request failed: erroneous characters after protocol string")
        || t.starts_with("No hostname was provided via SNI")
        || t.starts_with("Hostname ") && t.fcontains(" provided via SNI")
    {
        abuse(e, A, "bad-request");
    } else if t.fcontains(": warning: ") && t.ends_with(": ignoring function definition attempt")
        || t.fcontains(": error importing function definition for `")
    {
        // bash's complaints about a `() {` environment variable (CGI): shellshock.
        abuse(e, A, "shellshock");
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
    fn both_versions() {
        let x = file("[Sat Jul 20 21:39:11.978080 2013] [auth_basic:error] [pid 17512:tid 140123053950720] [client 127.0.0.1:51390] AH01617: user username: authentication failure for \"/basic/file\": Password Mismatch").unwrap();
        let e = x.event;
        assert_eq!(
            (e.action(), e.outcome, e.reason),
            (Action::UserLogin, Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(
            (
                e.user_name.as_deref(),
                e.source_address.as_deref(),
                e.source_port
            ),
            (Some("username"), Some("127.0.0.1"), Some(51390))
        );
        let e = file("[Thu Jul 11 01:21:44 2013] [error] [client 2001:db8::80da:af6b:8b2c] user test-ipv6 not found: /").unwrap().event;
        assert_eq!(
            (e.reason, e.user_name.as_deref()),
            (Some("invalid-user"), Some("test-ipv6"))
        );
        assert_eq!(
            e.source_address.as_deref(),
            Some("2001:db8::80da:af6b:8b2c")
        );
        let e = file("[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 1:tid 2] [client [2001:db8::80da:af6b:8b2c]:51548] AH01637: Authorization of user test-ipv6 to access /x failed, reason: y").unwrap().event;
        assert_eq!(
            (e.reason, e.source_port),
            (Some("not-allowed"), Some(51548))
        );
        assert_eq!(e.timestamp, None, "the unframed hook sets the time");
    }

    #[test]
    fn a_client_in_the_message_is_not_read() {
        assert!(file("[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: /srv/http/site/[client 192.168.0.1] user root not found").is_none());
        let e = file("[Sat Sep 28 09:18:06 2018] [error] [client 192.0.2.1:55555] [client 6.6.6.6] ModSecurity: Access denied with code 403 (phase 2).").unwrap().event;
        assert_eq!(
            (e.reason, e.source_address.as_deref()),
            (Some("waf-block"), Some("192.0.2.1"))
        );
    }

    #[test]
    fn times() {
        let mut y = YearResolver::fixed(2026, 0);
        let l = "[Sun Jul 28 21:27:56.549667 2013] [auth_digest:error] [pid 2:tid 3] [client 127.0.0.1:57052] AH01788: realm mismatch - got `so far away' but expected `x'";
        let mut e = Event::default();
        let u = decode_file(l, &mut y, &mut e).unwrap();
        assert_eq!(
            u.timestamp.unwrap().to_string(),
            "2013-07-28T21:27:56.549667Z"
        );
        assert_eq!(e.reason, Some("auth-failed"));
    }
}
