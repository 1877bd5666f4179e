//! The DNS wire decoder and the packet and capture readers on generated input: arbitrary
//! bytes, and real messages and frames cut and corrupted anywhere, never panic and never
//! run away (names stay within their limits, every frame is counted); names written with
//! compression read back as they were.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use logward_parse::dns::message::{self, Message};
use logward_parse::dns::packet::{linktype, Decoder};
use logward_parse::dns::pcap::Reader;
use proptest::prelude::*;

/// A reply: the question `labels`, an answer CNAME pointing back at it (compressed), and an
/// A record whose owner is the CNAME's target (a pointer into the answer's data).
fn reply(id: u16, labels: &[String]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
    for l in labels {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    // CNAME: owner = pointer to 12; data = "cdn" + pointer to the question's second label
    let second = 12 + 1 + labels[0].len();
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
    let target = m.len();
    m.extend_from_slice(b"\x03cdn");
    m.extend_from_slice(&[0xc0 | (second >> 8) as u8, second as u8]);
    m.extend_from_slice(&[0xc0 | (target >> 8) as u8, target as u8]);
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    m
}

fn ether_udp4(dns: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = 28 + dns.len();
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
    f.extend_from_slice(&[192, 0, 2, 53, 10, 0, 0, 1]);
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(dns);
    f
}

fn read_everything(m: &[u8]) {
    if let Ok(msg) = Message::parse(m) {
        let mut s = String::new();
        for q in msg.questions().flatten() {
            s.clear();
            if message::write_name(m, q.name_at, &mut s).is_ok() {
                // 255 wire bytes, each at most 4 characters escaped.
                assert!(s.len() <= 4 * 255);
            }
        }
        for r in msg.records().flatten() {
            s.clear();
            let _ = message::write_name(m, r.name_at, &mut s);
            let _ = message::write_rdata(m, &r, &mut s);
        }
        let _ = msg.rcode();
    }
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,20}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_as_a_message(m in prop::collection::vec(any::<u8>(), 0..600)) {
        read_everything(&m);
    }

    #[test]
    fn compressed_names_read_back(id in any::<u16>(), labels in prop::collection::vec(label(), 2..6)) {
        let m = reply(id, &labels);
        let msg = Message::parse(&m).unwrap();
        let q = msg.question().unwrap().unwrap();
        let mut name = String::new();
        message::write_name(&m, q.name_at, &mut name).unwrap();
        prop_assert_eq!(&name, &labels.join("."));
        let records: Vec<_> = msg.records().collect::<Result<_, _>>().unwrap();
        let mut data = String::new();
        message::write_rdata(&m, &records[0], &mut data).unwrap();
        prop_assert_eq!(data, format!("cdn.{}", labels[1..].join(".")));
        let mut owner = String::new();
        message::write_name(&m, records[1].name_at, &mut owner).unwrap();
        prop_assert_eq!(owner, format!("cdn.{}", labels[1..].join(".")));
    }

    #[test]
    fn corrupted_and_cut_messages(
        labels in prop::collection::vec(label(), 2..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut m = reply(7, &labels);
        for (at, b) in flips {
            let i = at.index(m.len());
            m[i] = b;
        }
        read_everything(&m);
        let n = cut.index(m.len() + 1);
        read_everything(&m[..n]);
        let mut d = Decoder::new();
        d.push(linktype::ETHERNET, 1, &ether_udp4(&m[..n]));
        d.finish();
        prop_assert!(d.events().count() <= 1);
        prop_assert_eq!(d.stats().frames, 1);
    }

    #[test]
    fn arbitrary_frames_of_every_link_type(
        frames in prop::collection::vec(
            (prop::sample::select(vec![0u32, 1, 12, 101, 108, 113, 228, 229, 276, 7]),
             prop::collection::vec(any::<u8>(), 0..200)),
            0..20),
    ) {
        let mut d = Decoder::new();
        for (i, (link, f)) in frames.iter().enumerate() {
            d.push(*link, i as u64, f);
        }
        d.finish();
        d.events().for_each(drop);
        prop_assert_eq!(d.stats().frames, frames.len() as u64);
    }

    #[test]
    fn corrupted_frames_with_ip_headers(
        labels in prop::collection::vec(label(), 2..5),
        flips in prop::collection::vec((0usize..42, any::<u8>()), 1..4),
    ) {
        // Corrupt the link, IP and UDP headers (the first 42 bytes): fragments, options,
        // lengths and versions of every kind.
        let mut f = ether_udp4(&reply(9, &labels));
        for (at, b) in flips {
            f[at] = b;
        }
        let mut d = Decoder::new();
        for t in 0..3 {
            d.push(linktype::ETHERNET, t, &f);
        }
        d.finish();
        d.events().for_each(drop);
        prop_assert_eq!(d.stats().frames, 3);
    }

    #[test]
    fn arbitrary_capture_files_end(body in prop::collection::vec(any::<u8>(), 0..400), ng in any::<bool>()) {
        let magic: &[u8] = if ng { &[0x0a, 0x0d, 0x0d, 0x0a] } else { &[0xd4, 0xc3, 0xb2, 0xa1] };
        let bytes: Vec<u8> = magic.iter().chain(&body).copied().collect();
        if let Ok(mut r) = Reader::new(&bytes[..]) {
            let mut n = 0;
            while let Ok(Some(_)) = r.next_packet() {
                n += 1;
                prop_assert!(n <= bytes.len());
            }
        }
    }
}
