#![no_main]
//! The utmp/wtmp/btmp reader on arbitrary bytes, whole and in two pieces: must never panic,
//! and must account for every byte.
use libfuzzer_sys::fuzz_target;
use logward_parse::utmp::{decode_file, Kind, Reader};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let kind = if first & 1 == 0 {
        Kind::Wtmp
    } else {
        Kind::Btmp
    };
    let (events, stats) = decode_file(rest, kind);
    assert_eq!(events.len() as u64, stats.events);
    let cut = (first as usize * 7) % (rest.len() + 1);
    let mut reader = Reader::new(kind);
    let mut out = Vec::new();
    reader.feed(&rest[..cut], &mut out);
    reader.feed(&rest[cut..], &mut out);
    reader.finish(&mut out);
    assert_eq!(reader.consumed(), rest.len() as u64);
});
