//! Mail services: Postfix, Dovecot, Exim, Courier, Cyrus (and its timsieved), Sendmail,
//! UW-IMAP and Roundcube. One module per service; this one holds what they share.
//!
//! **Peers only from grammar positions.** Every mail log line carries text the client chose:
//! a HELO name, an envelope sender or recipient, a login name, a password echoed back. Each
//! decoder reads the peer from where the service writes it (`name[A]` after `from `, `rip=`,
//! `relay=`, `[A]` closing the line) and accepts it only as an IP address. Where client text
//! could imitate that position, every place that fits is collected ([`Peers`]); more than
//! one is reported as [`Found::ambiguous_peers`] and the correlator withholds the peer rather
//! than let the client choose whom it blames.

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Action, Dataset, Event, Outcome, Timestamp};

use super::{Found, Peer};
use crate::clock::YearResolver;
use crate::decoders::scan;

pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod exim;
pub mod postfix;
pub mod roundcube;
pub mod sendmail;
pub mod sieve;
pub mod uwimap;

/// A mail decoder: message and event in, what it found out.
pub type Decoder = for<'a> fn(&'a str, &mut Event<'a>) -> Option<Found<'a>>;

/// The decoder for a syslog program, if it is a mail service's (exact names first, then
/// the families whose instances carry their own names: `postfix-in/smtpd`, `sm-mta`,
/// `auth-worker(N)`, `cyrus/imaps`).
pub fn decoder_for(program: &str) -> Option<Decoder> {
    // Most programs (`CRON`, `sudo`, `kernel`…) leave at the first byte.
    if !matches!(
        program.as_bytes().first(),
        Some(b'a' | b'c' | b'd' | b'e' | b'i' | b'l' | b'm' | b'p' | b'r' | b's' | b't')
    ) {
        return None;
    }
    Some(match program {
        "exim" | "exim4" => exim::decode,
        // Courier's and Cyrus's pop3 daemons, Courier's, Cyrus's and UW's imapd.
        "imapd" | "imap" | "imaps" | "pop3" | "pop3s" | "pop3d" => imapd,
        "roundcube" => roundcube::decode,
        p if postfix::is_postfix(p) => postfix::decode,
        p if dovecot::is_dovecot(p) => dovecot::decode,
        p if sendmail::is_sendmail(p) => sendmail::decode,
        p if sieve::is_sieve(p) => sieve::decode,
        p if cyrus::is_cyrus(p) => cyrus::decode,
        p if courier::is_courier(p) => courier::decode,
        p if uwimap::is_uwimap(p) => uwimap::decode,
        _ => return None,
    })
}

/// A mail service's own log line, without a syslog tag: Exim's main log and Dovecot's
/// `log_path` (`YYYY-MM-DD HH:MM:SS …`), Roundcube's files (`[DD-Mon-YYYY HH:MM:SS ±ZZZZ]: …`).
/// Returns what `unframed` reports: the line's time and the program it implies.
pub(crate) fn unframed<'a>(
    line: &'a str,
    years: &mut YearResolver,
    e: &mut Event<'a>,
) -> Option<(Found<'a>, Option<Timestamp>, &'static str)> {
    match line.as_bytes().first()? {
        b'0'..=b'9' => {
            let (date, time, rest) = exim::split_date(line)?;
            // Dovecot's own log: `auth-worker(default): Info: …`; Exim's never starts with a
            // word ending in `:` (its `SA:` follows a message id).
            let (first, _) = scan::word(rest);
            let (found, program) = match first.strip_suffix(':') {
                Some(_) => (dovecot::decode(rest, e)?, "dovecot"),
                None => (exim::decode(rest, e)?, "exim"),
            };
            Some((found, years.wall_clock(date, time, 0), program))
        }
        // Dovecot 2.4 with no host: `auth(U,A,sasl:M)<S>: Info: sql: Password mismatch`.
        b'a' if line.starts_with("auth(") => Some((dovecot::decode(line, e)?, None, "dovecot")),
        b'[' => {
            let (ts, msg) = roundcube::split_header(line, |d, t| years.wall_clock(d, t, 0))?;
            Some((roundcube::decode(msg, e)?, ts, "roundcube"))
        }
        _ => None,
    }
}

/// Courier, Cyrus and UW-IMAP all log as `imapd` (and Cyrus as `imap`, `pop3`…): one
/// dispatcher tells them apart by the first byte of the message, which differs.
pub fn imapd<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    match message.as_bytes().first()? {
        b'L' if message.starts_with("LOGIN FAILED, ") => courier::decode(message, e),
        b'b' => cyrus::decode(message, e),
        _ => uwimap::decode(message, e),
    }
}

/// The address of an `[A]` (or `[IPv6:A]`) that `s` starts with, and the text after `]`.
/// `None` unless A is an IP address.
pub(crate) fn bracketed(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[')?;
    let end = scan::find_byte(b']', inner.as_bytes())?;
    let addr = inner.get(..end)?;
    let addr = addr.strip_prefix("IPv6:").unwrap_or(addr);
    parse_ip(addr)?;
    Some((addr, inner.get(end + 1..)?))
}

/// `NAME[A]` or `NAME [A]` or `[A]` at the start of `s` (NAME the reverse-DNS name, which
/// holds no blank or bracket): (A, the text after `]`).
pub(crate) fn host_bracket(s: &str) -> Option<(&str, &str)> {
    let open = scan::find_byte(b'[', s.as_bytes())?;
    let name = s.get(..open)?;
    let name = name.strip_suffix(' ').unwrap_or(name);
    if scan::has_space(name) || name.contains(']') {
        return None;
    }
    bracketed(s.get(open..)?)
}

/// `:PORT` at the start of `s`: (port, rest).
pub(crate) fn colon_port(s: &str) -> (Option<u16>, &str) {
    if let Some(r) = s.strip_prefix(':') {
        let n = scan::digits(r.as_bytes());
        if n > 0 {
            if let (Some(p), Some(rest)) = (r.get(..n), r.get(n..)) {
                return (scan::port(p.as_bytes()), rest);
            }
        }
    }
    (None, s)
}

/// Sets the peer, which the caller has checked is an IP address.
pub(crate) fn set_peer<'a>(e: &mut Event<'a>, addr: &'a str, port: Option<u16>) {
    e.set_source(Cow::Borrowed(addr), port);
}

pub(crate) use super::peer::{abuse, login_failed};

/// A connection that ended without a verdict on a login (`connection-probe`): scanners, and
/// what fail2ban counts only in its ddos/aggressive modes.
pub(crate) fn probe<'a>(
    e: &mut Event<'_>,
    dataset: Dataset,
    reason: &'static str,
) -> Option<Found<'a>> {
    super::peer::event(
        e,
        dataset,
        Action::ConnectionProbe,
        Outcome::Failure,
        Some(reason),
    )
}

/// The places on a line that fit the peer's grammar position. One: it is the peer. More:
/// client text imitated the position; the first is kept and all are reported ambiguous.
#[derive(Debug, Default)]
pub(crate) struct Peers<'a> {
    first: Option<(&'a str, Option<u16>)>,
    more: Vec<Peer<'a>>,
}

impl<'a> Peers<'a> {
    pub(crate) fn push(&mut self, addr: &'a str, port: Option<u16>) {
        match self.first {
            None => self.first = Some((addr, port)),
            Some((a, _)) if a == addr && self.more.is_empty() => {}
            Some((a, p)) => {
                if self.more.is_empty() {
                    self.more.push((Cow::Borrowed(a), p));
                }
                self.more.push((Cow::Borrowed(addr), port));
            }
        }
    }

    /// Writes the peer into `e`: `None` when no place fitted.
    pub(crate) fn apply(self, e: &mut Event<'a>) -> Option<Found<'a>> {
        let (addr, port) = self.first?;
        set_peer(e, addr, port);
        Some(Found {
            ambiguous_peers: self.more,
        })
    }
}

/// `s`, unless it is empty.
pub(crate) fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets() {
        assert_eq!(bracketed("[1.2.3.4]:25"), Some(("1.2.3.4", ":25")));
        assert_eq!(
            bracketed("[IPv6:2001:db8::1] x"),
            Some(("2001:db8::1", " x"))
        );
        assert_eq!(bracketed("[host]"), None);
        assert_eq!(host_bracket("a.b[1.2.3.4]: x"), Some(("1.2.3.4", ": x")));
        assert_eq!(host_bracket("a.b [1.2.3.4] x"), Some(("1.2.3.4", " x")));
        assert_eq!(host_bracket("a b[1.2.3.4]"), None);
        assert_eq!(colon_port(":25 x"), (Some(25), " x"));
        assert_eq!(colon_port(": x"), (None, ": x"));
    }
}
