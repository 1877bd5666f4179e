//! The [`Store`] trait: what the agent needs from its state, whatever the backend.

use crate::ban::BanTarget;
use crate::error::Result;
use crate::types::OutboxState;
use crate::types::{
    Ban, Batch, BatchIds, Checkpoint, CounterSnapshot, OutboxCounts, OutboxItem, PurgeStats,
    StoredAlert, StoredReportEntry, UnixTime,
};

/// The agent's state store. Synchronous; methods take `&mut self` so a backend may use a
/// client that needs it (one connection, owned by the thread that calls the store).
///
/// Implementations: [`SqliteStore`](crate::SqliteStore). A PostgreSQL backend is meant to
/// follow with its own migrations; nothing in this trait is SQLite-specific.
pub trait Store: Send {
    /// Commits everything in `batch` in one transaction: either all of it is stored or none
    /// of it (an invalid value anywhere in the batch rolls the whole batch back). Returns the
    /// ids given to the alerts and outbox rows.
    fn commit_batch(&mut self, batch: &Batch) -> Result<BatchIds>;

    /// The checkpoint of one source.
    fn checkpoint(&mut self, source: &str) -> Result<Option<Checkpoint>>;
    /// All checkpoints, by source id.
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>>;
    /// Forgets a source's checkpoint (a source removed from the config). Whether one existed.
    fn delete_checkpoint(&mut self, source: &str) -> Result<bool>;

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

    /// A target's ban record, active or not (its offence count drives escalation).
    fn ban(&mut self, target: &BanTarget) -> Result<Option<Ban>>;
    /// Bans in force at `now` (to re-apply after a restart with their remaining time).
    /// How many bans are in force at `now` (for metrics: no rows read).
    fn count_active_bans(&mut self, now: UnixTime) -> Result<u64>;
    fn active_bans(&mut self, now: UnixTime) -> Result<Vec<Ban>>;
    /// Marks bans whose time ran out by `now` as removed; returns their targets.
    fn expire_bans(&mut self, now: UnixTime) -> Result<Vec<BanTarget>>;

    /// The last committed snapshot of a counter set.
    fn load_counters(&mut self, name: &str) -> Result<Option<CounterSnapshot>>;

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
