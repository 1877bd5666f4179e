//! One DNS message in wire format (RFC 1035 §4, AAAA from RFC 3596, OPT from RFC 6891),
//! read in place: the header at once, names and records on demand. Nothing is copied until a
//! caller renders a name or a record's data as text.
//!
//! Hostile messages are bounded: a compression pointer must point before the label it
//! replaces (so a chain of pointers can only move backwards and ends), at most
//! [`MAX_JUMPS`] pointers are followed per name, a name is at most 255 bytes on the wire
//! (RFC 1035 §3.1) and a label at most 63. Anything cut short is [`Error::Truncated`].

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Pointers followed per name. A real name has a handful of labels; 127 labels of one byte
/// already fill 255 bytes, so more jumps than that can only be a bomb.
pub const MAX_JUMPS: usize = 127;
/// The longest name on the wire, length bytes included (RFC 1035 §3.1).
pub const MAX_NAME: usize = 255;
/// The longest label.
pub const MAX_LABEL: usize = 63;
/// The fixed header.
pub const HEADER_LEN: usize = 12;

/// Why a message (or part of it) could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The message ends inside the header, a name, a record or its data.
    Truncated,
    /// A compression pointer points at or after itself (a loop or a forward reference).
    ForwardPointer,
    /// More than [`MAX_JUMPS`] pointers in one name.
    TooManyJumps,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// A label type other than a length or a pointer (0x40 and 0x80 are reserved).
    BadLabel,
    /// Record data whose length does not fit its type (an A record of 5 bytes).
    BadRdata,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "message cut short",
            Error::ForwardPointer => "compression pointer does not point backwards",
            Error::TooManyJumps => "too many compression pointers in one name",
            Error::NameTooLong => "name longer than 255 bytes",
            Error::BadLabel => "reserved label type",
            Error::BadRdata => "record data does not fit its type",
        })
    }
}

impl std::error::Error for Error {}

/// The 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    /// The three bits after RA: Z, AD and CD (RFC 4035), as Zeek logs them.
    pub fn z(&self) -> u8 {
        ((self.flags >> 4) & 0x7) as u8
    }
    /// The header's 4-bit response code (an OPT record may extend it; see
    /// [`Message::rcode`]).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// A section of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// A question: its name (at `name_at` in the message), type and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub name_at: usize,
    pub qtype: u16,
    pub qclass: u16,
}

/// A resource record; `rdata` is borrowed, names inside it are read against the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub section: Section,
    pub name_at: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Where the data starts in the message (names in it may point back before it).
    pub rdata_at: usize,
    pub rdata: &'a [u8],
}

/// A message over a byte slice; [`Message::parse`] checks only the header.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub buf: &'a [u8],
    pub header: Header,
}

fn be16(b: &[u8], at: usize) -> Result<u16, Error> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(Error::Truncated),
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, Error> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(Error::Truncated),
    }
}

impl<'a> Message<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, Error> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header = Header {
            id: be16(buf, 0)?,
            flags: be16(buf, 2)?,
            qdcount: be16(buf, 4)?,
            ancount: be16(buf, 6)?,
            nscount: be16(buf, 8)?,
            arcount: be16(buf, 10)?,
        };
        Ok(Message { buf, header })
    }

    /// The questions, in order; an error ends the iteration.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            buf: self.buf,
            at: HEADER_LEN,
            left: self.header.qdcount,
            failed: false,
        }
    }

    /// The first question, if the message has one.
    pub fn question(&self) -> Result<Option<Question>, Error> {
        self.questions().next().transpose()
    }

    /// The records of the answer, authority and additional sections, in order; an error
    /// (a question or record cut short) is yielded once and ends the iteration.
    pub fn records(&self) -> Records<'a> {
        let mut qs = self.questions();
        let mut err = None;
        for q in qs.by_ref() {
            if let Err(e) = q {
                err = Some(e);
            }
        }
        Records {
            buf: self.buf,
            at: qs.at,
            counts: [
                self.header.ancount,
                self.header.nscount,
                self.header.arcount,
            ],
            section: 0,
            pending_error: err,
            done: false,
        }
    }

    /// The response code with an OPT record's upper 8 bits (RFC 6891 §6.1.3), when it has
    /// one; the header's alone otherwise (or when the records cannot be read).
    pub fn rcode(&self) -> u16 {
        let low = u16::from(self.header.rcode());
        if self.header.arcount == 0 {
            return low;
        }
        for r in self.records() {
            match r {
                Ok(r) if r.section == Section::Additional && r.rtype == TYPE_OPT => {
                    return (u16::from((r.ttl >> 24) as u8) << 4) | low;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        low
    }
}

/// Iterator over the questions.
#[derive(Debug)]
pub struct Questions<'a> {
    buf: &'a [u8],
    at: usize,
    left: u16,
    failed: bool,
}

impl Iterator for Questions<'_> {
    type Item = Result<Question, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.failed {
            return None;
        }
        self.left -= 1;
        let r = (|| {
            let name_at = self.at;
            let end = skip_name(self.buf, self.at)?;
            let qtype = be16(self.buf, end)?;
            let qclass = be16(self.buf, end + 2)?;
            self.at = end + 4;
            Ok(Question {
                name_at,
                qtype,
                qclass,
            })
        })();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Iterator over the records after the questions.
#[derive(Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    at: usize,
    counts: [u16; 3],
    section: usize,
    pending_error: Option<Error>,
    done: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        while self.section < 3 && self.counts[self.section] == 0 {
            self.section += 1;
        }
        if self.section == 3 {
            self.done = true;
            return None;
        }
        self.counts[self.section] -= 1;
        let section = [Section::Answer, Section::Authority, Section::Additional][self.section];
        let r = (|| {
            let name_at = self.at;
            let end = skip_name(self.buf, self.at)?;
            let rtype = be16(self.buf, end)?;
            let class = be16(self.buf, end + 2)?;
            let ttl = be32(self.buf, end + 4)?;
            let len = usize::from(be16(self.buf, end + 8)?);
            let rdata_at = end + 10;
            let rdata = self
                .buf
                .get(rdata_at..rdata_at + len)
                .ok_or(Error::Truncated)?;
            self.at = rdata_at + len;
            Ok(Record {
                section,
                name_at,
                rtype,
                class,
                ttl,
                rdata_at,
                rdata,
            })
        })();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// The offset just after the name at `at` in its own place (a pointer ends it), without
/// following pointers: only what the record layout needs.
pub fn skip_name(buf: &[u8], mut at: usize) -> Result<usize, Error> {
    let mut wire = 0usize;
    loop {
        let len = *buf.get(at).ok_or(Error::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(at + 1);
                }
                wire += usize::from(len) + 1;
                if wire + 1 > MAX_NAME {
                    return Err(Error::NameTooLong);
                }
                at += usize::from(len) + 1;
            }
            0xc0 => {
                if at + 2 > buf.len() {
                    return Err(Error::Truncated);
                }
                return Ok(at + 2);
            }
            _ => return Err(Error::BadLabel),
        }
    }
}

/// Walks the labels of the name at `at`, following compression pointers with the bounds of
/// this module, calling `label` with each label's bytes. Returns the offset after the name
/// in its own place.
pub fn walk_name(buf: &[u8], at: usize, mut label: impl FnMut(&[u8])) -> Result<usize, Error> {
    let mut pos = at;
    let mut end = None;
    let mut jumps = 0usize;
    let mut wire = 0usize;
    loop {
        let len = *buf.get(pos).ok_or(Error::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(end.unwrap_or(pos + 1));
                }
                let n = usize::from(len);
                wire += n + 1;
                if wire + 1 > MAX_NAME {
                    return Err(Error::NameTooLong);
                }
                let bytes = buf.get(pos + 1..pos + 1 + n).ok_or(Error::Truncated)?;
                label(bytes);
                pos += n + 1;
            }
            0xc0 => {
                let lo = *buf.get(pos + 1).ok_or(Error::Truncated)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                // Strictly backwards: no loop can form and every chain ends.
                if target >= pos {
                    return Err(Error::ForwardPointer);
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err(Error::TooManyJumps);
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                pos = target;
            }
            _ => return Err(Error::BadLabel),
        }
    }
}

/// Appends the name at `at` in presentation form: labels joined by `.`, no trailing dot
/// (the root is empty), bytes outside printable ASCII and `.`/`\` inside a label escaped as
/// `\DDD`/`\.` (RFC 1035 §5.1), so the text is valid UTF-8 and says what was on the wire.
pub fn write_name(buf: &[u8], at: usize, out: &mut String) -> Result<usize, Error> {
    let start = out.len();
    // Most names fit: one allocation, not a string grown label by label.
    out.reserve(64);
    let r = walk_name(buf, at, |label| {
        if out.len() > start {
            out.push('.');
        }
        push_label(label, out);
    });
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn push_label(label: &[u8], out: &mut String) {
    // Nearly every label is plain printable ASCII: copied in one go.
    if label
        .iter()
        .all(|&b| matches!(b, 0x21..=0x7e) && b != b'.' && b != b'\\')
    {
        out.extend(label.iter().map(|&b| char::from(b)));
        return;
    }
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x21..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Appends character-strings (TXT, SPF, HINFO) as `"…" "…"`, escaping `"`, `\` and bytes
/// outside printable ASCII (RFC 1035 §5.1).
fn push_strings(mut data: &[u8], out: &mut String) -> Result<(), Error> {
    let mut first = true;
    while let Some((&n, rest)) = data.split_first() {
        let n = usize::from(n);
        let s = rest.get(..n).ok_or(Error::BadRdata)?;
        if !first {
            out.push(' ');
        }
        first = false;
        out.push('"');
        for &b in s {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7e => out.push(b as char),
                _ => {
                    let _ = write!(out, "\\{b:03}");
                }
            }
        }
        out.push('"');
        data = &rest[n..];
    }
    Ok(())
}

/// The character-strings of a TXT/SPF record, raw.
pub fn txt_strings(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&n, rest) = data.split_first()?;
        let s = rest.get(..usize::from(n)).unwrap_or(rest);
        data = &rest[s.len()..];
        Some(s)
    })
}

/// Appends an IPv4 address as `Display` writes it, without `core::fmt` (the A records and
/// client addresses of a capture scan).
pub fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    let (text, n) = logward_core::json::ipv4_text(ip);
    out.extend(text[..n].iter().map(|&b| char::from(b)));
}

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_DNAME: u16 = 39;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_RRSIG: u16 = 46;
pub const TYPE_SPF: u16 = 99;

/// Appends the record's data in presentation form: addresses, names, `10 mx.example.org`
/// (MX), `mname rname serial refresh retry expire minimum` (SOA), `priority weight port
/// target` (SRV), quoted strings (TXT, SPF, HINFO); RRSIG without its signature; any other
/// type as RFC 3597's `\# length hex`.
pub fn write_rdata(msg: &[u8], r: &Record<'_>, out: &mut String) -> Result<(), Error> {
    let start = out.len();
    let res = rdata_text(msg, r, out);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

fn rdata_text(msg: &[u8], r: &Record<'_>, out: &mut String) -> Result<(), Error> {
    let d = r.rdata;
    // Names in the data: read against the whole message, but must end inside the data.
    let name = |at: usize, out: &mut String| -> Result<usize, Error> {
        let end = write_name(msg, r.rdata_at + at, out)?;
        if end > r.rdata_at + d.len() {
            return Err(Error::BadRdata);
        }
        Ok(end - r.rdata_at)
    };
    match r.rtype {
        TYPE_A => {
            let b: [u8; 4] = d.try_into().map_err(|_| Error::BadRdata)?;
            push_ipv4(out, Ipv4Addr::from(b));
        }
        TYPE_AAAA => {
            let b: [u8; 16] = d.try_into().map_err(|_| Error::BadRdata)?;
            let _ = write!(out, "{}", Ipv6Addr::from(b));
        }
        TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_DNAME => {
            name(0, out)?;
        }
        TYPE_MX => {
            let pref = be16(d, 0).map_err(|_| Error::BadRdata)?;
            let _ = write!(out, "{pref} ");
            name(2, out)?;
        }
        TYPE_SOA => {
            let m = name(0, out)?;
            out.push(' ');
            let rn = name(m, out)?;
            let nums = d.get(rn..rn + 20).ok_or(Error::BadRdata)?;
            for i in 0..5 {
                let _ = write!(out, " {}", be32(nums, i * 4)?);
            }
        }
        TYPE_SRV => {
            let (p, w, port) = (be16(d, 0), be16(d, 2), be16(d, 4));
            let (Ok(p), Ok(w), Ok(port)) = (p, w, port) else {
                return Err(Error::BadRdata);
            };
            let _ = write!(out, "{p} {w} {port} ");
            name(6, out)?;
        }
        TYPE_TXT | TYPE_SPF | 13 /* HINFO */ => push_strings(d, out)?,
        TYPE_RRSIG => {
            let fixed = d.get(..18).ok_or(Error::BadRdata)?;
            let covered = u16::from_be_bytes([fixed[0], fixed[1]]);
            let _ = write!(
                out,
                "{} {} {} {} {} {} {} ",
                TypeName(covered),
                fixed[2],
                fixed[3],
                be32(fixed, 4)?,
                be32(fixed, 8)?,
                be32(fixed, 12)?,
                be16(fixed, 16)?
            );
            name(18, out)?;
        }
        _ => {
            let _ = write!(out, "\\# {}", d.len());
            if !d.is_empty() {
                out.push(' ');
                for b in d {
                    let _ = write!(out, "{b:02x}");
                }
            }
        }
    }
    Ok(())
}

/// A type's mnemonic (`A`, `AAAA`, `TXT` …), `TYPEnnn` for the rest (RFC 3597 §5).
#[derive(Debug, Clone, Copy)]
pub struct TypeName(pub u16);

impl TypeName {
    pub fn known(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "A",
            2 => "NS",
            3 => "MD",
            4 => "MF",
            5 => "CNAME",
            6 => "SOA",
            7 => "MB",
            8 => "MG",
            9 => "MR",
            10 => "NULL",
            11 => "WKS",
            12 => "PTR",
            13 => "HINFO",
            14 => "MINFO",
            15 => "MX",
            16 => "TXT",
            17 => "RP",
            18 => "AFSDB",
            24 => "SIG",
            25 => "KEY",
            28 => "AAAA",
            29 => "LOC",
            30 => "NXT",
            33 => "SRV",
            35 => "NAPTR",
            36 => "KX",
            37 => "CERT",
            38 => "A6",
            39 => "DNAME",
            41 => "OPT",
            42 => "APL",
            43 => "DS",
            44 => "SSHFP",
            45 => "IPSECKEY",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            49 => "DHCID",
            50 => "NSEC3",
            51 => "NSEC3PARAM",
            52 => "TLSA",
            53 => "SMIMEA",
            55 => "HIP",
            59 => "CDS",
            60 => "CDNSKEY",
            61 => "OPENPGPKEY",
            62 => "CSYNC",
            63 => "ZONEMD",
            64 => "SVCB",
            65 => "HTTPS",
            99 => "SPF",
            249 => "TKEY",
            250 => "TSIG",
            251 => "IXFR",
            252 => "AXFR",
            255 => "ANY",
            256 => "URI",
            257 => "CAA",
            _ => return None,
        })
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known() {
            Some(s) => f.write_str(s),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A class's mnemonic (`IN`, `CH` …), `CLASSnnn` for the rest. mDNS's cache-flush /
/// unicast-response bit (RFC 6762 §10.2, §5.4) is the caller's to mask.
#[derive(Debug, Clone, Copy)]
pub struct ClassName(pub u16);

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("IN"),
            3 => f.write_str("CH"),
            4 => f.write_str("HS"),
            254 => f.write_str("NONE"),
            255 => f.write_str("ANY"),
            n => write!(f, "CLASS{n}"),
        }
    }
}

/// A response code's name (RFC 6895 §2.3), `RCODEnn` for the unassigned.
pub fn rcode_name(rcode: u16) -> std::borrow::Cow<'static, str> {
    let s = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return std::borrow::Cow::Owned(format!("RCODE{n}")),
    };
    std::borrow::Cow::Borrowed(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0];
        m[4..6].copy_from_slice(&qd.to_be_bytes());
        m[6..8].copy_from_slice(&an.to_be_bytes());
        m
    }

    fn name_at(m: &[u8], at: usize) -> Result<String, Error> {
        let mut s = String::new();
        write_name(m, at, &mut s).map(|_| s)
    }

    #[test]
    fn compressed_answer_reads() {
        let mut m = header(1, 1);
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // answer: pointer to the question name, A IN ttl 60, 93.184.216.34
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22");
        let msg = Message::parse(&m).unwrap();
        assert!(msg.header.is_response());
        let q = msg.question().unwrap().unwrap();
        assert_eq!(name_at(&m, q.name_at).unwrap(), "www.example.com");
        let r: Vec<_> = msg.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(name_at(&m, r[0].name_at).unwrap(), "www.example.com");
        let mut d = String::new();
        write_rdata(&m, &r[0], &mut d).unwrap();
        assert_eq!(d, "93.184.216.34");
        assert_eq!(r[0].ttl, 60);
    }

    #[test]
    fn compression_loop_is_refused() {
        let mut m = header(1, 0);
        // a pointer to itself
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01");
        assert_eq!(name_at(&m, 12), Err(Error::ForwardPointer));
        // two pointers at each other: whichever is read first points forwards.
        let mut m = header(1, 0);
        m.extend_from_slice(b"\xc0\x0e\xc0\x0c");
        assert_eq!(name_at(&m, 12), Err(Error::ForwardPointer));
        assert_eq!(name_at(&m, 14), Err(Error::ForwardPointer));
    }

    #[test]
    fn pointer_bomb_is_bounded() {
        // 1000 pointers, each to the one before: strictly backwards, but too many jumps.
        let mut m = header(1, 0);
        m.push(0);
        for i in 0..1000usize {
            let target = 12 + if i == 0 { 0 } else { 1 + 2 * (i - 1) };
            m.push(0xc0 | (target >> 8) as u8);
            m.push(target as u8);
        }
        let last = m.len() - 2;
        assert_eq!(name_at(&m, last), Err(Error::TooManyJumps));
        // Labels reached again and again through pointers count toward 255 bytes.
        let mut m = header(1, 0);
        m.extend_from_slice(
            b"\x3fAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00",
        );
        let a = 12usize;
        m.extend_from_slice(b"\x3fBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
        m.extend_from_slice(&[0xc0, a as u8]);
        let b = m.len() - 66;
        m.extend_from_slice(b"\x3fCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC");
        m.extend_from_slice(&[0xc0, b as u8]);
        let c = m.len() - 66;
        assert_eq!(name_at(&m, c).unwrap().len(), 63 * 3 + 2);
        m.extend_from_slice(b"\x3fDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD");
        m.extend_from_slice(&[0xc0, c as u8]);
        let d = m.len() - 66;
        assert_eq!(name_at(&m, d), Err(Error::NameTooLong));
    }

    #[test]
    fn huge_and_reserved_labels() {
        let mut m = header(1, 0);
        m.push(0x40); // reserved label type
        assert_eq!(name_at(&m, 12), Err(Error::BadLabel));
        let mut m = header(1, 0);
        m.push(63);
        m.extend_from_slice(&[b'a'; 10]);
        assert_eq!(name_at(&m, 12), Err(Error::Truncated));
    }

    #[test]
    fn truncated_everywhere() {
        let mut m = header(1, 1);
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22");
        for cut in 0..m.len() {
            let part = &m[..cut];
            match Message::parse(part) {
                Err(e) => assert_eq!(e, Error::Truncated),
                Ok(msg) => {
                    let errs = msg.records().filter(Result::is_err).count();
                    assert_eq!(errs, 1, "cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn escapes_and_rdata_forms() {
        let mut m = header(1, 0);
        m.extend_from_slice(b"\x03a.b\x02\x00\xff\x00");
        assert_eq!(name_at(&m, 12).unwrap(), "a\\.b.\\000\\255");
        let rec = |rtype: u16, rdata: &'static [u8]| Record {
            section: Section::Answer,
            name_at: 0,
            rtype,
            class: 1,
            ttl: 0,
            rdata_at: 0,
            rdata,
        };
        let mut s = String::new();
        write_rdata(b"\x02hi\x01\"", &rec(TYPE_TXT, b"\x02hi\x01\""), &mut s).unwrap();
        assert_eq!(s, "\"hi\" \"\\\"\"");
        s.clear();
        write_rdata(b"", &rec(65399, b"\x0a\x0b"), &mut s).unwrap();
        assert_eq!(s, "\\# 2 0a0b");
        assert_eq!(TypeName(65399).to_string(), "TYPE65399");
        s.clear();
        assert_eq!(
            write_rdata(b"", &rec(TYPE_A, b"\x01\x02\x03"), &mut s),
            Err(Error::BadRdata)
        );
        assert!(s.is_empty());
    }

    #[test]
    fn addresses_and_plain_labels_as_display_writes_them() {
        for ip in ["0.0.0.0", "9.10.99.100", "192.0.2.1", "255.255.255.255"] {
            let ip: Ipv4Addr = ip.parse().unwrap();
            let mut s = String::from("x");
            push_ipv4(&mut s, ip);
            assert_eq!(s, format!("x{ip}"));
        }
        let mut m = header(1, 0);
        m.extend_from_slice(b"\x03WWW\x07Example\x03c-m\x00");
        assert_eq!(name_at(&m, 12).unwrap(), "WWW.Example.c-m");
    }
}
