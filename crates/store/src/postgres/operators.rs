//! Dashboard operators and API tokens.

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
        fn set_operator(name: &str, phc: &str, now: UnixTime) -> Result<bool>;
        fn operator_password(name: &str) -> Result<Option<String>>;
        fn operators() -> Result<Vec<String>>;
        fn remove_operator(name: &str) -> Result<bool>;
        fn create_api_token(name: &str, sha256: &str, now: UnixTime) -> Result<i64>;
        fn use_api_token(sha256: &str, now: UnixTime) -> Result<Option<(ApiToken, String)>>;
        fn api_tokens() -> Result<Vec<ApiToken>>;
        fn revoke_api_token(id: i64, now: UnixTime) -> Result<bool>;
    }
}
