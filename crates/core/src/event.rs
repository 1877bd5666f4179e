//! [`Event`]: one security-relevant thing that happened, in ECS field names.

use std::borrow::Cow;
use std::net::IpAddr;

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
        let ip = parse_ip(&address);
        self.source_ip = ip;
        // Plain dotted IPv4 text is already canonical; only IPv6 (compression, case,
        // mapped v4, zone) can need rewriting.
        self.source_address = match ip {
            Some(ip) if address.contains(':') || address.contains('%') => {
                let canonical = ip.to_string();
                if canonical == *address {
                    Some(address)
                } else {
                    Some(Cow::Owned(canonical))
                }
            }
            _ => Some(address),
        };
        self.source_port = port;
    }

    /// Detaches the event from the line it was decoded from.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            timestamp: self.timestamp,
            kind: self.kind,
            category: self.category,
            action: self.action,
            outcome: self.outcome,
            reason: self.reason,
            dataset: self.dataset,
            original: own(self.original),
            message: own(self.message),
            host_name: own(self.host_name),
            process_name: own(self.process_name),
            process_pid: self.process_pid,
            command_line: own(self.command_line),
            source_address: own(self.source_address),
            source_ip: self.source_ip,
            source_port: self.source_port,
            user_name: own(self.user_name),
            user_target_name: own(self.user_target_name),
            group_name: own(self.group_name),
            auth_method: self.auth_method,
            auth_key_type: own(self.auth_key_type),
            auth_key_fingerprint: own(self.auth_key_fingerprint),
            syslog_severity: self.syslog_severity,
            syslog_facility: self.syslog_facility,
            systemd_unit: own(self.systemd_unit),
            journald: self
                .journald
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            repeat: self.repeat,
            file_path: own(self.file_path),
            file_line: self.file_line,
            offset: self.offset,
        }
    }
}

/// Parses an IP address as logs write it: plain v4/v6, IPv4-mapped v6 folded to v4, an
/// IPv6 zone (`fe80::1%eth0`) dropped. Leading-zero IPv4 (`192.030.0.6`) is not an address:
/// its meaning differs between parsers (octal or decimal), so it stays a name.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    })
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
