//! Peer addresses as services write them (`A`, `A:P`, `[A]:P`, `TCP:[A]:P`, `A#P`), and the
//! event set-up the service decoders share. An address is only taken when it parses as an
//! IP: these formats never put a host name where they put the peer, so anything else is
//! not a peer (and not something to act on).

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Action, Dataset, Event, Outcome};

use super::{scan, start, Found};

/// Whether `s` is an IP address (v4, v6, v4-mapped v6).
#[inline]
pub(crate) fn is_ip(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && parse_ip(s).is_some()
}

/// `A`, `A:P` (IPv4), `[A]:P`, `[A]` or a bare IPv6 `A`, with an optional transport
/// (`TCP:`, `UDP:`, `TLS:`, `WS:`, `WSS:`): the address and the port when there is one.
pub(crate) fn ip_port(s: &str) -> Option<(&str, Option<u16>)> {
    let s = strip_transport(s);
    if let Some(inner) = s.strip_prefix('[') {
        let (addr, rest) = inner.split_once(']')?;
        let port = match rest {
            "" => None,
            r => Some(scan::port(r.strip_prefix(':')?.as_bytes())?),
        };
        return is_ip(addr).then_some((addr, port));
    }
    if is_ip(s) {
        return Some((s, None));
    }
    let (addr, port) = s.rsplit_once(':')?;
    let port = scan::port(port.as_bytes())?;
    // `A:P` only for IPv4: a bare IPv6 address would read as address and port.
    (!addr.contains(':') && is_ip(addr)).then_some((addr, Some(port)))
}

fn strip_transport(s: &str) -> &str {
    for t in ["UDP:", "TCP:", "TLS:", "WS:", "WSS:"] {
        if let Some(r) = s.strip_prefix(t) {
            return r;
        }
    }
    s
}

/// Sets the peer when `addr` is an IP; `None` otherwise (so a decoder can `?` it).
#[inline]
pub(crate) fn set<'a>(e: &mut Event<'a>, addr: &'a str, port: Option<u16>) -> Option<()> {
    if !is_ip(addr) {
        return None;
    }
    e.set_source(Cow::Borrowed(addr), port);
    Some(())
}

/// An event of `dataset` with this action, outcome and reason.
#[inline]
pub(crate) fn event<'a>(
    e: &mut Event<'_>,
    dataset: Dataset,
    action: Action,
    outcome: Outcome,
    reason: Option<&'static str>,
) -> Option<Found<'a>> {
    start(e, dataset, action, outcome);
    e.reason = reason;
    Found::yes()
}

/// A failed login at `dataset` for `reason`.
#[inline]
pub(crate) fn login_failed<'a>(
    e: &mut Event<'_>,
    dataset: Dataset,
    reason: &'static str,
) -> Option<Found<'a>> {
    event(
        e,
        dataset,
        Action::UserLogin,
        Outcome::Failure,
        Some(reason),
    )
}

/// Abuse of `dataset` of the kind `reason`.
#[inline]
pub(crate) fn abuse<'a>(
    e: &mut Event<'_>,
    dataset: Dataset,
    reason: &'static str,
) -> Option<Found<'a>> {
    event(
        e,
        dataset,
        Action::ServiceAbuse,
        Outcome::Failure,
        Some(reason),
    )
}

/// Sets `user.name` when `u` is not empty.
#[inline]
pub(crate) fn user<'a>(e: &mut Event<'a>, u: &'a str) {
    if !u.is_empty() {
        e.user_name = Some(Cow::Borrowed(u));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        assert_eq!(ip_port("1.2.3.4"), Some(("1.2.3.4", None)));
        assert_eq!(ip_port("1.2.3.4:5060"), Some(("1.2.3.4", Some(5060))));
        assert_eq!(ip_port("2001:db8::1"), Some(("2001:db8::1", None)));
        assert_eq!(
            ip_port("[2001:db8::1]:5060"),
            Some(("2001:db8::1", Some(5060)))
        );
        assert_eq!(
            ip_port("TCP:[1.2.3.4]:61470"),
            Some(("1.2.3.4", Some(61470)))
        );
        assert_eq!(ip_port("UDP:1.2.3.4:65049"), Some(("1.2.3.4", Some(65049))));
        assert_eq!(ip_port("::ffff:1.2.3.4"), Some(("::ffff:1.2.3.4", None)));
        for bad in [
            "",
            "host",
            "1.2.3.4:",
            "1.2.3.4:99999",
            "[1.2.3.4",
            "x:1",
            "1.2.3.4 ",
        ] {
            assert_eq!(ip_port(bad), None, "{bad}");
        }
    }
}
