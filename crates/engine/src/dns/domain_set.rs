//! [`DomainSet`]: a set of domain names matched by a name **and every parent suffix**
//! (`a.b.evil.com` hits a set holding `evil.com`; `notevil.com` does not), in flat arrays.
//!
//! The names sit end to end in one byte arena; an open-addressing table (linear probing,
//! load ≤ 3/4) maps a name's hash to its index, with 32 more bits of the hash beside the
//! index so that a miss rarely reads the arena. The hash is computed right to left, byte by
//! byte, so one pass over a query yields the hash of each of its suffixes at each dot: a
//! look-up costs one pass over the name and one probe per label. Measured against sorted
//! reversed names with binary search and a reversed-label trie in docs/BENCHMARKS.md (DNS).

use crate::dns::name::MAX_NAME;

/// Suffixes kept inline; a query with more labels spills the rest to the heap.
const INLINE_SUFFIXES: usize = 16;
/// Bit of an entry's end offset saying it was listed as `*.name` (subdomains only).
const SUBDOMAINS_ONLY: u32 = 1 << 31;
const EMPTY: u64 = 0;

/// One step of the right-to-left hash (FxHash's), over the lower-cased byte.
#[inline(always)]
fn step(h: u64, b: u8) -> u64 {
    (h.rotate_left(5) ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// Spreads the hash's entropy into the bits the table uses (MurmurHash3's finaliser).
#[inline(always)]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of a whole name (as [`Suffixes`] computes it for the suffix starting at 0).
fn hash_name(name: &[u8]) -> u64 {
    finish(name.iter().rev().fold(0, |h, &b| step(h, b)))
}

/// The hashes of a query's suffixes that could be listed names, shortest first: `com`,
/// `evil.com`, `a.evil.com`.
pub struct Suffixes<'q> {
    name: &'q [u8],
    /// (hash, start) of the first suffixes, then of the rest.
    inline: [(u64, usize); INLINE_SUFFIXES],
    len: usize,
    spill: Vec<(u64, usize)>,
}

impl std::fmt::Debug for Suffixes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suffixes")
            .field("name", &String::from_utf8_lossy(self.name))
            .field("len", &self.len)
            .finish()
    }
}

impl<'q> Suffixes<'q> {
    /// The suffixes of `query` (a trailing dot is ignored; case is folded). A query longer
    /// than any listed name can be still matches by its parents: only its last
    /// [`MAX_NAME`] characters are hashed.
    pub fn new(query: &'q str) -> Suffixes<'q> {
        let mut name = query.as_bytes();
        if let Some(rest) = name.strip_suffix(b".") {
            name = rest;
        }
        let mut s = Suffixes {
            name,
            inline: [(0, 0); INLINE_SUFFIXES],
            len: 0,
            spill: Vec::new(),
        };
        if name.is_empty() {
            return s;
        }
        let stop = name.len().saturating_sub(MAX_NAME);
        let mut h = 0u64;
        let mut i = name.len();
        while i > stop {
            i -= 1;
            let b = name[i];
            if b == b'.' {
                // The suffix after this dot; an empty label (`a..b`) is never listed.
                if i + 1 < name.len() {
                    s.push(finish(h), i + 1);
                }
            }
            h = step(h, b);
        }
        if stop == 0 {
            s.push(finish(h), 0);
        }
        s
    }

    fn push(&mut self, h: u64, start: usize) {
        if self.len < INLINE_SUFFIXES {
            self.inline[self.len] = (h, start);
            self.len += 1;
        } else {
            self.spill.push((h, start));
        }
    }

    /// Longest (most specific) first.
    fn longest_first(&self) -> impl Iterator<Item = &(u64, usize)> {
        self.spill
            .iter()
            .rev()
            .chain(self.inline[..self.len].iter().rev())
    }

    /// The query as given, without a trailing dot.
    pub fn name(&self) -> &'q [u8] {
        self.name
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Which entry of a [`DomainSet`] matched a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainMatch<'s> {
    /// The listed name (`evil.com`).
    pub name: &'s str,
    /// Listed as `*.evil.com`: it matched a subdomain.
    pub subdomains_only: bool,
    /// The entry's index in the set (insertion order).
    pub index: u32,
}

impl std::fmt::Display for DomainMatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subdomains_only {
            f.write_str("*.")?;
        }
        f.write_str(self.name)
    }
}

/// A built, read-only set. Built by [`DomainSetBuilder`] (the list loaders) or
/// [`DomainSet::from_names`].
#[derive(Clone, Default)]
pub struct DomainSet {
    names: Box<[u8]>,
    /// End of entry i in `names` (its start is the previous end), [`SUBDOMAINS_ONLY`] or'd in.
    ends: Box<[u32]>,
    /// [`EMPTY`], or the hash's high 32 bits and the entry's index + 1.
    slots: Box<[u64]>,
}

impl std::fmt::Debug for DomainSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainSet")
            .field("len", &self.len())
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

impl DomainSet {
    /// A set of already normalised names (`*.name` lists the subdomains only); names that
    /// are not valid ([`crate::dns::name::normalise`]) are skipped.
    pub fn from_names<'n>(names: impl IntoIterator<Item = &'n str>) -> DomainSet {
        let mut b = DomainSetBuilder::default();
        let mut buf = Vec::new();
        for n in names {
            if let Ok(how) = crate::dns::name::normalise_into(n, &mut buf) {
                b.insert(&buf, how.subdomains_only);
            }
        }
        b.build()
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes the set holds on the heap (arena, offsets, table).
    pub fn heap_bytes(&self) -> usize {
        self.names.len() + self.ends.len() * 4 + self.slots.len() * 8
    }

    fn entry(&self, i: usize) -> (&[u8], bool) {
        let end = self.ends[i];
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] & !SUBDOMAINS_ONLY
        };
        let sub = end & SUBDOMAINS_ONLY != 0;
        (
            &self.names[start as usize..(end & !SUBDOMAINS_ONLY) as usize],
            sub,
        )
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = DomainMatch<'_>> {
        (0..self.len()).map(|i| {
            let (name, subdomains_only) = self.entry(i);
            DomainMatch {
                name: ascii(name),
                subdomains_only,
                index: i as u32,
            }
        })
    }

    /// The index of the entry equal to `name` (case-folded), whose hash is `h`.
    #[inline]
    fn find(&self, h: u64, name: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag {
                let e = (s as u32 - 1) as usize;
                if self.entry(e).0.eq_ignore_ascii_case(name) {
                    return Some(e);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The most specific entry that `query` or one of its parents equals: the name itself
    /// (unless it was listed as `*.name`), else the longest listed parent.
    pub fn lookup(&self, query: &str) -> Option<DomainMatch<'_>> {
        self.lookup_suffixes(&Suffixes::new(query))
    }

    /// [`lookup`](Self::lookup) with the suffixes' hashes computed once for several sets.
    #[inline]
    pub fn lookup_suffixes(&self, q: &Suffixes<'_>) -> Option<DomainMatch<'_>> {
        if q.is_empty() || self.is_empty() {
            return None;
        }
        for &(h, start) in q.longest_first() {
            if let Some(e) = self.find(h, &q.name[start..]) {
                let (name, subdomains_only) = self.entry(e);
                if start == 0 && subdomains_only {
                    continue;
                }
                return Some(DomainMatch {
                    name: ascii(name),
                    subdomains_only,
                    index: e as u32,
                });
            }
        }
        None
    }

    /// Whether `query` or one of its parents is listed.
    pub fn contains(&self, query: &str) -> bool {
        self.lookup(query).is_some()
    }
}

/// The arena holds only the ASCII bytes [`crate::dns::name::normalise_into`] let through.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// What [`DomainSetBuilder::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Already there (a `*.name` after `name`, or the same line twice).
    Duplicate,
    /// The set is full (2 GiB of names or 2³² − 2 entries).
    Full,
}

/// Builds a [`DomainSet`] from normalised names, dropping duplicates.
#[derive(Debug, Default)]
pub struct DomainSetBuilder {
    names: Vec<u8>,
    ends: Vec<u32>,
    slots: Vec<u64>,
}

impl DomainSetBuilder {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds a normalised name ([`crate::dns::name::normalise_into`]); `subdomains_only` for
    /// `*.name`. The name listed plainly and as `*.name` is the plain entry.
    pub fn insert(&mut self, name: &[u8], subdomains_only: bool) -> Inserted {
        if (self.ends.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let h = hash_name(name);
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                break;
            }
            if s >> 32 == tag {
                let e = (s as u32 - 1) as usize;
                let end = self.ends[e];
                let start = if e == 0 {
                    0
                } else {
                    self.ends[e - 1] & !SUBDOMAINS_ONLY
                };
                if &self.names[start as usize..(end & !SUBDOMAINS_ONLY) as usize] == name {
                    if end & SUBDOMAINS_ONLY != 0 && !subdomains_only {
                        self.ends[e] = end & !SUBDOMAINS_ONLY;
                        return Inserted::New;
                    }
                    return Inserted::Duplicate;
                }
            }
            i = (i + 1) & mask;
        }
        let end = self.names.len() + name.len();
        if end >= SUBDOMAINS_ONLY as usize || self.ends.len() >= u32::MAX as usize - 1 {
            return Inserted::Full;
        }
        self.names.extend_from_slice(name);
        self.ends
            .push(end as u32 | if subdomains_only { SUBDOMAINS_ONLY } else { 0 });
        self.slots[i] = (tag << 32) | self.ends.len() as u64;
        Inserted::New
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(64);
        let mut slots = vec![EMPTY; cap];
        let mask = cap - 1;
        let mut start = 0usize;
        for (e, &end) in self.ends.iter().enumerate() {
            let end = (end & !SUBDOMAINS_ONLY) as usize;
            let h = hash_name(&self.names[start..end]);
            start = end;
            let mut i = h as usize & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = ((h >> 32) << 32) | (e as u64 + 1);
        }
        self.slots = slots;
    }

    pub fn build(self) -> DomainSet {
        if self.ends.is_empty() {
            return DomainSet::default();
        }
        DomainSet {
            names: self.names.into_boxed_slice(),
            ends: self.ends.into_boxed_slice(),
            slots: self.slots.into_boxed_slice(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> DomainSet {
        DomainSet::from_names(names.iter().copied())
    }

    #[test]
    fn a_name_and_its_subdomains_match_a_listed_name() {
        let s = set(&["evil.com", "ads.example.org"]);
        for hit in [
            "evil.com",
            "a.evil.com",
            "a.b.evil.com",
            "EVIL.com.",
            "x.ads.example.org",
        ] {
            assert!(s.contains(hit), "{hit}");
        }
        for miss in [
            "notevil.com",
            "com",
            "evil.co",
            "example.org",
            "evil.com.au",
            "vil.com",
            "",
            ".",
        ] {
            assert!(!s.contains(miss), "{miss}");
        }
        let m = s.lookup("x.y.evil.com").expect("hit");
        assert_eq!(
            (m.name, m.subdomains_only, m.to_string().as_str()),
            ("evil.com", false, "evil.com")
        );
    }

    #[test]
    fn the_most_specific_entry_is_the_one_reported() {
        let s = set(&["com", "evil.com", "b.evil.com"]);
        assert_eq!(s.lookup("a.b.evil.com").map(|m| m.name), Some("b.evil.com"));
        assert_eq!(s.lookup("x.evil.com").map(|m| m.name), Some("evil.com"));
        assert_eq!(s.lookup("example.com").map(|m| m.name), Some("com"));
    }

    #[test]
    fn a_wildcard_entry_lists_subdomains_but_not_the_name() {
        let s = set(&["*.evil.com"]);
        assert!(!s.contains("evil.com"));
        let m = s.lookup("a.evil.com").expect("hit");
        assert_eq!(m.to_string(), "*.evil.com");
        // Listed both ways: the plain entry wins, whichever came first.
        for names in [["*.evil.com", "evil.com"], ["evil.com", "*.evil.com"]] {
            let s = set(&names);
            assert_eq!(s.len(), 1);
            assert!(s.contains("evil.com"));
        }
    }

    #[test]
    fn duplicates_are_kept_once() {
        let mut b = DomainSetBuilder::default();
        assert_eq!(b.insert(b"evil.com", false), Inserted::New);
        assert_eq!(b.insert(b"evil.com", false), Inserted::Duplicate);
        assert_eq!(b.insert(b"evil.com", true), Inserted::Duplicate);
        assert_eq!(b.build().len(), 1);
    }

    #[test]
    fn empty_sets_and_odd_queries_never_match() {
        let s = DomainSet::default();
        assert!(!s.contains("evil.com"));
        let s = set(&["evil.com"]);
        for q in ["..", "a..evil.com.", ".evil.com"] {
            // A query with empty labels still matches by its listed parent.
            let _ = s.contains(q);
        }
        assert!(s.contains(".evil.com"));
        let huge = format!("{}evil.com", "a.".repeat(300));
        assert!(s.contains(&huge));
        assert!(!s.contains(&"a".repeat(1000)));
    }

    #[test]
    fn a_large_set_grows_and_finds_every_name() {
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("host{i}.example{}.net", i % 97))
            .collect();
        let s = DomainSet::from_names(names.iter().map(String::as_str));
        assert_eq!(s.len(), names.len());
        for n in &names {
            assert_eq!(
                s.lookup(&format!("x.{n}")).map(|m| m.name),
                Some(n.as_str())
            );
        }
        assert!(!s.contains("example1.net"));
        assert_eq!(s.iter().count(), names.len());
    }
}
