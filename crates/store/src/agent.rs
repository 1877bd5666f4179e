//! What the agent needs from its state, whatever the backend: the [`AgentStore`] trait.

use crate::ban::BanTarget;
use crate::error::Result;
use crate::store::Store;
use crate::types::{
    Ban, Batch, BatchIds, Checkpoint, ProfileRow, SpoolStats, SpooledItem, StoredAlert, UnixTime,
};

/// The agent's state: per-source checkpoints, the batch that commits them with everything
/// their lines produced, bans with their offence counts, the forward spool and the forward
/// sink's cursor, login profiles — on top of what every process keeps ([`Store`]).
///
/// Concurrency: the pipeline owns one value of this trait (a generic parameter: no lock, and
/// each batch's commit a static call), and the control socket's commands run on it between
/// batches; the forwarder holds another behind a mutex, delivery and the report a third
/// (as [`Store`]). See docs/ARCHITECTURE.md, "Concurrency".
pub trait AgentStore: Store {
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

    /// Alerts stored after row `id`, in commit order, at most `limit` (what the agent had not
    /// printed yet when it was killed).
    fn alerts_after(&mut self, id: i64, limit: usize) -> Result<Vec<StoredAlert>>;
    /// The newest alert's row id (0 when there is none).
    fn last_alert_id(&mut self) -> Result<i64>;

    /// A target's ban record, active or not (its offence count drives escalation).
    fn ban(&mut self, target: &BanTarget) -> Result<Option<Ban>>;
    /// How many bans are in force at `now` (for metrics: no rows read).
    fn count_active_bans(&mut self, now: UnixTime) -> Result<u64>;
    /// Bans in force at `now` (to re-apply after a restart with their remaining time).
    fn active_bans(&mut self, now: UnixTime) -> Result<Vec<Ban>>;
    /// Marks bans whose time ran out by `now` as removed; returns their targets.
    fn expire_bans(&mut self, now: UnixTime) -> Result<Vec<BanTarget>>;

    /// Sets the spool's size bound (bytes of JSON waiting). Takes effect at the next append.
    fn spool_set_max(&mut self, max_bytes: u64) -> Result<()>;
    /// The oldest items waiting, in seq order: at most `max_items`, and no more than
    /// `max_bytes` of JSON (but always at least one item when any waits).
    fn spool_read(&mut self, max_items: usize, max_bytes: u64) -> Result<Vec<SpooledItem>>;
    /// Deletes the items with `seq <= through` (the collector has them). How many.
    fn spool_ack(&mut self, through: u64) -> Result<u64>;
    /// The spool's totals and the time of its oldest item.
    fn spool_stats(&mut self) -> Result<SpoolStats>;
    /// A named value of the forward sink (`decisions_since`).
    fn forward_state(&mut self, key: &str) -> Result<Option<String>>;
    /// Sets a named value of the forward sink.
    fn set_forward_state(&mut self, key: &str, value: &str) -> Result<()>;

    /// Writes login profiles outside a batch (`logward learn`), in one transaction.
    fn put_profiles(&mut self, rows: &[ProfileRow]) -> Result<()>;
    /// How many login profiles are stored.
    fn profile_count(&mut self) -> Result<u64>;
}
