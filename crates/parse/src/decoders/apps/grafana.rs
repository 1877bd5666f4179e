//! Grafana's logfmt log (`/var/log/grafana/grafana.log`, or its journal lines under the
//! `grafana`/`grafana-server` program):
//!
//! `t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context
//! userId=0 orgId=0 uname=bob error="User not found" remote_addr=192.0.2.1`
//!
//! (newer versions start with `logger=` and write `level=`). Grafana ≥ 10 no longer names the
//! address on that line; its failed form login is the request log's `msg="Request Completed"
//! method=POST path=/login status=401 remote_addr=A … error="…"`. The line is split into its
//! `key=value` pairs as logfmt quotes them, so a quoted user name holding ` remote_addr=…` is
//! one value of `uname` and cannot become the peer; a line that names `remote_addr` twice has
//! no trustworthy peer and is not decoded.
//!
//! `[log.file] format = json` writes the same keys as a JSON object, parsed as JSON.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Timestamp};
use serde_json::Value;

use super::{failure, is_ip, unframed_found};
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, Found};
use crate::text::FastFind;

/// A Grafana log line without a syslog header (the format's own `t=` time).
pub fn unframed<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    if !(message.starts_with("t=") || message.starts_with("logger=")) {
        return None;
    }
    let mut time = None;
    let found = guarded(e, |e| decode_pairs(message, e, &mut time));
    unframed_found(found, time, "grafana")
}

/// A Grafana logfmt message (the journal's `grafana-server` lines).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| decode_pairs(message, e, &mut None))
}

/// The fields of a Grafana line that decide it.
#[derive(Default)]
struct Fields<'a> {
    t: Option<Cow<'a, str>>,
    msg: Option<Cow<'a, str>>,
    user: Option<Cow<'a, str>>,
    error: Option<Cow<'a, str>>,
    addr: Option<Cow<'a, str>>,
    method: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
}

fn decode_pairs<'a>(
    message: &'a str,
    e: &mut Event<'a>,
    time: &mut Option<Timestamp>,
) -> Option<Found<'a>> {
    let mut f = Fields::default();
    for pair in Pairs(message) {
        let (k, v) = pair?;
        let slot = match k {
            "t" => &mut f.t,
            "msg" => &mut f.msg,
            "uname" => &mut f.user,
            "error" => &mut f.error,
            "remote_addr" => &mut f.addr,
            "method" => &mut f.method,
            "path" => &mut f.path,
            "status" => &mut f.status,
            _ => continue,
        };
        // A key twice: the line is not what Grafana writes.
        if slot.replace(v).is_some() {
            return None;
        }
    }
    judge(f, e, time)
}

/// Grafana's log in JSON (`[log.file] format = json`): the same keys as its logfmt.
pub fn json<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    if !message.fcontains("\"remote_addr\"") {
        return None;
    }
    let Value::Object(map) = serde_json::from_str::<Value>(message).ok()? else {
        return None;
    };
    let text = |k: &str| -> Option<Cow<'a, str>> {
        match map.get(k)? {
            Value::String(s) => Some(Cow::Owned(s.clone())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    };
    let f = Fields {
        t: text("t"),
        msg: text("msg"),
        user: text("uname"),
        error: text("error"),
        addr: text("remote_addr"),
        method: text("method"),
        path: text("path"),
        status: text("status"),
    };
    let mut time = None;
    let found = guarded(e, |e| judge(f, e, &mut time));
    unframed_found(found, time, "grafana")
}

fn judge<'a>(f: Fields<'a>, e: &mut Event<'a>, time: &mut Option<Timestamp>) -> Option<Found<'a>> {
    let msg = f.msg?;
    // Grafana ≥ 10: the login form's POST answered 401.
    let form_login_refused = msg == "Request Completed"
        && f.method.as_deref() == Some("POST")
        && f.status.as_deref() == Some("401")
        && f.path.as_deref().is_some_and(|p| p.ends_with("/login"));
    if !(form_login_refused || msg.eq_ignore_ascii_case("Invalid username or password")) {
        return None;
    }
    let addr = f.addr.filter(|a| is_ip(a))?;
    let not_found = f.error.as_deref().is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("not found") || m.contains("not-found")
    });
    let reason = if not_found {
        "invalid-user"
    } else {
        "bad-password"
    };
    *time =
        f.t.and_then(|t| Timestamp::parse_rfc3339(t.as_bytes()).map(|(ts, _)| ts));
    failure(e, Dataset::Grafana, reason, f.user, addr)
}

/// The `key=value` pairs of a logfmt line; values may be `"quoted"` with backslash escapes.
/// Yields `None` (and the caller gives up) at text that is not logfmt.
struct Pairs<'a>(&'a str);

impl<'a> Iterator for Pairs<'a> {
    type Item = Option<(&'a str, Cow<'a, str>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.0.trim_start_matches(' ');
        if s.is_empty() {
            return None;
        }
        let b = s.as_bytes();
        let Some(eq) = b.iter().position(|&c| c == b'=' || c == b' ' || c == b'"') else {
            // A bare key at the end (logfmt allows it): no value.
            self.0 = "";
            return Some(Some((s, Cow::Borrowed(""))));
        };
        if b[eq] != b'=' {
            if b[eq] == b' ' {
                self.0 = s.get(eq..).unwrap_or("");
                return Some(Some((s.get(..eq).unwrap_or(""), Cow::Borrowed(""))));
            }
            self.0 = "";
            return Some(None);
        }
        let key = s.get(..eq).unwrap_or("");
        let rest = s.get(eq + 1..).unwrap_or("");
        if let Some(q) = rest.strip_prefix('"') {
            let Some((value, after)) = quoted(q) else {
                self.0 = "";
                return Some(None);
            };
            if !(after.is_empty() || after.starts_with(' ')) {
                self.0 = "";
                return Some(None);
            }
            self.0 = after;
            return Some(Some((key, value)));
        }
        let end = rest.find(' ').unwrap_or(rest.len());
        self.0 = rest.get(end..).unwrap_or("");
        Some(Some((key, Cow::Borrowed(rest.get(..end).unwrap_or("")))))
    }
}

/// The body of a quoted value (after its opening quote): the unescaped value and the text
/// after the closing quote.
fn quoted(q: &str) -> Option<(Cow<'_, str>, &str)> {
    let b = q.as_bytes();
    let end = b.iter().position(|&c| c == b'"' || c == b'\\')?;
    if b[end] == b'"' {
        return Some((Cow::Borrowed(q.get(..end)?), q.get(end + 1..)?));
    }
    let mut out = String::from(q.get(..end)?);
    let mut chars = q.get(end..)?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Cow::Owned(out), q.get(end + i + 1..)?)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                o => out.push(o),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::YearResolver;
    use crate::decoders::apps;
    use logward_core::{Action, Outcome};

    fn d(line: &str) -> Option<Event<'_>> {
        let mut e = Event::default();
        apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e)?;
        Some(e)
    }

    #[test]
    fn invalid_password_and_unknown_user() {
        let e = d(r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname=bob error="Invalid Username or Password" remote_addr=182.56.23.12"#).unwrap();
        assert_eq!(e.action, Some(Action::UserLogin));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.user_name.as_deref(), Some("bob"));
        assert_eq!(e.source_address.as_deref(), Some("182.56.23.12"));
        let e = d(r#"logger=context userId=0 orgId=0 uname= t=2023-04-14T10:11:12.345+00:00 level=error msg="Invalid username or password" error="user not found" remote_addr=2001:db8::1 traceID="#).unwrap();
        assert_eq!(e.reason, Some("invalid-user"));
        assert_eq!(e.user_name, None);
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn json_format() {
        let e = d(r#"{"t":"2025-07-17T13:08:42.281Z","level":"info","logger":"context","msg":"Request Completed","method":"POST","path":"/login","status":401,"remote_addr":"192.0.2.5","error":"invalid username or password"}"#).unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.5"));
        let e = d(r#"{"t":"2020-10-19T17:44:33+02:00","level":"error","msg":"Invalid username or password","uname":"x\" remote_addr=9.9.9.9","remote_addr":"192.0.2.6"}"#).unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.6"));
        assert_eq!(e.user_name.as_deref(), Some("x\" remote_addr=9.9.9.9"));
        assert!(d(
            r#"{"msg":"Request Completed","method":"GET","status":200,"remote_addr":"192.0.2.6"}"#
        )
        .is_none());
    }

    #[test]
    fn grafana_10_request_log() {
        let e = d(r#"logger=context userId=0 orgId=0 uname= t=2025-07-17T13:08:42.281472211Z level=info msg="Request Completed" method=POST path=/login status=401 remote_addr=31.204.152.222 time_ms=15 duration=15.61585ms size=94 referer=https://monitor.example/login handler=/login status_source=server errorReason=Unauthorized errorMessageID=password-auth.failed error="failed to authenticate identity: [identity.not-found] no user found: user not found""#).unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("invalid-user"))
        );
        assert_eq!(e.source_address.as_deref(), Some("31.204.152.222"));
        // Other requests, and a 401 elsewhere, are not logins.
        assert!(d(r#"logger=context t=2025-07-17T13:08:42Z level=info msg="Request Completed" method=GET path=/login status=401 remote_addr=192.0.2.1"#).is_none());
        assert!(d(r#"logger=context t=2025-07-17T13:08:42Z level=info msg="Request Completed" method=POST path=/api/x status=401 remote_addr=192.0.2.1"#).is_none());
        assert!(d(r#"logger=authn.service t=2025-07-17T13:08:44Z level=info msg="Failed to authenticate request" client=auth.client.form error="x""#).is_none());
    }

    #[test]
    fn a_quoted_user_name_cannot_move_the_peer() {
        let e = d(r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" uname="x remote_addr=9.9.9.9 \"q" remote_addr=192.0.2.1"#).unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(e.user_name.as_deref(), Some("x remote_addr=9.9.9.9 \"q"));
        assert!(d(
            r#"t=x msg="Invalid username or password" remote_addr=192.0.2.1 remote_addr=9.9.9.9"#
        )
        .is_none());
        assert!(d(r#"t=x msg="Invalid username or password" remote_addr=bob"#).is_none());
        assert!(d(r#"t=x msg="Invalid username or password remote_addr=192.0.2.1"#).is_none());
        assert!(d(r#"t=x lvl=info msg="Request Completed" remote_addr=192.0.2.1"#).is_none());
    }
}
