//! Counters over sliding windows, bounded in keys and in hits per key.
//!
//! A key is the bytes of its fields (written by the caller into a reused buffer), so raising
//! an existing key allocates nothing. Keys are hashed with SipHash under a random key: the
//! addresses and user names that make keys are chosen by attackers. The engine hashes a
//! key once and hands the hash to every counter keyed by the same fields
//! ([`Counter::raise_hashed`]), so its counters share one [`Keyed`] hasher. Distinct
//! counters keep only that hash of each value; the hasher's key is saved with the engine's
//! snapshot, so values seen before a restart still compare equal after it.
//! When a table is full, expired keys are swept; if that frees less than a tenth of it, the
//! least recently hit tenth is evicted (counted in [`Counter::evicted`]).

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

use crate::snapshot::{Reader, SnapshotError, Writer};

use hashbrown::HashTable;

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

/// A key, its hash under the counter's [`Keyed`] hasher, its entry.
#[derive(Debug)]
struct Slot {
    key: Box<[u8]>,
    hash: u64,
    e: Entry,
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
    map: HashTable<Slot>,
    hasher: Keyed,
    /// Keys evicted because the table was full (a metric: a flood is under way).
    pub evicted: u64,
}

impl Counter {
    pub fn new(window_secs: i64, distinct: bool, max_keys: usize, max_hits: usize) -> Counter {
        Counter::with_hasher(window_secs, distinct, max_keys, max_hits, Keyed::random())
    }

    /// A counter whose keys and values are hashed by `hasher` (see [`Counter::hash`]).
    pub fn with_hasher(
        window_secs: i64,
        distinct: bool,
        max_keys: usize,
        max_hits: usize,
        hasher: Keyed,
    ) -> Counter {
        Counter {
            window: window_secs.saturating_mul(1000),
            distinct,
            max_keys: max_keys.max(1),
            max_hits: max_hits.max(1),
            map: HashTable::new(),
            hasher,
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

    /// The hash of a key or value, as the `*_hashed` methods take it.
    pub fn hash(&self, bytes: &[u8]) -> u64 {
        self.hasher.hash_one(bytes)
    }

    /// Counts a hit (of `value`, for a distinct counter) on `key` at `now`; returns the
    /// count in the window, or 0 when the key is in its grace period (nothing counted).
    pub fn raise(&mut self, key: &[u8], value: Option<&[u8]>, now: Millis) -> u64 {
        let vhash = value.map(|v| self.hash(v));
        self.raise_hashed(key, self.hash(key), vhash, now)
    }

    /// [`Counter::raise`] with the key's and the value's hashes already computed by
    /// [`Counter::hash`] (or by the same [`Keyed`] hasher).
    pub fn raise_hashed(&mut self, key: &[u8], hash: u64, vhash: Option<u64>, now: Millis) -> u64 {
        let vhash = match (self.distinct, vhash) {
            (true, Some(v)) => v,
            _ => 0,
        };
        let (window, distinct, max_hits) = (self.window, self.distinct, self.max_hits);
        // One lookup when the key exists (the common case under attack).
        if let Some(s) = self.map.find_mut(hash, |s| *s.key == *key) {
            return Self::hit(&mut s.e, window, distinct, max_hits, vhash, now);
        }
        if self.map.len() >= self.max_keys {
            self.make_room(now);
        }
        let s = self.insert(key, hash);
        Self::hit(s, window, distinct, max_hits, vhash, now)
    }

    fn insert(&mut self, key: &[u8], hash: u64) -> &mut Entry {
        let slot = Slot {
            key: key.into(),
            hash,
            e: Entry::default(),
        };
        &mut self.map.insert_unique(hash, slot, |s| s.hash).into_mut().e
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
            let end = window_end(e.last, now, window);
            let within = |t: Millis| t > end - window && t <= end;
            e.seen.iter().filter(|&&(_, t)| within(t)).count() as u64
        } else {
            while e.hits.front().is_some_and(|&t| t <= since) {
                e.hits.pop_front();
            }
            if e.hits.len() >= max_hits {
                e.hits.pop_front();
            }
            // Kept sorted: hits come in event time, a little out of order across sources.
            let at = e.hits.partition_point(|&t| t <= now);
            e.hits.insert(at, now);
            let end = window_end(e.last, now, window);
            let from = e.hits.partition_point(|&t| t <= end - window);
            let to = e.hits.partition_point(|&t| t <= end);
            (to - from) as u64
        }
    }

    /// The count in the window without raising (0 for an unknown key or one in grace).
    pub fn get(&self, key: &[u8], now: Millis) -> u64 {
        self.get_hashed(key, self.hash(key), now)
    }

    /// [`Counter::get`] with the key's hash computed.
    pub fn get_hashed(&self, key: &[u8], hash: u64, now: Millis) -> u64 {
        match self.map.find(hash, |s| *s.key == *key).map(|s| &s.e) {
            Some(e) if now >= e.grace_until => {
                let end = window_end(e.last, now, self.window);
                let within = |t: Millis| t > end - self.window && t <= end;
                if self.distinct {
                    e.seen.iter().filter(|&&(_, t)| within(t)).count() as u64
                } else {
                    e.hits.iter().filter(|&&t| within(t)).count() as u64
                }
            }
            _ => 0,
        }
    }

    /// Forgets the key's hits; with a grace period, the key cannot be raised until it ends.
    pub fn reset(&mut self, key: &[u8], grace_secs: i64, now: Millis) {
        self.reset_hashed(key, self.hash(key), grace_secs, now);
    }

    /// [`Counter::reset`] with the key's hash computed.
    pub fn reset_hashed(&mut self, key: &[u8], hash: u64, grace_secs: i64, now: Millis) {
        if grace_secs <= 0 {
            if let Ok(slot) = self.map.find_entry(hash, |s| *s.key == *key) {
                if slot.get().e.grace_until <= now {
                    slot.remove();
                } else {
                    let e = &mut slot.into_mut().e;
                    e.hits.clear();
                    e.seen.clear();
                }
            }
            return;
        }
        let e = match self.map.find_mut(hash, |s| *s.key == *key) {
            Some(s) => &mut s.e,
            None => {
                if self.map.len() >= self.max_keys {
                    self.make_room(now);
                }
                self.insert(key, hash)
            }
        };
        e.hits.clear();
        e.seen.clear();
        e.grace_until = e.grace_until.max(now + grace_secs.saturating_mul(1000));
        e.last = e.last.max(now);
    }

    /// Ends the key's grace period (the ban it was for ended or was lifted), so it counts
    /// again at once; true when it had one.
    pub fn release_hashed(&mut self, key: &[u8], hash: u64) -> bool {
        match self.map.find_mut(hash, |s| *s.key == *key) {
            Some(s) if s.e.grace_until > 0 => {
                s.e.grace_until = 0;
                true
            }
            _ => false,
        }
    }

    fn make_room(&mut self, now: Millis) {
        let window = self.window;
        self.map.retain(|s| s.e.expires(window) > now);
        let target = self.max_keys - self.max_keys / 10 - 1;
        if self.map.len() <= target {
            return;
        }
        let excess = self.map.len() - target;
        let mut lasts: Vec<Millis> = self.map.iter().map(|s| s.e.last).collect();
        let (_, cut, _) = lasts.select_nth_unstable(excess - 1);
        let cut = *cut;
        let mut removed = 0usize;
        self.map.retain(|s| {
            if removed < excess && s.e.last <= cut {
                removed += 1;
                false
            } else {
                true
            }
        });
        self.evicted += removed as u64;
    }
}

/// Where the window a hit at `now` is counted in ends, given the key's latest hit: at the
/// latest hit when `now` arrived late but within a window of it (sources interleave a little
/// out of order: the hit joins the window it belongs to), else at `now` (a backlog read after
/// newer lines counts among its own time, as a replay would).
fn window_end(latest: Millis, now: Millis, window: Millis) -> Millis {
    if latest > now && latest - now < window {
        latest
    } else {
        now
    }
}

/// SipHash-1-3 (what std's `RandomState` uses) under a random 128-bit key that, unlike
/// `RandomState`'s, can be saved and restored: the counters' hashes of distinct values must
/// compare equal across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed(pub u64, pub u64);

impl Keyed {
    /// A fresh key, drawn from the OS-seeded keys of std's `RandomState`.
    pub fn random() -> Keyed {
        let s = RandomState::new();
        Keyed(
            s.hash_one(0x6c6f_6777_6172_6431u64),
            s.hash_one(0x6c6f_6777_6172_6432u64),
        )
    }
}

impl BuildHasher for Keyed {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.0, self.1)
    }
}

impl Counter {
    /// A new, empty counter with the same window and bounds, hashing with `hasher`.
    pub(crate) fn empty_like(&self, hasher: Keyed) -> Counter {
        Counter::with_hasher(0, self.distinct, self.max_keys, self.max_hits, hasher)
            .with_window_ms(self.window)
    }

    fn with_window_ms(mut self, window: Millis) -> Counter {
        self.window = window;
        self
    }

    /// Writes the live keys (those not expired at `now`); the hasher's key is the engine's,
    /// saved once by the snapshot.
    pub(crate) fn save(&self, w: &mut Writer, now: Millis) {
        w.u8(u8::from(self.distinct));
        let live = |s: &&Slot| s.e.expires(self.window) > now;
        w.u32(self.map.iter().filter(live).count() as u32);
        for Slot { key: k, e, .. } in self.map.iter().filter(|s| live(s)) {
            w.bytes(k);
            w.i64(e.last);
            w.i64(e.grace_until);
            if self.distinct {
                w.u32(e.seen.len() as u32);
                for &(v, t) in &e.seen {
                    w.u64(v);
                    w.i64(t);
                }
            } else {
                w.u32(e.hits.len() as u32);
                for &t in &e.hits {
                    w.i64(t);
                }
            }
        }
    }

    /// Reads what [`Counter::save`] wrote into this (empty) counter, under this counter's
    /// window and bounds: expired keys are dropped, the most recent `max_keys` kept. A saved
    /// counter of the other kind (plain vs distinct) is read and discarded. Returns the keys
    /// kept.
    pub(crate) fn load(&mut self, r: &mut Reader<'_>, now: Millis) -> Result<usize, SnapshotError> {
        let distinct = r.u8()? != 0;
        let n = r.u32()? as usize;
        let mut entries = Vec::with_capacity(n.min(r.remaining() / 20));
        for _ in 0..n {
            let key: Box<[u8]> = r.bytes()?.into();
            let mut e = Entry {
                last: r.i64()?,
                grace_until: r.i64()?,
                ..Entry::default()
            };
            let hits = r.u32()? as usize;
            for _ in 0..hits {
                if distinct {
                    let v = (r.u64()?, r.i64()?);
                    if e.seen.len() < self.max_hits {
                        e.seen.push(v);
                    }
                } else {
                    e.hits.push_back(r.i64()?);
                    if e.hits.len() > self.max_hits {
                        e.hits.pop_front();
                    }
                }
            }
            entries.push((key, e));
        }
        if distinct != self.distinct {
            return Ok(0);
        }
        entries.retain(|(_, e)| e.expires(self.window) > now);
        if entries.len() > self.max_keys {
            entries.sort_unstable_by_key(|(_, e)| std::cmp::Reverse(e.last));
            entries.truncate(self.max_keys);
        }
        let kept = entries.len();
        for (key, e) in entries {
            let hash = self.hash(&key);
            self.map
                .insert_unique(hash, Slot { key, hash, e }, |s| s.hash);
        }
        Ok(kept)
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
    fn hits_out_of_order_count_in_the_window_ending_at_their_own_time() {
        let mut c = Counter::new(600, false, 10, 100);
        // Another source's line from an hour earlier arrives after the first one.
        assert_eq!(c.raise(b"a", None, 60 * MIN), 1);
        assert_eq!(c.raise(b"a", None, 0), 1);
        assert_eq!(c.raise(b"a", None, MIN), 2);
        assert_eq!(c.raise(b"a", None, 61 * MIN), 2);
        assert_eq!(c.get(b"a", 61 * MIN), 2);
        // A line a few seconds late joins the window of the lines around it.
        assert_eq!(c.raise(b"a", None, 60 * MIN + 30_000), 3);
        assert_eq!(c.raise(b"a", None, 62 * MIN), 4);
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

    fn round_trip(c: &Counter, into: &mut Counter, now: Millis) -> usize {
        let mut w = Writer::default();
        c.save(&mut w, now);
        let data = w.into_inner();
        let mut r = Reader::new(&data);
        let kept = into.load(&mut r, now).unwrap();
        assert_eq!(r.remaining(), 0);
        kept
    }

    #[test]
    fn saved_counters_count_on_after_loading() {
        let mut c = Counter::new(600, false, 10, 100);
        c.raise(b"a", None, 0);
        c.raise(b"a", None, MIN);
        c.raise(b"old", None, 0);
        c.reset(b"g", 3600, MIN);
        let mut d = Counter::new(600, false, 10, 100);
        // At 10:30 "old" has expired; "a" keeps its 1:00 hit, "g" its grace.
        assert_eq!(round_trip(&c, &mut d, 10 * MIN + MIN / 2), 2);
        assert_eq!(d.raise(b"a", None, 11 * MIN - 1), 2);
        assert_eq!(d.raise(b"g", None, 12 * MIN), 0);
        assert_eq!(d.get(b"old", 11 * MIN), 0);
    }

    #[test]
    fn distinct_values_seen_before_a_restart_are_not_counted_twice() {
        let key = Keyed::random();
        let mut c = Counter::with_hasher(600, true, 10, 100, key);
        c.raise(b"k", Some(b"root"), 0);
        c.raise(b"k", Some(b"admin"), 1);
        // A restart restores the engine's hasher key with the counters.
        let mut d = Counter::with_hasher(600, true, 10, 100, key);
        round_trip(&c, &mut d, 2);
        assert_eq!(d.raise(b"k", Some(b"root"), 3), 2);
        assert_eq!(d.raise(b"k", Some(b"oracle"), 4), 3);
    }

    #[test]
    fn loading_keeps_the_newest_keys_within_the_bound() {
        let mut c = Counter::new(600, false, 100, 100);
        for i in 0u8..50 {
            c.raise(&[i], None, i64::from(i));
        }
        let mut d = Counter::new(600, false, 10, 100);
        assert_eq!(round_trip(&c, &mut d, 50), 10);
        assert_eq!(d.get(&[49], 50), 1);
        assert_eq!(d.get(&[39], 50), 0);
        // A saved plain counter does not load into a distinct one.
        let mut e = Counter::new(600, true, 10, 100);
        assert_eq!(round_trip(&c, &mut e, 50), 0);
        assert!(e.is_empty());
    }
}
