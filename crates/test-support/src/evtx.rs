//! Live `.evtx` logs for the follow tests, made of a corpus file's own chunks and written the
//! way Windows writes a log: a preallocated file whose 64 KiB chunks are filled in place, a
//! chunk whose header is behind the records already in it, a record cut off, a full log that
//! wraps around over its oldest chunk. Only the file header's and chunk headers' counters are
//! touched (offsets from the format: libevtx's "Windows XML Event Log (EVTX)" document).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The file header block.
pub const FILE_HEADER: usize = 4096;
/// One chunk.
pub const CHUNK: usize = 65536;
/// A chunk's header (its records start after it).
const CHUNK_HEADER: usize = 512;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// CRC-32 (IEEE), as the file header's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A corpus `.evtx` file's bytes.
#[derive(Debug, Clone)]
pub struct Sample {
    bytes: Vec<u8>,
}

impl Sample {
    pub fn read(path: &Path) -> Sample {
        let bytes = std::fs::read(path).expect("read the sample");
        assert_eq!(
            &bytes[..8],
            b"ElfFile\0",
            "{} is not an evtx file",
            path.display()
        );
        Sample { bytes }
    }

    /// The file header block.
    pub fn header(&self) -> &[u8] {
        &self.bytes[..FILE_HEADER]
    }

    /// Chunk `n` as the sample holds it.
    pub fn chunk(&self, n: usize) -> &[u8] {
        let at = FILE_HEADER + n * CHUNK;
        &self.bytes[at..at + CHUNK]
    }

    /// How many chunks hold records (the rest of a preallocated file is zeros).
    pub fn chunks(&self) -> usize {
        (0..(self.bytes.len() - FILE_HEADER) / CHUNK)
            .take_while(|&n| self.chunk(n).starts_with(b"ElfChnk\0"))
            .count()
    }

    /// The first and last record ids chunk `n`'s header names.
    pub fn ids(&self, n: usize) -> (u64, u64) {
        let c = self.chunk(n);
        (u64_at(c, 24), u64_at(c, 32))
    }

    /// Every record of chunk `n`: its offset in the chunk, its size and its id.
    pub fn records(&self, n: usize) -> Vec<(usize, usize, u64)> {
        let c = self.chunk(n);
        let free = u32_at(c, 48) as usize;
        let mut out = Vec::new();
        let mut at = CHUNK_HEADER;
        while at + 24 <= free && c[at..at + 4] == [0x2a, 0x2a, 0, 0] {
            let size = u32_at(c, at + 4) as usize;
            out.push((at, size, u64_at(c, at + 8)));
            at += size;
        }
        out
    }

    /// Chunk `n` with all its records written but its header still naming only the first
    /// `keep` (last record number and id, last record offset, free space), its checksums
    /// stale: a chunk being filled, caught between a record and its header update.
    pub fn header_behind(&self, n: usize, keep: usize) -> Vec<u8> {
        let mut c = self.chunk(n).to_vec();
        let recs = self.records(n);
        let (at, size, id) = recs[keep - 1];
        let number = u64_at(&c, 8) + keep as u64 - 1;
        put_u64(&mut c, 16, number);
        put_u64(&mut c, 32, id);
        put_u32(&mut c, 44, at as u32);
        put_u32(&mut c, 48, (at + size) as u32);
        c
    }

    /// Chunk `n` with its final header but only its first `bytes` bytes written (the rest
    /// zeros): records after the cut are named by the header but not there yet.
    pub fn torn(&self, n: usize, bytes: usize) -> Vec<u8> {
        let mut c = self.chunk(n).to_vec();
        c[bytes..].fill(0);
        c
    }
}

/// A log file written in place: preallocated, its chunks filled one by one, its header's
/// counters following them.
#[derive(Debug)]
pub struct LiveLog {
    pub path: PathBuf,
    file: File,
    header: Vec<u8>,
}

impl LiveLog {
    /// A new log of `slots` chunks at `path`, all zeros, with `sample`'s header (counters
    /// reset): what Windows creates before the first record.
    pub fn create(path: &Path, sample: &Sample, slots: usize) -> LiveLog {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .expect("create the log");
        file.set_len((FILE_HEADER + slots * CHUNK) as u64)
            .expect("preallocate");
        let mut log = LiveLog {
            path: path.to_path_buf(),
            file,
            header: sample.header().to_vec(),
        };
        log.set_header(0, 0, 1, 0);
        log
    }

    fn set_header(&mut self, first_chunk: u64, last_chunk: u64, next_id: u64, chunks: u16) {
        let h = &mut self.header;
        put_u64(h, 8, first_chunk);
        put_u64(h, 16, last_chunk);
        put_u64(h, 24, next_id);
        h[42..44].copy_from_slice(&chunks.to_le_bytes());
        let sum = crc32(&h[..120]);
        put_u32(h, 124, sum);
        self.file.write_all_at(h, 0).expect("write the header");
    }

    /// Writes `chunk` into slot `slot` and points the header at it (the oldest chunk is
    /// `first_slot`, `chunks` of the slots are in use).
    pub fn write(&mut self, slot: usize, chunk: &[u8], first_slot: usize, chunks: usize) {
        assert_eq!(chunk.len(), CHUNK);
        self.file
            .write_all_at(chunk, (FILE_HEADER + slot * CHUNK) as u64)
            .expect("write the chunk");
        let next = u64_at(chunk, 32) + 1;
        self.set_header(first_slot as u64, slot as u64, next, chunks as u16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
