//! Field access by ECS dotted path (`source.ip`, `user.name`, `journald.comm` …), for every
//! stage that selects or shows fields by name: rules, templates, routes, the summary.
//!
//! A path is resolved once ([`Field::parse`]) into a [`Field`]; reading it from an event
//! ([`Event::get`]) is then a `match`, no string work.

use std::fmt;
use std::net::IpAddr;

use crate::event::Event;

/// A field of [`Event`], by its ECS path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Timestamp,
    Message,
    EventKind,
    EventAction,
    EventOutcome,
    EventReason,
    EventDataset,
    EventOriginal,
    HostName,
    ProcessName,
    ProcessPid,
    ProcessCommandLine,
    SourceAddress,
    SourceIp,
    SourcePort,
    UserName,
    UserTargetName,
    GroupName,
    AuthMethod,
    AuthKeyType,
    AuthKeyFingerprint,
    SyslogSeverity,
    SyslogFacility,
    SystemdUnit,
    Repeat,
    FilePath,
    FileLine,
    Offset,
    GeoCountryIsoCode,
    GeoCountryName,
    GeoCityName,
    AsNumber,
    AsOrganizationName,
    DnsblCount,
    /// `agent.id`: the enrolled agent that sent the event (collector only).
    AgentId,
    /// `journald.<name>`: one of the journal entry's other fields.
    Journald(String),
    WinlogChannel,
    WinlogEventId,
    WinlogProviderName,
    WinlogComputerName,
    WinlogRecordId,
    WindowsLogonType,
    /// `winlog.event_data.<Name>`: one of a Windows event's EventData values.
    WinlogEventData(String),
    DnsQuestionName,
    DnsQuestionType,
    DnsQuestionClass,
    DnsRegisteredDomain,
    DnsResponseCode,
    ServerIp,
    ClientIp,
    DnsList,
    DnsListEntry,
    DnsSeverity,
    DnsVerdict,
    DnsScore,
    DnsOwner,
}

/// The fixed paths, in the order `Field::ALL_PATHS` lists them.
const PATHS: &[(&str, Field)] = &[
    ("@timestamp", Field::Timestamp),
    ("message", Field::Message),
    ("event.kind", Field::EventKind),
    ("event.action", Field::EventAction),
    ("event.outcome", Field::EventOutcome),
    ("event.reason", Field::EventReason),
    ("event.dataset", Field::EventDataset),
    ("event.original", Field::EventOriginal),
    ("host.name", Field::HostName),
    ("process.name", Field::ProcessName),
    ("process.pid", Field::ProcessPid),
    ("process.command_line", Field::ProcessCommandLine),
    ("source.address", Field::SourceAddress),
    ("source.ip", Field::SourceIp),
    ("source.port", Field::SourcePort),
    ("user.name", Field::UserName),
    ("user.target.name", Field::UserTargetName),
    ("group.name", Field::GroupName),
    ("logward.auth.method", Field::AuthMethod),
    ("logward.auth.key.type", Field::AuthKeyType),
    ("logward.auth.key.fingerprint", Field::AuthKeyFingerprint),
    ("log.syslog.severity.code", Field::SyslogSeverity),
    ("log.syslog.facility.code", Field::SyslogFacility),
    ("systemd.unit", Field::SystemdUnit),
    ("logward.repeat", Field::Repeat),
    ("log.file.path", Field::FilePath),
    ("log.file.line", Field::FileLine),
    ("log.offset", Field::Offset),
    ("source.geo.country_iso_code", Field::GeoCountryIsoCode),
    ("source.geo.country_name", Field::GeoCountryName),
    ("source.geo.city_name", Field::GeoCityName),
    ("source.as.number", Field::AsNumber),
    ("source.as.organization.name", Field::AsOrganizationName),
    ("logward.dnsbl.count", Field::DnsblCount),
    ("agent.id", Field::AgentId),
    ("winlog.channel", Field::WinlogChannel),
    ("winlog.event_id", Field::WinlogEventId),
    ("winlog.provider_name", Field::WinlogProviderName),
    ("winlog.computer_name", Field::WinlogComputerName),
    ("winlog.record_id", Field::WinlogRecordId),
    ("logward.windows.logon_type", Field::WindowsLogonType),
    ("dns.question.name", Field::DnsQuestionName),
    ("dns.question.type", Field::DnsQuestionType),
    ("dns.question.class", Field::DnsQuestionClass),
    ("dns.question.registered_domain", Field::DnsRegisteredDomain),
    ("dns.response_code", Field::DnsResponseCode),
    ("server.ip", Field::ServerIp),
    ("client.ip", Field::ClientIp),
    ("logward.dns.list", Field::DnsList),
    ("logward.dns.list_entry", Field::DnsListEntry),
    ("logward.dns.severity", Field::DnsSeverity),
    ("logward.dns.verdict", Field::DnsVerdict),
    ("logward.dns.score", Field::DnsScore),
    ("logward.dns.owner", Field::DnsOwner),
];

impl Field {
    /// Resolves a dotted path; `None` for a path no event has.
    pub fn parse(path: &str) -> Option<Field> {
        if let Some(name) = path.strip_prefix("journald.") {
            return (!name.is_empty()).then(|| Field::Journald(name.to_owned()));
        }
        if let Some(name) = path.strip_prefix("winlog.event_data.") {
            return (!name.is_empty()).then(|| Field::WinlogEventData(name.to_owned()));
        }
        PATHS
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, f)| f.clone())
    }

    /// Every fixed path (`journald.*` and `winlog.event_data.*` aside), for error messages
    /// and docs.
    pub fn all_paths() -> impl Iterator<Item = &'static str> {
        PATHS.iter().map(|(p, _)| *p)
    }

    /// The dotted path.
    pub fn path(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Field::Journald(n) => format!("journald.{n}").into(),
            Field::WinlogEventData(n) => format!("winlog.event_data.{n}").into(),
            f => PATHS
                .iter()
                .find(|(_, g)| g == f)
                .map_or("", |(p, _)| p)
                .into(),
        }
    }
}

/// A field's value, borrowed from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'e> {
    Str(&'e str),
    Num(i64),
    Ip(IpAddr),
    Time(crate::time::Timestamp),
}

impl Value<'_> {
    /// The value as a number: numbers, and text that is a decimal integer.
    pub fn as_num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Ip(_) | Value::Time(_) => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Num(n) => write!(f, "{n}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Time(t) => write!(f, "{t}"),
        }
    }
}

fn s<'e>(v: &'e Option<std::borrow::Cow<'_, str>>) -> Option<Value<'e>> {
    v.as_deref().map(Value::Str)
}

impl Event<'_> {
    fn geo(&self) -> Option<&crate::enrich::Geo> {
        self.enrichment.as_ref()?.geo.as_ref()
    }

    fn dns_intel(&self) -> Option<&crate::dns::DnsIntel> {
        self.dns.as_ref()?.intel.as_deref()
    }

    /// The value of a field, `None` when the event does not have it.
    pub fn get(&self, field: &Field) -> Option<Value<'_>> {
        use Value::{Num, Str};
        Some(match field {
            Field::Timestamp => Value::Time(self.timestamp?),
            Field::Message => return s(&self.message),
            Field::EventKind => Str(self.kind.as_str()),
            Field::EventAction => Str(self.action().as_str()),
            Field::EventOutcome => Str(self.outcome.as_str()),
            Field::EventReason => Str(self.reason?),
            Field::EventDataset => Str(self.dataset?.as_str()),
            Field::EventOriginal => return s(&self.original),
            Field::HostName => return s(&self.host_name),
            Field::AgentId => return s(&self.agent_id),
            Field::ProcessName => return s(&self.process_name),
            Field::ProcessPid => Num(self.process_pid?.into()),
            Field::ProcessCommandLine => return s(&self.command_line),
            Field::SourceAddress => return s(&self.source_address),
            Field::SourceIp => Value::Ip(self.source_ip?),
            Field::SourcePort => Num(self.source_port?.into()),
            Field::UserName => return s(&self.user_name),
            Field::UserTargetName => return s(&self.user_target_name),
            Field::GroupName => return s(&self.group_name),
            Field::AuthMethod => Str(self.auth_method?),
            Field::AuthKeyType => return s(&self.auth_key_type),
            Field::AuthKeyFingerprint => return s(&self.auth_key_fingerprint),
            Field::SyslogSeverity => Num(self.syslog_severity?.into()),
            Field::SyslogFacility => Num(self.syslog_facility?.into()),
            Field::SystemdUnit => return s(&self.systemd_unit),
            Field::Repeat => Num(self.repeat?.into()),
            Field::FilePath => return s(&self.file_path),
            Field::FileLine => Num(i64::try_from(self.file_line?).ok()?),
            Field::Offset => Num(i64::try_from(self.offset?).ok()?),
            Field::GeoCountryIsoCode => Str(self.geo()?.country_iso_code.as_deref()?),
            Field::GeoCountryName => Str(self.geo()?.country_name.as_deref()?),
            Field::GeoCityName => Str(self.geo()?.city_name.as_deref()?),
            Field::AsNumber => Num(self.enrichment.as_ref()?.asn.as_ref()?.number.into()),
            Field::AsOrganizationName => Str(self
                .enrichment
                .as_ref()?
                .asn
                .as_ref()?
                .organization
                .as_deref()?),
            Field::DnsblCount => {
                Num(i64::try_from(self.enrichment.as_ref()?.dnsbl.as_ref()?.len()).ok()?)
            }
            Field::Journald(name) => Str(self
                .journald
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_ref())?),
            Field::WinlogChannel => Str(&self.winlog.as_ref()?.channel),
            Field::WinlogEventId => Num(self.winlog.as_ref()?.event_id.into()),
            Field::WinlogProviderName => Str(&self.winlog.as_ref()?.provider_name),
            Field::WinlogComputerName => Str(&self.winlog.as_ref()?.computer_name),
            Field::WinlogRecordId => Num(i64::try_from(self.winlog.as_ref()?.record_id?).ok()?),
            Field::WindowsLogonType => Str(self.winlog.as_ref()?.logon_type?),
            Field::WinlogEventData(name) => Str(self.winlog.as_ref()?.data(name)?),
            Field::DnsQuestionName => Str(&self.dns.as_ref()?.question_name),
            Field::DnsQuestionType => Str(self.dns.as_ref()?.question_type.as_deref()?),
            Field::DnsQuestionClass => Str(self.dns.as_ref()?.question_class.as_deref()?),
            Field::DnsRegisteredDomain => Str(self.dns.as_ref()?.registered_domain.as_deref()?),
            Field::DnsResponseCode => Str(self.dns.as_ref()?.response_code.as_deref()?),
            Field::ServerIp => Value::Ip(self.dns.as_ref()?.server_ip?),
            Field::ClientIp => Value::Ip(self.dns.as_ref().and(self.source_ip)?),
            Field::DnsList => Str(self.dns_intel()?.list.as_deref()?),
            Field::DnsListEntry => Str(self.dns_intel()?.list_entry.as_deref()?),
            Field::DnsSeverity => Str(self.dns_intel()?.severity.as_deref()?),
            Field::DnsVerdict => Str(self.dns_intel()?.verdict.as_deref()?),
            Field::DnsScore => Num(self.dns_intel()?.score?.into()),
            Field::DnsOwner => Str(self.dns_intel()?.owner.as_deref()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Action, Dataset, Outcome};
    use std::borrow::Cow;

    #[test]
    fn paths_round_trip() {
        for p in Field::all_paths() {
            assert_eq!(Field::parse(p).map(|f| f.path()), Some(p.into()), "{p}");
        }
        assert_eq!(
            Field::parse("journald.comm"),
            Some(Field::Journald("comm".into()))
        );
        assert_eq!(Field::parse("source.geo"), None);
        assert_eq!(Field::parse("source.as.number"), Some(Field::AsNumber));
        assert_eq!(Field::parse("journald."), None);
    }

    #[test]
    fn values_come_from_the_event() {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.set_source(Cow::Borrowed("192.0.2.7"), Some(2222));
        e.syslog_severity = Some(6);
        e.journald
            .push((Cow::Borrowed("comm"), Cow::Borrowed("sshd")));
        let get = |p: &str| e.get(&Field::parse(p).unwrap()).map(|v| v.to_string());
        assert_eq!(get("event.action").as_deref(), Some("user-login"));
        assert_eq!(get("event.dataset").as_deref(), Some("sshd"));
        assert_eq!(get("source.ip").as_deref(), Some("192.0.2.7"));
        assert_eq!(get("source.port").as_deref(), Some("2222"));
        assert_eq!(get("log.syslog.severity.code").as_deref(), Some("6"));
        assert_eq!(get("journald.comm").as_deref(), Some("sshd"));
        assert_eq!(get("journald.unit"), None);
        assert_eq!(get("user.name"), None);
        assert_eq!(Value::Str(" 42").as_num(), Some(42));
        assert_eq!(get("winlog.event_id"), None);
    }

    #[test]
    fn windows_fields_come_from_winlog() {
        let mut e = Event::new(
            Dataset::WindowsSecurity,
            Action::UserLogin,
            Outcome::Failure,
        );
        e.winlog = Some(Box::new(crate::Winlog {
            channel: "Security".into(),
            event_id: 4625,
            logon_type: Some("network"),
            event_data: vec![("WorkstationName".into(), "KALI".into())],
            ..Default::default()
        }));
        let get = |p: &str| e.get(&Field::parse(p).unwrap()).map(|v| v.to_string());
        assert_eq!(get("winlog.event_id").as_deref(), Some("4625"));
        assert_eq!(get("winlog.channel").as_deref(), Some("Security"));
        assert_eq!(
            get("logward.windows.logon_type").as_deref(),
            Some("network")
        );
        assert_eq!(
            get("winlog.event_data.WorkstationName").as_deref(),
            Some("KALI")
        );
        assert_eq!(get("winlog.event_data.IpAddress"), None);
        assert_eq!(get("winlog.record_id"), None);
        assert_eq!(Field::parse("winlog.event_data."), None);
    }
}
