//! The Beats (Lumberjack) frame reader on arbitrary bytes, whole and cut in two where the
//! first byte says: must never panic, never consume more than it was given, and read the same
//! windows (or fail with the same error) both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logward_beats::codec::{FrameError, Limits, Reader};

/// Each window as (version byte, last seq, documents), or the error that ended the stream.
fn drive(chunks: &[&[u8]]) -> Result<Vec<(u8, u32, Vec<String>)>, FrameError> {
    let mut r = Reader::new(Limits {
        max_frame_bytes: 64 << 10,
        max_inflated_bytes: 256 << 10,
        max_window: 64,
        max_window_bytes: 256 << 10,
    });
    let mut pending = Vec::new();
    let mut windows = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            let (used, w) = r.feed(&pending)?;
            assert!(used <= pending.len());
            pending.drain(..used);
            match w {
                Some(w) => {
                    assert!(!w.events.is_empty());
                    let docs = w.events.iter().map(|e| e.json.get().to_owned()).collect();
                    windows.push((w.version.byte(), w.last_seq(), docs));
                }
                None => break,
            }
        }
    }
    r.finish(pending.len())?;
    Ok(windows)
}

fuzz_target!(|data: &[u8]| {
    let whole = drive(&[data]);
    if let Some(&first) = data.first() {
        let at = first as usize % data.len();
        let split = drive(&[&data[..at], &data[at..]]);
        assert_eq!(whole, split);
    }
});
