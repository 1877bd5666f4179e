//! The cluster as the store sees it: one row per running collector process (its heartbeat,
//! written every few seconds by its background work) and the figures `logward collector
//! status` prints about what is stored.

use crate::types::UnixTime;

/// A collector not seen for this long is shown as gone (its process died, or lost the
/// store); `logward collector status` can be given another threshold.
pub const COLLECTOR_STALE_SECS: i64 = 60;
/// A gone collector's row is deleted after this long.
pub const COLLECTOR_FORGET_SECS: i64 = 86_400;

/// One collector process, as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorRow {
    /// Random, chosen when the process started (a restart is a new row).
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    /// The addresses it listens on (HTTP, and the Beats input's), comma-separated.
    pub listen: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Whether it consumes the agents' NATS stream.
    pub nats: bool,
    /// What it does with the fleet rules: `leader` (counts the stream's batches), `standby`
    /// (waits for the lead), `inline` (runs them in its ingest transactions).
    pub role: String,
    pub started_at: UnixTime,
    pub last_seen: UnixTime,
}

impl CollectorRow {
    /// Whether it was seen within `stale_secs` of `now`.
    pub fn live(&self, now: UnixTime, stale_secs: i64) -> bool {
        now.saturating_sub(self.last_seen) <= stale_secs
    }
}

/// What is stored, for `logward collector status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreSummary {
    /// Fleet events stored since `since` (PostgreSQL: by the day they were received; SQLite:
    /// by their time, which is indexed).
    pub events: u64,
    /// Alerts stored since `since` (the same way).
    pub alerts: u64,
    /// The day partitions held (PostgreSQL: `fleet_events_d20261207`, …); none on SQLite.
    pub partitions: Vec<String>,
}
