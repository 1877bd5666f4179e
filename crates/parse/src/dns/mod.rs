//! DNS queries → `dns-query` events.
//!
//! From logs: dnsmasq's and Unbound's query logs (joined across lines: [`dnsmasq`],
//! [`unbound`]), Zeek's `dns.log` in TSV and JSON ([`zeek`]) and packetbeat/Elastic `dns`
//! documents ([`packetbeat`]); BIND's query log is one line per query, read by
//! `decoders::named`. [`lines::DnsLines`] is the per-input state `LineDecoder` keeps for
//! them; [`fields`] is how they write the event.
//!
//! From the wire: [`message`] reads one DNS message in place, [`packet`] takes captured
//! frames down through the link, IP (fragments), UDP and TCP layers to messages, [`join`]
//! pairs queries with replies into [`txn::Transaction`]s, [`event`] makes each a `dns-query`
//! event, and [`pcap`] streams `.pcap`/`.pcapng` files. Sync, pure, bounded, never panics.
//!
//! The API for a capture loop (a file or a live socket) is [`packet::Decoder`]:
//!
//! ```
//! use logward_parse::dns::packet::{linktype, Decoder};
//! let mut d = Decoder::new();
//! # let (ts, frame) = (0u64, &[][..]);
//! d.push(linktype::ETHERNET, ts, frame); // each frame, with its capture time in ns
//! for event in d.events() { /* dns-query events completed by this frame */ }
//! d.flush(ts); // now and then: queries whose reply never came are reported
//! d.finish();  // at the end: everything still waiting
//! # assert_eq!(d.events().count(), 0);
//! ```

pub mod dnsmasq;
pub mod event;
pub mod fields;
pub mod frag;
pub mod join;
pub mod lines;
pub mod message;
pub mod packet;
pub mod packetbeat;
pub mod pcap;
pub mod tcp;
pub mod txn;
pub mod unbound;
pub mod zeek;

pub use packet::{Decoder, Stats};
pub use txn::{Nanos, Transaction};
