//! The [`Store`] trait: what every logward process needs from its state, whatever the
//! backend — alerts and their delivery outbox (what `logward_notify` works on), report
//! entries, saved counters, login profiles, small named values, retention.
//!
//! Each process adds its own trait on top: [`AgentStore`](crate::agent::AgentStore) and
//! [`CollectorStore`](crate::collector::CollectorStore). None of them names a backend type:
//! [`SqliteStore`](crate::SqliteStore) implements all three, and a PostgreSQL backend is
//! meant to follow with its own migrations.

use crate::error::Result;
use crate::types::{
    CounterSnapshot, OutboxCounts, OutboxItem, OutboxState, PurgeStats, StoredAlert,
    StoredReportEntry, UnixTime,
};

/// What the agent and the collector both keep. Synchronous; methods take `&mut self` so a
/// backend may use a client that needs it: one value is one connection, used by one thread
/// at a time (owned by a thread, or shared behind a mutex — see docs/ARCHITECTURE.md,
/// "Concurrency").
pub trait Store: Send + std::fmt::Debug {
    /// One alert.
    fn alert(&mut self, id: i64) -> Result<Option<StoredAlert>>;
    /// Alerts with `from <= time < to`, oldest first, at most `limit`.
    fn alerts_between(
        &mut self,
        from: UnixTime,
        to: UnixTime,
        limit: usize,
    ) -> Result<Vec<StoredAlert>>;

    /// Pending outbox rows due at `now`, oldest first, at most `limit`.
    fn due_outbox(&mut self, now: UnixTime, limit: usize) -> Result<Vec<OutboxItem>>;
    /// Pending rows of one sink (or all) due at `now`, oldest first, at most `limit`.
    fn due_outbox_for(
        &mut self,
        sink: Option<&str>,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>>;
    /// The newest rows (of one state, or all), newest first (`logward outbox list`).
    fn outbox_list(&mut self, state: Option<OutboxState>, limit: usize) -> Result<Vec<OutboxItem>>;
    /// When the sink's next pending row is due (`None`: nothing pending).
    fn next_due(&mut self, sink: &str) -> Result<Option<UnixTime>>;
    /// Moves pending rows to `until` without counting an attempt (quiet hours, a dedup
    /// window, a rate limit), in one transaction.
    fn postpone(&mut self, ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()>;
    /// Marks deliveries done in one transaction (a digest carries many).
    fn mark_sent_many(&mut self, ids: &[i64], at: UnixTime) -> Result<()>;
    /// Deletes the rows in `state` (sent or failed); how many.
    fn purge_outbox(&mut self, state: OutboxState) -> Result<u64>;
    /// Marks a delivery done.
    fn mark_sent(&mut self, id: i64, at: UnixTime) -> Result<()>;
    /// Records a failed attempt: counts it, keeps the error, and either schedules the next
    /// attempt at `retry_at` (stays pending) or, with `None`, gives up (state failed).
    fn mark_failed(
        &mut self,
        id: i64,
        at: UnixTime,
        error: &str,
        retry_at: Option<UnixTime>,
    ) -> Result<()>;
    /// Puts failed rows (of one sink, or all) back to pending, due at `now`. How many.
    fn retry_failed(&mut self, sink: Option<&str>, now: UnixTime) -> Result<u64>;
    /// Makes the pending rows of `sink` that failed before and wait for a later retry due at
    /// `now` (the sink answered again). How many.
    fn retry_pending_now(&mut self, sink: &str, now: UnixTime) -> Result<u64>;
    /// Rows per state.
    fn outbox_counts(&mut self) -> Result<OutboxCounts>;

    /// The last committed snapshot of a counter set.
    fn load_counters(&mut self, name: &str) -> Result<Option<CounterSnapshot>>;

    /// The stored login profile under `key` (JSON).
    fn profile(&mut self, key: &str) -> Result<Option<Vec<u8>>>;

    /// The value stored under `key` (the `meta` table: when the daily report last went out,
    /// and the like), if any.
    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    /// Stores `value` under `key`, replacing what was there.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;
    /// Stores `value` under `key` only if nothing is there, and returns what is there then:
    /// processes sharing one store that each offer a value (a key made once) agree on one.
    fn init_meta(&mut self, key: &str, value: &str) -> Result<String>;

    /// Report entries with `from <= time < to`, in order.
    fn report_entries(&mut self, from: UnixTime, to: UnixTime) -> Result<Vec<StoredReportEntry>>;
    /// Removes report entries with `time < until` (after the report was sent). How many.
    fn delete_report_entries(&mut self, until: UnixTime) -> Result<u64>;

    /// Retention: removes what is older than `keep_days` days before `now` — alerts whose
    /// deliveries are all sent (pending or failed deliveries keep their alert), sent outbox
    /// rows, lifted/expired bans (forgetting their offences) and report entries.
    fn purge(&mut self, now: UnixTime, keep_days: u32) -> Result<PurgeStats>;

    /// The schema version of the open database.
    fn schema_version(&mut self) -> Result<u32>;
}
