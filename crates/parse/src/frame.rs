//! Framing: splits one log line into its header (time, host, program, pid, priority) and
//! message. Detected per line, so a file may mix formats:
//!
//! - BSD syslog `Nov 22 10:00:01 host prog[pid]: msg` (also without host, with a BSD
//!   `<fac.pri>` marker, with a `<PRI>` prefix);
//! - RFC 3339 timestamps in the same position (Debian 12+ rsyslog);
//! - RFC 5424 `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`;
//! - no timestamp at all (`host prog[pid]: msg`, journalctl's short output);
//! - `journalctl -o json` lines (see [`crate::journal`]).

use std::borrow::Cow;

use logward_core::Timestamp;

use crate::clock::YearResolver;
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
pub fn frame<'a>(line: &'a str, years: &mut YearResolver) -> Frame<'a> {
    let b = line.as_bytes();
    match b.first() {
        Some(b'{') => journal::frame(line).unwrap_or_else(|| bare(line)),
        Some(b'<') => frame_pri(line, years),
        Some(c) if c.is_ascii_digit() => match Timestamp::parse_rfc3339(b) {
            Some((ts, used)) => header(line, used, Some(ts)),
            None => bare(line),
        },
        Some(c) if c.is_ascii_uppercase() => match years.parse_bsd(b) {
            Some((ts, used)) => header(line, used, Some(ts)),
            None => match impossible_bsd_date(b) {
                // `Feb 29` in a year that has none: no time, but the header still frames.
                Some(used) => header(line, used, None),
                None => header(line, 0, None),
            },
        },
        Some(_) => header(line, 0, None),
        None => bare(line),
    }
}

/// The length of a BSD timestamp whose date the input's year does not have (`Feb 29`): it
/// parses in a leap year. Only lines whose timestamp failed pay for it.
#[cold]
fn impossible_bsd_date(b: &[u8]) -> Option<usize> {
    YearResolver::fixed(2024, 0)
        .parse_bsd(b)
        .map(|(_, used)| used)
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
        let inner = frame(rest, years);
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
    Some(Frame {
        timestamp,
        host: Some(Cow::Borrowed(host)),
        program: Some(Cow::Borrowed(program)),
        pid,
        message: Cow::Borrowed(message_at(line, i + 1)),
        ..Frame::default()
    })
}

/// The part after the timestamp: `[<fac.pri>] [host] tag: message`.
fn header(line: &str, mut at: usize, timestamp: Option<Timestamp>) -> Frame<'_> {
    let b = line.as_bytes();
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
                f.facility = fac.parse().ok();
                f.severity = pri.parse().ok();
            }
            at += len + 2;
        }
    }
    let first_end = token_end(b, at);
    let first = &line[at..first_end];
    if let Some((program, pid, msg_at)) = tag(line, at, first_end) {
        f.program = Some(Cow::Borrowed(program));
        f.pid = pid;
        f.message = Cow::Borrowed(message_at(line, msg_at));
        return f;
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
    let mut second_end = token_end(b, second_start);
    // login(1) on old sysvinit systems logs under its process title `-- user[pid]:`.
    let mut login_title = false;
    if &line[second_start..second_end] == "--" {
        login_title = true;
        second_start = (second_end + 1).min(line.len());
        second_end = token_end(b, second_start);
    }
    if let Some((program, pid, msg_at)) = tag(line, second_start, second_end) {
        f.host = Some(Cow::Borrowed(first));
        f.program = Some(Cow::Borrowed(if login_title { "login" } else { program }));
        f.pid = pid;
        f.message = Cow::Borrowed(message_at(line, msg_at));
        return f;
    }
    if timestamp.is_some() {
        // A host but no recognisable tag: keep the host, the rest is the message.
        f.host = Some(Cow::Borrowed(first));
        f.message = Cow::Borrowed(&line[second_start..]);
    } else {
        f.message = Cow::Borrowed(line);
    }
    f
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
/// `[prog]` and `prog(pam_unix)[pid]:`. Returns program, pid and where the message starts.
fn tag(line: &str, start: usize, end: usize) -> Option<(&str, Option<u32>, usize)> {
    let t = line.get(start..end)?;
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    // `[sshd]:` / `[sshd]` (old BSD syslogd, fail2ban samples).
    if let Some(inner) = t.strip_prefix('[') {
        let inner = inner.strip_suffix(':').unwrap_or(inner);
        let prog = inner.strip_suffix(']')?;
        return valid_program(prog).then_some((prog, None, end));
    }
    let t = t.strip_suffix(':')?;
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
    valid_program(prog).then_some((prog, pid, end))
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
