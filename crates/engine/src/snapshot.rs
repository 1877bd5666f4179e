//! The engine's state as bytes: counters (by name) and the ban book, so that windows and ban
//! escalation survive a restart or a reload instead of starting again empty.
//!
//! A small versioned binary format (little-endian, length-prefixed), written rarely (the
//! agent saves it every few seconds, in the same store transaction as its checkpoints) and
//! read once. Counters are matched by name: a reload that renames or drops a counter drops
//! its state, one that changes a window keeps the hits and applies the new window.

use std::net::IpAddr;

use logward_core::Timestamp;

use crate::counter::{Counter, Keyed};
use crate::engine::{millis, BanRecord, Engine};

const MAGIC: &[u8; 4] = b"LWS1";

/// A snapshot that cannot be read (another version, or damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine snapshot: {0}")]
pub struct SnapshotError(&'static str);

/// What [`Engine::restore`] brought back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Counters found in both the snapshot and the running rules.
    pub counters: usize,
    /// Counter keys still live.
    pub keys: usize,
    /// Counters in the snapshot that the running rules no longer have.
    pub dropped: usize,
    /// Ban-book records still remembered.
    pub bans: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.buf.len() {
            return Err(SnapshotError("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, SnapshotError> {
        self.array().map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, SnapshotError> {
        self.array().map(u64::from_le_bytes)
    }
    pub(crate) fn i64(&mut self) -> Result<i64, SnapshotError> {
        self.array().map(i64::from_le_bytes)
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

impl Engine {
    /// The counters and the ban book at `now`, as bytes for [`Engine::restore`].
    pub fn snapshot(&self, now: Timestamp) -> Vec<u8> {
        let now = millis(now);
        let mut w = Writer::default();
        w.0.extend_from_slice(MAGIC);
        // The hasher's key: distinct counters hold hashes of values under it.
        w.u64(self.st.hasher.0);
        w.u64(self.st.hasher.1);
        w.u32(self.prog.counters.len() as u32);
        for (spec, c) in self.prog.counters.iter().zip(&self.st.counters) {
            w.bytes(spec.name.as_bytes());
            c.save(&mut w, now);
        }
        let remember = self.prog.ban_remember.saturating_mul(1000);
        let live: Vec<_> = self
            .st
            .bans
            .iter()
            .filter(|(_, b)| b.last.saturating_add(remember) > now)
            .collect();
        w.u32(live.len() as u32);
        for (ip, b) in live {
            match ip {
                IpAddr::V4(a) => {
                    w.u8(4);
                    w.0.extend_from_slice(&a.octets());
                }
                IpAddr::V6(a) => {
                    w.u8(6);
                    w.0.extend_from_slice(&a.octets());
                }
            }
            w.u32(b.count);
            w.i64(b.last);
        }
        w.into_inner()
    }

    /// Loads a [`Engine::snapshot`] into this engine, whose counters must still be empty (a
    /// fresh engine). On an error nothing is loaded.
    pub fn restore(&mut self, data: &[u8], now: Timestamp) -> Result<Restored, SnapshotError> {
        let now = millis(now);
        let mut r = Reader::new(data);
        if r.take(4)? != MAGIC {
            return Err(SnapshotError("unknown format"));
        }
        let hasher = Keyed(r.u64()?, r.u64()?);
        // Read into fresh counters first so that a damaged snapshot loads nothing.
        let mut counters: Vec<_> = self
            .st
            .counters
            .iter()
            .map(|c| c.empty_like(hasher))
            .collect();
        let mut done = Restored::default();
        for _ in 0..r.u32()? {
            let name = r.bytes()?;
            let at = self
                .prog
                .counters
                .iter()
                .position(|s| s.name.as_bytes() == name);
            match at {
                Some(i) => {
                    done.keys += counters[i].load(&mut r, now)?;
                    done.counters += 1;
                }
                None => {
                    // Read past it (a tiny scratch counter keeps next to nothing).
                    Counter::new(1, false, 1, 1).load(&mut r, now)?;
                    done.dropped += 1;
                }
            }
        }
        let remember = self.prog.ban_remember.saturating_mul(1000);
        let mut bans = Vec::new();
        for _ in 0..r.u32()? {
            let ip = match r.u8()? {
                4 => IpAddr::from(r.array::<4>()?),
                6 => IpAddr::from(r.array::<16>()?),
                _ => return Err(SnapshotError("bad address family")),
            };
            let rec = BanRecord {
                count: r.u32()?,
                last: r.i64()?,
            };
            if rec.last.saturating_add(remember) > now {
                bans.push((ip, rec));
            }
        }
        if r.remaining() != 0 {
            return Err(SnapshotError("trailing bytes"));
        }
        let max = self.prog.ban_max_entries.max(1);
        if bans.len() > max {
            bans.sort_unstable_by_key(|(_, b)| std::cmp::Reverse(b.last));
            bans.truncate(max);
        }
        done.bans = bans.len();
        self.st.counters = counters;
        self.st.hasher = hasher;
        self.st.bans.extend(bans);
        Ok(done)
    }
}
