//! Text lines, one way for every reader (`logward scan`, the agent's file, stdin and command
//! sources): a line is the bytes before `\n`; a trailing `\r` is dropped; invalid UTF-8 is
//! replaced by U+FFFD; a line longer than the cap ([`MAX_LINE`] for log lines) keeps its
//! first bytes up to the cap — backed off to the last whole character when the cut split
//! one — and the rest up to the newline is read and dropped. The text carries no marker:
//! decoders see the line's head as it was written. Readers count cut lines and invalid
//! UTF-8 from the flags of [`Text`] (`long_lines` / `truncated_long` in their stats).
//!
//! [`LineCutter`] holds a line split across reads without growing past the cap; a line
//! whole inside one buffer is borrowed, never copied.

use std::borrow::Cow;

use crate::MAX_LINE;

/// A line's bytes as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a> {
    pub text: Cow<'a, str>,
    /// Bytes past the cap were dropped.
    pub cut: bool,
    /// Invalid UTF-8 was replaced (a character split by the cut is dropped, not counted).
    pub invalid_utf8: bool,
    /// A trailing `\r` was dropped.
    pub crlf: bool,
}

/// A log line's bytes (without `\n`) as text, cut at [`MAX_LINE`]; `cut`: bytes were
/// already dropped by the reader.
#[inline]
pub fn decode(raw: &[u8], cut: bool) -> Text<'_> {
    decode_capped(raw, cut, MAX_LINE)
}

/// [`decode`] with another cap.
#[inline]
pub fn decode_capped(mut raw: &[u8], cut: bool, max: usize) -> Text<'_> {
    let mut crlf = false;
    if let [head @ .., b'\r'] = raw {
        raw = head;
        crlf = true;
    }
    let cut = cut || raw.len() > max;
    if cut {
        raw = raw.get(..max).unwrap_or(raw);
    }
    // simdutf8 validates clean lines several times faster than std; std's slower check only
    // runs on the rare bad line, for its error details.
    let (text, invalid_utf8) =
        match simdutf8::basic::from_utf8(raw).or_else(|_| std::str::from_utf8(raw)) {
            Ok(s) => (Cow::Borrowed(s), false),
            Err(e) if cut && e.error_len().is_none() => {
                // Only the cut split a character: drop the partial one.
                let whole = raw.get(..e.valid_up_to()).unwrap_or_default();
                (String::from_utf8_lossy(whole), false)
            }
            Err(_) => (String::from_utf8_lossy(raw), true),
        };
    Text {
        text,
        cut,
        invalid_utf8,
        crlf,
    }
}

/// A line being read across buffers: keeps at most the cap plus one byte (room for a
/// `\r` after a line exactly at the cap), drops the rest and remembers it did.
#[derive(Debug, Clone)]
pub struct LineCutter {
    max: usize,
    pending: Vec<u8>,
    overlong: bool,
    /// The pending line was handed out: cleared before the next use.
    taken: bool,
}

impl Default for LineCutter {
    fn default() -> Self {
        LineCutter::new(MAX_LINE)
    }
}

impl LineCutter {
    /// A cutter for lines of at most `max` bytes.
    pub fn new(max: usize) -> LineCutter {
        LineCutter {
            max,
            pending: Vec::new(),
            overlong: false,
            taken: false,
        }
    }

    fn reset_if_taken(&mut self) {
        if self.taken {
            self.pending.clear();
            self.overlong = false;
            self.taken = false;
        }
    }

    /// Whether a line is partly read (bytes kept or dropped since the last newline).
    pub fn is_pending(&self) -> bool {
        !self.taken && (!self.pending.is_empty() || self.overlong)
    }

    /// Keeps `part`, bytes of a line whose newline has not been read yet.
    pub fn push(&mut self, part: &[u8]) {
        self.reset_if_taken();
        let room = (self.max + 1).saturating_sub(self.pending.len());
        let take = part.len().min(room);
        self.pending.extend_from_slice(&part[..take]);
        if take < part.len() {
            self.overlong = true;
        }
    }

    /// The line that `last` (its bytes before the newline) completes, and whether bytes were
    /// dropped from it: `last` itself when nothing was pending.
    pub fn complete<'a>(&'a mut self, last: &'a [u8]) -> (&'a [u8], bool) {
        self.reset_if_taken();
        if self.pending.is_empty() && !self.overlong {
            return (last, false);
        }
        self.push(last);
        self.taken = true;
        (&self.pending, self.overlong)
    }

    /// At the end of the input: the partial last line, if any.
    pub fn finish(&mut self) -> Option<(&[u8], bool)> {
        self.reset_if_taken();
        if self.pending.is_empty() && !self.overlong {
            return None;
        }
        self.taken = true;
        Some((&self.pending, self.overlong))
    }

    /// Forgets the partial line (its file was truncated).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.overlong = false;
        self.taken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_dropped_and_cut_on_a_character_boundary() {
        let t = decode(b"abc\r", false);
        assert_eq!((t.text.as_ref(), t.crlf, t.cut), ("abc", true, false));
        let mut long = vec![b'a'; MAX_LINE - 1];
        long.extend_from_slice("é".as_bytes());
        long.extend_from_slice(b"tail");
        let t = decode(&long, false);
        assert_eq!(t.text.len(), MAX_LINE - 1);
        assert!(t.text.bytes().all(|b| b == b'a'));
        assert!(
            t.cut && !t.invalid_utf8,
            "a split character is not invalid UTF-8"
        );
        let t = decode(b"a\xffb", false);
        assert_eq!((t.text.as_ref(), t.invalid_utf8), ("a\u{fffd}b", true));
        // Exactly at the cap, with CRLF: not cut.
        let mut exact = vec![b'x'; MAX_LINE];
        exact.push(b'\r');
        let t = decode(&exact, false);
        assert_eq!((t.text.len(), t.cut, t.crlf), (MAX_LINE, false, true));
    }

    #[test]
    fn a_line_across_buffers_is_kept_up_to_the_cap() {
        let mut c = LineCutter::new(8);
        assert_eq!(c.complete(b"whole"), (&b"whole"[..], false));
        c.push(b"abc");
        assert!(c.is_pending());
        assert_eq!(c.complete(b"def"), (&b"abcdef"[..], false));
        assert!(!c.is_pending());
        c.push(b"0123456");
        c.push(b"789");
        c.push(b"more");
        let (raw, cut) = c.complete(b"end");
        assert_eq!(
            (raw, cut),
            (&b"012345678"[..], true),
            "cap + 1 kept for a \\r"
        );
        assert_eq!(decode_capped(raw, cut, 8).text, "01234567");
        assert_eq!(c.complete(b"next"), (&b"next"[..], false));
        c.push(b"tail");
        assert_eq!(c.finish(), Some((&b"tail"[..], false)));
        assert_eq!(c.finish(), None);
        c.push(b"x");
        c.clear();
        assert!(!c.is_pending());
    }
}
