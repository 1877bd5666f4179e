//! Framing: splits one log line into its header (time, host, program, pid, priority) and
//! message. Detected per line, so a file may mix formats:
//!
//! - BSD syslog `Nov 22 10:00:01 host prog[pid]: msg` (also without host, with a BSD
//!   `<fac.pri>` marker, with a `<PRI>` prefix, with a fraction as `journalctl -o
//!   short-precise` writes, in brackets `[Nov 22 10:00:01]`, after a year `2015 Nov 22 …`);
//! - BusyBox syslogd and OpenWrt/Alpine `logread`: a `facility.level` token before the tag,
//!   ctime dates with weekday and year (`Sun Dec  6 10:00:01 2026 auth.info sshd[1]: msg`);
//! - ISO 8601 in the same position, with or without a zone (RFC 3339 of Debian 12+ rsyslog and
//!   syslog-ng, rsyslog's high precision without a zone, `journalctl -o short-iso`,
//!   `short-iso-precise`, `short-full`, `2026-12-06 10:00:01,123`, `… 14:55:10 UTC`);
//!   `journalctl -o short-unix` seconds;
//! - RFC 5424 `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`;
//! - socklog/svlogd: a TAI64N (`@4000…`) or `YYYY-MM-DD_hh:mm:ss.f` prefix, `facility.level:`,
//!   then the syslog line as the program sent it;
//! - no timestamp at all (`host prog[pid]: msg`, journalctl's short output);
//! - `journalctl -o json` lines (see [`crate::journal`]).
//!
//! Tags: `prog[pid]:`, `prog:`, `[prog]`, `prog(pam_unix)[pid]:`; after a timestamp also
//! without the colon when the tag cannot be a word of a message (`prog[pid]`, `prog(x)`,
//! `[prog]`, `[prog][pid]`, starting in lower case), then Solaris' `[ID n fac.level]`.
//! `kernel: [  970.699396]` loses its uptime; a Linux-VServer guest's tag after it
//! (`@vserver_x prog[pid]`) is the program that wrote it.
//!
//! The common shape is framed in one pass ([`plain_header`]); every other shape is tried only
//! after it fails. A new shape frames a line only when it also finds a program; otherwise the
//! line is left whole for the program-less formats (`decoders::unframed`).

use std::borrow::Cow;

use logward_core::Timestamp;

use crate::clock::{bsd_fields, parse_iso, parse_tai64n, Civil, YearResolver};
use crate::journal;
use crate::text::FastFind;

/// A framed line: the header fields and the message. Borrowed from the line except where
/// the journal's JSON escapes had to be undone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame<'a> {
    pub timestamp: Option<Timestamp>,
    pub host: Option<Cow<'a, str>>,
    /// The syslog tag's program (`sshd`, `sshd-session`, `sudo` …) as written.
    pub program: Option<Cow<'a, str>>,
    pub pid: Option<u32>,
    pub message: Cow<'a, str>,
    pub severity: Option<u8>,
    pub facility: Option<u8>,
    /// Journal entries only: `_SYSTEMD_UNIT` and the remaining fields.
    pub unit: Option<Cow<'a, str>>,
    pub journald: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Journal entries only: the `SYSLOG_IDENTIFIER` the journal's own fields contradict
    /// (`program` is then what the journal says wrote the entry, or none).
    pub claimed_program: Option<Cow<'a, str>>,
}

/// What a line could not be framed as: the whole line becomes the message.
fn bare(line: &str) -> Frame<'_> {
    Frame {
        message: Cow::Borrowed(line),
        ..Frame::default()
    }
}

/// Frames one line (no trailing newline). Never fails: an unrecognised header leaves the whole
/// line as the message.
#[inline]
pub fn frame<'a>(line: &'a str, years: &mut YearResolver) -> Frame<'a> {
    frame_at(line, years, true)
}

/// [`frame`]; `outer` is false for a line inside another's header (after `<PRI>` or a
/// socklog priority), which may not nest another such prefix: the depth stays bounded.
fn frame_at<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Frame<'a> {
    let b = line.as_bytes();
    match b.first() {
        Some(b'{') if outer => journal::frame(line).unwrap_or_else(|| bare(line)),
        Some(b'<') if outer => frame_pri(line, years),
        Some(c) if c.is_ascii_digit() => match Timestamp::parse_rfc3339(b) {
            Some((ts, used)) => header(line, used, Some(ts), years, true, outer),
            None => numeric_date(line, years, outer).unwrap_or_else(|| bare(line)),
        },
        Some(c) if c.is_ascii_uppercase() => match years.parse_bsd(b) {
            Some((ts, used)) => header(line, used, Some(ts), years, true, outer),
            None => match impossible_bsd_date(b) {
                // `Feb 29` in a year that has none: no time, but the header still frames.
                Some(used) => header(line, used, None, years, true, outer),
                None => weekday_date(line, years, outer)
                    .unwrap_or_else(|| header(line, 0, None, years, false, outer)),
            },
        },
        Some(b'@') if outer => tai64n_prefix(line, years),
        Some(b'[') => bracketed_date(line, years, outer)
            .unwrap_or_else(|| header(line, 0, None, years, false, outer)),
        Some(_) => header(line, 0, None, years, false, outer),
        None => bare(line),
    }
}

/// The length of a BSD timestamp whose date the input's year does not have (`Feb 29`, or a
/// day past its month's end): its
/// fields are well formed, only the calendar refused it. Only lines whose timestamp failed
/// pay for it.
#[cold]
fn impossible_bsd_date(b: &[u8]) -> Option<usize> {
    bsd_fields(b).map(|d| d.used)
}

/// A frame of a new shape counts only when it found a program.
fn with_program(f: Frame<'_>) -> Option<Frame<'_>> {
    f.program.is_some().then_some(f)
}

/// Lines starting with a digit that are not RFC 3339: ISO 8601 without a zone or with a
/// zone word, svlogd's `_` form, `YYYY Mmm dd hh:mm:ss`, Unix seconds.
fn numeric_date<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    if let Some((civil, offset, used)) = parse_iso(b) {
        return iso_date(line, years, civil, offset, used, outer);
    }
    if b.get(4) == Some(&b' ') {
        return year_first(line, years, outer);
    }
    unix_seconds(line, years, outer)
}

/// After an ISO 8601 date: a zone word (`UTC`, `GMT`), or svlogd's UTC prefix (`_`
/// separator, or a socklog `facility.level:` next), else the input's zone.
fn iso_date<'a>(
    line: &'a str,
    years: &mut YearResolver,
    civil: Civil,
    mut offset: Option<i32>,
    mut used: usize,
    outer: bool,
) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    // A header's time ends at a space (`2019-10-21 18:55:15|-1|…` is a service's own format).
    if !matches!(b.get(used), Some(b' ') | None) {
        return None;
    }
    let zoned = offset.is_some();
    if offset.is_none() {
        let rest = &b[used..];
        if rest.starts_with(b" UTC ") || rest.starts_with(b" GMT ") {
            offset = Some(0);
            used += 4;
        }
    }
    let svlogd = b.get(10) == Some(&b'_') || socklog_priority(line, used + 1).is_some();
    if svlogd && offset.is_none() {
        // svlogd -tt/-ttt write UTC.
        offset = Some(0);
    }
    // `0000-12-30 00:00:00`: a placeholder some programs print for "no date".
    let timestamp = if civil.date.0 == 0 {
        None
    } else {
        Some(years.resolve(civil, offset)?)
    };
    if svlogd {
        return Some(prefixed(line, used, timestamp, years, outer));
    }
    let f = with_program(header(line, used, timestamp, years, true, outer))?;
    // A space and no zone is how services write their own logs (Exim's `2013-12-30 00:24:50
    // 1VxPit-000MMd-U4 SA: …`, MariaDB, fail2ban): framed as syslog only with a pid.
    let service_like = b.get(10) == Some(&b' ') && !zoned;
    (!service_like || f.pid.is_some()).then_some(f)
}

/// `2015 Nov 13 13:40:01 host …` (syslog-ng templates with `$YEAR`), also with the year twice.
fn year_first<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    let year = four_digits(b)?;
    let mut at = 5;
    if b.get(5..9) == b.get(..4) && b.get(9) == Some(&b' ') {
        at = 10;
    }
    let d = bsd_fields(b.get(at..)?)?;
    let ts = years.wall_clock((year, d.month, d.day), d.time, d.nanos)?;
    with_program(header(line, at + d.used, Some(ts), years, true, outer))
}

fn four_digits(b: &[u8]) -> Option<i32> {
    let d = b.get(..4)?;
    d.iter()
        .all(u8::is_ascii_digit)
        .then(|| d.iter().fold(0i32, |n, &c| n * 10 + i32::from(c - b'0')))
}

/// `journalctl -o short-unix`: `1733479201.123456 host prog[pid]: msg` (UTC).
fn unix_seconds<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(9..=11).contains(&int) || b.get(int) != Some(&b'.') {
        return None;
    }
    let frac = b[int + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=9).contains(&frac) || b.get(int + 1 + frac) != Some(&b' ') {
        return None;
    }
    let unix: i64 = line[..int].parse().ok()?;
    let mut nanos: u32 = line[int + 1..int + 1 + frac].parse().ok()?;
    for _ in frac..9 {
        nanos *= 10;
    }
    let ts = Timestamp {
        unix,
        nanos,
        offset: 0,
    };
    with_program(header(line, int + 1 + frac, Some(ts), years, true, outer))
}

/// `Sun Dec  6 10:00:01 2026 …` (ctime, as OpenWrt's logread prints) or
/// `Sun 2026-12-06 10:00:01 CET …` (`journalctl -o short-full`).
fn weekday_date<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    if !matches!(
        b.get(..4)?,
        b"Mon " | b"Tue " | b"Wed " | b"Thu " | b"Fri " | b"Sat " | b"Sun "
    ) {
        return None;
    }
    let rest = &b[4..];
    let (ts, mut at) = if let Some(d) = bsd_fields(rest) {
        let at = 4 + d.used;
        if b.get(at) != Some(&b' ') {
            return None;
        }
        let year = four_digits(b.get(at + 1..)?)?;
        (
            years.wall_clock((year, d.month, d.day), d.time, d.nanos)?,
            at + 5,
        )
    } else {
        let (civil, mut offset, used) = parse_iso(rest)?;
        let mut at = 4 + used;
        // The zone journalctl names: an abbreviation (`CET`, `UTC`) or `+03`.
        if offset.is_none() && b.get(at) == Some(&b' ') {
            let end = token_end(b, at + 1);
            let zone = &line[at + 1..end];
            if (1..=5).contains(&zone.len()) && zone.bytes().all(|c| c.is_ascii_uppercase()) {
                if matches!(zone, "UTC" | "GMT" | "UT" | "Z") {
                    offset = Some(0);
                }
                at = end;
            } else if let Some(o) = zone_offset(zone) {
                offset = Some(o);
                at = end;
            }
        }
        (years.resolve(civil, offset)?, at)
    };
    if let Some((fac, sev, next)) = priority_token(line, at + 1) {
        // logread without a host name: `… 2026 auth.info sshd[1]: msg`.
        let mut f = with_program(header(line, next, Some(ts), years, true, outer))?;
        if f.host.is_none() {
            f.facility = Some(fac);
            f.severity = Some(sev);
            return Some(f);
        }
    }
    at = at.min(line.len());
    with_program(header(line, at, Some(ts), years, true, outer))
}

/// `[Jun 21 16:55:03] …`, or `journalctl -o short-monotonic`'s `[  970.699396] host …` (no
/// wall-clock time).
fn bracketed_date<'a>(line: &'a str, years: &mut YearResolver, outer: bool) -> Option<Frame<'a>> {
    let b = line.as_bytes();
    if matches!(b.get(1), Some(b' ' | b'0'..=b'9')) {
        let rest = strip_uptime(line)?;
        let at = line.len() - rest.len();
        return with_program(header(line, at, None, years, false, outer));
    }
    let (ts, used) = years.parse_bsd(&b[1..])?;
    if b.get(1 + used) != Some(&b']') {
        return None;
    }
    with_program(header(line, used + 2, Some(ts), years, true, outer))
}

/// `@4000000063f1c0a81b2e3a2c …` (daemontools/runit TAI64N).
fn tai64n_prefix<'a>(line: &'a str, years: &mut YearResolver) -> Frame<'a> {
    let b = line.as_bytes();
    match parse_tai64n(b) {
        Some(ts) if b.get(25) == Some(&b' ') => prefixed(line, 25, Some(ts), years, true),
        _ => header(line, 0, None, years, false, true),
    }
}

/// What follows an svlogd timestamp: a socklog line (`auth.info: …`), a tagged line, or a
/// service's own output (the rest is the message).
fn prefixed<'a>(
    line: &'a str,
    at: usize,
    timestamp: Option<Timestamp>,
    years: &mut YearResolver,
    outer: bool,
) -> Frame<'a> {
    let f = header(line, at, timestamp, years, true, outer);
    if f.program.is_some() || f.facility.is_some() {
        return f;
    }
    Frame {
        timestamp,
        message: Cow::Borrowed(message_at(line, at)),
        ..Frame::default()
    }
}

/// `+03`, `-0130`, `+05:30` as a whole token.
fn zone_offset(z: &str) -> Option<i32> {
    let b = z.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<u8> = b[1..].iter().copied().filter(|&c| c != b':').collect();
    if !matches!(digits.len(), 2 | 4) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |i: usize| i32::from(digits[i] - b'0') * 10 + i32::from(digits[i + 1] - b'0');
    let (h, m) = (n(0), if digits.len() == 4 { n(2) } else { 0 });
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// A line starting with `<PRI>`: RFC 5424 when a version digit follows, else a BSD line with
/// a priority prefix.
fn frame_pri<'a>(line: &'a str, years: &mut YearResolver) -> Frame<'a> {
    let b = line.as_bytes();
    let Some(close) = b.iter().take(5).position(|&c| c == b'>') else {
        return bare(line);
    };
    let pri: Option<u8> = line[1..close].parse().ok().filter(|&p: &u8| p <= 191);
    let Some(pri) = pri else {
        return bare(line);
    };
    let rest = &line[close + 1..];
    let mut f = if rest.starts_with("1 ") {
        rfc5424(line, close + 3).unwrap_or_else(|| bare(line))
    } else {
        let inner = frame_at(rest, years, false);
        if inner.timestamp.is_none() && inner.program.is_none() {
            bare(line)
        } else {
            inner
        }
    };
    f.facility = Some(pri / 8);
    f.severity = Some(pri % 8);
    f
}

/// RFC 5424 after `<PRI>1 `: `TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
fn rfc5424(line: &str, start: usize) -> Option<Frame<'_>> {
    let mut fields = Fields { s: line, at: start };
    let ts_text = fields.next()?;
    let timestamp = if ts_text == "-" {
        None
    } else {
        Some(Timestamp::parse_rfc3339(ts_text.as_bytes())?.0)
    };
    fn nil(s: &str) -> Option<&str> {
        (s != "-").then_some(s)
    }
    let host = nil(fields.next()?);
    let app = nil(fields.next()?);
    let procid = nil(fields.next()?);
    let _msgid = fields.next()?;
    let rest = &line[fields.at.min(line.len())..];
    let msg = skip_structured_data(rest)?;
    Some(Frame {
        timestamp,
        host: host.map(Cow::Borrowed),
        program: app.map(Cow::Borrowed),
        pid: procid.and_then(|p| p.parse().ok()),
        message: Cow::Borrowed(msg.strip_prefix('\u{feff}').unwrap_or(msg)),
        ..Frame::default()
    })
}

/// Space-separated header fields.
struct Fields<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.s.get(self.at..)?;
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(' ').unwrap_or(rest.len());
        self.at += end + 1;
        Some(&rest[..end])
    }
}

/// Skips RFC 5424 structured data (`-` or `[id k="v"]…`, `]` allowed inside quotes) and
/// returns the message.
fn skip_structured_data(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some(rest.strip_prefix(' ').unwrap_or(rest));
    }
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut in_quote = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b']' if !in_quote => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let rest = &s[i.min(s.len())..];
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// The common shape, `host prog[pid]: msg` or `host prog: msg`, in one pass; anything else
/// (no host, `[prog]`, markers, odd spacing) is left to the general path in [`header`],
/// which accepts the same lines and more.
fn plain_header(line: &str, at: usize, timestamp: Option<Timestamp>) -> Option<Frame<'_>> {
    let b = line.as_bytes();
    let host_start = at;
    let mut i = at;
    while i < b.len() && b[i] != b' ' {
        i += 1;
    }
    if i == host_start || i >= b.len() || matches!(b[host_start], b'[' | b'<') || b[i - 1] == b':' {
        return None;
    }
    let host = &line[host_start..i];
    i += 1;
    let prog_start = i;
    while i < b.len() && PROGRAM_BYTE[b[i] as usize] {
        i += 1;
    }
    if i == prog_start || i - prog_start > 64 {
        return None;
    }
    let program = &line[prog_start..i];
    let mut pid = None;
    if b.get(i) == Some(&b'[') {
        let digits = i + 1;
        let mut j = digits;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        pid = Some(parse_pid(&b[digits..j])?);
        if b.get(j) != Some(&b']') {
            return None;
        }
        i = j + 1;
    }
    if b.get(i) != Some(&b':') || !matches!(b.get(i + 1), None | Some(b' ')) {
        return None;
    }
    let mut program = program;
    let mut message = message_at(line, i + 1);
    // One byte test keeps the kernel's uptime off every other line's path.
    if message.as_bytes().first() == Some(&b'[') {
        kernel_tag(&mut program, &mut pid, &mut message);
    }
    Some(Frame {
        timestamp,
        host: Some(Cow::Borrowed(host)),
        program: Some(Cow::Borrowed(program)),
        pid,
        message: Cow::Borrowed(message),
        ..Frame::default()
    })
}

/// The part after the timestamp: `[<fac.pri>] [host] [fac.level] tag: message`, or socklog's
/// `fac.level: <inner line>`. `loose`: a timestamp was found, so a tag may lack its colon;
/// `outer`: a socklog line may nest here.
fn header<'a>(
    line: &'a str,
    mut at: usize,
    timestamp: Option<Timestamp>,
    years: &mut YearResolver,
    loose: bool,
    outer: bool,
) -> Frame<'a> {
    let b = line.as_bytes();
    at = at.min(b.len());
    while b.get(at) == Some(&b' ') {
        at += 1;
    }
    if let Some(f) = plain_header(line, at, timestamp) {
        return f;
    }
    let mut f = Frame {
        timestamp,
        ..Frame::default()
    };
    // BSD syslogd -v / -vv marker: `<4.3>` or `<auth.info>`.
    if b.get(at) == Some(&b'<') {
        if let Some(len) = line[at..].ffind("> ") {
            let marker = &line[at + 1..at + len];
            if let Some((fac, pri)) = marker.split_once('.') {
                f.facility = fac.parse().ok().or_else(|| facility_code(fac));
                f.severity = pri.parse().ok().or_else(|| severity_code(pri));
            }
            at += len + 2;
            while b.get(at) == Some(&b' ') {
                at += 1;
            }
        }
    }
    // socklog: `auth.info: Dec  6 10:00:01 sshd[1]: msg`, the line as the program sent it.
    if outer {
        if let Some((fac, sev, inner_at)) = socklog_priority(line, at) {
            let inner = &line[inner_at.min(line.len())..];
            let mut inner_frame = frame_at(inner, years, false);
            if inner_frame.timestamp.is_none() && inner_frame.program.is_none() {
                inner_frame = bare(inner);
            }
            // The collector's clock (TAI64N, UTC) beats the sender's zone-less one.
            inner_frame.timestamp = timestamp.or(inner_frame.timestamp);
            inner_frame.facility = Some(fac);
            inner_frame.severity = Some(sev);
            return inner_frame;
        }
    }
    // logread without a host: `auth.info sshd[1]: msg`.
    if loose {
        if let Some((fac, sev, next)) = priority_token(line, at) {
            let end = token_end(b, next);
            if let Some((program, pid, msg_at)) = tag(line, next, end, loose) {
                f.facility = Some(fac);
                f.severity = Some(sev);
                return tagged(line, f, program, pid, msg_at);
            }
        }
    }
    let first_end = token_end(b, at);
    let first = &line[at..first_end];
    if let Some((program, pid, msg_at)) = tag(line, at, first_end, loose) {
        return tagged(line, f, program, pid, msg_at);
    }
    if first.is_empty() {
        f.message = Cow::Borrowed(&line[at.min(line.len())..]);
        return f;
    }
    // `host tag: msg` (extra spaces after the host are tolerated)
    let mut second_start = (first_end + 1).min(line.len());
    while b.get(second_start) == Some(&b' ') {
        second_start += 1;
    }
    let after_host = second_start;
    // BusyBox: `host auth.info sshd[1]: msg`.
    if loose {
        if let Some((fac, sev, next)) = priority_token(line, second_start) {
            f.facility = Some(fac);
            f.severity = Some(sev);
            second_start = next;
        }
    }
    let mut second_end = token_end(b, second_start);
    // login(1) on old sysvinit systems logs under its process title `-- user[pid]:`.
    let mut login_title = false;
    if &line[second_start..second_end] == "--" {
        login_title = true;
        second_start = (second_end + 1).min(line.len());
        second_end = token_end(b, second_start);
    }
    // A host is a name: a number there is a counter or thread id (MariaDB's
    // `2026-12-06 10:00:01 0 [Warning] …`), and what follows is no tag.
    let host_ok = !first.bytes().all(|c| c.is_ascii_digit());
    if let Some((program, pid, msg_at)) = tag(line, second_start, second_end, loose && host_ok) {
        f.host = Some(Cow::Borrowed(first));
        let program = if login_title { "login" } else { program };
        return tagged(line, f, program, pid, msg_at);
    }
    if timestamp.is_some() && !host_ok {
        // No host: what follows the time is the message.
        f.message = Cow::Borrowed(&line[at..]);
    } else if timestamp.is_some() {
        // A host but no recognisable tag: keep the host, the rest is the message.
        f.host = Some(Cow::Borrowed(first));
        let from = if f.facility.is_some() {
            second_start.min(line.len())
        } else {
            after_host
        };
        f.message = Cow::Borrowed(&line[from..]);
    } else {
        f.message = Cow::Borrowed(line);
    }
    f
}

/// Finishes a frame whose tag was found: Solaris' `[ID n fac.level]` after a colonless tag
/// (fail2ban's `__daemon_extra_re`), the kernel's uptime.
fn tagged<'a>(
    line: &'a str,
    mut f: Frame<'a>,
    mut program: &'a str,
    mut pid: Option<u32>,
    msg_at: usize,
) -> Frame<'a> {
    let msg = message_at(line, msg_at);
    let colonless = msg_at > 0 && line.as_bytes().get(msg_at - 1) != Some(&b':');
    let mut message = if colonless {
        strip_solaris_id(msg)
    } else {
        msg
    };
    if message.as_bytes().first() == Some(&b'[') {
        kernel_tag(&mut program, &mut pid, &mut message);
    }
    f.program = Some(Cow::Borrowed(program));
    f.pid = pid;
    f.message = Cow::Borrowed(message);
    f
}

/// `[ID 255 auth.info] msg` → `msg`.
fn strip_solaris_id(msg: &str) -> &str {
    let Some(rest) = msg.strip_prefix("[ID ") else {
        return msg;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.as_bytes().get(digits) != Some(&b' ') {
        return msg;
    }
    match rest[digits + 1..].find(']') {
        Some(close) if !rest[digits + 1..digits + 1 + close].contains(' ') => {
            rest[digits + 2 + close..].trim_start_matches(' ')
        }
        _ => msg,
    }
}

/// `kernel: [  970.699396] msg` → `msg`; when a Linux-VServer guest's marker and a tag follow
/// (`@vserver_x prog(pam_unix)[pid] …`, as fail2ban's `__kernel_prefix` allows), that program
/// wrote it. Without the marker the kernel wrote it: `sshd[42]: segfault at 0 …` names a
/// process any user can call `sshd`, and `audit:` is a subsystem.
/// Works on the parts, not a built [`Frame`], so the hot path never moves one.
#[cold]
fn kernel_tag<'a>(program: &mut &'a str, pid: &mut Option<u32>, message: &mut &'a str) {
    if *program != "kernel" {
        return;
    }
    let Some(rest) = strip_uptime(message) else {
        return;
    };
    *message = rest;
    let Some(v) = rest.strip_prefix("@vserver_") else {
        return;
    };
    let r = v
        .split_once(' ')
        .map_or("", |(_, after)| after)
        .trim_start_matches(' ');
    let end = token_end(r.as_bytes(), 0);
    if let Some((inner, inner_pid, msg_at)) = tag(r, 0, end, true) {
        *program = inner;
        *pid = inner_pid;
        let msg = message_at(r, msg_at);
        let colonless = r.as_bytes().get(msg_at - 1) != Some(&b':');
        *message = if colonless {
            strip_solaris_id(msg)
        } else {
            msg
        };
    }
}

/// `[  970.699396]` or `[  970.699396]:` and the spaces after it.
fn strip_uptime(msg: &str) -> Option<&str> {
    let inner = msg.strip_prefix('[')?;
    let close = inner.find(']')?;
    let (secs, frac) = inner[..close].trim_start_matches(' ').split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(secs) || !digits(frac) {
        return None;
    }
    let rest = &inner[close + 1..];
    Some(
        rest.strip_prefix(':')
            .unwrap_or(rest)
            .trim_start_matches(' '),
    )
}

/// A `facility.level` token (BusyBox, logread) at `at`, followed by a space: the codes and
/// where the next token starts.
fn priority_token(line: &str, at: usize) -> Option<(u8, u8, usize)> {
    let b = line.as_bytes();
    let end = token_end(b, at);
    let (fac, sev) = fac_level(line.get(at..end)?)?;
    if b.get(end) != Some(&b' ') {
        return None;
    }
    let mut next = end + 1;
    while b.get(next) == Some(&b' ') {
        next += 1;
    }
    Some((fac, sev, next))
}

/// socklog's `facility.level: ` at `at`: the codes and where the inner line starts.
fn socklog_priority(line: &str, at: usize) -> Option<(u8, u8, usize)> {
    let b = line.as_bytes();
    let end = token_end(b, at);
    let (fac, sev) = fac_level(line.get(at..end)?.strip_suffix(':')?)?;
    Some((fac, sev, end + 1))
}

fn fac_level(token: &str) -> Option<(u8, u8)> {
    let (fac, level) = token.split_once('.')?;
    Some((facility_code(fac)?, severity_code(level)?))
}

/// syslog(3) facility names, as BusyBox and socklog print them.
fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// syslog(3) level names.
fn severity_code(name: &str) -> Option<u8> {
    Some(match name {
        "emerg" | "panic" => 0,
        "alert" => 1,
        "crit" => 2,
        "err" | "error" => 3,
        "warn" | "warning" => 4,
        "notice" => 5,
        "info" => 6,
        "debug" => 7,
        _ => return None,
    })
}

/// End of the space-delimited token at `at`. Header tokens are short, so a plain loop that
/// stops at the first space beats a vector search over the rest of the line.
fn token_end(b: &[u8], at: usize) -> usize {
    let at = at.min(b.len());
    b[at..]
        .iter()
        .position(|&c| c == b' ')
        .map_or(b.len(), |p| at + p)
}

/// The message starts after the tag and its one space; extra padding (sudo's `sudo:   user`)
/// is trimmed.
fn message_at(line: &str, at: usize) -> &str {
    line.get(at..).unwrap_or("").trim_start_matches(' ')
}

/// Recognises a syslog tag token `line[start..end]`: `prog:`, `prog[pid]:`, `[prog]:`,
/// `[prog]`, `[prog][pid]` and `prog(pam_unix)[pid]:`; when `loose` (after a timestamp) also
/// `prog[pid]`, `prog(module)` and `prog(module)[pid]` without the colon. A colonless tag must
/// start in lower case (`[Warning]` is a word of a message). Returns program, pid and where
/// the message starts.
fn tag(line: &str, start: usize, end: usize, loose: bool) -> Option<(&str, Option<u32>, usize)> {
    let t = line.get(start..end)?;
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    let (t, colon) = match t.strip_suffix(':') {
        Some(t) => (t, true),
        None => (t, false),
    };
    let lower_first = |p: &str| p.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    // `[sshd]:` / `[sshd]` / `[sshd][123]` (old BSD syslogd, fail2ban samples).
    if let Some(inner) = t.strip_prefix('[') {
        let close = inner.find(']')?;
        let prog = &inner[..close];
        let after = &inner[close + 1..];
        let pid = if after.is_empty() {
            None
        } else {
            Some(parse_pid(
                after.strip_prefix('[')?.strip_suffix(']')?.as_bytes(),
            )?)
        };
        let colonless_ok = pid.is_none() || loose;
        // `[1234]:` is a pid (fail2ban's own log), not a program.
        let named = !prog.bytes().all(|c| c.is_ascii_digit());
        let ok = valid_program(prog) && named && (colon || (colonless_ok && lower_first(prog)));
        return ok.then_some((prog, pid, end));
    }
    if !colon && !loose {
        return None;
    }
    let (prog, pid) = match t.strip_suffix(']') {
        Some(head) => {
            let open = head.bytes().rposition(|c| c == b'[')?;
            (
                &head[..open],
                Some(parse_pid(&head.as_bytes()[open + 1..])?),
            )
        }
        None => (t, None),
    };
    if !colon && !(lower_first(prog) && (pid.is_some() || module_form(prog))) {
        return None;
    }
    valid_program(prog).then_some((prog, pid, end))
}

/// `prog(module)`: PAM's old tag form.
fn module_form(p: &str) -> bool {
    p.ends_with(')')
        && p.find('(')
            .is_some_and(|open| open > 0 && open + 2 < p.len())
}

/// A decimal pid: 1–10 digits that fit a u32.
fn parse_pid(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    u32::try_from(n).ok()
}

/// Bytes a syslog tag's program name may hold (a table: this runs on every line).
const PROGRAM_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'/' | b'(' | b')' | b'@');
        c += 1;
    }
    t
};

fn valid_program(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|c| PROGRAM_BYTE[c as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::YearResolver;

    fn f(line: &str) -> Frame<'_> {
        frame(line, &mut YearResolver::fixed(2026, 0))
    }

    #[test]
    fn bsd_with_host_and_pid() {
        let x = f("Nov 22 10:00:01 web01 sshd[123]: Failed password for root");
        assert_eq!(x.timestamp.unwrap().to_string(), "2026-11-22T10:00:01Z");
        assert_eq!(x.host.as_deref(), Some("web01"));
        assert_eq!(x.program.as_deref(), Some("sshd"));
        assert_eq!(x.pid, Some(123));
        assert_eq!(x.message, "Failed password for root");
    }

    #[test]
    fn bsd_without_host_and_odd_tags() {
        let x = f("Nov 23 21:50:19 sshd[8148]: Disconnecting: Too many");
        assert_eq!(
            (x.host, x.program.as_deref(), x.pid),
            (None, Some("sshd"), Some(8148))
        );
        let x = f("Mar  3 00:17:22 [sshd]: User root from 1.2.3.4 not allowed");
        assert_eq!(x.program.as_deref(), Some("sshd"));
        assert_eq!(x.message, "User root from 1.2.3.4 not allowed");
        let x = f("Jun 25 23:53:34 [sshd] User root from 1.2.3.4 not allowed");
        assert_eq!(x.program.as_deref(), Some("sshd"));
        let x = f("Feb  7 15:10:42 example pure-ftpd: (pam_unix) authentication failure;");
        assert_eq!(
            (x.host.as_deref(), x.program.as_deref()),
            (Some("example"), Some("pure-ftpd"))
        );
        let x = f("Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers");
        assert_eq!(x.message, "tsg : user NOT in sudoers");
        let x = f("Nov 25 17:12:13 webmail pop(pam_unix)[4920]: authentication failure;");
        assert_eq!(x.program.as_deref(), Some("pop(pam_unix)"));
        let x = f("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2");
        assert_eq!(
            (x.host.as_deref(), x.program.as_deref()),
            (Some("combo"), Some("login"))
        );
        assert_eq!(
            (x.pid, x.message.as_ref()),
            (Some(2421), "ROOT LOGIN ON tty2")
        );
        let x = f("Apr  2 17:51:27 <4.3> pancake sshd[55624]: error: PAM: x");
        assert_eq!(
            (x.facility, x.severity, x.host.as_deref()),
            (Some(4), Some(3), Some("pancake"))
        );
    }

    #[test]
    fn rfc3339_and_no_timestamp() {
        let x = f("2026-11-22T10:00:01.123456+01:00 host sshd-session[9]: Accepted");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-11-22T10:00:01.123456+01:00"
        );
        assert_eq!(x.program.as_deref(), Some("sshd-session"));
        let x = f("srv sshd[13709]: error: PAM: Authentication failure");
        assert_eq!(
            (x.timestamp, x.host.as_deref(), x.pid),
            (None, Some("srv"), Some(13709))
        );
    }

    #[test]
    fn rfc5424() {
        let x = f("<38>1 2019-07-08T17:40:17.954167-04:00 h.example.com sshd 55555 - [timeQuality tzKnown=\"1\"][x@1 t=\"[b]\"] Failed unknown");
        assert_eq!(x.host.as_deref(), Some("h.example.com"));
        assert_eq!((x.program.as_deref(), x.pid), (Some("sshd"), Some(55555)));
        assert_eq!(x.message, "Failed unknown");
        assert_eq!((x.facility, x.severity), (Some(4), Some(6)));
        let x = f("<38>1 2019-07-08T17:40:16.954167-04:00 h sshd 57915 - - Failed x");
        assert_eq!(x.message, "Failed x");
    }

    /// (host, program, pid, message) of a frame.
    fn hpm<'a>(x: &'a Frame<'a>) -> (Option<&'a str>, Option<&'a str>, Option<u32>, &'a str) {
        (
            x.host.as_deref(),
            x.program.as_deref(),
            x.pid,
            x.message.as_ref(),
        )
    }

    #[test]
    fn busybox_and_logread() {
        // BusyBox syslogd's default: `facility.level` between host and tag.
        let x = f("Dec  6 10:00:01 router auth.info sshd[123]: Failed password for root");
        assert_eq!(
            hpm(&x),
            (
                Some("router"),
                Some("sshd"),
                Some(123),
                "Failed password for root"
            )
        );
        assert_eq!((x.facility, x.severity), (Some(4), Some(6)));
        let x = f("Dec  6 10:00:01 router authpriv.notice dropbear[9]: Bad password attempt");
        assert_eq!((x.facility, x.severity), (Some(10), Some(5)));
        assert_eq!(x.program.as_deref(), Some("dropbear"));
        // BusyBox -S (small): no host, no priority.
        let x = f("Dec  6 10:00:01 sshd[123]: Failed password");
        assert_eq!(hpm(&x), (None, Some("sshd"), Some(123), "Failed password"));
        // OpenWrt logread: ctime with weekday and year, no host or with one.
        let x = f("Sun Dec  6 10:00:01 2026 auth.info sshd[123]: Failed password");
        assert_eq!(x.timestamp.unwrap().to_string(), "2026-12-06T10:00:01Z");
        assert_eq!(hpm(&x), (None, Some("sshd"), Some(123), "Failed password"));
        assert_eq!((x.facility, x.severity), (Some(4), Some(6)));
        let x =
            f("Sat Jan  2 03:04:05 2027 gw authpriv.warn dropbear[77]: Bad PAM password attempt");
        assert_eq!(x.timestamp.unwrap().to_string(), "2027-01-02T03:04:05Z");
        assert_eq!(hpm(&x).0, Some("gw"));
        assert_eq!((x.facility, x.severity), (Some(10), Some(4)));
        let x = f("Sun Dec  6 10:00:01 2026 kern.warn kernel: [  12.345678] br-lan: port 1");
        assert_eq!(hpm(&x), (None, Some("kernel"), None, "br-lan: port 1"));
        // A BusyBox line without a tag keeps host and priority.
        let x = f("Dec  6 10:00:01 router user.notice hello world");
        assert_eq!(hpm(&x), (Some("router"), None, None, "hello world"));
        assert_eq!(x.facility, Some(1));
    }

    #[test]
    fn iso_forms() {
        let mut y = YearResolver::fixed(2026, 3600);
        // rsyslog high precision without a zone: the input's zone.
        let x = frame("2026-12-06T10:00:01.123456 host sshd[5]: Failed", &mut y);
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T10:00:01.123456+01:00"
        );
        assert_eq!(hpm(&x), (Some("host"), Some("sshd"), Some(5), "Failed"));
        // journalctl -o short-iso / short-iso-precise.
        let x = f("2026-12-06T10:00:01+0100 host sshd[5]: Failed");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T10:00:01+01:00"
        );
        let x = f("2026-12-06T10:00:01.123456+0100 host sshd[5]: Failed");
        assert_eq!(x.timestamp.unwrap().unix, 1_796_547_601);
        // short-full: weekday, space, zone name.
        let x = frame("Sun 2026-12-06 10:00:01 CET host sshd[5]: Failed", &mut y);
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T10:00:01+01:00"
        );
        assert_eq!(hpm(&x), (Some("host"), Some("sshd"), Some(5), "Failed"));
        let x = f("Sun 2026-12-06 09:00:01 UTC host sshd[5]: Failed");
        assert_eq!(x.timestamp.unwrap().unix, 1_796_547_601);
        let x = f("Sun 2026-12-06 12:00:01 +03 host sshd[5]: Failed");
        assert_eq!(x.timestamp.unwrap().unix, 1_796_547_601);
        // short-precise is BSD with a fraction.
        let x = f("Dec 06 09:00:01.123456 host sshd[5]: Failed");
        assert_eq!(x.timestamp.unwrap().nanos, 123_456_000);
        assert_eq!(hpm(&x).1, Some("sshd"));
        // short-unix.
        let x = f("1796547601.123456 host sshd[5]: Failed");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T09:00:01.123456Z"
        );
        assert_eq!(hpm(&x), (Some("host"), Some("sshd"), Some(5), "Failed"));
        // A space, a comma fraction, a zone word.
        let x = f("2026-12-06 09:00:01,123 host sshd[5]: Failed");
        assert_eq!(x.timestamp.unwrap().nanos, 123_000_000);
        let x = frame("2005-06-21 14:55:10 UTC machine sshd[1]: x", &mut y);
        assert_eq!(x.timestamp.unwrap().to_string(), "2005-06-21T14:55:10Z");
        // `0000-12-30`: a placeholder date frames without a time.
        let x = f("0000-12-30 00:00:00 server test-demo[47831]:  F2B: failure");
        assert_eq!(x.timestamp, None);
        assert_eq!(
            hpm(&x),
            (
                Some("server"),
                Some("test-demo"),
                Some(47831),
                "F2B: failure"
            )
        );
        // A year first (syslog-ng `$YEAR $DATE`), also twice.
        let x = f("2015 2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock begins");
        assert_eq!(x.timestamp.unwrap().to_string(), "2015-11-13T13:40:01Z");
        assert_eq!(hpm(&x).1, Some("rsyslogd-2177"));
        let x = f("2015 Nov 13 13:40:01 ether sshd[1]: x");
        assert_eq!(x.timestamp.unwrap().to_string(), "2015-11-13T13:40:01Z");
    }

    #[test]
    fn program_less_lines_stay_whole() {
        // Service formats that start with a date: the unframed decoders get the whole line.
        for line in [
            "2026-12-06 10:00:01 0 [Warning] Access denied for user 'root'@'localhost'",
            "2026/12/06 10:00:01 [error] 123#0: *1 user \"x\" was not found",
            "2026-12-06 10:00:01,123 WARN some java logger text",
            "192.0.2.1 - - [06/Dec/2026:10:00:01 +0100] \"GET / HTTP/1.1\" 200 1",
            "[Sun Dec 06 10:00:01.123456 2026] [auth_basic:error] [pid 1] [client 192.0.2.1:5] AH01618: user x not found",
            "1796547601.5 no tag here",
            "2026-12-06 10:00:01,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1",
            "2026-12-06 10:00:01.123 +01:00 [WRN] Failed login attempt",
            "2026-12-06 10:00:01.123 [WARN ] [org.openhab.core] - x",
            "2019-10-21 18:55:15|-1|0|0|[WEB] [50.97.225.132] Authentication failed",
            "2019-10-21 18:55:15 [WEB] [50.97.225.132] Authentication failed",
            "2013-12-30 00:24:50 1VxPit-000MMd-U4 SA: Action: flagged as Spam but accepted",
        ] {
            let x = f(line);
            assert_eq!((x.program.as_deref(), x.message.as_ref()), (None, line), "{line}");
        }
        // MySQL 8 writes RFC 3339: the time is taken, `0` is no host, `[Warning]` no program.
        let x = f("2026-12-06T10:00:01.123456Z 0 [Warning] [MY-010055] [Server] x");
        assert_eq!(
            hpm(&x),
            (None, None, None, "0 [Warning] [MY-010055] [Server] x")
        );
        assert!(x.timestamp.is_some());
        // syslog-ng's and rsyslog's mark.
        let x = f("Dec  6 10:00:01 host -- MARK --");
        assert_eq!(hpm(&x), (Some("host"), None, None, "-- MARK --"));
    }

    #[test]
    fn short_monotonic() {
        let x = f("[  970.699396] host sshd[5]: Failed password");
        assert_eq!(
            hpm(&x),
            (Some("host"), Some("sshd"), Some(5), "Failed password")
        );
        assert_eq!(x.timestamp, None);
        let x = f("[  970.699396] no tag here");
        assert_eq!(
            (x.program, x.message.as_ref()),
            (None, "[  970.699396] no tag here")
        );
    }

    #[test]
    fn colonless_tags() {
        let x = f("Dec  6 10:00:01 host sshd[123] Failed password for root");
        assert_eq!(
            hpm(&x),
            (
                Some("host"),
                Some("sshd"),
                Some(123),
                "Failed password for root"
            )
        );
        let x = f("Jun 21 16:47:53 machine [test-demo][13709] F2B: failure");
        assert_eq!(
            hpm(&x),
            (
                Some("machine"),
                Some("test-demo"),
                Some(13709),
                "F2B: failure"
            )
        );
        let x = f("Jun 21 16:50:00 machine test-demo(pam_unix) F2B: failure");
        assert_eq!(
            hpm(&x),
            (
                Some("machine"),
                Some("test-demo(pam_unix)"),
                None,
                "F2B: failure"
            )
        );
        // Not a tag: a word, a capitalised bracket, no timestamp.
        let x = f("Dec  6 10:00:01 host Connection closed");
        assert_eq!(hpm(&x), (Some("host"), None, None, "Connection closed"));
        let x = f("Dec  6 10:00:01 host [Note] x");
        assert_eq!(x.program, None);
        let x = f("host sshd[1] Failed password");
        assert_eq!(x.program, None);
    }

    #[test]
    fn kernel_prefix_and_inner_tag() {
        let x = f("Jun 21 16:47:50 machine kernel: [  970.699396] F2B: failure from 192.0.2.2");
        assert_eq!(
            hpm(&x),
            (
                Some("machine"),
                Some("kernel"),
                None,
                "F2B: failure from 192.0.2.2"
            )
        );
        let x = f("Jun 21 16:55:01 <auth.info> machine kernel: [  970.699396] @vserver_demo test-demo(pam_unix)[13709] [ID 255 test] F2B: failure from 192.0.2.3");
        assert_eq!(
            hpm(&x),
            (
                Some("machine"),
                Some("test-demo(pam_unix)"),
                Some(13709),
                "F2B: failure from 192.0.2.3"
            )
        );
        assert_eq!((x.facility, x.severity), (Some(4), Some(6)));
        // A kernel subsystem's prefix, a process the kernel names: the kernel's message.
        let x = f("Dec  6 10:00:01 h kernel: [ 5.1] sshd[42]: segfault at 0 ip 0 error 4");
        assert_eq!(
            hpm(&x),
            (
                Some("h"),
                Some("kernel"),
                None,
                "sshd[42]: segfault at 0 ip 0 error 4"
            )
        );
        let x = f("Dec  6 10:00:01 h kernel: [ 5.1] audit: type=1100 audit(1.2:3): x");
        assert_eq!(
            hpm(&x),
            (
                Some("h"),
                Some("kernel"),
                None,
                "audit: type=1100 audit(1.2:3): x"
            )
        );
        let x = f("[Jun 21 16:55:03] <auth.info> machine kernel: [  970.699396] @vserver_demo test-demo(pam_unix)[13709] [ID 255 test] F2B: failure");
        assert_eq!(x.timestamp.unwrap().to_string(), "2026-06-21T16:55:03Z");
        assert_eq!(hpm(&x).1, Some("test-demo(pam_unix)"));
    }

    #[test]
    fn socklog_and_svlogd() {
        let x =
            f("@400000006b15322b075bca00 auth.info: Dec  6 10:00:01 sshd[123]: Failed password");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T10:00:01.123456Z"
        );
        assert_eq!(hpm(&x), (None, Some("sshd"), Some(123), "Failed password"));
        assert_eq!((x.facility, x.severity), (Some(4), Some(6)));
        let x = f("2026-12-06_09:00:01.12345 authpriv.notice: Dec  6 10:00:01 sshd[123]: Failed");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T09:00:01.123450Z"
        );
        assert_eq!(hpm(&x), (None, Some("sshd"), Some(123), "Failed"));
        assert_eq!(x.facility, Some(10));
        // socklog without svlogd timestamps; svlogd -ttt; a service's own output under svlogd.
        let x = f("auth.info: Dec  6 10:00:01 sshd[123]: Failed");
        assert_eq!(x.timestamp.unwrap().to_string(), "2026-12-06T10:00:01Z");
        assert_eq!(hpm(&x), (None, Some("sshd"), Some(123), "Failed"));
        let x = f("2026-12-06T09:00:01.12345 auth.info: sshd[123]: Failed");
        assert_eq!(
            x.timestamp.unwrap().to_string(),
            "2026-12-06T09:00:01.123450Z"
        );
        assert_eq!(hpm(&x).1, Some("sshd"));
        let x = f("@400000006b15322b075bca00 Server listening on 0.0.0.0 port 22.");
        assert_eq!(
            hpm(&x),
            (None, None, None, "Server listening on 0.0.0.0 port 22.")
        );
        assert!(x.timestamp.is_some());
        // Nesting is not followed twice.
        let x = f("auth.info: auth.info: auth.info: x");
        assert_eq!((x.facility, x.message.as_ref()), (Some(4), "auth.info: x"));
        let deep = "<13>".repeat(10_000) + "x";
        let _ = f(&deep);
    }

    #[test]
    fn garbage_is_the_message() {
        for line in [
            "",
            "{",
            "<",
            "<999>x",
            "\u{0}\u{1}",
            "Nov",
            "Nov 99 99:99:99 x",
            "12345",
        ] {
            let x = f(line);
            assert!(x.message.len() <= line.len());
        }
    }
}
