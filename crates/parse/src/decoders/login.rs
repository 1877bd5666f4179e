//! `login` (login(1)) messages, in the util-linux and shadow-utils forms:
//!
//! - util-linux: `FAILED LOGIN 1 FROM host FOR root, Authentication failure`,
//!   `FAILED LOGIN 1 ON tty1 FOR root, …`, `TOO MANY LOGIN TRIES (5) FROM host FOR root, …`,
//!   `ROOT LOGIN ON tty1[ FROM host]`, `LOGIN ON tty1 BY alice[ FROM host]`,
//!   `DIALUP AT ttyS0 BY alice`
//! - shadow: `FAILED LOGIN (1) on '/dev/tty1'[ from 'host'] FOR 'root', Authentication failure`,
//!   `TOO MANY LOGIN TRIES (5) on '/dev/tty1' FOR 'root'`, `ROOT LOGIN  on '/dev/tty1'`,
//!   `'alice' logged in  on '/dev/tty1'`, `invalid password for 'alice'  on '/dev/tty1'`
//!
//! The remote host, when there is one, is read from where login puts it, before the user
//! name: the user name is typed by whoever is at the prompt and never yields an address.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, start, Found};
use crate::text::FastFind;

/// Decodes one login(1) message into `e`; `None` (and `e` untouched) when it is not one.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let (outcome, reason, user, host) = parse(message)?;
        start(e, Dataset::Login, Action::UserLogin, outcome);
        e.reason = reason;
        e.user_name = user.map(Cow::Borrowed);
        if let Some(host) = host {
            e.set_source(Cow::Borrowed(host), None);
        }
        Found::yes()
    })
}

/// (outcome, reason, user, remote host).
type Parsed<'a> = (
    Outcome,
    Option<&'static str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn parse(message: &str) -> Option<Parsed<'_>> {
    let m = message.trim_start_matches(' ');
    if let Some(rest) = m.strip_prefix("FAILED LOGIN ") {
        // util-linux `1 FROM …`, `SESSION FROM …`; shadow `(1) on …`.
        let rest = rest.strip_prefix("SESSION ").unwrap_or(rest);
        let rest = skip_count(rest)?;
        return failed(rest, None);
    }
    if let Some(rest) = m.strip_prefix("TOO MANY LOGIN TRIES ") {
        return failed(skip_count(rest)?, Some("max-attempts"));
    }
    if let Some(rest) = m.strip_prefix("ROOT LOGIN ") {
        let (host, _) = place(rest)?;
        return Some(event(Outcome::Success, None, Some("root"), host));
    }
    if let Some(rest) = m.strip_prefix("LOGIN ON ") {
        // `tty1 BY alice[ FROM host]`
        let (_tty, rest) = rest.fsplit_once(" BY ")?;
        let (user, host) = match rest.fsplit_once(" FROM ") {
            Some((user, host)) => (user, remote(host)),
            None => (rest, None),
        };
        return Some(event(Outcome::Success, None, name(user), host));
    }
    if let Some(rest) = m.strip_prefix("DIALUP AT ") {
        let (_tty, user) = rest.fsplit_once(" BY ")?;
        return Some(event(Outcome::Success, None, name(user), None));
    }
    if let Some(rest) = m.strip_prefix("invalid password for ") {
        let (user, rest) = quoted(rest)?;
        let (host, _) = place(rest)?;
        return Some(event(
            Outcome::Failure,
            Some("bad-password"),
            name(user),
            host,
        ));
    }
    if m.starts_with('\'') {
        // `'alice' logged in  on '/dev/tty1'`: the name is whatever came before the last
        // `' logged in ` (a typed name may itself hold quotes).
        let (user, rest) = m.frsplit_once("' logged in ")?;
        let user = user.strip_prefix('\'')?;
        let (host, _) = place(rest)?;
        return Some(event(Outcome::Success, None, name(user), host));
    }
    None
}

/// `1 ` (util-linux) or `(1)` (shadow, followed by ` on '…'`).
fn skip_count(s: &str) -> Option<&str> {
    let s = s.strip_prefix('(').unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        // `FAILED LOGIN SESSION FROM …` has no count.
        return Some(s);
    }
    let s = s.get(digits..)?;
    Some(s.strip_prefix(')').unwrap_or(s))
}

/// After the count: `FROM host FOR user, reason` / `ON tty FOR user, reason` (util-linux) or
/// ` on 'tty'[ from 'host'] FOR 'user', reason` (shadow).
fn failed<'a>(rest: &'a str, reason: Option<&'static str>) -> Option<Parsed<'a>> {
    let (host, rest) = place(rest)?;
    let rest = rest.trim_start_matches(' ').strip_prefix("FOR ")?;
    let (user, why) = if let Some(q) = rest.strip_prefix('\'') {
        // The reason never holds a quote; the typed name might.
        let (user, why) = q.rsplit_once('\'')?;
        (user, why.strip_prefix(", ").unwrap_or(why))
    } else {
        rest.frsplit_once(", ").unwrap_or((rest, ""))
    };
    let unknown_user = user == "UNKNOWN";
    let reason = reason.or(match why {
        "Authentication failure" => Some("bad-password"),
        "User not known to the underlying authentication module" => Some("invalid-user"),
        "Maximum number of retries exceeded" => Some("max-attempts"),
        _ if unknown_user => Some("invalid-user"),
        _ => None,
    });
    // login writes `UNKNOWN` instead of a name that is not an account (it might be a
    // password typed at the wrong prompt).
    let user = if unknown_user { None } else { name(user) };
    Some(event(Outcome::Failure, reason, user, host))
}

/// Where the login came from, returning the remote host (if any) and the text after it.
fn place(s: &str) -> Option<(Option<&str>, &str)> {
    let t = s.trim_start_matches(' ');
    if let Some(r) = t.strip_prefix("FROM ") {
        let (host, rest) = r.split_once(' ').unwrap_or((r, ""));
        return Some((remote(host), rest));
    }
    if let Some(r) = t.strip_prefix("ON ") {
        let (_tty, rest) = r.split_once(' ').unwrap_or((r, ""));
        // util-linux `ROOT LOGIN ON tty1 FROM host`
        if let Some(r) = rest.strip_prefix("FROM ") {
            let (host, rest) = r.split_once(' ').unwrap_or((r, ""));
            return Some((remote(host), rest));
        }
        return Some((None, rest));
    }
    if let Some(r) = t.strip_prefix("on ") {
        let (_tty, rest) = quoted(r)?;
        if let Some(r) = rest.strip_prefix(" from ") {
            let (host, rest) = quoted(r)?;
            return Some((remote(host), rest));
        }
        return Some((None, rest));
    }
    None
}

/// `'text'` (or shadow's older `` `text' ``): the text and what follows the closing quote.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('\'').or_else(|| s.strip_prefix('`'))?;
    s.split_once('\'')
}

/// A `FROM` value names a terminal for local logins; only anything else is a peer.
fn remote(host: &str) -> Option<&str> {
    let local = host.is_empty()
        || host.starts_with('/')
        || host.starts_with(':')
        || ["tty", "pts", "console", "vc/", "hvc", "xvc"]
            .iter()
            .any(|p| host.starts_with(p));
    (!local).then_some(host)
}

fn name(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn event<'a>(
    outcome: Outcome,
    reason: Option<&'static str>,
    user: Option<&'a str>,
    host: Option<&'a str>,
) -> Parsed<'a> {
    (outcome, reason, user, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    fn decode(m: &str) -> Option<Decoded<'_>> {
        Decoded::run(|e| super::decode(m, e))
    }
    use std::net::IpAddr;

    fn ev(m: &str) -> Event<'_> {
        decode(m)
            .unwrap_or_else(|| panic!("{m}: not decoded"))
            .event
    }

    fn check<'a>(
        m: &'a str,
        outcome: Outcome,
        reason: Option<&str>,
        user: Option<&str>,
    ) -> Event<'a> {
        let e = ev(m);
        assert_eq!(e.action(), Action::UserLogin, "{m}");
        assert_eq!(e.dataset, Some(Dataset::Login), "{m}");
        assert_eq!(e.outcome, outcome, "{m}");
        assert_eq!(e.reason, reason, "{m}");
        assert_eq!(e.user_name.as_deref(), user, "{m}");
        e
    }

    #[test]
    fn util_linux_failures() {
        let e = check(
            "FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure",
            Outcome::Failure,
            Some("bad-password"),
            Some("root"),
        );
        assert_eq!(e.source_address, None);
        let e = check(
            "FAILED LOGIN 2 FROM 192.0.2.7 FOR admin, Authentication failure",
            Outcome::Failure,
            Some("bad-password"),
            Some("admin"),
        );
        assert_eq!(e.source_ip, "192.0.2.7".parse::<IpAddr>().ok());
        let e = check(
            "FAILED LOGIN 1 FROM shell.example.org FOR bob, User not known to the underlying authentication module",
            Outcome::Failure,
            Some("invalid-user"),
            Some("bob"),
        );
        assert_eq!(e.source_address.as_deref(), Some("shell.example.org"));
        assert_eq!(e.source_ip, None);
        check(
            "TOO MANY LOGIN TRIES (5) FROM 192.0.2.7 FOR root, Authentication failure",
            Outcome::Failure,
            Some("max-attempts"),
            Some("root"),
        );
        check(
            "FAILED LOGIN 3 ON /dev/tty2 FOR root, Authentication failure",
            Outcome::Failure,
            Some("bad-password"),
            Some("root"),
        );
    }

    #[test]
    fn user_name_never_gives_an_address() {
        let e = ev("FAILED LOGIN 1 FROM tty1 FOR x FROM 203.0.113.9, Authentication failure");
        assert_eq!(e.source_address, None);
        assert_eq!(e.user_name.as_deref(), Some("x FROM 203.0.113.9"));
        let e = ev(
            "FAILED LOGIN (1) on '/dev/tty1' FOR 'x' from '203.0.113.9', Authentication failure",
        );
        assert_eq!(e.source_address, None);
    }

    #[test]
    fn shadow_failures() {
        check(
            "FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', User not known to the underlying authentication module",
            Outcome::Failure,
            Some("invalid-user"),
            None,
        );
        let e = check(
            "FAILED LOGIN (2) on '/dev/pts/3' from '198.51.100.4' FOR 'root', Authentication failure",
            Outcome::Failure,
            Some("bad-password"),
            Some("root"),
        );
        assert_eq!(e.source_ip, "198.51.100.4".parse::<IpAddr>().ok());
        check(
            "TOO MANY LOGIN TRIES (5) on '/dev/tty1' FOR 'root'",
            Outcome::Failure,
            Some("max-attempts"),
            Some("root"),
        );
        check(
            "invalid password for 'alice'  on '/dev/tty1'",
            Outcome::Failure,
            Some("bad-password"),
            Some("alice"),
        );
    }

    #[test]
    fn successes() {
        check(
            "ROOT LOGIN  on '/dev/tty1'",
            Outcome::Success,
            None,
            Some("root"),
        );
        check("ROOT LOGIN ON tty1", Outcome::Success, None, Some("root"));
        let e = check(
            "ROOT LOGIN ON pts/0 FROM 192.0.2.1",
            Outcome::Success,
            None,
            Some("root"),
        );
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        check(
            "LOGIN ON tty1 BY alice",
            Outcome::Success,
            None,
            Some("alice"),
        );
        let e = check(
            "LOGIN ON pts/1 BY alice FROM host.example",
            Outcome::Success,
            None,
            Some("alice"),
        );
        assert_eq!(e.source_address.as_deref(), Some("host.example"));
        check(
            "DIALUP AT ttyS0 BY alice",
            Outcome::Success,
            None,
            Some("alice"),
        );
        check(
            "'alice' logged in  on '/dev/tty1'",
            Outcome::Success,
            None,
            Some("alice"),
        );
    }

    #[test]
    fn not_ours() {
        for m in [
            "pam_unix(login:session): session opened for user root by LOGIN(uid=0)",
            "pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=tty1 ruser= rhost=  user=root",
            "FAILED LOGIN",
            "FAILED LOGIN 1",
            "ROOT LOGIN",
            "LOGIN ON tty1",
            "'alice",
            "",
        ] {
            assert_eq!(decode(m), None, "{m}");
        }
    }
}
