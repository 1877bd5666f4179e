//! DNS from the wire: [`message`] reads one DNS message in place, [`packet`] takes captured
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

pub mod event;
pub mod frag;
pub mod join;
pub mod message;
pub mod packet;
pub mod pcap;
pub mod tcp;
pub mod txn;

pub use packet::{Decoder, Stats};
pub use txn::{Nanos, Transaction};
