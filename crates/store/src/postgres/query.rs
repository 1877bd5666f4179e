//! The dashboard's and the API's queries: alerts, an alert's detail, the charts' figures, DNS hits, ban lists.

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
        fn query_alerts(f: &AlertFilter, limit: usize) -> Result<AlertPage>;
        fn alert_detail(id: i64) -> Result<Option<AlertDetail>>;
        fn alert_stats(since: UnixTime, until: UnixTime, top: usize) -> Result<AlertStats>;
        fn dns_stats(since: UnixTime, until: UnixTime, top: usize) -> Result<DnsStats>;
        fn dns_hits(f: &DnsHitFilter, limit: usize) -> Result<Vec<StoredDnsHit>>;
        fn bans_list(active_at: Option<UnixTime>, limit: usize) -> Result<Vec<Decision>>;
    }
}
