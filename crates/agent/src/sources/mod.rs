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
pub mod command;
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
}

/// The channel capacity between sources and the pipeline: enough to absorb a burst while the
/// store commits, small enough that a stalled pipeline stops the readers instead of memory
/// growing.
pub const CHANNEL_CAPACITY: usize = 4096;
