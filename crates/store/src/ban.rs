//! [`BanTarget`]: an address or network to ban, validated with std's `IpAddr` parser and kept
//! in one canonical text form (the form stored, compared and handed to nftables).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::StoreError;

/// Address family of a ban, which decides the nftables set it goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    pub(crate) fn code(self) -> i64 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Family> {
        match code {
            4 => Some(Family::V4),
            6 => Some(Family::V6),
            _ => None,
        }
    }
}

/// One address (`192.0.2.7`, `2001:db8::7`) or network (`192.0.2.0/24`, `2001:db8::/64`).
///
/// Parsing is strict: the address goes through std's `IpAddr` parser (no zone ids, no
/// leading-zero octets), the prefix is 0–32 / 0–128 decimal digits, and a network with host
/// bits set (`10.1.2.3/8`) is refused rather than silently widened or narrowed. The canonical
/// form folds IPv4-mapped IPv6 (`::ffff:192.0.2.7` → `192.0.2.7`), compresses IPv6, and writes
/// a full-length prefix as a plain address (`192.0.2.7/32` → `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BanTarget {
    addr: IpAddr,
    prefix: u8,
}

impl BanTarget {
    /// Parses and validates a target.
    pub fn parse(s: &str) -> Result<BanTarget, StoreError> {
        let bad = |why: &str| StoreError::invalid("ban target", format!("{s:?}: {why}"));
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the prefix length is not a number"));
                }
                let n: u8 = p
                    .parse()
                    .map_err(|_| bad("the prefix length is too long"))?;
                if n > max {
                    return Err(bad("the prefix length is too long for the address family"));
                }
                n
            }
        };
        BanTarget::new(addr, prefix).map_err(|why| bad(&why))
    }

    /// A target from an address and prefix length (full length for a single address).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<BanTarget, String> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        let masked = match addr {
            IpAddr::V4(v4) => {
                if prefix > 32 {
                    return Err("the prefix length is too long for IPv4".into());
                }
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                if prefix > 128 {
                    return Err("the prefix length is too long for IPv6".into());
                }
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        if masked != addr {
            return Err(format!(
                "host bits set after the prefix (the network is {masked}/{prefix})"
            ));
        }
        Ok(BanTarget { addr, prefix })
    }

    /// The address (the network address for a network).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length (32 or 128 for a single address).
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

    /// Whether this is a network rather than a single address.
    pub fn is_network(&self) -> bool {
        self.prefix
            < match self.addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            }
    }
}

impl From<IpAddr> for BanTarget {
    fn from(addr: IpAddr) -> BanTarget {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => BanTarget {
                    addr: IpAddr::V4(v4),
                    prefix: 32,
                },
                None => BanTarget { addr, prefix: 128 },
            },
            IpAddr::V4(_) => BanTarget { addr, prefix: 32 },
        }
    }
}

impl FromStr for BanTarget {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<BanTarget, StoreError> {
        BanTarget::parse(s)
    }
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_network() {
            write!(f, "{}/{}", self.addr, self.prefix)
        } else {
            write!(f, "{}", self.addr)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        match BanTarget::parse(s) {
            Ok(t) => t.to_string(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("192.0.2.7"), "192.0.2.7");
        assert_eq!(canon("192.0.2.7/32"), "192.0.2.7");
        assert_eq!(canon("192.0.2.0/24"), "192.0.2.0/24");
        assert_eq!(canon("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(canon("2001:0db8:0000::0007"), "2001:db8::7");
        assert_eq!(canon("2001:db8::/64"), "2001:db8::/64");
        assert_eq!(canon("2001:db8::7/128"), "2001:db8::7");
        assert_eq!(canon("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(canon("::ffff:192.0.2.0/120"), "192.0.2.0/24");
        assert_eq!(
            BanTarget::parse("10.0.0.0/8").map(|t| t.family()).ok(),
            Some(Family::V4)
        );
        assert_eq!(
            BanTarget::parse("::1").map(|t| t.family()).ok(),
            Some(Family::V6)
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "host.example",
            "192.0.2",
            "192.0.2.300",
            "192.030.0.6",
            "fe80::1%eth0",
            "192.0.2.7/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0/+8",
            "192.0.2.0/-1",
            "10.1.2.3/8",
            "2001:db8::1/64",
            " 192.0.2.7",
            "192.0.2.7; nft flush ruleset",
        ] {
            assert!(BanTarget::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let msg = BanTarget::parse("10.1.2.3/8").err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("invalid ban target: \"10.1.2.3/8\": host bits set after the prefix (the network is 10.0.0.0/8)")
        );
    }

    #[test]
    fn from_ip_folds_mapped() {
        let ip: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let t = BanTarget::from(ip);
        assert_eq!(t.to_string(), "198.51.100.1");
        assert!(!t.is_network());
    }
}
