//! Lines no syslog tag introduces, in a service's own format: nginx's and Apache's error logs,
//! combined access logs, MySQL's error log, the JSON lines of MongoDB, GitLab or cowrie, …
//! Each format is recognised by its own header (never by a word an attacker can put in a
//! request), and that header also gives the time and the program the frame could not.
//!
//! Called only for lines the frame found no program in, so syslog lines never pay for it.

use logward_core::{Action, Event, Timestamp};

use super::{cowrie, reset, scan, sshd, web, xrdp, Found};
use crate::clock::YearResolver;

/// What a format decoder reports besides the fields it wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unframed<'a> {
    pub found: Found<'a>,
    /// The format's own time, used when the frame had none.
    pub timestamp: Option<Timestamp>,
    /// The program the format implies (`nginx`, `mysqld`) for `process.name`.
    pub program: Option<&'static str>,
}

/// Decodes a program-less message (the whole line, or what follows a timestamp and host)
/// into `e`, whose decoder fields are unset; `None`, with `e` as it was, when no format knows
/// it.
pub fn decode<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    // By first byte: each format's header shape, cheapest first.
    let found = match message.as_bytes().first()? {
        b'{' => cowrie::decode(message, e).map(|(found, timestamp)| Unframed {
            found,
            timestamp,
            program: Some("cowrie"),
        }),
        b'[' => {
            xrdp_log_line(message, years, e).or_else(|| web::apache::decode_file(message, years, e))
        }
        b'F' | b'A' | b'I' | b'm' => sshd_log_file(message, e),
        _ => None,
    };
    // Web servers' error logs (nginx, lighttpd) and access logs; then the web applications'
    // formats (GitLab's JSON, Vaultwarden's and Monit's brackets, …).
    found
        .or_else(|| web_log_line(message, years, e))
        .or_else(|| super::apps::unframed(message, years, e))
        // Mail services' own files: Exim's main log, Dovecot's log_path, Roundcube's.
        .or_else(|| {
            super::mail::unframed(message, years, e).map(|(found, timestamp, program)| Unframed {
                found,
                timestamp,
                program: Some(program),
            })
        })
        // FTP, database, VoIP, proxy, BIND and fail2ban logs (MySQL, MSSQL, MongoDB, squid, …).
        .or_else(|| super::service_logs::decode(message, years, e))
}

/// nginx's error log (`YYYY/MM/DD hh:mm:ss [`), lighttpd's (`YYYY-MM-DD hh:mm:ss: (`), or
/// an access log (a client address or a virtual host first; Apache's error log, `[Www …`,
/// is tried with the other bracketed formats).
fn web_log_line<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let b = message.as_bytes();
    match (b.first(), b.get(4)) {
        (Some(c), Some(b'/')) if c.is_ascii_digit() => web::nginx::decode_file(message, years, e),
        (Some(c), Some(b'-')) if c.is_ascii_digit() && b.get(19) == Some(&b':') => {
            web::lighttpd::decode_file(message, years, e)
        }
        _ => web::access::decode_file(message, e),
    }
}

/// xrdp-sesman's own log: `[20220407-12:11:06] [INFO ] MESSAGE` or
/// `[2022-10-07T16:36:04.357+0900] [INFO ] MESSAGE`.
fn xrdp_log_line<'a>(
    message: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<Unframed<'a>> {
    let (ts, msg) = xrdp::own_log_line(message, years)?;
    Some(Unframed {
        found: xrdp::decode(msg, e)?,
        timestamp: Some(ts),
        program: Some("xrdp-sesman"),
    })
}

/// What `sshd -E FILE` writes: sshd's message alone, no time, no tag. Taken only for the
/// login forms whose grammar says they are sshd's (`Failed|Accepted M for U from A port P
/// sshN`, `Invalid user U from A port P`, `maximum authentication attempts exceeded for U from
/// A port P sshN [preauth]`): the peer must be at its grammar position with its port, or the
/// line is left alone.
fn sshd_log_file<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Unframed<'a>> {
    let m = message.strip_suffix('\r').unwrap_or(message);
    if !(m.starts_with("Failed ")
        || m.starts_with("Accepted ")
        || m.starts_with("Invalid user ")
        || m.starts_with("maximum authentication attempts exceeded for "))
    {
        return None;
    }
    let found = sshd::decode(m, e)?;
    let sure = e.action == Some(Action::UserLogin) && e.source_port.is_some();
    let sshn = m.starts_with('I') || scan::contains(m, " ssh2") || scan::contains(m, " ssh1");
    if !(sure && sshn) {
        reset(e);
        return None;
    }
    Some(Unframed {
        found,
        timestamp: None,
        program: Some("sshd"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::Outcome;

    fn run(line: &str) -> Option<(Event<'_>, Unframed<'_>)> {
        let mut years = YearResolver::fixed(2026, 0);
        let mut e = Event::default();
        let u = decode(line, &mut years, &mut e);
        if u.is_none() {
            assert_eq!(e, Event::default(), "{line}");
        }
        Some((e, u?))
    }

    #[test]
    fn sshd_log_file_lines() {
        for line in [
            "Failed password for root from 192.0.2.4 port 22 ssh2",
            "Failed password for root from 192.0.2.4 port 22 ssh2\r",
            "Invalid user bob from 192.0.2.4 port 22",
            "Accepted publickey for a from 192.0.2.4 port 22 ssh2: ED25519 SHA256:x",
            "maximum authentication attempts exceeded for root from 192.0.2.4 port 22 ssh2 [preauth]\r",
        ] {
            let (e, u) = run(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(u.program, Some("sshd"));
            assert_eq!(e.source_address.as_deref(), Some("192.0.2.4"), "{line}");
        }
        // Not sure enough to be sshd's: no port, no `sshN`, or another form.
        for line in [
            "Invalid user bob from 192.0.2.4",
            "Failed password for root from 192.0.2.4 port 22",
            "Failed to start unit",
            "Accepted connection from 192.0.2.4 port 22",
            "Connection closed by 192.0.2.4 port 22 [preauth]",
        ] {
            assert!(run(line).is_none(), "{line}");
        }
    }

    #[test]
    fn cowrie_and_xrdp_own_logs() {
        let (e, u) = run(r#"{"eventid":"cowrie.login.failed","src_ip":"192.0.2.1","username":"root","timestamp":"2026-08-13T00:00:34Z"}"#)
            .unwrap_or_else(|| panic!());
        assert_eq!((u.program, e.outcome), (Some("cowrie"), Outcome::Failure));
        assert!(u.timestamp.is_some());
        let (e, u) = run("[20220407-12:11:06] [INFO ] AUTHFAIL: user=a ip=192.0.2.2 time=1")
            .unwrap_or_else(|| panic!());
        assert_eq!(
            (u.program, e.source_address.as_deref()),
            (Some("xrdp-sesman"), Some("192.0.2.2"))
        );
        let (e, u) =
            run("[2022-10-07T16:36:04.357+0900] [INFO ] AUTHFAIL: user=a ip=192.0.2.3 time=1")
                .unwrap_or_else(|| panic!());
        assert_eq!(
            (u.program, e.source_address.as_deref()),
            (Some("xrdp-sesman"), Some("192.0.2.3"))
        );
        assert!(run(r#"{"eventid":"nope"}"#).is_none());
        assert!(run("[20220407-12:11:06] [INFO ] Socket 12: connection received").is_none());
    }
}
