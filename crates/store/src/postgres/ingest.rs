//! The fleet's ingest: events (day partitions, keyed events once), the agents' `last_seq`, and the fleet rules' effects in the same transaction; retention of events and tokens.

use super::{not_yet, PgStore};
#[allow(unused_imports)]
use crate::collector::{
    Agent, AlertDetail, AlertFilter, AlertPage, AlertStats, Analysis, ApiToken, Decision,
    DecisionChange, DecisionSelector, DnsHitFilter, DnsStats, FleetPurgeStats, GroupRules,
    Heartbeat, IngestCounts, IngestRequest, NewDecision, PendingAnalysis, StoredDnsHit, TokenCheck,
};
use crate::error::Result;
#[allow(unused_imports)]
use crate::types::{CounterSnapshot, UnixTime};

impl PgStore {
    not_yet! {
        fn put_counters(c: &CounterSnapshot) -> Result<()>;
        fn ingest_group(requests: &[IngestRequest<'_>], rules: &mut GroupRules<'_>)
            -> Result<Vec<IngestCounts>>;
        fn count_fleet_events(host: Option<&str>) -> Result<u64>;
        fn fleet_event_json(limit: usize) -> Result<Vec<String>>;
        fn purge_fleet(now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats>;
    }
}
