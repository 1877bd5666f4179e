//! xrdp, the RDP server (`xrdp`, `xrdp-sesman`), through syslog or its own log file
//! (`/var/log/xrdp-sesman.log`: `[YYYYMMDD-HH:MM:SS] [LEVEL] message`).
//!
//! The counted failure is sesman's `AUTHFAIL: user=U ip=A time=N`. U is the client's and may
//! hold anything, even ` ip=… time=…` and a fake second record (fail2ban's injection tests),
//! so the peer is read from the right: the last ` ip=A` before a final ` time=N`. xrdp's own
//! `login failed for user …` repeats the same attempt without a peer, and sesman's
//! `pam_authenticate failed` too: they are left alone, so one attempt counts once.

use std::borrow::Cow;

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, scan, start, Found};
use crate::clock::YearResolver;
use logward_core::Timestamp;

/// Decodes one `xrdp`/`xrdp-sesman` message (after any `[LEVEL] `) into `e`.
pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| {
        let m = strip_level(scan::trim_end_blanks(message));
        if let Some(r) = m.strip_prefix("AUTHFAIL: user=") {
            return authfail(r, e);
        }
        None
    })
}

/// `[INFO ] `, `[ERROR] `, … (xrdp pads the level to five).
fn strip_level(m: &str) -> &str {
    match m.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((level, rest))
            if !level.is_empty()
                && level.len() <= 7
                && level.bytes().all(|c| c.is_ascii_uppercase() || c == b' ') =>
        {
            rest
        }
        _ => m,
    }
}

/// `U ip=A time=N` (after `AUTHFAIL: user=`).
fn authfail<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (head, time) = scan::rsplit_once(r, " time=")?;
    if time.is_empty() || scan::digits(time.as_bytes()) != time.len() {
        return None;
    }
    let (user, addr) = scan::rsplit_once(head, " ip=")?;
    if addr.is_empty() || scan::has_space(addr) {
        return None;
    }
    start(e, Dataset::Xrdp, Action::UserLogin, Outcome::Failure);
    e.reason = Some("auth-failed");
    e.user_name = Some(Cow::Borrowed(user));
    // xrdp writes `unknown` when it has no address.
    if addr != "unknown" {
        e.set_source(Cow::Borrowed(addr), None);
    }
    Found::yes()
}

/// sesman's own log line, `[YYYYMMDD-HH:MM:SS] [LEVEL] message`: its time (wall clock, no
/// zone) and the message, or `None` when the line does not start so.
pub fn own_log_line<'a>(line: &'a str, years: &mut YearResolver) -> Option<(Timestamp, &'a str)> {
    let b = line.as_bytes();
    let shape = b.len() > 20
        && b.first() == Some(&b'[')
        && b.get(9) == Some(&b'-')
        && b.get(12) == Some(&b':')
        && b.get(15) == Some(&b':')
        && b.get(18..20) == Some(b"] ");
    if !shape {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let s = line.get(from..to)?;
        (scan::digits(s.as_bytes()) == s.len())
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = i32::try_from(num(1, 5)?).ok()?;
    let ts = years.wall_clock(
        (year, num(5, 7)?, num(7, 9)?),
        (num(10, 12)?, num(13, 15)?, num(16, 18)?),
        0,
    )?;
    Some((ts, line.get(20..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn authfail_peer_from_the_right() {
        for (m, host, user) in [
            ("[INFO ] AUTHFAIL: user=badtypist ip=::ffff:10.171.161.151 time=1649351466", Some("10.171.161.151"), "badtypist"),
            ("AUTHFAIL: user=192.168.0.1 ip=::ffff:10.171.161.151 time=1649351484", Some("10.171.161.151"), "192.168.0.1"),
            ("[INFO ] AUTHFAIL: user=a ip=192.168.0.4 time=1\\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=b ip=::ffff:10.171.161.151 time=2", Some("10.171.161.151"), "a ip=192.168.0.4 time=1\\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=b"),
            ("AUTHFAIL: user=x ip=unknown time=5", None, "x"),
        ] {
            let x = Decoded::run(|e| decode(m, e)).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(x.event.source_address.as_deref(), host, "{m}");
            assert_eq!(x.event.user_name.as_deref(), Some(user), "{m}");
            assert_eq!(x.event.outcome, Outcome::Failure);
            assert_eq!(x.event.dataset, Some(Dataset::Xrdp));
        }
        for m in [
            "[INFO ] xrdp_wm_log_msg: login failed for user loginjector ip=192.168.0.4 time=12345",
            "[INFO ] n[20220407-12:16:59] [INFO ] AUTHFAIL: user=endinjection",
            "AUTHFAIL: user=x ip=1.2.3.4 time=5 6",
            "AUTHFAIL: user=x ip=1.2.3.4",
        ] {
            assert!(Decoded::run(|e| decode(m, e)).is_none(), "{m}");
        }
    }

    #[test]
    fn own_log_header() {
        let mut y = YearResolver::fixed(2026, 0);
        let (ts, m) = own_log_line("[20220407-12:11:06] [INFO ] AUTHFAIL: x", &mut y)
            .unwrap_or_else(|| panic!());
        assert_eq!(ts.to_string(), "2022-04-07T12:11:06Z");
        assert_eq!(m, "[INFO ] AUTHFAIL: x");
        assert!(own_log_line("[2022040x-12:11:06] [INFO ] x", &mut y).is_none());
        assert!(own_log_line("[20221307-12:11:06] [INFO ] x", &mut y).is_none());
        assert!(own_log_line("[Sun Jul 28 21:27:56 2013] x", &mut y).is_none());
    }
}
