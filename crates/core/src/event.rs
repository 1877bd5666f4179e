//! [`Event`]: one security-relevant thing that happened, in ECS field names.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::time::Timestamp;
use crate::vocab::{Action, Category, Dataset, Kind, Outcome};

type Text<'a> = Cow<'a, str>;

/// One event. Field names follow ECS; the comment on each gives its dotted path.
/// Fields that borrow from the input line are `Cow`, so decoding allocates nothing unless a
/// value has to be rewritten (a journal field with escapes, a lossily decoded byte).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event<'a> {
    /// `@timestamp`.
    pub timestamp: Option<Timestamp>,
    /// `event.kind`.
    pub kind: Kind,
    /// `event.category` (defaults to the action's own).
    pub category: Category,
    /// `event.action`.
    pub action: Option<Action>,
    /// `event.outcome`.
    pub outcome: Outcome,
    /// `event.reason`: a short machine word (`invalid-user`, `bad-password` …).
    pub reason: Option<&'static str>,
    /// `event.dataset`.
    pub dataset: Option<Dataset>,
    /// `event.original`.
    pub original: Option<Text<'a>>,
    /// `message`: the log message after the syslog header (kept for `unknown` events).
    pub message: Option<Text<'a>>,
    /// `host.name`.
    pub host_name: Option<Text<'a>>,
    /// `process.name`.
    pub process_name: Option<Text<'a>>,
    /// `process.pid`.
    pub process_pid: Option<u32>,
    /// `process.command_line` (the sudo command).
    pub command_line: Option<Text<'a>>,
    /// `source.address`: the peer as the log names it (address or host name).
    pub source_address: Option<Text<'a>>,
    /// `source.ip`: the peer's address when it is one (canonical form).
    pub source_ip: Option<IpAddr>,
    /// `source.port`.
    pub source_port: Option<u16>,
    /// `user.name`: the account that logs in or acts.
    pub user_name: Option<Text<'a>>,
    /// `user.target.name`: the account acted on.
    pub user_target_name: Option<Text<'a>>,
    /// `group.name`.
    pub group_name: Option<Text<'a>>,
    /// `logward.auth.method`.
    pub auth_method: Option<&'static str>,
    /// `logward.auth.key.type`.
    pub auth_key_type: Option<Text<'a>>,
    /// `logward.auth.key.fingerprint`.
    pub auth_key_fingerprint: Option<Text<'a>>,
    /// `log.syslog.severity.code`.
    pub syslog_severity: Option<u8>,
    /// `log.syslog.facility.code`.
    pub syslog_facility: Option<u8>,
    /// `systemd.unit`.
    pub systemd_unit: Option<Text<'a>>,
    /// `journald.*`: the journal entry's other fields, in lower case without the leading `_`.
    pub journald: Vec<(Text<'a>, Text<'a>)>,
    /// `logward.repeat`: N of `message repeated N times: [ … ]`.
    pub repeat: Option<u32>,
    /// `log.file.path`.
    pub file_path: Option<Text<'a>>,
    /// `log.file.line` (1-based).
    pub file_line: Option<u64>,
    /// `log.offset` (byte offset of the line's start).
    pub offset: Option<u64>,
    /// `source.geo.*`, `source.as.*`, `logward.dnsbl.*`: set by the agent's enrichment.
    pub enrichment: Option<Box<crate::enrich::Enrichment>>,
    /// `agent.id`: the enrolled agent that sent the event, set by the collector only.
    pub agent_id: Option<Text<'a>>,
    /// `logward.claimed_host`: the `host.name` an agent sent when it was not the host it
    /// enrolled as (the collector keeps the enrolled one in `host.name`).
    pub claimed_host: Option<Text<'a>>,
    /// `logward.claimed_program`: the program a journal entry claimed to be
    /// (`SYSLOG_IDENTIFIER`) when the journal's own fields (`_COMM`, `_EXE`, `_UID`) say
    /// another process wrote it; such an entry is not decoded as that program.
    pub claimed_program: Option<Text<'a>>,
    /// `winlog.*`, `logward.windows.*`: a Windows event's own fields (boxed: most events
    /// are not Windows events).
    pub winlog: Option<Box<crate::winlog::Winlog<'a>>>,
    /// `dns.*`, `server.*`, `network.transport`, `logward.dns.*`: a DNS query's own fields
    /// (boxed: most events are not DNS queries).
    pub dns: Option<Box<crate::dns::Dns<'a>>>,
}

fn own(t: Option<Text<'_>>) -> Option<Text<'static>> {
    t.map(|c| Cow::Owned(c.into_owned()))
}

impl<'a> Event<'a> {
    /// A new event of this action, category from DESIGN.md's table.
    pub fn new(dataset: Dataset, action: Action, outcome: Outcome) -> Event<'a> {
        Event {
            dataset: Some(dataset),
            action: Some(action),
            category: action.category(),
            outcome,
            ..Event::default()
        }
    }

    /// `event.action`, `unknown` when no decoder named one.
    pub fn action(&self) -> Action {
        self.action.unwrap_or(Action::Unknown)
    }

    /// Sets `source.address` and, when the text is an IP address, `source.ip`.
    /// IPv4-mapped IPv6 addresses fold to IPv4 (`::ffff:1.2.3.4` → `1.2.3.4`).
    pub fn set_source(&mut self, address: Text<'a>, port: Option<u16>) {
        self.source_port = port;
        // Fast path: dotted IPv4 that parses is canonical text already.
        if let Some(v4) = parse_ipv4(address.as_bytes()) {
            self.source_ip = Some(IpAddr::V4(v4));
            self.source_address = Some(address);
            return;
        }
        match parse_ip_text(&address) {
            Some((ip, true)) => {
                self.source_ip = Some(ip);
                self.source_address = Some(address);
            }
            Some((ip, false)) => {
                self.source_ip = Some(ip);
                self.source_address = Some(Cow::Owned(ip.to_string()));
            }
            None => {
                self.source_ip = None;
                self.source_address = Some(address);
            }
        }
    }

    /// The event's `Copy` fields, every text field empty: the base of an owned copy
    /// ([`Self::into_owned`]) and of a borrowed view (the alert's JSON).
    pub(crate) fn clone_scalars(&self) -> Event<'static> {
        Event {
            timestamp: self.timestamp,
            kind: self.kind,
            category: self.category,
            action: self.action,
            outcome: self.outcome,
            reason: self.reason,
            dataset: self.dataset,
            process_pid: self.process_pid,
            source_ip: self.source_ip,
            source_port: self.source_port,
            auth_method: self.auth_method,
            syslog_severity: self.syslog_severity,
            syslog_facility: self.syslog_facility,
            repeat: self.repeat,
            file_line: self.file_line,
            offset: self.offset,
            ..Event::default()
        }
    }

    /// Detaches the event from the line it was decoded from.
    pub fn into_owned(self) -> Event<'static> {
        let scalars = self.clone_scalars();
        Event {
            original: own(self.original),
            message: own(self.message),
            host_name: own(self.host_name),
            process_name: own(self.process_name),
            command_line: own(self.command_line),
            source_address: own(self.source_address),
            user_name: own(self.user_name),
            user_target_name: own(self.user_target_name),
            group_name: own(self.group_name),
            auth_key_type: own(self.auth_key_type),
            auth_key_fingerprint: own(self.auth_key_fingerprint),
            systemd_unit: own(self.systemd_unit),
            journald: self
                .journald
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            file_path: own(self.file_path),
            enrichment: self.enrichment,
            agent_id: own(self.agent_id),
            claimed_host: own(self.claimed_host),
            claimed_program: own(self.claimed_program),
            winlog: self.winlog.map(|w| Box::new(w.into_owned())),
            dns: self.dns.map(|d| Box::new(d.into_owned())),
            ..scalars
        }
    }
}

/// Parses an IP address as logs write it: plain v4/v6, IPv4-mapped v6 folded to v4, an
/// IPv6 zone (`fe80::1%eth0`) dropped. Leading-zero IPv4 (`192.030.0.6`) is not an address:
/// its meaning differs between parsers (octal or decimal), so it stays a name.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    parse_ip_text(s).map(|(ip, _)| ip)
}

/// [`parse_ip`], and whether `s` is already the canonical text of the result (so the caller
/// can keep borrowing it).
fn parse_ip_text(s: &str) -> Option<(IpAddr, bool)> {
    if let Some(v4) = parse_ipv4(s.as_bytes()) {
        return Some((IpAddr::V4(v4), true));
    }
    let (text, zone) = match s.split_once('%') {
        Some((a, _)) => (a, true),
        None => (s, false),
    };
    let (v6, canonical) = parse_ipv6(text.as_bytes())?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => (IpAddr::V4(v4), false),
        None => (IpAddr::V6(v6), canonical && !zone),
    })
}

/// Dotted-quad IPv4, strict: four decimal octets, no leading zeros, no sign. Written out
/// because the standard parser is a measurable share of decoding time.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u32 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - start == 3 {
                break;
            }
            v = v * 10 + (c - b'0') as u32;
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *octet = v as u8;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// IPv6 text (RFC 4291 §2.2: 1–4 hex digits per group, one `::`, an optional dotted IPv4
/// tail), parsed by hand for the same reason as [`parse_ipv4`]; agrees with the standard
/// parser (tested).
/// Also says whether the text was canonical (RFC 5952: lower case, no leading zeros, `::` for
/// exactly the longest run of two or more zero groups, the first on a tie, no dotted tail),
/// which saves writing the canonical form out to compare.
fn parse_ipv6(b: &[u8]) -> Option<(Ipv6Addr, bool)> {
    if b.len() < 2 || b.len() > 45 {
        return None;
    }
    // The groups in text order; `gap_at` is how many stood before the `::`.
    let mut parts = [0u16; 8];
    let mut n = 0usize;
    let mut gap_at: Option<usize> = None;
    let mut tidy = true;
    let mut dotted = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap_at = Some(0);
        i = 2;
        if i == b.len() {
            return Some((Ipv6Addr::UNSPECIFIED, true));
        }
    }
    loop {
        // A dotted IPv4 tail takes two groups.
        let start = i;
        let mut j = i;
        while j < b.len() && b[j] != b':' {
            j += 1;
        }
        let field = &b[start..j];
        if field.contains(&b'.') {
            if j != b.len() || n > 6 {
                return None;
            }
            let v4 = parse_ipv4(field)?.octets();
            dotted = true;
            for pair in [[v4[0], v4[1]], [v4[2], v4[3]]] {
                parts[n] = u16::from_be_bytes(pair);
                n += 1;
            }
            break;
        }
        if field.is_empty() || field.len() > 4 || n >= 8 {
            return None;
        }
        let mut g: u16 = 0;
        if field.len() > 1 && field[0] == b'0' {
            tidy = false;
        }
        for &c in field {
            if c.is_ascii_uppercase() {
                tidy = false;
            }
            let d = (c as char).to_digit(16)? as u16;
            g = (g << 4) | d;
        }
        parts[n] = g;
        n += 1;
        if j == b.len() {
            break;
        }
        // b[j] == ':'
        if b.get(j + 1) == Some(&b':') {
            if gap_at.is_some() {
                return None;
            }
            gap_at = Some(n);
            i = j + 2;
            if i == b.len() {
                break;
            }
        } else {
            i = j + 1;
            if i == b.len() {
                return None;
            }
        }
    }
    let (gap, total) = (gap_at.is_some(), n);
    if (gap && total > 7) || (!gap && total != 8) {
        return None;
    }
    let nh = gap_at.unwrap_or(n);
    let nt = n - nh;
    let mut seg = [0u16; 8];
    seg[..nh].copy_from_slice(&parts[..nh]);
    seg[8 - nt..].copy_from_slice(&parts[nh..n]);
    let (run_start, run_len) = longest_zero_run(&seg);
    let compressed_right = if gap {
        run_len >= 2 && run_start == nh && run_len == 8 - total
    } else {
        run_len < 2
    };
    Some((Ipv6Addr::from(seg), tidy && !dotted && compressed_right))
}

/// The first longest run of zero groups: (start, length).
fn longest_zero_run(seg: &[u16; 8]) -> (usize, usize) {
    let (mut best_start, mut best_len, mut cur_start, mut cur_len) = (0, 0, 0, 0);
    for (i, &g) in seg.iter().enumerate() {
        if g == 0 {
            if cur_len == 0 {
                cur_start = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best_start = cur_start;
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    (best_start, best_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_is_canonical() {
        let mut e = Event::default();
        e.set_source(Cow::Borrowed("::ffff:1.2.3.4"), Some(22));
        assert_eq!(e.source_address.as_deref(), Some("1.2.3.4"));
        assert_eq!(e.source_ip, Some("1.2.3.4".parse().unwrap()));
        e.set_source(Cow::Borrowed("2001:DB8:0:0::1"), None);
        assert_eq!(e.source_address.as_deref(), Some("2001:db8::1"));
        e.set_source(Cow::Borrowed("example.com"), None);
        assert_eq!(e.source_address.as_deref(), Some("example.com"));
        assert_eq!(e.source_ip, None);
        e.set_source(Cow::Borrowed("192.030.0.6"), None);
        assert_eq!(
            e.source_ip, None,
            "leading zeros are ambiguous, never an address"
        );
        e.set_source(Cow::Borrowed("fe80::1%eth0"), None);
        assert_eq!(e.source_address.as_deref(), Some("fe80::1"));
    }

    #[test]
    fn ipv4_parser_is_strict() {
        for ok in ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.100.9"] {
            assert_eq!(parse_ip(ok), ok.parse().ok(), "{ok}");
        }
        for bad in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1..2.3",
            "1.2.3.1234",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_parser_matches_std() {
        let alphabet = b"0123456789abcdefABCDEF::::...";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut agreed = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize + 2;
            let text: String = (0..len)
                .map(|k| alphabet[((x >> (k % 9 * 7)) as usize + k * 31) % alphabet.len()] as char)
                .collect();
            let ours = parse_ipv6(text.as_bytes());
            assert_eq!(ours.map(|o| o.0), text.parse::<Ipv6Addr>().ok(), "{text}");
            if let Some((ip, canonical)) = ours {
                assert_eq!(
                    canonical,
                    ip.to_ipv4_mapped().is_none() && ip.to_string() == text,
                    "{text}"
                );
            }
            agreed += ours.is_some() as u32;
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::1:0:0:1",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "fe80::",
            "1:::2",
            ":1::2",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "::1.2.3",
            "1.2.3.4::",
            "::1.2.3.4:5",
            "1:2:3:4:5:6:7:1.2.3.4",
        ] {
            let ours = parse_ipv6(s.as_bytes());
            assert_eq!(ours.map(|o| o.0), s.parse::<Ipv6Addr>().ok(), "{s}");
            if let Some((ip, canonical)) = ours {
                let expect = ip.to_ipv4_mapped().is_none() && ip.to_string() == s;
                assert_eq!(canonical, expect, "{s}");
            }
        }
        assert!(agreed > 0);
    }

    #[test]
    fn ipv6_canonical_text_is_recognised() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            // xorshift; zero groups made common so that compression cases are covered.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut seg = [0u16; 8];
            for (i, s) in seg.iter_mut().enumerate() {
                let r = (x >> (i * 8)) as u16;
                *s = if r % 3 == 0 {
                    0
                } else {
                    r.rotate_left(i as u32)
                };
            }
            let ip = Ipv6Addr::from(seg);
            let text = ip.to_string();
            let mapped = ip.to_ipv4_mapped().is_some();
            assert_eq!(parse_ipv6(text.as_bytes()), Some((ip, !mapped)), "{text}");
            let upper = text.to_uppercase();
            let upper_canonical = !mapped && upper == text;
            assert_eq!(parse_ipv6(upper.as_bytes()), Some((ip, upper_canonical)));
        }
        for s in [
            "::",
            "::1",
            "1::",
            "2001:db8::1:0:0:1",
            "0:0:1::",
            "1:0:0:2::3",
        ] {
            assert_eq!(
                parse_ipv6(s.as_bytes()),
                Some((s.parse().unwrap(), true)),
                "{s}"
            );
        }
        for s in [
            "0:0::1",
            "1:0:0:2:0:0:0:3",
            "1::0:2",
            "2001:DB8::1",
            "2001:0db8::1",
            "::1.2.3.4",
        ] {
            assert_eq!(parse_ipv6(s.as_bytes()).map(|p| p.1), Some(false), "{s}");
        }
    }

    #[test]
    fn into_owned_keeps_everything() {
        let line = String::from("root");
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.user_name = Some(Cow::Borrowed(&line));
        e.journald
            .push((Cow::Borrowed("comm"), Cow::Borrowed("sshd")));
        let owned: Event<'static> = e.clone().into_owned();
        drop(line);
        assert_eq!(owned.user_name.as_deref(), Some("root"));
        assert_eq!(owned.category, Category::AUTHENTICATION);
        assert_eq!(owned.journald.len(), 1);
    }
}
