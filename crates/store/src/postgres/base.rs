//! [`Store`] on [`PgStore`]: alerts, the outbox, counters, profiles, meta, report entries and
//! retention — what the collector shares with the agent.

use super::{not_yet, PgStore};
use crate::error::Result;
use crate::store::Store;
use crate::types::{
    CounterSnapshot, OutboxCounts, OutboxItem, OutboxState, PurgeStats, StoredAlert,
    StoredReportEntry, UnixTime,
};

impl PgStore {
    not_yet! {
        fn alert(id: i64) -> Result<Option<StoredAlert>>;
        fn alerts_between(from: UnixTime, to: UnixTime, limit: usize) -> Result<Vec<StoredAlert>>;
        fn due_outbox_for(sink: Option<&str>, now: UnixTime, limit: usize)
            -> Result<Vec<OutboxItem>>;
        fn outbox_list(state: Option<OutboxState>, limit: usize) -> Result<Vec<OutboxItem>>;
        fn next_due(sink: &str) -> Result<Option<UnixTime>>;
        fn postpone(ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()>;
        fn mark_sent_many(ids: &[i64], at: UnixTime) -> Result<()>;
        fn purge_outbox(state: OutboxState) -> Result<u64>;
        fn mark_sent(id: i64, at: UnixTime) -> Result<()>;
        fn mark_failed(id: i64, at: UnixTime, error: &str, retry_at: Option<UnixTime>)
            -> Result<()>;
        fn retry_failed(sink: Option<&str>, now: UnixTime) -> Result<u64>;
        fn retry_pending_now(sink: &str, now: UnixTime) -> Result<u64>;
        fn outbox_counts() -> Result<OutboxCounts>;
        fn load_counters(name: &str) -> Result<Option<CounterSnapshot>>;
        fn profile(key: &str) -> Result<Option<Vec<u8>>>;
        fn meta(key: &str) -> Result<Option<String>>;
        fn set_meta(key: &str, value: &str) -> Result<()>;
        fn report_entries(from: UnixTime, to: UnixTime) -> Result<Vec<StoredReportEntry>>;
        fn delete_report_entries(until: UnixTime) -> Result<u64>;
        fn purge(now: UnixTime, keep_days: u32) -> Result<PurgeStats>;
    }
}

/// Trait methods that call the inherent method of the same name with the same arguments.
macro_rules! inherent {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&mut self, $($arg: $ty),*) -> $ret {
            PgStore::$name(self, $($arg),*)
        })*
    };
}
pub(super) use inherent;

impl Store for PgStore {
    inherent! {
        fn alert(id: i64) -> Result<Option<StoredAlert>>;
        fn alerts_between(from: UnixTime, to: UnixTime, limit: usize) -> Result<Vec<StoredAlert>>;
        fn due_outbox_for(sink: Option<&str>, now: UnixTime, limit: usize)
            -> Result<Vec<OutboxItem>>;
        fn outbox_list(state: Option<OutboxState>, limit: usize) -> Result<Vec<OutboxItem>>;
        fn next_due(sink: &str) -> Result<Option<UnixTime>>;
        fn postpone(ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()>;
        fn mark_sent_many(ids: &[i64], at: UnixTime) -> Result<()>;
        fn purge_outbox(state: OutboxState) -> Result<u64>;
        fn mark_sent(id: i64, at: UnixTime) -> Result<()>;
        fn mark_failed(id: i64, at: UnixTime, error: &str, retry_at: Option<UnixTime>)
            -> Result<()>;
        fn retry_failed(sink: Option<&str>, now: UnixTime) -> Result<u64>;
        fn retry_pending_now(sink: &str, now: UnixTime) -> Result<u64>;
        fn outbox_counts() -> Result<OutboxCounts>;
        fn load_counters(name: &str) -> Result<Option<CounterSnapshot>>;
        fn profile(key: &str) -> Result<Option<Vec<u8>>>;
        fn meta(key: &str) -> Result<Option<String>>;
        fn set_meta(key: &str, value: &str) -> Result<()>;
        fn report_entries(from: UnixTime, to: UnixTime) -> Result<Vec<StoredReportEntry>>;
        fn delete_report_entries(until: UnixTime) -> Result<u64>;
        fn purge(now: UnixTime, keep_days: u32) -> Result<PurgeStats>;
    }

    fn due_outbox(&mut self, now: UnixTime, limit: usize) -> Result<Vec<OutboxItem>> {
        self.due_outbox_for(None, now, limit)
    }

    fn schema_version(&mut self) -> Result<u32> {
        super::migrations::version(&mut self.client, &self.shown)
    }
}
