//! A [`Transaction`] as a `dns-query` event (dataset `dns.capture`): the client is
//! `source.*`, the question lower-cased, the reply's code and answers when it was seen.

use std::borrow::Cow;
use std::net::IpAddr;

use logward_core::{Action, Dataset, Dns, DnsAnswer, Event, Outcome, Timestamp};

use super::message::{rcode_name, ClassName, TypeName, TYPE_A, TYPE_AAAA};
use super::txn::Transaction;

fn type_text(t: u16) -> Cow<'static, str> {
    let n = TypeName(t);
    match n.known() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(n.to_string()),
    }
}

fn class_text(c: u16) -> Cow<'static, str> {
    match c {
        1 => Cow::Borrowed("IN"),
        3 => Cow::Borrowed("CH"),
        4 => Cow::Borrowed("HS"),
        255 => Cow::Borrowed("ANY"),
        n => Cow::Owned(ClassName(n).to_string()),
    }
}

/// The event of one transaction. `event.outcome` is `success` for a NOERROR reply,
/// `failure` for any other code, `unknown` when no reply was seen.
pub fn to_event(t: &Transaction) -> Event<'static> {
    let reply = t.reply.as_ref();
    let outcome = match reply {
        Some(r) if r.rcode == 0 => Outcome::Success,
        Some(_) => Outcome::Failure,
        None => Outcome::Unknown,
    };
    let mut e = Event::new(Dataset::DnsCapture, Action::DnsQuery, outcome);
    let ts = t.ts();
    e.timestamp = Some(Timestamp {
        unix: (ts / 1_000_000_000) as i64,
        nanos: (ts % 1_000_000_000) as u32,
        offset: 0,
    });
    e.set_source(Cow::Owned(t.client.to_string()), Some(t.client_port));
    let answers = t.answers();
    // A reply without a question (mDNS announcements) is about its first answer's name,
    // as Zeek logs it.
    let (name, qtype, qclass) = match t.question() {
        Some(q) => (q.name.as_str(), Some(q.qtype), Some(q.qclass)),
        None => (answers.first().map_or("", |a| a.name.as_str()), None, None),
    };
    let mut resolved_ip = Vec::new();
    let answers = answers
        .iter()
        .map(|a| {
            if a.rtype == TYPE_A || a.rtype == TYPE_AAAA {
                if let Ok(ip) = a.data.parse::<IpAddr>() {
                    resolved_ip.push(ip);
                }
            }
            DnsAnswer {
                name: Cow::Owned(a.name.clone()),
                rtype: type_text(a.rtype),
                data: Cow::Owned(a.data.clone()),
                ttl: Some(a.ttl),
            }
        })
        .collect();
    e.dns = Some(Box::new(Dns {
        id: Some(t.id),
        question_name: Cow::Owned(name.to_ascii_lowercase()),
        question_type: qtype.map(type_text),
        question_class: qclass.map(class_text),
        registered_domain: None,
        response_code: reply.map(|r| rcode_name(r.rcode)),
        answers,
        resolved_ip,
        server_ip: Some(t.server),
        server_port: Some(t.server_port),
        transport: Some(t.transport.as_str()),
        intel: None,
    }));
    e
}
