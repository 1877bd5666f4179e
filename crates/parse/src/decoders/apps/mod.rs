//! Web applications people put behind fail2ban: Grafana, GitLab, Webmin, Drupal, Guacamole,
//! Monit, Bitwarden/Vaultwarden, openHAB, phpMyAdmin, Centreon. One module per application;
//! a failed login is a `user-login` failure with the application's dataset.
//!
//! Some write through syslog (dispatched by program in `decoders::decode`), most to their own
//! files in their own format ([`unframed`], reached only for lines with no syslog program).
//! Every peer is read from where the application's own format puts the address — a logfmt
//! key, a JSON field, a fixed field of a pipe-separated record, the text right after a fixed
//! prefix — and never from a user name or URL the client chose.

use std::borrow::Cow;
use std::net::IpAddr;

use logward_core::{Action, Dataset, Event, Outcome, Timestamp};

use super::unframed::Unframed;
use super::{start, Found};
use crate::clock::YearResolver;

pub mod centreon;
pub mod drupal;
pub mod gitlab;
pub mod grafana;
pub mod guacamole;
pub mod monit;
pub mod openhab;
pub mod phpmyadmin;
pub mod vaultwarden;
pub mod webmin;

/// The applications that write through syslog, by program; every other program ends here
/// too, so the first byte decides before any name is compared.
pub fn by_program<'a>(program: &str, message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    match *program.as_bytes().first()? {
        b'w' if program == "webmin" => webmin::decode(message, e),
        b'm' if program == "monit" => monit::decode(message, e),
        // `phpmyadmin:` is its own log file's tag (`AuthLog` set to a path).
        b'p' if program == "phpMyAdmin" || program == "phpmyadmin" => {
            phpmyadmin::decode(message, e)
        }
        b'g' if program == "grafana" || program == "grafana-server" => grafana::decode(message, e),
        b'v' if program == "vaultwarden" => vaultwarden::decode(message, e),
        b'B' if program.starts_with("Bitwarden-") => vaultwarden::bitwarden(message, e),
        // Guacamole runs in Tomcat: java.util.logging's second line frames as `WARNING:`.
        b'W' | b'I' | b't'
            if matches!(
                program,
                "WARNING" | "INFO" | "tomcat" | "tomcat8" | "tomcat9" | "tomcat10"
            ) =>
        {
            guacamole::decode(message, e)
        }
        // Drupal logs under the site's own syslog identity (`drupal` by default): its record
        // starts with the site's URL.
        _ if message.as_bytes().first() == Some(&b'h') => drupal::decode(message, e),
        _ => None,
    }
}

/// The application formats that have no syslog program, by first byte (then by the shape of
/// their header): Grafana's logfmt, GitLab's text and JSON logs, Vaultwarden's and Monit's
/// bracketed dates, Bitwarden's and Centreon's ISO dates, Guacamole's logback lines and
/// openHAB's Jetty request log.
pub fn unframed<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    match *message.as_bytes().first()? {
        b't' | b'l' => grafana::unframed(message, e),
        b'F' => gitlab::unframed(message, e),
        b'{' => gitlab::json(message, e).or_else(|| grafana::json(message, e)),
        b'[' => {
            vaultwarden::unframed(message, years, e).or_else(|| monit::unframed(message, years, e))
        }
        b'0'..=b'9' => vaultwarden::bitwarden_unframed(message, years, e)
            .or_else(|| centreon::unframed(message, years, e))
            .or_else(|| gitlab::dated(message, e))
            .or_else(|| guacamole::logback(message, e))
            .or_else(|| openhab::unframed(message, e)),
        b'a'..=b'f' | b'A'..=b'F' | b':' => openhab::unframed(message, e),
        _ => None,
    }
}

/// Whether `s` is an IP address (what the formats that always log one must hold).
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// A failed login at `dataset` from `addr` (which must be non-empty), by `user` when named.
pub(crate) fn failure<'a>(
    e: &mut Event<'a>,
    dataset: Dataset,
    reason: &'static str,
    user: Option<Cow<'a, str>>,
    addr: Cow<'a, str>,
) -> Option<Found<'a>> {
    login(e, dataset, Outcome::Failure, Some(reason), user, addr)
}

/// A `user-login` of this outcome from `addr` (non-empty), by `user` when named (non-empty).
pub(crate) fn login<'a>(
    e: &mut Event<'a>,
    dataset: Dataset,
    outcome: Outcome,
    reason: Option<&'static str>,
    user: Option<Cow<'a, str>>,
    addr: Cow<'a, str>,
) -> Option<Found<'a>> {
    if addr.is_empty() {
        return None;
    }
    start(e, dataset, Action::UserLogin, outcome);
    e.reason = reason;
    e.user_name = user.filter(|u| !u.is_empty());
    e.set_source(addr, None);
    Found::yes()
}

/// A wall-clock time as read: (year, month, day), (hour, minute, second), nanoseconds, and
/// the bytes its text took.
pub(crate) type WallClock = ((i32, u32, u32), (u32, u32, u32), u32, usize);

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac]` at the start of `b`. The zone, if any, is the caller's to
/// read.
pub(crate) fn datetime(b: &[u8]) -> Option<WallClock> {
    let num = |at: usize, len: usize| logward_core::time::digits_at(b, at, len);
    let date = (num(0, 4)? as i32, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let time = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let (nanos, used) = fraction(b, 19);
    Some((date, time, nanos, used))
}

/// `.ddd…` at `at`: nanoseconds and where the text after it starts (`at` when there is none).
pub(crate) fn fraction(b: &[u8], at: usize) -> (u32, usize) {
    if b.get(at) != Some(&b'.') {
        return (0, at);
    }
    match b
        .get(at + 1..)
        .and_then(logward_core::time::fraction_digits)
    {
        Some((nanos, used)) => (nanos, at + 1 + used),
        None => (0, at),
    }
}

/// A UTC offset at the start of `b`: `Z`, `±HH:MM` or `±HHMM`; seconds and bytes read.
pub(crate) fn offset(b: &[u8]) -> Option<(i32, usize)> {
    let sign = match b.first()? {
        b'Z' => return Some((0, 1)),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |at: usize| -> Option<i32> {
        let (x, y) = (
            b.get(at)?.wrapping_sub(b'0'),
            b.get(at + 1)?.wrapping_sub(b'0'),
        );
        (x <= 9 && y <= 9).then(|| i32::from(x * 10 + y))
    };
    let h = two(1)?;
    let (m, used) = if b.get(3) == Some(&b':') {
        (two(4)?, 6)
    } else {
        (two(3)?, 5)
    };
    (h <= 23 && m <= 59).then_some((sign * (h * 3600 + m * 60), used))
}

/// The instant of a wall-clock time: at `offset` when the line gave one, else in the input's
/// zone.
pub(crate) fn instant(
    years: &mut YearResolver,
    date: (i32, u32, u32),
    time: (u32, u32, u32),
    nanos: u32,
    offset: Option<i32>,
) -> Option<Timestamp> {
    match offset {
        Some(o) => Timestamp::from_local(date, time, nanos, o),
        None => years.wall_clock(date, time, nanos),
    }
}

/// What an unframed decoder returns: the fields are in `e`.
pub(crate) fn unframed_found<'a>(
    found: Option<Found<'a>>,
    timestamp: Option<Timestamp>,
    program: &'static str,
) -> Option<Unframed<'a>> {
    Some(Unframed {
        found: found?,
        timestamp,
        program: Some(program),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_offsets() {
        let (d, t, n, used) = datetime(b"2024-08-31 02:11:22.129][x").unwrap();
        assert_eq!(
            (d, t, n, used),
            ((2024, 8, 31), (2, 11, 22), 129_000_000, 23)
        );
        assert_eq!(datetime(b"2024-08-31T02:11:22 x").unwrap().3, 19);
        assert_eq!(datetime(b"2024-08-31X02:11:22"), None);
        assert_eq!(datetime(b"2024-08-3"), None);
        assert_eq!(offset(b"+0800]"), Some((8 * 3600, 5)));
        assert_eq!(offset(b"-01:30 "), Some((-5400, 6)));
        assert_eq!(offset(b"Z"), Some((0, 1)));
        assert_eq!(offset(b"+2500"), None);
        assert_eq!(fraction(b".", 0), (0, 0));
        assert_eq!(fraction(b".1234567891234", 0), (123_456_789, 14));
    }
}
