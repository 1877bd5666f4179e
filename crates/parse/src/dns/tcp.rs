//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each direction of a flow is a byte stream of
//! messages, each after a 2-byte length. Segments are taken in order; a retransmitted
//! segment's old bytes are skipped; a gap (a lost or reordered segment) is counted and the
//! stream starts again at the segment after it. The flow table and each flow's buffer are
//! bounded, and idle flows are forgotten by capture time.

use std::collections::HashMap;
use std::net::IpAddr;

use super::txn::Nanos;

/// Flows followed at once; past this the idlest is forgotten.
pub const MAX_FLOWS: usize = 4096;
/// A flow with no segment for this long is forgotten.
pub const IDLE: Nanos = 120_000_000_000;
/// Bytes held per direction: one whole message (64 KiB and its length) and a segment.
const MAX_BUF: usize = 2 + 65_535 + 65_535;
/// Bytes held by all flows together; past this a flow that would hold more drops its
/// partial message (counted), so many half-sent messages cannot pile up memory.
pub const MAX_HELD: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

#[derive(Debug)]
struct Flow {
    next_seq: u32,
    buf: Vec<u8>,
    last: Nanos,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;

#[derive(Debug, Default)]
pub struct Streams {
    flows: HashMap<FlowKey, Flow>,
    /// Gaps: bytes missing before a segment (lost or out of order); the partial message
    /// before it is dropped.
    pub gaps: u64,
    /// Flows forgotten while a message was half read, or a buffer over its bound.
    pub dropped: u64,
    /// Bytes in all flows' buffers.
    held: usize,
}

impl Streams {
    /// One segment; `message` is called with each message it completes.
    pub fn segment(
        &mut self,
        key: FlowKey,
        ts: Nanos,
        seq: u32,
        flags: u8,
        payload: &[u8],
        mut message: impl FnMut(&[u8]),
    ) {
        if flags & SYN != 0 {
            self.make_room(&key, ts);
            let old = self.flows.insert(
                key,
                Flow {
                    next_seq: seq.wrapping_add(1),
                    buf: Vec::new(),
                    last: ts,
                },
            );
            if let Some(f) = old {
                self.held -= f.buf.len();
            }
            return;
        }
        if !payload.is_empty() {
            if !self.flows.contains_key(&key) {
                // Joined mid-stream: this segment is taken to start a message.
                self.make_room(&key, ts);
                self.flows.insert(
                    key,
                    Flow {
                        next_seq: seq,
                        buf: Vec::new(),
                        last: ts,
                    },
                );
            }
            if let Some(flow) = self.flows.get_mut(&key) {
                let before = flow.buf.len();
                flow.last = ts;
                let ahead = seq.wrapping_sub(flow.next_seq) as i32;
                let data = if ahead > 0 {
                    self.gaps += 1;
                    flow.buf.clear();
                    flow.next_seq = seq;
                    payload
                } else {
                    // Behind: skip what was had already (a retransmission).
                    let old = (-(ahead as i64)) as usize;
                    payload.get(old..).unwrap_or(&[])
                };
                if !data.is_empty() {
                    flow.next_seq = flow.next_seq.wrapping_add(data.len() as u32);
                    if flow.buf.is_empty() {
                        let used = split_messages(data, &mut message);
                        flow.buf.extend_from_slice(&data[used..]);
                    } else {
                        flow.buf.extend_from_slice(data);
                        let used = split_messages(&flow.buf, &mut message);
                        flow.buf.drain(..used);
                    }
                    let others = self.held - before;
                    if flow.buf.len() > MAX_BUF || others + flow.buf.len() > MAX_HELD {
                        flow.buf = Vec::new();
                        self.dropped += 1;
                    }
                }
                self.held = self.held - before + flow.buf.len();
            }
        }
        if flags & (FIN | RST) != 0 {
            if let Some(f) = self.flows.remove(&key) {
                self.held -= f.buf.len();
                if !f.buf.is_empty() {
                    self.dropped += 1;
                }
            }
        }
    }

    fn make_room(&mut self, key: &FlowKey, ts: Nanos) {
        if self.flows.len() < MAX_FLOWS || self.flows.contains_key(key) {
            return;
        }
        self.expire(ts.saturating_sub(IDLE));
        if self.flows.len() >= MAX_FLOWS {
            if let Some(k) = self
                .flows
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k)
            {
                self.flows.remove(&k);
                self.dropped += 1;
            }
        }
    }

    /// Forgets flows idle since before `before`.
    pub fn expire(&mut self, before: Nanos) {
        let mut dropped = 0;
        let mut freed = 0;
        self.flows.retain(|_, f| {
            let keep = f.last >= before;
            if !keep && !f.buf.is_empty() {
                dropped += 1;
                freed += f.buf.len();
            }
            keep
        });
        self.dropped += dropped;
        self.held -= freed;
    }

    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Bytes held in partial messages.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// Calls `message` with each whole length-prefixed message at the start of `data`; returns
/// the bytes used.
fn split_messages(data: &[u8], message: &mut impl FnMut(&[u8])) -> usize {
    let mut at = 0;
    while let Some(len) = data.get(at..at + 2) {
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        match data.get(at + 2..at + 2 + n) {
            Some(m) => {
                message(m);
                at += 2 + n;
            }
            None => break,
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlowKey {
        FlowKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            sport: 40000,
            dport: 53,
        }
    }

    fn run(segments: &[(u32, u8, &[u8])]) -> (Vec<Vec<u8>>, Streams) {
        let mut s = Streams::default();
        let mut got = Vec::new();
        for &(seq, flags, data) in segments {
            s.segment(key(), 1, seq, flags, data, |m| got.push(m.to_vec()));
        }
        (got, s)
    }

    #[test]
    fn messages_split_across_segments_and_retransmissions() {
        let (got, s) = run(&[
            (99, SYN, b""),
            (100, 0, b"\x00\x03ab"),
            (100, 0, b"\x00\x03ab"), // retransmitted
            (104, 0, b"c\x00\x02xy\x00"),
            (110, FIN, b"\x01z"),
        ]);
        assert_eq!(got, vec![b"abc".to_vec(), b"xy".to_vec(), b"z".to_vec()]);
        assert_eq!((s.gaps, s.flows()), (0, 0));
    }

    #[test]
    fn half_sent_messages_cannot_hold_more_than_the_budget() {
        let mut s = Streams::default();
        let chunk = vec![0xffu8; 60_000];
        for port in 0..400u16 {
            let k = FlowKey {
                sport: port,
                ..key()
            };
            s.segment(k, 1, 100, 0, &chunk, |_| {});
            assert!(s.held() <= MAX_HELD);
        }
        assert!(s.dropped > 0);
        for port in 0..400u16 {
            let k = FlowKey {
                sport: port,
                ..key()
            };
            s.segment(k, 2, 60_100, RST, b"", |_| {});
        }
        assert_eq!((s.held(), s.flows()), (0, 0));
    }

    #[test]
    fn a_gap_is_counted_and_the_stream_restarts() {
        let (got, s) = run(&[
            (99, SYN, b""),
            (100, 0, b"\x00\x05ab"),
            (200, 0, b"\x00\x01q"),
        ]);
        assert_eq!(got, vec![b"q".to_vec()]);
        assert_eq!(s.gaps, 1);
    }
}
