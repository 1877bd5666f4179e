//! xrdp, the RDP server (`xrdp`, `xrdp-sesman`), through syslog or its own log file
//! (`/var/log/xrdp-sesman.log`: `[YYYYMMDD-HH:MM:SS] [LEVEL] message`, or from 0.10 on
//! `[YYYY-MM-DDTHH:MM:SS.mmm+HHMM] [LEVEL] message`).
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
        if let Some(r) = m.strip_prefix("Socket ") {
            return accepted(r, e);
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

/// `Socket N: connection accepted from A:P` (`[A]:P` for IPv6; xrdp ≥ 0.10) or the older
/// `Socket N: AF_INET6 connection received from A port P`: xrdp's own text around the peer.
fn accepted<'a>(r: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    let (n, r) = r.split_once(": ")?;
    if n.is_empty() || scan::digits(n.as_bytes()) != n.len() {
        return None;
    }
    let (addr, p) = if let Some(d) = r.strip_prefix("connection accepted from ") {
        super::dropbear::split_addr_port(d)?
    } else {
        let (_, d) = r.split_once(" connection received from ")?;
        let (a, p) = d.split_once(" port ")?;
        if a.is_empty() || scan::has_space(a) {
            return None;
        }
        (a, Some(scan::port(p.as_bytes())?))
    };
    start(e, Dataset::Xrdp, Action::ConnectionOpened, Outcome::Unknown);
    e.set_source(Cow::Borrowed(addr), p);
    Found::yes()
}

/// sesman's own log line: `[YYYYMMDD-HH:MM:SS] [LEVEL] message` (wall clock, no zone; xrdp
/// < 0.10) or `[YYYY-MM-DDTHH:MM:SS.mmm+HHMM] [LEVEL] message` (later releases, with the
/// offset): its time and the message, or `None` when the line does not start so.
pub fn own_log_line<'a>(line: &'a str, years: &mut YearResolver) -> Option<(Timestamp, &'a str)> {
    let b = line.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let s = line.get(from..to)?;
        (!s.is_empty() && scan::digits(s.as_bytes()) == s.len())
            .then(|| s.parse().ok())
            .flatten()
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if at(9, b'-') && at(12, b':') && at(15, b':') && b.get(18..20) == Some(b"] ") {
        let year = i32::try_from(num(1, 5)?).ok()?;
        let ts = years.wall_clock(
            (year, num(5, 7)?, num(7, 9)?),
            (num(10, 12)?, num(13, 15)?, num(16, 18)?),
            0,
        )?;
        return Some((ts, line.get(20..)?));
    }
    // `[2022-10-07T16:36:04.357+0900] `: 30 bytes with the brackets and the blank.
    let iso = at(5, b'-')
        && at(8, b'-')
        && at(11, b'T')
        && at(14, b':')
        && at(17, b':')
        && at(20, b'.')
        && (at(24, b'+') || at(24, b'-'))
        && b.get(29..31) == Some(b"] ");
    if !iso {
        return None;
    }
    let year = i32::try_from(num(1, 5)?).ok()?;
    let minutes = num(25, 27)? * 60 + num(27, 29)?;
    let offset = i32::try_from(minutes * 60).ok()? * if at(24, b'-') { -1 } else { 1 };
    let ts = Timestamp::from_local(
        (year, num(6, 8)?, num(9, 11)?),
        (num(12, 14)?, num(15, 17)?, num(18, 20)?),
        num(21, 24)? * 1_000_000,
        offset,
    )?;
    Some((ts, line.get(31..)?))
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
    fn connections() {
        for (m, host, port) in [
            (
                "[INFO ] Socket 12: connection accepted from 192.0.2.5:3390",
                "192.0.2.5",
                3390,
            ),
            (
                "[INFO ] Socket 12: connection accepted from [2001:db8::5]:3390",
                "2001:db8::5",
                3390,
            ),
            (
                "[INFO ] Socket 12: AF_INET6 connection received from ::ffff:192.0.2.5 port 55555",
                "192.0.2.5",
                55555,
            ),
        ] {
            let x = Decoded::run(|e| decode(m, e)).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(x.event.action(), Action::ConnectionOpened, "{m}");
            assert_eq!(
                (x.event.source_address.as_deref(), x.event.source_port),
                (Some(host), Some(port)),
                "{m}"
            );
        }
        for m in [
            "[INFO ] Socket x: connection accepted from 192.0.2.5:3390",
            "[INFO ] Socket 12: connection accepted from a b:1",
            "[INFO ] Socket 12: AF_INET6 connection received from ::ffff:192.0.2.5 port x",
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
        let (ts, m) = own_log_line("[2022-10-07T16:36:04.357+0900] [INFO ] AUTHFAIL: x", &mut y)
            .unwrap_or_else(|| panic!());
        assert_eq!(m, "[INFO ] AUTHFAIL: x");
        assert_eq!(ts.unix, 1_665_128_164);
        let (ts, _) = own_log_line("[2022-10-07T16:36:04.357-0130] [INFO ] x", &mut y)
            .unwrap_or_else(|| panic!());
        assert_eq!(ts.unix, 1_665_165_964);
        assert!(own_log_line("[2022-10-07T16:36:04.357 0900] [INFO ] x", &mut y).is_none());
        assert!(own_log_line("[2022-13-07T16:36:04.357+0900] [INFO ] x", &mut y).is_none());
    }
}
