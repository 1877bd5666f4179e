//! logward's state store: the traits each process uses — [`Store`] (what both keep),
//! [`AgentStore`] and [`CollectorStore`] — and their SQLite backend ([`SqliteStore`]), the one
//! type that names SQLite and is named only where a process opens its state.
//!
//! The agent keeps everything it must not forget across a restart here: per-source read
//! checkpoints, alerts and their delivery outbox, bans (with offence counts for escalation),
//! engine counter snapshots and the daily report's entries.
//!
//! The one guarantee the rest of logward builds on: [`AgentStore::commit_batch`] writes a
//! [`Batch`] — checkpoints, the alerts and outbox rows the lines up to those checkpoints
//! produced, ban changes, counter snapshots and report entries — in **one transaction**. A
//! crash (even `kill -9`) between two batches therefore loses nothing and repeats nothing: on
//! restart the sources resume at the checkpoint, and everything derived from the lines before
//! it is already stored, exactly once.
//!
//! The API is synchronous (called from a dedicated thread or `spawn_blocking`; which
//! connection each part of a process uses is in docs/ARCHITECTURE.md, "Concurrency").
//! All times are Unix seconds ([`UnixTime`]), supplied by the caller, so tests and replays
//! control the clock.

pub mod agent;
mod ban;
pub mod collector;
mod error;
mod fingerprint;
mod postgres;
mod sqlite;
mod store;
mod types;

pub use agent::AgentStore;
pub use ban::{BanTarget, Family};
pub use collector::{
    Agent, AlertDetail, AlertFilter, AlertPage, AlertPlan, AlertStats, Analysis, AnalysisState,
    ApiToken, CollectorRow, CollectorStore, Count, Decision, DecisionChange, DecisionOp,
    DecisionSelector, Delivery, DnsHitFilter, DnsStats, EventRow, FleetEffects, FleetEvent,
    FleetItem, FleetOutput, FleetPurgeStats, Heartbeat, IngestCounts, IngestRequest, NewDecision,
    PendingAnalysis, ProfileLookup, StoreSummary, StoredDnsHit, TokenCheck, COLLECTOR_FORGET_SECS,
    COLLECTOR_STALE_SECS, FLEET_HOST,
};
pub use error::{Result, StoreError};
pub use fingerprint::{Fingerprint, FINGERPRINT_BYTES};
pub use postgres::{redact as redact_url, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::Store;
pub use types::{
    Ban, BanChange, Batch, BatchIds, Checkpoint, CounterSnapshot, DnsHit, NewAlert, NewBan,
    NewOutbox, OutboxAnalysis, OutboxCounts, OutboxItem, OutboxState, ProfileRow, PurgeStats,
    ReportEntry, ReportSection, SpoolItem, SpoolKind, SpoolStats, SpooledItem, StoredAlert,
    StoredReportEntry, UnixTime,
};
