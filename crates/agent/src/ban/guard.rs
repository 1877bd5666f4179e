//! The ignore list's guard: no ban may cover an ignored address.
//!
//! Every ban — a rule's, `logward bans add`, a fleet decision, a stored ban re-applied at
//! start — is checked against the rules' `networks: {ignore: [...]}` list with the range
//! the firewall would really drop: an IPv6 address is banned as its `/ipv6_prefix`. A ban
//! whose range holds an ignored address is narrowed to the exact address when that address
//! is not itself ignored (an IPv6 /64 ban beside an ignored /128), and refused otherwise.

use std::net::IpAddr;

use super::Ban;

/// What may be done with a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing ignored in its range: as asked.
    Ban(Ban),
    /// Its prefix held an ignored network: the exact address only.
    Narrowed { ban: Ban, ignored: (IpAddr, u8) },
    /// The target is (or covers) an ignored network: no ban.
    Refused { ignored: (IpAddr, u8) },
}

/// The ignore list and the IPv6 aggregation prefix the firewall bans with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    ignore: Vec<(IpAddr, u8)>,
    ipv6_prefix: u8,
}

/// Whether two networks share an address: one contains the other's address at the shorter
/// of the two prefixes.
fn overlaps(a: (IpAddr, u8), b: (IpAddr, u8)) -> bool {
    let p = a.1.min(b.1);
    match (a.0, b.0) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(p.min(32))).unwrap_or(0);
            u32::from(x) & m == u32::from(y) & m
        }
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(p.min(128)))
                .unwrap_or(0);
            u128::from(x) & m == u128::from(y) & m
        }
        _ => false,
    }
}

impl Guard {
    pub fn new(ignore: Vec<(IpAddr, u8)>, ipv6_prefix: u8) -> Guard {
        Guard {
            ignore,
            ipv6_prefix: ipv6_prefix.clamp(1, 128),
        }
    }

    pub fn check(&self, ban: Ban) -> Verdict {
        let t = ban.target;
        let (addr, prefix) = (t.addr(), t.prefix());
        // What the firewall drops for this target.
        let range = match addr {
            IpAddr::V6(_) if !ban.exact && prefix > self.ipv6_prefix => (addr, self.ipv6_prefix),
            _ => (addr, prefix),
        };
        let Some(&ignored) = self.ignore.iter().find(|n| overlaps(range, **n)) else {
            return Verdict::Ban(ban);
        };
        if !t.is_host() {
            return Verdict::Refused { ignored };
        }
        match self.ignore.iter().find(|n| overlaps((addr, prefix), **n)) {
            Some(&inside) => Verdict::Refused { ignored: inside },
            None => Verdict::Narrowed {
                ban: Ban { exact: true, ..ban },
                ignored,
            },
        }
    }
}

/// `addr/prefix` as people write it.
pub fn net_text((addr, prefix): (IpAddr, u8)) -> String {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix == max {
        addr.to_string()
    } else {
        format!("{addr}/{prefix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ban::BanTarget;

    fn ban(t: &str) -> Ban {
        Ban::new(BanTarget::parse(t).unwrap(), None)
    }

    fn net(s: &str) -> (IpAddr, u8) {
        let (a, p) = s.split_once('/').unwrap();
        (a.parse().unwrap(), p.parse().unwrap())
    }

    #[test]
    fn a_64_ban_beside_an_ignored_128_is_narrowed() {
        let g = Guard::new(vec![net("2001:db8:1::7/128"), net("192.0.2.0/24")], 64);
        match g.check(ban("2001:db8:1::99")) {
            Verdict::Narrowed { ban, ignored } => {
                assert!(ban.exact);
                assert_eq!(ignored, net("2001:db8:1::7/128"));
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            g.check(ban("2001:db8:1::7")),
            Verdict::Refused { .. }
        ));
        assert!(matches!(g.check(ban("2001:db8:2::7")), Verdict::Ban(_)));
        assert!(matches!(g.check(ban("192.0.2.9")), Verdict::Refused { .. }));
        assert!(matches!(
            g.check(ban("192.0.0.0/16")),
            Verdict::Refused { .. }
        ));
        assert!(matches!(g.check(ban("198.51.100.9")), Verdict::Ban(_)));
        // With aggregation off each address stands alone.
        let g = Guard::new(vec![net("2001:db8:1::7/128")], 128);
        assert!(matches!(g.check(ban("2001:db8:1::99")), Verdict::Ban(_)));
    }
}
