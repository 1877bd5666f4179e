//! `su` messages, in the forms of util-linux, shadow-utils and BSD su:
//!
//! - util-linux: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`
//! - shadow (SYSLOG_SU_ENAB): `+ pts/0 alice:root`, `- pts/0 alice:root`
//! - shadow (sulog): `Successful su for root by alice`, `FAILED su for root by alice`
//! - BSD: `alice to root on /dev/ttyp1`, `BAD SU alice to root on /dev/ttyp0`
//! - older Unix: `failed: ttyq4 changing from alice to root`
//!
//! `user.name` is the caller, `user.target.name` the account switched to. PAM lines are left
//! to `pam.rs`.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::FastFind;

/// Decodes one su message into `e`; `None` (and `e` untouched) when it is not one.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let (outcome, user, target) = parse(message)?;
        start(e, Dataset::Su, Action::PrivilegeEscalation, outcome);
        e.user_name = user.map(Cow::Borrowed);
        e.user_target_name = target.map(Cow::Borrowed);
        Found::yes()
    })
}

fn parse(message: &str) -> Option<Parsed<'_>> {
    let m = message.trim_start_matches(' ');
    let (outcome, user, target) = if let Some(rest) = m.strip_prefix("(to ") {
        util_linux(rest, Outcome::Success)?
    } else if let Some(rest) = m.strip_prefix("FAILED SU (to ") {
        util_linux(rest, Outcome::Failure)?
    } else if let Some(rest) = m.strip_prefix("Successful su for ") {
        sulog(rest, Outcome::Success)?
    } else if let Some(rest) = m.strip_prefix("FAILED su for ") {
        sulog(rest, Outcome::Failure)?
    } else if let Some(rest) = m.strip_prefix("+ ") {
        tty_pair(rest, Outcome::Success)?
    } else if let Some(rest) = m.strip_prefix("- ") {
        tty_pair(rest, Outcome::Failure)?
    } else if let Some(rest) = m.strip_prefix("BAD SU ") {
        bsd(rest, Outcome::Failure)?
    } else if let Some(rest) = m.strip_prefix("failed: ") {
        // `failed: ttyq4 changing from alice to root`
        let (_tty, rest) = rest.fsplit_once(" changing from ")?;
        let (user, target) = rest.fsplit_once(" to ")?;
        (Outcome::Failure, name(user)?, name(target)?)
    } else {
        bsd(m, Outcome::Success)?
    };
    Some((outcome, user, target))
}

type Parsed<'a> = (Outcome, Option<&'a str>, Option<&'a str>);

/// `root) alice on pts/0`.
fn util_linux(rest: &str, outcome: Outcome) -> Option<Parsed<'_>> {
    let (target, rest) = rest.fsplit_once(") ")?;
    let (user, _tty) = rest.fsplit_once(" on ")?;
    Some((outcome, name(user)?, name(target)?))
}

/// `root by alice`.
fn sulog(rest: &str, outcome: Outcome) -> Option<Parsed<'_>> {
    let (target, user) = rest.fsplit_once(" by ")?;
    Some((outcome, name(user)?, name(target)?))
}

/// `pts/0 alice:root`; shadow writes `???` for a name it does not know.
fn tty_pair(rest: &str, outcome: Outcome) -> Option<Parsed<'_>> {
    let (_tty, pair) = rest.split_once(' ')?;
    let (user, target) = pair.split_once(':')?;
    Some((outcome, name(user)?, name(target)?))
}

/// `alice to root on /dev/ttyp1`.
fn bsd(rest: &str, outcome: Outcome) -> Option<Parsed<'_>> {
    let (user, rest) = rest.fsplit_once(" to ")?;
    let (target, _tty) = rest.fsplit_once(" on ")?;
    Some((outcome, name(user)?, name(target)?))
}

/// A user name field: one token. `Some(None)` when the log says it does not know the name
/// (`???`, empty); `None` when the text is not a name at all (so the line is not this form).
fn name(s: &str) -> Option<Option<&str>> {
    if s.contains(' ') {
        return None;
    }
    Some((!s.is_empty() && s != "???").then_some(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn decode(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| super::decode(m, e))
    }

    fn check(m: &str, outcome: Outcome, user: Option<&str>, target: Option<&str>) {
        let e = decode(m)
            .unwrap_or_else(|| panic!("{m}: not decoded"))
            .event;
        assert_eq!(e.action(), Action::PrivilegeEscalation, "{m}");
        assert_eq!(e.dataset, Some(Dataset::Su), "{m}");
        assert_eq!(e.outcome, outcome, "{m}");
        assert_eq!(e.user_name.as_deref(), user, "{m}");
        assert_eq!(e.user_target_name.as_deref(), target, "{m}");
    }

    #[test]
    fn util_linux_forms() {
        check(
            "(to root) alice on pts/0",
            Outcome::Success,
            Some("alice"),
            Some("root"),
        );
        check(
            "FAILED SU (to root) alice on pts/0",
            Outcome::Failure,
            Some("alice"),
            Some("root"),
        );
        check(
            "(to nobody) root on none",
            Outcome::Success,
            Some("root"),
            Some("nobody"),
        );
    }

    #[test]
    fn shadow_forms() {
        check(
            "+ pts/0 alice:root",
            Outcome::Success,
            Some("alice"),
            Some("root"),
        );
        check(
            "- pts/0 alice:root",
            Outcome::Failure,
            Some("alice"),
            Some("root"),
        );
        check("- ttyS0 ???:root", Outcome::Failure, None, Some("root"));
        check(
            "Successful su for root by alice",
            Outcome::Success,
            Some("alice"),
            Some("root"),
        );
        check(
            "FAILED su for root by alice",
            Outcome::Failure,
            Some("alice"),
            Some("root"),
        );
    }

    #[test]
    fn bsd_forms() {
        check(
            "BAD SU alice to root on /dev/pts/0",
            Outcome::Failure,
            Some("alice"),
            Some("root"),
        );
        check(
            "dcid to root on /dev/ttyp1",
            Outcome::Success,
            Some("dcid"),
            Some("root"),
        );
        check(
            "Fred to root on /dev/ttyp1",
            Outcome::Success,
            Some("Fred"),
            Some("root"),
        );
        check(
            "failed: ttyq4 changing from ldap to root",
            Outcome::Failure,
            Some("ldap"),
            Some("root"),
        );
    }

    #[test]
    fn not_ours() {
        for m in [
            "pam_unix(su:session): session opened for user root by alice(uid=1000)",
            "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root",
            "pam_authenticate: Authentication failure",
            "FAILED SU (to root) alice",
            "+ pts/0",
            "(to root)",
            "",
            "-",
            "Fred to root",
        ] {
            assert_eq!(decode(m), None, "{m}");
        }
    }
}
