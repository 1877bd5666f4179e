//! [`IpSet`]: addresses and CIDR networks (IPv4 and IPv6), matched against the addresses a
//! DNS answer resolved to (`dns.resolved_ip`) by the longest listed prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustc_hash::FxHashMap;

/// A network: its address (host bits cleared) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl std::str::FromStr for Net {
    type Err = String;

    /// `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`; host bits after the prefix are cleared
    /// (lists write `192.0.2.1/24` for the network).
    fn from_str(s: &str) -> Result<Net, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => full,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= full => n,
                _ => return Err(format!("{p:?} is not a prefix length (0–{full})")),
            },
        };
        Ok(Net::new(addr, prefix))
    }
}

impl Net {
    /// The network of `addr`/`prefix` (clamped to the family's width), host bits cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Net {
        let (bits, full) = key(addr);
        let prefix = prefix.min(full);
        let masked = mask(bits, prefix, full);
        let addr = match addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(masked as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(masked)),
        };
        Net { addr, prefix }
    }
}

/// The address as bits and its family's width; an IPv4-mapped IPv6 address is its IPv4 one.
fn key(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), 32),
            None => (u128::from(a), 128),
        },
    }
}

fn mask(bits: u128, prefix: u8, full: u8) -> u128 {
    let host = u32::from(full - prefix);
    if host >= 128 {
        0
    } else {
        bits & !((1u128 << host) - 1)
    }
}

/// A built set of networks.
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    nets: Vec<Net>,
    /// (family width, prefix, masked bits) → index in `nets`.
    index: FxHashMap<(u8, u8, u128), u32>,
    /// The prefix lengths present, longest first, per family.
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
}

impl IpSet {
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Adds a network; false if it was already there.
    pub fn insert(&mut self, net: Net) -> bool {
        let (bits, full) = key(net.addr);
        let net = Net::new(net.addr, net.prefix);
        let k = (full, net.prefix, mask(bits, net.prefix, full));
        if self.index.contains_key(&k) {
            return false;
        }
        self.index.insert(k, self.nets.len() as u32);
        self.nets.push(net);
        let prefixes = if full == 32 {
            &mut self.v4_prefixes
        } else {
            &mut self.v6_prefixes
        };
        if let Err(at) = prefixes.binary_search_by(|p| net.prefix.cmp(p)) {
            prefixes.insert(at, net.prefix);
        }
        true
    }

    /// The longest listed network holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<Net> {
        let (bits, full) = key(ip);
        let prefixes = if full == 32 {
            &self.v4_prefixes
        } else {
            &self.v6_prefixes
        };
        prefixes
            .iter()
            .find_map(|&p| self.index.get(&(full, p, mask(bits, p, full))))
            .map(|&i| self.nets[i as usize])
    }

    /// Approximate heap bytes (the table's buckets and the list).
    pub fn heap_bytes(&self) -> usize {
        self.nets.capacity() * std::mem::size_of::<Net>()
            + self.index.capacity() * (std::mem::size_of::<((u8, u8, u128), u32)>() + 1)
    }

    pub fn iter(&self) -> impl Iterator<Item = Net> + '_ {
        self.nets.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn addresses_and_networks_match_by_the_longest_prefix() {
        let mut s = IpSet::default();
        for n in [
            "192.0.2.0/24",
            "192.0.2.7",
            "10.0.0.0/8",
            "2001:db8::/32",
            "2001:db8:1::1",
        ] {
            assert!(s.insert(n.parse().expect("net")), "{n}");
        }
        assert_eq!(
            s.lookup(ip("192.0.2.7")).map(|n| n.to_string()),
            Some("192.0.2.7".into())
        );
        assert_eq!(
            s.lookup(ip("192.0.2.8")).map(|n| n.to_string()),
            Some("192.0.2.0/24".into())
        );
        assert_eq!(
            s.lookup(ip("10.200.1.1")).map(|n| n.to_string()),
            Some("10.0.0.0/8".into())
        );
        assert_eq!(
            s.lookup(ip("::ffff:10.1.2.3")).map(|n| n.to_string()),
            Some("10.0.0.0/8".into())
        );
        assert_eq!(
            s.lookup(ip("2001:db8:1::1")).map(|n| n.to_string()),
            Some("2001:db8:1::1".into())
        );
        assert_eq!(
            s.lookup(ip("2001:db8:ffff::1")).map(|n| n.to_string()),
            Some("2001:db8::/32".into())
        );
        for miss in ["192.0.3.1", "11.0.0.1", "2001:db9::1", "::1"] {
            assert_eq!(s.lookup(ip(miss)), None, "{miss}");
        }
    }

    #[test]
    fn host_bits_are_cleared_and_duplicates_kept_once() {
        let mut s = IpSet::default();
        assert!(s.insert("192.0.2.9/24".parse().expect("net")));
        assert!(!s.insert("192.0.2.0/24".parse().expect("net")));
        assert_eq!(
            s.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["192.0.2.0/24"]
        );
        let mut all = IpSet::default();
        all.insert("0.0.0.0/0".parse().expect("net"));
        assert!(all.lookup(ip("203.0.113.5")).is_some());
        assert!(all.lookup(ip("2001:db8::1")).is_none());
    }

    #[test]
    fn bad_networks_say_why() {
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "300.1.1.1",
            "example.com",
            "1.2.3.4/x",
            "",
        ] {
            assert!(bad.parse::<Net>().is_err(), "{bad}");
        }
    }
}
