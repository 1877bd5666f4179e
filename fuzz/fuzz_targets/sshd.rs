#![no_main]
//! The `sshd` decoder on arbitrary messages, and the same text as a program-less line (what
//! `sshd -E FILE` writes, through `unframed`): must never panic.
use libfuzzer_sys::fuzz_target;
use logward_parse::{Decoded, LineDecoder, YearResolver};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = std::str::from_utf8(data) {
        let _ = Decoded::run(|e| logward_parse::decoders::sshd::decode(msg, e));
        let _ = LineDecoder::new(YearResolver::fixed(2026, 0)).decode(msg);
    }
});
