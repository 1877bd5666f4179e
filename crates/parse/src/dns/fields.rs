//! The fields of `dns-query` events as the log readers ([`super::dnsmasq`],
//! [`super::unbound`], [`super::zeek`], [`super::packetbeat`], BIND's in `decoders::named`)
//! write them: every name as the DNS check compares it — lower case, without the trailing
//! dot, at most [`MAX_NAME`] bytes — and at most [`MAX_ANSWERS`] answers per query.

use std::borrow::Cow;
use std::net::IpAddr;

use logward_core::event::parse_ip;
use logward_core::{Action, Dataset, Dns, DnsAnswer, Event, Outcome, Timestamp};

/// Longest name kept: a name is at most 255 bytes on the wire, and a log's escaped
/// presentation (`\\000`) at most four times that.
pub const MAX_NAME: usize = 1024;
/// Answers kept per query (a reply carries a handful; the rest is noise or an attack).
pub const MAX_ANSWERS: usize = 64;

/// `dns.question.name`: lower case, no trailing dot, cut at [`MAX_NAME`] on a character
/// boundary. Borrows when the name is already in that form.
pub fn name(s: &str) -> Cow<'_, str> {
    let s = s.strip_suffix('.').unwrap_or(s);
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = s.get(..end).unwrap_or("");
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// A type or class mnemonic as a log writes it (`A`, `AAAA`, `TYPE65399`, `IN`): 1 to 16
/// ASCII letters, digits or `-`, upper-cased.
pub fn mnemonic(s: &str) -> Option<Cow<'_, str>> {
    let ok =
        !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return None;
    }
    Some(if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    })
}

/// The name of an RCODE as a log writes its number: the wire decoder's table
/// ([`super::message::rcode_name`], the one Zeek agrees with), `RCODE<n>` past 16 bits.
pub fn rcode_name(n: u32) -> Cow<'static, str> {
    u16::try_from(n).map_or_else(
        |_| Cow::Owned(format!("RCODE{n}")),
        super::message::rcode_name,
    )
}

/// Starts a `dns-query` event of `dataset` asking `name`.
pub fn start<'e, 'a>(
    e: &'e mut Event<'a>,
    dataset: Dataset,
    name: Cow<'a, str>,
) -> &'e mut Dns<'a> {
    crate::decoders::start(e, dataset, Action::DnsQuery, Outcome::Unknown);
    e.dns.insert(Box::new(Dns {
        question_name: name,
        ..Dns::default()
    }))
}

/// Sets `dns.response_code` and the outcome it implies (`NOERROR` succeeded, any other
/// code failed; no reply seen stays unknown).
pub fn set_rcode<'a>(e: &mut Event<'a>, rcode: Cow<'a, str>) {
    e.outcome = if rcode == "NOERROR" {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    if let Some(d) = e.dns.as_mut() {
        d.response_code = Some(rcode);
    }
}

/// Adds an answer (at most [`MAX_ANSWERS`]); an A/AAAA answer's address also goes to
/// `dns.resolved_ip`. Returns whether it was kept.
pub fn push_answer<'a>(d: &mut Dns<'a>, a: DnsAnswer<'a>) -> bool {
    if d.answers.len() >= MAX_ANSWERS {
        return false;
    }
    if matches!(&*a.rtype, "A" | "AAAA") {
        if let Some(ip) = parse_ip(&a.data) {
            if !d.resolved_ip.contains(&ip) {
                d.resolved_ip.push(ip);
            }
        }
    }
    d.answers.push(a);
    true
}

/// An address answer: `A` or `AAAA` by its family.
pub fn address_answer<'a>(name: Cow<'a, str>, ip: IpAddr, ttl: Option<u32>) -> DnsAnswer<'a> {
    DnsAnswer {
        name,
        rtype: Cow::Borrowed(if ip.is_ipv4() { "A" } else { "AAAA" }),
        data: Cow::Owned(ip.to_string()),
        ttl,
    }
}

/// Seconds since the epoch with an optional fraction (`1517336042.279652`), as Zeek and
/// Unbound write them; UTC.
pub fn epoch(s: &str) -> Option<Timestamp> {
    let (secs, frac) = match s.split_once('.') {
        Some((_, "")) => return None,
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if secs.is_empty() || secs.len() > 12 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let unix: i64 = secs.parse().ok()?;
    let nanos = if frac.is_empty() {
        0
    } else {
        logward_core::time::fraction_digits(frac.as_bytes())
            .filter(|(_, used)| *used == frac.len())?
            .0
    };
    Some(Timestamp {
        unix,
        nanos,
        offset: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_words() {
        assert_eq!(name("WWW.Example.COM."), "www.example.com");
        assert!(matches!(name("a.b"), Cow::Borrowed("a.b")));
        assert_eq!(name("."), "");
        assert_eq!(name(&"é".repeat(600)).len(), MAX_NAME);
        assert_eq!(mnemonic("aaaa").as_deref(), Some("AAAA"));
        assert_eq!(mnemonic("TYPE65399").as_deref(), Some("TYPE65399"));
        assert_eq!(mnemonic("A B"), None);
        assert_eq!(mnemonic(""), None);
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(11), "DSOTYPENI");
        assert_eq!(rcode_name(24), "RCODE24");
        assert_eq!(rcode_name(70_000), "RCODE70000");
    }

    #[test]
    fn epochs() {
        let t = epoch("1517336042.279652").unwrap();
        assert_eq!((t.unix, t.nanos), (1_517_336_042, 279_652_000));
        assert_eq!(epoch("1796606403").map(|t| t.unix), Some(1_796_606_403));
        for bad in [
            "",
            "x",
            "XXXXXXXXXX.XXXXXX",
            "1.2.3",
            "-1",
            "1.",
            "99999999999999",
        ] {
            assert_eq!(epoch(bad), None, "{bad}");
        }
    }

    #[test]
    fn answers_are_bounded() {
        let mut d = Dns::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_ANSWERS + 3 {
            push_answer(&mut d, address_answer("a".into(), ip, None));
        }
        assert_eq!(d.answers.len(), MAX_ANSWERS);
        assert_eq!(d.resolved_ip, [ip]);
    }
}
