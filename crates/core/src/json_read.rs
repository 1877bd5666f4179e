//! Reading nested ECS JSON back: the inverse of [`crate::json::write_event`] and
//! [`crate::alert::write_alert`], for the collector (agents send what they wrote).
//!
//! `read_event(write_event(e)) == e` for every event the decoders produce, and
//! `read_alert(write_alert(a)) == a` for every alert whose event has no message of its own
//! (an alert's JSON carries the alert's message in `message`, so the causing event's message
//! is not in it) and whose event kind is `event` (the JSON says `alert`).
//!
//! Vocabulary words map back to their enums ([`Action`], [`Dataset`], [`Outcome`] …): an
//! unknown word there is an error. `event.reason` and `logward.auth.method` are short
//! machine words kept as `&'static str`; the ones logward writes are built in, others (a
//! newer agent's) are accepted when they look like such a word, up to a bounded number per
//! process. Unknown fields are ignored; a field of the wrong type is an error that names it
//! (`source.port: invalid type: string "22", expected u16`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::alert::{Alert, Severity};
use crate::event::Event;
use crate::time::Timestamp;
use crate::vocab::{Action, Category, Dataset, Kind, Outcome};

/// Why a JSON text is not an event or alert: the field (dotted path, empty for the document
/// itself) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The field, as a dotted path (`source.port`, `event.category[1]`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ReadError {
    fn new(field: &str, message: impl Into<String>) -> ReadError {
        ReadError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() || self.field == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads one event (one NDJSON line's object, or a whole document) from its JSON text.
pub fn read_event(json: &[u8]) -> Result<Event<'static>, ReadError> {
    let doc = parse(json)?;
    doc.into_event()
}

/// Reads one alert from its JSON text.
pub fn read_alert(json: &[u8]) -> Result<Alert, ReadError> {
    let doc = parse(json)?;
    doc.into_alert()
}

/// [`read_event`] from text (the `event` part of the collector's `{"seq", "event"}` lines).
pub fn event_from_str(json: &str) -> Result<Event<'static>, ReadError> {
    read_event(json.as_bytes())
}

/// [`read_alert`] from text.
pub fn alert_from_str(json: &str) -> Result<Alert, ReadError> {
    read_alert(json.as_bytes())
}

fn parse(json: &[u8]) -> Result<Doc, ReadError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let doc: Doc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // serde_json appends " at line L column C"; the field path says more.
        let mut message = inner.to_string();
        if inner.line() > 0 {
            let suffix = format!(" at line {} column {}", inner.line(), inner.column());
            if let Some(m) = message.strip_suffix(&suffix) {
                message = format!("{m} (column {})", inner.column());
            }
        }
        ReadError::new(&field, message)
    })?;
    de.end()
        .map_err(|e| ReadError::new("", format!("trailing characters: {e}")))?;
    Ok(doc)
}

#[derive(Deserialize, Default)]
struct Doc {
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    message: Option<String>,
    #[serde(default)]
    event: EventObj,
    host: Option<NameObj>,
    agent: Option<AgentObj>,
    process: Option<ProcessObj>,
    source: Option<SourceObj>,
    user: Option<UserObj>,
    group: Option<NameObj>,
    logward: Option<LogwardObj>,
    log: Option<LogObj>,
    systemd: Option<SystemdObj>,
    journald: Option<Pairs>,
    winlog: Option<WinlogObj>,
    client: Option<EndpointObj>,
    server: Option<EndpointObj>,
    network: Option<NetworkObj>,
    dns: Option<DnsObj>,
    rule: Option<RuleObj>,
    tags: Option<Vec<String>>,
    labels: Option<Pairs>,
}

#[derive(Deserialize, Default)]
struct EventObj {
    kind: Option<String>,
    category: Option<Vec<String>>,
    action: Option<String>,
    outcome: Option<String>,
    reason: Option<String>,
    dataset: Option<String>,
    original: Option<String>,
    severity: Option<u8>,
}

#[derive(Deserialize)]
struct NameObj {
    name: Option<String>,
}

#[derive(Deserialize)]
struct AgentObj {
    id: Option<String>,
}

#[derive(Deserialize)]
struct ProcessObj {
    name: Option<String>,
    pid: Option<u32>,
    command_line: Option<String>,
}

#[derive(Deserialize)]
struct SourceObj {
    address: Option<String>,
    ip: Option<String>,
    port: Option<u16>,
    geo: Option<GeoObj>,
    #[serde(rename = "as")]
    asn: Option<AsObj>,
}

#[derive(Deserialize)]
struct GeoObj {
    country_iso_code: Option<String>,
    country_name: Option<String>,
    city_name: Option<String>,
    location: Option<LocationObj>,
    accuracy_radius_km: Option<u32>,
}

#[derive(Deserialize)]
struct LocationObj {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct AsObj {
    number: u32,
    organization: Option<NameObj>,
}

#[derive(Deserialize)]
struct DnsblObj {
    zones: Vec<String>,
}

#[derive(Deserialize)]
struct UserObj {
    name: Option<String>,
    target: Option<NameObj>,
}

#[derive(Deserialize)]
struct LogwardObj {
    auth: Option<AuthObj>,
    repeat: Option<u32>,
    severity: Option<String>,
    score: Option<u8>,
    reasons: Option<Vec<String>>,
    dnsbl: Option<DnsblObj>,
    claimed_host: Option<String>,
    claimed_program: Option<String>,
    windows: Option<WindowsObj>,
    dns: Option<DnsIntelObj>,
}

/// `client`, `server`.
#[derive(Deserialize)]
struct EndpointObj {
    ip: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct NetworkObj {
    transport: Option<String>,
}

/// `dns.*`, as logward and packetbeat write it.
#[derive(Deserialize)]
struct DnsObj {
    id: Option<u16>,
    question: Option<QuestionObj>,
    response_code: Option<String>,
    answers: Option<Vec<AnswerObj>>,
    resolved_ip: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct QuestionObj {
    name: Option<String>,
    #[serde(rename = "type")]
    qtype: Option<String>,
    class: Option<String>,
    registered_domain: Option<String>,
}

#[derive(Deserialize)]
struct AnswerObj {
    name: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
    data: Option<String>,
    ttl: Option<NumOrText>,
}

/// `logward.dns.*`.
#[derive(Deserialize)]
struct DnsIntelObj {
    list: Option<String>,
    list_entry: Option<String>,
    severity: Option<String>,
    verdict: Option<String>,
    score: Option<u8>,
    owner: Option<String>,
    reasons: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct WindowsObj {
    logon_type: Option<String>,
}

/// `winlog.*`. Winlogbeat 7 writes `event_id` as a number, 8 as a string: both are read.
#[derive(Deserialize)]
struct WinlogObj {
    channel: Option<String>,
    event_id: Option<NumOrText>,
    provider_name: Option<String>,
    computer_name: Option<String>,
    record_id: Option<NumOrText>,
    event_data: Option<Pairs>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

impl NumOrText {
    fn get<T: TryFrom<u64>>(self, field: &str) -> Result<T, ReadError> {
        let n = match self {
            NumOrText::Num(n) => Some(n),
            NumOrText::Text(t) => t.parse().ok(),
        };
        n.and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| ReadError::new(field, "not a number in range".to_owned()))
    }
}

#[derive(Deserialize)]
struct AuthObj {
    method: Option<String>,
    key: Option<KeyObj>,
}

#[derive(Deserialize)]
struct KeyObj {
    #[serde(rename = "type")]
    kind: Option<String>,
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct LogObj {
    syslog: Option<SyslogObj>,
    file: Option<FileObj>,
    offset: Option<u64>,
}

#[derive(Deserialize)]
struct SyslogObj {
    severity: Option<CodeObj>,
    facility: Option<CodeObj>,
}

#[derive(Deserialize)]
struct CodeObj {
    code: Option<u8>,
}

#[derive(Deserialize)]
struct FileObj {
    path: Option<String>,
    line: Option<u64>,
}

#[derive(Deserialize)]
struct SystemdObj {
    unit: Option<String>,
}

#[derive(Deserialize)]
struct RuleObj {
    id: Option<String>,
    name: Option<String>,
}

/// An object of string values, in document order (`journald.*`, `labels.*`).
struct Pairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn text(s: Option<String>) -> Option<Cow<'static, str>> {
    s.map(Cow::Owned)
}

impl Doc {
    fn into_event(mut self) -> Result<Event<'static>, ReadError> {
        let message = self.message.take();
        let mut e = self.event_part()?;
        e.message = text(message);
        Ok(e)
    }

    fn into_alert(mut self) -> Result<Alert, ReadError> {
        let message = self.message.take().unwrap_or_default();
        let rule = self
            .rule
            .take()
            .ok_or_else(|| ReadError::new("rule", "missing (an alert names its rule)"))?;
        let rule_id = rule
            .id
            .ok_or_else(|| ReadError::new("rule.id", "missing"))?;
        let code = self.event.severity;
        let lw = self.logward.as_mut();
        let word = lw.as_ref().and_then(|l| l.severity.clone());
        let score = lw.as_ref().and_then(|l| l.score);
        let reasons = lw.and_then(|l| l.reasons.take()).unwrap_or_default();
        let severity = match (code, word) {
            (Some(c), _) => Severity::from_code(c)
                .ok_or_else(|| ReadError::new("event.severity", format!("{c} is not 1 to 5")))?,
            (None, Some(w)) => Severity::parse(&w).ok_or_else(|| {
                ReadError::new("logward.severity", format!("unknown severity {w:?}"))
            })?,
            (None, None) => {
                return Err(ReadError::new(
                    "event.severity",
                    "missing (an alert has a severity)",
                ))
            }
        };
        if score.is_some_and(|s| s > 100) {
            return Err(ReadError::new("logward.score", "must be 0 to 100"));
        }
        let tags = self.tags.take().unwrap_or_default();
        let labels = self.labels.take().map(|p| p.0).unwrap_or_default();
        let mut event = self.event_part()?;
        // The JSON's kind is the alert's; the event that caused it was a plain event.
        event.kind = Kind::Event;
        Ok(Alert {
            event,
            rule_id,
            rule_name: rule.name.unwrap_or_default(),
            severity,
            tags,
            message,
            labels,
            score,
            reasons,
        })
    }

    /// Every event field but `message`.
    fn event_part(self) -> Result<Event<'static>, ReadError> {
        let mut e = Event::default();
        if let Some(ts) = self.timestamp {
            e.timestamp = Some(match Timestamp::parse_rfc3339(ts.as_bytes()) {
                Some((t, used)) if used == ts.len() => t,
                _ => {
                    return Err(ReadError::new(
                        "@timestamp",
                        format!("{ts:?} is not an RFC 3339 time with an offset"),
                    ))
                }
            });
        }
        let ev = self.event;
        if let Some(k) = ev.kind {
            e.kind = match k.as_str() {
                "event" => Kind::Event,
                "alert" => Kind::Alert,
                _ => return Err(ReadError::new("event.kind", format!("unknown kind {k:?}"))),
            };
        }
        for (i, name) in ev.category.iter().flatten().enumerate() {
            let c = Category::from_name(name).ok_or_else(|| {
                ReadError::new(
                    &format!("event.category[{i}]"),
                    format!("unknown category {name:?}"),
                )
            })?;
            e.category = e.category.union(c);
        }
        if let Some(a) = ev.action {
            e.action =
                Some(Action::parse(&a).ok_or_else(|| {
                    ReadError::new("event.action", format!("unknown action {a:?}"))
                })?);
        }
        if ev.category.is_none() {
            e.category = e.action().category();
        }
        if let Some(o) = ev.outcome {
            e.outcome = Outcome::ALL
                .into_iter()
                .find(|x| x.as_str() == o)
                .ok_or_else(|| ReadError::new("event.outcome", format!("unknown outcome {o:?}")))?;
        }
        if let Some(r) = ev.reason {
            e.reason = Some(word(&r).map_err(|m| ReadError::new("event.reason", m))?);
        }
        if let Some(d) = ev.dataset {
            e.dataset = Some(Dataset::parse(&d).ok_or_else(|| {
                ReadError::new("event.dataset", format!("unknown dataset {d:?}"))
            })?);
        }
        e.original = text(ev.original);
        if let Some(h) = self.host {
            e.host_name = text(h.name);
        }
        if let Some(a) = self.agent {
            e.agent_id = text(a.id);
        }
        if let Some(p) = self.process {
            e.process_name = text(p.name);
            e.process_pid = p.pid;
            e.command_line = text(p.command_line);
        }
        if let Some(s) = self.source {
            e.source_address = text(s.address);
            if let Some(ip) = s.ip {
                e.source_ip = Some(ip.parse::<IpAddr>().map_err(|_| {
                    ReadError::new("source.ip", format!("{ip:?} is not an IP address"))
                })?);
            }
            e.source_port = s.port;
            if s.geo.is_some() || s.asn.is_some() {
                let x = e.enrichment.get_or_insert_with(Default::default);
                if let Some(g) = s.geo {
                    let location = g.location.map(|l| (l.lat, l.lon));
                    if location.is_some_and(|(a, b)| {
                        !(-90.0..=90.0).contains(&a) || !(-180.0..=180.0).contains(&b)
                    }) {
                        return Err(ReadError::new(
                            "source.geo.location",
                            "latitude or longitude out of range".to_owned(),
                        ));
                    }
                    x.geo = Some(crate::enrich::Geo {
                        country_iso_code: g.country_iso_code,
                        country_name: g.country_name,
                        city_name: g.city_name,
                        location,
                        accuracy_radius_km: g.accuracy_radius_km,
                    });
                }
                if let Some(a) = s.asn {
                    x.asn = Some(crate::enrich::As {
                        number: a.number,
                        organization: a.organization.and_then(|o| o.name),
                    });
                }
            }
        }
        if let Some(u) = self.user {
            e.user_name = text(u.name);
            e.user_target_name = text(u.target.and_then(|t| t.name));
        }
        if let Some(g) = self.group {
            e.group_name = text(g.name);
        }
        if let Some(l) = self.logward {
            if let Some(auth) = l.auth {
                if let Some(m) = auth.method {
                    e.auth_method =
                        Some(word(&m).map_err(|m| ReadError::new("logward.auth.method", m))?);
                }
                if let Some(k) = auth.key {
                    e.auth_key_type = text(k.kind);
                    e.auth_key_fingerprint = text(k.fingerprint);
                }
            }
            e.repeat = l.repeat;
            e.claimed_host = text(l.claimed_host);
            e.claimed_program = text(l.claimed_program);
            if let Some(t) = l.windows.and_then(|w| w.logon_type) {
                let known = crate::winlog::LOGON_TYPES.iter().find(|(_, w)| *w == t);
                let t = match known {
                    Some((_, w)) => w,
                    None => {
                        word(&t).map_err(|m| ReadError::new("logward.windows.logon_type", m))?
                    }
                };
                e.winlog.get_or_insert_with(Default::default).logon_type = Some(t);
            }
            if let Some(d) = l.dnsbl {
                e.enrichment.get_or_insert_with(Default::default).dnsbl = Some(d.zones);
            }
            if let Some(i) = l.dns {
                if i.score.is_some_and(|s| s > 100) {
                    return Err(ReadError::new("logward.dns.score", "must be 0 to 100"));
                }
                e.dns.get_or_insert_with(Default::default).intel =
                    Some(Box::new(crate::dns::DnsIntel {
                        list: i.list,
                        list_entry: i.list_entry,
                        severity: i.severity,
                        verdict: i.verdict,
                        score: i.score,
                        owner: i.owner,
                        reasons: i.reasons.unwrap_or_default(),
                    }));
            }
        }
        if let Some(l) = self.log {
            if let Some(s) = l.syslog {
                e.syslog_severity = s.severity.and_then(|c| c.code);
                e.syslog_facility = s.facility.and_then(|c| c.code);
            }
            if let Some(f) = l.file {
                e.file_path = text(f.path);
                e.file_line = f.line;
            }
            e.offset = l.offset;
        }
        if let Some(s) = self.systemd {
            e.systemd_unit = text(s.unit);
        }
        if let Some(w) = self.winlog {
            let x = e.winlog.get_or_insert_with(Default::default);
            x.channel = Cow::Owned(w.channel.unwrap_or_default());
            if let Some(id) = w.event_id {
                x.event_id = id.get("winlog.event_id")?;
            }
            x.provider_name = Cow::Owned(w.provider_name.unwrap_or_default());
            x.computer_name = Cow::Owned(w.computer_name.unwrap_or_default());
            x.record_id = w.record_id.map(|r| r.get("winlog.record_id")).transpose()?;
            if let Some(d) = w.event_data {
                x.event_data =
                    d.0.into_iter()
                        .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                        .collect();
            }
        }
        read_dns(&mut e, self.client, self.server, self.network, self.dns)?;
        if let Some(j) = self.journald {
            e.journald =
                j.0.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                    .collect();
        }
        Ok(e)
    }
}

fn ip_field(field: &str, ip: &str) -> Result<IpAddr, ReadError> {
    ip.parse::<IpAddr>()
        .map_err(|_| ReadError::new(field, format!("{ip:?} is not an IP address")))
}

/// `client.*`, `server.*`, `network.transport` and `dns.*` of a DNS query. `client` is the
/// event's source: it fills `source.*` when the document has no `source` of its own.
fn read_dns(
    e: &mut Event<'static>,
    client: Option<EndpointObj>,
    server: Option<EndpointObj>,
    network: Option<NetworkObj>,
    dns: Option<DnsObj>,
) -> Result<(), ReadError> {
    let Some(d) = dns else {
        return Ok(());
    };
    if let Some(c) = client {
        if e.source_ip.is_none() {
            if let Some(ip) = c.ip {
                let parsed = ip_field("client.ip", &ip)?;
                e.source_ip = Some(parsed);
                e.source_address.get_or_insert(Cow::Owned(ip));
            }
        }
        if e.source_port.is_none() {
            e.source_port = c.port;
        }
    }
    let x = e.dns.get_or_insert_with(Default::default);
    x.id = d.id;
    if let Some(q) = d.question {
        let name = q.name.unwrap_or_default();
        let name = name.strip_suffix('.').unwrap_or(&name).to_ascii_lowercase();
        x.question_name = Cow::Owned(name);
        x.question_type = text(q.qtype);
        x.question_class = text(q.class);
        x.registered_domain = text(q.registered_domain);
    }
    x.response_code = text(d.response_code);
    for (i, a) in d.answers.into_iter().flatten().enumerate() {
        let ttl = a
            .ttl
            .map(|t| t.get(&format!("dns.answers[{i}].ttl")))
            .transpose()?;
        x.answers.push(crate::dns::DnsAnswer {
            name: Cow::Owned(a.name.unwrap_or_default()),
            rtype: Cow::Owned(a.rtype.unwrap_or_default()),
            data: Cow::Owned(a.data.unwrap_or_default()),
            ttl,
        });
    }
    for (i, ip) in d.resolved_ip.into_iter().flatten().enumerate() {
        x.resolved_ip
            .push(ip_field(&format!("dns.resolved_ip[{i}]"), &ip)?);
    }
    if let Some(s) = server {
        x.server_ip = s.ip.map(|ip| ip_field("server.ip", &ip)).transpose()?;
        x.server_port = s.port;
    }
    x.transport = match network.and_then(|n| n.transport).as_deref() {
        Some("udp") => Some("udp"),
        Some("tcp") => Some("tcp"),
        _ => None,
    };
    Ok(())
}

/// The machine words logward itself writes in `event.reason` and `logward.auth.method`.
const KNOWN_WORDS: &[&str] = &[
    // the DNS check's findings, strongest first
    "listed",
    "api-malicious",
    "tunnel",
    "dga",
    "new-domain",
    // logward.auth.method
    "password",
    "publickey",
    "keyboard-interactive",
    "hostbased",
    "gssapi",
    "none",
    // event.reason
    "account-expired",
    "acl-drop",
    "auth-failed",
    "auth-not-advertised",
    "auth-timeout",
    "bad-2fa",
    "bad-bot",
    "bad-certificate",
    "bad-command",
    "bad-hmac",
    "bad-key",
    "bad-mechanism",
    "bad-method",
    "bad-packet",
    "bad-password",
    "bad-protocol",
    "bad-request",
    "bad-tls",
    "bad-token",
    "banned",
    "blocklisted",
    "challenge",
    "client-rejected",
    "client-timeout",
    "clock-skew",
    "command-limit",
    "computer-account",
    "connection-error",
    "crash",
    "disabled",
    "disconnect-error",
    "empty-password",
    "enabled",
    "expn-vrfy",
    "failed-login",
    "forbidden",
    "hacking-attempt",
    "hangup",
    "helo-rejected",
    "honeypot",
    "host-not-allowed",
    "inactive",
    "invalid-user",
    "locked-out",
    "login-failed",
    "lost-connection",
    "max-attempts",
    "max-startups",
    "message-rejected",
    "negotiation-failed",
    "no-auth-attempt",
    "no-identification",
    "no-mail",
    "no-password",
    "no-recipients",
    "no-tty",
    "not-allowed",
    "not-in-sudoers",
    "outside-hours",
    "overflow",
    "pam-error",
    "pam-failure",
    "pam-summary",
    "password-expired",
    "password-must-change",
    "password-rejected",
    "password-required",
    "password-reset",
    "penalty",
    "penalty-auth-failed",
    "penalty-crash",
    "penalty-grace-exceeded",
    "penalty-invalid-user",
    "penalty-no-auth",
    "penalty-refused",
    "penalty-table-full",
    "pipelining",
    "plaintext-refused",
    "port-scan",
    "preauth-disconnect",
    "pregreet",
    "proxy-denied",
    "query-denied",
    "rate-limit",
    "rbl-listed",
    "recipient-rejected",
    "reconnected",
    "refused",
    "relay-denied",
    "renamed",
    "reverse-dns-missing",
    "reverse-mapping",
    "root-refused",
    "scan",
    "sender-rejected",
    "session-failed",
    "shellshock",
    "smtp-rejected",
    "spam",
    "tls-handshake-failed",
    "token-error",
    "too-many-errors",
    "too-many-failures",
    "too-soon",
    "transfer-denied",
    "unknown-extension",
    "unknown-recipient",
    "unknown-sip-connection",
    "unlocked",
    "update-denied",
    "user-change",
    "waf-block",
    "web-scan",
];

/// Whether logward itself writes `w` as an `event.reason` or `logward.auth.method` (a
/// decoder's new word belongs in [`KNOWN_WORDS`] and in docs/EVENTS.md: the corpus test
/// `reasons_are_known_and_documented` checks both).
pub fn is_known_word(w: &str) -> bool {
    KNOWN_WORDS.contains(&w)
}

/// How many words not in [`KNOWN_WORDS`] one process accepts (each is kept for good).
const MAX_EXTRA_WORDS: usize = 256;
/// The longest such word.
const MAX_WORD_LEN: usize = 48;

/// The `&'static str` for a machine word: a built-in one, or a new word (lower-case ASCII
/// letters, digits, `-`, `_` and `.`) interned for the life of the process, up to
/// [`MAX_EXTRA_WORDS`] of them so that a sender cannot grow memory without bound.
fn word(w: &str) -> Result<&'static str, String> {
    if let Some(k) = KNOWN_WORDS.iter().find(|k| **k == w) {
        return Ok(k);
    }
    let shape = !w.is_empty()
        && w.len() <= MAX_WORD_LEN
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !shape {
        return Err(format!(
            "{w:?} is not a short machine word (a-z, 0-9, '-', '_', '.', at most {MAX_WORD_LEN})"
        ));
    }
    static EXTRA: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = EXTRA
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(k) = set.get(w) {
        return Ok(k);
    }
    if set.len() >= MAX_EXTRA_WORDS {
        return Err(format!(
            "{w:?} is not a word logward knows, and too many new words were seen already"
        ));
    }
    let k: &'static str = Box::leak(w.to_owned().into_boxed_str());
    set.insert(k);
    Ok(k)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::json::write_event;
    use crate::write_alert;

    fn full_event() -> Event<'static> {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Success);
        e.timestamp = Timestamp::parse_rfc3339(b"2026-11-22T10:00:01.123456+01:00").map(|t| t.0);
        e.reason = Some("bad-key");
        e.original = Some("orig \"line\"\n".into());
        e.message = Some("Accepted publickey for root".into());
        e.host_name = Some("web01".into());
        e.process_name = Some("sshd".into());
        e.process_pid = Some(42);
        e.command_line = Some("/bin/ls -l".into());
        e.set_source("2001:db8::1".into(), Some(2222));
        e.user_name = Some("root".into());
        e.user_target_name = Some("bob".into());
        e.group_name = Some("wheel".into());
        e.auth_method = Some("publickey");
        e.auth_key_type = Some("ED25519".into());
        e.auth_key_fingerprint = Some("SHA256:abc".into());
        e.syslog_severity = Some(6);
        e.syslog_facility = Some(10);
        e.systemd_unit = Some("ssh.service".into());
        e.journald = vec![("zz".into(), "1".into()), ("aa".into(), "\u{1}".into())];
        e.repeat = Some(3);
        e.file_path = Some("/var/log/auth.log".into());
        e.file_line = Some(7);
        e.offset = Some(1234);
        e.winlog = Some(Box::new(crate::Winlog {
            channel: "Security".into(),
            event_id: 4625,
            provider_name: "Microsoft-Windows-Security-Auditing".into(),
            computer_name: "DC01".into(),
            record_id: Some(77),
            logon_type: Some("remote-interactive"),
            event_data: vec![("LogonType".into(), "10".into()), ("A".into(), "\"".into())],
        }));
        e
    }

    #[test]
    fn winlogbeat_7_numbers_read_like_8_strings() {
        let e = read_event(br#"{"winlog":{"event_id":4624,"record_id":"9","channel":"Security"}}"#)
            .unwrap();
        let w = e.winlog.unwrap();
        assert_eq!((w.event_id, w.record_id), (4624, Some(9)));
        assert!(read_event(br#"{"winlog":{"event_id":"x"}}"#)
            .unwrap_err()
            .to_string()
            .starts_with("winlog.event_id"));
    }

    #[test]
    fn every_event_field_reads_back() {
        let e = full_event();
        let mut out = Vec::new();
        write_event(&mut out, &e);
        assert_eq!(read_event(&out).unwrap(), e);
    }

    fn dns_event() -> Event<'static> {
        let mut e = Event::new(
            crate::Dataset::DnsCapture,
            crate::Action::DnsQuery,
            crate::Outcome::Unknown,
        );
        e.reason = Some("listed");
        e.set_source("192.0.2.7".into(), Some(53124));
        e.dns = Some(Box::new(crate::Dns {
            id: Some(4660),
            question_name: "a.evil.example".into(),
            question_type: Some("A".into()),
            question_class: Some("IN".into()),
            registered_domain: Some("evil.example".into()),
            response_code: Some("NOERROR".into()),
            answers: vec![crate::DnsAnswer {
                name: "a.evil.example".into(),
                rtype: "A".into(),
                data: "198.51.100.9".into(),
                ttl: Some(300),
            }],
            resolved_ip: vec!["198.51.100.9".parse().unwrap()],
            server_ip: Some("127.0.0.53".parse().unwrap()),
            server_port: Some(53),
            transport: Some("udp"),
            intel: Some(Box::new(crate::DnsIntel {
                list: Some("badd-boyz".into()),
                list_entry: Some("evil.example".into()),
                severity: Some("high".into()),
                verdict: None,
                score: Some(12),
                owner: Some("ops".into()),
                reasons: vec!["listed by badd-boyz as evil.example".into()],
            })),
        }));
        e
    }

    #[test]
    fn a_dns_query_reads_back() {
        let e = dns_event();
        let mut out = Vec::new();
        write_event(&mut out, &e);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains(r#""client":{"ip":"192.0.2.7","port":53124}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""logward":{"dns":{"list":"badd-boyz""#),
            "{text}"
        );
        assert_eq!(read_event(&out).unwrap(), e);
    }

    #[test]
    fn a_packetbeat_dns_document_reads_as_a_query() {
        let e = read_event(
            br#"{"type":"dns","client":{"ip":"10.0.0.5","port":40000},"server":{"ip":"10.0.0.1","port":53},"network":{"transport":"udp"},"dns":{"id":9,"type":"answer","op_code":"QUERY","flags":{"recursion_desired":true},"question":{"name":"WWW.Example.COM.","type":"A","class":"IN","etld_plus_one":"example.com"},"response_code":"NOERROR","answers_count":1,"answers":[{"name":"www.example.com","type":"A","class":"IN","ttl":"60","data":"93.184.216.34"}],"resolved_ip":["93.184.216.34"]}}"#,
        )
        .unwrap();
        assert_eq!(e.source_ip, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(e.source_port, Some(40000));
        let d = e.dns.unwrap();
        assert_eq!(d.question_name, "www.example.com");
        assert_eq!(d.answers[0].ttl, Some(60));
        assert_eq!(d.server_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(d.transport, Some("udp"));
        let err = |s: &str| read_event(s.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"dns":{"resolved_ip":["x"]}}"#).starts_with("dns.resolved_ip[0]: "));
        assert!(err(r#"{"dns":{},"client":{"ip":"1.2"}}"#).starts_with("client.ip: "));
        assert!(err(r#"{"logward":{"dns":{"score":101}}}"#).starts_with("logward.dns.score"));
    }

    #[test]
    fn an_alert_reads_back() {
        let mut e = full_event();
        e.message = None;
        let mut a = Alert::new(e, "r1", "Rule one", Severity::Critical, "msg");
        a.tags = vec!["t1".into(), "t2".into()];
        a.labels = vec![("z".into(), "1".into()), ("a".into(), "2".into())];
        a.score = Some(70);
        a.reasons = vec!["why".into()];
        let mut out = Vec::new();
        write_alert(&mut out, &a);
        assert_eq!(read_alert(&out).unwrap(), a);
    }

    #[test]
    fn wrong_types_and_words_are_named() {
        let err = |s: &str| read_event(s.as_bytes()).unwrap_err().to_string();
        assert!(
            err(r#"{"source":{"port":"22"}}"#).starts_with("source.port: invalid type"),
            "{}",
            err(r#"{"source":{"port":"22"}}"#)
        );
        assert_eq!(
            err(r#"{"event":{"action":"login"}}"#),
            r#"event.action: unknown action "login""#
        );
        assert_eq!(
            err(r#"{"event":{"category":["iam","x"]}}"#),
            r#"event.category[1]: unknown category "x""#
        );
        assert!(err(r#"{"@timestamp":"2026-01-01T00:00:00"}"#).starts_with("@timestamp: "));
        assert!(err(r#"{"source":{"ip":"1.2.3"}}"#).starts_with("source.ip: "));
        assert!(err(r#"{"event":{"reason":"Has Spaces"}}"#).starts_with("event.reason: "));
        assert!(err(r#"{"journald":{"a":1}}"#).starts_with("journald.a: invalid type"));
        assert!(err(r#"{} x"#).starts_with("trailing characters"));
        assert!(err(r#"[1]"#).contains("invalid type"));
        assert!(read_alert(br#"{"event":{"severity":3}}"#)
            .unwrap_err()
            .to_string()
            .starts_with("rule: missing"));
        assert!(
            read_alert(br#"{"event":{"severity":9},"rule":{"id":"x"}}"#)
                .unwrap_err()
                .field
                == "event.severity"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_new_words_kept() {
        let e = read_event(
            br#"{"future":{"x":[1,2]},"event":{"reason":"brand-new","extra":1,"action":"user-login"}}"#,
        )
        .unwrap();
        assert_eq!(e.reason, Some("brand-new"));
        assert_eq!(e.category, Category::AUTHENTICATION);
        let again = read_event(br#"{"event":{"reason":"brand-new"}}"#).unwrap();
        assert!(std::ptr::eq(e.reason.unwrap(), again.reason.unwrap()));
    }
}
