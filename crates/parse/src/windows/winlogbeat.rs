//! Winlogbeat / Elastic Agent JSON documents → [`WinRecord`]: a Winlogbeat `output.file`
//! (one document per line), documents on stdin, and what the Beats input receives.
//!
//! Read: `winlog.event_id` (a number in Winlogbeat 7, a string in 8; `event.code` when it is
//! missing), `winlog.channel`, `winlog.provider_name` (`event.provider`),
//! `winlog.computer_name` (`host.name`), `winlog.record_id` (number or string),
//! `winlog.process.pid`, `@timestamp` (`winlog.time_created`), the audit keyword
//! (`winlog.keywords`' "Audit Failure"/"Audit Success", else `event.outcome`), and
//! `winlog.event_data.*` then `winlog.user_data.*` (its `xml_name`, the element's name,
//! aside) in document order.
//! Objects may be nested or written with dotted keys (`"winlog.event_id": 4625`, as a
//! Filebeat `decode_json_fields` without `expand_keys` leaves them), and the whole document
//! may sit under `json` (Filebeat's `json.*` target).

use std::borrow::Cow;
use std::fmt;

use logward_core::Timestamp;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::record::{AUDIT_FAILURE, AUDIT_SUCCESS};
use super::WinRecord;

/// A JSON value whose objects keep document order, whatever serde_json's features: the
/// EventData pairs are in the order Windows wrote them, as the other readers give them.
/// Its text borrows from the document wherever the document has no escapes: a Beats
/// window's documents are read once, into this tree, and copied only where an event keeps
/// them.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(Cow<'a, str>),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'de> de::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Num(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Num(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Num(Cow::Owned(v.to_string())))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(Key(k)) = map.next_key()? {
            out.push((k, map.next_value()?));
        }
        Ok(Json::Obj(out))
    }
}

/// An object's key, borrowed when it has no escapes (serde's own `Cow` always copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'a> Json<'a> {
    /// The value at a dotted `path`, through nested objects or dotted keys (or a mix).
    pub fn get(&self, path: &str) -> Option<&Json<'a>> {
        let Json::Obj(fields) = self else {
            return None;
        };
        // The longest key first: `"winlog.event_id"` beside a `winlog` object wins.
        if let Some((_, v)) = fields.iter().find(|(k, _)| k == path) {
            return Some(v);
        }
        path.match_indices('.').rev().find_map(|(i, _)| {
            let (head, rest) = (&path[..i], &path[i + 1..]);
            fields
                .iter()
                .filter(|(k, _)| k == head)
                .find_map(|(_, v)| v.get(rest))
        })
    }

    /// A scalar as text (a string as is, a number as written).
    pub fn text(&self) -> Option<&str> {
        match self {
            Json::Str(s) | Json::Num(s) => Some(s),
            Json::Bool(true) => Some("true"),
            Json::Bool(false) => Some("false"),
            _ => None,
        }
    }

    /// Any value as the text Winlogbeat would show: scalars as [`Json::text`], arrays and
    /// objects as compact JSON.
    fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render_quoted(out);
                }
                out.push(']');
            }
            Json::Obj(o) => {
                out.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(k, out);
                    out.push(':');
                    v.render_quoted(out);
                }
                out.push('}');
            }
            v => out.push_str(v.text().unwrap_or_default()),
        }
    }

    fn render_quoted(&self, out: &mut String) {
        match self {
            Json::Str(s) => quote(s, out),
            v => v.render(out),
        }
    }

    /// The pairs of an object (none for anything else).
    fn fields(&self) -> &[(Cow<'a, str>, Json<'a>)] {
        match self {
            Json::Obj(f) => f,
            _ => &[],
        }
    }

    /// The document itself, or the one under `json` (Filebeat's target).
    fn document(&self) -> &Json<'a> {
        match self.get("json") {
            Some(inner) if inner.get("winlog").is_some() && self.get("winlog").is_none() => inner,
            _ => self,
        }
    }
}

/// `s` as a JSON string.
fn quote(s: &str, out: &mut String) {
    // Writing a string cannot fail; the fallback is only the type's.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Whether a line may hold a Winlogbeat document: it names `winlog` as a key (nested or
/// dotted). A byte search, for routing `{` lines before parsing them.
pub fn mentions_winlog(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"\"winlog\"").is_some()
        || memchr::memmem::find(line, b"\"winlog.").is_some()
}

/// Whether `doc` is a Winlogbeat / Elastic Agent Windows event: a `winlog` part and an
/// event id (`winlog.event_id` or `event.code`).
pub fn is_winlogbeat(doc: &Json) -> bool {
    let doc = doc.document();
    doc.get("winlog").is_some() && event_id(doc).is_some()
}

fn event_id(doc: &Json) -> Option<u32> {
    doc.get("winlog.event_id")
        .or_else(|| doc.get("event.code"))
        .and_then(Json::text)
        .and_then(|t| t.trim().parse().ok())
}

/// Why a line is not a Winlogbeat record.
#[derive(Debug)]
pub enum Error {
    /// Not JSON.
    Json(serde_json::Error),
    /// JSON, but no Winlogbeat Windows event (no `winlog` part or no event id).
    NotWinlogbeat,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Json(e) => write!(f, "Winlogbeat document: {e}"),
            Error::NotWinlogbeat => {
                f.write_str("not a Winlogbeat document (no winlog part or no event id)")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Reads one document (a line of a Winlogbeat `output.file`); `original` is the text.
pub fn parse(text: &str) -> Result<WinRecord, Error> {
    let doc: Json = serde_json::from_str(text).map_err(Error::Json)?;
    let mut rec = record(&doc).ok_or(Error::NotWinlogbeat)?;
    rec.original = Some(text.to_owned());
    Ok(rec)
}

/// The record of a document; `None` when it is no Winlogbeat Windows event.
pub fn record(doc: &Json) -> Option<WinRecord> {
    let doc = doc.document();
    doc.get("winlog")?;
    let text = |path: &str| doc.get(path).and_then(Json::text).map(str::to_owned);
    let mut rec = WinRecord {
        event_id: event_id(doc)?,
        provider: text("winlog.provider_name")
            .or_else(|| text("event.provider"))
            .unwrap_or_default(),
        channel: text("winlog.channel").unwrap_or_default(),
        computer: text("winlog.computer_name")
            .or_else(|| text("host.name"))
            .or_else(|| text("host.hostname"))
            .unwrap_or_default(),
        record_id: text("winlog.record_id").and_then(|t| t.trim().parse().ok()),
        time: ["@timestamp", "winlog.time_created"]
            .iter()
            .find_map(|p| doc.get(p).and_then(Json::text))
            .and_then(|t| Timestamp::parse_rfc3339(t.trim().as_bytes()))
            .map(|(t, _)| t),
        process_id: text("winlog.process.pid").and_then(|t| t.trim().parse().ok()),
        keywords: keywords(doc),
        data: Vec::new(),
        original: None,
    };
    if let Some(data) = doc.get("winlog.event_data") {
        for (k, v) in data.fields() {
            let mut value = String::new();
            v.render(&mut value);
            rec.push_data(k, value);
        }
    }
    if let Some(user) = doc.get("winlog.user_data") {
        leaves(user, &mut rec);
    }
    Some(rec)
}

/// The audit bits of `winlog.keywords` (Winlogbeat writes the keywords' names: "Audit
/// Failure", "Audit Success"), or of `event.outcome`, which Winlogbeat sets from them (and
/// which stays English where a localised Windows names the keywords in its own language).
fn keywords(doc: &Json) -> u64 {
    let named = |name: &str| match doc.get("winlog.keywords") {
        Some(Json::Arr(a)) => a.iter().any(|k| k.text() == Some(name)),
        Some(k) => k.text() == Some(name),
        None => false,
    };
    let outcome = doc.get("event.outcome").and_then(Json::text);
    if named("Audit Failure") || outcome == Some("failure") {
        AUDIT_FAILURE
    } else if named("Audit Success") || outcome == Some("success") {
        AUDIT_SUCCESS
    } else {
        0
    }
}

/// UserData's leaves by name, as the XML reader takes them (`xml_name` is Winlogbeat's own).
fn leaves(obj: &Json, rec: &mut WinRecord) {
    for (k, v) in obj.fields() {
        match v {
            Json::Obj(_) => leaves(v, rec),
            _ if k == "xml_name" => {}
            v => {
                let mut value = String::new();
                v.render(&mut value);
                rec.push_data(k, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Winlogbeat 8 document (strings), trimmed.
    const WLB8: &str = r#"{"@timestamp":"2022-04-29T12:36:01.902Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing","kind":"event"},"host":{"name":"exchange-1"},"winlog":{"channel":"Security","computer_name":"exchange-1.mydomain.test","event_id":"4625","record_id":"2559","provider_name":"Microsoft-Windows-Security-Auditing","process":{"pid":712,"thread":{"id":20372}},"event_data":{"TargetUserName":"asdfasdf","LogonType":"3","IpAddress":"192.168.9.212","IpPort":"0"}}}"#;

    #[test]
    fn winlogbeat_8() {
        let r = parse(WLB8).unwrap();
        assert_eq!(r.event_id, 4625);
        assert_eq!(r.record_id, Some(2559));
        assert_eq!(r.process_id, Some(712));
        assert_eq!(r.channel, "Security");
        assert_eq!(r.computer, "exchange-1.mydomain.test");
        assert_eq!(r.provider, "Microsoft-Windows-Security-Auditing");
        assert_eq!(r.time.unwrap().unix, 1_651_235_761);
        let names: Vec<_> = r.data.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["TargetUserName", "LogonType", "IpAddress", "IpPort"]
        );
        assert_eq!(r.original.as_deref(), Some(WLB8));
    }

    #[test]
    fn winlogbeat_7_numbers_dotted_keys_and_user_data() {
        let doc = r#"{"@timestamp":"2019-03-18T16:57:38.636Z","winlog.event_id":1102,"winlog.record_id":45,"winlog.channel":"Security","host":{"name":"WIN-DC"},"winlog":{"user_data":{"xml_name":"LogFileCleared","SubjectUserName":"admin","SubjectLogonId":"0x1"}}}"#;
        let r = parse(doc).unwrap();
        assert_eq!((r.event_id, r.record_id), (1102, Some(45)));
        assert_eq!(r.channel, "Security");
        assert_eq!(r.computer, "WIN-DC");
        assert_eq!(r.data("SubjectUserName"), Some("admin"));
        assert_eq!(r.data.len(), 2);
        // Under Filebeat's `json` target.
        let wrapped = format!(r#"{{"message":"x","json":{WLB8}}}"#);
        assert_eq!(parse(&wrapped).unwrap().event_id, 4625);
    }

    #[test]
    fn other_documents_are_not_winlogbeat() {
        for doc in [
            r#"{"MESSAGE":"x","_HOSTNAME":"h"}"#,
            r#"{"winlog":{"channel":"Security"}}"#,
            r#"{"winlog":"x","event":{"code":"abc"}}"#,
        ] {
            assert!(matches!(parse(doc), Err(Error::NotWinlogbeat)), "{doc}");
        }
        assert!(matches!(parse("{\"winlog\":"), Err(Error::Json(_))));
        let v: Json<'_> = serde_json::from_str(WLB8).unwrap();
        assert!(is_winlogbeat(&v));
        assert_eq!(record(&v).unwrap().data("IpAddress"), Some("192.168.9.212"));
        assert!(mentions_winlog(WLB8.as_bytes()));
        assert!(!mentions_winlog(br#"{"MESSAGE":"winlogon started"}"#));
    }
}
