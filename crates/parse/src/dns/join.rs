//! Joins queries with their replies by (client, client port, server, server port,
//! transport, id) within a window of capture time, in a bounded table.
//!
//! - A reply finds the oldest waiting query with its key; a reply that finds none is a
//!   transaction of its own (the capture began after the query, or the reply came twice).
//! - A query repeated while the first waits (a client's retry) is reported at once without a
//!   reply; the reply joins the first, so the round trip counts from the first try — what
//!   Zeek does.
//! - A query still waiting after the window, or when the table is full (its oldest), or at
//!   the end of the input, is reported without a reply.
//! - Multicast DNS (and anything sent to a multicast group) is never joined: its replies go
//!   to the group, carry id 0 and answer any question (RFC 6762 §6, §18.1).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use super::txn::{Nanos, Side, Transaction, Transport};

/// How long a query waits for its reply, in capture time.
pub const WINDOW: Nanos = 10_000_000_000;
/// Queries waiting at once; past this the oldest is reported unanswered.
pub const MAX_PENDING: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    client: IpAddr,
    server: IpAddr,
    client_port: u16,
    server_port: u16,
    id: u16,
    transport: Transport,
}

/// The key as one run of bytes, hashed in one call: the table keeps std's keyed SipHash
/// (the key is what a sender on the wire picks), fed once instead of field by field.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        fn put(b: &mut [u8; 40], at: usize, ip: IpAddr) {
            let (v6, octets) = match ip {
                IpAddr::V4(v4) => (0, v4.to_ipv6_mapped().octets()),
                IpAddr::V6(v6) => (1, v6.octets()),
            };
            b[at..at + 16].copy_from_slice(&octets);
            b[39] |= v6 << (at / 16);
        }
        let mut b = [0u8; 40];
        put(&mut b, 0, self.client);
        put(&mut b, 16, self.server);
        b[32..34].copy_from_slice(&self.client_port.to_le_bytes());
        b[34..36].copy_from_slice(&self.server_port.to_le_bytes());
        b[36..38].copy_from_slice(&self.id.to_le_bytes());
        b[38] = self.transport as u8;
        state.write(&b);
    }
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    txn: Transaction,
}

/// The join table and its output queue.
#[derive(Debug)]
pub struct Joiner {
    pending: HashMap<Key, Pending>,
    /// Queries in arrival order, for the window and the bound; entries whose query was
    /// answered are skipped when they reach the front.
    order: VecDeque<(Nanos, u64, Key)>,
    seq: u64,
    window: Nanos,
    max_pending: usize,
    pub out: VecDeque<Transaction>,
}

impl Default for Joiner {
    fn default() -> Self {
        Joiner::new(WINDOW, MAX_PENDING)
    }
}

fn multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

impl Joiner {
    pub fn new(window: Nanos, max_pending: usize) -> Joiner {
        Joiner {
            pending: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            window,
            max_pending: max_pending.max(1),
            out: VecDeque::new(),
        }
    }

    /// Queries waiting for their reply.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// One message from `src` to `dst`.
    pub fn message(
        &mut self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        transport: Transport,
        side: Side,
    ) {
        let now = side.ts;
        self.expire(now.saturating_sub(self.window));
        let reply = side.header.is_response();
        let id = side.header.id;
        if multicast(dst.0) || src.1 == 5353 || dst.1 == 5353 {
            let (query, reply) = if reply {
                (None, Some(side))
            } else {
                (Some(side), None)
            };
            self.out.push_back(Transaction {
                client: src.0,
                client_port: src.1,
                server: dst.0,
                server_port: dst.1,
                transport,
                id,
                query,
                reply,
            });
            return;
        }
        let (client, server) = if reply { (dst, src) } else { (src, dst) };
        let key = Key {
            client: client.0,
            client_port: client.1,
            server: server.0,
            server_port: server.1,
            id,
            transport,
        };
        let mut txn = Transaction {
            client: client.0,
            client_port: client.1,
            server: server.0,
            server_port: server.1,
            transport,
            id,
            query: None,
            reply: None,
        };
        if reply {
            match self.pending.remove(&key) {
                Some(mut p) => {
                    // Its place in the arrival order is dropped now when it is at either
                    // end (a reply to the latest or the oldest query: nearly always), so
                    // the order need not be looked up in the table later.
                    if self.order.back().is_some_and(|o| o.1 == p.seq) {
                        self.order.pop_back();
                    } else if self.order.front().is_some_and(|o| o.1 == p.seq) {
                        self.order.pop_front();
                    }
                    p.txn.reply = Some(side);
                    self.out.push_back(p.txn);
                }
                None => {
                    txn.reply = Some(side);
                    self.out.push_back(txn);
                }
            }
            return;
        }
        txn.query = Some(side);
        while self.pending.len() >= self.max_pending {
            if !self.pop_oldest() {
                break;
            }
        }
        let seq = self.seq + 1;
        match self.pending.entry(key) {
            // A retry while the first try waits.
            Entry::Occupied(_) => self.out.push_back(txn),
            Entry::Vacant(v) => {
                v.insert(Pending { seq, txn });
                self.seq = seq;
                self.order.push_back((now, seq, key));
            }
        }
    }

    /// Reports the queries that arrived before `before` unanswered.
    pub fn expire(&mut self, before: Nanos) {
        while let Some(&(ts, seq, key)) = self.order.front() {
            // Entries of answered queries are only looked up once they outnumber the
            // waiting ones (not a lookup per message): the queue stays bounded.
            if ts >= before && self.order.len() <= 2 * self.pending.len() + 64 {
                break;
            }
            let live = self.pending.get(&key).is_some_and(|p| p.seq == seq);
            if live && ts >= before {
                break;
            }
            self.order.pop_front();
            if live {
                if let Some(p) = self.pending.remove(&key) {
                    self.out.push_back(p.txn);
                }
            }
        }
    }

    /// The end of the input: every waiting query, oldest first.
    pub fn finish(&mut self) {
        while self.pop_oldest() {}
        self.order.clear();
    }

    /// Reports the oldest waiting query; false when none waits.
    fn pop_oldest(&mut self) -> bool {
        while let Some((_, seq, key)) = self.order.pop_front() {
            if self.pending.get(&key).is_some_and(|p| p.seq == seq) {
                if let Some(p) = self.pending.remove(&key) {
                    self.out.push_back(p.txn);
                    return true;
                }
            }
        }
        false
    }
}
