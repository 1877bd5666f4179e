//! Capture files, streamed: classic `.pcap` (either byte order, microsecond or nanosecond
//! timestamps) and `.pcapng` (section header, interface description, enhanced and simple
//! packet blocks, several interfaces each with its own link type and `if_tsresol`). The
//! reader holds one buffer (a record at most [`MAX_RECORD`]); a file cut short or damaged
//! ends with an error after every good packet before it.

use std::fmt;
use std::io::{self, Read};

use super::txn::Nanos;

/// The largest record or block read (a jumbo frame is 9 KiB; 256 KiB is tcpdump's own
/// snap length limit).
pub const MAX_RECORD: usize = 256 * 1024 + 64;
/// Interfaces per pcapng section.
const MAX_INTERFACES: usize = 4096;

/// Classic pcap, microseconds, in the writer's byte order (`d4 c3 b2 a1` little-endian).
const PCAP_US: u32 = 0xa1b2_c3d4;
const PCAP_NS: u32 = 0xa1b2_3c4d;
/// pcapng's section header block type (the same in both byte orders).
const SHB: u32 = 0x0a0d_0d0a;
const BYTE_ORDER: u32 = 0x1a2b_3c4d;

/// Whether `head` starts a pcap or pcapng file.
pub fn is_capture(head: &[u8]) -> bool {
    let Some(m) = head.get(..4) else {
        return false;
    };
    let le = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
    let be = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
    [PCAP_US, PCAP_NS].contains(&le) || [PCAP_US, PCAP_NS].contains(&be) || le == SHB
}

/// Why a capture file could not be read on.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// Not a pcap or pcapng file.
    NotCapture,
    /// The file ends inside a header, record or block.
    Truncated {
        offset: u64,
    },
    /// A record or block whose length is impossible or over [`MAX_RECORD`].
    BadLength {
        offset: u64,
        len: u64,
    },
    /// A pcapng packet on an interface no description block declared.
    UnknownInterface {
        offset: u64,
        interface: u32,
    },
    /// A pcapng section header with an unknown byte-order magic.
    BadSection {
        offset: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::NotCapture => f.write_str("not a pcap or pcapng file"),
            Error::Truncated { offset } => write!(f, "file cut short at byte {offset}"),
            Error::BadLength { offset, len } => {
                write!(f, "record at byte {offset} claims {len} bytes")
            }
            Error::UnknownInterface { offset, interface } => {
                write!(
                    f,
                    "packet at byte {offset} names undeclared interface {interface}"
                )
            }
            Error::BadSection { offset } => {
                write!(f, "section header at byte {offset} has no byte-order magic")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// One captured packet, borrowed from the reader until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub linktype: u32,
    pub ts: Nanos,
    /// The packet's length on the wire (more than `data` when the snap length cut it).
    pub orig_len: u32,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Timestamp units per second as a multiplier to nanoseconds, or a divisor.
    res: Resolution,
    offset_secs: i64,
}

#[derive(Debug, Clone, Copy)]
enum Resolution {
    /// Ticks of 10^-n s with n ≤ 9: multiply by 10^(9-n).
    Mul(u64),
    /// Ticks finer than a nanosecond, or powers of two: nanos = ticks * 10^9 / per_sec.
    PerSec(u128),
}

impl Resolution {
    fn from_tsresol(v: u8) -> Resolution {
        let n = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            Resolution::PerSec(1u128.checked_shl(n.min(127)).unwrap_or(u128::MAX))
        } else if n <= 9 {
            Resolution::Mul(10u64.pow(9 - n))
        } else {
            Resolution::PerSec(10u128.checked_pow(n.min(38)).unwrap_or(u128::MAX))
        }
    }

    fn nanos(self, ticks: u64, offset_secs: i64) -> Nanos {
        let t = match self {
            Resolution::Mul(m) => ticks.saturating_mul(m),
            Resolution::PerSec(p) => {
                (u128::from(ticks) * 1_000_000_000 / p.max(1)).min(u128::from(u64::MAX)) as u64
            }
        };
        t.saturating_add_signed(offset_secs.saturating_mul(1_000_000_000))
    }
}

/// A packet found in the buffer: (linktype, ts, orig_len, data start, data length).
type Found = (u32, Nanos, u32, usize, usize);

#[derive(Debug)]
enum Format {
    Pcap {
        big: bool,
        nanos: bool,
        linktype: u32,
    },
    Pcapng {
        big: bool,
        interfaces: Vec<Interface>,
    },
}

/// A streaming reader of either format.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    offset: u64,
    format: Format,
    last_ts: Nanos,
    failed: bool,
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let s = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let s = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header; [`Error::NotCapture`] when the magic is neither format's.
    pub fn new(inner: R) -> Result<Reader<R>, Error> {
        let mut r = Reader {
            inner,
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::Pcap {
                big: false,
                nanos: false,
                linktype: 0,
            },
            last_ts: 0,
            failed: false,
        };
        if !r.fill(4)? {
            return Err(Error::NotCapture);
        }
        let m = &r.buf[r.start..r.start + 4];
        let le = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        let be = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
        if le == SHB {
            r.format = Format::Pcapng {
                big: false,
                interfaces: Vec::new(),
            };
            return Ok(r);
        }
        let (big, nanos) = match (le, be) {
            (PCAP_US, _) => (false, false),
            (PCAP_NS, _) => (false, true),
            (_, PCAP_US) => (true, false),
            (_, PCAP_NS) => (true, true),
            _ => return Err(Error::NotCapture),
        };
        if !r.fill(24)? {
            return Err(Error::Truncated { offset: 0 });
        }
        let h = &r.buf[r.start..r.start + 24];
        // The upper bits of the link type field carry FCS information (pcap-savefile(5)).
        let linktype = u32_at(h, 20, big) & 0x0fff_ffff;
        r.consume(24);
        r.format = Format::Pcap {
            big,
            nanos,
            linktype,
        };
        Ok(r)
    }

    /// Bytes of the file read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes at least `n` unread bytes available; false at a clean end of file with none.
    /// [`Error::Truncated`] when the file ends with fewer than `n` but more than none.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            if self.eof {
                return if self.end == self.start {
                    Ok(false)
                } else {
                    Err(Error::Truncated {
                        offset: self.offset,
                    })
                };
            }
            if self.buf.len() - self.start < n {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    self.buf.resize(n, 0);
                }
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// The next packet; `Ok(None)` at the end of the file. After an error, `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        if self.failed {
            return Ok(None);
        }
        let r = match self.format {
            Format::Pcap { .. } => self.next_pcap(),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        match r {
            Ok(Some((linktype, ts, orig_len, at, len))) => Ok(Some(Packet {
                linktype,
                ts,
                orig_len,
                data: &self.buf[at..at + len],
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Found>, Error> {
        let Format::Pcap {
            big,
            nanos,
            linktype,
        } = self.format
        else {
            return Ok(None);
        };
        if !self.fill(16)? {
            return Ok(None);
        }
        let h = &self.buf[self.start..self.start + 16];
        let secs = u64::from(u32_at(h, 0, big));
        let frac = u64::from(u32_at(h, 4, big));
        let caplen = u32_at(h, 8, big) as usize;
        let orig_len = u32_at(h, 12, big);
        if caplen > MAX_RECORD {
            return Err(Error::BadLength {
                offset: self.offset,
                len: caplen as u64,
            });
        }
        if !self.fill(16 + caplen)? {
            return Err(Error::Truncated {
                offset: self.offset,
            });
        }
        let ts = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        let at = self.start + 16;
        self.consume(16 + caplen);
        Ok(Some((linktype, ts, orig_len, at, caplen)))
    }

    fn next_pcapng(&mut self) -> Result<Option<Found>, Error> {
        loop {
            if !self.fill(12)? {
                return Ok(None);
            }
            let block_at = self.offset;
            let h = &self.buf[self.start..self.start + 12];
            let raw_type = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            if raw_type == SHB {
                // The section's byte order comes from its own magic.
                let bom = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
                let big = match bom {
                    BYTE_ORDER => false,
                    0x4d3c_2b1a => true,
                    _ => return Err(Error::BadSection { offset: block_at }),
                };
                self.format = Format::Pcapng {
                    big,
                    interfaces: Vec::new(),
                };
            }
            let Format::Pcapng { big, .. } = self.format else {
                return Ok(None);
            };
            let btype = u32_at(h, 0, big);
            let len = u32_at(h, 4, big) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                return Err(Error::BadLength {
                    offset: block_at,
                    len: len as u64,
                });
            }
            if !self.fill(len)? {
                return Err(Error::Truncated { offset: block_at });
            }
            let body_at = self.start + 8;
            let body_len = len - 12;
            self.consume(len);
            let body = &self.buf[body_at..body_at + body_len];
            match btype {
                // Interface description: link type, snap length, options.
                1 => {
                    if body.len() < 8 {
                        return Err(Error::BadLength {
                            offset: block_at,
                            len: len as u64,
                        });
                    }
                    let mut iface = Interface {
                        linktype: u32::from(u16_at(body, 0, big)),
                        snaplen: u32_at(body, 4, big),
                        res: Resolution::Mul(1000),
                        offset_secs: 0,
                    };
                    for (code, value) in options(&body[8..], big) {
                        match (code, value) {
                            (9, [v, ..]) => iface.res = Resolution::from_tsresol(*v),
                            (14, v) if v.len() >= 8 => {
                                let b: [u8; 8] = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
                                iface.offset_secs = if big {
                                    i64::from_be_bytes(b)
                                } else {
                                    i64::from_le_bytes(b)
                                };
                            }
                            _ => {}
                        }
                    }
                    if let Format::Pcapng { interfaces, .. } = &mut self.format {
                        if interfaces.len() >= MAX_INTERFACES {
                            return Err(Error::BadLength {
                                offset: block_at,
                                len: len as u64,
                            });
                        }
                        interfaces.push(iface);
                    }
                }
                // Enhanced packet (6), and the obsolete packet block (2).
                2 | 6 => {
                    if body.len() < 20 {
                        return Err(Error::BadLength {
                            offset: block_at,
                            len: len as u64,
                        });
                    }
                    let interface = if btype == 6 {
                        u32_at(body, 0, big)
                    } else {
                        u32::from(u16_at(body, 0, big))
                    };
                    let ticks =
                        u64::from(u32_at(body, 4, big)) << 32 | u64::from(u32_at(body, 8, big));
                    let caplen = u32_at(body, 12, big) as usize;
                    let orig_len = u32_at(body, 16, big);
                    if caplen > body.len() - 20 {
                        return Err(Error::BadLength {
                            offset: block_at,
                            len: caplen as u64,
                        });
                    }
                    let iface = self.interface(interface, block_at)?;
                    let ts = iface.res.nanos(ticks, iface.offset_secs);
                    self.last_ts = ts;
                    return Ok(Some((iface.linktype, ts, orig_len, body_at + 20, caplen)));
                }
                // Simple packet: interface 0, no timestamp (the last one's is used).
                3 => {
                    if body.len() < 4 {
                        return Err(Error::BadLength {
                            offset: block_at,
                            len: len as u64,
                        });
                    }
                    let orig_len = u32_at(body, 0, big);
                    let iface = self.interface(0, block_at)?;
                    let mut caplen = (orig_len as usize).min(body.len() - 4);
                    if iface.snaplen > 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    return Ok(Some((
                        iface.linktype,
                        self.last_ts,
                        orig_len,
                        body_at + 4,
                        caplen,
                    )));
                }
                // Section headers (handled above), statistics, name resolution, custom …
                _ => {}
            }
        }
    }

    fn interface(&self, id: u32, offset: u64) -> Result<Interface, Error> {
        match &self.format {
            Format::Pcapng { interfaces, .. } => {
                interfaces
                    .get(id as usize)
                    .copied()
                    .ok_or(Error::UnknownInterface {
                        offset,
                        interface: id,
                    })
            }
            Format::Pcap { .. } => Err(Error::UnknownInterface {
                offset,
                interface: id,
            }),
        }
    }
}

/// A pcapng block's options: (code, value) until `opt_endofopt` or the end.
fn options(mut b: &[u8], big: bool) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let code = u16_at(b, 0, big);
        let len = usize::from(u16_at(b, 2, big));
        if code == 0 {
            return None;
        }
        let value = b.get(4..4 + len)?;
        let padded = (4 + len + 3) & !3;
        b = b.get(padded..).unwrap_or(&[]);
        Some((code, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(big: bool, nanos: bool, frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend_from_slice(&w32(if nanos { PCAP_NS } else { PCAP_US }));
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w32(65535));
        f.extend_from_slice(&w32(101));
        for (s, frac, data) in frames {
            f.extend_from_slice(&w32(*s));
            f.extend_from_slice(&w32(*frac));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(data);
        }
        f
    }

    type Packets = Vec<(u32, Nanos, Vec<u8>)>;

    fn read_all(bytes: &[u8]) -> (Packets, Option<Error>) {
        let mut r = match Reader::new(bytes) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match r.next_packet() {
                Ok(Some(p)) => out.push((p.linktype, p.ts, p.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let f = pcap(big, nanos, &[(10, 5, b"abc"), (11, 0, b"")]);
                assert!(is_capture(&f));
                let (got, err) = read_all(&f);
                assert!(err.is_none());
                let frac = if nanos { 5 } else { 5000 };
                assert_eq!(got[0], (101, 10_000_000_000 + frac, b"abc".to_vec()));
                assert_eq!(got.len(), 2);
            }
        }
    }

    #[test]
    fn a_cut_file_gives_its_good_packets_then_an_error() {
        let f = pcap(false, false, &[(1, 0, b"abcd"), (2, 0, b"efgh")]);
        let (got, err) = read_all(&f[..f.len() - 2]);
        assert_eq!(got.len(), 1);
        assert!(matches!(err, Some(Error::Truncated { .. })), "{err:?}");
        let mut bad = f.clone();
        bad[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_all(&bad).1, Some(Error::BadLength { .. })));
        assert!(matches!(
            read_all(b"hello world").1,
            Some(Error::NotCapture)
        ));
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = (body.len() + 12) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    #[test]
    fn pcapng_interfaces_and_tsresol() {
        let mut f = block(
            SHB,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        // interface 0: Ethernet, µs; interface 1: raw IP, ns (if_tsresol 9)
        f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        f.extend(block(
            1,
            &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        ));
        let epb = |iface: u32, ticks: u64, data: &[u8]| {
            let mut b = iface.to_le_bytes().to_vec();
            b.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(ticks as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            block(6, &b)
        };
        f.extend(epb(0, 1_000_000, b"eth"));
        f.extend(block(5, b"statistics"));
        f.extend(epb(1, 2_000_000_000, b"raw"));
        let mut spb = 3u32.to_le_bytes().to_vec();
        spb.extend_from_slice(b"spb");
        f.extend(block(3, &spb));
        f.extend(epb(7, 0, b"nope"));
        assert!(is_capture(&f));
        let (got, err) = read_all(&f);
        assert_eq!(
            got,
            vec![
                (1, 1_000_000_000, b"eth".to_vec()),
                (101, 2_000_000_000, b"raw".to_vec()),
                (1, 2_000_000_000, b"spb".to_vec()),
            ]
        );
        assert!(matches!(
            err,
            Some(Error::UnknownInterface { interface: 7, .. })
        ));
    }
}
