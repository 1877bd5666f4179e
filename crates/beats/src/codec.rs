//! The Lumberjack frame reader: sync, no I/O, every allocation bounded by [`Limits`], so the
//! server, the fuzz target and the tests drive the same code over byte slices.
//!
//! Wire format (all integers big-endian u32; each frame starts with a version byte, `'1'` or
//! `'2'`, and a type byte):
//!
//! | frame | after version and type | sent by |
//! |---|---|---|
//! | `W` window | events in the window | client, before each window |
//! | `J` JSON event (v2) | seq, length, JSON document | client |
//! | `D` data event (v1) | seq, pair count, then (key length, key, value length, value) pairs | client |
//! | `C` compressed | length, zlib stream holding `J`/`D` frames | client |
//! | `A` ack | seq of the last event committed | server |
//!
//! A window is the `W` frame and the events it announced; the server ACKs the last event's
//! sequence number once the window is committed. Beats number each window's events from 1
//! (go-lumber), other clients keep counting across windows (pylogbeat): the reader does not
//! check sequence numbers, it only echoes the last one.

use std::fmt;

use flate2::{Decompress, FlushDecompress, Status};
use serde_json::value::RawValue;

const WINDOW: u8 = b'W';
const JSON: u8 = b'J';
const DATA: u8 = b'D';
const COMPRESSED: u8 = b'C';
const ACK: u8 = b'A';

/// The protocol version a frame carries (its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `'1'`: logstash-forwarder's protocol, `D` (key/value) events.
    V1,
    /// `'2'`: the Beats' protocol, `J` (JSON) events.
    V2,
}

impl Version {
    fn from_byte(b: u8) -> Option<Version> {
        match b {
            b'1' => Some(Version::V1),
            b'2' => Some(Version::V2),
            _ => None,
        }
    }

    /// The version byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Version::V1 => b'1',
            Version::V2 => b'2',
        }
    }
}

/// Bounds on what one connection may make the reader hold. A frame's declared length is
/// checked before any of it is buffered, a compressed frame is inflated into at most
/// `max_inflated_bytes`, and a window's events together stay under `max_window_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest `J`, `D` or `C` frame on the wire (a `C` frame holds a whole window).
    pub max_frame_bytes: u32,
    /// The most one `C` frame may inflate to (a zip bomb fails here, before allocating more).
    pub max_inflated_bytes: u32,
    /// The most events a `W` frame may announce.
    pub max_window: u32,
    /// The most bytes of event JSON one window may hold.
    pub max_window_bytes: u32,
}

impl Default for Limits {
    /// Room for Beats' defaults (`bulk_max_size: 2048` events of a few KiB, one `C` frame
    /// per window) with a wide margin; memory per connection stays under
    /// `max_frame_bytes + max_inflated_bytes + max_window_bytes`.
    fn default() -> Limits {
        Limits {
            max_frame_bytes: 8 << 20,
            max_inflated_bytes: 32 << 20,
            max_window: 16_384,
            max_window_bytes: 32 << 20,
        }
    }
}

/// One event of a window: its sequence number and its JSON document (always an object; a
/// `D` frame's pairs become an object of strings).
#[derive(Debug)]
pub struct Event {
    /// The client's sequence number for it.
    pub seq: u32,
    /// The document, checked to be UTF-8 JSON.
    pub json: Box<RawValue>,
}

/// A complete window: every event its `W` frame announced, in order.
#[derive(Debug)]
pub struct Window {
    /// The version of its `W` frame (the ACK is sent in the same version).
    pub version: Version,
    /// Never empty (a window of 0 events is skipped).
    pub events: Vec<Event>,
}

impl Window {
    /// The sequence number to ACK: the last event's.
    pub fn last_seq(&self) -> u32 {
        self.events.last().map_or(0, |e| e.seq)
    }
}

/// What made a connection's byte stream unreadable; the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown protocol version byte 0x{0:02x} (expected '1' or '2')")]
    UnknownVersion(u8),
    #[error("unknown frame type 0x{code:02x} in protocol version '{}'", *version as char)]
    UnknownType { version: u8, code: u8 },
    #[error("'{}' frame of {len} bytes is over the limit of {max} bytes", *frame as char)]
    Oversize { frame: u8, len: u64, max: u32 },
    #[error("window of {size} events is over the limit of {max}")]
    WindowTooLarge { size: u32, max: u32 },
    #[error("the window's events are over the limit of {max} bytes")]
    WindowBytes { max: u32 },
    #[error("compressed frame inflates past the limit of {max} bytes")]
    InflatedTooLarge { max: u32 },
    #[error("compressed frame: bad zlib data: {0}")]
    BadZlib(String),
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("event {seq}: the payload is not UTF-8")]
    InvalidUtf8 { seq: u32 },
    #[error("event {seq}: invalid JSON: {msg}")]
    InvalidJson { seq: u32, msg: String },
    #[error("event {seq}: the JSON document is not an object")]
    NotAnObject { seq: u32 },
    #[error("'{}' frame before any window frame", *frame as char)]
    OutsideWindow { frame: u8 },
    #[error("window frame while {missing} events of the previous window are still due")]
    WindowInsideWindow { missing: u32 },
    #[error("more events than the window's {size}")]
    WindowOverrun { size: u32 },
    #[error("'{}' frame inside a compressed frame", *frame as char)]
    Nested { frame: u8 },
}

/// [`FrameError`]s grouped for counters (`kind` label of the malformed-frame counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnknownVersion,
    UnknownType,
    Oversize,
    WindowLimit,
    ZipBomb,
    BadZlib,
    Truncated,
    InvalidUtf8,
    InvalidJson,
    Order,
}

impl ErrorKind {
    /// Every kind, in the order of [`ErrorKind::index`].
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::UnknownVersion,
        ErrorKind::UnknownType,
        ErrorKind::Oversize,
        ErrorKind::WindowLimit,
        ErrorKind::ZipBomb,
        ErrorKind::BadZlib,
        ErrorKind::Truncated,
        ErrorKind::InvalidUtf8,
        ErrorKind::InvalidJson,
        ErrorKind::Order,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownVersion => "unknown_version",
            ErrorKind::UnknownType => "unknown_type",
            ErrorKind::Oversize => "oversize",
            ErrorKind::WindowLimit => "window_limit",
            ErrorKind::ZipBomb => "zip_bomb",
            ErrorKind::BadZlib => "bad_zlib",
            ErrorKind::Truncated => "truncated",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::Order => "out_of_order",
        }
    }

    /// Its position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FrameError {
    /// Its counter group.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FrameError::UnknownVersion(_) => ErrorKind::UnknownVersion,
            FrameError::UnknownType { .. } => ErrorKind::UnknownType,
            FrameError::Oversize { .. } => ErrorKind::Oversize,
            FrameError::WindowTooLarge { .. } | FrameError::WindowBytes { .. } => {
                ErrorKind::WindowLimit
            }
            FrameError::InflatedTooLarge { .. } => ErrorKind::ZipBomb,
            FrameError::BadZlib(_) => ErrorKind::BadZlib,
            FrameError::Truncated(_) => ErrorKind::Truncated,
            FrameError::InvalidUtf8 { .. } => ErrorKind::InvalidUtf8,
            FrameError::InvalidJson { .. } | FrameError::NotAnObject { .. } => {
                ErrorKind::InvalidJson
            }
            FrameError::OutsideWindow { .. }
            | FrameError::WindowInsideWindow { .. }
            | FrameError::WindowOverrun { .. }
            | FrameError::Nested { .. } => ErrorKind::Order,
        }
    }
}

/// The 6-byte ACK frame for `seq` (seq 0 is the keep-alive: "still working on it").
pub fn ack(version: Version, seq: u32) -> [u8; 6] {
    let s = seq.to_be_bytes();
    [version.byte(), ACK, s[0], s[1], s[2], s[3]]
}

/// One frame as it lies in the buffer.
enum Raw<'a> {
    Window {
        version: Version,
        size: u32,
    },
    Json {
        seq: u32,
        payload: &'a [u8],
    },
    Data {
        seq: u32,
        count: u32,
        pairs: &'a [u8],
    },
    Compressed {
        payload: &'a [u8],
    },
}

impl Raw<'_> {
    fn code(&self) -> u8 {
        match self {
            Raw::Window { .. } => WINDOW,
            Raw::Json { .. } => JSON,
            Raw::Data { .. } => DATA,
            Raw::Compressed { .. } => COMPRESSED,
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The frame at the front of `b` and its length, `None` while it is incomplete. Lengths are
/// checked against the limits from the header, before the body has arrived.
fn frame<'a>(b: &'a [u8], limits: &Limits) -> Result<Option<(Raw<'a>, usize)>, FrameError> {
    let (Some(&v), Some(&code)) = (b.first(), b.get(1)) else {
        return Ok(None);
    };
    let version = Version::from_byte(v).ok_or(FrameError::UnknownVersion(v))?;
    let oversize = |len: u64| FrameError::Oversize {
        frame: code,
        len,
        max: limits.max_frame_bytes,
    };
    match code {
        WINDOW => Ok(be32(b, 2).map(|size| (Raw::Window { version, size }, 6))),
        JSON => {
            let (Some(seq), Some(len)) = (be32(b, 2), be32(b, 6)) else {
                return Ok(None);
            };
            if len > limits.max_frame_bytes {
                return Err(oversize(len.into()));
            }
            let end = 10 + len as usize;
            Ok(b.get(10..end)
                .map(|payload| (Raw::Json { seq, payload }, end)))
        }
        COMPRESSED => {
            let Some(len) = be32(b, 2) else {
                return Ok(None);
            };
            if len > limits.max_frame_bytes {
                return Err(oversize(len.into()));
            }
            let end = 6 + len as usize;
            Ok(b.get(6..end)
                .map(|payload| (Raw::Compressed { payload }, end)))
        }
        DATA => {
            let (Some(seq), Some(count)) = (be32(b, 2), be32(b, 6)) else {
                return Ok(None);
            };
            // A pair takes at least its two length words.
            let max = u64::from(limits.max_frame_bytes);
            if u64::from(count) * 8 > max {
                return Err(oversize(u64::from(count) * 8));
            }
            // No length in the header: walk the pairs, bounding the walk itself.
            let mut at = 10usize;
            for _ in 0..count.saturating_mul(2) {
                let Some(len) = be32(b, at) else {
                    return Ok(None);
                };
                let next = at as u64 + 4 + u64::from(len);
                if next - 10 > max {
                    return Err(oversize(next - 10));
                }
                at = next as usize;
            }
            if at > b.len() {
                return Ok(None);
            }
            Ok(Some((
                Raw::Data {
                    seq,
                    count,
                    pairs: &b[10..at],
                },
                at,
            )))
        }
        _ => Err(FrameError::UnknownType { version: v, code }),
    }
}

fn json_event(seq: u32, payload: &[u8]) -> Result<Event, FrameError> {
    let text = std::str::from_utf8(payload).map_err(|_| FrameError::InvalidUtf8 { seq })?;
    let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if !text.starts_with('{') {
        // Report a broken document as invalid JSON, not as "not an object".
        return Err(match serde_json::from_str::<&RawValue>(text) {
            Err(e) => FrameError::InvalidJson {
                seq,
                msg: e.to_string(),
            },
            Ok(_) => FrameError::NotAnObject { seq },
        });
    }
    let json = RawValue::from_string(text.to_owned()).map_err(|e| FrameError::InvalidJson {
        seq,
        msg: e.to_string(),
    })?;
    Ok(Event { seq, json })
}

/// A `D` frame's pairs as a JSON object of strings (a repeated key keeps its last value),
/// keys sorted: a `BTreeMap`, not `serde_json::Map`, whose order depends on whether another
/// crate in the build turned on serde_json's `preserve_order` (the evtx crate does).
fn data_event(seq: u32, count: u32, pairs: &[u8]) -> Result<Event, FrameError> {
    let mut map = std::collections::BTreeMap::new();
    let mut at = 0usize;
    let mut next = || -> Result<&str, FrameError> {
        let len = be32(pairs, at).map_or(0, |l| l as usize);
        let s = pairs
            .get(at + 4..at + 4 + len)
            .ok_or_else(|| FrameError::Truncated("data frame's pairs".into()))?;
        at += 4 + len;
        std::str::from_utf8(s).map_err(|_| FrameError::InvalidUtf8 { seq })
    };
    for _ in 0..count {
        let key = next()?.to_owned();
        let value = next()?.to_owned();
        map.insert(key, value);
    }
    let text = serde_json::to_string(&map).map_err(|e| FrameError::InvalidJson {
        seq,
        msg: e.to_string(),
    })?;
    let json = RawValue::from_string(text).map_err(|e| FrameError::InvalidJson {
        seq,
        msg: e.to_string(),
    })?;
    Ok(Event { seq, json })
}

/// Inflates a `C` frame's zlib stream into at most `max` bytes: the output buffer grows by
/// doubling but never past `max + 1`, so a bomb costs `max` bytes and an error.
fn inflate(payload: &[u8], max: u32) -> Result<Vec<u8>, FrameError> {
    let max = max as usize;
    let bound = max + 1;
    let mut out: Vec<u8> = Vec::with_capacity(payload.len().saturating_mul(4).max(64).min(bound));
    let mut z = Decompress::new(true);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= bound {
                return Err(FrameError::InflatedTooLarge { max: max as u32 });
            }
            let more = out.capacity().min(bound - out.len()).max(64);
            out.reserve_exact(more.min(bound - out.len()));
        }
        let (in_before, out_before) = (z.total_in(), out.len());
        let input = payload.get(z.total_in() as usize..).unwrap_or_default();
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| FrameError::BadZlib(e.to_string()))?;
        if status == Status::StreamEnd {
            break;
        }
        if z.total_in() == in_before && out.len() == out_before && out.len() < out.capacity() {
            return Err(FrameError::BadZlib(
                "the zlib stream ends before its end marker".into(),
            ));
        }
    }
    if out.len() > max {
        return Err(FrameError::InflatedTooLarge { max: max as u32 });
    }
    let rest = payload.len() - z.total_in() as usize;
    if rest > 0 {
        return Err(FrameError::BadZlib(format!(
            "{rest} bytes after the end of the zlib stream"
        )));
    }
    Ok(out)
}

/// An open window: announced, not yet complete.
#[derive(Debug)]
struct Open {
    version: Version,
    size: u32,
    events: Vec<Event>,
    bytes: usize,
}

/// Reads windows from a connection's bytes. Feed it the unconsumed bytes; it takes whole
/// frames from the front and returns a window as soon as its last event is in.
#[derive(Debug)]
pub struct Reader {
    limits: Limits,
    open: Option<Open>,
}

impl Reader {
    /// A reader with these limits.
    pub fn new(limits: Limits) -> Reader {
        Reader { limits, open: None }
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a window has been announced and is not complete yet.
    pub fn in_window(&self) -> bool {
        self.open.is_some()
    }

    /// Takes whole frames from the front of `buf` until a window completes or only a partial
    /// frame is left. Returns the bytes consumed and the window, if one completed; the
    /// caller drops the consumed bytes and calls again with more.
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Window>), FrameError> {
        let mut at = 0;
        while let Some((raw, len)) = frame(&buf[at..], &self.limits)? {
            at += len;
            match raw {
                Raw::Window { version, size } => self.announce(version, size)?,
                Raw::Compressed { payload } => {
                    let inner = inflate(payload, self.limits.max_inflated_bytes)?;
                    let mut i = 0;
                    while i < inner.len() {
                        let (raw, len) = frame(&inner[i..], &self.limits)?.ok_or_else(|| {
                            FrameError::Truncated("compressed frame ends inside a frame".into())
                        })?;
                        i += len;
                        self.event(raw)?;
                    }
                }
                raw => self.event(raw)?,
            }
            if let Some(open) = self.open.take_if(|o| o.events.len() == o.size as usize) {
                let window = Window {
                    version: open.version,
                    events: open.events,
                };
                return Ok((at, Some(window)));
            }
        }
        Ok((at, None))
    }

    /// At the end of the stream: an error when it ends inside a frame (`pending` bytes left
    /// unconsumed) or inside a window.
    pub fn finish(&self, pending: usize) -> Result<(), FrameError> {
        if pending > 0 {
            return Err(FrameError::Truncated(format!(
                "the connection closed inside a frame ({pending} bytes of it)"
            )));
        }
        match &self.open {
            Some(o) => Err(FrameError::Truncated(format!(
                "the connection closed after {} of the window's {} events",
                o.events.len(),
                o.size
            ))),
            None => Ok(()),
        }
    }

    fn announce(&mut self, version: Version, size: u32) -> Result<(), FrameError> {
        if let Some(o) = &self.open {
            return Err(FrameError::WindowInsideWindow {
                missing: o.size - o.events.len() as u32,
            });
        }
        if size > self.limits.max_window {
            return Err(FrameError::WindowTooLarge {
                size,
                max: self.limits.max_window,
            });
        }
        if size > 0 {
            self.open = Some(Open {
                version,
                size,
                // Reserve for what the client announced, within reason: it may be lying.
                events: Vec::with_capacity(size.min(4096) as usize),
                bytes: 0,
            });
        }
        Ok(())
    }

    fn event(&mut self, raw: Raw<'_>) -> Result<(), FrameError> {
        let Some(open) = self.open.as_mut() else {
            return Err(FrameError::OutsideWindow { frame: raw.code() });
        };
        if open.events.len() == open.size as usize {
            return Err(FrameError::WindowOverrun { size: open.size });
        }
        let event = match raw {
            Raw::Json { seq, payload } => json_event(seq, payload)?,
            Raw::Data { seq, count, pairs } => data_event(seq, count, pairs)?,
            Raw::Window { .. } | Raw::Compressed { .. } => {
                return Err(FrameError::Nested { frame: raw.code() })
            }
        };
        open.bytes += event.json.get().len();
        if open.bytes > self.limits.max_window_bytes as usize {
            return Err(FrameError::WindowBytes {
                max: self.limits.max_window_bytes,
            });
        }
        open.events.push(event);
        Ok(())
    }
}

/// Writing frames, the client's side: what the tests, the fuzz corpus and the benchmark
/// send (Beats themselves are the real clients).
pub mod write {
    use std::io::Write as _;

    use super::{Version, COMPRESSED, DATA, JSON, WINDOW};

    /// A `W` frame.
    pub fn window(version: Version, size: u32) -> Vec<u8> {
        let mut f = vec![version.byte(), WINDOW];
        f.extend_from_slice(&size.to_be_bytes());
        f
    }

    /// A `J` frame.
    pub fn json(seq: u32, doc: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(10 + doc.len());
        f.extend_from_slice(&[b'2', JSON]);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(doc.len() as u32).to_be_bytes());
        f.extend_from_slice(doc);
        f
    }

    /// A `D` frame of key/value pairs.
    pub fn data(version: Version, seq: u32, pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut f = vec![version.byte(), DATA];
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
        for (k, v) in pairs {
            for s in [k, v] {
                f.extend_from_slice(&(s.len() as u32).to_be_bytes());
                f.extend_from_slice(s.as_bytes());
            }
        }
        f
    }

    /// A `C` frame around `frames` (zlib at `level`, 0–9).
    pub fn compressed(frames: &[u8], level: u32) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        // Writing into a Vec cannot fail.
        let _ = z.write_all(frames);
        let body = z.finish().unwrap_or_default();
        compressed_raw(&body)
    }

    /// A `C` frame around an arbitrary body (for malformed ones).
    pub fn compressed_raw(body: &[u8]) -> Vec<u8> {
        let mut f = vec![b'2', COMPRESSED];
        f.extend_from_slice(&(body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// A whole window as Beats send it: `W`, then one `C` frame holding a `J` frame per
    /// document, numbered from `first_seq`.
    pub fn beats_window(docs: &[&[u8]], first_seq: u32, level: u32) -> Vec<u8> {
        let mut inner = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            inner.extend_from_slice(&json(first_seq + i as u32, d));
        }
        let mut f = window(Version::V2, docs.len() as u32);
        f.extend_from_slice(&compressed(&inner, level));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_frame_bytes: 1024,
            max_inflated_bytes: 4096,
            max_window: 8,
            max_window_bytes: 2048,
        }
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Window>, FrameError> {
        let mut r = Reader::new(limits());
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let (used, w) = r.feed(&bytes[at..])?;
            at += used;
            match w {
                Some(w) => out.push(w),
                None => {
                    r.finish(bytes.len() - at)?;
                    return Ok(out);
                }
            }
        }
    }

    #[test]
    fn a_window_of_every_event_frame_reads_whole_and_byte_by_byte() {
        let mut b = write::window(Version::V2, 3);
        b.extend(write::json(7, br#" {"a":1} "#));
        b.extend(write::data(Version::V2, 8, &[("line", "x"), ("host", "h")]));
        b.extend(write::compressed(&write::json(9, br#"{"b":[2]}"#), 6));
        let ws = read_all(&b).unwrap();
        assert_eq!(ws.len(), 1);
        let docs: Vec<_> = ws[0].events.iter().map(|e| e.json.get()).collect();
        assert_eq!(
            docs,
            [r#"{"a":1}"#, r#"{"host":"h","line":"x"}"#, r#"{"b":[2]}"#]
        );
        assert_eq!(ws[0].last_seq(), 9);

        // One byte at a time: nothing is consumed until a frame is whole.
        let mut r = Reader::new(limits());
        let mut pending: Vec<u8> = Vec::new();
        let mut got = None;
        for &byte in &b {
            pending.push(byte);
            let (used, w) = r.feed(&pending).unwrap();
            pending.drain(..used);
            if w.is_some() {
                got = w;
            }
        }
        assert_eq!(got.unwrap().events.len(), 3);
        assert!(pending.is_empty() && !r.in_window());
    }

    #[test]
    fn v1_windows_ack_in_v1() {
        let mut b = write::window(Version::V1, 1);
        b.extend(write::data(Version::V1, 1, &[("message", "m")]));
        let ws = read_all(&b).unwrap();
        assert_eq!(ws[0].version, Version::V1);
        assert_eq!(&ack(ws[0].version, 1), b"1A\0\0\0\x01");
    }

    #[test]
    fn every_malformed_input_has_its_own_error() {
        let w1 = write::window(Version::V2, 1);
        let cat = |parts: &[&[u8]]| parts.concat();
        let cases: Vec<(Vec<u8>, ErrorKind)> = vec![
            (b"3W\0\0\0\x01".to_vec(), ErrorKind::UnknownVersion),
            (b"2X".to_vec(), ErrorKind::UnknownType),
            (
                cat(&[&w1, b"2J\0\0\0\x01\0\0\x04\x01"]),
                ErrorKind::Oversize,
            ),
            (cat(&[&w1, b"2C\xff\xff\xff\xff"]), ErrorKind::Oversize),
            (cat(&[&w1, b"2D\0\0\0\x01\x10\0\0\0"]), ErrorKind::Oversize),
            (write::window(Version::V2, 9), ErrorKind::WindowLimit),
            (
                cat(&[&w1, &write::compressed_raw(b"not zlib")]),
                ErrorKind::BadZlib,
            ),
            (
                cat(&[&w1, &write::json(1, b"{\"a\":")]),
                ErrorKind::InvalidJson,
            ),
            (cat(&[&w1, &write::json(1, b"[1]")]), ErrorKind::InvalidJson),
            (
                cat(&[&w1, &write::json(1, b"{\"a\":\"\xff\"}")]),
                ErrorKind::InvalidUtf8,
            ),
            (write::json(1, b"{}"), ErrorKind::Order),
            (cat(&[&w1, &w1]), ErrorKind::Order),
            (cat(&[&w1, b"2J\0\0"]), ErrorKind::Truncated),
            (w1.clone(), ErrorKind::Truncated),
        ];
        for (bytes, kind) in cases {
            let e = read_all(&bytes).unwrap_err();
            assert_eq!(e.kind(), kind, "{bytes:?}: {e}");
        }
    }

    #[test]
    fn compressed_frames_are_checked_inside() {
        let w = |n| write::window(Version::V2, n);
        let two = [write::json(1, b"{}"), write::json(2, b"{}")].concat();
        // Two events in a window of one.
        let e = read_all(&[w(1), write::compressed(&two, 1)].concat()).unwrap_err();
        assert_eq!(e, FrameError::WindowOverrun { size: 1 });
        // A window inside a compressed frame.
        let e = read_all(&[w(1), write::compressed(&w(1), 1)].concat()).unwrap_err();
        assert_eq!(e, FrameError::Nested { frame: b'W' });
        // A frame cut short inside the zlib stream.
        let cut = &write::json(1, b"{}")[..6];
        let e = read_all(&[w(1), write::compressed(cut, 1)].concat()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Truncated);
        // Junk after the zlib stream.
        let mut c = write::compressed(&write::json(1, b"{}"), 1);
        c.extend_from_slice(b"xx");
        let len = (c.len() - 6) as u32;
        c[2..6].copy_from_slice(&len.to_be_bytes());
        let e = read_all(&[w(1), c].concat()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadZlib, "{e}");
    }

    #[test]
    fn a_zip_bomb_stops_at_the_inflate_limit() {
        // 512 KiB of zeros compresses to ~500 bytes, inside the frame limit; inflated it is
        // 128 times the limit.
        let mut inner = write::json(1, b"{}");
        inner.resize(512 << 10, 0);
        let bomb = write::compressed(&inner, 9);
        assert!(bomb.len() < 1024, "{}", bomb.len());
        let e = read_all(&[write::window(Version::V2, 1), bomb].concat()).unwrap_err();
        assert_eq!(e, FrameError::InflatedTooLarge { max: 4096 });
    }

    #[test]
    fn exactly_the_inflate_limit_is_allowed() {
        let pad = 4096 - 10 - 2;
        let doc = format!("{{}}{}", " ".repeat(pad));
        let inner = write::json(1, doc.as_bytes());
        assert_eq!(inner.len(), 4096);
        let big = Limits {
            max_window_bytes: 1 << 20,
            max_frame_bytes: 1 << 20,
            ..limits()
        };
        let mut r = Reader::new(big);
        let b = [write::window(Version::V2, 1), write::compressed(&inner, 9)].concat();
        let (used, w) = r.feed(&b).unwrap();
        assert_eq!((used, w.map(|w| w.events.len())), (b.len(), Some(1)));
    }

    #[test]
    fn a_window_of_zero_events_is_skipped() {
        let b = [
            write::window(Version::V2, 0),
            write::window(Version::V2, 1),
            write::json(1, b"{}"),
        ]
        .concat();
        assert_eq!(read_all(&b).unwrap().len(), 1);
    }

    #[test]
    fn the_window_byte_limit_counts_event_bytes() {
        let doc = format!("{{\"m\":\"{}\"}}", "x".repeat(900));
        let mut b = write::window(Version::V2, 3);
        for seq in 1..=3 {
            b.extend(write::json(seq, doc.as_bytes()));
        }
        assert_eq!(
            read_all(&b).unwrap_err(),
            FrameError::WindowBytes { max: 2048 }
        );
    }
}
