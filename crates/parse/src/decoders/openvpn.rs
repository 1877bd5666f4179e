//! OpenVPN (`openvpn`, `ovpn-NAME`). A server writes a client's lines behind `A:P ` (or
//! `CN/A:P ` once a certificate named it), the address it read from the socket.
//!
//! - `VERIFY ERROR: …` (a certificate the CA does not vouch for) and `TLS Auth Error: …`
//!   (username/password refused) are credentials refused: `user-login` failures
//!   (`bad-certificate`, `bad-password`).
//! - `TLS Error: TLS handshake failed`, `TLS Error: cannot locate HMAC in incoming packet
//!   from A`, `… incoming packet authentication failed from A`, `… tls-crypt unwrapping
//!   failed from A` (no `tls-auth`/`tls-crypt` key: a scanner), `Bad encapsulated packet
//!   length` present no credentials: `connection-probe` failures.
//! - `TCP connection established with A` opens a connection; `SIGUSR1[soft,connection-reset]
//!   received, client-instance restarting` closes one (any client's reset says that).

use logward_core::{Action, Dataset, Event, Outcome};

use super::{guarded, peer, scan, Found};

pub fn decode<'a>(message: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    guarded(e, |e| line(scan::trim_end_blanks(message), e))
}

fn line<'a>(m: &'a str, e: &mut Event<'a>) -> Option<Found<'a>> {
    if let Some(rest) = m.strip_prefix("TCP connection established with ") {
        at(e, rest)?;
        return peer::event(
            e,
            Dataset::Openvpn,
            Action::ConnectionOpened,
            Outcome::Unknown,
            None,
        );
    }
    if let Some(rest) = m
        .strip_prefix("TLS Error: cannot locate HMAC in incoming packet from ")
        .or_else(|| m.strip_prefix("TLS Error: incoming packet authentication failed from "))
        .or_else(|| m.strip_prefix("TLS Error: tls-crypt unwrapping failed from "))
    {
        at(e, rest)?;
        return probe(e, "bad-hmac");
    }
    let (token, msg) = scan::word(m);
    // `CN/A:P`: the CN came from a certificate the CA signed, so only what follows its
    // last `/` is read.
    let addr = token.rsplit_once('/').map_or(token, |(_, a)| a);
    let _: Found<'_> = if msg.starts_with("VERIFY ERROR: ") {
        peer::login_failed(e, Dataset::Openvpn, "bad-certificate")
    } else if msg.starts_with("TLS Auth Error: ") {
        peer::login_failed(e, Dataset::Openvpn, "bad-password")
    } else if msg.starts_with("TLS Error: TLS handshake failed")
        || msg.starts_with("TLS Error: TLS key negotiation failed")
    {
        probe(e, "tls-handshake-failed")
    } else if msg.starts_with("WARNING: Bad encapsulated packet length from peer") {
        probe(e, "bad-packet")
    } else if msg == "SIGUSR1[soft,connection-reset] received, client-instance restarting" {
        peer::event(
            e,
            Dataset::Openvpn,
            Action::ConnectionClosed,
            Outcome::Unknown,
            None,
        )
    } else {
        None
    }?;
    at(e, addr)?;
    Found::yes()
}

/// `[AF_INET]A:P`, `[AF_INET6]A:P` or `A:P` (OpenVPN always writes the port, after the last
/// colon, also for IPv6).
fn at<'a>(e: &mut Event<'a>, s: &'a str) -> Option<()> {
    let s = s
        .strip_prefix("[AF_INET]")
        .or_else(|| s.strip_prefix("[AF_INET6]"))
        .unwrap_or(s);
    let (a, p) = s.rsplit_once(':')?;
    peer::set(e, a, Some(scan::port(p.as_bytes())?))
}

fn probe<'a>(e: &mut Event<'_>, reason: &'static str) -> Option<Found<'a>> {
    peer::event(
        e,
        Dataset::Openvpn,
        Action::ConnectionProbe,
        Outcome::Failure,
        Some(reason),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::Decoded;

    #[test]
    fn forms() {
        let d = Decoded::run(|e| decode("192.0.2.251:55329 VERIFY ERROR: depth=2, error=unable to get issuer certificate: <ROOT CA>", e)).unwrap();
        assert_eq!(
            (d.event.source_address.as_deref(), d.event.source_port),
            (Some("192.0.2.251"), Some(55329))
        );
        assert_eq!(d.event.reason, Some("bad-certificate"));
        let d = Decoded::run(|e| {
            decode(
                "TLS Error: cannot locate HMAC in incoming packet from [AF_INET6]2001:db8::1:1194",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("2001:db8::1"));
        let d = Decoded::run(|e| decode("alice/192.0.2.9:1194 TLS Auth Error: Auth Username/Password verification failed for peer", e)).unwrap();
        assert_eq!(d.event.source_address.as_deref(), Some("192.0.2.9"));
        let d = Decoded::run(|e| {
            decode(
                "TLS Error: incoming packet authentication failed from [AF_INET]192.0.2.3:50000",
                e,
            )
        })
        .unwrap();
        assert_eq!(d.event.reason, Some("bad-hmac"));
        assert!(Decoded::run(|e| decode("host:1 VERIFY ERROR: x", e)).is_none());
    }
}
