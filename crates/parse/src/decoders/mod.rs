//! Decoders: recognise a framed message by its program and turn it into an [`Event`].
//!
//! Each decoder is a pure function of the message; the dispatcher picks it by the syslog
//! tag's program. A decoder never reads a peer address from text an attacker controls (a
//! user name, auth-info): see `sshd.rs`.

use std::borrow::Cow;

use logward_core::Event;

use crate::text::FastFind;

pub mod login;
pub mod logind;
pub mod pam;
pub mod shadow;
pub mod sshd;
pub mod su;
pub mod sudo;

/// A decoder's output: the event plus what the session correlator needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    pub event: Event<'a>,
    /// Peers the line named in more than one place that could each be the real one (an
    /// injection attempt); the correlator picks the one the session already knows, or none.
    pub ambiguous_peers: Vec<(Cow<'a, str>, Option<u16>)>,
}

impl<'a> From<Event<'a>> for Decoded<'a> {
    fn from(event: Event<'a>) -> Self {
        Decoded {
            event,
            ambiguous_peers: Vec::new(),
        }
    }
}

impl Decoded<'_> {
    pub fn into_owned(self) -> Decoded<'static> {
        Decoded {
            event: self.event.into_owned(),
            ambiguous_peers: self
                .ambiguous_peers
                .into_iter()
                .map(|(a, p)| (Cow::Owned(a.into_owned()), p))
                .collect(),
        }
    }
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

/// Decodes a message written by `program`. `None` when no decoder recognises it.
pub fn decode<'a>(program: &str, message: &'a str) -> Option<Decoded<'a>> {
    if let Some((n, inner)) = unrepeat(message) {
        let mut d = decode(program, inner)?;
        d.event.repeat = Some(n);
        return Some(d);
    }
    // Old PAM tags: `sshd(pam_unix)[pid]: authentication failure; …`.
    if let Some(service) = program.strip_suffix("(pam_unix)") {
        return pam::decode(service, Some("pam_unix"), message);
    }
    let native = match program {
        // OpenSSH ≥ 9.8 splits sshd into sshd-session and sshd-auth.
        "sshd" | "sshd-session" | "sshd-auth" => sshd::decode(message),
        "sudo" => sudo::decode(message),
        "su" => su::decode(message),
        "systemd-logind" => logind::decode(message),
        "login" => login::decode(message),
        p if shadow::is_shadow_program(p) => shadow::decode(p, message),
        _ => None,
    };
    native.or_else(|| pam::decode(program, None, message))
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
