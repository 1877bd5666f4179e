//! [`DomainSet`]: a set of domain names matched by a name **and every parent suffix**
//! (`a.b.evil.com` hits a set holding `evil.com`; `notevil.com` does not), in flat arrays.
//!
//! The names sit end to end in one byte arena; an open-addressing table (linear probing,
//! load ≤ 3/4) holds each name's place in the arena and 23 more bits of its hash, so that a
//! miss rarely reads a name and a hit reads the table and the name only. The hash is computed
//! right to left, byte by byte, so one pass over a query yields the hash of each of its
//! suffixes at each dot: a look-up costs one pass over the name and one probe per label,
//! the probes' first reads issued together. Chosen by measurement against sorted reversed
//! names with binary search and a std `HashSet` (docs/BENCHMARKS.md, DNS threat lists).

use crate::dns::name::MAX_NAME;

/// Suffixes kept inline; a query with more labels spills the rest to the heap.
const INLINE_SUFFIXES: usize = 16;

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
}

impl std::fmt::Display for DomainMatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subdomains_only {
            f.write_str("*.")?;
        }
        f.write_str(self.name)
    }
}

/// A table slot: [`EMPTY`], or the entry itself — where its name is in the arena (offset, 32
/// bits; length, 8 bits, never 0), its [`SUBDOMAINS_ONLY`] bit and 23 more bits of its hash —
/// so that a probe reads the table and, only when those bits agree, the name.
#[derive(Clone, Copy)]
struct Slot(u64);

const EMPTY: u64 = 0;
const LEN_SHIFT: u32 = 32;
const SUBDOMAINS_ONLY: u64 = 1 << 40;
const TAG_SHIFT: u32 = 41;

impl Slot {
    fn new(offset: u32, len: u8, subdomains_only: bool, h: u64) -> Slot {
        let flag = if subdomains_only { SUBDOMAINS_ONLY } else { 0 };
        Slot(u64::from(offset) | (u64::from(len) << LEN_SHIFT) | flag | tag(h))
    }

    fn range(self) -> std::ops::Range<usize> {
        let offset = self.0 as u32 as usize;
        offset..offset + usize::from((self.0 >> LEN_SHIFT) as u8)
    }

    fn subdomains_only(self) -> bool {
        self.0 & SUBDOMAINS_ONLY != 0
    }
}

/// The hash's bits a slot keeps (its top 23; the table index comes from the bottom ones).
#[inline(always)]
fn tag(h: u64) -> u64 {
    (h >> TAG_SHIFT) << TAG_SHIFT
}

const TAG_MASK: u64 = !((1 << TAG_SHIFT) - 1);

/// A built, read-only set. Built by [`DomainSetBuilder`] (the list loaders) or
/// [`DomainSet::from_names`].
#[derive(Clone, Default)]
pub struct DomainSet {
    /// The names end to end (no separators: each slot knows its name's place).
    names: Box<[u8]>,
    /// Open addressing, linear probing, a power of two long, at most 3/4 full.
    slots: Box<[u64]>,
    len: usize,
}

impl std::fmt::Debug for DomainSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainSet")
            .field("len", &self.len)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

impl DomainSet {
    /// A set of names (`*.name` lists the subdomains only); names that are not valid
    /// ([`crate::dns::name::normalise`]) are skipped.
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
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the set holds on the heap (the names and the table).
    pub fn heap_bytes(&self) -> usize {
        self.names.len() + self.slots.len() * 8
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = DomainMatch<'_>> {
        self.slots.iter().filter(|&&s| s != EMPTY).map(|&s| {
            let s = Slot(s);
            DomainMatch {
                name: ascii(&self.names[s.range()]),
                subdomains_only: s.subdomains_only(),
            }
        })
    }

    /// The slot of the entry equal to `name` (case-folded), whose hash is `h`, starting from
    /// `first`, the slot at `h`'s place (already read).
    #[inline]
    fn find(&self, h: u64, name: &[u8], first: u64) -> Option<Slot> {
        let mask = self.slots.len() - 1;
        let want = tag(h);
        let mut i = h as usize & mask;
        let mut s = first;
        loop {
            if s == EMPTY {
                return None;
            }
            if s & TAG_MASK == want && self.names[Slot(s).range()].eq_ignore_ascii_case(name) {
                return Some(Slot(s));
            }
            i = (i + 1) & mask;
            s = self.slots[i];
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
        let mask = self.slots.len() - 1;
        // Every suffix's first slot read before any is looked at: the loads are independent,
        // so their cache misses overlap instead of following one another.
        let mut first = [EMPTY; INLINE_SUFFIXES];
        for (f, &(h, _)) in first.iter_mut().zip(&q.inline[..q.len]) {
            *f = self.slots[h as usize & mask];
        }
        let spilled = q
            .spill
            .iter()
            .rev()
            .map(|&(h, start)| (h, start, self.slots[h as usize & mask]));
        let inline = (0..q.len)
            .rev()
            .map(|i| (q.inline[i].0, q.inline[i].1, first[i]));
        for (h, start, first) in spilled.chain(inline) {
            if let Some(s) = self.find(h, &q.name[start..], first) {
                if start == 0 && s.subdomains_only() {
                    continue;
                }
                return Some(DomainMatch {
                    name: ascii(&self.names[s.range()]),
                    subdomains_only: s.subdomains_only(),
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
    /// The set is full (4 GiB of names), or the name is longer than a name can be.
    Full,
}

/// Builds a [`DomainSet`] from normalised names, dropping duplicates.
#[derive(Debug, Default)]
pub struct DomainSetBuilder {
    names: Vec<u8>,
    slots: Vec<u64>,
    len: usize,
}

impl DomainSetBuilder {
    /// A builder with room for `n` names before its table grows.
    pub fn with_capacity(n: usize) -> DomainSetBuilder {
        let mut b = DomainSetBuilder::default();
        b.resize(table_size(n));
        b.names.reserve(n.saturating_mul(20));
        b
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a normalised name ([`crate::dns::name::normalise_into`]); `subdomains_only` for
    /// `*.name`. The name listed plainly and as `*.name` is the plain entry.
    pub fn insert(&mut self, name: &[u8], subdomains_only: bool) -> Inserted {
        let Ok(len) = u8::try_from(name.len()) else {
            return Inserted::Full;
        };
        if len == 0 {
            return Inserted::Duplicate;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize(table_size(self.len + 1).max(self.slots.len() * 2));
        }
        let h = hash_name(name);
        let mask = self.slots.len() - 1;
        let want = tag(h);
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                break;
            }
            if s & TAG_MASK == want && &self.names[Slot(s).range()] == name {
                if Slot(s).subdomains_only() && !subdomains_only {
                    self.slots[i] = s & !SUBDOMAINS_ONLY;
                    return Inserted::New;
                }
                return Inserted::Duplicate;
            }
            i = (i + 1) & mask;
        }
        let Ok(offset) = u32::try_from(self.names.len()) else {
            return Inserted::Full;
        };
        if offset.checked_add(u32::from(len)).is_none() {
            return Inserted::Full;
        }
        self.names.extend_from_slice(name);
        self.slots[i] = Slot::new(offset, len, subdomains_only, h).0;
        self.len += 1;
        Inserted::New
    }

    /// Re-places every entry in a table of `cap` slots (a power of two).
    fn resize(&mut self, cap: usize) {
        let mut slots = vec![EMPTY; cap];
        let mask = cap - 1;
        for &s in self.slots.iter().filter(|&&s| s != EMPTY) {
            let h = hash_name(&self.names[Slot(s).range()]);
            let mut i = h as usize & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = s;
        }
        self.slots = slots;
    }

    pub fn build(mut self) -> DomainSet {
        if self.len == 0 {
            return DomainSet::default();
        }
        // The table sized for what was inserted (a builder sized for a file's lines may
        // have had comments among them).
        let fit = table_size(self.len);
        if fit < self.slots.len() {
            self.resize(fit);
        }
        self.names.shrink_to_fit();
        DomainSet {
            names: self.names.into_boxed_slice(),
            slots: self.slots.into_boxed_slice(),
            len: self.len,
        }
    }
}

/// The table for `n` entries: a power of two, at most 3/4 full.
fn table_size(n: usize) -> usize {
    (n.saturating_mul(4) / 3 + 1).next_power_of_two().max(64)
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
        let mut b = DomainSetBuilder::with_capacity(1);
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
    fn deep_names_past_the_inline_suffixes_match() {
        let listed: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
        let listed = listed.join(".");
        let s = set(&[&listed, "x.l0.l1"]);
        let query = format!("q0.q1.q2.q3.q4.{listed}");
        assert_eq!(s.lookup(&query).map(|m| m.name), Some(listed.as_str()));
        assert_eq!(s.lookup(&listed).map(|m| m.name), Some(listed.as_str()));
        assert!(!s.contains(&listed[3..]));
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
