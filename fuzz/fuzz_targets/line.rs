#![no_main]
//! Whole lines through framing, every decoder and the session correlator, with state
//! carried across the lines of one input: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::{LineDecoder, YearResolver};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    for line in text.split('\n') {
        let _ = d.decode(line);
    }
});
