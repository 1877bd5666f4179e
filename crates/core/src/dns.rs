//! [`Dns`]: a DNS query's own fields, under ECS names (`dns.question.name`,
//! `dns.response_code`, `dns.answers` …), and [`DnsIntel`], what the agent's DNS check found
//! about it (`logward.dns.*`). Set on `dns-query` events, whatever they were read from (a
//! server's query log, Zeek, packetbeat, a packet capture); `None` on every other event.
//! The client that asked is the event's `source.ip`/`source.port` (written as `client.*` too).

use std::borrow::Cow;
use std::net::IpAddr;

type Text<'a> = Cow<'a, str>;

/// `dns.*`, `server.*`, `network.transport` and `logward.dns.*`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dns<'a> {
    /// `dns.id`: the message's transaction id.
    pub id: Option<u16>,
    /// `dns.question.name`: lower case, without the trailing dot (`""` for the root).
    pub question_name: Text<'a>,
    /// `dns.question.type`: `A`, `AAAA`, `TXT` … (`TYPE65399` for a type without a name).
    pub question_type: Option<Text<'a>>,
    /// `dns.question.class`: `IN`, `CH` …
    pub question_class: Option<Text<'a>>,
    /// `dns.question.registered_domain`: the name under its public suffix (`b.co.uk` of
    /// `a.b.co.uk`), set by the DNS check.
    pub registered_domain: Option<Text<'a>>,
    /// `dns.response_code`: `NOERROR`, `NXDOMAIN` … (`None` for a query whose reply was not
    /// seen).
    pub response_code: Option<Text<'a>>,
    /// `dns.answers`.
    pub answers: Vec<DnsAnswer<'a>>,
    /// `dns.resolved_ip`: the addresses of the A and AAAA answers.
    pub resolved_ip: Vec<IpAddr>,
    /// `server.ip`: the server that was asked.
    pub server_ip: Option<IpAddr>,
    /// `server.port`.
    pub server_port: Option<u16>,
    /// `network.transport`: `udp` or `tcp`.
    pub transport: Option<&'static str>,
    /// `logward.dns.*`: set by the agent's DNS check when it found something.
    pub intel: Option<Box<DnsIntel>>,
}

/// One of `dns.answers`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DnsAnswer<'a> {
    /// `dns.answers.name`.
    pub name: Text<'a>,
    /// `dns.answers.type`.
    pub rtype: Text<'a>,
    /// `dns.answers.data`: the record's data as text (an address, a name, TXT strings …).
    pub data: Text<'a>,
    /// `dns.answers.ttl`.
    pub ttl: Option<u32>,
}

/// `logward.dns.*`: what the DNS check found. Owned: it is made by the agent, not decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DnsIntel {
    /// `logward.dns.list`: the name of the threat list that named the domain or an answer.
    pub list: Option<String>,
    /// `logward.dns.list_entry`: the listed name, parent domain or address that matched.
    pub list_entry: Option<String>,
    /// `logward.dns.severity`: the list's (or the intel API's) severity word.
    pub severity: Option<String>,
    /// `logward.dns.verdict`: the intel API's verdict.
    pub verdict: Option<String>,
    /// `logward.dns.score`: the heuristics' score, 0 to 100 (like an alert's `logward.score`).
    pub score: Option<u8>,
    /// `logward.dns.owner`: the person or team the configuration names for the client.
    pub owner: Option<String>,
    /// `logward.dns.reasons`: why, in words (`listed by badd-boyz as evil.com`,
    /// `entropy 3.9 bits` …).
    pub reasons: Vec<String>,
}

impl<'a> Dns<'a> {
    /// A copy that borrows from `self`.
    pub fn borrowed(&self) -> Dns<'_> {
        Dns {
            id: self.id,
            question_name: Cow::Borrowed(&self.question_name),
            question_type: self.question_type.as_deref().map(Cow::Borrowed),
            question_class: self.question_class.as_deref().map(Cow::Borrowed),
            registered_domain: self.registered_domain.as_deref().map(Cow::Borrowed),
            response_code: self.response_code.as_deref().map(Cow::Borrowed),
            answers: self.answers.iter().map(DnsAnswer::borrowed).collect(),
            resolved_ip: self.resolved_ip.clone(),
            server_ip: self.server_ip,
            server_port: self.server_port,
            transport: self.transport,
            intel: self.intel.clone(),
        }
    }

    /// Detaches from the record it was decoded from.
    pub fn into_owned(self) -> Dns<'static> {
        Dns {
            id: self.id,
            question_name: own(self.question_name),
            question_type: self.question_type.map(own),
            question_class: self.question_class.map(own),
            registered_domain: self.registered_domain.map(own),
            response_code: self.response_code.map(own),
            answers: self
                .answers
                .into_iter()
                .map(DnsAnswer::into_owned)
                .collect(),
            resolved_ip: self.resolved_ip,
            server_ip: self.server_ip,
            server_port: self.server_port,
            transport: self.transport,
            intel: self.intel,
        }
    }
}

impl DnsAnswer<'_> {
    /// A copy that borrows from `self`.
    pub fn borrowed(&self) -> DnsAnswer<'_> {
        DnsAnswer {
            name: Cow::Borrowed(&self.name),
            rtype: Cow::Borrowed(&self.rtype),
            data: Cow::Borrowed(&self.data),
            ttl: self.ttl,
        }
    }

    /// Detaches from the record it was decoded from.
    pub fn into_owned(self) -> DnsAnswer<'static> {
        DnsAnswer {
            name: own(self.name),
            rtype: own(self.rtype),
            data: own(self.data),
            ttl: self.ttl,
        }
    }
}

fn own(t: Text<'_>) -> Text<'static> {
    Cow::Owned(t.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_borrowed_copies_are_equal() {
        let d = Dns {
            id: Some(7),
            question_name: "evil.example".into(),
            question_type: Some("A".into()),
            response_code: Some("NOERROR".into()),
            answers: vec![DnsAnswer {
                name: "evil.example".into(),
                rtype: "A".into(),
                data: "192.0.2.1".into(),
                ttl: Some(60),
            }],
            resolved_ip: vec!["192.0.2.1".parse().unwrap()],
            intel: Some(Box::new(DnsIntel {
                list: Some("bad".into()),
                ..DnsIntel::default()
            })),
            ..Dns::default()
        };
        assert_eq!(d.borrowed(), d);
        assert_eq!(d.clone().into_owned(), d);
    }
}
