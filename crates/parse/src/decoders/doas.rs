//! `doas` (OpenBSD's, and OpenDoas on Linux) messages:
//!
//! - `alice ran command /bin/ksh as root from /home/alice` → success
//! - `alice ran command as backup: tar cf …` (older) → success
//! - `failed auth for alice` → failure, `bad-password`
//! - `failed command for alice: rm -rf /`, `command not permitted for alice: …` → failure,
//!   `not-allowed`
//!
//! `user.name` is the caller, `user.target.name` the account the command ran as. The command
//! and the working directory are the caller's text, so the target is read only where one
//! ` as T from ` fits the line: a command or directory holding ` as root from ` a second time
//! leaves the target unset rather than let the caller choose it.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::{self, FastFind};

/// Decodes one doas message into `e`; `None` (and `e` untouched) when it is not one.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = message.trim_start_matches(' ');
        if let Some(user) = m.strip_prefix("failed auth for ") {
            start(
                e,
                Dataset::Doas,
                Action::PrivilegeEscalation,
                Outcome::Failure,
            );
            e.reason = Some("bad-password");
            e.user_name = Some(Cow::Borrowed(name(user)?));
            return Found::yes();
        }
        if let Some(rest) = m
            .strip_prefix("failed command for ")
            .or_else(|| m.strip_prefix("command not permitted for "))
        {
            let (user, command) = rest.fsplit_once(": ")?;
            start(
                e,
                Dataset::Doas,
                Action::PrivilegeEscalation,
                Outcome::Failure,
            );
            e.reason = Some("not-allowed");
            e.user_name = Some(Cow::Borrowed(name(user)?));
            e.command_line = Some(Cow::Borrowed(command));
            return Found::yes();
        }
        let (user, rest) = m.fsplit_once(" ran command ")?;
        let user = name(user)?;
        start(
            e,
            Dataset::Doas,
            Action::PrivilegeEscalation,
            Outcome::Success,
        );
        e.user_name = Some(Cow::Borrowed(user));
        if let Some(rest) = rest.strip_prefix("as ") {
            // `as T: CMD`: the target comes first, before any caller text.
            let (target, command) = rest.fsplit_once(": ")?;
            e.user_target_name = Some(Cow::Borrowed(name(target)?));
            e.command_line = Some(Cow::Borrowed(command));
            return Found::yes();
        }
        match ran_as(rest) {
            Some((command, target)) => {
                e.command_line = Some(Cow::Borrowed(command));
                e.user_target_name = Some(Cow::Borrowed(target));
            }
            None => e.command_line = Some(Cow::Borrowed(rest)),
        }
        Found::yes()
    })
}

/// `CMD as T from CWD` → (CMD, T) when exactly one ` as T from ` fits.
fn ran_as(rest: &str) -> Option<(&str, &str)> {
    let mut found = None;
    let b = rest.as_bytes();
    for i in text::find_byte_iter(b' ', b) {
        let Some(after) = rest.get(i..).and_then(|r| r.strip_prefix(" as ")) else {
            continue;
        };
        let (target, _cwd) = text::word(after);
        if target.is_empty() || !after[target.len()..].starts_with(" from ") {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some((&rest[..i], name(target)?));
    }
    found
}

/// A user name: one non-empty token.
fn name(s: &str) -> Option<&str> {
    (!s.is_empty() && !s.contains(' ')).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn d(m: &str) -> Option<Event<'_>> {
        Decoded::run(|e| decode(m, e)).map(|d| d.event)
    }

    #[test]
    fn forms() {
        let e = d("ddp ran command /bin/ksh as root from /data/ddp").unwrap();
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.user_name.as_deref(), Some("ddp"));
        assert_eq!(e.user_target_name.as_deref(), Some("root"));
        assert_eq!(e.command_line.as_deref(), Some("/bin/ksh"));
        let e = d("ddp ran command as ddpnfs: ls").unwrap();
        assert_eq!(e.user_target_name.as_deref(), Some("ddpnfs"));
        assert_eq!(e.command_line.as_deref(), Some("ls"));
        let e = d("failed auth for ddp").unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("bad-password"))
        );
        let e = d("failed command for ddp2: ls").unwrap();
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Failure, Some("not-allowed"))
        );
        assert_eq!(e.user_name.as_deref(), Some("ddp2"));
        let e = d("command not permitted for eve: cat /etc/shadow").unwrap();
        assert_eq!(e.command_line.as_deref(), Some("cat /etc/shadow"));
        assert!(d("something else entirely").is_none());
    }

    #[test]
    fn the_caller_cannot_choose_the_target() {
        // `doas -u nobody echo as root from x`, run in /tmp.
        let e = d("eve ran command echo as root from x as nobody from /tmp").unwrap();
        assert_eq!(e.user_name.as_deref(), Some("eve"));
        assert_eq!(e.user_target_name, None);
        // A directory named `x as root from y`.
        let e = d("eve ran command ls as nobody from /tmp/x as root from y").unwrap();
        assert_eq!(e.user_target_name, None);
    }
}
