//! The LLM analyst's rows (alert_analysis).

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
        fn put_analysis(a: &Analysis) -> Result<()>;
        fn analysis(alert_id: i64) -> Result<Option<Analysis>>;
        fn cached_analysis(cache_key: &str, since: UnixTime) -> Result<Option<Analysis>>;
        fn pending_analyses(limit: usize) -> Result<Vec<PendingAnalysis>>;
        fn finish_analyses(alert_ids: &[i64], a: &Analysis) -> Result<u64>;
    }
}
