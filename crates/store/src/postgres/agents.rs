//! Enrolment tokens, agents and their heartbeats.

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
        fn create_enrol_token(sha256: &str, created_at: UnixTime, expires_at: UnixTime)
            -> Result<()>;
        fn redeem_enrol_token(sha256: &str, now: UnixTime, agent_id: &str, host: &str,
            secret: &str, version: Option<&str>) -> Result<TokenCheck>;
        fn register_shared_agent(id: &str, now: UnixTime) -> Result<()>;
        fn agent(id: &str) -> Result<Option<Agent>>;
        fn agents() -> Result<Vec<Agent>>;
        fn revoke_agent(id: &str, at: UnixTime) -> Result<bool>;
        fn record_heartbeat(id: &str, now: UnixTime, hb: &Heartbeat) -> Result<()>;
    }
}
