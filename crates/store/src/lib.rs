//! logward's state store: the [`Store`] trait and its SQLite backend ([`SqliteStore`]).
//!
//! The agent keeps everything it must not forget across a restart here: per-source read
//! checkpoints, alerts and their delivery outbox, bans (with offence counts for escalation),
//! engine counter snapshots and the daily report's entries.
//!
//! The one guarantee the rest of logward builds on: [`Store::commit_batch`] writes a
//! [`Batch`] — checkpoints, the alerts and outbox rows the lines up to those checkpoints
//! produced, ban changes, counter snapshots and report entries — in **one transaction**. A
//! crash (even `kill -9`) between two batches therefore loses nothing and repeats nothing: on
//! restart the sources resume at the checkpoint, and everything derived from the lines before
//! it is already stored, exactly once.
//!
//! The API is synchronous (the agent calls it from a dedicated thread or `spawn_blocking`).
//! All times are Unix seconds ([`UnixTime`]), supplied by the caller, so tests and replays
//! control the clock.

mod ban;
mod error;
mod fingerprint;
mod sqlite;
mod store;
mod types;

pub use ban::{BanTarget, Family};
pub use error::{Result, StoreError};
pub use fingerprint::{Fingerprint, FINGERPRINT_BYTES};
pub use sqlite::analysis::{Analysis, AnalysisState, PendingAnalysis};
pub use sqlite::fleet::{
    Agent, AlertPlan, Decision, DecisionChange, DecisionOp, DecisionSelector, FleetEffects,
    FleetEvent, FleetItem, FleetOutput, FleetPurgeStats, Heartbeat, IngestCounts, IngestRequest,
    NewDecision, TokenCheck,
};
pub use sqlite::operators::ApiToken;
pub use sqlite::profiles::ProfileReader;
pub use sqlite::query::{
    AlertDetail, AlertFilter, AlertPage, AlertStats, Count, Delivery, EventRow, FLEET_HOST,
};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::Store;
pub use types::{
    Ban, BanChange, Batch, BatchIds, Checkpoint, CounterSnapshot, NewAlert, NewBan, NewOutbox,
    OutboxAnalysis, OutboxCounts, OutboxItem, OutboxState, ProfileRow, PurgeStats, ReportEntry,
    ReportSection, SpoolItem, SpoolKind, SpoolStats, SpooledItem, StoredAlert, StoredReportEntry,
    UnixTime,
};
