#![no_main]
//! The DNS packet decoder on arbitrary frames of every link type it knows (and one it does
//! not), a DNS message alone (names, records, data rendering), and the capture file reader
//! on arbitrary bytes behind each format's magic. Must never panic, and must end.
use libfuzzer_sys::fuzz_target;
use logward_parse::dns::message::{self, Message};
use logward_parse::dns::packet::{linktype, Decoder};
use logward_parse::dns::pcap::Reader;

const LINKS: [u32; 9] = [
    linktype::ETHERNET,
    linktype::RAW,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::NULL,
    linktype::LOOP,
    linktype::IPV4,
    linktype::IPV6,
    9999,
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the link type; the rest, split at 0xff bytes, are frames
    // (several, so fragments and TCP segments can meet).
    if let Some((&pick, rest)) = data.split_first() {
        let mut d = Decoder::new();
        let link = LINKS[usize::from(pick) % LINKS.len()];
        for (i, frame) in rest.split(|&b| b == 0xff).enumerate() {
            d.push(link, i as u64 * 1_000_000, frame);
            d.events().for_each(drop);
        }
        d.flush(u64::MAX / 2);
        d.finish();
        d.events().for_each(drop);
        let _ = d.stats();
    }

    if let Ok(msg) = Message::parse(data) {
        let mut s = String::new();
        for q in msg.questions().flatten() {
            let _ = message::write_name(data, q.name_at, &mut s);
        }
        for r in msg.records().flatten() {
            let _ = message::write_name(data, r.name_at, &mut s);
            let _ = message::write_rdata(data, &r, &mut s);
        }
        let _ = msg.rcode();
    }

    for magic in [&[0xd4, 0xc3, 0xb2, 0xa1][..], &[0x0a, 0x0d, 0x0d, 0x0a][..]] {
        let bytes: Vec<u8> = magic.iter().chain(data).copied().collect();
        if let Ok(mut r) = Reader::new(&bytes[..]) {
            while let Ok(Some(p)) = r.next_packet() {
                let _ = (p.linktype, p.ts, p.data.len());
            }
        }
    }
});
