#![no_main]
//! Winlogbeat / Elastic Agent JSON documents: never a panic; a document read keeps its text
//! and has unique value names, and decoding it never panics either.
use libfuzzer_sys::fuzz_target;
use logward_parse::windows::{decode, winlogbeat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(rec) = winlogbeat::parse(&text) {
        assert_eq!(rec.original.as_deref(), Some(&*text));
        for (i, (k, _)) in rec.data.iter().enumerate() {
            assert!(rec.data[..i].iter().all(|(other, _)| other != k), "{k} twice");
        }
        let _ = decode(&rec);
    }
});
