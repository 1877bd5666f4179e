//! Shared helpers for the conformance tests that read `../shared/corpus`.
#![allow(dead_code)]

use logward_core::Event;
use logward_parse::{LineDecoder, YearResolver};

/// Reads a corpus file as text, lossily (some corpus files are ISO-8859-1 on purpose).
pub fn read_lossy(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A decoder as `logward scan --year 2026` with TZ=UTC would use.
pub fn decoder() -> LineDecoder {
    LineDecoder::new(YearResolver::fixed(2026, 0))
}

/// Decodes every line of `text` with one decoder (so the correlator sees the whole file),
/// keeping only owned events, one per line (CRLF tolerated).
pub fn decode_all(text: &str) -> Vec<Event<'static>> {
    let mut d = decoder();
    text.lines()
        .map(|l| d.decode(l.strip_suffix('\r').unwrap_or(l)).into_owned())
        .collect()
}
/// Every event of `lines` through `d`, as `logward scan` takes them: each line's joined
/// events first, then its own, and the joiners' rest at the end.
pub fn scan_lines<'l>(
    d: &mut LineDecoder,
    lines: impl IntoIterator<Item = &'l str>,
) -> Vec<Event<'static>> {
    let mut out = Vec::new();
    for l in lines {
        let mut e = Event::default();
        let made = d.decode_into(l, &mut e);
        out.extend(std::iter::from_fn(|| d.take_joined()));
        if made {
            out.push(e.into_owned());
        }
    }
    d.finish();
    out.extend(std::iter::from_fn(|| d.take_joined()));
    out
}

pub mod fail2ban;
pub mod fragments;
pub mod inventory;
