//! A DNS transaction as the packet decoder sees it: the query and the reply (either may be
//! missing) of one id between one client and one server, each kept as read from the wire
//! (names in their original case, the header's flags, the answer section).

use std::net::IpAddr;

use super::message::{self, Error, Header, Message, Section};

/// Capture time: nanoseconds since the Unix epoch.
pub type Nanos = u64;

/// Answers kept per message; more are counted in [`Side::answers_dropped`]. A 64 KiB
/// message holds at most ~5 900 records; 64 is what every DNS input keeps (docs/EVENTS.md).
pub const MAX_ANSWERS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One record of the answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The owner name, presentation form, original case.
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// [`message::write_rdata`]'s text; `\# len hex` when the data does not fit its type.
    pub data: String,
}

/// The first question of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionText {
    /// Presentation form, original case.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// One message of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub ts: Nanos,
    pub header: Header,
    /// With an OPT record's extension.
    pub rcode: u16,
    pub question: Option<QuestionText>,
    pub answers: Vec<Answer>,
    pub answers_dropped: usize,
    /// Where reading stopped early (a message cut by the snap length, a bad name): what
    /// came before it is kept.
    pub error: Option<Error>,
}

impl Side {
    /// Reads a message. Only a header cut short is an error; a later problem is kept in
    /// [`Side::error`] with everything read before it. `mdns` masks the top bit of the
    /// class (cache-flush / unicast-response, RFC 6762).
    pub fn decode(ts: Nanos, bytes: &[u8], mdns: bool) -> Result<Side, Error> {
        let msg = Message::parse(bytes)?;
        let class_mask = if mdns { 0x7fff } else { 0xffff };
        let mut side = Side {
            ts,
            header: msg.header,
            rcode: u16::from(msg.header.rcode()),
            question: None,
            answers: Vec::new(),
            answers_dropped: 0,
            error: None,
        };
        match msg.question() {
            Ok(Some(q)) => {
                let mut name = String::new();
                match message::write_name(bytes, q.name_at, &mut name) {
                    Ok(_) => {
                        side.question = Some(QuestionText {
                            name,
                            qtype: q.qtype,
                            qclass: q.qclass & class_mask,
                        })
                    }
                    Err(e) => side.error = Some(e),
                }
            }
            Ok(None) => {}
            Err(e) => side.error = Some(e),
        }
        if side.error.is_some() {
            return Ok(side);
        }
        for r in msg.records() {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    side.error = Some(e);
                    break;
                }
            };
            if r.rtype == message::TYPE_OPT {
                side.rcode |= u16::from((r.ttl >> 24) as u8) << 4;
                continue;
            }
            if r.section != Section::Answer {
                continue;
            }
            if side.answers.len() >= MAX_ANSWERS {
                side.answers_dropped += 1;
                continue;
            }
            let mut name = String::new();
            if let Err(e) = message::write_name(bytes, r.name_at, &mut name) {
                side.error = Some(e);
                break;
            }
            let mut data = String::new();
            if message::write_rdata(bytes, &r, &mut data).is_err() {
                // Kept, as unknown data: the record is there, its type's form is not.
                let raw = message::Record { rtype: 0xff00, ..r };
                let _ = message::write_rdata(bytes, &raw, &mut data);
            }
            side.answers.push(Answer {
                name,
                rtype: r.rtype,
                class: r.class & class_mask,
                ttl: r.ttl,
                data,
            });
        }
        Ok(side)
    }
}

/// A query and its reply, joined; one `dns-query` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub transport: Transport,
    pub id: u16,
    pub query: Option<Side>,
    pub reply: Option<Side>,
}

impl Transaction {
    /// When it started: the query's time, else the reply's.
    pub fn ts(&self) -> Nanos {
        match (&self.query, &self.reply) {
            (Some(q), _) => q.ts,
            (None, Some(r)) => r.ts,
            (None, None) => 0,
        }
    }

    /// The question: the query's, else the reply's.
    pub fn question(&self) -> Option<&QuestionText> {
        self.query
            .as_ref()
            .and_then(|q| q.question.as_ref())
            .or_else(|| self.reply.as_ref().and_then(|r| r.question.as_ref()))
    }

    /// The reply's answers (none without a reply).
    pub fn answers(&self) -> &[Answer] {
        self.reply.as_ref().map_or(&[], |r| &r.answers)
    }

    /// Reply time minus query time, when both were seen.
    pub fn rtt(&self) -> Option<Nanos> {
        match (&self.query, &self.reply) {
            (Some(q), Some(r)) => Some(r.ts.saturating_sub(q.ts)),
            _ => None,
        }
    }
}
