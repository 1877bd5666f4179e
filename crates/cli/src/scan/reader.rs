//! Splits an input into lines without losing or hiding anything: invalid UTF-8 is decoded
//! lossily, over-long lines are cut, a final line without newline is still a line — and each
//! of these is counted so the summary can say so.
//!
//! Reads into a fixed buffer (no mmap), so memory stays flat whatever the file size.

use std::borrow::Cow;
use std::io::{self, Read};

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
}

impl InputIssues {
    pub fn add(&mut self, o: &InputIssues) {
        self.invalid_utf8 += o.invalid_utf8;
        self.nul_bytes += o.nul_bytes;
        self.crlf += o.crlf;
        self.truncated_long += o.truncated_long;
        self.unterminated += o.unterminated;
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
    /// Offset in the input of `buf[start]`.
    offset: u64,
    line_no: u64,
    /// Inside an over-long line whose head was already emitted: skip to the next newline.
    skipping: bool,
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
            skipping: false,
            issues: InputIssues::default(),
            bytes_read: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes_read += n as u64;
                    // One read per fill keeps latency low for pipes; the loop only
                    // continues when nothing was read yet.
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Calls `f` for every line, in order. Stops at the first I/O error (after handing over
    /// every complete line read before it).
    pub fn for_each_line(&mut self, mut f: impl FnMut(Line<'_>)) -> io::Result<()> {
        loop {
            let window = &self.buf[self.start..self.end];
            match memchr::memchr(b'\n', window) {
                Some(nl) => {
                    let consumed = nl + 1;
                    if self.skipping {
                        self.skipping = false;
                    } else {
                        let len = if nl > MAX_LINE {
                            self.issues.truncated_long += 1;
                            MAX_LINE
                        } else {
                            nl
                        };
                        let raw = &self.buf[self.start..self.start + len];
                        self.line_no += 1;
                        emit(raw, self.line_no, self.offset, &mut self.issues, &mut f);
                    }
                    self.start += consumed;
                    self.offset += consumed as u64;
                }
                None if self.eof => {
                    if !window.is_empty() && !self.skipping {
                        let raw = &self.buf[self.start..self.end];
                        self.line_no += 1;
                        self.issues.unterminated += 1;
                        emit(raw, self.line_no, self.offset, &mut self.issues, &mut f);
                    }
                    self.offset += window.len() as u64;
                    self.start = self.end;
                    return Ok(());
                }
                None if window.len() > MAX_LINE => {
                    // An over-long line: hand over its head now, drop the rest up to the newline.
                    if !self.skipping {
                        let raw = &self.buf[self.start..self.start + MAX_LINE];
                        self.line_no += 1;
                        self.issues.truncated_long += 1;
                        emit(raw, self.line_no, self.offset, &mut self.issues, &mut f);
                        self.skipping = true;
                    }
                    let dropped = window.len();
                    self.offset += dropped as u64;
                    self.start = self.end;
                    self.fill()?;
                }
                None => self.fill()?,
            }
        }
    }
}

fn emit(
    mut raw: &[u8],
    number: u64,
    offset: u64,
    issues: &mut InputIssues,
    f: &mut impl FnMut(Line<'_>),
) {
    if let [head @ .., b'\r'] = raw {
        raw = head;
        issues.crlf += 1;
    }
    if memchr::memchr(0, raw).is_some() {
        issues.nul_bytes += 1;
        // Zero runs are what a crash leaves in a preallocated log: drop the leading ones.
        while let [0, rest @ ..] = raw {
            raw = rest;
        }
    }
    // simdutf8 validates clean lines several times faster than std; std's slower check only
    // runs on the rare bad line, for its error details.
    let text = match simdutf8::basic::from_utf8(raw).or_else(|_| std::str::from_utf8(raw)) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) if raw.len() == MAX_LINE && e.error_len().is_none() => {
            // Only the cut split a character: drop the partial one.
            Cow::Borrowed(std::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => {
            issues.invalid_utf8 += 1;
            String::from_utf8_lossy(raw)
        }
    };
    f(Line {
        text,
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
