#![no_main]
//! Windows Event XML: one event, a stream cut at a place the input's first byte picks, and
//! the lines through the line decoder. Never a panic; where the stream is cut never changes
//! what it holds; a record read keeps its text and unique value names.
use libfuzzer_sys::fuzz_target;
use logward_parse::windows::xml::{parse_event, Splitter};
use logward_parse::{LineDecoder, YearResolver};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if let Ok((rec, end)) = parse_event(&text) {
        assert!(end <= text.len());
        let original = rec.original.as_deref().unwrap_or_default();
        assert!(text[..end].ends_with(original));
        for (i, (k, _)) in rec.data.iter().enumerate() {
            assert!(rec.data[..i].iter().all(|(other, _)| other != k), "{k} twice");
        }
    }
    let ids = |cut: usize| {
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        let mut s = Splitter::default();
        let mut out = Vec::new();
        s.push(&text[..cut], &mut out);
        s.push(&text[cut..], &mut out);
        s.finish(&mut out);
        out.into_iter()
            .map(|r| r.ok().map(|r| (r.event_id, r.data)))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(text.len()), ids(pick as usize * text.len() / 255));
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    for line in text.split('\n') {
        let _ = d.decode(line);
        while d.take_joined().is_some() {}
    }
    d.finish();
    while d.take_joined().is_some() {}
});
