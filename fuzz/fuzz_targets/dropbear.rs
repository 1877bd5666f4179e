#![no_main]
//! The `dropbear` and `xrdp` decoders on arbitrary messages: must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::Decoded;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = std::str::from_utf8(data) {
        let _ = Decoded::run(|e| logward_parse::decoders::dropbear::decode(msg, e));
        let _ = Decoded::run(|e| logward_parse::decoders::xrdp::decode(msg, e));
    }
});
