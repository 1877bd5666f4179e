//! The records of one audit event, joined by their serial (`audit(TS:SERIAL)`).
//!
//! The kernel writes an exec as SYSCALL, EXECVE, CWD, PATH…, PROCTITLE (and EOE in the
//! journal): the SYSCALL says who ran what (`exe`, `AUID`), the EXECVE the arguments. The
//! joiner keeps each exec's SYSCALL until its EXECVE comes, and the EXECVE's line then yields
//! the joined `process-started` event. An exec whose EXECVE never comes (a failed execve, a
//! log cut short) is not lost: it is *flushed* as a `process-started` event of its own, from
//! the SYSCALL alone, when its event ends (its PROCTITLE or EOE), when [`MAX_OPEN`] newer
//! execs are waiting, when [`MAX_AGE`] records went by since, or at the end of the input
//! ([`Joiner::finish`]). Callers take flushed events with [`Joiner::take`] after each line.
//!
//! Memory is bounded: at most [`MAX_OPEN`] open execs, each with fields cut at
//! [`MAX_FIELD`] bytes, and at most [`MAX_OPEN`] + 1 flushed per record.

use std::borrow::Cow;
use std::collections::VecDeque;

use logward_core::{Action, Dataset, Event, Outcome, Timestamp};

use super::record::{self, Record};

/// Execs waiting for their EXECVE at once (records of concurrent events interleave).
pub const MAX_OPEN: usize = 32;
/// Records after which an exec still waiting is flushed: its EXECVE would have come long
/// before.
pub const MAX_AGE: u64 = 512;
/// Longest `exe` or user name kept (PATH_MAX).
pub const MAX_FIELD: usize = 4096;

/// What an exec's SYSCALL record said, kept until its EXECVE.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    pub serial: u64,
    pub node: Option<String>,
    pub time: Option<Timestamp>,
    /// The login user (`AUID`), else the real user (`UID`), as enriched names.
    pub user: Option<String>,
    pub exe: Option<String>,
    pub success: bool,
    /// The joiner's record count when it opened.
    opened_at: u64,
}

/// The join state of one input; lives in `LineDecoder`.
#[derive(Debug, Default)]
pub struct Joiner {
    open: VecDeque<Exec>,
    flushed: VecDeque<Event<'static>>,
    records: u64,
}

fn capped(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_owned()
}

/// Whether a SYSCALL record is an execve/execveat: by the enriched name when there is one,
/// else by the architecture's syscall number.
pub fn is_exec(rec: &Record<'_>) -> bool {
    if let Some(name) = record::field(rec.enriched, "SYSCALL") {
        return matches!(name, "execve" | "execveat");
    }
    let arch = record::field(rec.body, "arch").unwrap_or("");
    let Some(n) = record::field(rec.body, "syscall").and_then(|n| n.parse::<u32>().ok()) else {
        return false;
    };
    match arch {
        // x86_64
        "c000003e" => matches!(n, 59 | 322),
        // i386, arm
        "40000003" => matches!(n, 11 | 358),
        "40000028" => matches!(n, 11 | 387),
        // aarch64, riscv64 (the generic table)
        "c00000b7" | "c00000f3" => matches!(n, 221 | 281),
        // ppc64 / ppc64le, s390x
        "80000015" | "c0000015" => matches!(n, 11 | 362),
        "80000016" => matches!(n, 11 | 354),
        _ => false,
    }
}

impl Joiner {
    /// Counts a record and flushes execs that waited too long. Called once per record.
    pub fn tick(&mut self) {
        self.records += 1;
        while self
            .open
            .front()
            .is_some_and(|x| self.records.saturating_sub(x.opened_at) > MAX_AGE)
        {
            if let Some(x) = self.open.pop_front() {
                self.flush(x);
            }
        }
    }

    /// A SYSCALL record: opens an exec when it is one (another exec's SYSCALL with the same
    /// serial replaces it: one event has one SYSCALL).
    pub fn syscall(&mut self, rec: &Record<'_>) {
        let Some(serial) = rec.serial else {
            return;
        };
        if !is_exec(rec) {
            return;
        }
        let user = record::enriched_name(rec.enriched, "AUID")
            .or_else(|| record::enriched_name(rec.enriched, "UID"))
            .map(capped);
        let exe = record::field(rec.body, "exe")
            .and_then(record::value)
            .map(|v| capped(&v));
        let x = Exec {
            serial,
            node: rec.node.map(capped),
            time: rec.time,
            user,
            exe,
            success: record::field(rec.body, "success") != Some("no"),
            opened_at: self.records,
        };
        if let Some(old) = self.open.iter_mut().find(|o| o.serial == serial) {
            *old = x;
            return;
        }
        if self.open.len() >= MAX_OPEN {
            if let Some(oldest) = self.open.pop_front() {
                self.flush(oldest);
            }
        }
        self.open.push_back(x);
    }

    /// An EXECVE record of `serial`: the exec's SYSCALL, if it came.
    pub fn execve(&mut self, serial: Option<u64>) -> Option<Exec> {
        let serial = serial?;
        let i = self.open.iter().position(|o| o.serial == serial)?;
        self.open.remove(i)
    }

    /// The event of `serial` ended (its PROCTITLE or EOE): an exec still waiting gets no
    /// EXECVE any more.
    pub fn end(&mut self, serial: Option<u64>) {
        if let Some(x) = self.execve(serial) {
            self.flush(x);
        }
    }

    /// End of input: every waiting exec is flushed.
    pub fn finish(&mut self) {
        while let Some(x) = self.open.pop_front() {
            self.flush(x);
        }
    }

    /// Whether a flushed event waits to be taken (a test cheaper than [`Joiner::take`], for
    /// callers that ask after every line).
    #[inline]
    pub fn has_flushed(&self) -> bool {
        !self.flushed.is_empty()
    }

    /// A flushed event, oldest first.
    pub fn take(&mut self) -> Option<Event<'static>> {
        self.flushed.pop_front()
    }

    /// Execs waiting for their EXECVE.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    fn flush(&mut self, x: Exec) {
        let mut e = Event::default();
        fill(&mut e, x, None);
        e.process_name = Some(Cow::Borrowed("auditd"));
        self.flushed.push_back(e);
    }
}

/// Fills a `process-started` event from an exec's SYSCALL and, when it came, its argv. With
/// no argv the command line is the executable.
pub fn fill<'a>(e: &mut Event<'a>, x: Exec, argv: Option<String>) {
    let outcome = if x.success {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    super::super::start(e, Dataset::Auditd, Action::ProcessStarted, outcome);
    e.timestamp = x.time;
    e.host_name = x.node.map(Cow::Owned);
    e.user_name = x.user.map(Cow::Owned);
    e.command_line = argv.or(x.exe).map(Cow::Owned);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(text: &str) -> Record<'_> {
        record::parse(text).unwrap()
    }

    const SYSCALL: &str = "type=SYSCALL msg=audit(1.0:7): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=1000 uid=1000 comm=\"id\" exe=\"/usr/bin/id\" key=(null)\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"";

    #[test]
    fn execve_takes_its_syscall() {
        let mut j = Joiner::default();
        j.syscall(&rec(SYSCALL));
        assert_eq!(j.open(), 1);
        let x = j.execve(Some(7)).unwrap();
        assert_eq!(x.user.as_deref(), Some("alice"));
        assert_eq!(x.exe.as_deref(), Some("/usr/bin/id"));
        assert_eq!(j.open(), 0);
        assert!(j.take().is_none());
    }

    #[test]
    fn an_exec_without_execve_is_flushed_not_lost() {
        let mut j = Joiner::default();
        j.syscall(&rec(SYSCALL));
        j.end(Some(7));
        let e = j.take().unwrap();
        assert_eq!(e.action(), Action::ProcessStarted);
        assert_eq!(e.command_line.as_deref(), Some("/usr/bin/id"));
        // Too many open: the oldest goes out.
        for i in 0..=MAX_OPEN {
            let t = SYSCALL.replace("1.0:7", &format!("1.0:{}", 100 + i));
            j.syscall(&rec(&t));
        }
        assert_eq!(j.open(), MAX_OPEN);
        assert!(j.take().is_some());
        j.finish();
        assert_eq!(std::iter::from_fn(|| j.take()).count(), MAX_OPEN);
    }

    #[test]
    fn not_every_syscall_is_an_exec() {
        let r = rec(
            "type=SYSCALL msg=audit(1.0:8): arch=c000003e syscall=2 success=yes exe=\"/bin/cat\"",
        );
        assert!(!is_exec(&r));
        let r = rec("type=SYSCALL msg=audit(1.0:8): arch=c00000b7 syscall=221 success=yes");
        assert!(is_exec(&r));
    }
}
