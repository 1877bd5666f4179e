#![no_main]
//! Audit records through the record parser, the decoder and the serial joiner, with the join
//! state carried across the lines of one input: must never panic, and the joiner stays
//! within its bound.
use libfuzzer_sys::fuzz_target;
use logward_parse::decoders::audit::{self, join::MAX_OPEN, record, Joiner};
use logward_parse::{LineDecoder, YearResolver};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut j = Joiner::default();
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    for line in text.split('\n') {
        if let Some(rec) = record::parse(line) {
            let mut e = Default::default();
            let _ = audit::decode(&rec, &mut j, &mut e);
            assert!(j.open() <= MAX_OPEN);
            while j.take().is_some() {}
        }
        let _ = d.decode(line);
        while d.take_joined().is_some() {}
    }
    j.finish();
    d.finish();
    while j.take().is_some() {}
    while d.take_joined().is_some() {}
});
