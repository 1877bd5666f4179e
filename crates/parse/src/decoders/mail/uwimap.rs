//! UW-IMAP (`imapd`, `ipop3d`, `ipop2d`): `Login failed user=U auth=V host=NAME [A]`,
//! `Login excessive login failures …`, `Login disabled …`, `Failed uwmaster override of
//! user=U host=NAME [A]`, and `Login user=U host=NAME [A]` on success. The user comes
//! first, so the peer is read from the right: the `[A]` that closes the line.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{bracketed, login_failed, non_empty, set_peer};
use crate::decoders::{guarded, scan, start, Found};

const DS: Dataset = Dataset::UwImap;

/// Whether a syslog program is UW-IMAP's POP daemon (`imapd` goes through
/// [`super::imapd`]).
#[inline]
pub fn is_uwimap(program: &str) -> bool {
    matches!(program, "ipop3d" | "ipop2d")
}

/// Decodes one UW-IMAP message into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = scan::trim_end_blanks(message);
        let (rest, outcome, reason) = if let Some(r) = m.strip_prefix("Login failed ") {
            (r, Outcome::Failure, "auth-failed")
        } else if let Some(r) = m.strip_prefix("Login excessive login failures ") {
            (r, Outcome::Failure, "max-attempts")
        } else if let Some(r) = m.strip_prefix("Login disabled ") {
            (r, Outcome::Failure, "not-allowed")
        } else if let Some(r) = m.strip_prefix("Failed uwmaster override of ") {
            (r, Outcome::Failure, "auth-failed")
        } else if let Some(r) = m
            .strip_prefix("Login ")
            .or_else(|| m.strip_prefix("Authenticated "))
        {
            (r, Outcome::Success, "")
        } else {
            return None;
        };
        let user = rest.strip_prefix("user=")?;
        let open = scan::rfind(rest, " [")?;
        let (addr, after) = bracketed(rest.get(open + 1..)?)?;
        if !after.is_empty() || !scan::contains(rest.get(..open)?, " host=") {
            return None;
        }
        // `user=U auth=V host=…` or `user=U host=…`: U ends at the first of them.
        let end = [" auth=", " host="]
            .iter()
            .filter_map(|p| scan::find(user, p))
            .min()?;
        e.user_name = non_empty(user.get(..end)?.trim_end_matches(' ')).map(Cow::Borrowed);
        set_peer(e, addr, None);
        if outcome == Outcome::Success {
            start(e, DS, Action::UserLogin, Outcome::Success);
            return Found::yes();
        }
        login_failed(e, DS, reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn peer_closes_the_line() {
        let d = Decoded::run(|e| {
            decode(
                "Login failed user=x host=y [6.6.6.6] auth=x host=h [192.0.2.1]",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(d.event.user_name.as_deref(), Some("x"));
    }
}
