//! Counters over sliding windows, bounded in keys and in hits per key.
//!
//! A key is the bytes of its fields (written by the caller into a reused buffer), so raising
//! an existing key allocates nothing. Keys are hashed with SipHash under a random key: the
//! addresses and user names that make keys are chosen by attackers.
//! When a table is full, expired keys are swept; if that frees less than a tenth of it, the
//! least recently hit tenth is evicted (counted in [`Counter::evicted`]).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, Default)]
struct Entry {
    /// Hit times, oldest first (plain counters).
    hits: VecDeque<Millis>,
    /// (hash of value, last seen) for distinct counters.
    seen: Vec<(u64, Millis)>,
    /// The key cannot be raised before this time (a reset with grace).
    grace_until: Millis,
    /// The latest hit or reset.
    last: Millis,
}

impl Entry {
    fn expires(&self, window: Millis) -> Millis {
        (self.last + window).max(self.grace_until)
    }
}

/// One named counter: a window, whether it counts distinct values, and its keys.
#[derive(Debug)]
pub struct Counter {
    window: Millis,
    distinct: bool,
    max_keys: usize,
    max_hits: usize,
    map: HashMap<Box<[u8]>, Entry, RandomState>,
    values: RandomState,
    /// Keys evicted because the table was full (a metric: a flood is under way).
    pub evicted: u64,
}

impl Counter {
    pub fn new(window_secs: i64, distinct: bool, max_keys: usize, max_hits: usize) -> Counter {
        Counter {
            window: window_secs.saturating_mul(1000),
            distinct,
            max_keys: max_keys.max(1),
            max_hits: max_hits.max(1),
            map: HashMap::default(),
            values: RandomState::new(),
            evicted: 0,
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counts a hit (of `value`, for a distinct counter) on `key` at `now`; returns the
    /// count in the window, or 0 when the key is in its grace period (nothing counted).
    pub fn raise(&mut self, key: &[u8], value: Option<&[u8]>, now: Millis) -> u64 {
        let vhash = match (self.distinct, value) {
            (true, Some(v)) => self.values.hash_one(v),
            _ => 0,
        };
        // One lookup when the key exists (the common case under attack).
        if let Some(e) = self.map.get_mut(key) {
            return Self::hit(e, self.window, self.distinct, self.max_hits, vhash, now);
        }
        if self.map.len() >= self.max_keys {
            self.make_room(now);
        }
        let e = self.map.entry(key.into()).or_default();
        Self::hit(e, self.window, self.distinct, self.max_hits, vhash, now)
    }

    fn hit(
        e: &mut Entry,
        window: Millis,
        distinct: bool,
        max_hits: usize,
        vhash: u64,
        now: Millis,
    ) -> u64 {
        let since = now - window;
        if now < e.grace_until {
            return 0;
        }
        e.last = e.last.max(now);
        if distinct {
            e.seen.retain(|&(_, t)| t > since);
            let full = e.seen.len() >= max_hits;
            match e.seen.iter_mut().find(|(v, _)| *v == vhash) {
                Some(slot) => slot.1 = slot.1.max(now),
                None if !full => e.seen.push((vhash, now)),
                None => {}
            }
            e.seen.len() as u64
        } else {
            while e.hits.front().is_some_and(|&t| t <= since) {
                e.hits.pop_front();
            }
            if e.hits.len() >= max_hits {
                e.hits.pop_front();
            }
            e.hits.push_back(now);
            e.hits.len() as u64
        }
    }

    /// The count in the window without raising (0 for an unknown key or one in grace).
    pub fn get(&self, key: &[u8], now: Millis) -> u64 {
        let since = now - self.window;
        match self.map.get(key) {
            Some(e) if now >= e.grace_until => {
                if self.distinct {
                    e.seen.iter().filter(|&&(_, t)| t > since).count() as u64
                } else {
                    e.hits.iter().filter(|&&t| t > since).count() as u64
                }
            }
            _ => 0,
        }
    }

    /// Forgets the key's hits; with a grace period, the key cannot be raised until it ends.
    pub fn reset(&mut self, key: &[u8], grace_secs: i64, now: Millis) {
        if grace_secs <= 0 {
            if let Some(e) = self.map.get_mut(key) {
                if e.grace_until <= now {
                    self.map.remove(key);
                } else {
                    e.hits.clear();
                    e.seen.clear();
                }
            }
            return;
        }
        if !self.map.contains_key(key) && self.map.len() >= self.max_keys {
            self.make_room(now);
        }
        let e = self.map.entry(key.into()).or_default();
        e.hits.clear();
        e.seen.clear();
        e.grace_until = e.grace_until.max(now + grace_secs.saturating_mul(1000));
        e.last = e.last.max(now);
    }

    fn make_room(&mut self, now: Millis) {
        let window = self.window;
        self.map.retain(|_, e| e.expires(window) > now);
        let target = self.max_keys - self.max_keys / 10 - 1;
        if self.map.len() <= target {
            return;
        }
        let excess = self.map.len() - target;
        let mut lasts: Vec<Millis> = self.map.values().map(|e| e.last).collect();
        let (_, cut, _) = lasts.select_nth_unstable(excess - 1);
        let cut = *cut;
        let mut removed = 0usize;
        self.map.retain(|_, e| {
            if removed < excess && e.last <= cut {
                removed += 1;
                false
            } else {
                true
            }
        });
        self.evicted += removed as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    #[test]
    fn sliding_window_counts() {
        let mut c = Counter::new(600, false, 10, 100);
        for i in 0..5 {
            assert_eq!(c.raise(b"a", None, i * MIN), i as u64 + 1);
        }
        // At 10:00 the hit of 0:00 has left the window.
        assert_eq!(c.raise(b"a", None, 10 * MIN), 5);
        assert_eq!(c.get(b"a", 10 * MIN), 5);
        assert_eq!(c.get(b"a", 30 * MIN), 0);
        assert_eq!(c.get(b"b", 0), 0);
    }

    #[test]
    fn distinct_counts_values_once() {
        let mut c = Counter::new(600, true, 10, 100);
        assert_eq!(c.raise(b"k", Some(b"x"), 0), 1);
        assert_eq!(c.raise(b"k", Some(b"x"), 1), 1);
        assert_eq!(c.raise(b"k", Some(b"y"), 2), 2);
        assert_eq!(c.raise(b"k", Some(b"z"), 11 * MIN), 1);
    }

    #[test]
    fn reset_with_grace_blocks_raising() {
        let mut c = Counter::new(600, false, 10, 100);
        c.raise(b"a", None, 0);
        c.reset(b"a", 3600, MIN);
        assert_eq!(c.raise(b"a", None, 2 * MIN), 0);
        assert_eq!(c.get(b"a", 2 * MIN), 0);
        assert_eq!(c.raise(b"a", None, 62 * MIN), 1);
        c.reset(b"a", 0, 63 * MIN);
        assert!(c.is_empty());
    }

    #[test]
    fn hits_per_key_saturate() {
        let mut c = Counter::new(600, false, 10, 3);
        for i in 0..10 {
            c.raise(b"a", None, i);
        }
        assert_eq!(c.get(b"a", 10), 3);
    }

    #[test]
    fn a_flood_of_a_million_keys_stays_bounded() {
        let mut c = Counter::new(600, false, 10_000, 100);
        let mut max = 0;
        for i in 0u32..1_000_000 {
            c.raise(&i.to_be_bytes(), None, i as Millis);
            max = max.max(c.len());
        }
        assert!(max <= 10_000, "{max}");
        assert!(c.evicted >= 990_000, "{}", c.evicted);
        // The most recent keys survive.
        assert_eq!(c.get(&999_999u32.to_be_bytes(), 1_000_000), 1);
    }
}
