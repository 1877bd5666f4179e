#![no_main]
//! Framing alone, over every header shape: the input's first byte picks a prefix (so the
//! fuzzer reaches the rare shapes without guessing their syntax), the rest is the line. Must
//! never panic, and the message is always a part of the line or the journal's text.
use libfuzzer_sys::fuzz_target;
use logward_parse::{frame::frame, YearResolver};

const PREFIXES: &[&str] = &[
    "",
    "Dec  6 10:00:01 ",
    "Dec  6 10:00:01 host auth.info ",
    "Sun Dec  6 10:00:01 2026 ",
    "Sun 2026-12-06 10:00:01 CET ",
    "2026-12-06T10:00:01.123456 ",
    "2026-12-06 10:00:01,123 ",
    "2026-12-06_10:00:01.12345 ",
    "2026-12-06T10:00:01+0100 ",
    "1796547601.123456 ",
    "@400000006b15322b075bca00 ",
    "auth.info: ",
    "[Dec  6 10:00:01] ",
    "2015 2015 Nov 13 13:40:01 ",
    "Dec  6 10:00:01 host kernel: [  970.699396] ",
    "<38>",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let prefix = PREFIXES[pick as usize % PREFIXES.len()];
    let mut years = YearResolver::fixed(2026, 0);
    for line in text.split('\n') {
        let line = format!("{prefix}{line}");
        let f = frame(&line, &mut years);
        if !line.starts_with('{') {
            assert!(f.message.len() <= line.len());
        }
    }
});
