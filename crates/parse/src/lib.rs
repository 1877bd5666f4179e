//! logward's decoding layer: lines in, ECS [`Event`]s out. Synchronous and pure; never panics.
//!
//! [`LineDecoder::decode`] is the hot path of `logward scan` and of every agent source:
//! [`frame`] splits the syslog/journal header, [`decoders`] recognise the message by program,
//! and [`correlate`] fills in the peer that only earlier lines of the same sshd process named.

pub mod beats;
pub mod clock;
pub mod conn_failures;
pub mod correlate;
pub mod decoders;
pub mod dns;
pub mod frame;
pub mod journal;
pub mod lines;
pub mod rotation;
pub mod text;
pub mod utmp;
pub mod windows;

use std::borrow::Cow;

use logward_core::{Action, Event};

pub use clock::{YearResolver, YearRule, Zone};
pub use decoders::{Decoded, Found};
pub use frame::Frame;

/// Lines longer than this are cut (on a UTF-8 boundary) before decoding and counted.
pub const MAX_LINE: usize = 64 * 1024;

/// Decodes the lines of one input, in order. Holds the per-input state: the year roll-over
/// and the sshd session correlator.
#[derive(Debug)]
pub struct LineDecoder {
    years: YearResolver,
    correlator: correlate::Correlator,
    /// Joins the records of one audit event (SYSCALL + EXECVE) by serial.
    audit: decoders::audit::Joiner,
    /// Winlogbeat documents and Event XML (joined across lines).
    windows: windows::lines::WinLines,
    /// DNS query logs (dnsmasq, Unbound: joined across lines), Zeek and packetbeat records.
    dns: dns::lines::DnsLines,
}

impl LineDecoder {
    pub fn new(years: YearResolver) -> Self {
        LineDecoder {
            years,
            correlator: correlate::Correlator::default(),
            audit: decoders::audit::Joiner::default(),
            windows: windows::lines::WinLines::default(),
            dns: dns::lines::DnsLines::default(),
        }
    }

    /// Starts a new input with its own year rule; the session correlator carries over, so a
    /// session that spans a rotation stays whole.
    pub fn set_years(&mut self, years: YearResolver) {
        self.years = years;
    }

    /// Decodes one line (without its newline). Always returns an event: a line no decoder
    /// recognises is `event.action: unknown` with its message kept.
    ///
    /// The returned event is copied once (472 bytes) into the caller's variable; a hot loop
    /// saves that by calling [`LineDecoder::decode_into`] on its own `Event::default()`.
    #[inline]
    pub fn decode<'a>(&mut self, line: &'a str) -> Event<'a> {
        let mut e = Event::default();
        self.decode_into(line, &mut e);
        e
    }

    /// [`LineDecoder::decode`] into an event the caller provides, which must be fresh
    /// (`Event::default()`, or with only fields no decoder or framing writes — `log.file.*`,
    /// `log.offset`, `event.original` — set). The decoders fill it in place: one event per
    /// line, never built in a decoder and moved out.
    ///
    /// Returns whether the line made an event: `false` for a line of Windows Event XML
    /// that completes none (it continues an event spread over lines, or is only the
    /// `<?xml?>` declaration or the `<Events>` wrapper), a Zeek log's header line, and a
    /// line of a DNS server's query log (dnsmasq, Unbound: its query's one event comes from
    /// [`LineDecoder::take_joined`] once complete); then `e` is untouched and the caller
    /// emits nothing for the line.
    pub fn decode_into<'a>(&mut self, line: &'a str, e: &mut Event<'a>) -> bool {
        let first = line.as_bytes().first();
        // audit.log records start `type=` or `node=`; syslog lines never do.
        if matches!(first, Some(b't' | b'n'))
            && decoders::audit::is_log_line(line)
            && self.audit_log_line(line, e)
        {
            return true;
        }
        // Windows records: `{` with a `winlog` key, XML, or the rest of an open XML event.
        if self.windows.is_pending() || matches!(first, Some(b'{' | b'<' | b'-' | 0xEF)) {
            if let Some(made) = self.windows_line(line, e) {
                return made;
            }
        }
        // DNS records: a Zeek TSV header and its rows, Zeek JSON, packetbeat documents,
        // Unbound's own log file.
        if matches!(first, Some(b'#' | b'{' | b'[')) || self.dns.in_zeek() {
            if let Some(made) = self.dns_record(line, e) {
                return made;
            }
        }
        let Frame {
            timestamp,
            host,
            program,
            pid,
            message,
            severity,
            facility,
            unit,
            journald,
            claimed_program,
        } = frame::frame(line, &mut self.years);
        let mut timestamp = timestamp;
        let mut program = program;
        // A DNS server's query log: joined across lines into one event per query.
        if let Some(p) = program.as_deref() {
            if dns::lines::DnsLines::is_server(p) {
                let f = dns::lines::Framed {
                    timestamp,
                    host: host.as_deref(),
                    program: p,
                    pid,
                };
                if self.dns.server_line(&f, &message) {
                    return false;
                }
            }
        }
        let found = match (&message, program.as_deref()) {
            (&Cow::Borrowed(msg), None) => {
                decoders::unframed::decode(msg, &mut self.years, e).map(|u| {
                    timestamp = timestamp.or(u.timestamp);
                    program = u.program.map(Cow::Borrowed);
                    u.found
                })
            }
            (Cow::Owned(_), None) => None,
            (&Cow::Borrowed(msg), Some(p)) => match self.audit_message(p, msg, e) {
                Some((found, time)) => {
                    timestamp = time.or(timestamp);
                    found
                }
                None => decoders::decode(p, msg, e),
            },
            // Journal messages are owned by the frame: decode, then detach from them.
            (Cow::Owned(msg), Some(p)) => {
                let mut local = Event::default();
                let found = match self.audit_message(p, msg, &mut local) {
                    Some((found, time)) => {
                        timestamp = time.or(timestamp);
                        found
                    }
                    None => decoders::decode(p, msg, &mut local),
                };
                found.map(|found| {
                    decoders::move_owned(local, e);
                    found.into_owned()
                })
            }
        };
        let ambiguous_peers = match found {
            Some(found) => found.ambiguous_peers,
            None => {
                e.action = Some(Action::Unknown);
                Vec::new()
            }
        };
        self.correlator.observe(
            host.as_deref(),
            program.as_deref(),
            pid,
            e,
            &ambiguous_peers,
        );
        e.timestamp = timestamp;
        e.host_name = host;
        e.process_name = program;
        e.process_pid = pid;
        e.syslog_severity = severity;
        e.syslog_facility = facility;
        e.systemd_unit = unit;
        e.journald = journald;
        e.claimed_program = claimed_program;
        e.message = Some(message);
        true
    }

    /// A Winlogbeat document or a line of Event XML: whether it made an event; `None` when
    /// the line is neither (it goes on to the framing).
    #[cold]
    fn windows_line<'a>(&mut self, line: &'a str, e: &mut Event<'a>) -> Option<bool> {
        let event = if self.windows.is_pending() || windows::lines::WinLines::starts_xml(line) {
            let before = self.windows.queue.len();
            let mut pieces = Vec::new();
            self.windows.xml(line, &mut pieces);
            self.windows_pieces(pieces);
            // The newest event is the line's own; the others wait for `take_joined`.
            if self.windows.queue.len() == before {
                return Some(false);
            }
            self.windows.queue.pop_back()?
        } else if line.starts_with('{') {
            self.windows.json(line)?
        } else {
            return None;
        };
        // What the caller set before decoding stays (see `decode_into`).
        let (path, number, offset) = (e.file_path.take(), e.file_line, e.offset);
        *e = event;
        (e.file_path, e.file_line, e.offset) = (path, number, offset);
        Some(true)
    }

    /// A Zeek, packetbeat or Unbound record line: whether it made an event; `None` when it
    /// is none (it goes on to the framing).
    #[cold]
    fn dns_record<'a>(&mut self, line: &'a str, e: &mut Event<'a>) -> Option<bool> {
        let event = match line.as_bytes().first() {
            Some(b'[') if !self.dns.in_zeek() => {
                let (ts, pid, message) = dns::unbound::own_log_line(line)?;
                let f = dns::lines::Framed {
                    timestamp: Some(ts),
                    host: None,
                    program: "unbound",
                    pid: Some(pid),
                };
                return self.dns.server_line(&f, message).then_some(false);
            }
            Some(b'{') if !self.dns.in_zeek() => self.dns.json_line(line)?,
            _ => match self.dns.zeek_line(line) {
                dns::lines::Taken::No => return None,
                dns::lines::Taken::Joined => return Some(false),
                dns::lines::Taken::Event(ev) => *ev,
            },
        };
        // What the caller set before decoding stays (see `decode_into`).
        let (path, number, offset) = (e.file_path.take(), e.file_line, e.offset);
        *e = event;
        (e.file_path, e.file_line, e.offset) = (path, number, offset);
        Some(true)
    }

    /// A followed input went quiet for a second (the agent calls this once a second):
    /// queries of DNS query logs that are complete, or that waited too long for their
    /// reply, are flushed for [`LineDecoder::take_joined`]. See `dns::dnsmasq`.
    pub fn idle(&mut self) {
        self.dns.idle();
    }

    /// Malformed DNS records (Zeek rows, packetbeat documents) met since the last call; each
    /// also made an `unknown` event saying what was wrong.
    pub fn take_dns_errors(&mut self) -> u64 {
        self.dns.take_errors()
    }

    /// Queues what Event XML lines gave: events, and lines an abandoned event gives back,
    /// decoded now as the ordinary lines they are.
    fn windows_pieces(&mut self, pieces: Vec<windows::lines::Piece>) {
        for p in pieces {
            match p {
                windows::lines::Piece::Event(ev) => self.windows.queue.push_back(*ev),
                windows::lines::Piece::Line(l) => {
                    let mut ev = Event::default();
                    if self.decode_into(&l, &mut ev) {
                        let ev = ev.into_owned();
                        self.windows.queue.push_back(ev);
                    }
                }
            }
        }
    }

    /// Malformed or cut-off Windows records (Event XML) met since the last call; each also
    /// made an `unknown` event saying what was wrong.
    pub fn take_windows_errors(&mut self) -> u64 {
        self.windows.take_errors()
    }

    /// An audit.log line; `false` (and `e` untouched) when it is not a record after all.
    #[cold]
    fn audit_log_line<'a>(&mut self, line: &'a str, e: &mut Event<'a>) -> bool {
        let Some(rec) = decoders::audit::record::parse(line) else {
            return false;
        };
        if decoders::audit::decode(&rec, &mut self.audit, e).is_none() {
            // A record that makes no event of its own is still auditd's (not "unrecognised").
            e.dataset = Some(logward_core::Dataset::Auditd);
            e.action = Some(Action::Unknown);
        }
        e.timestamp = e.timestamp.or(rec.time);
        e.host_name = rec.node.map(Cow::Borrowed);
        e.process_name = Some(Cow::Borrowed("auditd"));
        e.message = Some(Cow::Borrowed(line));
        true
    }

    /// An audit record in an audit program's syslog message (the kernel's, the journal's,
    /// auditd's plugins): what the record decoded to (a record that makes no event is
    /// `unknown` with `event.dataset: auditd`) and its own time. `None` when `program` writes no audit records or the message
    /// is not one, for the other decoders.
    #[inline]
    fn audit_message<'a>(
        &mut self,
        program: &str,
        message: &'a str,
        e: &mut Event<'a>,
    ) -> Option<(Option<Found<'a>>, Option<logward_core::Timestamp>)> {
        if !decoders::audit::is_program(program) {
            return None;
        }
        let rec = decoders::audit::syslog_record(message)?;
        let found = decoders::audit::decode(&rec, &mut self.audit, e).or_else(|| {
            // A record that makes no event of its own is still auditd's (not "unrecognised").
            e.dataset = Some(logward_core::Dataset::Auditd);
            e.action = Some(Action::Unknown);
            Found::yes()
        });
        Some((found, rec.time))
    }

    /// An event the audit joiner completed without a line of its own (an exec whose EXECVE
    /// never came: see `decoders::audit::join`); a DNS query its server's later lines
    /// completed (`dns::dnsmasq`, `dns::unbound`). Callers take these after each line, and
    /// after [`LineDecoder::finish`] at the end of the input.
    /// Also the Windows records a line completed besides its own (several Event XML events
    /// on one line; an XML event cut off by a new one or by the end of the input).
    pub fn take_joined(&mut self) -> Option<Event<'static>> {
        self.audit
            .take()
            .or_else(|| self.windows.take())
            .or_else(|| self.dns.take())
    }

    /// Whether [`LineDecoder::take_joined`] has an event (almost never: ask this first).
    #[inline]
    pub fn has_joined(&self) -> bool {
        self.audit.has_flushed() || self.windows.has_queued() || self.dns.has_queued()
    }

    /// The end of one input (a file): Event XML still open is cut off, an error event for
    /// [`LineDecoder::take_joined`]. Audit events may still be joined with the next input's
    /// lines (a rotation), so they wait for [`LineDecoder::finish`].
    pub fn end_input(&mut self) {
        let mut pieces = Vec::new();
        self.windows.finish(&mut pieces);
        self.windows_pieces(pieces);
    }

    /// End of input: events still waiting to be joined are completed for
    /// [`LineDecoder::take_joined`].
    pub fn finish(&mut self) {
        self.audit.finish();
        self.dns.finish();
        self.end_input();
    }
}

/// Every event of `lines` through `d`, as `logward scan` takes them: each line's joined
/// events first, then its own, and the joiners' rest at the end. For this crate's tests and
/// tests/ (not part of the API).
#[doc(hidden)]
pub fn scan_lines<'l>(
    d: &mut LineDecoder,
    lines: impl IntoIterator<Item = &'l str>,
) -> Vec<Event<'static>> {
    let mut out = Vec::new();
    for l in lines {
        let mut e = Event::default();
        let made = d.decode_into(l, &mut e);
        out.extend(std::iter::from_fn(|| d.take_joined()));
        if made {
            out.push(e.into_owned());
        }
    }
    d.finish();
    out.extend(std::iter::from_fn(|| d.take_joined()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::Outcome;

    #[test]
    fn unknown_lines_keep_their_message() {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let e = d.decode("Nov 22 10:00:01 web01 CRON[77]: (root) CMD (run-parts)");
        assert_eq!(e.action(), Action::Unknown);
        assert_eq!(e.outcome, Outcome::Unknown);
        assert_eq!(e.message.as_deref(), Some("(root) CMD (run-parts)"));
        assert_eq!(e.host_name.as_deref(), Some("web01"));
        assert_eq!(e.process_pid, Some(77));
    }

    #[test]
    fn windows_records_among_lines() {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let wlb = r#"{"@timestamp":"2022-04-29T12:36:01.902Z","winlog":{"channel":"Security","event_id":4625,"computer_name":"dc1","event_data":{"TargetUserName":"eve","IpAddress":"192.0.2.9"}}}"#;
        let got = super::scan_lines(
            &mut d,
            [
                wlb,
                r#"{"MESSAGE":"winlog","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"x"}"#,
                "<Event xmlns='e'>",
                "  <System><EventID>4624</EventID><Channel>Security</Channel></System>",
                "  <EventData><Data Name='TargetUserName'>bob</Data></EventData>",
                "</Event>",
                "<13>Nov 22 10:00:01 web01 prog: x",
            ],
        );
        let actions: Vec<_> = got
            .iter()
            .map(|e| (e.action(), e.user_name.as_deref()))
            .collect();
        assert_eq!(
            actions,
            [
                (Action::UserLogin, Some("eve")),
                (Action::Unknown, None),
                (Action::UserLogin, Some("bob")),
                (Action::Unknown, None),
            ]
        );
        assert_eq!(got[0].source_ip, "192.0.2.9".parse().ok());
        assert_eq!(got[1].message.as_deref(), Some("winlog"));
        assert!(got[2]
            .original
            .as_deref()
            .unwrap()
            .contains("<Data Name='TargetUserName'>bob"));
        assert_eq!(d.take_windows_errors(), 0);
    }

    #[test]
    fn a_stray_event_tag_hides_no_line() {
        // Anyone who can write a whole line to a followed log can write `<Event `: the lines
        // after it are still decoded (when the open event is given up), none is lost.
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let fail =
            "Nov 22 10:00:01 web01 sshd[7]: Failed password for root from 192.0.2.1 port 1 ssh2";
        let good =
            "<Event><System><EventID>4624</EventID><Channel>Security</Channel></System></Event>";
        let got = super::scan_lines(
            &mut d,
            [
                "<Event x='1'>",
                fail,
                fail,
                "<Event y='2'>",
                fail,
                good,
                fail,
            ],
        );
        let summary: Vec<_> = got
            .iter()
            .map(|e| (e.action(), e.outcome, e.winlog.is_some()))
            .collect();
        let (cut, ssh, win) = (
            (Action::Unknown, Outcome::Unknown, false),
            (Action::UserLogin, Outcome::Failure, false),
            (Action::UserLogin, Outcome::Success, true),
        );
        // The second stray event is cut off by the good one (a line starting `<Event`).
        assert_eq!(summary, [cut, ssh, ssh, cut, ssh, win, ssh]);
        assert_eq!(d.take_windows_errors(), 2);
    }

    #[test]
    fn unknown_lines_carry_no_half_decoded_fields() {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        // sshd's decoder writes the user and reason before finding the peer empty.
        let e = d.decode("Nov 22 10:00:01 web01 sshd[77]: User bob from  not allowed because x");
        assert_eq!(e.action(), Action::Unknown);
        assert!(decoders::decoder_fields_unset(&Event {
            action: None,
            ..e.clone()
        }));
        assert_eq!(e.user_name, None);
        assert_eq!(e.reason, None);
        assert_eq!(e.dataset, None);
    }

    #[test]
    fn audit_records_in_every_framing() {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let body = "pid=77 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=192.0.2.1 addr=192.0.2.1 terminal=ssh res=failed'";
        let lines = [
            format!("node=web01 type=USER_AUTH msg=audit(1700000000.250:9): {body}"),
            format!("Nov 22 10:00:01 web01 audit[77]: USER_AUTH {body}"),
            format!("Nov 22 10:00:01 web01 kernel: [ 12.5] audit: type=1100 audit(1700000000.250:9): {body}"),
            format!("Nov 22 10:00:01 web01 audisp-syslog: type=USER_AUTH msg=audit(1700000000.250:9): {body}"),
            format!(
                r#"{{"__REALTIME_TIMESTAMP":"1700000000250000","_HOSTNAME":"web01","_TRANSPORT":"audit","_PID":"77","MESSAGE":"USER_AUTH {}"}}"#,
                body.replace('"', "\\\"")
            ),
        ];
        for l in &lines {
            let e = d.decode(l);
            assert_eq!(e.action(), Action::UserLogin, "{l}");
            assert_eq!(e.outcome, Outcome::Failure, "{l}");
            assert_eq!(e.dataset, Some(logward_core::Dataset::Auditd), "{l}");
            assert_eq!(e.source_ip, "192.0.2.1".parse().ok(), "{l}");
            assert_eq!(e.user_name.as_deref(), Some("root"), "{l}");
            assert_eq!(e.host_name.as_deref(), Some("web01"), "{l}");
        }
        let e = d.decode(&lines[0]);
        assert_eq!(e.process_name.as_deref(), Some("auditd"));
        assert_eq!(e.message.as_deref(), Some(lines[0].as_str()));
        let t = e.timestamp.unwrap();
        assert_eq!((t.unix, t.nanos, t.offset), (1_700_000_000, 250_000_000, 0));
        // Any user can write `logger -t audit …`: the journal says which transport it took.
        let forged = format!(
            r#"{{"_TRANSPORT":"syslog","SYSLOG_IDENTIFIER":"audit","_COMM":"logger","_UID":"1000","MESSAGE":"USER_AUTH {}"}}"#,
            body.replace('"', "\\\"")
        );
        let e = d.decode(&forged);
        assert_eq!(e.action(), Action::Unknown, "{forged}");
        assert_eq!(e.source_ip, None);
        // Records that only complete another are recognised, not "unknown lines".
        for l in [
            "type=PATH msg=audit(1700000000.250:9): item=0 name=\"/etc/shadow\"",
            "Nov 22 10:00:01 web01 audit[77]: CRED_ACQ pid=1 msg='op=PAM:setcred acct=\"root\" res=success'",
        ] {
            let e = d.decode(l);
            assert_eq!(e.action(), Action::Unknown, "{l}");
            assert_eq!(e.dataset, Some(logward_core::Dataset::Auditd), "{l}");
        }
    }
}
