//! Fleet ban decisions and their change log (one decision in force per target).

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
        fn put_decision(d: &NewDecision) -> Result<(i64, Option<DecisionChange>)>;
        fn delete_decision(which: DecisionSelector<'_>, at: UnixTime)
            -> Result<Option<DecisionChange>>;
        fn expire_decisions(now: UnixTime) -> Result<u64>;
        fn decision_changes_after(since: i64, limit: usize) -> Result<Vec<DecisionChange>>;
        fn decisions_in_force(now: UnixTime) -> Result<Vec<Decision>>;
        fn decisions_after(after: i64, limit: usize) -> Result<Vec<Decision>>;
    }
}
