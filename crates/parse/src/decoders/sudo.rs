//! `sudo` messages: `alice : [problem ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=…`.
//!
//! The problem text (when there is one) says why sudo refused; the `KEY=value` fields follow,
//! separated by ` ; `. `COMMAND=` is always last and is the rest of the line, since the command
//! itself may contain ` ; `. PAM lines (`pam_unix(sudo:auth): …`) are left to `pam.rs`.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::FastFind;

/// Decodes one sudo message into `e`; `None` (and `e` untouched) when it is not one.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| parse(message, e))
}

fn parse<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let message = message.trim_start_matches(' ');
    let (user, rest) = message.fsplit_once(" : ")?;
    let user = user.trim_end_matches(' ');
    // A sudo user name is one token; anything else (`pam_unix(sudo:auth): …` has no ` : `,
    // but other programs' text might) is not this format.
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let (problem, fields) = if starts_with_field(rest) {
        ("", rest)
    } else {
        rest.fsplit_once(" ; ").unwrap_or((rest, ""))
    };
    let (outcome, reason) = classify(problem)?;
    start(e, Dataset::Sudo, Action::PrivilegeEscalation, outcome);
    e.reason = reason;
    e.user_name = Some(Cow::Borrowed(user));
    let mut rest = fields;
    while !rest.is_empty() {
        if let Some(command) = rest.strip_prefix("COMMAND=") {
            e.command_line = (!command.is_empty()).then_some(Cow::Borrowed(command));
            break;
        }
        let (field, tail) = rest.fsplit_once(" ; ").unwrap_or((rest, ""));
        if let Some(target) = field.strip_prefix("USER=") {
            if !target.is_empty() {
                e.user_target_name = Some(Cow::Borrowed(target));
            }
        }
        rest = tail;
    }
    Found::yes()
}

/// `TTY=`, `PWD=`, `USER=`, `TSID=` … : an upper-case key and `=`.
fn starts_with_field(s: &str) -> bool {
    let key_len = s.bytes().take_while(u8::is_ascii_uppercase).count();
    key_len > 0 && s.as_bytes().get(key_len) == Some(&b'=')
}

/// What the text before the fields means. `None` for texts that are not about an attempt to
/// run a command (`unable to resolve host …`, `problem with defaults entries`,
/// `(command continued) …`).
fn classify(problem: &str) -> Option<(Outcome, Option<&'static str>)> {
    let failure = |reason| Some((Outcome::Failure, Some(reason)));
    if problem.is_empty() {
        return Some((Outcome::Success, None));
    }
    // `3 incorrect password attempts` (sudo 1.8) and `1 incorrect password attempt` (1.9).
    if let Some((n, text)) = problem.split_once(' ') {
        if !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && matches!(
                text,
                "incorrect password attempt" | "incorrect password attempts"
            )
        {
            return failure("bad-password");
        }
    }
    match problem {
        "user NOT in sudoers" => failure("not-in-sudoers"),
        "user NOT authorized on host" => failure("host-not-allowed"),
        "command not allowed" => failure("not-allowed"),
        "a password is required" => failure("password-required"),
        "no tty present and no askpass program specified" => failure("no-tty"),
        p if p.starts_with("a terminal is required to read the password") => failure("no-tty"),
        // `PAM authentication error: ERR`, `PAM account management error: ERR`: PAM refused
        // (an expired account, pam_faillock, pam_access …); the PAM line says which.
        p if p.starts_with("PAM authentication error: ")
            || p.starts_with("PAM account management error: ") =>
        {
            failure("pam-failure")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn decode(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| super::decode(m, e))
    }

    fn ev(m: &str) -> Event<'_> {
        decode(m).expect("decodes").event
    }

    #[test]
    fn command_run() {
        let e = ev("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update");
        assert_eq!(e.action(), Action::PrivilegeEscalation);
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.dataset, Some(Dataset::Sudo));
        assert_eq!(e.user_name.as_deref(), Some("alice"));
        assert_eq!(e.user_target_name.as_deref(), Some("root"));
        assert_eq!(e.command_line.as_deref(), Some("/usr/bin/apt update"));
        assert_eq!(e.reason, None);
    }

    #[test]
    fn leading_spaces_and_sudo_19_fields() {
        let e = ev("   cplummer : TTY=pts/2 ; PWD=/home/cplummer1 ; USER=root ; TSID=0000UM ; COMMAND=/bin/bash");
        assert_eq!(e.user_name.as_deref(), Some("cplummer"));
        assert_eq!(e.command_line.as_deref(), Some("/bin/bash"));
        let e = ev("bob : TTY=pts/1 ; PWD=/ ; USER=www-data ; GROUP=www-data ; ENV=A=1 B=2 ; COMMAND=/bin/true");
        assert_eq!(e.user_target_name.as_deref(), Some("www-data"));
        assert_eq!(e.command_line.as_deref(), Some("/bin/true"));
    }

    #[test]
    fn command_keeps_separators() {
        let e = ev(
            "alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh -c echo a ; USER=evil ; rm x",
        );
        assert_eq!(
            e.command_line.as_deref(),
            Some("/bin/sh -c echo a ; USER=evil ; rm x")
        );
        assert_eq!(e.user_target_name.as_deref(), Some("root"));
    }

    #[test]
    fn refusals() {
        for (m, reason) in [
            (
                "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls",
                "bad-password",
            ),
            (
                "mike : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls",
                "bad-password",
            ),
            (
                "tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
                "not-in-sudoers",
            ),
            (
                "alice : command not allowed ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/su",
                "not-allowed",
            ),
            (
                "alice : a password is required ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
                "password-required",
            ),
            (
                "alice : user NOT authorized on host ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
                "host-not-allowed",
            ),
            (
                "alice : no tty present and no askpass program specified ; TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/bin/id",
                "no-tty",
            ),
            (
                "alice : PAM account management error: Authentication token is no longer valid; new one required ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
                "pam-failure",
            ),
            (
                "alice : PAM authentication error: Permission denied ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
                "pam-failure",
            ),
        ] {
            let e = ev(m);
            assert_eq!(e.action(), Action::PrivilegeEscalation, "{m}");
            assert_eq!(e.outcome, Outcome::Failure, "{m}");
            assert_eq!(e.reason, Some(reason), "{m}");
            assert_eq!(e.user_target_name.as_deref(), Some("root"), "{m}");
            assert!(e.command_line.is_some(), "{m}");
        }
        let e = ev("alice : 3 incorrect password attempts");
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.command_line, None);
    }

    #[test]
    fn not_ours() {
        for m in [
            "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
            "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
            "alice : unable to resolve host web01: Name or service not known",
            "alice : problem with defaults entries ; TTY=pts/0 ; PWD=/ ;",
            "alice : (command continued) b c d",
            "x incorrect password attempts ; TTY=pts/0",
            " : TTY=pts/0",
            "",
        ] {
            assert_eq!(decode(m), None, "{m}");
        }
    }
}
