//! (client, domain) dedup: a client asking the same name again within the window costs no
//! look-up. Bounded: the least recently seen pair is forgotten first, so memory stays flat
//! whatever the number of clients and names (a forgotten pair is only looked up again).

use std::hash::BuildHasher;
use std::net::IpAddr;

use hashlink::LruCache;

/// Pairs seen, by a keyed 64-bit hash of (client, name): no string is kept or allocated per
/// query. The key is random per process, so names cannot be chosen to collide; a collision
/// by chance (about 1 in 10^10 at 100 000 pairs) only skips one look-up.
pub struct Dedup {
    window_ms: i64,
    seen: LruCache<u64, i64>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Dedup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dedup")
            .field("window_ms", &self.window_ms)
            .field("len", &self.seen.len())
            .finish()
    }
}

impl Dedup {
    /// `window_ms` 0 turns dedup off.
    pub fn new(window_ms: i64, max_entries: usize) -> Dedup {
        Dedup {
            window_ms,
            seen: LruCache::new(max_entries.max(1)),
            hasher: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether (client, name) was already seen within the window before `now_ms`. A first
    /// sight (or one after the window) opens a new window from `now_ms`.
    pub fn repeat(&mut self, client: Option<IpAddr>, name: &str, now_ms: i64) -> bool {
        if self.window_ms <= 0 {
            return false;
        }
        let key = self.hasher.hash_one((client, name));
        match self.seen.get_mut(&key) {
            // An event older than the window's start (sources interleave) is still within it.
            Some(start) if now_ms - *start < self.window_ms => true,
            Some(start) => {
                *start = now_ms;
                false
            }
            None => {
                self.seen.insert(key, now_ms);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_a_repeat_and_memory_is_bounded() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut d = Dedup::new(60_000, 3);
        assert!(!d.repeat(Some(a), "x.test", 0));
        for t in 1..1000 {
            assert!(d.repeat(Some(a), "x.test", t), "{t}");
        }
        assert!(!d.repeat(Some(b), "x.test", 10), "another client");
        assert!(!d.repeat(Some(a), "y.test", 10), "another name");
        assert!(!d.repeat(Some(a), "x.test", 60_000), "the window is over");
        assert!(d.repeat(Some(a), "x.test", 60_001));
        for i in 0..100 {
            d.repeat(Some(a), &format!("n{i}.test"), 70_000);
        }
        assert_eq!(d.len(), 3, "bounded");
        assert!(
            !d.repeat(Some(a), "x.test", 70_001),
            "forgotten: looked up again"
        );
    }

    #[test]
    fn a_zero_window_is_off() {
        let mut d = Dedup::new(0, 10);
        assert!(!d.repeat(None, "x.test", 0));
        assert!(!d.repeat(None, "x.test", 0));
        assert!(d.is_empty());
    }
}
