//! `systemd-logind` messages: `New session 42 of user alice.`, `Session 42 logged out. Waiting
//! for processes to exit.`, `Removed session 42.` Newer systemd quotes the values and adds
//! the class and type: `New session '42' of user 'alice' with class 'user' and type 'tty'.`
//!
//! The session id has no field of its own; `Removed session` names no user, so its
//! `user.name` stays empty.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::FastFind;

/// Decodes one systemd-logind message into `e`; `None` (and `e` untouched) when it is not
/// about a session.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let (action, user) = parse(message)?;
        start(e, Dataset::Logind, action, Outcome::Success);
        e.user_name = user.map(Cow::Borrowed);
        Found::yes()
    })
}

fn parse(message: &str) -> Option<(Action, Option<&str>)> {
    let m = message.trim_start_matches(' ');
    if let Some(rest) = m.strip_prefix("New session ") {
        let (id, rest) = rest.fsplit_once(" of user ")?;
        session_id(id)?;
        let user = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split_once('\'')?.0,
            None => rest.strip_suffix('.')?,
        };
        if user.is_empty() || user.contains(' ') {
            return None;
        }
        return Some((Action::SessionStart, Some(user)));
    }
    let id = if let Some(rest) = m.strip_prefix("Removed session ") {
        rest.strip_suffix('.')?
    } else if let Some(rest) = m.strip_prefix("Session ") {
        rest.fsplit_once(" logged out.")?.0
    } else {
        return None;
    };
    session_id(id)?;
    Some((Action::UserLogout, None))
}

/// A session id as logind writes it (`42`, `c1`), optionally quoted.
fn session_id(id: &str) -> Option<&str> {
    let id = id
        .strip_prefix('\'')
        .and_then(|i| i.strip_suffix('\''))
        .unwrap_or(id);
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn decode(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| super::decode(m, e))
    }

    fn ev(m: &str) -> Event<'_> {
        decode(m)
            .unwrap_or_else(|| panic!("{m}: not decoded"))
            .event
    }

    #[test]
    fn session_start() {
        for m in [
            "New session 42 of user alice.",
            "New session c1 of user alice.",
            "New session '42' of user 'alice' with class 'user' and type 'tty'.",
        ] {
            let e = ev(m);
            assert_eq!(e.action(), Action::SessionStart, "{m}");
            assert_eq!(e.outcome, Outcome::Success, "{m}");
            assert_eq!(e.dataset, Some(Dataset::Logind), "{m}");
            assert_eq!(e.user_name.as_deref(), Some("alice"), "{m}");
        }
        assert_eq!(
            ev("New session 3 of user john.doe.").user_name.as_deref(),
            Some("john.doe")
        );
    }

    #[test]
    fn logout() {
        for m in [
            "Removed session 42.",
            "Removed session '42'.",
            "Removed session c1.",
            "Session 42 logged out. Waiting for processes to exit.",
        ] {
            let e = ev(m);
            assert_eq!(e.action(), Action::UserLogout, "{m}");
            assert_eq!(e.user_name, None, "{m}");
        }
    }

    #[test]
    fn not_ours() {
        for m in [
            "New seat seat0.",
            "Watching system buttons on /dev/input/event0 (Power Button)",
            "New session 42 of user .",
            "New session 4 2 of user alice.",
            "Removed session .",
            "Session 42 logged",
            "",
        ] {
            assert_eq!(decode(m), None, "{m}");
        }
    }
}
