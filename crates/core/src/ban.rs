//! What may be banned: an address or network validated before anything reaches a firewall
//! or the store. Shared by the engine's outputs, the agent's firewall backends and the store.
//!
//! A [`BanTarget`] is built only from std's `IpAddr` (parsed from text with std's parser plus
//! an optional decimal prefix length), so whatever a log line contains, what reaches the
//! firewall is an address logward itself renders — nothing from the line can inject firewall
//! syntax. Its text form is canonical: IPv4-mapped IPv6 folded to IPv4 (as `source.ip` is),
//! IPv6 compressed, a full-length prefix written as a plain address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The widest IPv4 network a ban may cover (a /0 … /7 ban would cut off a large part of the
/// internet, and is far more likely a typo than an intent).
pub const MIN_PREFIX_V4: u8 = 8;
/// The widest IPv6 network a ban may cover.
pub const MIN_PREFIX_V6: u8 = 16;

/// Text that is not an address or network logward will ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTarget {
    /// The refused text, cut to 64 characters for display.
    pub shown: String,
    pub reason: &'static str,
}

/// An address (`prefix` = 32 or 128) or a network, always with its host bits zero.
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are folded to IPv4, as `source.ip` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BanTarget {
    addr: IpAddr,
    prefix: u8,
}

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a bannable address or network {:?}: {}",
            self.shown, self.reason
        )
    }
}

impl std::error::Error for InvalidTarget {}

/// Address family of a ban: which nftables set it goes into, how the store files it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// 4 or 6 (the store's column).
    pub fn code(self) -> i64 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    pub fn from_code(code: i64) -> Option<Family> {
        match code {
            4 => Some(Family::V4),
            6 => Some(Family::V6),
            _ => None,
        }
    }
}

impl BanTarget {
    /// One address.
    pub fn host(addr: IpAddr) -> Result<Self, InvalidTarget> {
        let addr = fold_mapped(addr);
        let prefix = max_prefix(&addr);
        Self::network(addr, prefix)
    }

    /// A network; `addr` must have no bits set past `prefix`.
    pub fn network(addr: IpAddr, prefix: u8) -> Result<Self, InvalidTarget> {
        let refuse = |reason| InvalidTarget {
            shown: format!("{addr}/{prefix}"),
            reason,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        if prefix > max_prefix(&addr) {
            return Err(refuse("prefix length too long"));
        }
        let min = if addr.is_ipv4() {
            MIN_PREFIX_V4
        } else {
            MIN_PREFIX_V6
        };
        if prefix < min {
            return Err(refuse("network too wide to ban"));
        }
        if addr.is_unspecified() {
            return Err(refuse("unspecified address"));
        }
        if mask(addr, prefix) != addr {
            return Err(refuse("address has bits set past the prefix length"));
        }
        Ok(Self { addr, prefix })
    }

    /// Parses `a.b.c.d`, an IPv6 address, or either followed by `/len`. Nothing else: no
    /// spaces, no zone ids, no brackets, no host names.
    pub fn parse(text: &str) -> Result<Self, InvalidTarget> {
        let refuse = |reason| InvalidTarget {
            shown: text.chars().take(64).collect(),
            reason,
        };
        if text.len() > 64 {
            return Err(refuse("too long"));
        }
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr_text).map_err(|_| refuse("not an IP address"))?;
        match prefix_text {
            None => Self::host(addr),
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(refuse("prefix length is not a number"));
                }
                let prefix: u8 = p.parse().map_err(|_| refuse("prefix length too long"))?;
                Self::network(addr, prefix).map_err(|e| InvalidTarget {
                    shown: text.chars().take(64).collect(),
                    reason: e.reason,
                })
            }
        }
    }

    /// The (network) address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length: 32 or 128 for one address.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        match self.addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Whether this is one address rather than a network.
    pub fn is_host(&self) -> bool {
        self.prefix == max_prefix(&self.addr)
    }

    /// Whether `other` lies inside this network (or is it).
    pub fn contains(&self, other: &BanTarget) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && other.prefix >= self.prefix
            && mask(other.addr, self.prefix) == self.addr
    }

    /// The same target widened to `prefix` when it is narrower than that (IPv6 aggregation:
    /// an address becomes its /64).
    pub fn widened_to(&self, prefix: u8) -> BanTarget {
        if self.prefix <= prefix {
            *self
        } else {
            BanTarget {
                addr: mask(self.addr, prefix),
                prefix,
            }
        }
    }
}

impl FromStr for BanTarget {
    type Err = InvalidTarget;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn fold_mapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// `addr` with every bit past `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// The IPv6 netmask of `prefix` bits, e.g. `ffff:ffff:ffff:ffff::` for 64.
pub fn v6_mask(prefix: u8) -> Ipv6Addr {
    Ipv6Addr::from(u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn families() {
        assert_eq!(BanTarget::parse("10.0.0.0/8").unwrap().family(), Family::V4);
        assert_eq!(BanTarget::parse("::1").unwrap().family(), Family::V6);
        assert_eq!(Family::from_code(Family::V6.code()), Some(Family::V6));
        assert_eq!(Family::from_code(5), None);
    }

    #[test]
    fn parses_addresses_and_networks() {
        let t = BanTarget::parse("192.0.2.7").unwrap();
        assert!(t.is_host());
        assert_eq!(t.to_string(), "192.0.2.7");
        let t = BanTarget::parse("2001:DB8::1").unwrap();
        assert_eq!(t.to_string(), "2001:db8::1");
        let t = BanTarget::parse("10.1.0.0/16").unwrap();
        assert_eq!((t.prefix(), t.is_host()), (16, false));
        assert_eq!(t.to_string(), "10.1.0.0/16");
        assert_eq!(
            BanTarget::parse("10.1.2.3/32").unwrap().to_string(),
            "10.1.2.3"
        );
        // IPv4-mapped IPv6 is folded, as source.ip is.
        assert_eq!(
            BanTarget::parse("::ffff:192.0.2.9").unwrap().to_string(),
            "192.0.2.9"
        );
        assert_eq!(
            BanTarget::parse("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.4 timeout 1s }; delete table inet logward",
            "1.2.3.4, 5.6.7.8",
            "1.2.3.4}",
            "1.2.3",
            "01.2.3.4",
            "256.1.1.1",
            "host.example",
            "fe80::1%eth0",
            "[2001:db8::1]",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/33",
            "10.0.0.0/0008",
            "10.0.0.1/24",
            "0.0.0.0/0",
            "10.0.0.0/7",
            "2000::/3",
            "0.0.0.0",
            "::",
            "1.2.3.4\n",
            "1.2.3.4\0",
        ] {
            assert!(BanTarget::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn widening_and_containment() {
        let a = BanTarget::parse("2001:db8:1:2:aaaa::1").unwrap();
        let w = a.widened_to(64);
        assert_eq!(w.to_string(), "2001:db8:1:2::/64");
        assert!(w.contains(&a));
        assert!(!a.contains(&w));
        let v4 = BanTarget::parse("10.0.0.0/8").unwrap();
        assert!(v4.contains(&BanTarget::parse("10.200.1.2").unwrap()));
        assert!(!v4.contains(&BanTarget::parse("11.0.0.1").unwrap()));
        assert!(!v4.contains(&w));
        assert_eq!(v6_mask(64).to_string(), "ffff:ffff:ffff:ffff::");
    }
}
