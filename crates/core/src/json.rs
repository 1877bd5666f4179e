//! Events as nested ECS JSON (`{"source":{"ip":…}}`), one object per NDJSON line.
//! Written by hand: this is the output hot path of `scan --format ndjson` (a pcap scan
//! writes ~1 M events a second through it), so strings are scanned eight bytes at a time,
//! integers and IPv4 addresses formatted without `core::fmt`, and nothing is allocated.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::event::Event;
use crate::time::Timestamp;

/// Which bytes a JSON string cannot hold as they are: `"`, `\\`, control characters and DEL.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `w` is one [`ESCAPED`] holds (exact, no false
/// positives: each test is the classic "has a zero byte" / "has a byte below n" word trick,
/// whose answer is exact for the word as a whole).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    (below_space
        | zero(w ^ (LO * b'"' as u64))
        | zero(w ^ (LO * b'\\' as u64))
        | zero(w ^ (LO * 0x7f)))
        != 0
}

/// Where the first byte needing an escape is, if any.
#[inline]
fn first_escape(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if word_needs_escape(w) {
            return c
                .iter()
                .position(|&b| ESCAPED[usize::from(b)])
                .map(|i| at + i);
        }
        at += 8;
    }
    // The tail: as the string's last word (overlapping the one before) when there is
    // one, else byte by byte (a short value).
    let tail = chunks.remainder();
    if bytes.len() >= 8 && !tail.is_empty() {
        let c = &bytes[bytes.len() - 8..];
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if !word_needs_escape(w) {
            return None;
        }
    }
    tail.iter()
        .position(|&b| ESCAPED[usize::from(b)])
        .map(|i| at + i)
}

/// Appends `s` to `out` as a JSON string literal. Plain strings (nearly all) are found
/// plain a word at a time and copied in one go; the others take a byte loop from their
/// first escape on.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let Some(first) = first_escape(bytes) else {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if !ESCAPED[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                let _ = write!(Hex(out), "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `v` in decimal.
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `v` in decimal with at least `width` digits (zero-padded), as `{v:0width$}`.
fn write_padded(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut tmp = [b'0'; 10];
    let mut i = tmp.len();
    while v > 0 {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let i = i.min(tmp.len() - width.min(tmp.len()));
    out.extend_from_slice(&tmp[i..]);
}

/// An IPv4 address's `Display` text without `core::fmt`: the bytes and how many of them are
/// used. One digit loop for every hot writer of addresses (this module's JSON, the DNS
/// decoder's A records and capture clients).
#[inline]
pub fn ipv4_text(ip: Ipv4Addr) -> ([u8; 15], usize) {
    let mut tmp = [0u8; 15];
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            tmp[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            tmp[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            tmp[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        tmp[n] = b'0' + o % 10;
        n += 1;
    }
    (tmp, n)
}

/// Appends an address as `Display` writes it; IPv4 (nearly every address) without
/// `core::fmt`.
pub fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let (text, n) = ipv4_text(v4);
            out.extend_from_slice(&text[..n]);
        }
        IpAddr::V6(v6) => {
            let _ = write!(Hex(out), "{v6}");
        }
    }
}

/// Appends the RFC 3339 text of [`Timestamp::write_rfc3339`], without `core::fmt` for the
/// years 0–9999 of every real log (others take `write_rfc3339` itself).
fn write_ts(out: &mut Vec<u8>, ts: &Timestamp) {
    let (y, mo, d, h, mi, s) = ts.local_fields();
    if !(0..=9999).contains(&y) || ts.nanos >= 1_000_000_000 {
        let _ = ts.write_rfc3339(&mut Hex(out));
        return;
    }
    write_padded(out, y as u32, 4);
    for (sep, v) in [(b'-', mo), (b'-', d), (b'T', h), (b':', mi), (b':', s)] {
        out.push(sep);
        write_padded(out, v, 2);
    }
    if ts.nanos != 0 {
        out.push(b'.');
        if ts.nanos % 1000 == 0 {
            write_padded(out, ts.nanos / 1000, 6);
        } else {
            write_padded(out, ts.nanos, 9);
        }
    }
    if ts.offset == 0 {
        out.push(b'Z');
    } else {
        out.push(if ts.offset < 0 { b'-' } else { b'+' });
        let o = ts.offset.unsigned_abs();
        write_padded(out, o / 3600, 2);
        out.push(b':');
        write_padded(out, o / 60 % 60, 2);
    }
}

/// A number as JSON writes it: unsigned integers by [`write_u64`], the rest by `Display`.
trait Num {
    fn write(self, out: &mut Vec<u8>);
}
macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Num for $t {
            #[inline]
            fn write(self, out: &mut Vec<u8>) {
                write_u64(out, self as u64);
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
macro_rules! displayed {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn write(self, out: &mut Vec<u8>) {
                let _ = write!(Hex(out), "{self}");
            }
        }
    )*};
}
displayed!(i32, i64, f32, f64);

struct Hex<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for Hex<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A JSON object writer that nests objects by dotted path as it goes; callers emit keys
/// grouped by their parent object.
struct Obj<'o> {
    out: &'o mut Vec<u8>,
    /// Bit `d`: the object at depth `d` has no key yet (no allocation per event; events
    /// nest a few levels, far below 64).
    first: u64,
    depth: u32,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj {
            out,
            first: 1,
            depth: 0,
        }
    }
    fn comma(&mut self) {
        let bit = 1u64 << self.depth;
        if self.first & bit == 0 {
            self.out.push(b',');
        }
        self.first &= !bit;
    }
    /// A key of this file (`'static`: a literal), known to need no escape: copied as it
    /// is. Keys that come from the event take [`Obj::key_text`].
    fn key(&mut self, k: &'static str) {
        debug_assert!(first_escape(k.as_bytes()).is_none(), "{k:?}");
        self.comma();
        self.out.reserve(k.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
    /// A key from the event (journald's field names, Windows event data): escaped.
    fn key_text(&mut self, k: &str) {
        self.comma();
        write_str(self.out, k);
        self.out.push(b':');
    }
    fn open(&mut self, k: &'static str) {
        self.key(k);
        self.out.push(b'{');
        self.depth = (self.depth + 1).min(63);
        self.first |= 1 << self.depth;
    }
    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push(b'}');
    }
    fn str(&mut self, k: &'static str, v: &str) {
        self.key(k);
        write_str(self.out, v);
    }
    fn str_array<'a>(&mut self, k: &'static str, items: impl Iterator<Item = &'a str>) {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(self.out, item);
        }
        self.out.push(b']');
    }

    fn opt_str(&mut self, k: &'static str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    fn num(&mut self, k: &'static str, v: impl Num) {
        self.key(k);
        v.write(self.out);
    }
    /// A number as a JSON string (Winlogbeat's ids), written without a `String`.
    fn num_str(&mut self, k: &'static str, v: impl Num) {
        self.key(k);
        self.out.push(b'"');
        v.write(self.out);
        self.out.push(b'"');
    }
    /// An address as a JSON string.
    fn ip(&mut self, k: &'static str, ip: IpAddr) {
        self.key(k);
        self.out.push(b'"');
        write_ip(self.out, ip);
        self.out.push(b'"');
    }
    fn opt_num(&mut self, k: &'static str, v: Option<impl Num>) {
        if let Some(v) = v {
            self.num(k, v);
        }
    }
}

/// Appends the event as one JSON object (no trailing newline).
pub fn write_event(out: &mut Vec<u8>, e: &Event<'_>) {
    let mut o = Obj::new(out);
    if let Some(ts) = e.timestamp {
        o.key("@timestamp");
        o.out.push(b'"');
        write_ts(o.out, &ts);
        o.out.push(b'"');
    }
    o.opt_str("message", e.message.as_deref());

    o.open("event");
    o.str("kind", e.kind.as_str());
    let category = if e.category.is_empty() {
        e.action().category()
    } else {
        e.category
    };
    o.str_array("category", category.names());
    o.str("action", e.action().as_str());
    o.str("outcome", e.outcome.as_str());
    o.opt_str("reason", e.reason);
    o.opt_str("dataset", e.dataset.map(|d| d.as_str()));
    o.opt_str("original", e.original.as_deref());
    o.close();

    if e.host_name.is_some() {
        o.open("host");
        o.opt_str("name", e.host_name.as_deref());
        o.close();
    }
    if let Some(id) = e.agent_id.as_deref() {
        o.open("agent");
        o.str("id", id);
        o.close();
    }
    if e.process_name.is_some() || e.process_pid.is_some() || e.command_line.is_some() {
        o.open("process");
        o.opt_str("name", e.process_name.as_deref());
        o.opt_num("pid", e.process_pid);
        o.opt_str("command_line", e.command_line.as_deref());
        o.close();
    }
    let enr = e.enrichment.as_deref();
    let geo = enr.and_then(|x| x.geo.as_ref()).filter(|g| !g.is_empty());
    let asn = enr.and_then(|x| x.asn.as_ref());
    let dnsbl = enr.and_then(|x| x.dnsbl.as_ref());
    if e.source_address.is_some() || e.source_ip.is_some() || geo.is_some() || asn.is_some() {
        o.open("source");
        o.opt_str("address", e.source_address.as_deref());
        if let Some(ip) = e.source_ip {
            o.ip("ip", ip);
        }
        o.opt_num("port", e.source_port);
        if let Some(g) = geo {
            o.open("geo");
            o.opt_str("country_iso_code", g.country_iso_code.as_deref());
            o.opt_str("country_name", g.country_name.as_deref());
            o.opt_str("city_name", g.city_name.as_deref());
            if let Some((lat, lon)) = g.location.filter(|(a, b)| a.is_finite() && b.is_finite()) {
                o.open("location");
                o.num("lat", lat);
                o.num("lon", lon);
                o.close();
            }
            o.opt_num("accuracy_radius_km", g.accuracy_radius_km);
            o.close();
        }
        if let Some(a) = asn {
            o.open("as");
            o.num("number", a.number);
            if let Some(org) = a.organization.as_deref() {
                o.open("organization");
                o.str("name", org);
                o.close();
            }
            o.close();
        }
        o.close();
    }
    if e.user_name.is_some() || e.user_target_name.is_some() {
        o.open("user");
        o.opt_str("name", e.user_name.as_deref());
        if let Some(t) = e.user_target_name.as_deref() {
            o.open("target");
            o.str("name", t);
            o.close();
        }
        o.close();
    }
    if let Some(g) = e.group_name.as_deref() {
        o.open("group");
        o.str("name", g);
        o.close();
    }
    let has_key = e.auth_key_type.is_some() || e.auth_key_fingerprint.is_some();
    let logon_type = e.winlog.as_ref().and_then(|w| w.logon_type);
    let intel = e.dns.as_ref().and_then(|d| d.intel.as_deref());
    if e.auth_method.is_some()
        || intel.is_some()
        || has_key
        || e.repeat.is_some()
        || dnsbl.is_some()
        || e.claimed_host.is_some()
        || e.claimed_program.is_some()
        || logon_type.is_some()
    {
        o.open("logward");
        if e.auth_method.is_some() || has_key {
            o.open("auth");
            o.opt_str("method", e.auth_method);
            if has_key {
                o.open("key");
                o.opt_str("type", e.auth_key_type.as_deref());
                o.opt_str("fingerprint", e.auth_key_fingerprint.as_deref());
                o.close();
            }
            o.close();
        }
        o.opt_num("repeat", e.repeat);
        o.opt_str("claimed_host", e.claimed_host.as_deref());
        o.opt_str("claimed_program", e.claimed_program.as_deref());
        if let Some(t) = logon_type {
            o.open("windows");
            o.str("logon_type", t);
            o.close();
        }
        if let Some(zones) = dnsbl {
            o.open("dnsbl");
            o.num("count", zones.len());
            o.str_array("zones", zones.iter().map(|z| z.as_ref()));
            o.close();
        }
        if let Some(i) = intel {
            write_dns_intel(&mut o, i);
        }
        o.close();
    }
    let has_syslog = e.syslog_severity.is_some() || e.syslog_facility.is_some();
    let has_file = e.file_path.is_some() || e.file_line.is_some();
    if has_syslog || has_file || e.offset.is_some() {
        o.open("log");
        if has_syslog {
            o.open("syslog");
            if let Some(s) = e.syslog_severity {
                o.open("severity");
                o.num("code", s);
                o.close();
            }
            if let Some(f) = e.syslog_facility {
                o.open("facility");
                o.num("code", f);
                o.close();
            }
            o.close();
        }
        if has_file {
            o.open("file");
            o.opt_str("path", e.file_path.as_deref());
            o.opt_num("line", e.file_line);
            o.close();
        }
        o.opt_num("offset", e.offset);
        o.close();
    }
    if let Some(u) = e.systemd_unit.as_deref() {
        o.open("systemd");
        o.str("unit", u);
        o.close();
    }
    if !e.journald.is_empty() {
        o.open("journald");
        for (k, v) in &e.journald {
            o.key_text(k);
            write_str(o.out, v);
        }
        o.close();
    }
    if let Some(w) = e.winlog.as_deref() {
        write_winlog(&mut o, w);
    }
    if let Some(d) = e.dns.as_deref() {
        write_dns(&mut o, e, d);
    }
    o.close();
}

/// `client`, `server`, `network` and `dns`, as packetbeat writes them (`dns.answers` an
/// array of objects, `dns.resolved_ip` an array of strings).
fn write_dns(o: &mut Obj<'_>, e: &Event<'_>, d: &crate::dns::Dns<'_>) {
    if let Some(ip) = e.source_ip {
        o.open("client");
        o.ip("ip", ip);
        o.opt_num("port", e.source_port);
        o.close();
    }
    if d.server_ip.is_some() || d.server_port.is_some() {
        o.open("server");
        if let Some(ip) = d.server_ip {
            o.ip("ip", ip);
        }
        o.opt_num("port", d.server_port);
        o.close();
    }
    if let Some(t) = d.transport {
        o.open("network");
        o.str("transport", t);
        o.close();
    }
    o.open("dns");
    o.opt_num("id", d.id);
    o.open("question");
    o.str("name", &d.question_name);
    o.opt_str("type", d.question_type.as_deref());
    o.opt_str("class", d.question_class.as_deref());
    o.opt_str("registered_domain", d.registered_domain.as_deref());
    o.close();
    o.opt_str("response_code", d.response_code.as_deref());
    if !d.answers.is_empty() {
        o.key("answers");
        o.out.push(b'[');
        for (i, a) in d.answers.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            let mut x = Obj::new(o.out);
            x.str("name", &a.name);
            x.str("type", &a.rtype);
            x.str("data", &a.data);
            x.opt_num("ttl", a.ttl);
            x.out.push(b'}');
        }
        o.out.push(b']');
    }
    if !d.resolved_ip.is_empty() {
        o.key("resolved_ip");
        o.out.push(b'[');
        for (i, &ip) in d.resolved_ip.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            o.out.push(b'"');
            write_ip(o.out, ip);
            o.out.push(b'"');
        }
        o.out.push(b']');
    }
    o.close();
}

/// `logward.dns`: what the DNS check found.
fn write_dns_intel(o: &mut Obj<'_>, i: &crate::dns::DnsIntel) {
    o.open("dns");
    o.opt_str("list", i.list.as_deref());
    o.opt_str("list_entry", i.list_entry.as_deref());
    o.opt_str("severity", i.severity.as_deref());
    o.opt_str("verdict", i.verdict.as_deref());
    o.opt_num("score", i.score);
    o.opt_str("owner", i.owner.as_deref());
    if !i.reasons.is_empty() {
        o.str_array("reasons", i.reasons.iter().map(String::as_str));
    }
    o.close();
}

/// `winlog`, as Winlogbeat 8 writes it: `event_id` and `record_id` as strings.
fn write_winlog(o: &mut Obj<'_>, w: &crate::winlog::Winlog<'_>) {
    o.open("winlog");
    o.str("channel", &w.channel);
    o.num_str("event_id", w.event_id);
    o.str("provider_name", &w.provider_name);
    o.str("computer_name", &w.computer_name);
    if let Some(r) = w.record_id {
        o.num_str("record_id", r);
    }
    if !w.event_data.is_empty() {
        o.open("event_data");
        for (k, v) in &w.event_data {
            o.key_text(k);
            write_str(o.out, v);
        }
        o.close();
    }
    o.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Action, Dataset, Outcome};
    use std::borrow::Cow;

    #[test]
    fn nested_ecs_json() {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.reason = Some("bad-password");
        e.set_source(Cow::Borrowed("192.0.2.1"), Some(22));
        e.user_name = Some(Cow::Borrowed("ro\"ot\u{1}"));
        e.file_line = Some(3);
        let mut out = Vec::new();
        write_event(&mut out, &e);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"event":{"kind":"event","category":["authentication"],"action":"user-login","outcome":"failure","reason":"bad-password","dataset":"sshd"},"source":{"address":"192.0.2.1","ip":"192.0.2.1","port":22},"user":{"name":"ro\"ot\u0001"},"log":{"file":{"line":3}}}"#
        );
    }

    /// The escaping of the byte loop this replaced, the reference for the word scan.
    fn write_str_bytewise(out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        out.push(b'"');
    }

    #[test]
    fn json_write_str_escapes_every_special_byte_at_every_position() {
        let plain = "abcdefghijklmnopqrstuvwxyz-é.0123";
        for len in 0..plain.len() {
            let Some(base) = plain.get(..len) else {
                continue;
            };
            for at in 0..=base.len() {
                if !base.is_char_boundary(at) {
                    continue;
                }
                for b in (0u8..0x80).chain([b'"', b'\\']) {
                    let s = format!("{}{}{}", &base[..at], b as char, &base[at..]);
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    write_str(&mut got, &s);
                    write_str_bytewise(&mut want, &s);
                    assert_eq!(got, want, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn json_numbers_addresses_and_times_as_display_writes_them() {
        for v in [0u64, 1, 9, 10, 99, 100, 65535, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        let ips = [
            "0.0.0.0",
            "10.1.0.1",
            "255.255.255.255",
            "192.0.2.100",
            "1.20.255.9",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ];
        for ip in ips {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(out, ip.to_string().as_bytes());
        }
        for (unix, nanos, offset) in [
            (0, 0, 0),
            (1_700_000_000, 2_000, 0),
            (1_700_000_000, 123_456_789, 3600),
            (1_700_000_000, 1, -34_200),
            (253_402_300_799, 999_999_999, 0),
            (253_402_300_800, 0, 0),
            (-62_167_219_201, 0, 0),
            (1_700_000_000, 1_500_000_000, 0),
        ] {
            let ts = Timestamp {
                unix,
                nanos,
                offset,
            };
            let (mut got, mut want) = (Vec::new(), String::new());
            write_ts(&mut got, &ts);
            ts.write_rfc3339(&mut want).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), want);
        }
    }
}
