//! Packetbeat's (and Elastic Agent's `network_traffic`) `dns` documents: `type: dns`,
//! `dns.question.*`, `dns.answers`, `client.*`/`server.*` — one query and its reply per
//! document, from a file or stdin (one document per line, an `output.file`) or the Beats
//! input (see `crate::beats`).
//!
//! Only the fields of the query are read, through core's ECS reader (the one that reads
//! logward's own `dns.*` back): `@timestamp`, `host.name`, `client`, `server`, `source`
//! (address and port), `network.transport` and `dns`. What else the document carries —
//! `event.*` words logward does not use, and `logward.*` (a sender must not fill in what the
//! DNS check found) — is not read.

use logward_core::json_read::read_event;
use logward_core::{Action, Dataset, Event, Outcome};
use serde_json::{Map, Value};

/// Whether a `{` line looks like a packetbeat `dns` document (a cheap test before parsing).
pub fn looks_like(line: &str) -> bool {
    let has = |k: &str| crate::decoders::scan::contains(line, k);
    has("\"dns\"") && has("\"question\"")
}

/// Whether a document is a DNS query's: a `dns.question.name`, and `type: dns` or an
/// `event.dataset` of `dns` or `network_traffic.dns` (or no type at all).
pub fn is_dns(doc: &Map<String, Value>) -> bool {
    let text = |k: &str| crate::beats::field(doc, k).and_then(Value::as_str);
    let named = text("dns.question.name").is_some();
    let kind_ok = matches!(
        (text("type"), text("event.dataset")),
        (Some("dns"), _) | (_, Some("dns" | "network_traffic.dns")) | (None, None)
    );
    named && kind_ok
}

/// The document's query as a `dns-query` event; an error says which field was wrong.
pub fn event(doc: &Map<String, Value>) -> Result<Event<'static>, String> {
    let mut kept = Map::new();
    for k in ["@timestamp", "client", "server", "network", "dns"] {
        if let Some(v) = doc.get(k) {
            kept.insert(k.to_owned(), v.clone());
        }
    }
    if let Some(Value::String(h)) = crate::beats::field(doc, "host.name") {
        kept.insert("host".into(), serde_json::json!({ "name": h }));
    }
    if let Some(Value::Object(s)) = doc.get("source") {
        let mut src = Map::new();
        for k in ["ip", "port", "address"] {
            if let Some(v) = s.get(k) {
                src.insert(k.to_owned(), v.clone());
            }
        }
        kept.insert("source".into(), Value::Object(src));
    }
    let bytes = serde_json::to_vec(&Value::Object(kept)).map_err(|e| e.to_string())?;
    let mut e = read_event(&bytes).map_err(|e| e.to_string())?;
    let rcode = e.dns.as_ref().and_then(|d| d.response_code.clone());
    e.dataset = Some(Dataset::DnsPacketbeat);
    e.action = Some(Action::DnsQuery);
    e.category = Action::DnsQuery.category();
    e.outcome = match rcode.as_deref() {
        None => Outcome::Unknown,
        Some("NOERROR") => Outcome::Success,
        Some(_) => Outcome::Failure,
    };
    if let Some(d) = e.dns.as_mut() {
        d.answers.truncate(super::fields::MAX_ANSWERS);
        // Packetbeat writes the name as asked; the check compares lower case.
        if d.question_name.len() > super::fields::MAX_NAME {
            d.question_name = super::fields::name(&d.question_name).into_owned().into();
        }
    }
    e.process_name = Some("packetbeat".into());
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Packetbeat 8 document as `publishTransaction` builds it (ECS fields, `type: dns`).
    pub const DOC: &str = r#"{"@timestamp":"2026-12-07T01:20:00.123Z","type":"dns","status":"OK","method":"QUERY","query":"class IN, type A, www.evil.example","resource":"www.evil.example","agent":{"type":"packetbeat","id":"f1e2"},"host":{"name":"ns1"},"event":{"dataset":"dns","kind":"event","category":["network"],"type":["connection","protocol"],"duration":1200000},"network":{"type":"ipv4","transport":"udp","protocol":"dns","direction":"inbound","community_id":"1:x"},"source":{"ip":"10.1.2.3","port":53000,"bytes":40},"client":{"ip":"10.1.2.3","port":53000,"bytes":40},"destination":{"ip":"10.1.2.1","port":53,"bytes":72},"server":{"ip":"10.1.2.1","port":53,"bytes":72},"dns":{"id":4242,"op_code":"QUERY","flags":{"recursion_desired":true,"recursion_available":true},"response_code":"NOERROR","type":"answer","question":{"name":"WWW.Evil.Example","type":"A","class":"IN","etld_plus_one":"evil.example","registered_domain":"evil.example"},"answers_count":2,"answers":[{"name":"www.evil.example","type":"A","class":"IN","ttl":"300","data":"203.0.113.66"},{"name":"www.evil.example","type":"A","class":"IN","ttl":300,"data":"203.0.113.67"}],"resolved_ip":["203.0.113.66","203.0.113.67"],"header_flags":["RD","RA"]},"logward":{"dns":{"list":"forged"}}}"#;

    #[test]
    fn a_packetbeat_document() {
        assert!(looks_like(DOC));
        let doc: Map<String, Value> = serde_json::from_str(DOC).unwrap();
        assert!(is_dns(&doc));
        let e = event(&doc).unwrap();
        assert_eq!(e.dataset, Some(Dataset::DnsPacketbeat));
        assert_eq!(e.action, Some(Action::DnsQuery));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.source_ip, "10.1.2.3".parse().ok());
        assert_eq!(e.source_port, Some(53000));
        assert_eq!(e.host_name.as_deref(), Some("ns1"));
        assert_eq!(e.agent_id, None);
        let d = e.dns.as_ref().unwrap();
        assert_eq!(d.question_name, "www.evil.example");
        assert_eq!(d.id, Some(4242));
        assert_eq!(d.answers.len(), 2);
        assert_eq!(d.resolved_ip.len(), 2);
        assert_eq!(d.server_ip, "10.1.2.1".parse().ok());
        assert_eq!(
            d.intel, None,
            "a sender does not fill in the check's findings"
        );
        assert!(e.timestamp.is_some());
    }

    #[test]
    fn other_documents() {
        let other = |s: &str| is_dns(&serde_json::from_str(s).unwrap());
        assert!(!other(r#"{"type":"http","dns":{"question":{"name":"x"}}}"#));
        assert!(!other(r#"{"type":"dns","dns":{}}"#));
        assert!(other(
            r#"{"event":{"dataset":"network_traffic.dns"},"dns":{"question":{"name":"x"}}}"#
        ));
        let doc = serde_json::from_str(
            r#"{"type":"dns","dns":{"question":{"name":"x"},"resolved_ip":["nope"]}}"#,
        )
        .unwrap();
        assert!(event(&doc).unwrap_err().contains("dns.resolved_ip"));
    }
}
