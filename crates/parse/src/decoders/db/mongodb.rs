//! MongoDB. Since 4.4 its log is JSON lines (`service_logs`): `"msg":"Authentication failed"`
//! with the client in `attr.remote` (`A:P`) and the account in `attr.principalName` (or
//! `attr.user`); JSON's escaping leaves the client no way to move a field. The older text log
//! (`TIME [connN] MSG`, framed with `connN` as the program) names no peer on its
//! `Failed to authenticate U@DB …` line, only on the connection's `connection accepted from
//! A:P #N` and `end connection A:P`: the failure is decoded without a source.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome, Timestamp};
use serde_json::Value;

use super::super::{guarded, peer, scan, Found};

/// The old text log's messages (program `connN` or `initandlisten`).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| text(message, e))
}

fn text<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(rest) = m.strip_prefix("Failed to authenticate ") {
        // `U@DB with mechanism M: …`: U is client text, DB follows its last `@`.
        let (who, _) = scan::rsplit_once(rest, " with mechanism ")?;
        let (user, _db) = who.rsplit_once('@')?;
        peer::user(e, user);
        return peer::login_failed(e, Dataset::Mongodb, "auth-failed");
    }
    if let Some(rest) = m.strip_prefix("end connection ") {
        let (addr, _) = scan::word(rest);
        let (a, p) = peer::ip_port(addr)?;
        peer::set(e, a, p)?;
        return peer::event(
            e,
            Dataset::Mongodb,
            Action::ConnectionClosed,
            Outcome::Unknown,
            None,
        );
    }
    let rest = m.strip_prefix("connection accepted from ")?;
    let (addr, _) = scan::word(rest);
    let (a, p) = peer::ip_port(addr)?;
    peer::set(e, a, p)?;
    peer::event(
        e,
        Dataset::Mongodb,
        Action::ConnectionOpened,
        Outcome::Unknown,
        None,
    )
}

/// A JSON log line (4.4+); `None` for any other JSON. Returns the line's own time.
pub fn json<'a>(line: &'a str, e: &mut Event<'a>) -> Option<(Found<'a>, Option<Timestamp>)> {
    let mut ts = None;
    // Only lines that can be an authentication result pay for a JSON parse.
    if !scan::contains(line, "\"Authentic") && !scan::contains(line, "\"Successfully authenticated")
    {
        return None;
    }
    let found = guarded(e, |e| {
        let v: Value = serde_json::from_str(line).ok()?;
        let attr = v.get("attr")?;
        let outcome = match v.get("msg")?.as_str()? {
            "Authentication failed" => Outcome::Failure,
            "Authentication succeeded" | "Successfully authenticated" => Outcome::Success,
            _ => return None,
        };
        let remote = attr.get("remote")?.as_str()?;
        let (a, p) = peer::ip_port(remote)?;
        e.set_source(Cow::Owned(a.to_owned()), p);
        let user = attr
            .get("principalName")
            .or_else(|| attr.get("user"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty());
        e.user_name = user.map(|u| Cow::Owned(u.to_owned()));
        ts = v
            .get("t")
            .and_then(|t| t.get("$date"))
            .and_then(Value::as_str)
            .and_then(|d| Timestamp::parse_rfc3339(d.as_bytes()))
            .map(|(t, _)| t);
        let reason = (outcome == Outcome::Failure).then_some("auth-failed");
        peer::event(e, Dataset::Mongodb, Action::UserLogin, outcome, reason)
    })?;
    Some((found, ts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn json_failure() {
        let line = r#"{"t":{"$date":"2020-05-20T19:18:40.604000Z"},"s":"I","c":"ACCESS","id":20249,"ctx":"conn12","msg":"Authentication failed","attr":{"mechanism":"SCRAM-SHA-256","speculative":false,"principalName":"admin\",\"remote\":\"6.6.6.6:1","authenticationDatabase":"admin","remote":"192.0.2.7:51234","extraInfo":{},"error":"UserNotFound"}}"#;
        let mut e = Event::default();
        let (_, ts) = json(line, &mut e).unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.7"));
        assert_eq!(e.source_port, Some(51234));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(ts.unwrap().to_string(), "2020-05-20T19:18:40.604000Z");
        assert!(json(
            r#"{"msg":"Connection ended","attr":{"remote":"192.0.2.7:1"}}"#,
            &mut Event::default()
        )
        .is_none());
    }

    #[test]
    fn text_forms() {
        let d = Decoded::run(|e| decode("Failed to authenticate root@admin with mechanism MONGODB-CR: AuthenticationFailed key mismatch", e)).unwrap();
        assert_eq!(
            (
                d.event.user_name.as_deref(),
                d.event.source_address.as_deref()
            ),
            (Some("root"), None)
        );
        let d =
            Decoded::run(|e| decode("end connection 192.0.2.1:53276 (0 connections now open)", e))
                .unwrap();
        assert_eq!(d.event.action(), Action::ConnectionClosed);
    }
}
