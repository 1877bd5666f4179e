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

/// Whether `head` (an input's first bytes) is UTF-16LE Event XML: what PowerShell 5's `>`
/// and `Out-File` write by default (`wevtutil qe Security /f:xml > security.xml`).
pub(super) fn is_utf16le_xml(head: &[u8]) -> bool {
    if !head.starts_with(&[0xFF, 0xFE]) {
        return false;
    }
    let units = head[2..]
        .chunks_exact(2)
        .take(64)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    logward_parse::windows::xml::looks_like_xml(text.as_bytes())
}

/// UTF-16LE in, UTF-8 out (a character cut between reads waits for the next one; a lone
/// surrogate or odd last byte becomes U+FFFD).
pub(super) struct Utf16Le<R> {
    inner: R,
    out: Vec<u8>,
    at: usize,
    /// A byte of a unit cut by the end of the last read.
    odd: Option<u8>,
    /// A high surrogate cut from its low one by the end of the last read.
    high: Option<u16>,
    done: bool,
}

impl<R: Read> Utf16Le<R> {
    pub(super) fn new(inner: R) -> Utf16Le<R> {
        Utf16Le {
            inner,
            out: Vec::new(),
            at: 0,
            odd: None,
            high: None,
            done: false,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut raw = vec![0u8; PIECE];
        let start = usize::from(self.odd.is_some());
        if let Some(b) = self.odd.take() {
            raw[0] = b;
        }
        let n = loop {
            match self.inner.read(&mut raw[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let len = start + n;
        self.out.clear();
        self.at = 0;
        if n == 0 {
            self.done = true;
            if start == 1 || self.high.take().is_some() {
                self.out.extend_from_slice("\u{fffd}".as_bytes());
            }
            return Ok(());
        }
        let whole = len - len % 2;
        if whole < len {
            self.odd = Some(raw[whole]);
        }
        let mut units: Vec<u16> = self.high.take().into_iter().collect();
        units.extend(
            raw[..whole]
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]])),
        );
        if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
            self.high = units.pop();
        }
        let mut buf = [0u8; 4];
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf16Le<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
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
    use super::*;

    #[test]
    fn utf16le_in_any_reads_is_utf8_out() {
        let text = "\u{feff}<Event>é😀 日本</Event>";
        let mut bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(is_utf16le_xml(&bytes));
        assert!(!is_utf16le_xml(text.as_bytes()));
        /// Hands out `n` bytes a read.
        struct Dribble<'a>(&'a [u8], usize);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for step in 1..8 {
            let mut out = String::new();
            Utf16Le::new(Dribble(&bytes, step))
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, text, "{step}");
        }
        bytes.push(0x41);
        let mut out = String::new();
        Utf16Le::new(&bytes[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, format!("{text}\u{fffd}"));
    }

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
