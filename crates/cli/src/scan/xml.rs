//! An input that begins with Windows Event XML, read as a stream of events rather than as
//! lines: `wevtutil qe Security /f:xml` writes its events back to back with no newline, so
//! a whole export is one "line" far longer than the line limit. Events one per line and
//! pretty-printed read the same way.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use logward_core::{Action, Event};
use logward_parse::windows::{self, xml::Splitter};

use super::{output, rules, ScanError, Sink, Summary};

const PIECE: usize = 1 << 16;

/// Reads the events of `input` through the Event XML splitter; each event is counted as a
/// line, a malformed one as an unrecognised line (its message says what was wrong) and in
/// the summary's bad input.
pub(super) fn scan_xml(
    mut input: Box<dyn Read>,
    sink: Sink<'_>,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    out: &mut impl Write,
    buf: &mut Vec<u8>,
) -> Result<(), ScanError> {
    let mut splitter = Splitter::default();
    let mut records = Vec::new();
    let mut piece = vec![0u8; PIECE];
    // Bytes of a UTF-8 sequence cut by the end of the last piece.
    let mut carry: Vec<u8> = Vec::new();
    let mut read_error = None;
    loop {
        let n = match input.read(&mut piece) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e);
                0
            }
        };
        summary.bytes += n as u64;
        carry.extend_from_slice(&piece[..n]);
        let whole = if n == 0 {
            carry.len()
        } else {
            utf8_prefix(&carry)
        };
        let text = String::from_utf8_lossy(&carry[..whole]);
        if matches!(text, Cow::Owned(_)) {
            summary.issues.invalid_utf8 += 1;
        }
        splitter.push(&text, &mut records);
        carry.drain(..whole);
        if n == 0 {
            splitter.finish(&mut records);
        }
        for r in records.drain(..) {
            summary.lines += 1;
            let mut e = match r {
                Ok(rec) => {
                    let mut e = windows::decode(&rec).into_owned();
                    if !sink.args.raw {
                        e.original = None;
                    }
                    e
                }
                Err(err) => {
                    summary.issues.malformed_records += 1;
                    Event {
                        action: Some(Action::Unknown),
                        message: Some(Cow::Owned(err.to_string())),
                        ..Event::default()
                    }
                }
            };
            if sink.args.unparsed {
                if e.action() == Action::Unknown && e.dataset.is_none() {
                    buf.extend_from_slice(e.message.as_deref().unwrap_or_default().as_bytes());
                    buf.push(b'\n');
                }
                if sink.format == super::Format::Summary {
                    summary.count(&e);
                }
            } else {
                e.file_path = Some(Cow::Borrowed(sink.path));
                super::emit(&mut e, sink.format, summary, replay, buf);
            }
            output::flush_if(out, buf, 1 << 16).map_err(ScanError::Output)?;
        }
        if n == 0 {
            break;
        }
    }
    match read_error {
        Some(e) => Err(ScanError::Input(format!(
            "{}: read error ({e}); the events before it were scanned",
            sink.path
        ))),
        None => Ok(()),
    }
}

/// The length of `b` without a UTF-8 sequence cut at its end.
fn utf8_prefix(b: &[u8]) -> usize {
    // A sequence is at most 4 bytes: look for its lead byte among the last 3.
    for back in 1..=b.len().min(3) {
        let c = b[b.len() - back];
        if c & 0xC0 != 0x80 {
            let need = match c {
                0xF0..=0xF7 => 4,
                0xE0..=0xEF => 3,
                0xC0..=0xDF => 2,
                _ => 1,
            };
            return if need > back { b.len() - back } else { b.len() };
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::utf8_prefix;

    #[test]
    fn a_cut_character_waits_for_the_next_piece() {
        let s = "aé日😀".as_bytes();
        assert_eq!(utf8_prefix(s), s.len());
        assert_eq!(utf8_prefix(&s[..s.len() - 1]), s.len() - 4);
        assert_eq!(utf8_prefix(&s[..2]), 1);
        assert_eq!(utf8_prefix(b""), 0);
        assert_eq!(utf8_prefix(b"\xff"), 1);
    }
}
