//! dnsmasq's query log (`log-queries`, `log-queries=extra`): one query is several lines —
//! `query[A] NAME from CLIENT`, then `forwarded NAME to SERVER`, then its answers
//! (`reply|cached|cached-stale|config|DHCP|auth|<hosts file> NAME is DEST`, one line per
//! record, a CNAME chain's names on the lines after `is <CNAME>`) — joined here into one
//! `dns-query` event with its answers and response code.
//!
//! `log-queries=extra` puts the query's serial and the client's `ADDR/PORT` before every
//! line: lines join by serial. Plain `log-queries` has neither: an answer joins the newest
//! open query of the same process (TCP queries are answered by a forked child with its own
//! pid) that asked its name (or whose reverse name its address is, or any, for `reply error
//! is REFUSED`), and the answer lines right after an answer join the same query (a CNAME
//! chain names other names).
//!
//! dnsmasq writes all the answers of one reply at once, so a query is complete once it has an
//! answer and a line of its process that is not one of its answers comes. It is also
//! completed — *flushed* — when [`MAX_OPEN`] newer queries are open, [`MAX_AGE`] lines went
//! by since its last line, on [`Joiner::idle`] (the agent calls it every second: a followed
//! log that went quiet), and at the end of the input ([`Joiner::finish`]). A query whose reply
//! never came is still an event (no `dns.response_code`); an answer whose query was never
//! seen (the log began after it) is an event of its own, without a client.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;

use logward_core::event::parse_ip;
use logward_core::{Dataset, DnsAnswer, Event, Timestamp};

use crate::decoders::scan;

use super::fields::{address_answer, mnemonic, name, push_answer, rcode_name, set_rcode, start};

/// Queries open at once (replies of concurrent queries interleave).
pub const MAX_OPEN: usize = 256;
/// Lines after which an open query is flushed: its reply would have come long before.
pub const MAX_AGE: u64 = 4096;
/// Calls of [`Joiner::idle`] with no line after which a query still waiting for its reply
/// is flushed (an answered one goes at the first).
pub const IDLE_UNANSWERED: u8 = 10;

/// One query-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The serial of `log-queries=extra`.
    pub serial: Option<u32>,
    /// The client of `log-queries=extra` (`ADDR/PORT`).
    pub client: Option<(IpAddr, u16)>,
    pub kind: Kind<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    /// `query[T] NAME from CLIENT` (`auth[T]` for authoritative mode).
    Query {
        qtype: &'a str,
        name: &'a str,
        from: &'a str,
    },
    /// `SOURCE NAME is DEST`: an answer, a negative answer or an error.
    Answer { name: &'a str, dest: &'a str },
    /// The rest of a query's lines: `forwarded`, `dnssec-query[DS]`, `validation`, `ipset
    /// add` …
    Other,
}

/// Parses a dnsmasq message; `None` when it is not a query-log line (start-up, DHCP …).
pub fn parse(message: &str) -> Option<Line<'_>> {
    let mut m = message;
    let mut serial = None;
    let mut client = None;
    let (first, rest) = scan::word(m);
    if !first.is_empty() && first.len() <= 10 && first.bytes().all(|b| b.is_ascii_digit()) {
        serial = first.parse().ok();
        m = rest;
        let (second, rest) = scan::word(m);
        if let Some((a, p)) = second.rsplit_once('/') {
            if let (Some(ip), Some(port)) = (parse_ip(a), scan::port(p.as_bytes())) {
                client = Some((ip, port));
                m = rest;
            }
        }
        serial?;
    }
    let (source, rest) = scan::word(m);
    let kind = if let Some(t) = source
        .strip_prefix("query[")
        .or_else(|| source.strip_prefix("auth["))
        .and_then(|t| t.strip_suffix(']'))
    {
        // The name may hold blanks; the client is the last word.
        let (name, from) = scan::rsplit_once(rest, " from ")?;
        if name.is_empty() || scan::has_space(from) {
            return None;
        }
        Kind::Query {
            qtype: t,
            name,
            from,
        }
    } else if matches!(
        source,
        "reply" | "cached" | "cached-stale" | "config" | "DHCP" | "auth"
    ) || (source.starts_with('/') && scan::contains(rest, " is "))
    {
        let (name, dest) = answer_parts(rest)?;
        Kind::Answer { name, dest }
    } else if matches!(source, "forwarded" | "validation" | "ipset" | "nftset")
        || source.starts_with("dnssec-query[")
        || source.starts_with("dnssec-retry[")
    {
        Kind::Other
    } else {
        return None;
    };
    Some(Line {
        serial,
        client,
        kind,
    })
}

/// `NAME is DEST[ (EXTRA)]` → (NAME, DEST). A name may hold blanks (and ` is `): the split is
/// the last ` is ` when what follows is a destination dnsmasq writes for a forward answer
/// (an address, a word in capitals, `<TYPE>`), else the first (a reverse answer's
/// destination is a name; its own name is an address).
fn answer_parts(rest: &str) -> Option<(&str, &str)> {
    if let Some((n, d)) = scan::rsplit_once(rest, " is ") {
        let d = strip(d);
        if forward_dest(d) {
            return (!n.is_empty()).then_some((n, d));
        }
    }
    let (n, d) = scan::split_once(rest, " is ")?;
    (!n.is_empty() && !d.is_empty()).then_some((n, strip(d)))
}

/// DEST without dnsmasq's ` (DNSSEC signed)`, ` (EDE: …)`.
fn strip(d: &str) -> &str {
    match scan::find(d, " (") {
        Some(i) if d.ends_with(')') => d.get(..i).unwrap_or(d),
        _ => d,
    }
}

fn forward_dest(d: &str) -> bool {
    d.starts_with('<')
        || d.starts_with("NODATA")
        || parse_ip(d).is_some()
        || (!d.is_empty()
            && d.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'))
        || d == "not implemented"
}

/// What a line of the frame said besides its message: the fields of the events it makes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx<'a> {
    pub timestamp: Option<Timestamp>,
    pub host: Option<&'a str>,
    pub pid: Option<u32>,
}

#[derive(Debug)]
struct Open {
    host: Option<String>,
    pid: Option<u32>,
    serial: Option<u32>,
    event: Event<'static>,
    answered: bool,
    /// The joiner's line count at its last line.
    last_line: u64,
    /// [`Joiner::idle`] calls since its last line.
    idle: u8,
}

impl Open {
    fn same_process(&self, ctx: &Ctx<'_>) -> bool {
        self.pid == ctx.pid && self.host.as_deref() == ctx.host
    }

    fn question(&self) -> &str {
        self.event.dns.as_ref().map_or("", |d| &d.question_name)
    }
}

/// The join state of one input; lives in [`super::lines::DnsLines`].
#[derive(Debug, Default)]
pub struct Joiner {
    open: VecDeque<Open>,
    flushed: VecDeque<Event<'static>>,
    lines: u64,
    /// The open query the previous answer line of a process went to, by (host, pid):
    /// where the next answer lines of the same reply go.
    last_answer: Option<(Option<String>, Option<u32>, usize)>,
}

impl Joiner {
    /// Takes a query-log line; the events it completed wait in [`Joiner::take`].
    pub fn line(&mut self, ctx: &Ctx<'_>, message: &str, line: Line<'_>) {
        self.lines += 1;
        let mut orphan = None;
        let target = match line.kind {
            Kind::Query { qtype, name, from } => {
                self.query(ctx, message, &line, qtype, name, from);
                self.open.len().checked_sub(1)
            }
            Kind::Answer { name, dest } => {
                let t = self.answer_target(ctx, &line, name);
                match t {
                    Some(i) => self.answer(i, name, dest),
                    None => orphan = Some((name, dest)),
                }
                t
            }
            Kind::Other => self.find_serial(ctx, &line),
        };
        if let Some(o) = target.and_then(|i| self.open.get_mut(i)) {
            o.last_line = self.lines;
            o.idle = 0;
        }
        self.last_answer = match (&line.kind, target) {
            (Kind::Answer { .. }, Some(i)) => Some((ctx.host.map(str::to_owned), ctx.pid, i)),
            _ => None,
        };
        // A process's line that is not one of an answered query's answers completes it.
        let lines = self.lines;
        let mut target = target;
        let mut i = 0;
        while i < self.open.len() {
            let o = &self.open[i];
            let done = (o.answered && Some(i) != target && o.same_process(ctx))
                || lines.saturating_sub(o.last_line) > MAX_AGE;
            if done {
                self.flush_at(i);
                // The target moved down with the queries after `i`.
                target = match target {
                    Some(t) if t > i => Some(t - 1),
                    Some(t) if t == i => None,
                    t => t,
                };
            } else {
                i += 1;
            }
        }
        if let Some((name, dest)) = orphan {
            self.orphan(ctx, message, &line, name, dest);
        }
    }

    fn query(
        &mut self,
        ctx: &Ctx<'_>,
        message: &str,
        line: &Line<'_>,
        qtype: &str,
        qname: &str,
        from: &str,
    ) {
        // A second query line of one serial replaces the first (never seen; kept simple).
        if let Some(i) = self.find_serial(ctx, line) {
            self.flush_at(i);
        }
        if self.open.len() >= MAX_OPEN {
            self.flush_at(0);
        }
        let mut e = Event::default();
        let d = start(
            &mut e,
            Dataset::DnsDnsmasq,
            Cow::Owned(name(qname).into_owned()),
        );
        d.question_type = mnemonic(qtype).map(|t| Cow::Owned(t.into_owned()));
        match (line.client, parse_ip(from)) {
            (Some((ip, port)), _) => e.set_source(Cow::Owned(ip.to_string()), Some(port)),
            (None, Some(ip)) => e.set_source(Cow::Owned(ip.to_string()), None),
            // dnsmasq writes an address here; anything else is no client.
            (None, None) => {}
        }
        e.timestamp = ctx.timestamp;
        e.host_name = ctx.host.map(|h| Cow::Owned(h.to_owned()));
        e.process_name = Some(Cow::Borrowed("dnsmasq"));
        e.process_pid = ctx.pid;
        e.message = Some(Cow::Owned(message.to_owned()));
        self.open.push_back(Open {
            host: ctx.host.map(str::to_owned),
            pid: ctx.pid,
            serial: line.serial,
            event: e,
            answered: false,
            last_line: self.lines,
            idle: 0,
        });
    }

    fn find_serial(&self, ctx: &Ctx<'_>, line: &Line<'_>) -> Option<usize> {
        let serial = line.serial?;
        self.open
            .iter()
            .rposition(|o| o.serial == Some(serial) && o.same_process(ctx))
    }

    fn answer_target(&self, ctx: &Ctx<'_>, line: &Line<'_>, aname: &str) -> Option<usize> {
        if line.serial.is_some() {
            return self.find_serial(ctx, line);
        }
        // The next record of the reply the previous line answered.
        if let Some((h, p, i)) = &self.last_answer {
            let plain = self.open.get(*i).is_some_and(|o| o.serial.is_none());
            if h.as_deref() == ctx.host && *p == ctx.pid && plain {
                return Some(*i);
            }
        }
        let aname = name(aname);
        let reverse = parse_ip(&aname).map(reverse_name);
        let waiting = |o: &&Open| !o.answered && o.serial.is_none() && o.same_process(ctx);
        self.open
            .iter()
            .rposition(|o| {
                waiting(&o) && (o.question() == aname || reverse.as_deref() == Some(o.question()))
            })
            .or_else(|| {
                // `reply error is REFUSED`: the error of the newest query waiting.
                (aname == "error")
                    .then(|| self.open.iter().rposition(|o| waiting(&o)))
                    .flatten()
            })
    }

    fn answer(&mut self, i: usize, aname: &str, dest: &str) {
        let Some(o) = self.open.get_mut(i) else {
            return;
        };
        o.answered = true;
        apply(&mut o.event, aname, dest);
    }

    /// An answer whose query is not open: an event of its own.
    fn orphan(&mut self, ctx: &Ctx<'_>, message: &str, line: &Line<'_>, aname: &str, dest: &str) {
        let mut e = Event::default();
        start(
            &mut e,
            Dataset::DnsDnsmasq,
            Cow::Owned(name(aname).into_owned()),
        );
        if let Some((ip, port)) = line.client {
            e.set_source(Cow::Owned(ip.to_string()), Some(port));
        }
        apply(&mut e, aname, dest);
        e.timestamp = ctx.timestamp;
        e.host_name = ctx.host.map(|h| Cow::Owned(h.to_owned()));
        e.process_name = Some(Cow::Borrowed("dnsmasq"));
        e.process_pid = ctx.pid;
        e.message = Some(Cow::Owned(message.to_owned()));
        self.flushed.push_back(e);
    }

    fn flush_at(&mut self, i: usize) {
        if let Some(o) = self.open.remove(i) {
            self.flushed.push_back(o.event);
        }
        // Indices after `i` moved down by one.
        self.last_answer = match self.last_answer.take() {
            Some((h, p, j)) if j > i => Some((h, p, j - 1)),
            Some((_, _, j)) if j == i => None,
            other => other,
        };
    }

    /// A followed log went quiet for a while (the agent calls this every second): answered
    /// queries are complete, and queries whose reply has not come for
    /// [`IDLE_UNANSWERED`] calls are given up waiting.
    pub fn idle(&mut self) {
        let mut i = 0;
        while i < self.open.len() {
            let o = &mut self.open[i];
            o.idle = o.idle.saturating_add(1);
            if o.answered || o.idle >= IDLE_UNANSWERED {
                self.flush_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// End of input: every open query is flushed.
    pub fn finish(&mut self) {
        while !self.open.is_empty() {
            self.flush_at(0);
        }
    }

    /// Whether a completed event waits in [`Joiner::take`].
    #[inline]
    pub fn has_flushed(&self) -> bool {
        !self.flushed.is_empty()
    }

    /// A completed event, oldest first.
    pub fn take(&mut self) -> Option<Event<'static>> {
        self.flushed.pop_front()
    }

    /// Queries waiting for their reply or its end.
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

/// `in-addr.arpa`/`ip6.arpa` name of an address (what a PTR query asks).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                for nib in [b & 0xf, b >> 4] {
                    s.push(char::from_digit(u32::from(nib), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// One answer line's `NAME is DEST` into the query's event.
fn apply(e: &mut Event<'static>, aname: &str, dest: &str) {
    let owner: Cow<'static, str> = Cow::Owned(name(aname).into_owned());
    let rcode: Option<Cow<'static, str>> = match dest {
        "NXDOMAIN" => Some("NXDOMAIN".into()),
        "NODATA" | "NODATA-IPv4" | "NODATA-IPv6" => Some("NOERROR".into()),
        "SERVFAIL" | "REFUSED" => Some(Cow::Owned(dest.to_owned())),
        "not implemented" => Some("NOTIMP".into()),
        d if !d.is_empty() && d.len() <= 5 && d.bytes().all(|b| b.is_ascii_digit()) => {
            Some(rcode_name(d.parse().unwrap_or(u32::MAX)))
        }
        _ => None,
    };
    let Some(d) = e.dns.as_mut() else {
        return;
    };
    // The name after `is <CNAME>` is the alias's target.
    if let Some(last) = d.answers.last_mut() {
        if last.rtype == "CNAME" && last.data.is_empty() && aname != "error" {
            last.data = owner.clone();
        }
    }
    if let Some(r) = rcode {
        if d.response_code.is_none() {
            set_rcode(e, r);
        }
        return;
    }
    let answer = if let Some(ip) = parse_ip(dest) {
        address_answer(owner, ip, None)
    } else if let Some(t) = dest.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        // `<CNAME>`, `<TXT>`, `<type=65399>`: the type without its data.
        let rtype = match t.strip_prefix("type=") {
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 5 => {
                Cow::Owned(format!("TYPE{n}"))
            }
            _ => match mnemonic(t) {
                Some(m) => Cow::Owned(m.into_owned()),
                None => return,
            },
        };
        DnsAnswer {
            name: owner,
            rtype,
            data: Cow::Borrowed(""),
            ttl: None,
        }
    } else {
        // A reverse answer: `ADDR is NAME`, the name the PTR query asked for.
        let qname = d.question_name.clone();
        DnsAnswer {
            name: qname,
            rtype: Cow::Borrowed("PTR"),
            data: Cow::Owned(name(dest).into_owned()),
            ttl: None,
        }
    };
    push_answer(d, answer);
    if d.response_code.is_none() {
        set_rcode(e, Cow::Borrowed("NOERROR"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::{Action, Outcome};

    /// The events of `lines` (`pid message`), completed as a scan completes them.
    fn run(lines: &[&str]) -> Vec<Event<'static>> {
        let mut j = Joiner::default();
        let mut out = Vec::new();
        for l in lines {
            let (pid, m) = l.split_once(' ').unwrap();
            let ctx = Ctx {
                timestamp: None,
                host: Some("gw"),
                pid: pid.parse().ok(),
            };
            let line = parse(m).unwrap_or_else(|| panic!("{m}"));
            j.line(&ctx, m, line);
            out.extend(std::iter::from_fn(|| j.take()));
        }
        j.finish();
        out.extend(std::iter::from_fn(|| j.take()));
        out
    }

    fn summary(e: &Event<'_>) -> String {
        let d = e.dns.as_ref().unwrap();
        let answers: Vec<String> = d
            .answers
            .iter()
            .map(|a| format!("{} {} {}", a.name, a.rtype, a.data))
            .collect();
        format!(
            "{} {} {} {} [{}]",
            e.source_ip.map(|i| i.to_string()).unwrap_or_default(),
            d.question_name,
            d.question_type.as_deref().unwrap_or("-"),
            d.response_code.as_deref().unwrap_or("-"),
            answers.join("; ")
        )
    }

    #[test]
    fn plain_log_queries_as_dnsmasq_writes_them() {
        // Lines of a real dnsmasq 2.90 (`--log-queries`), one upstream.
        let got = run(&[
            "7 query[A] unlisted.example from 127.0.0.1",
            "7 forwarded unlisted.example to 127.0.0.1#15354",
            "7 reply unlisted.example is 198.51.100.7",
            "7 query[A] www.cn.example from 127.0.0.1",
            "7 forwarded www.cn.example to 127.0.0.1#15354",
            "7 reply www.cn.example is <CNAME>",
            "7 reply cn.example is NODATA-IPv4",
            "7 query[A] nx.refused.example from 127.0.0.1",
            "7 forwarded nx.refused.example to 127.0.0.1#15354",
            "7 reply nx.refused.example is NXDOMAIN",
            "7 query[AAAA] unlisted.example from 127.0.0.1",
            "7 forwarded unlisted.example to 127.0.0.1#15354",
            "7 reply error is REFUSED",
            "7 query[PTR] 10.2.0.192.in-addr.arpa from ::1",
            "7 /etc/hosts 192.0.2.10 is trusted.corp.test",
            "9 query[A] tcp.unlisted.example from 127.0.0.1",
            "7 query[A] evil.example from 127.0.0.1",
            "7 config evil.example is 203.0.113.66",
            "7 config evil.example is 203.0.113.67",
            "9 forwarded tcp.unlisted.example to 127.0.0.1#15354",
            "9 reply tcp.unlisted.example is 198.51.100.7",
            "7 query[TXT] t.example from 127.0.0.1",
        ]);
        let got: Vec<String> = got.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                "127.0.0.1 unlisted.example A NOERROR [unlisted.example A 198.51.100.7]",
                "127.0.0.1 www.cn.example A NOERROR [www.cn.example CNAME cn.example]",
                "127.0.0.1 nx.refused.example A NXDOMAIN []",
                "127.0.0.1 unlisted.example AAAA REFUSED []",
                "::1 10.2.0.192.in-addr.arpa PTR NOERROR [10.2.0.192.in-addr.arpa PTR trusted.corp.test]",
                "127.0.0.1 evil.example A NOERROR [evil.example A 203.0.113.66; evil.example A 203.0.113.67]",
                "127.0.0.1 tcp.unlisted.example A NOERROR [tcp.unlisted.example A 198.51.100.7]",
                "127.0.0.1 t.example TXT - []",
            ]
        );
    }

    #[test]
    fn extra_mode_joins_by_serial_across_interleaving() {
        let got = run(&[
            "5 1 10.0.0.1/40000 query[A] a.example from 10.0.0.1",
            "5 2 10.0.0.2/40001 query[AAAA] b.example from 10.0.0.2",
            "5 1 10.0.0.1/40000 forwarded a.example to 192.0.2.53",
            "5 2 10.0.0.2/40001 cached b.example is 2001:db8::1 (DNSSEC signed)",
            "5 1 10.0.0.1/40000 reply a.example is 192.0.2.1",
            "5 3 10.0.0.3/40002 query[A] blocked.example from 10.0.0.3",
            "5 3 10.0.0.3/40002 config blocked.example is NXDOMAIN",
            "5 4 10.0.0.4/40003 query[A] x.example from 10.0.0.4",
            "5 4 10.0.0.4/40003 config error is REFUSED (EDE: not ready)",
        ]);
        let s: Vec<String> = got.iter().map(summary).collect();
        assert_eq!(
            s,
            [
                "10.0.0.2 b.example AAAA NOERROR [b.example AAAA 2001:db8::1]",
                "10.0.0.1 a.example A NOERROR [a.example A 192.0.2.1]",
                "10.0.0.3 blocked.example A NXDOMAIN []",
                "10.0.0.4 x.example A REFUSED []",
            ]
        );
        assert_eq!(got[1].source_port, Some(40000));
        assert_eq!(got[0].action, Some(Action::DnsQuery));
        assert_eq!(got[0].outcome, Outcome::Success);
        assert_eq!(got[2].outcome, Outcome::Failure);
        assert_eq!(got[0].dataset, Some(Dataset::DnsDnsmasq));
        assert_eq!(
            got[0].dns.as_ref().unwrap().resolved_ip,
            ["2001:db8::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(got[0].process_pid, Some(5));
        assert_eq!(got[0].host_name.as_deref(), Some("gw"));
    }

    #[test]
    fn an_answer_after_an_older_answered_query_stays_with_its_own() {
        // Found by proptest_dns: flushing the older query moved the newer one's index, and
        // the newer one was flushed after its first answer, its second an orphan.
        let got = run(&[
            "7 1 10.0.0.1/40000 query[A] a.example from 10.0.0.1",
            "7 2 10.0.0.2/40001 query[A] a.example from 10.0.0.2",
            "7 1 10.0.0.1/40000 reply a.example is NXDOMAIN",
            "7 2 10.0.0.2/40001 reply a.example is 198.51.100.0",
            "7 2 10.0.0.2/40001 reply a.example is 198.51.100.1",
        ]);
        let s: Vec<String> = got.iter().map(summary).collect();
        assert_eq!(
            s,
            [
                "10.0.0.1 a.example A NXDOMAIN []",
                "10.0.0.2 a.example A NOERROR [a.example A 198.51.100.0; a.example A 198.51.100.1]",
            ]
        );
    }

    #[test]
    fn the_ossec_sample_and_orphans() {
        // ossec-rules-tests' dnsmasq lines (extra mode), then an answer whose query the log
        // never had.
        let got = run(&[
            "15210 21745 10.10.10.33/59490 query[A] server.example.com from 10.10.10.33",
            "15210 21745 10.10.10.33/59490 forwarded server.example.com to 10.20.20.10",
            "15210 21745 10.10.10.33/59490 reply server.example.com is <CNAME>",
            "15210 reply lost.example is 192.0.2.9",
        ]);
        let s: Vec<String> = got.iter().map(summary).collect();
        assert_eq!(
            s,
            [
                "10.10.10.33 server.example.com A NOERROR [server.example.com CNAME ]",
                " lost.example - NOERROR [lost.example A 192.0.2.9]",
            ]
        );
    }

    #[test]
    fn not_query_log_lines() {
        for m in [
            "started, version 2.90 cachesize 150",
            "using nameserver 127.0.0.1#15354",
            "read /etc/hosts - 1 names",
            "DHCPACK(eth0) 192.168.1.5 aa:bb:cc:dd:ee:ff host",
            "12 query[A] name",
            "query[A]  from 1.2.3.4",
            "reply x",
        ] {
            assert_eq!(parse(m), None, "{m}");
        }
        // A name with blanks: the client is still the last word.
        let l = parse("query[A] a from 6.6.6.6 from 10.0.0.1").unwrap();
        assert!(matches!(
            l.kind,
            Kind::Query {
                name: "a from 6.6.6.6",
                from: "10.0.0.1",
                ..
            }
        ));
    }

    #[test]
    fn memory_is_bounded_and_idle_flushes() {
        let mut j = Joiner::default();
        let ctx = Ctx::default();
        for i in 0..MAX_OPEN + 10 {
            let m = format!("query[A] n{i}.example from 10.0.0.1");
            let l = parse(&m).unwrap();
            j.line(&ctx, &m, l);
        }
        assert_eq!(j.open(), MAX_OPEN);
        assert_eq!(std::iter::from_fn(|| j.take()).count(), 10);
        let m = &format!("reply n{}.example is 192.0.2.1", MAX_OPEN + 9);
        j.line(&ctx, m, parse(m).unwrap());
        j.idle();
        // The answered one at the first quiet second, the others after IDLE_UNANSWERED.
        assert_eq!(std::iter::from_fn(|| j.take()).count(), 1);
        for _ in 1..IDLE_UNANSWERED {
            j.idle();
        }
        assert_eq!(j.open(), 0);
        assert_eq!(std::iter::from_fn(|| j.take()).count(), MAX_OPEN - 1);
    }
}
