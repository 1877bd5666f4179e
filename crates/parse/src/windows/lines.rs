//! Windows records in line inputs (`logward scan` on text files and stdin, the agent's
//! file, stdin and command sources), for [`crate::LineDecoder`]: a Winlogbeat document per
//! line (a Winlogbeat `output.file`), and Event XML one event per line, several per line, or
//! pretty-printed over several lines — joined until `</Event>`.
//!
//! An open event is given up (an error event says it was cut off) when a line starts a new
//! `<Event`, after [`MAX_LINES`] lines or [`super::xml::MAX_EVENT`] bytes, and at the end of
//! the input; the lines it had taken after its first are then handed back to be decoded as
//! the ordinary lines they may be, so a stray `<Event` in a log hides nothing after it.

use std::borrow::Cow;
use std::collections::VecDeque;

use logward_core::{Action, Event};

use super::xml::{self, Splitter, XmlError, MAX_EVENT};
use super::{decode, winlogbeat, WinRecord};

/// The most lines one Event XML event may span in a line input.
pub const MAX_LINES: usize = 4096;

/// What a line of Event XML gave, in order.
#[derive(Debug)]
pub enum Piece {
    /// A record's event, or an `unknown` event saying why a record could not be read.
    Event(Box<Event<'static>>),
    /// A line an open event had taken and gave back: decode it as an ordinary line.
    Line(String),
}

/// The Windows part of one line input's state.
#[derive(Debug, Default)]
pub struct WinLines {
    xml: Splitter,
    /// The lines of the open event (the first is where it began).
    held: Vec<String>,
    held_bytes: usize,
    /// Events completed by a line besides its own (the earlier of several on one line, an
    /// unfinished event cut off by the end of the input).
    pub(crate) queue: VecDeque<Event<'static>>,
    /// Malformed or cut-off records since the last [`WinLines::take_errors`].
    errors: u64,
    results: Vec<Result<WinRecord, XmlError>>,
}

impl WinLines {
    /// Whether Event XML is open across lines (then every line goes to [`WinLines::xml`]).
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.xml.is_pending()
    }

    /// A `{` line's Winlogbeat event; `None` when the line is no Winlogbeat document (it
    /// goes on to the journal framing).
    pub fn json(&mut self, line: &str) -> Option<Event<'static>> {
        if !winlogbeat::mentions_winlog(line.as_bytes()) {
            return None;
        }
        let rec = winlogbeat::parse(line).ok()?;
        Some(decode(&rec).into_owned())
    }

    /// Whether `line` starts Event XML (after a fold marker or a byte-order mark).
    #[inline]
    pub fn starts_xml(line: &str) -> bool {
        matches!(line.as_bytes().first(), Some(b'<' | b'-' | 0xEF))
            && xml::looks_like_xml(line.as_bytes())
    }

    /// A line that starts Event XML, or any line while an event is open: what it gives, in
    /// order, to `out`.
    pub fn xml(&mut self, line: &str, out: &mut Vec<Piece>) {
        if self.xml.is_pending() {
            let trimmed = line.trim_start_matches([' ', '\t', '-']);
            if xml::starts_event(trimmed)
                || self.held.len() >= MAX_LINES
                || self.held_bytes + line.len() + 1 > MAX_EVENT
            {
                // The lines it took come back first, then this one, all to be decoded anew
                // (this one may start the next event).
                self.abandon(out);
                out.push(Piece::Line(line.to_owned()));
                return;
            }
        }
        if !self.xml.is_pending() && !Self::starts_xml(line) {
            // Not Event XML (a caller's line after an event was given up).
            out.push(Piece::Line(line.to_owned()));
            return;
        }
        let mut results = std::mem::take(&mut self.results);
        self.xml.push_line(line, &mut results);
        let completed = !results.is_empty();
        for r in results.drain(..) {
            out.push(Piece::Event(Box::new(self.event(r))));
        }
        self.results = results;
        if !self.xml.is_pending() || completed {
            self.held.clear();
            self.held_bytes = 0;
        }
        if self.xml.is_pending() {
            self.held_bytes += line.len() + 1;
            self.held.push(line.to_owned());
        }
    }

    /// Gives up the open event: its error, then the lines it took after its first.
    fn abandon(&mut self, out: &mut Vec<Piece>) {
        let mut results = std::mem::take(&mut self.results);
        self.xml.finish(&mut results);
        for r in results.drain(..) {
            out.push(Piece::Event(Box::new(self.event(r))));
        }
        self.results = results;
        out.extend(self.held.drain(..).skip(1).map(Piece::Line));
        self.held_bytes = 0;
    }

    fn event(&mut self, r: Result<WinRecord, XmlError>) -> Event<'static> {
        match r {
            Ok(rec) => decode(&rec).into_owned(),
            Err(err) => {
                self.errors += 1;
                Event {
                    action: Some(Action::Unknown),
                    message: Some(Cow::Owned(err.to_string())),
                    ..Event::default()
                }
            }
        }
    }

    /// End of input: an open event is cut off (its error, then its lines after the first).
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        if self.xml.is_pending() {
            self.abandon(out);
        }
    }

    /// Whether [`WinLines::take`] has an event.
    #[inline]
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    pub fn take(&mut self) -> Option<Event<'static>> {
        self.queue.pop_front()
    }

    /// Malformed or cut-off records met since the last call.
    pub fn take_errors(&mut self) -> u64 {
        std::mem::take(&mut self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = "<Event xmlns='e'><System><EventID>4625</EventID><Channel>Security</Channel></System><EventData><Data Name='TargetUserName'>bob</Data></EventData></Event>";

    fn events(out: &mut Vec<Piece>) -> Vec<Event<'static>> {
        out.drain(..)
            .map(|p| match p {
                Piece::Event(e) => *e,
                Piece::Line(l) => panic!("line {l}"),
            })
            .collect()
    }

    #[test]
    fn pretty_printed_over_lines_and_several_on_one() {
        let mut w = WinLines::default();
        let mut out = Vec::new();
        let pretty = "<?xml version='1.0'?>\n<Event xmlns='e'>\n <System>\n  <EventID>4625</EventID>\n  <Channel>Security</Channel>\n </System>\n <EventData>\n  <Data Name='TargetUserName'>bob\nsmith</Data>\n </EventData>\n</Event>";
        let mut got = Vec::new();
        for l in pretty.lines() {
            w.xml(l, &mut out);
            got.extend(events(&mut out));
            assert_eq!(
                w.is_pending(),
                got.is_empty() && !l.starts_with("<?xml"),
                "{l}"
            );
        }
        assert_eq!(got.len(), 1);
        let wl = got[0].winlog.as_ref().unwrap();
        assert_eq!(wl.data("TargetUserName"), Some("bob\nsmith"));
        assert_eq!(got[0].action(), Action::UserLogin);
        // Two on one line.
        w.xml(&format!("{EV}{EV}"), &mut out);
        assert_eq!(events(&mut out).len(), 2);
        assert_eq!(w.take_errors(), 0);
    }

    #[test]
    fn a_cut_off_event_is_an_error_and_gives_its_lines_back() {
        let mut w = WinLines::default();
        let mut out = Vec::new();
        w.xml("<Event xmlns='e'>", &mut out);
        w.xml(
            "Nov 22 10:00:01 web01 sshd[7]: Failed password for root from 192.0.2.1 port 1 ssh2",
            &mut out,
        );
        assert!(out.is_empty() && w.is_pending());
        w.xml(EV, &mut out);
        let mut it = out.drain(..);
        let Some(Piece::Event(err)) = it.next() else {
            panic!()
        };
        assert!(err.message.unwrap().contains("cut off"));
        assert!(matches!(it.next(), Some(Piece::Line(l)) if l.contains("sshd[7]")));
        assert!(matches!(it.next(), Some(Piece::Line(l)) if l == EV));
        assert!(it.next().is_none());
        drop(it);
        // At the end of the input, and after too many lines.
        w.xml("<Event xmlns='e'>", &mut out);
        w.finish(&mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        w.xml("<Event xmlns='e'>", &mut out);
        for i in 0..MAX_LINES + 5 {
            w.xml(&format!("line {i}"), &mut out);
        }
        assert!(!w.is_pending());
        let lines = out.iter().filter(|p| matches!(p, Piece::Line(_))).count();
        assert_eq!(
            lines,
            MAX_LINES + 5,
            "every line after the first comes back"
        );
        assert_eq!(w.take_errors(), 3);
    }
}
