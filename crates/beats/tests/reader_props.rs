//! The frame reader on generated streams — valid windows (plain, compressed, v1), random
//! bytes and cut frames, with a byte flipped somewhere — read whole and cut in two: it never
//! panics, never consumes more than it was given, reads the same windows (or fails with the
//! same error) both ways, and reads valid streams back exactly. The fuzz target
//! (fuzz/fuzz_targets/beats.rs) explores further; this runs in every `cargo test`.
#![allow(clippy::unwrap_used)]

use logward_beats::codec::{write, FrameError, Limits, Reader, Version};
use proptest::prelude::*;

type Windows = Vec<(u8, u32, Vec<String>)>;

fn limits() -> Limits {
    Limits {
        max_frame_bytes: 4096,
        max_inflated_bytes: 8192,
        max_window: 16,
        max_window_bytes: 8192,
    }
}

fn drive(chunks: &[&[u8]]) -> Result<Windows, FrameError> {
    let mut r = Reader::new(limits());
    let mut pending = Vec::new();
    let mut windows = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            let (used, w) = r.feed(&pending)?;
            assert!(used <= pending.len());
            pending.drain(..used);
            let Some(w) = w else { break };
            assert!(!w.events.is_empty());
            let docs = w.events.iter().map(|e| e.json.get().to_owned()).collect();
            windows.push((w.version.byte(), w.last_seq(), docs));
        }
    }
    r.finish(pending.len())?;
    Ok(windows)
}

/// A valid window: its bytes and what reading it gives.
fn window() -> impl Strategy<Value = (Vec<u8>, (u8, u32, Vec<String>))> {
    (
        prop::collection::vec(("[a-z]{1,6}", "[ -~]{0,40}"), 1..6),
        0u8..3,
        1u32..1000,
    )
        .prop_map(|(pairs, shape, first)| {
            let docs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| serde_json::json!({ k: v }).to_string())
                .collect();
            let n = docs.len() as u32;
            let last = first + n - 1;
            let bytes = match shape {
                0 => {
                    let refs: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
                    write::beats_window(&refs, first, 6)
                }
                1 => {
                    let mut b = write::window(Version::V2, n);
                    for (i, d) in docs.iter().enumerate() {
                        b.extend(write::json(first + i as u32, d.as_bytes()));
                    }
                    b
                }
                _ => {
                    let mut b = write::window(Version::V1, n);
                    for (i, (k, v)) in pairs.iter().enumerate() {
                        b.extend(write::data(Version::V1, first + i as u32, &[(k, v)]));
                    }
                    b
                }
            };
            let version = if shape == 2 { b'1' } else { b'2' };
            (bytes, (version, last, docs))
        })
}

/// A stream: pieces of valid windows, random bytes and cut windows, maybe one byte flipped.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => window().prop_map(|(b, _)| b),
        1 => prop::collection::vec(any::<u8>(), 0..32),
        1 => (window(), any::<prop::sample::Index>())
            .prop_map(|((b, _), i)| b[..i.index(b.len())].to_vec()),
    ];
    (
        prop::collection::vec(piece, 0..5),
        any::<prop::sample::Index>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(pieces, at, byte, flip)| {
            let mut b = pieces.concat();
            if flip && !b.is_empty() {
                let i = at.index(b.len());
                b[i] = byte;
            }
            b
        })
}

proptest! {
    #[test]
    fn any_stream_reads_the_same_whole_and_split(b in stream(), cut in any::<prop::sample::Index>()) {
        let whole = drive(&[&b]);
        let at = cut.index(b.len() + 1);
        prop_assert_eq!(&whole, &drive(&[&b[..at], &b[at..]]));
    }

    #[test]
    fn valid_windows_read_back_exactly(ws in prop::collection::vec(window(), 1..5)) {
        let bytes: Vec<u8> = ws.iter().flat_map(|(b, _)| b.clone()).collect();
        let expected: Windows = ws.into_iter().map(|(_, w)| w).collect();
        prop_assert_eq!(drive(&[&bytes]).unwrap(), expected);
    }
}
