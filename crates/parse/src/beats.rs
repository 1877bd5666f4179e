//! Beats documents → ECS events, by their module fields: the one routing the agent's `beats`
//! source and the collector's Beats input share (the protocol itself is `logward-beats`).
//!
//! - Winlogbeat / Elastic Agent Windows documents (a `winlog` object) → a
//!   [`WinRecord`](crate::windows::WinRecord) → [`windows::decode`](crate::windows::decode);
//! - Filebeat documents carrying a log line — the `system` module's `auth` fileset, or any
//!   document with a `message` and a `log.file.path` — → the auth-log decoders
//!   ([`LineDecoder`]) on `message`, with the document's `host.name` and `@timestamp` when
//!   the line has none;
//! - Packetbeat / Elastic Agent `network_traffic` DNS documents (`type: dns` and a
//!   `dns.question.name`) → a `dns-query` event ([`dns::packetbeat`](crate::dns::packetbeat),
//!   the reader of packetbeat's `output.file` lines too);
//! - everything else (other Packetbeat protocols, Metricbeat, Heartbeat …) → an `unknown`
//!   event with the message, the host and the whole document as `event.original`, for rules.
//!
//! Who sent an event is never taken from the document: [`Decoder::decode`] is given the
//! sender the receiver authenticated (a client certificate's CN, else its address), which
//! becomes `host.name`; a different `host.name` the document claimed is kept as
//! `logward.claimed_host` (the rule the collector applies to agents, docs/EVENTS.md).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::clock::{YearResolver, YearRule, Zone};
use crate::windows;
use crate::windows::winlogbeat::Json;
use crate::LineDecoder;
use logward_core::{Action, Clock, Event, SystemClock, Timestamp};
use serde_json::{Map, Value};

/// Documents larger than this are refused (a Beats window's frames are bounded by the
/// protocol crate already; this is the decoder's own bound).
pub const MAX_DOC: usize = 1 << 20;

/// Line decoders kept per (sender, host, file) for the sshd session correlator and the
/// year roll-over; past this many streams the map starts again empty (bounded memory
/// whatever the senders claim).
pub const MAX_STREAMS: usize = 4096;

/// What a document is, by its module fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A Windows event (Winlogbeat, Elastic Agent's windows/system integrations).
    Windows,
    /// A log line (Filebeat's `system`/`auth` fileset, or any Filebeat log document).
    Line,
    /// A DNS query (Packetbeat's `dns` documents).
    Dns,
    /// Anything else, kept as-is.
    Other,
}

impl Route {
    /// The label of the metrics and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Windows => "windows",
            Route::Line => "line",
            Route::Dns => "dns",
            Route::Other => "other",
        }
    }
}

/// Why a document made no event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocError {
    TooLarge(usize),
    NotObject(String),
}

impl std::fmt::Display for DocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocError::TooLarge(n) => {
                write!(f, "the document is {n} bytes, over the limit of {MAX_DOC}")
            }
            DocError::NotObject(what) => write!(f, "the document is not a JSON object: {what}"),
        }
    }
}

impl std::error::Error for DocError {}

/// One document, decoded.
#[derive(Debug)]
pub struct Decoded {
    pub event: Event<'static>,
    pub route: Route,
    /// What identifies the event among its sender's, when the document says
    /// (`None`: only the whole document does): see [`identity`].
    pub identity: Option<Identity>,
}

/// Where an event sits among its sender's: a stream (a Windows channel of one computer, a
/// file of one host) and the event's position in it (the record id, the line's offset).
/// Positions grow along a stream, so keys made of the two (`logward_collector::beats::key`)
/// arrive in order — the store's unique index on them is appended to, not written all over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub stream: String,
    pub position: u64,
}

/// The field at a dotted path of a parsed `serde_json` map: nested objects
/// (`{"log":{"file":{"path":…}}}`, how Beats write them) or one dotted key
/// (`{"log.file.path":…}`, after some processors). The DNS readers' (Packetbeat, Zeek JSON);
/// the routing here reads [`Json`] with [`Json::get`], which finds the same and mixes.
pub fn field<'v>(doc: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match doc.get(head)? {
        Value::Object(m) => field(m, rest),
        _ => None,
    }
}

/// A string field (not a number).
fn text<'d>(doc: &'d Json<'_>, path: &str) -> Option<&'d str> {
    match doc.get(path)? {
        Json::Str(s) => Some(s),
        _ => None,
    }
}

/// A number written as a JSON number or a string (Winlogbeat 7 and 8 differ).
fn number(doc: &Json<'_>, path: &str) -> Option<u64> {
    match doc.get(path)? {
        Json::Num(s) | Json::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn time(doc: &Json<'_>) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text(doc, "@timestamp")?.as_bytes()).map(|(t, _)| t)
}

/// A top-level key's value (no dotted path).
fn top<'d, 'a>(doc: &'d Json<'a>, key: &str) -> Option<&'d Json<'a>> {
    match doc {
        Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// A Packetbeat `dns` document as the map its reader takes: parsed again from `raw` only
/// for a document with a DNS question (what `packetbeat::is_dns` requires first, and
/// [`Json::get`] finds wherever `field` does).
fn dns_doc(doc: &Json<'_>, raw: &str) -> Option<Map<String, Value>> {
    text(doc, "dns.question.name")?;
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) if crate::dns::packetbeat::is_dns(&m) => Some(m),
        _ => None,
    }
}

/// Which way a document goes (`raw`, its text), with a DNS document's map.
pub fn route(doc: &Json<'_>, raw: &str) -> (Route, Option<Map<String, Value>>) {
    if matches!(top(doc, "winlog"), Some(Json::Obj(_))) {
        return (Route::Windows, None);
    }
    if let Some(dns) = dns_doc(doc, raw) {
        return (Route::Dns, Some(dns));
    }
    let message = text(doc, "message").is_some();
    let auth =
        text(doc, "event.module") == Some("system") && text(doc, "fileset.name") == Some("auth");
    if message && (auth || text(doc, "log.file.path").is_some()) {
        return (Route::Line, None);
    }
    (Route::Other, None)
}

/// What identifies a document's event among one sender's, when its fields say: a Windows
/// record by computer, channel and record id; a Filebeat line by host, file and offset.
/// The collector stores an event once per (sender, identity) — or per (sender, document
/// hash) when this is `None` — so a window the Beat resends is not stored twice.
pub fn identity(doc: &Json<'_>, route: Route) -> Option<Identity> {
    match route {
        Route::Windows => {
            let position = number(doc, "winlog.record_id")?;
            let computer = text(doc, "winlog.computer_name")?;
            let channel = text(doc, "winlog.channel")?;
            Some(Identity {
                stream: format!("winlog\0{computer}\0{channel}"),
                position,
            })
        }
        Route::Line => {
            let position = number(doc, "log.offset")?;
            let path = text(doc, "log.file.path")?;
            let host = text(doc, "host.name").unwrap_or("");
            Some(Identity {
                stream: format!("file\0{host}\0{path}"),
                position,
            })
        }
        Route::Dns | Route::Other => None,
    }
}

/// A Winlogbeat / Elastic Agent document's Windows event, read by the one Winlogbeat reader
/// (`windows::winlogbeat`, also a Winlogbeat `output.file`'s); `None` when it has no event id.
/// The values keep the document's order (the tree is a list of pairs, whatever serde_json's
/// `preserve_order`).
fn windows_event(doc: &Json<'_>, raw: &str) -> Option<Event<'static>> {
    let rec = windows::winlogbeat::record(doc)?;
    let mut e = windows::decode(&rec).into_owned();
    // Set after `into_owned`: the document is copied once, not twice.
    e.original = Some(Cow::Owned(raw.to_owned()));
    Some(e)
}

/// Decodes documents; holds the line decoders of the Filebeat streams.
#[derive(Debug, Default)]
pub struct Decoder {
    streams: HashMap<String, LineDecoder>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes one document `raw` (its JSON text) sent by `sender` (the identity the receiver
    /// authenticated). Always an event for a JSON object; an error for anything else.
    pub fn decode(&mut self, sender: &str, raw: &str) -> Result<Decoded, DocError> {
        if raw.len() > MAX_DOC {
            return Err(DocError::TooLarge(raw.len()));
        }
        // One pass into a borrowed tree: no `serde_json::Value` (its maps are IndexMaps in
        // this build) and no copy of a string the event does not keep.
        let doc = match serde_json::from_str::<Json<'_>>(raw) {
            Ok(d @ Json::Obj(_)) => d,
            Ok(other) => return Err(DocError::NotObject(kind_of(&other).to_owned())),
            Err(e) => return Err(DocError::NotObject(e.to_string())),
        };
        let (route, dns) = route(&doc, raw);
        let mut event = match route {
            Route::Windows => windows_event(&doc, raw).unwrap_or_else(|| other(&doc, raw)),
            Route::Line => self.line(sender, &doc),
            Route::Dns => match dns.as_ref().map(crate::dns::packetbeat::event) {
                Some(Ok(mut e)) => {
                    e.original = Some(Cow::Owned(raw.to_owned()));
                    e
                }
                // A field of the wrong type: kept as it is, for rules.
                _ => other(&doc, raw),
            },
            Route::Other => other(&doc, raw),
        };
        speaks_for(&mut event, sender);
        Ok(Decoded {
            event,
            route,
            identity: identity(&doc, route),
        })
    }

    /// A Filebeat log line through the line decoders of its stream.
    fn line(&mut self, sender: &str, doc: &Json<'_>) -> Event<'static> {
        let message = text(doc, "message").unwrap_or_default();
        let host = text(doc, "host.name");
        let path = text(doc, "log.file.path");
        let at = time(doc);
        // The line cannot be later than the Beat read it: its year is the one before when
        // its month is after the read time's. Its zone is the one the Beat says it is in
        // (Filebeat's `add_locale`), else the receiver's.
        let zone = text(doc, "event.timezone")
            .and_then(offset)
            .map_or(Zone::Local, Zone::Fixed);
        let years = YearResolver::new(
            YearRule::Reference(at.unwrap_or_else(|| SystemClock.now())),
            zone,
        );
        let key = format!(
            "{sender}\0{}\0{}",
            host.unwrap_or_default(),
            path.unwrap_or_default()
        );
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            self.streams.clear();
        }
        let dec = self
            .streams
            .entry(key)
            .or_insert_with(|| LineDecoder::new(years.clone()));
        dec.set_years(years);
        let mut e = dec.decode(message).into_owned();
        // Audit execs joined without a line of their own are not carried over documents.
        while dec.take_joined().is_some() {}
        e.timestamp = e.timestamp.or(at);
        if e.host_name.is_none() {
            e.host_name = host.map(|h| Cow::Owned(h.to_owned()));
        }
        e.file_path = path.map(|p| Cow::Owned(p.to_owned()));
        e.offset = number(doc, "log.offset");
        e.original = Some(Cow::Owned(message.to_owned()));
        e
    }
}

/// A document kept as-is: `unknown`, its message, host and time, the whole document as
/// `event.original`.
fn other(doc: &Json<'_>, raw: &str) -> Event<'static> {
    let own = |p: &str| text(doc, p).map(|s| Cow::Owned(s.to_owned()));
    Event {
        timestamp: time(doc),
        action: Some(Action::Unknown),
        message: own("message"),
        host_name: own("host.name"),
        original: Some(Cow::Owned(raw.to_owned())),
        ..Event::default()
    }
}

/// The sender's identity is the event's host; a different host the event named is kept as
/// `logward.claimed_host`, never used by rules.
pub fn speaks_for(e: &mut Event<'_>, sender: &str) {
    e.claimed_host = match e.host_name.take() {
        Some(claimed) if claimed != sender => Some(Cow::Owned(claimed.into_owned())),
        _ => None,
    };
    e.host_name = Some(Cow::Owned(sender.to_owned()));
}

/// `+02:00`, `-0500`, `Z`/`UTC` → seconds east of UTC.
fn offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s == "Z" || s.eq_ignore_ascii_case("UTC") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

fn kind_of(v: &Json<'_>) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Num(_) => "a number",
        Json::Str(_) => "a string",
        Json::Arr(_) => "an array",
        Json::Obj(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_core::{Dataset, Outcome};

    const AUTH: &str = r#"{"@timestamp":"2024-02-20T08:35:30.123Z","message":"Feb 20 08:35:22 slave22 sshd[5774]: Failed password for root from 216.160.83.57 port 29160 ssh2","log":{"file":{"path":"/var/log/auth.log"},"offset":4411},"event":{"module":"system","dataset":"system.auth","timezone":"+00:00"},"fileset":{"name":"auth"},"host":{"name":"slave22"},"agent":{"type":"filebeat"},"input":{"type":"log"}}"#;

    const WINLOG: &str = r#"{"@timestamp":"2024-01-05T10:00:01.5Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"dc01.corp.example"},"winlog":{"channel":"Security","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"DC01.corp.example","record_id":"81234","process":{"pid":612},"event_data":{"TargetUserName":"administrator","LogonType":"3","IpAddress":"203.0.113.7","IpPort":"51514","Status":"0xc000006d","SubStatus":"0xc000006a"}}}"#;

    #[test]
    fn a_filebeat_auth_document_is_the_line_read_from_a_file() {
        let mut d = Decoder::new();
        let got = d.decode("web01", AUTH).unwrap();
        assert_eq!(got.route, Route::Line);
        let mut direct = LineDecoder::new(YearResolver::fixed(2024, 0));
        let line = "Feb 20 08:35:22 slave22 sshd[5774]: Failed password for root from 216.160.83.57 port 29160 ssh2";
        let mut want = direct.decode(line).into_owned();
        let e = got.event;
        assert_eq!(e.action, want.action);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.dataset, Some(Dataset::Sshd));
        assert_eq!(e.source_ip, want.source_ip);
        assert_eq!(e.user_name.as_deref(), Some("root"));
        assert_eq!(e.timestamp, want.timestamp);
        // The sender is the host; what the line said is kept as the claim.
        assert_eq!(e.host_name.as_deref(), Some("web01"));
        assert_eq!(e.claimed_host.as_deref(), Some("slave22"));
        assert_eq!(e.file_path.as_deref(), Some("/var/log/auth.log"));
        assert_eq!(e.offset, Some(4411));
        // Field by field, once the receiver's additions are set alike.
        want.host_name = e.host_name.clone();
        want.claimed_host = e.claimed_host.clone();
        want.file_path = e.file_path.clone();
        want.offset = e.offset;
        want.original = e.original.clone();
        assert_eq!(e, want);
        assert_eq!(
            got.identity,
            Some(Identity {
                stream: "file\0slave22\0/var/log/auth.log".into(),
                position: 4411
            })
        );
    }

    #[test]
    fn a_line_without_a_time_takes_the_documents() {
        let doc = r#"{"@timestamp":"2024-03-01T12:00:00Z","message":"sshd[1]: Invalid user eve from 198.51.100.4 port 22","log":{"file":{"path":"/var/log/secure"}},"host":{"name":"h"}}"#;
        let e = Decoder::new().decode("h", doc).unwrap().event;
        assert_eq!(e.timestamp.map(|t| t.unix), Some(1_709_294_400));
        assert_eq!(e.host_name.as_deref(), Some("h"));
        assert_eq!(e.claimed_host, None);
    }

    #[test]
    fn a_winlogbeat_document_is_a_windows_event() {
        let got = Decoder::new().decode("dc01", WINLOG).unwrap();
        assert_eq!(got.route, Route::Windows);
        let e = got.event;
        assert_eq!(e.action, Some(Action::UserLogin));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.source_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(e.host_name.as_deref(), Some("dc01"));
        assert_eq!(e.claimed_host.as_deref(), Some("DC01.corp.example"));
        let w = e.winlog.as_ref().unwrap();
        assert_eq!((w.event_id, w.record_id), (4625, Some(81234)));
        assert_eq!(
            got.identity,
            Some(Identity {
                stream: "winlog\0DC01.corp.example\0Security".into(),
                position: 81234
            })
        );
    }

    #[test]
    fn a_winlogbeat_document_is_the_line_of_an_output_file() {
        // One Winlogbeat reader: the Beats input and a Winlogbeat `output.file` line agree.
        let mut e = Decoder::new().decode("dc01", WINLOG).unwrap().event;
        let mut d = LineDecoder::new(YearResolver::fixed(2024, 0));
        let mut want = Event::default();
        assert!(d.decode_into(WINLOG, &mut want));
        assert_eq!(want.host_name.as_deref(), Some("DC01.corp.example"));
        e.host_name = want.host_name.clone();
        e.claimed_host = None;
        assert_eq!(e, want.into_owned());
        // A `winlog` object without an event id is no Windows event: kept as it is.
        let doc = r#"{"message":"m","winlog":{"channel":"Security"}}"#;
        let got = Decoder::new().decode("dc01", doc).unwrap();
        assert_eq!(got.event.action, Some(Action::Unknown));
        assert_eq!(got.event.original.as_deref(), Some(doc));
    }

    #[test]
    fn a_packetbeat_dns_document_is_the_line_of_an_output_file() {
        let doc = r#"{"@timestamp":"2026-12-07T01:20:00.123Z","type":"dns","host":{"name":"ns1"},"agent":{"type":"packetbeat"},"event":{"dataset":"dns","category":["network"]},"client":{"ip":"10.1.2.3","port":53000},"server":{"ip":"10.1.2.1","port":53},"network":{"transport":"udp"},"dns":{"id":7,"response_code":"NXDOMAIN","question":{"name":"x.evil.example","type":"A","class":"IN"}}}"#;
        let got = Decoder::new().decode("10.1.2.1", doc).unwrap();
        assert_eq!(got.route, Route::Dns);
        let e = got.event;
        assert_eq!(e.action, Some(Action::DnsQuery));
        assert_eq!(e.dataset, Some(Dataset::DnsPacketbeat));
        assert_eq!(e.source_ip, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(e.host_name.as_deref(), Some("10.1.2.1"));
        assert_eq!(e.claimed_host.as_deref(), Some("ns1"));
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let mut want = Event::default();
        assert!(d.decode_into(doc, &mut want));
        let mut want = want.into_owned();
        want.host_name = e.host_name.clone();
        want.claimed_host = e.claimed_host.clone();
        want.original = e.original.clone();
        assert_eq!(e, want);
    }

    #[test]
    fn other_documents_are_kept_for_rules() {
        let doc = r#"{"@timestamp":"2024-03-01T12:00:00Z","type":"dns","message":"query example.com","host":{"name":"ns1"},"agent":{"type":"packetbeat"}}"#;
        let got = Decoder::new().decode("192.0.2.9", doc).unwrap();
        assert_eq!(got.route, Route::Other);
        assert_eq!(got.identity, None);
        let e = got.event;
        assert_eq!(e.action, Some(Action::Unknown));
        assert_eq!(e.message.as_deref(), Some("query example.com"));
        assert_eq!(e.original.as_deref(), Some(doc));
        assert_eq!(e.host_name.as_deref(), Some("192.0.2.9"));
        assert_eq!(e.claimed_host.as_deref(), Some("ns1"));
    }

    #[test]
    fn dotted_keys_and_bad_documents() {
        let doc = r#"{"message":"Feb 20 08:35:22 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2","log.file.path":"/var/log/auth.log","log.offset":7}"#;
        let got = Decoder::new().decode("h", doc).unwrap();
        assert_eq!(got.route, Route::Line);
        assert_eq!(got.event.offset, Some(7));
        let mut d = Decoder::new();
        assert!(matches!(d.decode("h", "[1]"), Err(DocError::NotObject(_))));
        assert!(matches!(d.decode("h", "{"), Err(DocError::NotObject(_))));
        let big = format!("{{\"message\":\"{}\"}}", "x".repeat(MAX_DOC));
        assert!(matches!(d.decode("h", &big), Err(DocError::TooLarge(_))));
    }

    #[test]
    fn zone_offsets() {
        assert_eq!(offset("+02:00"), Some(7200));
        assert_eq!(offset("-0530"), Some(-19_800));
        assert_eq!(offset("UTC"), Some(0));
        assert_eq!(offset("Europe/Paris"), None);
        assert_eq!(offset("+99:00"), None);
    }
}
