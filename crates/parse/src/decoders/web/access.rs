//! Combined and common access logs (nginx's and Apache's default formats, and the virtual
//! host variants that put `%v` or `%v:%p` first):
//!
//! `CLIENT IDENT USER [10/Oct/2000:13:55:36 -0700] "REQUEST" STATUS BYTES ["REFERER" "AGENT" …]`
//!
//! Every line is recognised (`event.dataset: http.access`, with its time), but only a
//! request that is a security event becomes one, with the client as `source.*`: shellshock
//! payloads, harvester user agents, malformed (400) and oversized (414) requests, well-known
//! exploit paths answered 404, and credentials refused (401 with a user name). An ordinary
//! request stays `event.action: unknown` without a source, so no rule or baseline ever counts
//! ordinary traffic against an address, and a busy server's log costs one parse per line.
//!
//! The client is the first field (the second after a virtual host): the server writes it.
//! The user, request, referrer and agent are the client's text; they only ever decide what
//! the line is, never whom it names.

use std::borrow::Cow;

use logward_core::{parse_ip, Action, Dataset, Event, Outcome};

use super::super::{guarded, start, Found};
use super::{abuse, clf_time, probes};
use crate::decoders::unframed::Unframed;
use crate::text::{find_byte, word};

/// One parsed access-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Access<'a> {
    pub client: &'a str,
    /// `%u`/`$remote_user`: `-` when the request carried no credentials.
    pub user: &'a str,
    /// Inside the brackets: `10/Oct/2000:13:55:36 -0700`.
    pub time: &'a str,
    /// Inside the quotes, escapes kept.
    pub request: &'a str,
    pub status: u16,
    pub referer: Option<&'a str>,
    pub agent: Option<&'a str>,
}

/// Parses a line; `None` when it is not an access-log line.
pub fn parse(line: &str) -> Option<Access<'_>> {
    let (t0, rest) = word(line);
    let (client, rest) = if parse_ip(t0).is_some() {
        (t0, rest)
    } else {
        // `vhost[:port] CLIENT …`
        if t0.is_empty() || !t0.bytes().all(is_host_byte) {
            return None;
        }
        let (t1, rest) = word(rest);
        parse_ip(t1)?;
        (t1, rest)
    };
    let (_ident, rest) = word(rest);
    // USER may hold blanks and brackets: the time is the first ` [TIME] ` after which the
    // rest of the line parses.
    let mut from = 0;
    loop {
        let (user, time, after, next) = user_and_time(rest, from)?;
        if let Some(a) = tail(client, user, time, after) {
            return Some(a);
        }
        from = next;
    }
}

/// `"REQUEST" STATUS BYTES ["REFERER" "AGENT" …]`.
fn tail<'a>(client: &'a str, user: &'a str, time: &'a str, rest: &'a str) -> Option<Access<'a>> {
    let (request, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(' ')?;
    let b = rest.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || b.get(3).is_some_and(|c| *c != b' ')
    {
        return None;
    }
    let status = (b[0] - b'0') as u16 * 100 + (b[1] - b'0') as u16 * 10 + (b[2] - b'0') as u16;
    // ` BYTES "REFERER" "AGENT"`, all optional (the common format ends after BYTES).
    let (_bytes, rest) = word(rest.get(4..).unwrap_or(""));
    let (referer, agent) = match quoted(rest) {
        Some((r, rest)) => (
            Some(r),
            rest.strip_prefix(' ').and_then(quoted).map(|(a, _)| a),
        ),
        None => (None, None),
    };
    Some(Access {
        client,
        user,
        time,
        request,
        status,
        referer,
        agent,
    })
}

fn is_host_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':')
}

/// `USER [TIME] ` with the `[` at or after `from` → (USER, TIME, what follows the `] `,
/// where to look for the next candidate).
fn user_and_time(s: &str, from: usize) -> Option<(&str, &str, &str, usize)> {
    let b = s.as_bytes();
    let mut from = from;
    loop {
        let i = from + find_byte(b'[', b.get(from..)?)?;
        from = i + 1;
        // `[dd/Mon/yyyy:HH:MM:SS +zzzz] `: 26 bytes inside.
        if b.get(i + 27) == Some(&b']')
            && b.get(i + 28) == Some(&b' ')
            && i > 0
            && b[i - 1] == b' '
            && b[i + 3] == b'/'
            && b[i + 12] == b':'
        {
            let time = s.get(i + 1..i + 27)?;
            return Some((s.get(..i - 1)?, time, s.get(i + 29..)?, from));
        }
    }
}

/// `"TEXT"` at the start of `s` (backslash escapes skipped) → (TEXT, what follows).
fn quoted(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('"')?;
    let b = inner.as_bytes();
    let mut from = 0;
    loop {
        let i = from + find_byte(b'"', b.get(from..)?)?;
        let backslashes = b[..i].iter().rev().take_while(|c| **c == b'\\').count();
        if backslashes % 2 == 0 {
            return Some((&inner[..i], &inner[i + 1..]));
        }
        from = i + 1;
    }
}

/// The path of `METHOD PATH PROTO`.
fn request_path(request: &str) -> Option<&str> {
    let (_method, rest) = request.split_once(' ')?;
    Some(word(rest).0)
}

/// What the line is: `Some(reason)` for a security event.
fn kind(a: &Access<'_>) -> Option<&'static str> {
    let ua = a.agent.unwrap_or("");
    if probes::has_shellshock(a.request)
        || probes::has_shellshock(ua)
        || a.referer.is_some_and(probes::has_shellshock)
    {
        return Some("shellshock");
    }
    if probes::is_bad_bot(ua) {
        return Some("bad-bot");
    }
    match a.status {
        400 => Some("bad-request"),
        414 => Some("overflow"),
        404 if request_path(a.request).is_some_and(probes::is_scan_path) => Some("web-scan"),
        _ => None,
    }
}

/// Fills `e` from a parsed line (see the module comment).
fn fill<'a>(a: &Access<'a>, e: &mut Event<'a>) -> Option<Found<'a>> {
    const D: Dataset = Dataset::HttpAccess;
    if let Some(reason) = kind(a) {
        abuse(e, D, reason);
    } else if a.status == 401 && a.user != "-" && !a.user.is_empty() {
        // Credentials sent and refused. A browser's first request, without any, is also a
        // 401 but names no user: that is the challenge, not a failure.
        start(e, D, Action::UserLogin, Outcome::Failure);
        e.reason = Some("auth-failed");
        e.user_name = Some(Cow::Borrowed(a.user));
    } else {
        e.dataset = Some(D);
        e.action = Some(Action::Unknown);
        return Found::yes();
    }
    super::peer(e, a.client, None)
}

/// An access-log line read from its own file: the event, the line's time.
pub fn decode_file<'a>(line: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let a = parse(line)?;
    let timestamp = clf_time(a.time)?;
    let found = guarded(e, |e| fill(&a, e))?;
    Some(Unframed {
        found,
        timestamp: Some(timestamp),
        program: None,
    })
}

/// An access-log line sent through syslog (nginx's `access_log syslog:…`, a piped logger).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let a = parse(message)?;
    clf_time(a.time)?;
    guarded(e, |e| fill(&a, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn d(line: &str) -> Decoded<'_> {
        Decoded::run(|e| decode_file(line, e).map(|u| u.found)).unwrap()
    }

    #[test]
    fn parses_the_formats() {
        let a = parse(r#"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08""#).unwrap();
        assert_eq!(a.client, "1.2.3.4");
        assert_eq!(a.user, "frank");
        assert_eq!(a.request, r#"GET /a\"b HTTP/1.0"#);
        assert_eq!(
            (a.status, a.referer, a.agent),
            (200, Some("http://x/"), Some("Mozilla/4.08"))
        );
        let a = parse(r#"www.sitename.com 192.0.2.222 - - [18/Aug/2024:21:08:39 +0100] "GET /f.jpg HTTP/1.1" 403 332"#).unwrap();
        assert_eq!((a.client, a.status, a.agent), ("192.0.2.222", 403, None));
        let a = parse(
            r#"h.example:443 2001:db8::1 - a [b] [01/Jan/2020:00:00:00 +0000] "-" 400 0 "-" "-""#,
        )
        .unwrap();
        assert_eq!((a.client, a.user, a.request), ("2001:db8::1", "a [b]", "-"));
        assert!(parse("Nov 22 10:00:01 host sshd[1]: x").is_none());
        assert!(
            parse(r#"evil\ 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"#)
                .is_none()
        );
    }

    #[test]
    fn ordinary_requests_are_recognised_without_a_source() {
        let x =
            d(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "-" "curl/8""#);
        assert_eq!(
            (x.event.action(), x.event.dataset),
            (Action::Unknown, Some(Dataset::HttpAccess))
        );
        assert_eq!(x.event.source_address, None);
        // The browser's challenge: 401 without a user.
        let x =
            d(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 401 0 "-" "curl/8""#);
        assert_eq!(x.event.action(), Action::Unknown);
    }

    #[test]
    fn security_events() {
        for (line, action, reason) in [
            (
                r#"12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "GET //pma/scripts/setup.php HTTP/1.1" 404 47 "-" "-" "-""#,
                Action::ServiceAbuse,
                "web-scan",
            ),
            (
                r#"12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "\x03\x00" 400 47 "-" "-""#,
                Action::ServiceAbuse,
                "bad-request",
            ),
            (
                r#"1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "POST /x HTTP/1.0" 301 459 "-" "TrackBack/1.02""#,
                Action::ServiceAbuse,
                "bad-bot",
            ),
            (
                r#"1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "GET /cgi-bin/x HTTP/1.0" 200 459 "-" "() { :; }; /bin/id""#,
                Action::ServiceAbuse,
                "shellshock",
            ),
            (
                r#"1.2.3.4 - bob [05/Mar/2007:14:39:21 +0100] "GET /x HTTP/1.0" 401 459 "-" "curl""#,
                Action::UserLogin,
                "auth-failed",
            ),
        ] {
            let e = d(line).event;
            assert_eq!((e.action(), e.reason), (action, Some(reason)), "{line}");
            assert_eq!(e.outcome, Outcome::Failure);
            assert!(matches!(
                e.source_address.as_deref(),
                Some("12.34.56.78" | "1.2.3.4")
            ));
        }
        let e =
            d(r#"1.2.3.4 - bob [05/Mar/2007:14:39:21 +0100] "GET /x HTTP/1.0" 401 459 "-" "curl""#)
                .event;
        assert_eq!(e.user_name.as_deref(), Some("bob"));
        let mut e = Event::default();
        let u = decode_file(
            r#"1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "GET / HTTP/1.0" 200 1"#,
            &mut e,
        )
        .unwrap();
        assert_eq!(
            u.timestamp.unwrap().to_string(),
            "2007-03-05T14:39:21+01:00"
        );
    }
}
