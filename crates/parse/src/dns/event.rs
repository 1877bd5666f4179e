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

/// The event of one transaction (its strings moved into the event, not copied).
/// `event.outcome` is `success` for a NOERROR reply, `failure` for any other code,
/// `unknown` when no reply was seen.
pub fn to_event(t: Transaction) -> Event<'static> {
    let outcome = match &t.reply {
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
    // The address's own text is canonical: no parse back through `set_source`.
    let address = match t.client {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            super::message::push_ipv4(&mut text, v4);
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    };
    e.source_ip = Some(t.client);
    e.source_address = Some(Cow::Owned(address));
    e.source_port = Some(t.client_port);
    let Transaction {
        server,
        server_port,
        transport,
        id,
        query,
        reply,
        ..
    } = t;
    let question = query
        .and_then(|q| q.question)
        .or_else(|| reply.as_ref().and_then(|r| r.question.clone()));
    let (rcode, answers) = match reply {
        Some(r) => (Some(r.rcode), r.answers),
        None => (None, Vec::new()),
    };
    // A reply without a question (mDNS announcements) is about its first answer's name,
    // as Zeek logs it.
    let (mut name, qtype, qclass) = match question {
        Some(q) => (q.name, Some(q.qtype), Some(q.qclass)),
        None => (
            answers.first().map_or_else(String::new, |a| a.name.clone()),
            None,
            None,
        ),
    };
    name.make_ascii_lowercase();
    let mut resolved_ip = Vec::new();
    let answers = answers
        .into_iter()
        .map(|a| {
            if a.rtype == TYPE_A || a.rtype == TYPE_AAAA {
                if let Ok(ip) = a.data.parse::<IpAddr>() {
                    resolved_ip.push(ip);
                }
            }
            DnsAnswer {
                name: Cow::Owned(a.name),
                rtype: type_text(a.rtype),
                data: Cow::Owned(a.data),
                ttl: Some(a.ttl),
            }
        })
        .collect();
    e.dns = Some(Box::new(Dns {
        id: Some(id),
        question_name: Cow::Owned(name),
        question_type: qtype.map(type_text),
        question_class: qclass.map(class_text),
        registered_domain: None,
        response_code: rcode.map(rcode_name),
        answers,
        resolved_ip,
        server_ip: Some(server),
        server_port: Some(server_port),
        transport: Some(transport.as_str()),
        intel: None,
    }));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::txn::{Side, Transport};

    const REPLY: &[u8] = b"\xab\xcd\x81\x83\x00\x01\x00\x02\x00\x00\x00\x00\x03WWW\x07Example\x03com\x00\x00\x01\x00\x01\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x10\xc0\x10\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22";

    #[test]
    fn a_transaction_is_a_dns_query_event() {
        let query = &b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03WWW\x07Example\x03com\x00\x00\x01\x00\x01"[..];
        let t = Transaction {
            client: "2001:db8::1".parse().unwrap(),
            client_port: 40000,
            server: "192.0.2.53".parse().unwrap(),
            server_port: 53,
            transport: Transport::Udp,
            id: 0xabcd,
            query: Some(Side::decode(1_500_000_000_123_456_789, query, false).unwrap()),
            reply: Some(Side::decode(1_500_000_000_200_000_000, REPLY, false).unwrap()),
        };
        let e = to_event(t);
        assert_eq!(e.action(), Action::DnsQuery);
        assert_eq!(e.dataset, Some(Dataset::DnsCapture));
        assert_eq!(e.outcome, Outcome::Failure);
        let ts = e.timestamp.unwrap();
        assert_eq!((ts.unix, ts.nanos), (1_500_000_000, 123_456_789));
        assert_eq!(e.source_ip, "2001:db8::1".parse().ok());
        assert_eq!(e.source_port, Some(40000));
        let d = e.dns.unwrap();
        assert_eq!(d.question_name, "www.example.com");
        assert_eq!(d.question_type.as_deref(), Some("A"));
        assert_eq!(d.question_class.as_deref(), Some("IN"));
        assert_eq!(d.response_code.as_deref(), Some("NXDOMAIN"));
        assert_eq!(d.id, Some(0xabcd));
        assert_eq!(
            (d.server_ip, d.server_port),
            ("192.0.2.53".parse().ok(), Some(53))
        );
        assert_eq!(d.transport, Some("udp"));
        assert_eq!(d.answers.len(), 2);
        assert_eq!(
            (
                &*d.answers[0].name,
                &*d.answers[0].rtype,
                &*d.answers[0].data,
                d.answers[0].ttl
            ),
            ("WWW.Example.com", "CNAME", "Example.com", Some(60))
        );
        assert_eq!(
            d.resolved_ip,
            vec!["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn a_query_without_reply_has_no_code() {
        let query = &b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xff\x65\x00\x03"[..];
        let t = Transaction {
            client: "10.0.0.1".parse().unwrap(),
            client_port: 1,
            server: "10.0.0.2".parse().unwrap(),
            server_port: 53,
            transport: Transport::Tcp,
            id: 1,
            query: Some(Side::decode(0, query, false).unwrap()),
            reply: None,
        };
        let e = to_event(t);
        assert_eq!(e.outcome, Outcome::Unknown);
        let d = e.dns.unwrap();
        assert_eq!(d.question_name, "");
        assert_eq!(d.question_type.as_deref(), Some("TYPE65381"));
        assert_eq!(d.question_class.as_deref(), Some("CH"));
        assert_eq!((d.response_code, d.transport), (None, Some("tcp")));
    }
}
