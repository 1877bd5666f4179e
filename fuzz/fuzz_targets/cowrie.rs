#![no_main]
//! cowrie's JSON records, and xrdp-sesman's own log lines, through the program-less path:
//! must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::{Decoded, LineDecoder, YearResolver};

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = Decoded::run(|e| logward_parse::decoders::cowrie::decode(line, e).map(|(f, _)| f));
        let _ = LineDecoder::new(YearResolver::fixed(2026, 0)).decode(line);
    }
});
