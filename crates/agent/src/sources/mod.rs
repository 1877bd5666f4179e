//! Sources: tasks that follow a host's logs and feed the pipeline through a bounded channel
//! (backpressure, never unbounded memory).
//!
//! Every item carries the [`Checkpoint`] a source would resume from *after* it, so the
//! pipeline can commit "this line is done" in the same store transaction as the alerts it
//! produced (exactly once into the store; see docs/ARCHITECTURE.md, Store).

use std::sync::Arc;

use logward_core::Event;
use logward_store::Checkpoint;

pub mod audit;
pub mod beats;
pub mod command;
pub mod dns_capture;
pub mod evtx;
pub mod file;
mod follow;
pub mod journal;
pub mod stdin;
pub mod utmp;

/// Where a source without a checkpoint starts (every source kind uses the same words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// From the beginning: everything that is already there.
    Beginning,
    /// From the current end: only what is written from now on.
    #[default]
    End,
}

/// One unit of input from a source.
#[derive(Debug)]
pub struct SourceItem {
    /// The configured source's id (its path for files, `journal`, a name for commands).
    pub source: Arc<str>,
    pub payload: Payload,
    /// Where the source resumes after this item (`None`: the source keeps no position, as
    /// stdin and command sources).
    pub checkpoint: Option<Checkpoint>,
}

/// What a source read.
#[derive(Debug)]
pub enum Payload {
    /// A text line (no newline), lossily decoded: syslog text or one `journalctl -o json`
    /// object, for `logward_parse::LineDecoder`.
    Line(String),
    /// An event decoded at the source (binary formats: wtmp/btmp records).
    /// Boxed: an event is ~470 bytes, a line 24, and most items are lines.
    Event(Box<Event<'static>>),
    /// Not input: "call me once everything sent before me is committed". A source whose
    /// sender must hear when its data is safe (the Beats input ACKs a window only then)
    /// sends one after the window's items; the pipeline calls it after the store
    /// transaction that holds their checkpoints, alerts and spooled events — or, when they
    /// produced nothing to store, once they are processed. Never called when the commit
    /// fails and the process ends first: the sender then sends the data again.
    Committed(Completion),
}

/// What [`Payload::Committed`] calls.
pub struct Completion(Box<dyn FnOnce() + Send>);

impl Completion {
    pub fn new(f: impl FnOnce() + Send + 'static) -> Completion {
        Completion(Box::new(f))
    }

    /// Calls it.
    pub fn complete(self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Completion")
    }
}

/// The channel capacity between sources and the pipeline: enough to absorb a burst while the
/// store commits, small enough that a stalled pipeline stops the readers instead of memory
/// growing.
pub const CHANNEL_CAPACITY: usize = 4096;
