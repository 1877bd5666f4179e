//! `.evtx` files (the Windows XML Event Log format: a file header, 64 KiB `ElfChnk` chunks,
//! BinXML records with templates) → [`WinRecord`]s.
//!
//! The `evtx` crate reads the format; this module renders each record as XML (the crate's
//! fastest rendering that carries both System and EventData as Windows writes them: its
//! JSON renders the same work but turns values into numbers, and its JSON value costs a
//! second parse — docs/BENCHMARKS.md), reads that XML with [`xml::read_event`] (the one Event XML reader, shared with Event XML
//! text) and keeps it
//! only when asked ([`EvtxReader::with_original`]).
//!
//! Damage is reported and passed over, never fatal past the file header: a chunk that cannot
//! be read, a chunk whose CRC32 does not match (its records are still read: each has its own
//! bounds), a record that cannot be rendered, a file cut short (the intact records of the cut
//! chunk are still read) each give one [`EvtxReadError`] naming the chunk and the record, and
//! reading goes on.
//!
//! For a follower: [`EvtxReader::start_after`] skips everything up to an `EventRecordID`
//! (whole chunks by their header, without rendering them), and [`EvtxReader::identity`]
//! names the log a file holds, so a replaced file is told from a grown one.
//! [`EvtxReader::next_numbered`] gives each item with its record header's id (what
//! `start_after` counts by: an exported log's XML keeps the ids of the log it came from),
//! [`EvtxReader::from_file`] reads a file held open ([`EvtxReader::from_file_after`]: only
//! the chunks past an id, for a follower's look at a large log), and a record that does not end with the
//! copy of its size (a chunk caught while it is written) is an error, not a record.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxChunkData, EvtxParser, IntoIterChunks, ParserSettings};
use logward_core::Timestamp;

use super::{xml, WinRecord};

/// The first bytes of every `.evtx` file.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";
/// The file header block and the chunk sizes of the format.
const HEADER_BLOCK: u64 = 4096;
const CHUNK: u64 = 64 * 1024;
/// A chunk's own header, before its records.
const CHUNK_HEADER: usize = 512;

/// Whether `head` (a file's first bytes) starts like an `.evtx` file.
pub fn is_evtx(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// One piece of a file that could not be read: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvtxReadError {
    /// The chunk's number in the file (0 is the one right after the file header).
    pub chunk: Option<u64>,
    /// The record's `EventRecordID`, when its header could be read.
    pub record_id: Option<u64>,
    /// What is wrong, with the `evtx` crate's reasons.
    pub reason: String,
}

impl fmt::Display for EvtxReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.chunk, self.record_id) {
            (Some(c), Some(r)) => write!(f, "chunk {c}, record {r}: {}", self.reason),
            (Some(c), None) => write!(f, "chunk {c}: {}", self.reason),
            (None, Some(r)) => write!(f, "record {r}: {}", self.reason),
            (None, None) => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for EvtxReadError {}

/// What names the log a file holds, read from its first chunk: the first record of a log
/// stays where it is while the log grows, so a file whose identity changed was replaced
/// (cleared, rotated, archived, copied over) rather than appended to. A log that wrapped
/// around overwrites its first chunk too; its records then go on from where they were, which
/// a follower checks by `EventRecordID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EvtxIdentity {
    /// The `EventRecordID` of the first chunk's first record (`None`: no readable chunk 0).
    pub first_record_id: Option<u64>,
    /// That record's header time, as its raw FILETIME.
    pub first_record_filetime: Option<u64>,
}

/// Reads the records of one `.evtx` file, in record order (oldest chunk first, as Windows
/// reads a log that wrapped around). Items are a record or the error of one damaged piece;
/// an error is never the last word: the items after it are the rest of the file.
pub struct EvtxReader {
    chunks: Chunks,
    settings: Arc<ParserSettings>,
    /// Read items, each with its record header's `EventRecordID` (`None`: damage not tied
    /// to one record).
    pending: VecDeque<(Option<u64>, Result<WinRecord, EvtxReadError>)>,
    after: Option<u64>,
    with_original: bool,
    identity: EvtxIdentity,
    next_record_id: u64,
    /// The file's bytes gone through so far (the header, then whole chunks).
    bytes_read: u64,
    /// Problems found at open (the file is cut short), reported after the whole chunks.
    tail: Option<Tail>,
    /// Records handed back by [`EvtxReader::recycle`] and their values' strings, filled
    /// again instead of allocating new ones.
    spare: Vec<WinRecord>,
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for EvtxReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvtxReader")
            .field("identity", &self.identity)
            .field("after", &self.after)
            .field("with_original", &self.with_original)
            .finish_non_exhaustive()
    }
}

enum Chunks {
    File(IntoIterChunks<File>),
    Bytes(IntoIterChunks<Cursor<Vec<u8>>>),
    /// Some chunks of a file, by number, in record order ([`EvtxReader::from_file_after`]).
    Picked(File, VecDeque<u64>),
}

impl Chunks {
    fn next(&mut self) -> Option<evtx::err::Result<EvtxChunkData>> {
        match self {
            Chunks::File(c) => c.next(),
            Chunks::Bytes(c) => c.next(),
            Chunks::Picked(file, numbers) => loop {
                let n = numbers.pop_front()?;
                if let Some(chunk) = chunk_at(file, n).transpose() {
                    return Some(chunk);
                }
            },
        }
    }
}

/// Chunk `n` of a file; `None` when it is all zeros (not written yet).
fn chunk_at(file: &mut File, n: u64) -> evtx::err::Result<Option<EvtxChunkData>> {
    let mut data = vec![0; CHUNK as usize];
    file.seek(SeekFrom::Start(HEADER_BLOCK + n * CHUNK))?;
    file.read_exact(&mut data)?;
    if data.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let mut chunk =
        EvtxChunkData::new(data, false).map_err(|e| evtx::err::EvtxError::FailedToParseChunk {
            chunk_id: n,
            source: Box::new(e),
        })?;
    chunk.number = Some(n);
    Ok(Some(chunk))
}

/// A file that ends before its header says it does, or in the middle of a chunk.
#[derive(Debug)]
struct Tail {
    /// Whole chunks in the file.
    whole: u64,
    /// Chunks the file header counts.
    counted: u64,
    /// The bytes of a chunk cut short, and its number.
    partial: Option<(u64, Vec<u8>)>,
}

impl EvtxReader {
    /// Opens an `.evtx` file. Fails only when it has no readable file header (not an `.evtx`
    /// file, or cut short within its first 4 KiB); any other damage is an item of the reader.
    pub fn open(path: impl AsRef<Path>) -> io::Result<EvtxReader> {
        EvtxReader::from_file(File::open(path)?)
    }

    /// Reads an open `.evtx` file from its start, wherever its position is (a follower reads
    /// the file it holds open, even after another file took its name).
    pub fn from_file(mut file: File) -> io::Result<EvtxReader> {
        let (head, tail) = inspect(&mut file)?;
        file.seek(SeekFrom::Start(0))?;
        let parser = EvtxParser::from_read_seek(file).map_err(invalid)?;
        Ok(EvtxReader::new(
            Chunks::File(parser.into_chunks()),
            head,
            tail,
        ))
    }

    /// Reads the records of an open file after `after`, as `from_file(file)?.start_after(after)`
    /// does, but reads only the chunk headers and the chunks that can hold a later record: a
    /// follower's look at a large log costs what is new, not the whole log.
    pub fn from_file_after(mut file: File, after: u64) -> io::Result<EvtxReader> {
        let (head, tail) = inspect(&mut file)?;
        let len = file.seek(SeekFrom::End(0))?;
        let whole = len.saturating_sub(HEADER_BLOCK) / CHUNK;
        let mut picked = Vec::new();
        let mut h = [0u8; 40];
        for n in 0..whole {
            file.seek(SeekFrom::Start(HEADER_BLOCK + n * CHUNK))?;
            file.read_exact(&mut h)?;
            if h.iter().all(|&b| b == 0) {
                continue;
            }
            let id = |at: usize| {
                h.get(at..at + 8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_le_bytes)
            };
            let (first, last) = (id(24), id(32));
            let sound = h.starts_with(b"ElfChnk\0") && first <= last;
            if sound && last <= after {
                continue;
            }
            // Record order: a log that wrapped around starts mid-file; a chunk whose header
            // cannot be trusted comes last, where its damage is reported.
            picked.push((if sound { first } else { u64::MAX }, n));
        }
        picked.sort_unstable();
        let numbers = picked.into_iter().map(|(_, n)| n).collect();
        Ok(EvtxReader::new(Chunks::Picked(file, numbers), head, tail).start_after(after))
    }

    /// Reads an `.evtx` file held in memory (tests, fuzzing, a file received whole).
    pub fn from_bytes(bytes: Vec<u8>) -> io::Result<EvtxReader> {
        let mut cursor = Cursor::new(bytes);
        let (head, tail) = inspect(&mut cursor)?;
        let parser = EvtxParser::from_buffer(cursor.into_inner()).map_err(invalid)?;
        Ok(EvtxReader::new(
            Chunks::Bytes(parser.into_chunks()),
            head,
            tail,
        ))
    }

    fn new(chunks: Chunks, head: Head, tail: Option<Tail>) -> EvtxReader {
        EvtxReader {
            chunks,
            settings: settings(false),
            pending: VecDeque::new(),
            after: None,
            with_original: false,
            identity: head.identity,
            next_record_id: head.next_record_id,
            bytes_read: HEADER_BLOCK,
            tail,
            spare: Vec::new(),
            pairs: Vec::new(),
        }
    }

    /// Skips every record whose `EventRecordID` is `id` or lower; chunks that hold only such
    /// records are passed over by their header, unread.
    pub fn start_after(mut self, id: u64) -> EvtxReader {
        self.after = Some(id);
        self
    }

    /// Keeps each record's XML rendering in [`WinRecord::original`] (for `event.original`
    /// and the alert page). Off by default: the copy costs time.
    pub fn with_original(mut self, on: bool) -> EvtxReader {
        self.with_original = on;
        self.settings = settings(on);
        self
    }

    /// Hands a record back once it is done with: the next records are read into its
    /// buffers (a scan of many records then allocates for the first chunk's only).
    pub fn recycle(&mut self, mut rec: WinRecord) {
        /// A chunk's records at most are kept.
        const KEEP: usize = 512;
        if self.spare.len() < KEEP {
            rec.recycle(&mut self.pairs);
            self.spare.push(rec);
        }
    }

    /// The log this file holds (see [`EvtxIdentity`]).
    pub fn identity(&self) -> EvtxIdentity {
        self.identity
    }

    /// The file header's next `EventRecordID`: the log's last record is the one before it
    /// (a header not flushed since the last write can lag behind the chunks).
    pub fn next_record_id(&self) -> u64 {
        self.next_record_id
    }

    /// How far into the file reading has got, in bytes (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads the next chunk's records into `pending`; `false` at the end of the file.
    fn fill(&mut self) -> bool {
        let next = self.chunks.next();
        if next.is_some() {
            self.bytes_read += CHUNK;
        }
        match next {
            Some(Ok(chunk)) => self.read_chunk(chunk, true),
            Some(Err(e)) => self.push(None, Err(error(None, None, &e))),
            None => match self.tail.take() {
                Some(tail) => {
                    self.bytes_read += tail.partial.as_ref().map_or(0, |p| p.1.len() as u64);
                    self.read_tail(tail)
                }
                None => return false,
            },
        }
        true
    }

    /// Reads one chunk's records; `check`: report a CRC32 that does not match (a chunk cut
    /// short cannot match, and its cut is reported already).
    fn read_chunk(&mut self, mut data: EvtxChunkData, check: bool) {
        let number = data.number;
        let header = &data.header;
        if let Some(after) = self.after {
            if header.first_event_record_id <= header.last_event_record_id
                && header.last_event_record_id <= after
            {
                return;
            }
        }
        if check && !data.validate_header_checksum() {
            self.fail(
                number,
                None,
                "chunk header CRC32 does not match (its records are read)",
            );
        } else if check && !data.validate_data_checksum() {
            self.fail(
                number,
                None,
                "the CRC32 of the chunk's records does not match (they are read)",
            );
        }
        let mut chunk = match data.parse(Arc::clone(&self.settings)) {
            Ok(chunk) => chunk,
            Err(e) => {
                let e = evtx::err::EvtxError::FailedToParseChunk {
                    chunk_id: number.unwrap_or_default(),
                    source: Box::new(e),
                };
                self.push(None, Err(error(number, None, &e)));
                return;
            }
        };
        let after = self.after.unwrap_or(0);
        for record in chunk.iter() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    self.push(None, Err(error(number, None, &e)));
                    continue;
                }
            };
            let id = record.event_record_id;
            if self.after.is_some() && id <= after {
                continue;
            }
            if !whole(&record) {
                let reason =
                    "record cut short: it does not end with the copy of its size (being written?)";
                let e = EvtxReadError {
                    chunk: number,
                    record_id: Some(id),
                    reason: reason.into(),
                };
                self.push(Some(id), Err(e));
                continue;
            }
            let time = jiff_time(record.timestamp);
            let item = match record.into_xml_bytes() {
                Ok(xml) => {
                    let mut rec = self.spare.pop().unwrap_or_default();
                    rec.record_id = Some(id);
                    rec.time = time;
                    read_xml(xml.data, &mut rec, &mut self.pairs, self.with_original)
                        .map(|()| rec)
                        .map_err(|why| EvtxReadError {
                            chunk: number,
                            record_id: Some(id),
                            reason: why,
                        })
                }
                Err(e) => Err(error(number, Some(id), &e)),
            };
            self.push(Some(id), item);
        }
    }

    /// The damage found at open, once the whole chunks are read, and the intact records of a
    /// chunk cut short.
    fn read_tail(&mut self, tail: Tail) {
        if tail.counted > tail.whole && tail.partial.is_none() {
            let why = format!(
                "file cut short: it has {} whole chunks, its header counts {}",
                tail.whole, tail.counted
            );
            self.fail(Some(tail.whole), None, &why);
        }
        let Some((number, bytes)) = tail.partial else {
            return;
        };
        let why = format!(
            "file cut short: the chunk has {} of its {CHUNK} bytes",
            bytes.len()
        );
        self.fail(Some(number), None, &why);
        if bytes.len() < CHUNK_HEADER {
            return;
        }
        match EvtxChunkData::new(bytes, false) {
            Ok(mut chunk) => {
                chunk.number = Some(number);
                self.read_chunk(chunk, false);
            }
            Err(e) => {
                let e = evtx::err::EvtxError::FailedToParseChunk {
                    chunk_id: number,
                    source: Box::new(e),
                };
                self.push(None, Err(error(Some(number), None, &e)));
            }
        }
    }

    fn push(&mut self, id: Option<u64>, item: Result<WinRecord, EvtxReadError>) {
        self.pending.push_back((id, item));
    }

    /// The next item with its record header's `EventRecordID`: the id the chunk headers and
    /// [`start_after`](Self::start_after) count by. A live log's XML names the same; an
    /// exported log's XML keeps the ids of the log it came from. `None` for damage not tied
    /// to one record.
    pub fn next_numbered(&mut self) -> Option<(Option<u64>, Result<WinRecord, EvtxReadError>)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn fail(&mut self, chunk: Option<u64>, record_id: Option<u64>, reason: &str) {
        self.push(
            None,
            Err(EvtxReadError {
                chunk,
                record_id,
                reason: reason.into(),
            }),
        );
    }
}

impl Iterator for EvtxReader {
    type Item = Result<WinRecord, EvtxReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_numbered().map(|(_, item)| item)
    }
}

/// The crate's settings: one thread (the reader is one of many inputs of a scan), and the
/// XML indented only when it is kept for people to read — the reader skips the blanks, and
/// rendering them costs time on every record.
fn settings(indent: bool) -> Arc<ParserSettings> {
    Arc::new(ParserSettings::new().num_threads(1).indent(indent))
}

/// What the first bytes of a file say.
#[derive(Debug)]
struct Head {
    identity: EvtxIdentity,
    next_record_id: u64,
}

/// Reads the file header and chunk 0's first record, and sizes the file up: a file that ends
/// inside a chunk or before the chunks its header counts is cut short.
fn inspect<R: Read + Seek>(r: &mut R) -> io::Result<(Head, Option<Tail>)> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = vec![0; (HEADER_BLOCK as usize + CHUNK_HEADER + 24).min(len as usize)];
    r.read_exact(&mut head)?;
    if !is_evtx(&head) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an .evtx file (no ElfFile header)",
        ));
    }
    if len < HEADER_BLOCK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(".evtx file cut short: {len} bytes, its header alone is {HEADER_BLOCK}"),
        ));
    }
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(head.get(at..at + 8)?.try_into().ok()?))
    };
    let counted = head
        .get(42..44)
        .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
    let next_record_id = u64_at(24).unwrap_or(0);
    let chunk0 = HEADER_BLOCK as usize;
    let identity = if head.get(chunk0..chunk0 + 8) == Some(b"ElfChnk\0".as_slice()) {
        // The chunk's first record: the record header after the chunk header.
        let rec = chunk0 + CHUNK_HEADER;
        let is_record = head.get(rec..rec + 4) == Some(b"\x2a\x2a\0\0".as_slice());
        EvtxIdentity {
            first_record_id: u64_at(chunk0 + 24),
            first_record_filetime: if is_record { u64_at(rec + 16) } else { None },
        }
    } else {
        EvtxIdentity {
            first_record_id: None,
            first_record_filetime: None,
        }
    };
    let body = len - HEADER_BLOCK;
    let (whole, cut) = (body / CHUNK, body % CHUNK);
    let partial = if cut > 0 {
        let mut bytes = vec![0; cut as usize];
        r.seek(SeekFrom::Start(HEADER_BLOCK + whole * CHUNK))?;
        r.read_exact(&mut bytes)?;
        Some((whole, bytes))
    } else {
        None
    };
    let tail = (cut > 0 || counted > whole).then_some(Tail {
        whole,
        counted,
        partial,
    });
    r.seek(SeekFrom::Start(0))?;
    Ok((
        Head {
            identity,
            next_record_id,
        },
        tail,
    ))
}

/// Whether a record ends with the copy of its size, as it does once written whole: the crate
/// renders a record cut off (zeros where its last bytes belong) without a word.
fn whole(record: &evtx::EvtxRecord<'_>) -> bool {
    let end = record.binxml_offset + u64::from(record.binxml_size);
    let copy = usize::try_from(end)
        .ok()
        .and_then(|end| record.chunk.data.get(end..end.checked_add(4)?))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    // The size counts the 24-byte header, the BinXML and the 4-byte copy.
    copy == record.binxml_size.checked_add(28)
}

fn invalid(e: evtx::err::EvtxError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, chain(&e))
}

/// An error with the reasons the `evtx` crate nests under it.
fn error(chunk: Option<u64>, record_id: Option<u64>, e: &evtx::err::EvtxError) -> EvtxReadError {
    use evtx::err::EvtxError as E;
    let chunk = chunk.or(match e {
        E::FailedToParseChunk { chunk_id, .. } => Some(*chunk_id),
        E::FailedToReadRecordAt { chunk, .. } => *chunk,
        _ => None,
    });
    let record_id = record_id.or(match e {
        E::FailedToParseRecord { record_id, .. } => Some(*record_id),
        _ => None,
    });
    EvtxReadError {
        chunk,
        record_id,
        reason: chain(e),
    }
}

/// `outer: inner: …`, the messages of an error and its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

fn jiff_time(t: evtx::Timestamp) -> Option<Timestamp> {
    let nanos = u32::try_from(t.subsec_nanosecond()).ok()?;
    Some(Timestamp {
        unix: t.as_second(),
        nanos,
        offset: 0,
    })
}

/// One record from its rendered XML, into `rec` (which holds the record header's id and time:
/// they stand in for values the XML lacks).
fn read_xml(
    xml: Vec<u8>,
    rec: &mut WinRecord,
    pairs: &mut Vec<(String, String)>,
    keep: bool,
) -> Result<(), String> {
    let xml = String::from_utf8(xml).map_err(|_| "rendered XML is not UTF-8".to_owned())?;
    xml::read_event_from(&xml, rec, pairs).map_err(|why| format!("rendered XML: {why}"))?;
    if keep {
        rec.original = Some(xml);
    }
    Ok(())
}
