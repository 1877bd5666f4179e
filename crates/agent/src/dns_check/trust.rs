//! Trusted clients, domains and query types: dropped before any look-up (the seed's
//! logstash filters; fail2ban's `ignoreip`).

use std::net::IpAddr;

/// An address network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.0.0/8`, `192.0.2.7` (a /32), `2001:db8::/32`; host bits after the prefix are
    /// ignored. An IPv4-mapped IPv6 address is taken as the IPv4 one.
    pub fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = canonical(a.trim().parse().ok()?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn top(bits: u128, width: u32, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - u32::from(prefix))
            }
        }
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                top(u32::from(n).into(), 32, self.prefix)
                    == top(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                top(u128::from(n), 128, self.prefix) == top(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// `::ffff:192.0.2.7` is `192.0.2.7` (a dual-stack server logs IPv4 clients that way).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What is trusted (globally, or for one source on top of the global list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    pub clients: Vec<Net>,
    /// Lower case, no trailing dot.
    pub domains: Vec<String>,
    /// Upper case.
    pub query_types: Vec<String>,
}

/// Why a query was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dropped {
    Client,
    Domain,
    QueryType,
}

impl Trust {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.domains.is_empty() && self.query_types.is_empty()
    }

    /// Whether the query is trusted, and by what.
    pub fn drops(
        &self,
        client: Option<IpAddr>,
        name: &str,
        qtype: Option<&str>,
    ) -> Option<Dropped> {
        if let Some(ip) = client {
            if self.clients.iter().any(|n| n.contains(ip)) {
                return Some(Dropped::Client);
            }
        }
        if self.domains.iter().any(|d| under(name, d)) {
            return Some(Dropped::Domain);
        }
        if let Some(q) = qtype {
            if self.query_types.iter().any(|t| t.eq_ignore_ascii_case(q)) {
                return Some(Dropped::QueryType);
            }
        }
        None
    }
}

/// Whether `name` is `suffix` or a name under it (label boundaries: `notcorp.example` is
/// not under `corp.example`). Both lower case without a trailing dot; `name` is compared
/// case-insensitively all the same.
pub fn under(name: &str, suffix: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() < suffix.len() {
        return false;
    }
    let cut = name.len() - suffix.len();
    let (Some(head), Some(tail)) = (name.get(..cut), name.get(cut..)) else {
        return false;
    };
    tail.eq_ignore_ascii_case(suffix) && (head.is_empty() || head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_match_by_prefix_and_mapped_addresses_as_ipv4() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.0.9")));
        assert!(Net::parse("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        assert!(!Net::parse("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
        assert!(Net::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8:1::5")));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.1")));
        assert!(!Net::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        for bad in ["10.0.0.0/33", "example.com", "", "1.2.3.4/x", "::/129"] {
            assert_eq!(Net::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn domain_suffixes_match_on_label_boundaries() {
        assert!(under("corp.example", "corp.example"));
        assert!(under("a.b.corp.example", "corp.example"));
        assert!(under("A.Corp.Example.", "corp.example"));
        assert!(!under("notcorp.example", "corp.example"));
        assert!(!under("corp.example.net", "corp.example"));
        assert!(!under("example", "corp.example"));
    }

    #[test]
    fn a_trusted_client_domain_or_type_drops_the_query() {
        let t = Trust {
            clients: vec![Net::parse("192.168.0.0/16").unwrap()],
            domains: vec!["in-addr.arpa".into()],
            query_types: vec!["SOA".into()],
        };
        assert_eq!(
            t.drops(Some(ip("192.168.3.4")), "evil.test", Some("A")),
            Some(Dropped::Client)
        );
        assert_eq!(
            t.drops(Some(ip("10.0.0.1")), "4.3.2.1.in-addr.arpa", Some("PTR")),
            Some(Dropped::Domain)
        );
        assert_eq!(
            t.drops(Some(ip("10.0.0.1")), "evil.test", Some("soa")),
            Some(Dropped::QueryType)
        );
        assert_eq!(t.drops(Some(ip("10.0.0.1")), "evil.test", Some("A")), None);
        assert_eq!(t.drops(None, "evil.test", None), None);
    }
}
