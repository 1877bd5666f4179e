//! What the collector needs from its state, whatever the backend: the [`CollectorStore`]
//! trait and the rows, requests and filters it takes and returns.
//!
//! Nothing here names SQLite: a PostgreSQL backend implements [`CollectorStore`] and the
//! collector, its API and the CLI run on it unchanged.

mod analysis;
pub(crate) mod by_inherent;
mod cluster;
mod fleet;
mod query;
pub(crate) mod seqs;

pub use analysis::{Analysis, AnalysisState, PendingAnalysis};
pub use cluster::{CollectorRow, StoreSummary, COLLECTOR_FORGET_SECS, COLLECTOR_STALE_SECS};
pub(crate) use fleet::{apply_outputs, OutputWrite};
pub use fleet::{
    Agent, AlertPlan, Decision, DecisionChange, DecisionOp, DecisionSelector, FleetEffects,
    FleetEvent, FleetItem, FleetOutput, FleetPurgeStats, GroupRules, Heartbeat, IngestCounts,
    IngestRequest, NewDecision, TokenCheck,
};
pub use query::{
    AlertDetail, AlertFilter, AlertPage, AlertStats, Count, Delivery, DnsHitFilter, DnsStats,
    EventRow, StoredDnsHit, EVENT_WINDOW_SECS, FLEET_HOST, MAX_ALERT_EVENTS,
};
pub(crate) use query::{AlertEvents, Figures, FilterValue};

use crate::error::Result;
use crate::store::Store;
use crate::types::{CounterSnapshot, UnixTime};

/// An API token's row (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: UnixTime,
    pub last_used: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

/// Reads stored login profiles inside an ingest's transaction (the fleet anomaly detector
/// sees what the same transaction is about to commit).
pub trait ProfileLookup {
    /// The stored profile under `key` (JSON).
    fn profile(&self, key: &str) -> Result<Option<Vec<u8>>>;
}

/// The collector's state: enrolment tokens and agents, the events and alerts agents forward
/// (stored with the fleet rules' effects in one transaction), fleet ban decisions and their
/// change log, dashboard operators and API tokens, the dashboard's queries and the LLM's
/// analyses — on top of what every process keeps ([`Store`]: alerts, outbox, counters).
///
/// Concurrency: the collector owns one value of this trait on one thread (its store
/// thread), which runs every ingest and every request's look-up in order; it is used as
/// `dyn CollectorStore` there, each call already being a boxed job. Delivery, the fleet
/// report and the LLM analyst share a second one behind a mutex (see docs/ARCHITECTURE.md,
/// "Concurrency").
pub trait CollectorStore: Store {
    /// Stores a new enrolment token's SHA-256 (hex) with its expiry.
    fn create_enrol_token(
        &mut self,
        sha256: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()>;
    /// Redeems a token (by its SHA-256) for a new agent, in one transaction: the token is
    /// marked used and the agent created only when it is known, unused and unexpired.
    fn redeem_enrol_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
        agent_id: &str,
        host: &str,
        secret: &str,
        version: Option<&str>,
    ) -> Result<TokenCheck>;
    /// Registers a shared-key host on first sight (no secret); nothing when it exists.
    fn register_shared_agent(&mut self, id: &str, now: UnixTime) -> Result<()>;
    /// One agent.
    fn agent(&mut self, id: &str) -> Result<Option<Agent>>;
    /// All agents, by host then id.
    fn agents(&mut self) -> Result<Vec<Agent>>;
    /// Revokes an agent: its requests are refused from now on. Whether it existed unrevoked.
    fn revoke_agent(&mut self, id: &str, at: UnixTime) -> Result<bool>;
    /// Records a heartbeat (last seen, version, spool figures).
    fn record_heartbeat(&mut self, id: &str, now: UnixTime, hb: &Heartbeat) -> Result<()>;

    /// Saves a rules' counters outside an ingest (the collector's shutdown).
    fn put_counters(&mut self, c: &CounterSnapshot) -> Result<()>;
    /// Several requests' ingests in one transaction: the collector's group commit, which
    /// spends one commit and one write of each touched index page on a whole queue of
    /// requests. For each request, items whose `seq` is not above the agent's highest stored
    /// one (or a previous item's of the same request) are duplicates and skipped; the
    /// agent's `last_seq` and `last_seen` move on. Keyed events (the Beats input) are
    /// duplicates when their key is stored already, and need no agent row. `rules` is given the request's index, the
    /// indexes (into its items, in `seq` order) of the events newly stored — never a
    /// duplicate's — and a reader of the stored login profiles; what it returns (alerts,
    /// decisions, counters, profiles) is committed in the same transaction.
    /// All or nothing: when one fails none is stored, the caller must forget what its rules
    /// counted (reload them from the saved counters) and should retry the requests one by
    /// one so that only the bad one fails.
    fn ingest_group(
        &mut self,
        requests: &[IngestRequest<'_>],
        rules: &mut GroupRules<'_>,
    ) -> Result<Vec<IngestCounts>>;
    /// One request's ingest ([`ingest_group`](Self::ingest_group) of one) with the fleet
    /// rules.
    fn ingest_with(
        &mut self,
        agent_id: &str,
        now: UnixTime,
        items: &[FleetItem],
        rules: &mut dyn FnMut(&[usize]) -> Result<FleetEffects>,
    ) -> Result<IngestCounts> {
        let req = IngestRequest {
            agent_id,
            now,
            items,
        };
        let mut counts = self.ingest_group(&[req], &mut |_, fresh, _| rules(fresh))?;
        Ok(counts.pop().unwrap_or_default())
    }
    /// One request's ingest without fleet rules.
    fn ingest(
        &mut self,
        agent_id: &str,
        now: UnixTime,
        items: &[FleetItem],
    ) -> Result<IngestCounts> {
        self.ingest_with(agent_id, now, items, &mut |_| Ok(FleetEffects::default()))
    }
    /// Whether this store's session leads the fleet rules, taking the lead when it is free
    /// (docs/SCALE.md "Fleet rules with several collectors"). PostgreSQL: a session-level
    /// advisory lock held by this connection, so a dead collector's lead ends with its
    /// session; a lost connection loses it too. SQLite: always (one collector owns the file).
    fn lead_rules(&mut self) -> Result<bool>;
    /// The rules leader's pass: runs `rules` (given a reader of the stored login profiles)
    /// in one transaction and commits what it returns — alerts, decisions, counters,
    /// profiles — with `position` stored under the meta `key`, only if that value still is
    /// `expected` (`None`: absent) and, on PostgreSQL, this session still leads. A refused
    /// or failed pass commits nothing: the caller forgets what its rules counted.
    fn commit_rules(
        &mut self,
        key: &str,
        expected: Option<&str>,
        position: &str,
        now: UnixTime,
        rules: &mut dyn FnMut(&dyn ProfileLookup) -> Result<FleetEffects>,
    ) -> Result<IngestCounts>;
    /// Number of fleet events stored (all, or one host's).
    fn count_fleet_events(&mut self, host: Option<&str>) -> Result<u64>;
    /// The stored JSON of fleet events, oldest first, at most `limit`.
    fn fleet_event_json(&mut self, limit: usize) -> Result<Vec<String>>;

    /// Records a fleet ban decision in its own transaction: a new one, or — when one is in
    /// force for the target — that one extended to the later end (one decision in force per
    /// target). Returns the decision's id and the change made (`None`: the decision in force
    /// already lasts as long).
    fn put_decision(&mut self, d: &NewDecision) -> Result<(i64, Option<DecisionChange>)>;
    /// [`put_decision`](Self::put_decision), returning only the decision's id.
    fn add_decision(&mut self, d: &NewDecision) -> Result<i64> {
        Ok(self.put_decision(d)?.0)
    }
    /// Lifts a decision in force (by id or target) at `at`, with a `delete` change; `None`
    /// when no such decision is in force.
    fn delete_decision(
        &mut self,
        which: DecisionSelector<'_>,
        at: UnixTime,
    ) -> Result<Option<DecisionChange>>;
    /// Marks every decision whose time is over at `now` expired (an `expire` change each);
    /// how many.
    fn expire_decisions(&mut self, now: UnixTime) -> Result<u64>;
    /// The decisions log after `since`, in `seq` order, at most `limit` changes.
    fn decision_changes_after(&mut self, since: i64, limit: usize) -> Result<Vec<DecisionChange>>;
    /// The decisions in force at `now` (not lifted, not over), by id.
    fn decisions_in_force(&mut self, now: UnixTime) -> Result<Vec<Decision>>;
    /// Decisions with an id above `after`, in id order, at most `limit` (every decision ever
    /// made, lifted or not; agents poll [`decision_changes_after`](Self::decision_changes_after)).
    fn decisions_after(&mut self, after: i64, limit: usize) -> Result<Vec<Decision>>;
    /// Retention: fleet events older than `keep_days` days, decisions that expired that
    /// long ago, and used or expired enrolment tokens as old.
    fn purge_fleet(&mut self, now: UnixTime, keep_days: u32) -> Result<FleetPurgeStats>;

    /// Creates an operator, or sets the password of an existing one; whether it was new.
    fn set_operator(&mut self, name: &str, phc: &str, now: UnixTime) -> Result<bool>;
    /// An operator's PHC string.
    fn operator_password(&mut self, name: &str) -> Result<Option<String>>;
    /// Operator names, sorted.
    fn operators(&mut self) -> Result<Vec<String>>;
    /// Removes an operator; whether it existed.
    fn remove_operator(&mut self, name: &str) -> Result<bool>;
    /// Stores a new API token's SHA-256 (hex); returns its id.
    fn create_api_token(&mut self, name: &str, sha256: &str, now: UnixTime) -> Result<i64>;
    /// The unrevoked token with this SHA-256 (its stored digest too, for the caller's
    /// constant-time comparison), marking it used at `now`.
    fn use_api_token(&mut self, sha256: &str, now: UnixTime) -> Result<Option<(ApiToken, String)>>;
    /// Every API token, by id.
    fn api_tokens(&mut self) -> Result<Vec<ApiToken>>;
    /// Revokes an API token; whether it existed unrevoked.
    fn revoke_api_token(&mut self, id: i64, now: UnixTime) -> Result<bool>;

    /// Alerts matching `f`, newest (highest id) first, at most `limit`.
    fn query_alerts(&mut self, f: &AlertFilter, limit: usize) -> Result<AlertPage>;
    /// One alert with its events, decisions, deliveries and analysis; `None` when unknown.
    fn alert_detail(&mut self, id: i64) -> Result<Option<AlertDetail>>;
    /// The charts' figures for alerts in `[since, until)`; `top` entries per ranking.
    fn alert_stats(&mut self, since: UnixTime, until: UnixTime, top: usize) -> Result<AlertStats>;
    /// The DNS page's figures for hits in `[since, until)`; `top` entries per ranking.
    fn dns_stats(&mut self, since: UnixTime, until: UnixTime, top: usize) -> Result<DnsStats>;
    /// DNS hits matching `f`, newest first, at most `limit`.
    fn dns_hits(&mut self, f: &DnsHitFilter, limit: usize) -> Result<Vec<StoredDnsHit>>;
    /// Fleet ban decisions, newest first, at most `limit`; with `active_at`, only those in
    /// force then (no expiry, or expiring after it).
    fn bans_list(&mut self, active_at: Option<UnixTime>, limit: usize) -> Result<Vec<Decision>>;

    /// Writes (inserts or replaces) an alert's analysis row.
    fn put_analysis(&mut self, a: &Analysis) -> Result<()>;
    /// An alert's analysis, if it was asked for.
    fn analysis(&mut self, alert_id: i64) -> Result<Option<Analysis>>;
    /// The newest finished analysis with this cache key, if any answered since `since`.
    fn cached_analysis(&mut self, cache_key: &str, since: UnixTime) -> Result<Option<Analysis>>;
    /// Pending analyses, oldest first, at most `limit`, with their alerts' JSON.
    fn pending_analyses(&mut self, limit: usize) -> Result<Vec<PendingAnalysis>>;
    /// Records a collector's heartbeat (its row inserted or updated, `last_seen` = `row`'s),
    /// and deletes the rows of collectors gone for [`COLLECTOR_FORGET_SECS`].
    fn collector_seen(&mut self, row: &CollectorRow) -> Result<()>;
    /// Every collector row, by host then start time.
    fn collectors(&mut self) -> Result<Vec<CollectorRow>>;
    /// Deletes a collector's row (it stopped cleanly); whether it existed.
    fn collector_gone(&mut self, id: &str) -> Result<bool>;
    /// Events and alerts stored since `since`, and the partitions held.
    fn store_summary(&mut self, since: UnixTime) -> Result<StoreSummary>;

    /// Finishes the pending analyses of `alert_ids` with `a`'s state, text, model, error and
    /// latency (one answer for alerts that share a cache key). Rows no longer pending are
    /// left alone. Returns how many were updated.
    fn finish_analyses(&mut self, alert_ids: &[i64], a: &Analysis) -> Result<u64>;
}
