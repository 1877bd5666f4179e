//! Vaultwarden and Bitwarden (one family, one dataset: `vaultwarden`).
//!
//! Vaultwarden: `[2024-08-31 02:11:22.129][vaultwarden::api::identity][ERROR] MESSAGE` in its
//! log file (the date may carry `+0800`), `[vaultwarden::…][ERROR] MESSAGE` through syslog.
//! Its failures end in the address, after a fixed text, and sometimes the user name the
//! client typed:
//! `Username or password is incorrect. Try again. IP: A. Username: U.`,
//! `Invalid admin token. IP: A`, `Invalid TOTP code! Server time: T UTC IP: A`,
//! `This user has been disabled. IP: A. Username: U.`, and the API-key forms (`Incorrect
//! client_secret`, `Invalid client_id`). Only these texts are recognised, so what precedes
//! `IP: ` is always Vaultwarden's; the address ends at the first `. ` (the user name comes
//! after it) or the line's end. `User U logged in successfully. IP: A` is a success, its
//! address read from the end.
//!
//! Bitwarden: `2019-11-26 01:04:49.008 +08:00 [WRN] Failed login attempt. A` (also `, 2FA
//! invalid.`), or through syslog as `Bitwarden-Identity[1]: [Bit.Core…] Failed login attempt.
//! A`: the address is all that follows the fixed text.

use std::borrow::Cow;

use logward_core::{Dataset, Event, Outcome, Timestamp};

use super::{datetime, failure, instant, is_ip, login, offset, unframed_found};
use crate::clock::YearResolver;
use crate::decoders::unframed::Unframed;
use crate::decoders::{guarded, Found};
use crate::text::FastFind;

/// Vaultwarden's syslog message `[module][LEVEL] MESSAGE` (or its whole file line).
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let body = match message.as_bytes().get(1) {
        Some(c) if c.is_ascii_digit() => message.strip_prefix('[')?.fsplit_once("][")?.1,
        _ => message.strip_prefix('[')?,
    };
    guarded(e, |e| vaultwarden(body, e))
}

/// Vaultwarden's log file line.
pub fn unframed<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let b = line.as_bytes().get(1..)?;
    let (date, time, nanos, used) = datetime(b)?;
    let (zone, zused) = match offset(b.get(used..)?) {
        Some((o, n)) => (Some(o), n),
        None => (None, 0),
    };
    let body = line.get(1 + used + zused..)?.strip_prefix("][")?;
    let found = guarded(e, |e| vaultwarden(body, e));
    unframed_found(
        found,
        instant(years, date, time, nanos, zone),
        "vaultwarden",
    )
}

/// `module][LEVEL] MESSAGE`.
fn vaultwarden<'a>(body: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (module, rest) = body.fsplit_once("][")?;
    if !module.starts_with("vaultwarden::") {
        return None;
    }
    let (_level, m) = rest.fsplit_once("] ")?;
    let m = m.trim_end_matches([' ', '\r']);
    if let Some(r) = m.strip_prefix("User ") {
        return logged_in(r, e);
    }
    let Some((reason, rest)) = FAILURES
        .iter()
        .find_map(|(text, reason)| Some((*reason, m.strip_prefix(text)?)))
    else {
        let r = m.strip_prefix("Invalid TOTP code! Server time: ")?;
        // `YYYY-MM-DD HH:MM:SS UTC`, Vaultwarden's own clock, then ` IP: A`.
        let (_, _, _, used) = datetime(r.as_bytes())?;
        return with_ip("bad-2fa", r.get(used..)?.strip_prefix(" UTC")?, e);
    };
    with_ip(reason, rest.trim_start_matches(['.', '!']), e)
}

/// Vaultwarden's failure texts that are followed by `. IP: A[. Username: U.]`, and their
/// reasons. A longer text comes before any text it starts with.
const FAILURES: &[(&str, &str)] = &[
    (
        "Username or password is incorrect. Try again",
        "bad-password",
    ),
    (
        "Username or access code is incorrect. Try again",
        "bad-password",
    ),
    ("Invalid admin token", "bad-token"),
    ("Incorrect client_secret", "bad-token"),
    ("Invalid client_id", "invalid-user"),
    ("Malformed client_id", "invalid-user"),
    ("This user has been disabled (API key login)", "disabled"),
    ("This user has been disabled", "disabled"),
];

/// ` IP: A`, then the end, `.`, or `. Username: U.` / `. Organization: O.`: the address
/// ends at the first `. ` (an address holds none), the user's text only follows it.
fn with_ip<'a>(reason: &'static str, rest: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let rest = rest.strip_prefix(" IP: ")?;
    let (addr, tail) = rest.fsplit_once(". ").unwrap_or((rest, ""));
    let addr = addr.strip_suffix('.').unwrap_or(addr);
    if !is_ip(addr) {
        return None;
    }
    let user = tail
        .strip_prefix("Username: ")
        .map(|u| u.strip_suffix('.').unwrap_or(u));
    failure(
        e,
        Dataset::Vaultwarden,
        reason,
        user.map(Cow::Borrowed),
        Cow::Borrowed(addr),
    )
}

/// `User U logged in successfully[ via API key]. IP: A`: the address is read from the end.
fn logged_in<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (head, addr) = r.frsplit_once(". IP: ")?;
    let user = head
        .strip_suffix(" logged in successfully")
        .or_else(|| head.strip_suffix(" logged in successfully via API key"))?;
    if !is_ip(addr) {
        return None;
    }
    let user = Some(Cow::Borrowed(user));
    login(
        e,
        Dataset::Vaultwarden,
        Outcome::Success,
        None,
        user,
        Cow::Borrowed(addr),
    )
}

/// Bitwarden's syslog message: `[Bit.Core.…] Failed login attempt. A`.
pub fn bitwarden<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = match message.strip_prefix('[') {
        Some(r) => r.fsplit_once("] ")?.1,
        None => message,
    };
    guarded(e, |e| failed_attempt(m, e))
}

/// Bitwarden's own log line (`DATE TIME +HH:MM [LEVEL] …`), or its syslog line with an ISO
/// time without zone (`2019-09-24T13:16:50 host Bitwarden-Identity[1]: …`) that the frame
/// left whole.
pub fn bitwarden_unframed<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let b = line.as_bytes();
    let (date, time, nanos, used) = datetime(b)?;
    let rest = line.get(used..)?.strip_prefix(' ')?;
    let (zone, body) = match offset(rest.as_bytes()) {
        Some((o, n)) => (
            Some(o),
            rest.get(n..)?.strip_prefix(" [")?.fsplit_once("] ")?.1,
        ),
        None => {
            let (_host, tag) = rest.split_once(' ')?;
            let (program, body) = tag.fsplit_once(": ")?;
            if !program.starts_with("Bitwarden-") {
                return None;
            }
            (None, body.strip_prefix('[')?.fsplit_once("] ")?.1)
        }
    };
    let timestamp: Option<Timestamp> = instant(years, date, time, nanos, zone);
    unframed_found(
        guarded(e, |e| failed_attempt(body, e)),
        timestamp,
        "bitwarden",
    )
}

fn failed_attempt<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let m = m.trim_end_matches([' ', '\r']);
    let (reason, addr) = if let Some(a) = m.strip_prefix("Failed login attempt. ") {
        ("bad-password", a)
    } else {
        (
            "bad-2fa",
            m.strip_prefix("Failed login attempt, 2FA invalid. ")?,
        )
    };
    if !is_ip(addr) {
        return None;
    }
    failure(e, Dataset::Vaultwarden, reason, None, Cow::Borrowed(addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::apps;

    fn d(line: &str) -> Option<(Event<'_>, Option<Timestamp>)> {
        let mut e = Event::default();
        let u = apps::unframed(line, &mut YearResolver::fixed(2026, 0), &mut e)?;
        Some((e, u.timestamp))
    }

    #[test]
    fn vaultwarden_forms() {
        let (e, t) = d("[2024-08-31 02:11:22.129][vaultwarden::api::identity][ERROR] Username or password is incorrect. Try again. IP: 2001:db8::b6d3:95d7:1425:766d. Username: test@example.com.").unwrap();
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.user_name.as_deref(), Some("test@example.com"));
        assert_eq!(
            e.source_address.as_deref(),
            Some("2001:db8::b6d3:95d7:1425:766d")
        );
        assert_eq!(t.unwrap().to_string(), "2024-08-31T02:11:22.129000Z");
        let (e, t) = d("[2024-08-31 02:11:28.892+0800][vaultwarden::api::core::two_factor::authenticator][ERROR] Invalid TOTP code! Server time: 2024-08-30 18:11:28 UTC IP: 80.187.85.94").unwrap();
        assert_eq!(e.reason, Some("bad-2fa"));
        assert_eq!(e.source_address.as_deref(), Some("80.187.85.94"));
        assert_eq!(t.unwrap().to_string(), "2024-08-31T02:11:28.892000+08:00");
        let (e, _) = d("[2024-08-31 02:11:30.123+0800][vaultwarden::api::admin][ERROR] Invalid admin token! IP: 192.0.2.7. Username: alice").unwrap();
        assert_eq!(
            (e.reason, e.user_name.as_deref()),
            (Some("bad-token"), Some("alice"))
        );
        let e = crate::decoders::Decoded::run(|e| {
            decode(
                "[vaultwarden::api::admin][ERROR] Invalid admin token. IP: 192.0.2.8.",
                e,
            )
        })
        .unwrap()
        .event;
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.8"));
    }

    #[test]
    fn more_vaultwarden_texts() {
        let base = "[2025-01-02 03:04:05.678][vaultwarden::api::identity][ERROR] ";
        for (m, reason, user) in [
            (
                "Incorrect client_secret. IP: 192.0.2.1. Username: a@b.c.",
                "bad-token",
                Some("a@b.c"),
            ),
            (
                "Incorrect client_secret. IP: 192.0.2.1. Organization: 0f-1.",
                "bad-token",
                None,
            ),
            ("Invalid client_id. IP: 192.0.2.1.", "invalid-user", None),
            (
                "This user has been disabled (API key login). IP: 192.0.2.1. Username: a.",
                "disabled",
                Some("a"),
            ),
            (
                "Username or access code is incorrect. Try again. IP: 192.0.2.1. Username: a.",
                "bad-password",
                Some("a"),
            ),
        ] {
            let line = format!("{base}{m}");
            let (e, _) = d(&line).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(e.reason, Some(reason), "{m}");
            assert_eq!(e.user_name.as_deref(), user, "{m}");
            assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"), "{m}");
        }
        let line = format!("{base}User a@b.c. IP: 9.9.9.9 logged in successfully. IP: 192.0.2.2");
        let (e, _) = d(&line).unwrap();
        assert_eq!(e.outcome, logward_core::Outcome::Success);
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.2"));
        assert!(d(&format!(
            "{base}Please verify your email before trying again.. IP: 192.0.2.1."
        ))
        .is_none());
    }

    #[test]
    fn a_user_name_cannot_move_the_peer() {
        let (e, _) = d("[2024-08-31 02:11:22.129][vaultwarden::api::identity][ERROR] Username or password is incorrect. Try again. IP: 192.0.2.1. Username: x. IP: 9.9.9.9. Username: y.").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.0.2.1"));
        assert!(d("[2024-08-31 02:11:22.129][vaultwarden::api::identity][ERROR] Something for x. IP: 9.9.9.9").is_none());
        assert!(
            d("[2024-08-31 02:11:22.129][other::x][ERROR] Invalid admin token. IP: 9.9.9.9")
                .is_none()
        );
    }

    #[test]
    fn bitwarden_forms() {
        let (e, t) =
            d("2019-11-26 01:04:49.008 +08:00 [WRN] Failed login attempt. 192.168.0.16").unwrap();
        assert_eq!(e.reason, Some("bad-password"));
        assert_eq!(e.source_address.as_deref(), Some("192.168.0.16"));
        assert_eq!(t.unwrap().to_string(), "2019-11-26T01:04:49.008000+08:00");
        let (e, _) = d("2019-11-25 21:39:58.464 +01:00 [Warning] Failed login attempt, 2FA invalid. 192.168.0.21").unwrap();
        assert_eq!(e.reason, Some("bad-2fa"));
        let (e, _) = d("2019-09-24T13:16:50 e5a81dbf7fd1 Bitwarden-Identity[1]: [Bit.Core.IdentityServer.ResourceOwnerPasswordValidator] Failed login attempt. 192.168.0.23").unwrap();
        assert_eq!(e.source_address.as_deref(), Some("192.168.0.23"));
        let e = crate::decoders::Decoded::run(|e| bitwarden("[Bit.Core.IdentityServer.ResourceOwnerPasswordValidator] Failed login attempt. 192.168.0.23", e)).unwrap().event;
        assert_eq!(e.source_address.as_deref(), Some("192.168.0.23"));
        assert!(d("2019-11-26 01:04:49.008 +08:00 [WRN] Failed login attempt. bob").is_none());
    }
}
