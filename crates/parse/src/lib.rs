//! logward's decoding layer: lines in, ECS [`Event`]s out. Synchronous and pure; never panics.
//!
//! [`LineDecoder::decode`] is the hot path of `logward scan` and of every agent source:
//! [`frame`] splits the syslog/journal header, [`decoders`] recognise the message by program,
//! and [`correlate`] fills in the peer that only earlier lines of the same sshd process named.

pub mod clock;
pub mod correlate;
pub mod decoders;
pub mod frame;
pub mod journal;
pub mod text;

use std::borrow::Cow;

use logward_core::{Action, Event};

pub use clock::{YearResolver, YearRule, Zone};
pub use decoders::Decoded;
pub use frame::Frame;

/// Lines longer than this are cut (on a UTF-8 boundary) before decoding and counted.
pub const MAX_LINE: usize = 64 * 1024;

/// Decodes the lines of one input, in order. Holds the per-input state: the year roll-over
/// and the sshd session correlator.
#[derive(Debug)]
pub struct LineDecoder {
    years: YearResolver,
    correlator: correlate::Correlator,
}

impl LineDecoder {
    pub fn new(years: YearResolver) -> Self {
        LineDecoder {
            years,
            correlator: correlate::Correlator::default(),
        }
    }

    /// Starts a new input with its own year rule; the session correlator carries over, so a
    /// session that spans a rotation stays whole.
    pub fn set_years(&mut self, years: YearResolver) {
        self.years = years;
    }

    /// Decodes one line (without its newline). Always returns an event: a line no decoder
    /// recognises is `event.action: unknown` with its message kept.
    pub fn decode<'a>(&mut self, line: &'a str) -> Event<'a> {
        let frame = frame::frame(line, &mut self.years);
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
        } = frame;
        let decoded = match &message {
            &Cow::Borrowed(msg) => program.as_deref().and_then(|p| decoders::decode(p, msg)),
            // Journal messages are owned by the frame; decode, then detach from them.
            Cow::Owned(msg) => program
                .as_deref()
                .and_then(|p| decoders::decode(p, msg))
                .map(Decoded::into_owned),
        };
        let mut decoded = decoded.unwrap_or_else(|| Decoded::from(unknown_event()));
        self.correlator
            .observe(host.as_deref(), program.as_deref(), pid, &mut decoded);
        let mut e = decoded.event;
        e.timestamp = timestamp;
        e.host_name = host;
        e.process_name = program;
        e.process_pid = pid;
        e.syslog_severity = severity;
        e.syslog_facility = facility;
        e.systemd_unit = unit;
        e.journald = journald;
        e.message = Some(message);
        e
    }
}

fn unknown_event<'a>() -> Event<'a> {
    Event {
        action: Some(Action::Unknown),
        ..Event::default()
    }
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
}
