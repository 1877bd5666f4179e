//! IP fragment reassembly, as far as DNS needs: whole datagrams of UDP (a large answer over
//! IPv4, or the IPv6 fragment header), in a bounded table that forgets a datagram whose
//! fragments stop coming (by capture time).

use std::collections::HashMap;
use std::net::IpAddr;

use super::txn::Nanos;

/// Datagrams being reassembled at once; past this the oldest is dropped (counted). At most
/// 64 KiB each: 16 MiB held in the worst case.
pub const MAX_DATAGRAMS: usize = 256;
/// A datagram whose fragments stop coming is dropped after this (RFC 8200 §4.5: 60 s).
pub const TIMEOUT: Nanos = 30_000_000_000;
/// An IP payload is at most 64 KiB.
const MAX_LEN: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

#[derive(Debug)]
struct Partial {
    first: Nanos,
    data: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
    /// The payload's length, once the last fragment came.
    total: Option<usize>,
}

/// What became of one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Kept; the datagram is not whole yet.
    Kept,
    /// The datagram is whole: its payload (the transport header first).
    Whole(Vec<u8>),
    /// Refused: beyond 64 KiB, or overlapping what came with different bytes.
    Bad,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    table: HashMap<FragKey, Partial>,
    /// Datagrams dropped unfinished (timeout or a full table).
    pub dropped: u64,
}

impl Reassembler {
    /// Adds the fragment of `payload` at byte `offset`; `more` is the MF flag.
    pub fn add(
        &mut self,
        key: FragKey,
        ts: Nanos,
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> Outcome {
        let end = offset + payload.len();
        if end > MAX_LEN || (more && payload.is_empty()) {
            return Outcome::Bad;
        }
        if !self.table.contains_key(&key) && self.table.len() >= MAX_DATAGRAMS {
            self.expire(ts.saturating_sub(TIMEOUT));
            if self.table.len() >= MAX_DATAGRAMS {
                if let Some(oldest) = self
                    .table
                    .iter()
                    .min_by_key(|(_, p)| p.first)
                    .map(|(k, _)| *k)
                {
                    self.table.remove(&oldest);
                    self.dropped += 1;
                }
            }
        }
        let p = self.table.entry(key).or_insert_with(|| Partial {
            first: ts,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        });
        if !more {
            match p.total {
                Some(t) if t != end => {
                    self.table.remove(&key);
                    return Outcome::Bad;
                }
                _ => p.total = Some(end),
            }
        }
        if p.total.is_some_and(|t| end > t) {
            self.table.remove(&key);
            return Outcome::Bad;
        }
        if p.data.len() < end {
            p.data.resize(end, 0);
        }
        p.data[offset..end].copy_from_slice(payload);
        insert_range(&mut p.have, offset, end);
        if let (Some(t), [(0, e)]) = (p.total, p.have.as_slice()) {
            if *e == t {
                let mut data = self.table.remove(&key).map(|p| p.data).unwrap_or_default();
                data.truncate(t);
                return Outcome::Whole(data);
            }
        }
        Outcome::Kept
    }

    /// Drops datagrams begun before `before`.
    pub fn expire(&mut self, before: Nanos) {
        let n = self.table.len();
        self.table.retain(|_, p| p.first >= before);
        self.dropped += (n - self.table.len()) as u64;
    }

    /// Datagrams waiting for fragments.
    pub fn waiting(&self) -> usize {
        self.table.len()
    }
}

fn insert_range(have: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    have.push((start, end));
    have.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(have.len());
    for &(s, e) in have.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *have = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id: 7,
            proto: 17,
        }
    }

    #[test]
    fn out_of_order_fragments_make_the_datagram() {
        let mut r = Reassembler::default();
        assert_eq!(r.add(key(), 1, 8, false, b"world"), Outcome::Kept);
        assert_eq!(
            r.add(key(), 2, 0, true, b"hello, w"),
            Outcome::Whole(b"hello, wworld".to_vec())
        );
        assert_eq!(r.waiting(), 0);
    }

    #[test]
    fn unfinished_datagrams_expire_and_are_counted() {
        let mut r = Reassembler::default();
        assert_eq!(r.add(key(), 1, 0, true, b"12345678"), Outcome::Kept);
        r.expire(2);
        assert_eq!((r.waiting(), r.dropped), (0, 1));
        assert_eq!(r.add(key(), 3, 65_530, false, b"0123456789"), Outcome::Bad);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut r = Reassembler::default();
        for id in 0..(MAX_DATAGRAMS as u32 + 10) {
            let k = FragKey { id, ..key() };
            r.add(k, u64::from(id), 0, true, b"12345678");
        }
        assert_eq!(r.waiting(), MAX_DATAGRAMS);
        assert_eq!(r.dropped, 10);
    }
}
