//! GitLab: `Failed Login: username=U ip=A` in `application.log` (after its ISO time) and as
//! the `message` of `application_json.log`, and Rack::Attack's throttles and blocks in
//! `auth.log` (JSON: `"message":"Rack_Attack"`, `"env":"throttle"|"blocklist"`,
//! `"remote_ip":"A"`).
//!
//! GitLab writes the user name as typed, spaces and all, then ` ip=` and the request's
//! address, so the address is the text after the *last* ` ip=` and must be an address; JSON is
//! parsed as JSON (the address is a field of its own).

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome, Timestamp};
use serde_json::{Map, Value};

use super::{failure, is_ip, unframed_found};
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, start, Found};
use crate::text::FastFind;

const FAILED: &str = "Failed Login: ";

/// `Failed Login: …` as the message after a frame's timestamp.
pub fn unframed<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let rest = message.strip_prefix(FAILED)?;
    unframed_found(guarded(e, |e| failed_login(rest, e)), None, "gitlab")
}

/// The whole `application.log` line: `2020-04-09T14:04:00.667Z: Failed Login: …`.
pub fn dated<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let (ts, used) = Timestamp::parse_rfc3339(message.as_bytes())?;
    let rest = message
        .get(used..)?
        .strip_prefix(": ")?
        .strip_prefix(FAILED)?;
    unframed_found(guarded(e, |e| failed_login(rest, e)), Some(ts), "gitlab")
}

/// `username=U ip=A`.
fn failed_login<'a>(rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let rest = rest
        .strip_prefix("username=")?
        .trim_end_matches([' ', '\r']);
    let (user, addr) = rest.frsplit_once(" ip=")?;
    if !is_ip(addr) {
        return None;
    }
    failure(
        e,
        Dataset::Gitlab,
        "auth-failed",
        Some(Cow::Borrowed(user)),
        Cow::Borrowed(addr),
    )
}

/// A JSON line of `application_json.log` or `auth.log`.
pub fn json<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    // Most JSON lines are someone else's: look for GitLab's words before parsing.
    if !(message.fcontains(FAILED) || message.fcontains("\"Rack_Attack\"")) {
        return None;
    }
    let Value::Object(map) = serde_json::from_str::<Value>(message).ok()? else {
        return None;
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let time = text("time").and_then(|t| Timestamp::parse_rfc3339(t.as_bytes()).map(|(ts, _)| ts));
    let msg = text("message")?;
    let found = guarded(e, |e| {
        if let Some(rest) = msg.strip_prefix(FAILED) {
            // The event outlives `map`: keep owned copies of what it names.
            let mut local = Event::default();
            let _ = failed_login(rest, &mut local)?;
            let user = local.user_name.map(|u| Cow::Owned(u.into_owned()));
            let addr = Cow::Owned(local.source_address?.into_owned());
            return failure(e, Dataset::Gitlab, "auth-failed", user, addr);
        }
        (msg == "Rack_Attack").then_some(())?;
        rack_attack(&map, e)
    });
    unframed_found(found, time, "gitlab")
}

/// Rack::Attack: a throttled or blocked request is abuse of the service (`track` is only
/// counting, not acting).
fn rack_attack<'a>(map: &Map<String, Value>, e: &mut Event<'a>) -> Option<Found<'a>> {
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let reason = match text("env")? {
        "throttle" => "rate-limit",
        "blocklist" => "blocklisted",
        _ => return None,
    };
    let addr = text("remote_ip").filter(|a| is_ip(a))?;
    start(e, Dataset::Gitlab, Action::ServiceAbuse, Outcome::Failure);
    e.reason = Some(reason);
    e.user_name = text("username")
        .filter(|u| !u.is_empty())
        .map(|u| Cow::Owned(u.to_owned()));
    e.set_source(Cow::Owned(addr.to_owned()), None);
    Found::yes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::YearResolver;
    use crate::decoders::apps;

    fn d(line: &str) -> Option<Event<'_>> {
        let mut e = Event::default();
        apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e)?;
        Some(e)
    }

    #[test]
    fn failed_login_forms() {
        for line in [
            "Failed Login: username=user name ip=80.10.11.12",
            "2020-04-09T14:15:09.344Z: Failed Login: username=user name ip=80.10.11.12",
            r#"{"severity":"INFO","time":"2020-04-09T14:15:09.344Z","correlation_id":"x","message":"Failed Login: username=user name ip=80.10.11.12"}"#,
        ] {
            let e = d(line).unwrap();
            assert_eq!(e.dataset, Some(Dataset::Gitlab), "{line}");
            assert_eq!(e.outcome, Outcome::Failure);
            assert_eq!(e.user_name.as_deref(), Some("user name"));
            assert_eq!(e.source_address.as_deref(), Some("80.10.11.12"));
        }
        // The user name cannot move the address: it is the last ` ip=`.
        let e = d("Failed Login: username=x ip=9.9.9.9 ip=192.0.2.1").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        assert!(d("Failed Login: username=x ip=9.9.9.9 ip=").is_none());
    }

    #[test]
    fn rack_attack() {
        let e = d(r#"{"severity":"ERROR","time":"2023-01-02T03:04:05.678Z","message":"Rack_Attack","env":"throttle","remote_ip":"192.0.2.9","request_method":"POST","path":"/users/sign_in","matched":"throttle_unauthenticated_web"}"#).unwrap();
        assert_eq!(e.action, Some(Action::ServiceAbuse));
        assert_eq!(e.reason, Some("rate-limit"));
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.9"));
        assert!(d(r#"{"message":"Rack_Attack","env":"track","remote_ip":"192.0.2.9"}"#).is_none());
        assert!(d(r#"{"message":"Rack_Attack","env":"throttle","remote_ip":"x"}"#).is_none());
    }
}
