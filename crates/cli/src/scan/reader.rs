//! Splits an input into lines without losing or hiding anything: invalid UTF-8 is decoded
//! lossily, over-long lines are cut (as every reader cuts them: `logward_parse::lines`), a
//! final line without newline is still a line — and each of these is counted so the
//! summary can say so.
//!
//! Reads into a fixed buffer (no mmap), so memory stays flat whatever the file size.

use std::borrow::Cow;
use std::io::{self, Read};

use logward_parse::lines::{self, LineCutter};
#[cfg(test)]
use logward_parse::MAX_LINE;

const BUF: usize = 1 << 20;

/// What a reader met that was not a clean UTF-8 line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InputIssues {
    pub invalid_utf8: u64,
    pub nul_bytes: u64,
    pub crlf: u64,
    pub truncated_long: u64,
    pub unterminated: u64,
    /// Records that could not be read (malformed or cut-off Windows Event XML).
    pub malformed_records: u64,
}

impl InputIssues {
    pub fn add(&mut self, o: &InputIssues) {
        self.invalid_utf8 += o.invalid_utf8;
        self.nul_bytes += o.nul_bytes;
        self.crlf += o.crlf;
        self.truncated_long += o.truncated_long;
        self.unterminated += o.unterminated;
        self.malformed_records += o.malformed_records;
    }
}

/// One line handed to the caller.
#[derive(Debug)]
pub struct Line<'a> {
    pub text: Cow<'a, str>,
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line's first byte in the (decompressed) input.
    pub offset: u64,
}

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Valid data is `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// Offset in the input of the first byte of the line being read.
    offset: u64,
    line_no: u64,
    /// A line split across buffers (only those are copied, never more than `MAX_LINE + 1`
    /// bytes of one).
    cutter: LineCutter,
    pub issues: InputIssues,
    pub bytes_read: u64,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            line_no: 0,
            cutter: LineCutter::default(),
            issues: InputIssues::default(),
            bytes_read: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        self.start = 0;
        self.end = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    // One read per fill keeps latency low for pipes.
                    self.end = n;
                    self.bytes_read += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Calls `f` for every line, in order. Stops at the first I/O error (after handing over
    /// every complete line read before it).
    pub fn for_each_line(&mut self, mut f: impl FnMut(Line<'_>)) -> io::Result<()> {
        loop {
            let window = &self.buf[self.start..self.end];
            let nl = memchr::memchr(b'\n', window);
            let (raw, cut) = match nl {
                Some(nl) => self.cutter.complete(&window[..nl]),
                None if self.eof => match self.cutter.finish() {
                    Some(last) => {
                        self.issues.unterminated += 1;
                        last
                    }
                    None => {
                        self.offset = self.bytes_read;
                        return Ok(());
                    }
                },
                None => {
                    // The start of a line whose newline is in a later buffer.
                    self.cutter.push(window);
                    self.fill()?;
                    continue;
                }
            };
            self.line_no += 1;
            emit(
                raw,
                cut,
                self.line_no,
                self.offset,
                &mut self.issues,
                &mut f,
            );
            let Some(nl) = nl else {
                // That was the last line, without a newline.
                self.offset = self.bytes_read;
                return Ok(());
            };
            self.start += nl + 1;
            self.offset = self.bytes_read - (self.end - self.start) as u64;
        }
    }
}

fn emit(
    mut raw: &[u8],
    cut: bool,
    number: u64,
    offset: u64,
    issues: &mut InputIssues,
    f: &mut impl FnMut(Line<'_>),
) {
    if memchr::memchr(0, raw).is_some() {
        issues.nul_bytes += 1;
        // Zero runs are what a crash leaves in a preallocated log: drop the leading ones.
        while let [0, rest @ ..] = raw {
            raw = rest;
        }
    }
    let t = lines::decode(raw, cut);
    issues.crlf += u64::from(t.crlf);
    issues.truncated_long += u64::from(t.cut);
    issues.invalid_utf8 += u64::from(t.invalid_utf8);
    f(Line {
        text: t.text,
        number,
        offset,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> (Vec<(String, u64, u64)>, InputIssues) {
        let mut r = LineReader::new(input);
        let mut out = Vec::new();
        r.for_each_line(|l| out.push((l.text.into_owned(), l.number, l.offset)))
            .unwrap();
        (out, r.issues)
    }

    #[test]
    fn offsets_numbers_and_final_line() {
        let (l, i) = lines(b"a\r\nbb\n\nccc");
        assert_eq!(
            l,
            vec![
                ("a".into(), 1, 0),
                ("bb".into(), 2, 3),
                ("".into(), 3, 6),
                ("ccc".into(), 4, 7)
            ]
        );
        assert_eq!((i.crlf, i.unterminated), (1, 1));
    }

    #[test]
    fn bad_bytes_are_counted_not_lost() {
        let (l, i) = lines(b"caf\xe9\n\0\0x\0y\nok\n");
        assert_eq!(l[0].0, "caf\u{fffd}");
        assert_eq!(l[1].0, "x\0y");
        assert_eq!(l[2].0, "ok");
        assert_eq!((i.invalid_utf8, i.nul_bytes), (1, 1));
    }

    #[test]
    fn long_lines_are_cut_and_the_next_line_survives() {
        let mut input = vec![b'x'; 3 * BUF + 17];
        input.push(b'\n');
        input.extend_from_slice(&[b'y'; MAX_LINE + 5]);
        input.push(b'\n');
        input.extend_from_slice(&[b'z'; MAX_LINE]);
        input.extend_from_slice(b"\nnext\n");
        let (l, i) = lines(&input);
        assert_eq!(l.len(), 4);
        assert_eq!(l[0].0.len(), MAX_LINE);
        assert_eq!(l[1].0.len(), MAX_LINE);
        assert_eq!(l[2].0.len(), MAX_LINE, "exactly the limit is not cut");
        let next_at = (3 * BUF + 18 + MAX_LINE + 6 + MAX_LINE + 1) as u64;
        assert_eq!(l[3], ("next".into(), 4, next_at));
        assert_eq!(i.truncated_long, 2);
    }

    #[test]
    fn cut_inside_a_character_is_not_invalid_utf8() {
        let mut input = vec![b'a'; MAX_LINE - 1];
        input.extend_from_slice("é and more\n".as_bytes());
        let (l, i) = lines(&input);
        assert_eq!(l[0].0.len(), MAX_LINE - 1);
        assert_eq!((i.invalid_utf8, i.truncated_long), (0, 1));
    }
}
