//! A map that never holds more than a fixed number of keys and forgets the least recently
//! used first — approximately: two generations, the current one and the one before. A key
//! touched is moved to the current generation; when the current one is full the one before
//! is dropped whole and the current one takes its place. So a key used within the last
//! `capacity / 2` new keys is always kept, and no key costs more than a hash-map slot (no
//! linked list, no timestamps to scan).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::Hash;

/// See the module doc. Keyed by std's randomly keyed SipHash: the keys come from the
/// network (client addresses, names), and FxHash both clusters such keys in hashbrown's
/// probe groups (measured: 2x slower here) and lets a sender choose colliding names.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    cur: HashMap<K, V, RandomState>,
    old: HashMap<K, V, RandomState>,
    hasher: RandomState,
    half: usize,
    /// Keys dropped because the map was full (a metric: more keys are live than it holds).
    pub evicted: u64,
}

impl<K: Hash + Eq + Copy, V> BoundedMap<K, V> {
    /// A map of at most `capacity` keys (at least 2).
    pub fn new(capacity: usize) -> BoundedMap<K, V> {
        let hasher = RandomState::new();
        BoundedMap {
            cur: HashMap::with_hasher(hasher.clone()),
            old: HashMap::with_hasher(hasher.clone()),
            hasher,
            half: (capacity / 2).max(1),
            evicted: 0,
        }
    }

    /// The value of `k`, made by `make` when `k` is not (or no longer) held; `k` becomes
    /// the most recently used.
    pub fn touch(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.cur.contains_key(&k) {
            let v = match self.old.remove(&k) {
                Some(v) => v,
                None => make(),
            };
            if self.cur.len() >= self.half {
                self.evicted += self.old.len() as u64;
                // A map that filled once will fill again: no growing by doubling this time.
                let next = HashMap::with_capacity_and_hasher(self.half, self.hasher.clone());
                self.old = std::mem::replace(&mut self.cur, next);
            }
            return self.cur.entry(k).or_insert(v);
        }
        self.cur.entry(k).or_insert_with(make)
    }

    /// The value of `k` if held, without making it the most recently used.
    pub fn peek(&self, k: &K) -> Option<&V> {
        self.cur.get(k).or_else(|| self.old.get(k))
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.cur.len() + self.old.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity_and_keeps_recent_keys() {
        let mut m = BoundedMap::new(100);
        for i in 0..10_000u32 {
            *m.touch(i, || 0) += 1;
            // A key used all along is never dropped.
            *m.touch(u32::MAX, || 0) += 1;
            assert!(m.len() <= 100);
        }
        assert_eq!(m.peek(&u32::MAX), Some(&10_000));
        assert_eq!(m.peek(&9_999), Some(&1));
        assert_eq!(m.peek(&0), None);
        assert!(m.evicted >= 9_800, "{}", m.evicted);
    }

    #[test]
    fn a_key_from_the_old_generation_keeps_its_value() {
        let mut m = BoundedMap::new(4);
        *m.touch(1, || 10) += 1;
        m.touch(2, || 0);
        m.touch(3, || 0); // 1 and 2 move to the old generation
        assert_eq!(*m.touch(1, || 0), 11);
        assert!(!m.is_empty());
    }
}
