//! Newly seen base domains, per client: the first query a client makes for a registered
//! domain it has not asked for before. Malware's first call home, a phishing link's first
//! click and a new tunnel all start with one. Off by default: on a busy network "new" is
//! common, so it is the weakest finding (`new-domain`).
//!
//! A client is learned for `learn` seconds from its first query before anything it asks is
//! reported, so a restart or a new client does not report everything. Bounded: `clients`
//! clients of `per_client` domains each, least recently active forgotten first (a forgotten
//! client learns again; a forgotten domain is new again).

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::FxHasher;

use super::bounded_map::BoundedMap;

/// Tunables (docs/DNS.md, Heuristics).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDomainSettings {
    /// Seconds a client is learned before its new domains are reported.
    pub learn: i64,
    /// Clients remembered.
    pub clients: usize,
    /// Base domains remembered per client.
    pub per_client: usize,
}

impl Default for NewDomainSettings {
    fn default() -> NewDomainSettings {
        NewDomainSettings {
            learn: 86_400,
            clients: 1024,
            per_client: 1024,
        }
    }
}

#[derive(Debug)]
struct Client {
    since: i64,
    seen: BoundedMap<u64, ()>,
}

/// The per-client sets.
#[derive(Debug)]
pub struct NewlySeen {
    settings: NewDomainSettings,
    clients: BoundedMap<IpAddr, Client>,
}

impl NewlySeen {
    pub fn new(settings: NewDomainSettings) -> NewlySeen {
        NewlySeen {
            clients: BoundedMap::new(settings.clients.max(2)),
            settings,
        }
    }

    /// Records that `client` asked for `base` at `now`; true when that is the first time
    /// and the client's learning time is over.
    pub fn observe(&mut self, now: i64, client: IpAddr, base: &str) -> bool {
        let per_client = self.settings.per_client.max(2);
        let c = self.clients.touch(client, || Client {
            since: now,
            seen: BoundedMap::new(per_client),
        });
        let mut h = FxHasher::default();
        base.hash(&mut h);
        let mut new = false;
        c.seen.touch(h.finish(), || new = true);
        new && now >= c.since + self.settings.learn
    }

    /// The learning time, seconds.
    pub fn learn(&self) -> i64 {
        self.settings.learn
    }

    /// Clients dropped because more were active than `clients`.
    pub fn evicted(&self) -> u64 {
        self.clients.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_after_learning_and_only_once() {
        let mut n = NewlySeen::new(NewDomainSettings {
            learn: 3600,
            ..NewDomainSettings::default()
        });
        let a: IpAddr = "10.0.0.1".parse().expect("addr");
        let b: IpAddr = "10.0.0.2".parse().expect("addr");
        assert!(!n.observe(0, a, "example.com"), "learning");
        assert!(!n.observe(3600, a, "example.com"), "seen while learning");
        assert!(n.observe(3601, a, "evil.example"));
        assert!(!n.observe(3602, a, "evil.example"), "once");
        // Another client learns on its own.
        assert!(!n.observe(3603, b, "evil.example"));
    }

    #[test]
    fn memory_is_bounded() {
        let mut n = NewlySeen::new(NewDomainSettings {
            learn: 0,
            clients: 8,
            per_client: 16,
        });
        for i in 0..1000u32 {
            let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            for d in 0..50 {
                n.observe(0, ip, &format!("d{d}.example"));
            }
        }
        assert!(n.clients.len() <= 8);
        assert!(n.evicted() > 0);
    }
}
