//! Unbound's query log: `log-queries: yes` writes `CLIENT NAME. TYPE CLASS` when a query
//! comes, `log-replies: yes` writes `CLIENT NAME. TYPE CLASS RCODE SECONDS CACHED SIZE` when
//! it is answered, and `log-local-actions: yes` writes `ZONE. ACTION CLIENT@PORT NAME. TYPE
//! CLASS` for a local zone's answer — each after `[PID:THREAD] info: ` (syslog) or
//! `[EPOCH] unbound[PID:THREAD] info: ` (its own `logfile:`). Unbound logs no answer records.
//!
//! With both, the reply completes the query's event (one event per query, its time the
//! query's); a reply whose query line was not seen (`log-replies` alone) is an event of its
//! own; a query whose reply never comes (`log-queries` alone) is flushed without a response
//! code — when [`MAX_OPEN`] newer ones wait, after [`MAX_AGE`] lines, after
//! [`super::dnsmasq::IDLE_UNANSWERED`] quiet seconds ([`Joiner::idle`]) or at the end of the
//! input. The local action's line gives the client's port.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;

use logward_core::event::parse_ip;
use logward_core::{Dataset, Event, Timestamp};

use super::dnsmasq::IDLE_UNANSWERED;
use super::fields::{mnemonic, name, set_rcode, start};
use crate::decoders::scan;

/// Queries waiting for their reply at once.
pub const MAX_OPEN: usize = 256;
/// Lines after which a query still waiting is flushed.
pub const MAX_AGE: u64 = 4096;

/// One query-log line's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The thread of `[PID:THREAD]`.
    pub thread: &'a str,
    pub client: IpAddr,
    pub port: Option<u16>,
    pub name: &'a str,
    pub qtype: &'a str,
    pub class: &'a str,
    pub kind: Kind<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind<'a> {
    Query,
    /// `log-replies`: the response code.
    Reply(&'a str),
    /// `log-local-actions`: the local zone's action (`redirect`, `always_nxdomain` …).
    Local,
}

/// The `[EPOCH] unbound[PID:THREAD] MESSAGE` of Unbound's own log file: its time, pid and
/// the `[PID:THREAD] …` message the rest of this module reads. `None` for other lines.
pub fn own_log_line(line: &str) -> Option<(Timestamp, u32, &str)> {
    let rest = line.strip_prefix('[')?;
    let (secs, rest) = rest.split_once("] unbound[")?;
    let ts = super::fields::epoch(secs)?;
    let (pid, _) = rest.split_once(':')?;
    let pid: u32 = pid.parse().ok()?;
    // The message keeps its `[PID:THREAD]`, as in syslog.
    let message = line.get(line.len() - rest.len() - 1..)?;
    Some((ts, pid, message))
}

/// Parses an Unbound message (`[PID:THREAD] info: …`); `None` when it is not a query-log
/// line.
pub fn parse(message: &str) -> Option<Line<'_>> {
    let rest = message.strip_prefix('[')?;
    let (ids, rest) = rest.split_once("] ")?;
    let (_, thread) = ids.split_once(':')?;
    let body = rest.strip_prefix("info: ")?;
    let mut w = [""; 9];
    let mut n = 0;
    for word in body.split(' ') {
        if n == w.len() {
            return None;
        }
        w[n] = word;
        n += 1;
    }
    let (client, port, (qname, qtype, class), kind) = match n {
        4 => (parse_ip(w[0])?, None, tail(w[1], w[2], w[3])?, Kind::Query),
        8 => {
            let numeric =
                |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if !(mnemonic(w[4]).is_some() && numeric(w[5]) && numeric(w[6]) && numeric(w[7])) {
                return None;
            }
            (
                parse_ip(w[0])?,
                None,
                tail(w[1], w[2], w[3])?,
                Kind::Reply(w[4]),
            )
        }
        6 => {
            let (a, p) = w[2].rsplit_once('@')?;
            if !w[0].ends_with('.') {
                return None;
            }
            (
                parse_ip(a)?,
                Some(scan::port(p.as_bytes())?),
                tail(w[3], w[4], w[5])?,
                Kind::Local,
            )
        }
        _ => return None,
    };
    Some(Line {
        thread,
        client,
        port,
        name: qname,
        qtype,
        class,
        kind,
    })
}

/// `NAME. TYPE CLASS`, checked.
fn tail<'a>(name: &'a str, t: &'a str, c: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
    (name.ends_with('.') && mnemonic(t).is_some() && mnemonic(c).is_some()).then_some((name, t, c))
}

/// What the frame said besides the message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx<'a> {
    pub timestamp: Option<Timestamp>,
    pub host: Option<&'a str>,
    pub pid: Option<u32>,
}

#[derive(Debug)]
struct Open {
    key: String,
    event: Event<'static>,
    last_line: u64,
    idle: u8,
}

/// The join state of one input.
#[derive(Debug, Default)]
pub struct Joiner {
    open: VecDeque<Open>,
    flushed: VecDeque<Event<'static>>,
    lines: u64,
}

fn key(ctx: &Ctx<'_>, l: &Line<'_>) -> String {
    format!(
        "{}\0{:?}\0{}\0{}\0{}\0{}\0{}",
        ctx.host.unwrap_or(""),
        ctx.pid,
        l.thread,
        l.client,
        name(l.name),
        l.qtype,
        l.class
    )
}

impl Joiner {
    /// Takes a query-log line; the events it completed wait in [`Joiner::take`].
    pub fn line(&mut self, ctx: &Ctx<'_>, message: &str, l: Line<'_>) {
        self.lines += 1;
        let k = key(ctx, &l);
        let found = self.open.iter().position(|o| o.key == k);
        match (l.kind, found) {
            (Kind::Query, _) => {
                if self.open.len() >= MAX_OPEN {
                    self.flush_at(0);
                }
                let e = event(ctx, message, &l);
                self.open.push_back(Open {
                    key: k,
                    event: e,
                    last_line: self.lines,
                    idle: 0,
                });
            }
            (Kind::Local, Some(i)) => {
                if let Some(o) = self.open.get_mut(i) {
                    o.event.source_port = l.port;
                    o.last_line = self.lines;
                    o.idle = 0;
                }
            }
            // A local action whose query line was not logged says nothing more than the
            // reply that follows it.
            (Kind::Local, None) => {}
            (Kind::Reply(rcode), Some(i)) => {
                if let Some(mut o) = self.open.remove(i) {
                    set_rcode(&mut o.event, Cow::Owned(rcode.to_ascii_uppercase()));
                    self.flushed.push_back(o.event);
                }
            }
            (Kind::Reply(rcode), None) => {
                let mut e = event(ctx, message, &l);
                set_rcode(&mut e, Cow::Owned(rcode.to_ascii_uppercase()));
                self.flushed.push_back(e);
            }
        }
        let lines = self.lines;
        while self
            .open
            .front()
            .is_some_and(|o| lines.saturating_sub(o.last_line) > MAX_AGE)
        {
            self.flush_at(0);
        }
    }

    fn flush_at(&mut self, i: usize) {
        if let Some(o) = self.open.remove(i) {
            self.flushed.push_back(o.event);
        }
    }

    /// A quiet second of a followed log: queries whose reply has not come for
    /// [`IDLE_UNANSWERED`] calls are given up waiting.
    pub fn idle(&mut self) {
        let mut i = 0;
        while i < self.open.len() {
            let o = &mut self.open[i];
            o.idle = o.idle.saturating_add(1);
            if o.idle >= IDLE_UNANSWERED {
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

    #[inline]
    pub fn has_flushed(&self) -> bool {
        !self.flushed.is_empty()
    }

    pub fn take(&mut self) -> Option<Event<'static>> {
        self.flushed.pop_front()
    }

    pub fn open(&self) -> usize {
        self.open.len()
    }
}

fn event(ctx: &Ctx<'_>, message: &str, l: &Line<'_>) -> Event<'static> {
    let mut e = Event::default();
    let d = start(
        &mut e,
        Dataset::DnsUnbound,
        Cow::Owned(name(l.name).into_owned()),
    );
    d.question_type = mnemonic(l.qtype).map(|t| Cow::Owned(t.into_owned()));
    d.question_class = mnemonic(l.class).map(|t| Cow::Owned(t.into_owned()));
    e.set_source(Cow::Owned(l.client.to_string()), l.port);
    e.timestamp = ctx.timestamp;
    e.host_name = ctx.host.map(|h| Cow::Owned(h.to_owned()));
    e.process_name = Some(Cow::Borrowed("unbound"));
    e.process_pid = ctx.pid;
    e.message = Some(Cow::Owned(message.to_owned()));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::{Action, Outcome};

    fn run(lines: &[&str]) -> Vec<Event<'static>> {
        let mut j = Joiner::default();
        let mut out = Vec::new();
        for l in lines {
            let (ts, pid, m) = own_log_line(l).unwrap_or_else(|| panic!("{l}"));
            let ctx = Ctx {
                timestamp: Some(ts),
                host: None,
                pid: Some(pid),
            };
            match parse(m) {
                Some(line) => j.line(&ctx, m, line),
                None => assert!(!m.contains(" IN"), "{m}"),
            }
            out.extend(std::iter::from_fn(|| j.take()));
        }
        j.finish();
        out.extend(std::iter::from_fn(|| j.take()));
        out
    }

    #[test]
    fn a_real_unbound_log() {
        // Unbound 1.17 with log-queries, log-replies and log-local-actions.
        let got = run(&[
            "[1796606402] unbound[4959:0] info: start of service (unbound 1.17.1).",
            "[1796606403] unbound[4959:0] info: 127.0.0.1 evil.example. A IN",
            "[1796606403] unbound[4959:0] info: evil.example. redirect 127.0.0.1@35990 evil.example. A IN",
            "[1796606403] unbound[4959:0] info: 127.0.0.1 evil.example. A IN NOERROR 0.000000 1 57",
            "[1796606404] unbound[4959:0] info: 127.0.0.1 Unlisted.Example. A IN",
            "[1796606404] unbound[4959:1] info: ::1 trusted.corp.test. AAAA IN",
            "[1796606404] unbound[4959:0] info: . refuse 127.0.0.1@50444 unlisted.example. A IN",
            "[1796606404] unbound[4959:0] info: 127.0.0.1 unlisted.example. A IN REFUSED 0.000000 1 45",
            "[1796606405] unbound[4959:0] info: 127.0.0.1 blocked.example. A IN NXDOMAIN 0.000000 1 44",
            "[1796606405] unbound[4959:0] info: server stats for thread 0: 9 queries, 9 answers from cache, 0 recursions, 0 prefetch, 0 rejected by ip ratelimiting",
        ]);
        let s: Vec<String> = got
            .iter()
            .map(|e| {
                let d = e.dns.as_ref().unwrap();
                format!(
                    "{} {:?} {} {} {} {}",
                    e.source_ip.unwrap(),
                    e.source_port,
                    d.question_name,
                    d.question_type.as_deref().unwrap(),
                    d.question_class.as_deref().unwrap(),
                    d.response_code.as_deref().unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            s,
            [
                "127.0.0.1 Some(35990) evil.example A IN NOERROR",
                "127.0.0.1 Some(50444) unlisted.example A IN REFUSED",
                "127.0.0.1 None blocked.example A IN NXDOMAIN",
                "::1 None trusted.corp.test AAAA IN -",
            ]
        );
        assert_eq!(got[0].timestamp.map(|t| t.unix), Some(1_796_606_403));
        assert_eq!(got[0].action, Some(Action::DnsQuery));
        assert_eq!(got[0].dataset, Some(Dataset::DnsUnbound));
        assert_eq!(got[1].outcome, Outcome::Failure);
        assert_eq!(got[0].process_pid, Some(4959));
    }

    #[test]
    fn syslog_messages_and_other_lines() {
        // ossec-rules-tests' Unbound line.
        let l = parse("[2541:0] info: 127.0.0.1 talkgadget.google.com. A IN").unwrap();
        assert_eq!(
            (l.name, l.qtype, l.kind),
            ("talkgadget.google.com.", "A", Kind::Query)
        );
        for m in [
            "[9405:0] notice: sendto failed: Can't assign requested address",
            "[2541:0] info: server stats for thread 0: 3 queries, 2 answers from cache, 1 recursions, 0 prefetch",
            "[2541:0] info: 127.0.0.1 x A IN",
            "[2541:0] info: notanip x. A IN",
            "[2541:0] info: 127.0.0.1 x. A IN NOERROR x 1 2",
            "[2541:0] info: 1 2 3 4 5 6 7 8 9 10",
        ] {
            assert_eq!(parse(m), None, "{m}");
        }
    }

    #[test]
    fn unanswered_queries_are_bounded() {
        let mut j = Joiner::default();
        let ctx = Ctx::default();
        for i in 0..MAX_OPEN + 5 {
            let m = format!("[1:0] info: 10.0.0.1 n{i}.example. A IN");
            j.line(&ctx, &m, parse(&m).unwrap());
        }
        assert_eq!(j.open(), MAX_OPEN);
        for _ in 0..IDLE_UNANSWERED {
            j.idle();
        }
        assert_eq!(j.open(), 0);
        assert_eq!(std::iter::from_fn(|| j.take()).count(), MAX_OPEN + 5);
    }
}
