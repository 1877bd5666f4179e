//! The own-format logs of the services in this family, for lines with no syslog program
//! (called from [`super::unframed`]): MySQL's and MSSQL's error logs, MongoDB's JSON, vsftpd's
//! and ProFTPD's logs, Asterisk's `messages`, FreeSWITCH's log, squid's access.log, 3proxy,
//! portsentry's blocked file, BIND's own log files and fail2ban's log. Each is recognised by
//! its header (a date of its own shape and what follows it), which also gives the time.

use logward_core::{Event, Timestamp};

use super::db::{mongodb, mssql, mysql};
use super::ftp::{proftpd, vsftpd};
use super::unframed::Unframed;
use super::{asterisk, fail2ban, freeswitch, named, portsentry, scan, squid, threeproxy, Found};
use crate::clock::YearResolver;

pub fn decode<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    match *message.as_bytes().first()? {
        b'0'..=b'9' => digits(message, years, e),
        b'[' => {
            let (ts, rest) = bracketed_date(message, years)?;
            done(asterisk::decode(rest, e)?, ts, "asterisk")
        }
        b'{' => {
            let (found, ts) = mongodb::json(message, e)?;
            Some(Unframed {
                found,
                timestamp: ts,
                program: Some("mongod"),
            })
        }
        b'p' => {
            let rest = pid_tag(message, "proftpd")?;
            done(proftpd::decode(rest, e)?, None, "proftpd")
        }
        b'L' => done(mssql::decode(message, e)?, None, "sqlservr"),
        b'A'..=b'Z' => {
            // vsftpd.log: `Fri Jan 19 12:20:33 2007 [pid N] …`
            let (ts, rest) = ctime(message, years)?;
            done(vsftpd::decode(rest, e)?, ts, "vsftpd")
        }
        _ => None,
    }
}

fn done<'a>(
    found: Found<'a>,
    ts: Option<Timestamp>,
    program: &'static str,
) -> Option<Unframed<'a>> {
    Some(Unframed {
        found,
        timestamp: ts,
        program: Some(program),
    })
}

/// Lines that start with a digit: told apart by the shape of their date.
fn digits<'a>(m: &'a str, years: &mut YearResolver, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let (first, rest) = scan::word(m);
    let f = first.as_bytes();
    // `1386543323.000  4 A …` (squid), `1403884279 - …` (portsentry)
    if f.len() >= 9 && f.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        if rest.starts_with("- ") {
            let (found, ts) = portsentry::blocked(m, e)?;
            return done(found, ts, "portsentry");
        }
        let (found, ts) = squid::decode(m, e)?;
        return done(found, ts, "squid");
    }
    // `130324  0:04:00 [Warning] …` (MySQL ≤ 5.5)
    if f.len() == 6 && f.iter().all(u8::is_ascii_digit) {
        let ts = yymmdd(first, rest.trim_start_matches(' '), years);
        return done(mysql::decode(m, e)?, ts, "mysqld");
    }
    // `11-06-2013 02:09:40 +0300 …` (3proxy)
    if f.len() == 10 && f[2] == b'-' && f[5] == b'-' {
        let (found, ts) = threeproxy::decode(m, e)?;
        return done(found, ts, "3proxy");
    }
    // `11-Aug-2013 03:36:11.372 …` (BIND's own files)
    if f.len() == 11 && f[2] == b'-' && f[6] == b'-' && f[3].is_ascii_uppercase() {
        let (ts, rest) = bind_date(first, rest, years);
        return done(named::decode(rest, e)?, ts, "named");
    }
    // `08-03 07:56:53.026292 [WARN] …` (FreeSWITCH without the year)
    if f.len() == 5 && f[2] == b'-' {
        return done(freeswitch::decode(m, e)?, None, "freeswitch");
    }
    // ISO dates: `2015-10-07 06:09:42 …`, `2016-02-24T15:26:18.237955 …`, `…Z`, `,388`.
    let Some((ts, rest)) = iso(m, years) else {
        // What follows a date the frame took: `113 [Note] …` (MySQL's thread id),
        // `82.43% [WARNING] …` (FreeSWITCH's load).
        if let Some(found) = mysql::decode(m, e) {
            return done(found, None, "mysqld");
        }
        return done(freeswitch::decode(m, e)?, None, "freeswitch");
    };
    let found = match rest.as_bytes().first()? {
        b'f' => {
            if let Some(f) = rest.strip_prefix("fail2ban.actions").map(|_| rest) {
                return done(fail2ban::decode(f, e)?, ts, "fail2ban");
            }
            return None;
        }
        b'L' => return done(mssql::decode(rest, e)?, ts, "sqlservr"),
        b'[' => {
            if let Some(f) = freeswitch::decode(rest, e) {
                return done(f, ts, "freeswitch");
            }
            mysql::decode(rest, e)
        }
        b'0'..=b'9' => {
            // `5907 [Warning] …` (MySQL thread id), `82.43% [WARNING] …` (FreeSWITCH load)
            if let Some(f) = mysql::decode(rest, e) {
                Some(f)
            } else {
                return done(freeswitch::decode(rest, e)?, ts, "freeswitch");
            }
        }
        _ => {
            // proftpd.log: `HOST proftpd[PID] SERVER (NAME[A]) …`
            let (_host, r) = scan::word(rest);
            let r = pid_tag(r, "proftpd")?;
            return done(proftpd::decode(r, e)?, ts, "proftpd");
        }
    }?;
    done(found, ts, "mysqld")
}

/// `PROG[PID] rest` → rest.
fn pid_tag<'a>(m: &'a str, prog: &str) -> Option<&'a str> {
    let (pid, rest) = m.strip_prefix(prog)?.strip_prefix('[')?.split_once("] ")?;
    (!pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit())).then_some(rest)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `H:MM:SS` or `HH:MM:SS`, then an optional `.frac`/`,frac`: (h, m, s), nanos, rest.
fn clock(s: &str) -> Option<((u32, u32, u32), u32, &str)> {
    let (t, rest) = scan::word(s);
    let (hms, frac) = match t.find(['.', ',']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let frac = frac.strip_suffix('Z').unwrap_or(frac);
    let mut it = hms.split(':');
    let (h, m, sec) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
    if it.next().is_some() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |c| u32::from(c - b'0'));
    }
    Some(((h, m, sec), nanos, rest))
}

/// `YYYY-MM-DD[T| |  ]H:MM:SS[.frac|,frac][Z] rest`: the time (UTC with `Z`, else the
/// input's wall clock) and the rest.
fn iso<'a>(m: &'a str, years: &mut YearResolver) -> Option<(Option<Timestamp>, &'a str)> {
    let b = m.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let t = match b[10] {
        b'T' => m.get(11..)?,
        b' ' => m.get(11..)?.trim_start_matches(' '),
        _ => return None,
    };
    let (y, mo, d) = (num(m.get(..4)?)?, num(m.get(5..7)?)?, num(m.get(8..10)?)?);
    let utc = scan::word(t).0.ends_with('Z');
    let (hms, nanos, rest) = clock(t)?;
    let ts = if utc {
        Timestamp::from_local((y as i32, mo, d), hms, nanos, 0)
    } else {
        years.wall_clock((y as i32, mo, d), hms, nanos)
    };
    Some((ts, rest.trim_start_matches(' ')))
}

/// MySQL's `YYMMDD` and the `H:MM:SS` after it.
fn yymmdd(date: &str, time: &str, years: &mut YearResolver) -> Option<Timestamp> {
    let (y, mo, d) = (
        num(date.get(..2)?)?,
        num(date.get(2..4)?)?,
        num(date.get(4..6)?)?,
    );
    let (hms, nanos, _) = clock(time)?;
    years.wall_clock((2000 + y as i32, mo, d), hms, nanos)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(s: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

/// BIND's `DD-Mon-YYYY HH:MM:SS.mmm rest`.
fn bind_date<'a>(
    date: &str,
    rest: &'a str,
    years: &mut YearResolver,
) -> (Option<Timestamp>, &'a str) {
    let ts = (|| {
        let (d, mo, y) = (
            num(date.get(..2)?)?,
            month(date.get(3..6)?)?,
            num(date.get(7..)?)?,
        );
        let (hms, nanos, _) = clock(rest)?;
        years.wall_clock((y as i32, mo, d), hms, nanos)
    })();
    (ts, scan::word(rest).1)
}

/// Asterisk's `[YYYY-MM-DD HH:MM:SS] ` or `[Mon DD HH:MM:SS] `.
fn bracketed_date<'a>(
    m: &'a str,
    years: &mut YearResolver,
) -> Option<(Option<Timestamp>, &'a str)> {
    let (inner, rest) = m.strip_prefix('[')?.split_once("] ")?;
    if inner.len() > 32 {
        return None;
    }
    if let Some((ts, _)) = iso(inner, years) {
        return Some((ts, rest));
    }
    let ts = years
        .parse_bsd(inner.as_bytes())
        .filter(|(_, used)| *used == inner.len())
        .map(|(t, _)| t);
    ts.map(|t| (Some(t), rest))
}

/// ctime's `Www Mmm dd HH:MM:SS YYYY rest`.
fn ctime<'a>(m: &'a str, years: &mut YearResolver) -> Option<(Option<Timestamp>, &'a str)> {
    let (_wday, r) = scan::word(m);
    let (mon, r) = scan::word(r);
    let r = r.trim_start_matches(' ');
    let (day, r) = scan::word(r);
    let (hms, nanos, r) = clock(r)?;
    let (year, rest) = scan::word(r);
    let ts = years.wall_clock((num(year)? as i32, month(mon)?, num(day)?), hms, nanos);
    Some((ts, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let mut y = YearResolver::fixed(2026, 0);
        let (ts, rest) = iso("2019-01-03T08:50:04.634875Z 113 [Note]", &mut y).unwrap();
        assert_eq!(ts.unwrap().to_string(), "2019-01-03T08:50:04.634875Z");
        assert_eq!(rest, "113 [Note]");
        let (ts, rest) = iso("2015-10-07  8:25:38 1398 [Warning]", &mut y).unwrap();
        assert_eq!(ts.unwrap().to_string(), "2015-10-07T08:25:38Z");
        assert_eq!(rest, "1398 [Warning]");
        let (ts, _) = iso("2006-02-13 15:52:30,388 fail2ban.actions", &mut y).unwrap();
        assert_eq!(ts.unwrap().to_string(), "2006-02-13T15:52:30.388000Z");
        let (ts, rest) = ctime("Fri Jan 19 12:20:33 2007 [pid 1] x", &mut y).unwrap();
        assert_eq!(
            (ts.unwrap().to_string().as_str(), rest),
            ("2007-01-19T12:20:33Z", "[pid 1] x")
        );
        assert!(iso("2019-13-03T08:50:04 x", &mut y).unwrap().0.is_none());
        for bad in [
            "",
            "2019-",
            "2019-01-03X",
            "2019-01-03 8",
            "[",
            "[2019-01-03 08:00:00",
        ] {
            assert!(iso(bad, &mut y).and_then(|(t, _)| t).is_none(), "{bad}");
            let _ = bracketed_date(bad, &mut y);
        }
    }
}
