//! Decoders: recognise a framed message by its program and fill in an [`Event`].
//!
//! Each decoder is a pure function of the message that writes into an event the caller owns
//! (`fn(message, &mut Event) -> Option<Found>`): one event per line, filled in place, instead
//! of a 472-byte value built in each decoder and moved through every layer. A decoder may
//! only be given an event whose decoder fields ([`DECODER_FIELDS`]) are unset, and leaves
//! them unset again when it returns `None`, so an `unknown` line never carries half-decoded
//! fields. The dispatcher picks the decoder by the syslog tag's program. A decoder never
//! reads a peer address from text an attacker controls (a user name, auth-info): see
//! `sshd.rs`.

use std::borrow::Cow;

use logward_core::{Action, Category, Dataset, Event, Outcome};

use crate::text::FastFind;

pub mod apps;
pub mod asterisk;
pub mod audit;
pub mod cowrie;
pub mod db;
pub mod doas;
pub mod dropbear;
pub mod fail2ban;
pub mod freeswitch;
pub mod ftp;
pub mod login;
pub mod logind;
pub mod mail;
pub mod named;
pub mod openvpn;
pub mod pam;
pub(crate) mod peer;
pub mod portsentry;
pub mod scan;
pub mod service_logs;
pub mod shadow;
pub mod squid;
pub mod sshd;
pub mod su;
pub mod sudo;
#[cfg(test)]
mod test_summary;
pub mod threeproxy;
pub mod unframed;
pub mod web;
pub mod xrdp;

/// A peer candidate: the address as the line writes it, and its port.
pub type Peer<'a> = (Cow<'a, str>, Option<u16>);

/// What a decoder reports, besides the fields it wrote, when it recognised a message.
#[derive(Debug, Clone, PartialEq, Default)]
#[must_use]
pub struct Found<'a> {
    /// Peers the line named in more than one place that could each be the real one (an
    /// injection attempt); the correlator picks the one the session already knows, or none.
    /// Empty (and unallocated) on every other line.
    pub ambiguous_peers: Vec<Peer<'a>>,
}

impl Found<'_> {
    /// Recognised, nothing ambiguous.
    #[inline]
    pub fn yes<'a>() -> Option<Found<'a>> {
        Some(Found::default())
    }

    pub fn into_owned(self) -> Found<'static> {
        Found {
            ambiguous_peers: own_peers(self.ambiguous_peers),
        }
    }
}

fn own_peers(peers: Vec<Peer<'_>>) -> Vec<Peer<'static>> {
    peers
        .into_iter()
        .map(|(a, p)| (Cow::Owned(a.into_owned()), p))
        .collect()
}

/// A decoded message as one value: the event plus [`Found::ambiguous_peers`]. The in-place
/// decoders are the hot path; this is the convenient form for tests and tools.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    pub event: Event<'a>,
    /// See [`Found::ambiguous_peers`].
    pub ambiguous_peers: Vec<Peer<'a>>,
}

impl<'a> From<Event<'a>> for Decoded<'a> {
    fn from(event: Event<'a>) -> Self {
        Decoded {
            event,
            ambiguous_peers: Vec::new(),
        }
    }
}

impl<'a> Decoded<'a> {
    /// Runs an in-place decoder on a fresh event: `Decoded::run(|e| sshd::decode(m, e))`.
    pub fn run(f: impl FnOnce(&mut Event<'a>) -> Option<Found<'a>>) -> Option<Decoded<'a>> {
        let mut event = Event::default();
        let found = f(&mut event);
        debug_assert!(found.is_some() || event == Event::default(), "{event:?}");
        Some(Decoded {
            event,
            ambiguous_peers: found?.ambiguous_peers,
        })
    }

    pub fn into_owned(self) -> Decoded<'static> {
        Decoded {
            event: self.event.into_owned(),
            ambiguous_peers: own_peers(self.ambiguous_peers),
        }
    }
}

/// The fields decoders write (ECS paths); every other field belongs to framing or later
/// stages.
pub const DECODER_FIELDS: &[&str] = &[
    "event.dataset",
    "event.action",
    "event.category",
    "event.outcome",
    "event.reason",
    "user.name",
    "user.target.name",
    "group.name",
    "process.command_line",
    "source.address",
    "source.ip",
    "source.port",
    "logward.auth.method",
    "logward.auth.key.type",
    "logward.auth.key.fingerprint",
    "logward.repeat",
    "dns.*",
];

/// Whether every field in [`DECODER_FIELDS`] is unset.
pub fn decoder_fields_unset(e: &Event<'_>) -> bool {
    e.dataset.is_none()
        && e.action.is_none()
        && e.category == Category::default()
        && e.outcome == Outcome::default()
        && e.reason.is_none()
        && e.user_name.is_none()
        && e.user_target_name.is_none()
        && e.group_name.is_none()
        && e.command_line.is_none()
        && e.source_address.is_none()
        && e.source_ip.is_none()
        && e.source_port.is_none()
        && e.auth_method.is_none()
        && e.auth_key_type.is_none()
        && e.auth_key_fingerprint.is_none()
        && e.repeat.is_none()
        && e.dns.is_none()
}

/// Unsets every field in [`DECODER_FIELDS`]: what a decoder that gives up after writing some
/// of them calls before returning `None`. Only failure paths pay for it.
#[cold]
pub(crate) fn reset(e: &mut Event<'_>) {
    e.dataset = None;
    e.action = None;
    e.category = Category::default();
    e.outcome = Outcome::default();
    e.reason = None;
    e.user_name = None;
    e.user_target_name = None;
    e.group_name = None;
    e.command_line = None;
    e.source_address = None;
    e.source_ip = None;
    e.source_port = None;
    e.auth_method = None;
    e.auth_key_type = None;
    e.auth_key_fingerprint = None;
    e.repeat = None;
    e.dns = None;
}

/// Moves the decoder fields of `from` into `to` (whose decoder fields are unset), detached
/// from the text `from` borrowed: for messages that live shorter than the line's event (a
/// journal entry's unescaped `MESSAGE`).
pub(crate) fn move_owned(from: Event<'_>, to: &mut Event<'_>) {
    let o = from.into_owned();
    to.dataset = o.dataset;
    to.action = o.action;
    to.category = o.category;
    to.outcome = o.outcome;
    to.reason = o.reason;
    to.user_name = o.user_name;
    to.user_target_name = o.user_target_name;
    to.group_name = o.group_name;
    to.command_line = o.command_line;
    to.source_address = o.source_address;
    to.source_ip = o.source_ip;
    to.source_port = o.source_port;
    to.auth_method = o.auth_method;
    to.auth_key_type = o.auth_key_type;
    to.auth_key_fingerprint = o.auth_key_fingerprint;
    to.repeat = o.repeat;
    to.dns = o.dns;
}

/// Runs a decoder body and keeps the contract: on `None`, the decoder fields are unset again.
#[inline]
pub(crate) fn guarded<'a>(
    e: &mut Event<'a>,
    body: impl FnOnce(&mut Event<'a>) -> Option<Found<'a>>,
) -> Option<Found<'a>> {
    debug_assert!(decoder_fields_unset(e), "decoder given a used event: {e:?}");
    let found = body(e);
    if found.is_none() {
        reset(e);
    }
    found
}

/// Sets what `Event::new` sets: dataset, action, its category, outcome.
#[inline]
pub(crate) fn start(e: &mut Event<'_>, dataset: Dataset, action: Action, outcome: Outcome) {
    e.dataset = Some(dataset);
    e.action = Some(action);
    e.category = action.category();
    e.outcome = outcome;
}

/// Strips `message repeated N times: [ … ]` (rsyslog's reduction), returning N and the inner
/// message.
pub fn unrepeat(message: &str) -> Option<(u32, &str)> {
    let rest = message.strip_prefix("message repeated ")?;
    let (n, rest) = rest.fsplit_once(" times: [")?;
    let n: u32 = n.parse().ok()?;
    let inner = rest.strip_suffix(']').unwrap_or(rest);
    Some((n, inner.trim_start_matches(' ')))
}

/// The services of `ftp`, `db`, VPN, VoIP, BIND, portsentry and fail2ban, by program. Also
/// the level words the frame takes for a tag when a service's own log has no program
/// (`… 113 [Note] [MY-010926] …`, `NOTICE[566]: chan_sip.c:…`, `[conn12] …`): their
/// decoders match the message's own grammar, so nothing else is read as theirs.
#[inline(never)]
fn services<'a>(program: &str, message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    match program {
        // vsftpd's PAM conversation in the journal, without the `pam_unix(…): ` part.
        "vsftpd" if message.starts_with("authentication failure; ") => {
            pam::decode(program, Some("pam_unix"), message, e)
        }
        "vsftpd" => ftp::vsftpd::decode(message, e),
        "proftpd" => ftp::proftpd::decode(message, e),
        "pure-ftpd" => ftp::pureftpd::decode(message, e),
        "wu-ftpd" | "ftpd" => ftp::wuftpd::decode(message, e),
        "mysqld" | "mariadbd" | "mysqld_safe" | "Note" | "Warning" => db::mysql::decode(message, e),
        "openvpn" => openvpn::decode(message, e),
        "asterisk" | "NOTICE" | "SECURITY" => asterisk::decode(message, e),
        "WARNING" => asterisk::decode(message, e).or_else(|| freeswitch::decode(message, e)),
        "freeswitch" | "WARN" => freeswitch::decode(message, e),
        "named" | "security" | "update-security" => named::decode(message, e),
        "portsentry" => portsentry::decode(message, e),
        "fail2ban.actions" | "fail2ban-server" | "fail2ban" => fail2ban::decode(message, e),
        p if p.starts_with("ovpn-") => openvpn::decode(message, e),
        p if p.starts_with("conn")
            && p.len() > 4
            && p.bytes().skip(4).all(|c| c.is_ascii_digit()) =>
        {
            db::mongodb::decode(message, e)
        }
        "initandlisten" => db::mongodb::decode(message, e),
        // Asterisk's `[DATE] LEVEL[tid] file.c: MSG` framed as host `LEVEL[tid]`, program `file.c`.
        p if p.ends_with(".c") => asterisk::decode_body(message, e),
        _ => None,
    }
}

/// Decodes a message written by `program` into `e` (whose decoder fields must be unset).
/// `None`, with `e` as it was, when no decoder recognises it.
pub fn decode<'a>(program: &str, message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    // Cheap first-byte tests keep the rare forms off every line's path.
    if message.as_bytes().first() == Some(&b'm') {
        if let Some((n, inner)) = unrepeat(message) {
            let found = decode(program, inner, e)?;
            e.repeat = Some(n);
            return Some(found);
        }
    }
    // Old PAM tags: `sshd(pam_unix)[pid]: authentication failure; …`.
    if program.as_bytes().last() == Some(&b')') {
        if let Some(service) = program.strip_suffix("(pam_unix)") {
            return pam::decode(service, Some("pam_unix"), message, e);
        }
    }
    // A third of an auth log is pam_unix's, whatever the program (sshd, CRON, sudo …), and no
    // program's own decoder reads those lines: they skip the dispatch below.
    if message.as_bytes().first() == Some(&b'p') && message.starts_with("pam_unix(") {
        return pam::decode(program, None, message, e);
    }
    let native = match program {
        // OpenSSH ≥ 9.8 splits sshd into sshd-session and sshd-auth.
        "sshd" | "sshd-session" | "sshd-auth" => sshd::decode(message, e),
        "sudo" => sudo::decode(message, e),
        "dropbear" => dropbear::decode(message, e),
        "xrdp-sesman" | "xrdp" => xrdp::decode(message, e),
        "su" => su::decode(message, e),
        "doas" => doas::decode(message, e),
        "systemd-logind" => logind::decode(message, e),
        "login" => login::decode(message, e),
        p if shadow::is_shadow_program(p) => shadow::decode(p, message, e),
        "nginx" => web::nginx::decode(message, e),
        "httpd" | "apache2" | "apache" => web::apache::decode(message, e),
        // `ErrorLog syslog:local1` in a virtual host tags `httpd/VHOST`.
        p if p.starts_with("httpd/") => web::apache::decode(message, e),
        "lighttpd" => web::lighttpd::decode(message, e),
        "haproxy" => web::haproxy::decode(message, e),
        // Mail services; then web applications, by the program's first byte (a miss costs
        // one compare), then the FTP, database, VPN, VoIP, BIND, portsentry and fail2ban
        // programs.
        p => match mail::decoder_for(p) {
            Some(decode) => decode(message, e),
            None => apps::by_program(p, message, e).or_else(|| services(p, message, e)),
        },
    };
    // Each decoder left `e` untouched when it said `None`, so PAM starts clean.
    native.or_else(|| pam::decode(program, None, message, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrepeat_forms() {
        assert_eq!(
            unrepeat("message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"),
            Some((5, "Failed password for root from 5.36.59.76 port 42393 ssh2"))
        );
        assert_eq!(unrepeat("message repeated x times: [ a]"), None);
        assert_eq!(unrepeat("Failed password"), None);
    }
}
