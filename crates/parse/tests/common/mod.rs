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
pub mod fail2ban;
pub mod fragments;
pub mod inventory;
