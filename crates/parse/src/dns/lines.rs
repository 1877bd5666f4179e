//! The DNS part of one line input's state, for [`crate::LineDecoder`]: the dnsmasq and
//! Unbound joiners, the Zeek TSV header in force, and the count of malformed records.

use logward_core::{Action, Event, Timestamp};
use serde_json::{Map, Value};

use super::{dnsmasq, packetbeat, unbound, zeek};

#[derive(Debug, Default)]
pub struct DnsLines {
    dnsmasq: dnsmasq::Joiner,
    unbound: unbound::Joiner,
    zeek: Option<zeek::Header>,
    errors: u64,
}

/// What a line was to the DNS readers.
#[derive(Debug)]
pub enum Taken {
    /// Not theirs: decode it as usual.
    No,
    /// Theirs, and it makes no event of its own (a header, a line joined into a query).
    Joined,
    /// Its own event.
    Event(Box<Event<'static>>),
}

/// The frame's fields of a line, for the events a server's line makes.
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    pub timestamp: Option<Timestamp>,
    pub host: Option<&'a str>,
    pub program: &'a str,
    pub pid: Option<u32>,
}

impl DnsLines {
    /// Whether a Zeek TSV header is in force (every line goes to [`DnsLines::zeek_line`]).
    #[inline]
    pub fn in_zeek(&self) -> bool {
        self.zeek.is_some()
    }

    /// A `#` line, or any line under a Zeek header.
    pub fn zeek_line(&mut self, line: &str) -> Taken {
        if line.starts_with('#') {
            let starts = line.starts_with("#separator ");
            if starts {
                self.zeek = Some(zeek::Header::default());
            }
            let Some(h) = self.zeek.as_mut() else {
                return Taken::No;
            };
            if h.header_line(line) {
                if line.starts_with("#close") {
                    self.zeek = None;
                }
                return Taken::Joined;
            }
            return Taken::No;
        }
        let Some(h) = self.zeek.as_ref() else {
            return Taken::No;
        };
        if !h.is_dns() {
            // Another Zeek log (conn, http …): its rows are not DNS queries.
            return Taken::No;
        }
        match h.row(line) {
            zeek::Tsv::Row(e) => Taken::Event(e),
            zeek::Tsv::Header => Taken::Joined,
            zeek::Tsv::Malformed(why) => {
                self.errors += 1;
                Taken::Event(Box::new(malformed(why)))
            }
        }
    }

    /// A `{` line: a Zeek JSON record or a packetbeat document; `None` when it is neither.
    pub fn json_line(&mut self, line: &str) -> Option<Event<'static>> {
        let zeek = zeek::looks_like_json(line);
        if !zeek && !packetbeat::looks_like(line) {
            return None;
        }
        let doc: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            // Not JSON after all: the journal framing and the others may know it.
            _ => return None,
        };
        if zeek {
            if let Some(e) = zeek::json(&doc) {
                return Some(e);
            }
        }
        if packetbeat::is_dns(&doc) {
            return Some(match packetbeat::event(&doc) {
                Ok(e) => e,
                Err(why) => {
                    self.errors += 1;
                    malformed(format!("a packetbeat dns document: {why}"))
                }
            });
        }
        None
    }

    /// A framed line of a DNS server: `true` when it was a query-log line (taken by a
    /// joiner: it makes no event of its own; what it completed waits in
    /// [`DnsLines::take`]).
    pub fn server_line(&mut self, f: &Framed<'_>, message: &str) -> bool {
        match f.program {
            "dnsmasq" => {
                let Some(line) = dnsmasq::parse(message) else {
                    return false;
                };
                let ctx = dnsmasq::Ctx {
                    timestamp: f.timestamp,
                    host: f.host,
                    pid: f.pid,
                };
                self.dnsmasq.line(&ctx, message, line);
                true
            }
            "unbound" => {
                let Some(line) = unbound::parse(message) else {
                    return false;
                };
                let ctx = unbound::Ctx {
                    timestamp: f.timestamp,
                    host: f.host,
                    pid: f.pid,
                };
                self.unbound.line(&ctx, message, line);
                true
            }
            _ => false,
        }
    }

    /// Whether a program's lines may be a DNS server's query log.
    #[inline]
    pub fn is_server(program: &str) -> bool {
        matches!(program, "dnsmasq" | "unbound")
    }

    /// A quiet second of a followed input (see [`dnsmasq::Joiner::idle`]).
    pub fn idle(&mut self) {
        self.dnsmasq.idle();
        self.unbound.idle();
    }

    /// End of input: open queries are flushed.
    pub fn finish(&mut self) {
        self.dnsmasq.finish();
        self.unbound.finish();
    }

    #[inline]
    pub fn has_queued(&self) -> bool {
        self.dnsmasq.has_flushed() || self.unbound.has_flushed()
    }

    pub fn take(&mut self) -> Option<Event<'static>> {
        self.dnsmasq.take().or_else(|| self.unbound.take())
    }

    /// Malformed DNS records (Zeek rows, packetbeat documents) since the last call; each
    /// also made an `unknown` event saying what was wrong.
    pub fn take_errors(&mut self) -> u64 {
        std::mem::take(&mut self.errors)
    }
}

fn malformed(why: String) -> Event<'static> {
    Event {
        action: Some(Action::Unknown),
        message: Some(why.into()),
        ..Event::default()
    }
}
