//! From captured frames to DNS transactions: the link layer (Ethernet with VLAN tags, Linux
//! cooked SLL/SLL2, raw IP, BSD loopback), IPv4 (options, fragments) and IPv6 (extension
//! headers, the fragment header), UDP (ports 53, 5353 mDNS, 5355 LLMNR) and TCP (port 53,
//! length-prefixed messages), then [`join`](super::join) to one transaction per query.
//!
//! [`Decoder`] is the whole pipeline, for a file reader and for live capture alike:
//! [`Decoder::push`] one frame, then drain the transactions (or events) it completed;
//! [`Decoder::flush`] now and then with the current time reports queries whose reply never
//! came; [`Decoder::finish`] at the end reports everything still waiting. Frames that are
//! not DNS, or not IP, are counted and skipped; nothing panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::frag::{self, FragKey, Reassembler};
use super::join::Joiner;
use super::tcp::{self, FlowKey, Streams};
use super::txn::{Nanos, Side, Transaction, Transport};

/// Link types (pcap LINKTYPE_* numbers, as pcap and pcapng files and AF_PACKET name them).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// Raw IP (some systems' DLT_RAW numbers: 12, 14).
    pub const RAW: u32 = 101;
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    /// OpenBSD loopback: the address family in network byte order.
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// The ports whose UDP traffic is DNS: DNS, mDNS, LLMNR.
pub const UDP_PORTS: [u16; 3] = [53, 5353, 5355];
/// TCP carries DNS on port 53 only.
pub const TCP_PORT: u16 = 53;

/// What the decoder saw, for `logward scan`'s summary and the capture source's metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    /// DNS messages read (a TCP segment may carry several, a datagram in fragments one).
    pub messages: u64,
    /// Frames that are not IP, or IP but not DNS: skipped.
    pub not_dns: u64,
    /// Frames of an unknown link type.
    pub unknown_link: u64,
    /// Frames whose link, IP, UDP or TCP header is cut short or wrong.
    pub malformed: u64,
    /// Frames cut by the capture's snap length (the IP header says more was sent); what
    /// was captured is still read.
    pub cut: u64,
    /// DNS payloads whose header is cut short: no message.
    pub bad_messages: u64,
    /// DNS messages read only in part (a bad name, a record cut short): kept as far as read.
    pub partial_messages: u64,
    pub fragments: u64,
    pub reassembled: u64,
    /// Fragments refused, and datagrams dropped unfinished.
    pub fragments_dropped: u64,
    /// TCP gaps (a lost or out-of-order segment) and streams dropped mid-message.
    pub tcp_gaps: u64,
    pub tcp_dropped: u64,
    pub transactions: u64,
    pub unanswered: u64,
    pub unsolicited_replies: u64,
}

/// The decoder: link to transaction, with its fragment, stream and join tables.
#[derive(Debug, Default)]
pub struct Decoder {
    frags: Reassembler,
    streams: Streams,
    join: Joiner,
    stats: Stats,
    last_flush: Nanos,
}

/// Where an IP packet came from and went, and its transport payload.
struct Ip<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload: &'a [u8],
}

/// The IP layer's verdict on a packet.
enum IpLayer<'a> {
    Packet(Ip<'a>),
    /// A fragment kept for later, or one that completed a datagram (owned).
    Fragment(Option<(IpAddr, IpAddr, u8, Vec<u8>)>),
    NotIp,
    Malformed,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.fragments_dropped += self.frags.dropped;
        s.tcp_gaps = self.streams.gaps;
        s.tcp_dropped = self.streams.dropped;
        s
    }

    /// One captured frame of `linktype` at `ts`. The transactions it completed (and those
    /// it made expire) wait in the decoder: take them with [`Decoder::next_transaction`] or
    /// [`Decoder::events`].
    pub fn push(&mut self, linktype: u32, ts: Nanos, frame: &[u8]) {
        self.stats.frames += 1;
        let ip = match link(linktype, frame) {
            Link::Ip(ip) => ip,
            Link::Other => {
                self.stats.not_dns += 1;
                return;
            }
            Link::Unknown => {
                self.stats.unknown_link += 1;
                return;
            }
            Link::Malformed => {
                self.stats.malformed += 1;
                return;
            }
        };
        match self.ip(ts, ip) {
            IpLayer::Packet(p) => self.transport(ts, p.src, p.dst, p.proto, p.payload),
            IpLayer::Fragment(Some((src, dst, proto, data))) => {
                self.stats.reassembled += 1;
                self.transport(ts, src, dst, proto, &data)
            }
            IpLayer::Fragment(None) => {}
            IpLayer::NotIp => self.stats.not_dns += 1,
            IpLayer::Malformed => self.stats.malformed += 1,
        }
        // Tables are swept by capture time once a second of it, not per frame.
        if ts >= self.last_flush.saturating_add(1_000_000_000) {
            self.sweep(ts);
        }
    }

    /// Reports queries older than the join window at `now` (capture time, or the clock for
    /// live capture when no frame comes), and forgets stale fragments and flows.
    pub fn flush(&mut self, now: Nanos) {
        self.sweep(now);
    }

    fn sweep(&mut self, now: Nanos) {
        self.last_flush = now;
        self.join.expire(now.saturating_sub(super::join::WINDOW));
        self.frags.expire(now.saturating_sub(frag::TIMEOUT));
        self.streams.expire(now.saturating_sub(tcp::IDLE));
    }

    /// The end of the input: every query still waiting is reported without its reply.
    pub fn finish(&mut self) {
        self.join.finish();
    }

    /// The next transaction completed (in the order they completed).
    pub fn next_transaction(&mut self) -> Option<Transaction> {
        let t = self.join.out.pop_front()?;
        self.stats.transactions += 1;
        if t.reply.is_none() {
            self.stats.unanswered += 1;
        } else if t.query.is_none() {
            self.stats.unsolicited_replies += 1;
        }
        Some(t)
    }

    /// The completed transactions as `dns-query` events.
    pub fn events(&mut self) -> Events<'_> {
        Events { decoder: self }
    }

    fn ip<'a>(&mut self, ts: Nanos, b: &'a [u8]) -> IpLayer<'a> {
        match b.first().map(|v| v >> 4) {
            Some(4) => self.ipv4(ts, b),
            Some(6) => self.ipv6(ts, b),
            _ => IpLayer::Malformed,
        }
    }

    fn ipv4<'a>(&mut self, ts: Nanos, b: &'a [u8]) -> IpLayer<'a> {
        let ihl = usize::from(b[0] & 0xf) * 4;
        let (Some(total), Some(frag), Some(&proto)) = (be16(b, 2), be16(b, 6), b.get(9)) else {
            return IpLayer::Malformed;
        };
        let total = usize::from(total);
        if ihl < 20 || total < ihl || b.len() < ihl {
            return IpLayer::Malformed;
        }
        let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
        // Trailing link padding past the total length is not payload; a frame shorter than
        // the total was cut by the snap length.
        let end = if b.len() < total {
            self.stats.cut += 1;
            b.len()
        } else {
            total
        };
        let payload = &b[ihl..end];
        if proto != 17 && proto != 6 {
            return IpLayer::NotIp;
        }
        let more = frag & 0x2000 != 0;
        let offset = usize::from(frag & 0x1fff) * 8;
        if !more && offset == 0 {
            return IpLayer::Packet(Ip {
                src,
                dst,
                proto,
                payload,
            });
        }
        let id = u32::from(be16(b, 4).unwrap_or(0));
        self.fragment(ts, src, dst, id, proto, offset, more, payload)
    }

    #[allow(clippy::too_many_arguments)]
    fn fragment<'a>(
        &mut self,
        ts: Nanos,
        src: IpAddr,
        dst: IpAddr,
        id: u32,
        proto: u8,
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> IpLayer<'a> {
        self.stats.fragments += 1;
        let key = FragKey {
            src,
            dst,
            id,
            proto,
        };
        match self.frags.add(key, ts, offset, more, payload) {
            frag::Outcome::Kept => IpLayer::Fragment(None),
            frag::Outcome::Whole(data) => IpLayer::Fragment(Some((src, dst, proto, data))),
            frag::Outcome::Bad => {
                self.stats.fragments_dropped += 1;
                IpLayer::Fragment(None)
            }
        }
    }

    fn ipv6<'a>(&mut self, ts: Nanos, b: &'a [u8]) -> IpLayer<'a> {
        let (Some(plen), Some(&next)) = (be16(b, 4), b.get(6)) else {
            return IpLayer::Malformed;
        };
        let Some(addrs) = b.get(8..40) else {
            return IpLayer::Malformed;
        };
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s.copy_from_slice(&addrs[..16]);
        d.copy_from_slice(&addrs[16..]);
        let src = IpAddr::V6(Ipv6Addr::from(s));
        let dst = IpAddr::V6(Ipv6Addr::from(d));
        let end = 40 + usize::from(plen);
        let body = if b.len() < end {
            self.stats.cut += 1;
            &b[40..]
        } else {
            &b[40..end]
        };
        // Extension headers (RFC 8200 §4): hop-by-hop, routing, destination options, AH,
        // and the fragment header; at most 8 of them.
        let mut next = next;
        let mut at = 0usize;
        let mut frag: Option<(usize, bool, u32)> = None;
        for _ in 0..8 {
            match next {
                0 | 43 | 60 => {
                    let (Some(&nh), Some(&len)) = (body.get(at), body.get(at + 1)) else {
                        return IpLayer::Malformed;
                    };
                    next = nh;
                    at += (usize::from(len) + 1) * 8;
                }
                51 => {
                    let (Some(&nh), Some(&len)) = (body.get(at), body.get(at + 1)) else {
                        return IpLayer::Malformed;
                    };
                    next = nh;
                    at += (usize::from(len) + 2) * 4;
                }
                44 => {
                    let (Some(&nh), Some(off), Some(id)) =
                        (body.get(at), be16(body, at + 2), be32(body, at + 4))
                    else {
                        return IpLayer::Malformed;
                    };
                    next = nh;
                    frag = Some((usize::from(off & 0xfff8), off & 1 != 0, id));
                    at += 8;
                }
                _ => break,
            }
        }
        let Some(payload) = body.get(at..) else {
            return IpLayer::Malformed;
        };
        if next != 17 && next != 6 {
            return IpLayer::NotIp;
        }
        match frag {
            Some((offset, more, id)) if more || offset != 0 => {
                self.fragment(ts, src, dst, id, next, offset, more, payload)
            }
            _ => IpLayer::Packet(Ip {
                src,
                dst,
                proto: next,
                payload,
            }),
        }
    }

    /// A UDP datagram or TCP segment.
    fn transport(&mut self, ts: Nanos, src: IpAddr, dst: IpAddr, proto: u8, b: &[u8]) {
        let (Some(sport), Some(dport)) = (be16(b, 0), be16(b, 2)) else {
            self.stats.malformed += 1;
            return;
        };
        if proto == 17 {
            if !UDP_PORTS.contains(&sport) && !UDP_PORTS.contains(&dport) {
                self.stats.not_dns += 1;
                return;
            }
            let Some(len) = be16(b, 4).map(usize::from) else {
                self.stats.malformed += 1;
                return;
            };
            if len < 8 {
                self.stats.malformed += 1;
                return;
            }
            let payload = &b[8.min(b.len())..len.min(b.len())];
            self.message(ts, (src, sport), (dst, dport), Transport::Udp, payload);
            return;
        }
        if sport != TCP_PORT && dport != TCP_PORT {
            self.stats.not_dns += 1;
            return;
        }
        let (Some(seq), Some(&off), Some(&flags)) = (be32(b, 4), b.get(12), b.get(13)) else {
            self.stats.malformed += 1;
            return;
        };
        let hlen = usize::from(off >> 4) * 4;
        let Some(payload) = b.get(hlen..).filter(|_| hlen >= 20) else {
            self.stats.malformed += 1;
            return;
        };
        let key = FlowKey {
            src,
            dst,
            sport,
            dport,
        };
        // The stream table calls back per message; messages are decoded after it returns
        // (DNS over TCP is rare: a copy per message costs nothing that matters).
        let mut found: Vec<Vec<u8>> = Vec::new();
        self.streams
            .segment(key, ts, seq, flags, payload, |m| found.push(m.to_vec()));
        for m in found {
            self.message(ts, (src, sport), (dst, dport), Transport::Tcp, &m);
        }
    }

    fn message(
        &mut self,
        ts: Nanos,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        transport: Transport,
        payload: &[u8],
    ) {
        let mdns = src.1 == 5353 || dst.1 == 5353;
        match Side::decode(ts, payload, mdns) {
            Ok(side) => {
                self.stats.messages += 1;
                if side.error.is_some() {
                    self.stats.partial_messages += 1;
                }
                self.join.message(src, dst, transport, side);
            }
            Err(_) => self.stats.bad_messages += 1,
        }
    }
}

/// The link layer's verdict on a frame.
enum Link<'a> {
    Ip(&'a [u8]),
    Other,
    Unknown,
    Malformed,
}

fn ethertype<'a>(ty: u16, rest: &'a [u8]) -> Link<'a> {
    match ty {
        0x0800 | 0x86dd => Link::Ip(rest),
        _ => Link::Other,
    }
}

fn link(linktype: u32, f: &[u8]) -> Link<'_> {
    match linktype {
        linktype::ETHERNET => {
            let Some(mut ty) = be16(f, 12) else {
                return Link::Malformed;
            };
            let mut at = 14;
            // 802.1Q / 802.1ad tags, stacked (QinQ) at most three deep.
            for _ in 0..3 {
                if ty != 0x8100 && ty != 0x88a8 && ty != 0x9100 {
                    break;
                }
                let Some(inner) = be16(f, at + 2) else {
                    return Link::Malformed;
                };
                ty = inner;
                at += 4;
            }
            match f.get(at..) {
                Some(rest) => ethertype(ty, rest),
                None => Link::Malformed,
            }
        }
        linktype::LINUX_SLL => match (be16(f, 14), f.get(16..)) {
            (Some(ty), Some(rest)) => ethertype(ty, rest),
            _ => Link::Malformed,
        },
        linktype::LINUX_SLL2 => match (be16(f, 0), f.get(20..)) {
            (Some(ty), Some(rest)) => ethertype(ty, rest),
            _ => Link::Malformed,
        },
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            if f.is_empty() {
                Link::Malformed
            } else {
                Link::Ip(f)
            }
        }
        linktype::NULL | linktype::LOOP => {
            let Some(h) = f.get(..4) else {
                return Link::Malformed;
            };
            // The family is a small number in either byte order: whichever end holds it.
            let family = if h[0] == 0 && h[1] == 0 {
                u32::from(h[3]) | u32::from(h[2]) << 8
            } else {
                u32::from(h[0]) | u32::from(h[1]) << 8
            };
            match family {
                // AF_INET; AF_INET6 on BSDs, macOS and others.
                2 | 24 | 28 | 30 => Link::Ip(&f[4..]),
                _ => Link::Other,
            }
        }
        _ => Link::Unknown,
    }
}

/// Iterator over the decoder's completed transactions as events.
#[derive(Debug)]
pub struct Events<'d> {
    decoder: &'d mut Decoder,
}

impl Iterator for Events<'_> {
    type Item = logward_core::Event<'static>;
    fn next(&mut self) -> Option<Self::Item> {
        self.decoder.next_transaction().map(super::event::to_event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet/VLAN/IPv4/UDP frame around `dns`.
    pub(crate) fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, dns: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        let total = 20 + 8 + dns.len();
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(dns);
        f
    }

    const QUERY: &[u8] =
        b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    const REPLY: &[u8] = b"\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22";

    #[test]
    fn query_and_reply_join_over_vlan() {
        let mut d = Decoder::new();
        d.push(
            linktype::ETHERNET,
            1_000,
            &udp4([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, QUERY),
        );
        assert!(d.next_transaction().is_none());
        d.push(
            linktype::ETHERNET,
            3_000,
            &udp4([10, 0, 0, 53], 53, [10, 0, 0, 1], 40000, REPLY),
        );
        let t = d.next_transaction().expect("joined");
        assert_eq!(t.client, IpAddr::from([10, 0, 0, 1]));
        assert_eq!((t.server_port, t.id, t.rtt()), (53, 0xabcd, Some(2_000)));
        assert_eq!(t.question().map(|q| q.name.as_str()), Some("example.com"));
        assert_eq!(t.answers()[0].data, "93.184.216.34");
        assert!(d.next_transaction().is_none());
    }

    #[test]
    fn unanswered_queries_are_reported_after_the_window_and_at_the_end() {
        let mut d = Decoder::new();
        d.push(
            linktype::ETHERNET,
            0,
            &udp4([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, QUERY),
        );
        d.flush(super::super::join::WINDOW - 1);
        assert!(d.next_transaction().is_none());
        d.flush(super::super::join::WINDOW + 1);
        assert!(d.next_transaction().unwrap().reply.is_none());
        d.push(
            linktype::ETHERNET,
            0,
            &udp4([10, 0, 0, 2], 40000, [10, 0, 0, 53], 53, QUERY),
        );
        d.finish();
        assert!(d.next_transaction().unwrap().reply.is_none());
        assert_eq!(d.stats().unanswered, 2);
    }

    #[test]
    fn snaplen_cut_frames_are_counted_and_read_as_far_as_they_go() {
        let mut d = Decoder::new();
        let f = udp4([10, 0, 0, 53], 53, [10, 0, 0, 1], 40000, REPLY);
        for cut in 0..f.len() {
            d.push(linktype::ETHERNET, 0, &f[..cut]);
        }
        d.finish();
        while d.next_transaction().is_some() {}
        let s = d.stats();
        assert_eq!(s.frames, f.len() as u64);
        assert!(
            s.malformed > 0 && s.cut > 0 && s.partial_messages > 0,
            "{s:?}"
        );
    }
}
