//! `collector_store_by_inherent!`: [`CollectorStore`](super::CollectorStore) on a backend
//! whose inherent methods have the trait's names and arguments (SQLite and PostgreSQL write
//! each beside its tables), so the list of methods is written once, here; `by_inherent!`,
//! the methods themselves, for any such trait (PostgreSQL's [`Store`](crate::Store) too).

/// `collector_store_by_inherent!(Type)` implements `CollectorStore` for `Type`, each method
/// calling `Type`'s inherent method of the same name; `collector_store_by_inherent!(Type,
/// first: check)` calls `self.check()?` before each and `self.failed()` after one that failed
/// (PostgreSQL: its connection is up, and looked at again after an error).
macro_rules! collector_store_by_inherent {
    ($ty:ident $(, first: $first:ident)?) => {
        $crate::collector::by_inherent::collector_store_by_inherent! { @methods $ty [$($first)?]
            fn create_enrol_token(sha256: &str, created_at: UnixTime, expires_at: UnixTime)
                -> Result<()>;
            fn redeem_enrol_token(sha256: &str, now: UnixTime, agent_id: &str, host: &str,
                secret: &str, version: Option<&str>) -> Result<TokenCheck>;
            fn register_shared_agent(id: &str, now: UnixTime) -> Result<()>;
            fn agent(id: &str) -> Result<Option<Agent>>;
            fn agents() -> Result<Vec<Agent>>;
            fn revoke_agent(id: &str, at: UnixTime) -> Result<bool>;
            fn record_heartbeat(id: &str, now: UnixTime, hb: &Heartbeat) -> Result<()>;
            fn put_counters(c: &CounterSnapshot) -> Result<()>;
            fn ingest_group(requests: &[IngestRequest<'_>], rules: &mut GroupRules<'_>)
                -> Result<Vec<IngestCounts>>;
            fn lead_rules() -> Result<bool>;
            fn commit_rules(key: &str, expected: Option<&str>, position: &str, now: UnixTime,
                rules: &mut dyn FnMut(&dyn ProfileLookup) -> Result<FleetEffects>)
                -> Result<IngestCounts>;
            fn count_fleet_events(host: Option<&str>) -> Result<u64>;
            fn fleet_event_json(limit: usize) -> Result<Vec<String>>;
            fn put_decision(d: &NewDecision) -> Result<(i64, Option<DecisionChange>)>;
            fn delete_decision(which: DecisionSelector<'_>, at: UnixTime)
                -> Result<Option<DecisionChange>>;
            fn expire_decisions(now: UnixTime) -> Result<u64>;
            fn decision_changes_after(since: i64, limit: usize) -> Result<Vec<DecisionChange>>;
            fn decisions_in_force(now: UnixTime) -> Result<Vec<Decision>>;
            fn decisions_after(after: i64, limit: usize) -> Result<Vec<Decision>>;
            fn purge_fleet(now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats>;
            fn set_operator(name: &str, phc: &str, now: UnixTime) -> Result<bool>;
            fn operator_password(name: &str) -> Result<Option<String>>;
            fn operators() -> Result<Vec<String>>;
            fn remove_operator(name: &str) -> Result<bool>;
            fn create_api_token(name: &str, sha256: &str, now: UnixTime) -> Result<i64>;
            fn use_api_token(sha256: &str, now: UnixTime) -> Result<Option<(ApiToken, String)>>;
            fn api_tokens() -> Result<Vec<ApiToken>>;
            fn revoke_api_token(id: i64, now: UnixTime) -> Result<bool>;
            fn query_alerts(f: &AlertFilter, limit: usize) -> Result<AlertPage>;
            fn alert_detail(id: i64) -> Result<Option<AlertDetail>>;
            fn alert_stats(since: UnixTime, until: UnixTime, top: usize) -> Result<AlertStats>;
            fn dns_stats(since: UnixTime, until: UnixTime, top: usize) -> Result<DnsStats>;
            fn dns_hits(f: &DnsHitFilter, limit: usize) -> Result<Vec<StoredDnsHit>>;
            fn bans_list(active_at: Option<UnixTime>, limit: usize) -> Result<Vec<Decision>>;
            fn put_analysis(a: &Analysis) -> Result<()>;
            fn analysis(alert_id: i64) -> Result<Option<Analysis>>;
            fn cached_analysis(cache_key: &str, since: UnixTime) -> Result<Option<Analysis>>;
            fn pending_analyses(limit: usize) -> Result<Vec<PendingAnalysis>>;
            fn finish_analyses(alert_ids: &[i64], a: &Analysis) -> Result<u64>;
            fn collector_seen(row: &CollectorRow) -> Result<()>;
            fn collectors() -> Result<Vec<CollectorRow>>;
            fn collector_gone(id: &str) -> Result<bool>;
            fn store_summary(since: UnixTime) -> Result<StoreSummary>;
        }
    };
    (@methods $ty:ident $first:tt $($methods:tt)*) => {
        const _: () = {
            use $crate::collector::*;
            use $crate::error::Result;
            use $crate::types::{CounterSnapshot, UnixTime};

            impl CollectorStore for $ty {
                $crate::collector::by_inherent::by_inherent! { $ty $first $($methods)* }
            }
        };
    };
}
pub(crate) use collector_store_by_inherent;

/// Inside `impl Trait for Type`: `by_inherent! { Type [] fn name(arg: T) -> R; … }` makes
/// each trait method call `Type`'s inherent method of the same name with the same
/// arguments; `Type [check]` calls `self.check()?` before each and `self.failed()` after one
/// that failed. The one mechanism behind both stores' [`CollectorStore`](super::CollectorStore)
/// and PostgreSQL's [`Store`](crate::Store).
macro_rules! by_inherent {
    (@call [] $s:ident $ty:ident $name:ident ($($a:ident),*)) => {
        $ty::$name($s, $($a),*)
    };
    (@call [$first:ident] $s:ident $ty:ident $name:ident ($($a:ident),*)) => {{
        $s.$first()?;
        let r = $ty::$name($s, $($a),*);
        if r.is_err() {
            $s.failed();
        }
        r
    }};
    ($ty:ident $first:tt $(fn $name:ident($($arg:ident: $t:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&mut self, $($arg: $t),*) -> $ret {
            $crate::collector::by_inherent::by_inherent!(@call $first self $ty $name ($($arg),*))
        })*
    };
}
pub(crate) use by_inherent;
