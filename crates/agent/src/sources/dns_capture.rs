//! The *dns_capture* source: live DNS traffic on an interface — the packetbeat replacement.
//!
//! An `AF_PACKET` socket ([`socket`]) with a kernel filter ([`bpf`]) that passes only UDP and
//! TCP on the DNS ports (IPv4 and IPv6, and the fragments reassembly needs); a blocking
//! thread reads it and hands each packet to the DNS decoder, whose `dns-query` events go
//! into the pipeline like any source's. No checkpoint: live packets are not replayed.
//!
//! Needs `CAP_NET_RAW` only (docs/DNS.md, Live capture); without it the source does not
//! start and says so.

pub mod bpf;
pub mod socket;
