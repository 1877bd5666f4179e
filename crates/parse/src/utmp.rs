//! Linux utmp/wtmp/btmp records → [`Event`]s. Pure, never panics, allocates only the text an
//! emitted event keeps.
//!
//! # Record layouts
//!
//! Both layouts are little-endian; big-endian files (s390x, PowerPC BE, MIPS BE) are **not
//! supported** — their records fail the plausibility checks below and are counted as invalid.
//!
//! | offset | [`Layout::Glibc32`] (384 bytes) | [`Layout::Time64`] (400 bytes) |
//! |---|---|---|
//! | 0 | `ut_type` i16 (+2 padding) | same |
//! | 4 | `ut_pid` i32 | same |
//! | 8 | `ut_line` 32 bytes | same |
//! | 40 | `ut_id` 4 bytes | same |
//! | 44 | `ut_user` 32 bytes (NUL-terminated only when shorter) | same |
//! | 76 | `ut_host` 256 bytes | same |
//! | 332 | `ut_exit`: termination i16, status i16 | same |
//! | 336 | `ut_session` i32, `tv_sec` u32 @340, `tv_usec` i32 @344 | `ut_session` i64, `tv_sec` i64 @344, `tv_usec` i64 @352 |
//! | 348 / 360 | `ut_addr_v6` 16 bytes, network order; IPv4 in the first 4 when the rest are zero | same |
//!
//! `Glibc32` is what glibc writes on x86-64, arm64 and every platform with
//! `__WORDSIZE_TIME64_COMPAT32`; its `tv_sec` is read unsigned, so it reaches 2106.
//! `Time64` is the layout with a 64-bit `struct timeval` (and 64-bit session), 8-aligned.
//!
//! # Layout detection
//!
//! A file holds one layout; [`detect_layout`] decides it from the first records (at most
//! [`DETECT_RECORDS`] of each candidate). Each record is judged under both layouts:
//!
//! - **bad**: `ut_type` outside 0..=9, or `tv_usec` outside 0..1 000 000, or (`Time64`) a
//!   `tv_sec` outside 0..2³².
//! - **good**: not bad, `ut_type` ≠ EMPTY, and `tv_sec` between 1980 and 2100.
//! - otherwise **neutral** (an empty slot, a board without a real-time clock booting in 1970).
//!
//! The two layouts exclude each other: read as `Glibc32`, a `Time64` record puts its `tv_sec`
//! where `tv_usec` belongs (≥ 1 000 000 for any time after 1970-01-12); read as `Time64`, a
//! `Glibc32` record's seconds are its microseconds (< 1 000 000, so before 1980): no record is
//! good under both. A layout is chosen as soon as it has a good record and no bad one while
//! the other layout has no good record (for `Glibc32` that may be before a whole 400-byte
//! record is there, so a one-record file decodes without waiting). Without such evidence
//! (only empty slots, garbage) the decision waits for more bytes; once [`DETECT_RECORDS`]
//! records of 400 bytes are seen, or at the end of the input, it falls back to: the layout
//! whose record size alone divides the file length (when known), else fewer bad records,
//! else more good ones, else `Glibc32`. An empty input has no layout.
//!
//! # Events
//!
//! | file | record | event |
//! |---|---|---|
//! | wtmp | USER_PROCESS | `user-login` success, dataset `wtmp` |
//! | wtmp | DEAD_PROCESS | `user-logout` success, dataset `wtmp`; user (and source) from the USER_PROCESS of the same line when the record has none; no event when no user is known |
//! | btmp | LOGIN_PROCESS, USER_PROCESS | `user-login` failure, reason `failed-login`, dataset `btmp` |
//! | either | anything else (EMPTY, RUN_LVL incl. shutdown, BOOT_TIME, NEW/OLD_TIME, INIT_PROCESS, LOGIN_PROCESS in wtmp, ACCOUNTING) | no event; counted in [`Stats`] |
//!
//! Every event has `@timestamp` (UTC, from `tv_sec`/`tv_usec`), `process.pid`, `user.name`,
//! `log.offset` (the record's byte offset in the file) and, when the record names a peer,
//! `source.*`: `ut_addr_v6` when non-zero, else the host text when it is an address or a host
//! name (an X display such as `:0` is not a peer; `host:0.0` names `host`; `tmux(…)`,
//! `mosh [pid]` and other free text are not peers).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use logward_core::{parse_ip, Action, Dataset, Event, Outcome, Timestamp};

/// Which file the records come from: both share the format, only the caller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `/var/log/wtmp` (and `/run/utmp`): logins and logouts.
    Wtmp,
    /// `/var/log/btmp`: failed logins.
    Btmp,
}

/// The two record layouts (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// glibc's 384-byte record with 32-bit `tv_sec`/`tv_usec`.
    Glibc32,
    /// The 400-byte record with 64-bit time and session.
    Time64,
}

impl Layout {
    /// Bytes per record.
    pub const fn record_size(self) -> usize {
        match self {
            Layout::Glibc32 => 384,
            Layout::Time64 => 400,
        }
    }
}

/// How many records of each layout [`detect_layout`] looks at before falling back.
pub const DETECT_RECORDS: usize = 8;

/// Open sessions remembered to name the user of a DEAD_PROCESS record (oldest evicted).
pub const MAX_SESSIONS: usize = 1024;

/// `ut_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Empty,
    RunLvl,
    BootTime,
    NewTime,
    OldTime,
    InitProcess,
    LoginProcess,
    UserProcess,
    DeadProcess,
    Accounting,
    /// A value outside 0..=9: not a record (garbage, another format, big-endian).
    Other(i16),
}

impl RecordType {
    pub const fn from_raw(v: i16) -> RecordType {
        match v {
            0 => RecordType::Empty,
            1 => RecordType::RunLvl,
            2 => RecordType::BootTime,
            3 => RecordType::NewTime,
            4 => RecordType::OldTime,
            5 => RecordType::InitProcess,
            6 => RecordType::LoginProcess,
            7 => RecordType::UserProcess,
            8 => RecordType::DeadProcess,
            9 => RecordType::Accounting,
            other => RecordType::Other(other),
        }
    }

    /// The numeric value (`utmpdump`'s first column).
    pub const fn raw(self) -> i16 {
        match self {
            RecordType::Empty => 0,
            RecordType::RunLvl => 1,
            RecordType::BootTime => 2,
            RecordType::NewTime => 3,
            RecordType::OldTime => 4,
            RecordType::InitProcess => 5,
            RecordType::LoginProcess => 6,
            RecordType::UserProcess => 7,
            RecordType::DeadProcess => 8,
            RecordType::Accounting => 9,
            RecordType::Other(v) => v,
        }
    }
}

/// One record, borrowing its text fields from the input (NULs trimmed; not validated UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub ut_type: RecordType,
    pub pid: i32,
    pub line: &'a [u8],
    pub id: &'a [u8],
    pub user: &'a [u8],
    pub host: &'a [u8],
    pub exit_termination: i16,
    pub exit_status: i16,
    pub session: i64,
    pub tv_sec: i64,
    pub tv_usec: i64,
    /// `ut_addr_v6`, in network byte order as stored.
    pub addr_v6: [u8; 16],
}

/// `N` bytes at `at`; zeros past the end of `b`, never a panic on a short slice.
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut x = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        x.copy_from_slice(s);
    }
    x
}

fn le_i16(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes(bytes_at(b, at))
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes_at(b, at))
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes_at(b, at))
}

fn le_i64(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(bytes_at(b, at))
}

/// A fixed-size C string field: up to the first NUL, or all of it.
fn cstr(b: &[u8], at: usize, len: usize) -> &[u8] {
    let f = b.get(at..at + len).unwrap_or(&[]);
    match memchr::memchr(0, f) {
        Some(n) => &f[..n],
        None => f,
    }
}

/// Reads the record at the start of `bytes`; `None` when fewer than a record's bytes remain.
/// Any bytes make a record: plausibility is [`Record::is_valid`]'s question.
pub fn parse_record(bytes: &[u8], layout: Layout) -> Option<Record<'_>> {
    let b = bytes.get(..layout.record_size())?;
    let (session, tv_sec, tv_usec, addr_at) = match layout {
        Layout::Glibc32 => (
            le_i32(b, 336) as i64,
            le_u32(b, 340) as i64,
            le_i32(b, 344) as i64,
            348,
        ),
        Layout::Time64 => (le_i64(b, 336), le_i64(b, 344), le_i64(b, 352), 360),
    };
    let mut addr_v6 = [0u8; 16];
    addr_v6.copy_from_slice(b.get(addr_at..addr_at + 16)?);
    Some(Record {
        ut_type: RecordType::from_raw(le_i16(b, 0)),
        pid: le_i32(b, 4),
        line: cstr(b, 8, 32),
        id: cstr(b, 40, 4),
        user: cstr(b, 44, 32),
        host: cstr(b, 76, 256),
        exit_termination: le_i16(b, 332),
        exit_status: le_i16(b, 334),
        session,
        tv_sec,
        tv_usec,
        addr_v6,
    })
}

/// 1980-01-01 and 2100-01-01, the window a "good" record's time falls in.
const PLAUSIBLE_SECS: std::ops::Range<i64> = 315_532_800..4_102_444_800;
/// Last second of year 9999: beyond it a time is not printable as RFC 3339.
const MAX_SECS: i64 = 253_402_300_799;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Good,
    Neutral,
    Bad,
}

impl Record<'_> {
    /// Whether the record can be one: a known type and a microsecond count below a second.
    pub fn is_valid(&self) -> bool {
        !matches!(self.ut_type, RecordType::Other(_))
            && (0..1_000_000).contains(&self.tv_usec)
            && (0..1 << 32).contains(&self.tv_sec)
    }

    fn verdict(&self) -> Verdict {
        if !self.is_valid() {
            Verdict::Bad
        } else if self.ut_type != RecordType::Empty && PLAUSIBLE_SECS.contains(&self.tv_sec) {
            Verdict::Good
        } else {
            Verdict::Neutral
        }
    }

    /// `tv_sec`/`tv_usec` in UTC; `None` when out of range.
    pub fn timestamp(&self) -> Option<Timestamp> {
        if !(0..=MAX_SECS).contains(&self.tv_sec) || !(0..1_000_000).contains(&self.tv_usec) {
            return None;
        }
        Some(Timestamp {
            unix: self.tv_sec,
            nanos: self.tv_usec as u32 * 1000,
            offset: 0,
        })
    }

    /// `ut_addr_v6` as an address: `None` when all zero, IPv4 when only the first word is set.
    pub fn addr(&self) -> Option<IpAddr> {
        let a = self.addr_v6;
        if a == [0; 16] {
            None
        } else if a[4..] == [0; 12] {
            Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        } else {
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
    }
}

/// The peer named by a host field, when it names one (see the module documentation).
fn host_peer(host: &str) -> Option<&str> {
    if host.is_empty() {
        return None;
    }
    if let Some(ip) = parse_ip(host) {
        return (!ip.is_unspecified()).then_some(host);
    }
    // `name:0`, `name:0.0`, `:1`: an X display; the part before it, if any, is the peer.
    let name = match host.rsplit_once(':') {
        Some((head, display))
            if !display.is_empty() && display.bytes().all(|c| c.is_ascii_digit() || c == b'.') =>
        {
            head
        }
        Some(_) => return None,
        None => host,
    };
    match parse_ip(name) {
        Some(ip) => (!ip.is_unspecified()).then_some(name),
        None => is_host_name(name).then_some(name),
    }
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().any(|c| c.is_ascii_alphanumeric())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        && !s.starts_with(['-', '.'])
}

/// Tallies of [`detect_layout`]'s judgement for one layout.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    seen: usize,
    good: usize,
    bad: usize,
}

fn tally(bytes: &[u8], layout: Layout) -> Tally {
    let mut t = Tally::default();
    for chunk in bytes
        .chunks_exact(layout.record_size())
        .take(DETECT_RECORDS)
    {
        if let Some(r) = parse_record(chunk, layout) {
            t.seen += 1;
            match r.verdict() {
                Verdict::Good => t.good += 1,
                Verdict::Bad => t.bad += 1,
                Verdict::Neutral => {}
            }
        }
    }
    t
}

/// Decides the layout of a file from its first bytes (rule in the module documentation).
/// `total_len` is the file's length when the caller has all of it (it also means "this is all
/// there is": the fallback applies); `None` while following a file, when the answer may be
/// "not yet" (`None`).
pub fn detect_layout(bytes: &[u8], total_len: Option<u64>) -> Option<Layout> {
    let t32 = tally(bytes, Layout::Glibc32);
    let t64 = tally(bytes, Layout::Time64);
    if t32.good > 0 && t32.bad == 0 && t64.good == 0 {
        return Some(Layout::Glibc32);
    }
    if t64.good > 0 && t64.bad == 0 && t32.good == 0 {
        return Some(Layout::Time64);
    }
    if bytes.is_empty() {
        return None;
    }
    let enough = bytes.len() >= DETECT_RECORDS * Layout::Time64.record_size();
    if total_len.is_none() && !enough {
        return None;
    }
    if let Some(len) = total_len.filter(|&l| l > 0) {
        let fits32 = len % 384 == 0;
        let fits64 = len % 400 == 0;
        if fits32 != fits64 {
            return Some(if fits64 {
                Layout::Time64
            } else {
                Layout::Glibc32
            });
        }
    }
    Some(
        if t64.bad < t32.bad || (t64.bad == t32.bad && t64.good > t32.good) {
            Layout::Time64
        } else {
            Layout::Glibc32
        },
    )
}

/// What a reader saw, for `scan`'s summary and the agent's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Complete records read (all types, valid or not).
    pub records: u64,
    /// Records per `ut_type` 0..=9 (EMPTY … ACCOUNTING).
    pub by_type: [u64; 10],
    /// Events emitted.
    pub events: u64,
    /// Valid records that gave no event (boot, run level, empty, init, getty, unmatched
    /// DEAD_PROCESS …).
    pub skipped: u64,
    /// Records that cannot be one (type outside 0..=9, microseconds out of range): garbage,
    /// a wrong layout, a big-endian file.
    pub invalid: u64,
    /// DEAD_PROCESS records without a user and without a USER_PROCESS on their line (no event).
    pub logout_unmatched: u64,
    /// Events whose time was out of range (emitted without `@timestamp`).
    pub bad_time: u64,
    /// Text fields that were not UTF-8 (decoded lossily).
    pub lossy_text: u64,
    /// Bytes of an incomplete record at the end of the input (counted by `finish`).
    pub truncated_bytes: u64,
    /// Sessions dropped from the DEAD_PROCESS table because it was full.
    pub sessions_evicted: u64,
}

/// An open login, to name the user of its DEAD_PROCESS record.
#[derive(Debug, Clone)]
struct Session {
    seq: u64,
    user: String,
    source: Option<String>,
}

/// Follows one utmp-format file (or a sequence of them: see [`Reader::start_file`]): feed it
/// bytes as they are read, in any pieces; it keeps an incomplete record for the next call.
#[derive(Debug)]
pub struct Reader {
    kind: Kind,
    layout: Option<Layout>,
    /// Bytes not yet decoded: an incomplete record, or the start of a file whose layout is
    /// not decided yet.
    pending: Vec<u8>,
    /// File offset of `pending[0]`, i.e. of the end of the last decoded record.
    consumed: u64,
    sessions: HashMap<Vec<u8>, Session>,
    seq: u64,
    stats: Stats,
}

impl Reader {
    /// A reader for a file read from its start.
    pub fn new(kind: Kind) -> Reader {
        Reader {
            kind,
            layout: None,
            pending: Vec::new(),
            consumed: 0,
            sessions: HashMap::new(),
            seq: 0,
            stats: Stats::default(),
        }
    }

    /// A reader resuming at `offset` (a checkpoint taken from [`Reader::consumed`]), with the
    /// layout already known when the checkpoint recorded it ([`Reader::layout`]).
    pub fn resume(kind: Kind, offset: u64, layout: Option<Layout>) -> Reader {
        let mut r = Reader::new(kind);
        r.consumed = offset;
        r.layout = layout;
        r
    }

    /// Starts the next file (after a rotation) at `offset`: the layout is detected anew and an
    /// incomplete record of the old file is dropped (and counted), but open sessions carry
    /// over, so a logout after the rotation still names its user.
    pub fn start_file(&mut self, offset: u64, layout: Option<Layout>) {
        self.stats.truncated_bytes += self.pending.len() as u64;
        self.pending.clear();
        self.consumed = offset;
        self.layout = layout;
    }

    /// The file offset up to which every record has been decoded: the checkpoint to resume
    /// from. Bytes after it (an incomplete record) are held and decoded by a later call.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes held back (an incomplete record, or bytes awaiting layout detection).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The layout, once detected (or given).
    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Decodes the complete records in `pending + bytes`, appending their events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event<'static>>) {
        self.feed_inner(bytes, None, out);
    }

    /// The end of the input: decides the layout with what there is (the whole file's length
    /// is then `consumed + pending`) and counts an incomplete trailing record. A reader that
    /// goes on following the file simply calls [`Reader::feed`] again instead.
    pub fn finish(&mut self, out: &mut Vec<Event<'static>>) {
        let total = self.consumed + self.pending.len() as u64;
        self.feed_inner(&[], Some(total), out);
        self.stats.truncated_bytes += self.pending.len() as u64;
        self.consumed += self.pending.len() as u64;
        self.pending.clear();
    }

    fn feed_inner(&mut self, bytes: &[u8], total: Option<u64>, out: &mut Vec<Event<'static>>) {
        let mut input = bytes;
        let layout = match self.layout {
            Some(l) => l,
            None => {
                let decided = if self.pending.is_empty() {
                    detect_layout(input, total)
                } else {
                    self.pending.extend_from_slice(input);
                    input = &[];
                    detect_layout(&self.pending, total)
                };
                match decided {
                    Some(l) => {
                        self.layout = Some(l);
                        l
                    }
                    None => {
                        self.pending.extend_from_slice(input);
                        return;
                    }
                }
            }
        };
        let size = layout.record_size();
        // Complete the held record (or decode the held bytes) first.
        if !self.pending.is_empty() {
            let need = size.saturating_sub(self.pending.len() % size);
            if self.pending.len() % size != 0 {
                let take = need.min(input.len());
                self.pending.extend_from_slice(&input[..take]);
                input = &input[take..];
            }
            let pending = std::mem::take(&mut self.pending);
            let whole = pending.len() - pending.len() % size;
            for chunk in pending[..whole].chunks_exact(size) {
                self.record(chunk, layout, out);
            }
            self.pending = pending;
            self.pending.drain(..whole);
        }
        let whole = input.len() - input.len() % size;
        for chunk in input[..whole].chunks_exact(size) {
            self.record(chunk, layout, out);
        }
        self.pending.extend_from_slice(&input[whole..]);
    }

    fn record(&mut self, chunk: &[u8], layout: Layout, out: &mut Vec<Event<'static>>) {
        let offset = self.consumed;
        self.consumed += layout.record_size() as u64;
        self.stats.records += 1;
        let Some(r) = parse_record(chunk, layout) else {
            self.stats.invalid += 1;
            return;
        };
        if !r.is_valid() {
            self.stats.invalid += 1;
            return;
        }
        if let Ok(t) = usize::try_from(r.ut_type.raw()) {
            if let Some(n) = self.stats.by_type.get_mut(t) {
                *n += 1;
            }
        }
        let event = match (self.kind, r.ut_type) {
            (Kind::Wtmp, RecordType::UserProcess) => self.login(&r),
            (Kind::Wtmp, RecordType::DeadProcess) => self.logout(&r),
            (Kind::Wtmp, RecordType::BootTime) => {
                // Sessions do not survive a reboot.
                self.sessions.clear();
                None
            }
            (Kind::Btmp, RecordType::LoginProcess | RecordType::UserProcess) => {
                let mut e = Event::new(Dataset::Btmp, Action::UserLogin, Outcome::Failure);
                e.reason = Some("failed-login");
                e.user_name = self.text(r.user);
                self.set_source(&mut e, &r);
                Some(e)
            }
            _ => None,
        };
        match event {
            Some(mut e) => {
                e.timestamp = r.timestamp();
                if e.timestamp.is_none() {
                    self.stats.bad_time += 1;
                }
                e.process_pid = u32::try_from(r.pid).ok();
                e.offset = Some(offset);
                self.stats.events += 1;
                out.push(e);
            }
            None => self.stats.skipped += 1,
        }
    }

    fn login(&mut self, r: &Record<'_>) -> Option<Event<'static>> {
        let mut e = Event::new(Dataset::Wtmp, Action::UserLogin, Outcome::Success);
        e.user_name = self.text(r.user);
        self.set_source(&mut e, r);
        if !r.line.is_empty() {
            self.remember(r.line, &e);
        }
        Some(e)
    }

    fn logout(&mut self, r: &Record<'_>) -> Option<Event<'static>> {
        let session = self.sessions.remove(r.line);
        let mut e = Event::new(Dataset::Wtmp, Action::UserLogout, Outcome::Success);
        e.user_name = self.text(r.user);
        self.set_source(&mut e, r);
        if let Some(s) = session {
            if e.user_name.is_none() {
                e.user_name = Some(Cow::Owned(s.user));
            }
            if e.source_address.is_none() {
                if let Some(src) = s.source {
                    e.set_source(Cow::Owned(src), None);
                }
            }
        }
        if e.user_name.is_none() {
            self.stats.logout_unmatched += 1;
            return None;
        }
        Some(e)
    }

    fn remember(&mut self, line: &[u8], e: &Event<'static>) {
        let Some(user) = e.user_name.as_deref() else {
            return;
        };
        if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(line) {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.seq)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.sessions.remove(&k);
                self.stats.sessions_evicted += 1;
            }
        }
        self.seq += 1;
        self.sessions.insert(
            line.to_vec(),
            Session {
                seq: self.seq,
                user: user.to_owned(),
                source: e.source_address.as_deref().map(str::to_owned),
            },
        );
    }

    /// A text field as owned UTF-8 (`None` when empty), lossily when it is not UTF-8.
    fn text(&mut self, b: &[u8]) -> Option<Cow<'static, str>> {
        if b.is_empty() {
            return None;
        }
        Some(Cow::Owned(match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                self.stats.lossy_text += 1;
                String::from_utf8_lossy(b).into_owned()
            }
        }))
    }

    fn set_source(&mut self, e: &mut Event<'static>, r: &Record<'_>) {
        if let Some(ip) = r.addr() {
            e.set_source(Cow::Owned(ip.to_string()), None);
            return;
        }
        let host = match std::str::from_utf8(r.host) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                self.stats.lossy_text += 1;
                String::from_utf8_lossy(r.host)
            }
        };
        if let Some(peer) = host_peer(&host) {
            e.set_source(Cow::Owned(peer.to_owned()), None);
        }
    }
}

/// Whether the first bytes of a file are utmp records (for `scan`, which reads any file): the
/// records there are plausible in exactly one layout, and there is binary padding — text never
/// passes.
pub fn looks_like_utmp(head: &[u8]) -> bool {
    if !head.contains(&0) {
        return false;
    }
    let t32 = tally(head, Layout::Glibc32);
    let t64 = tally(head, Layout::Time64);
    (t32.good > 0 && t32.bad == 0 && t64.good == 0)
        || (t64.good > 0 && t64.bad == 0 && t32.good == 0)
}

/// wtmp or btmp, from the name when it says (`btmp` or `wtmp` in it), else from the records: btmp holds only LOGIN_PROCESS records of the user names tried, while a wtmp's
/// LOGIN_PROCESS records (getty) are named `LOGIN` and sit among sessions and boots.
pub fn guess_kind(name: &str, head: &[u8]) -> Kind {
    if name.contains("btmp") {
        return Kind::Btmp;
    }
    if name.contains("wtmp") {
        return Kind::Wtmp;
    }
    let Some(layout) =
        detect_layout(head, None).or_else(|| detect_layout(head, Some(head.len() as u64)))
    else {
        return Kind::Wtmp;
    };
    let mut failed = 0;
    for chunk in head.chunks_exact(layout.record_size()) {
        match parse_record(chunk, layout) {
            Some(r) if r.ut_type == RecordType::Empty => {}
            Some(r) if r.ut_type == RecordType::LoginProcess && r.user != b"LOGIN" => failed += 1,
            _ => return Kind::Wtmp,
        }
    }
    if failed > 0 {
        Kind::Btmp
    } else {
        Kind::Wtmp
    }
}

/// Decodes a whole file held in memory: the layout from its first records and its length.
/// Events in record order, and what was seen.
pub fn decode_file(bytes: &[u8], kind: Kind) -> (Vec<Event<'static>>, Stats) {
    let mut r = Reader::new(kind);
    let mut out = Vec::new();
    // Decide with the length known, so a file of only empty slots still gets a layout.
    r.layout = detect_layout(bytes, Some(bytes.len() as u64));
    r.feed(bytes, &mut out);
    r.finish(&mut out);
    (out, r.stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A record in `layout`, built field by field.
    #[allow(clippy::too_many_arguments)]
    fn rec(
        layout: Layout,
        ty: i16,
        pid: i32,
        line: &str,
        user: &[u8],
        host: &str,
        sec: i64,
        usec: i64,
        addr: [u8; 16],
    ) -> Vec<u8> {
        let mut b = vec![0u8; layout.record_size()];
        b[0..2].copy_from_slice(&ty.to_le_bytes());
        b[4..8].copy_from_slice(&pid.to_le_bytes());
        b[8..8 + line.len()].copy_from_slice(line.as_bytes());
        b[44..44 + user.len()].copy_from_slice(user);
        b[76..76 + host.len()].copy_from_slice(host.as_bytes());
        match layout {
            Layout::Glibc32 => {
                b[340..344].copy_from_slice(&(sec as u32).to_le_bytes());
                b[344..348].copy_from_slice(&(usec as i32).to_le_bytes());
                b[348..364].copy_from_slice(&addr);
            }
            Layout::Time64 => {
                b[344..352].copy_from_slice(&sec.to_le_bytes());
                b[352..360].copy_from_slice(&usec.to_le_bytes());
                b[360..376].copy_from_slice(&addr);
            }
        }
        b
    }

    const T: i64 = 1_700_000_000;
    const NO_ADDR: [u8; 16] = [0; 16];

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn session_file(layout: Layout) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(rec(layout, 2, 0, "~", b"reboot", "6.1.0", T, 1, NO_ADDR));
        f.extend(rec(
            layout,
            7,
            100,
            "pts/0",
            b"alice",
            "",
            T + 1,
            2,
            v4([192, 0, 2, 7]),
        ));
        f.extend(rec(layout, 7, 101, "tty1", b"bob", "", T + 2, 3, NO_ADDR));
        f.extend(rec(layout, 8, 90, "pts/0", b"", "", T + 3, 4, NO_ADDR));
        f.extend(rec(layout, 8, 91, "tty2", b"", "", T + 4, 5, NO_ADDR));
        f
    }

    #[test]
    fn wtmp_logins_and_logouts_in_both_layouts() {
        for layout in [Layout::Glibc32, Layout::Time64] {
            let f = session_file(layout);
            assert_eq!(detect_layout(&f, None), Some(layout));
            let (ev, st) = decode_file(&f, Kind::Wtmp);
            assert_eq!(ev.len(), 3, "{layout:?}");
            assert_eq!(ev[0].action(), Action::UserLogin);
            assert_eq!(ev[0].outcome, Outcome::Success);
            assert_eq!(ev[0].dataset, Some(Dataset::Wtmp));
            assert_eq!(ev[0].user_name.as_deref(), Some("alice"));
            assert_eq!(ev[0].source_address.as_deref(), Some("192.0.2.7"));
            assert_eq!(ev[0].process_pid, Some(100));
            assert_eq!(ev[0].offset, Some(layout.record_size() as u64));
            let ts = ev[0].timestamp.unwrap();
            assert_eq!((ts.unix, ts.nanos, ts.offset), (T + 1, 2000, 0));
            assert_eq!(ev[1].source_address, None, "a console login has no peer");
            assert_eq!(ev[2].action(), Action::UserLogout);
            assert_eq!(
                ev[2].user_name.as_deref(),
                Some("alice"),
                "from the login on pts/0"
            );
            assert_eq!(ev[2].source_ip, Some("192.0.2.7".parse().unwrap()));
            assert_eq!(ev[2].process_pid, Some(90));
            assert_eq!(st.records, 5);
            assert_eq!(st.events, 3);
            assert_eq!(
                st.skipped, 2,
                "the boot record and the unmatched tty2 logout"
            );
            assert_eq!(st.logout_unmatched, 1);
            assert_eq!(st.by_type[7], 2);
        }
    }

    #[test]
    fn btmp_records_are_failures() {
        // (type, pid, user, host) of three failed logins on ssh:notty.
        let failures: [(i16, i32, &[u8], &str); 3] = [
            (6, 5, &[b'a'; 32], "10.0.0.1"),
            (7, 6, b"root", ""),
            (8, 7, b"root", ""),
        ];
        let f: Vec<u8> = failures
            .into_iter()
            .flat_map(|(ty, pid, user, host)| {
                rec(
                    Layout::Glibc32,
                    ty,
                    pid,
                    "ssh:notty",
                    user,
                    host,
                    T,
                    0,
                    NO_ADDR,
                )
            })
            .collect();
        let (ev, st) = decode_file(&f, Kind::Btmp);
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| e.outcome == Outcome::Failure
            && e.reason == Some("failed-login")
            && e.dataset == Some(Dataset::Btmp)));
        assert_eq!(ev[0].user_name.as_deref(), Some(&"a".repeat(32)[..]));
        assert_eq!(ev[0].source_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(st.skipped, 1);
    }

    #[test]
    fn host_text_names_a_peer_only_when_it_is_one() {
        assert_eq!(host_peer("203.0.113.9"), Some("203.0.113.9"));
        assert_eq!(host_peer("2001:db8::1"), Some("2001:db8::1"));
        assert_eq!(host_peer("ws1.example.com"), Some("ws1.example.com"));
        assert_eq!(host_peer("ws1.example.com:0.0"), Some("ws1.example.com"));
        assert_eq!(host_peer("192.0.2.1:0"), Some("192.0.2.1"));
        for not in [
            ":0",
            ":1",
            ":0.0",
            "",
            "tmux(1234).%0",
            "mosh [4321]",
            "a b",
            "-x",
            "::",
            "0.0.0.0",
        ] {
            assert_eq!(host_peer(not), None, "{not:?}");
        }
    }

    #[test]
    fn addr_prefers_the_binary_address_and_folds_mapped_v4() {
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[12..].copy_from_slice(&[198, 51, 100, 4]);
        let f = rec(
            Layout::Glibc32,
            7,
            1,
            "pts/1",
            b"u",
            "name.example",
            T,
            0,
            mapped,
        );
        let (ev, _) = decode_file(&f, Kind::Wtmp);
        assert_eq!(ev[0].source_address.as_deref(), Some("198.51.100.4"));
    }

    #[test]
    fn streaming_keeps_partial_records_and_reports_consumed() {
        let f = session_file(Layout::Glibc32);
        let mut r = Reader::new(Kind::Wtmp);
        let mut out = Vec::new();
        r.feed(&f[..100], &mut out);
        assert_eq!((r.consumed(), r.pending(), out.len()), (0, 100, 0));
        r.feed(&f[100..400], &mut out);
        assert_eq!(
            r.layout(),
            Some(Layout::Glibc32),
            "one plausible 384-byte record decides"
        );
        assert_eq!((r.consumed(), r.pending()), (384, 16));
        r.feed(&f[400..1000], &mut out);
        assert_eq!((r.consumed(), out.len()), (768, 1));
        r.feed(&f[1000..], &mut out);
        assert_eq!(
            (r.consumed(), r.pending(), out.len()),
            (f.len() as u64, 0, 3)
        );
        // Resuming at the checkpoint of the second record gives the same later events.
        let mut again = Reader::resume(Kind::Wtmp, 384, Some(Layout::Glibc32));
        let mut out2 = Vec::new();
        again.feed(&f[384..], &mut out2);
        assert_eq!(out2[0], out[0]);
    }

    #[test]
    fn truncated_garbage_and_empty_inputs_are_counted() {
        let (ev, st) = decode_file(&[], Kind::Wtmp);
        assert!(ev.is_empty());
        assert_eq!(st, Stats::default());
        let mut f = session_file(Layout::Time64);
        f.truncate(f.len() - 10);
        let (ev, st) = decode_file(&f, Kind::Wtmp);
        assert_eq!(ev.len(), 3);
        assert_eq!(st.records, 4, "the cut record is not decoded");
        assert_eq!(st.truncated_bytes, 390);
        let garbage = vec![0xffu8; 384 * 3];
        let (ev, st) = decode_file(&garbage, Kind::Btmp);
        assert!(ev.is_empty());
        assert_eq!(st.invalid, 3);
    }

    #[test]
    fn a_file_of_empty_slots_waits_while_followed_and_falls_back_at_the_end() {
        let f = vec![0u8; 800];
        assert_eq!(detect_layout(&f, None), None);
        assert_eq!(detect_layout(&f, Some(800)), Some(Layout::Time64));
        assert_eq!(detect_layout(&f[..768], Some(768)), Some(Layout::Glibc32));
        let (ev, st) = decode_file(&f, Kind::Wtmp);
        assert!(ev.is_empty());
        assert_eq!(st.by_type[0], 2);
    }

    #[test]
    fn sessions_are_bounded() {
        let mut r = Reader::new(Kind::Wtmp);
        let mut out = Vec::new();
        for i in 0..(MAX_SESSIONS + 10) {
            let line = format!("pts/{i}");
            r.feed(
                &rec(Layout::Glibc32, 7, 1, &line, b"u", "", T, 0, NO_ADDR),
                &mut out,
            );
        }
        assert_eq!(r.sessions.len(), MAX_SESSIONS);
        assert_eq!(r.stats().sessions_evicted, 10);
        r.feed(
            &rec(Layout::Glibc32, 8, 1, "pts/0", b"", "", T, 0, NO_ADDR),
            &mut out,
        );
        assert_eq!(
            out.len(),
            MAX_SESSIONS + 10,
            "the oldest session was evicted"
        );
        r.feed(
            &rec(Layout::Glibc32, 8, 1, "pts/20", b"", "", T, 0, NO_ADDR),
            &mut out,
        );
        assert_eq!(out.last().map(|e| e.action()), Some(Action::UserLogout));
    }

    fn arb_record() -> impl Strategy<Value = (i16, i32, String, Vec<u8>, String, u32, u32, bool)> {
        (
            0i16..=9,
            any::<i32>(),
            "[a-z/:0-9]{0,32}",
            prop::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 0..=32),
            "[a-z0-9.:]{0,40}",
            315_532_800u32..4_000_000_000,
            0u32..1_000_000,
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn arbitrary_bytes_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..3000),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
            btmp in any::<bool>(),
        ) {
            let kind = if btmp { Kind::Btmp } else { Kind::Wtmp };
            let (ev, st) = decode_file(&data, kind);
            prop_assert!(ev.len() as u64 == st.events);
            let mut r = Reader::new(kind);
            let mut out = Vec::new();
            let mut at = 0;
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            for c in cuts.into_iter().chain([data.len()]) {
                r.feed(&data[at..c], &mut out);
                at = c;
                prop_assert_eq!(r.consumed() + r.pending() as u64, c as u64);
            }
            r.finish(&mut out);
            prop_assert_eq!(r.consumed(), data.len() as u64);
            prop_assert_eq!(r.pending(), 0);
        }

        /// Fed in any pieces, a file of valid records gives exactly what one call gives.
        #[test]
        fn pieces_decode_like_the_whole(
            recs in prop::collection::vec(arb_record(), 1..8),
            time64 in any::<bool>(),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
            btmp in any::<bool>(),
        ) {
            let layout = if time64 { Layout::Time64 } else { Layout::Glibc32 };
            let kind = if btmp { Kind::Btmp } else { Kind::Wtmp };
            let mut f = Vec::new();
            for (ty, pid, line, user, host, sec, usec, a) in &recs {
                let addr = if *a { v4([10, 1, 2, 3]) } else { NO_ADDR };
                // A non-empty first record with a real time, so detection has evidence.
                let ty = if f.is_empty() { 7 } else { *ty };
                f.extend(rec(layout, ty, *pid, line, user, host, *sec as i64, *usec as i64, addr));
            }
            let (whole, st) = decode_file(&f, kind);
            prop_assert_eq!(st.invalid, 0);
            let mut r = Reader::new(kind);
            let mut out = Vec::new();
            let mut at = 0;
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (f.len() + 1)).collect();
            cuts.sort_unstable();
            for c in cuts.into_iter().chain([f.len()]) {
                r.feed(&f[at..c], &mut out);
                at = c;
            }
            prop_assert_eq!(r.layout(), Some(layout));
            prop_assert_eq!(r.consumed(), f.len() as u64);
            prop_assert_eq!(out, whole);
        }
    }
}
