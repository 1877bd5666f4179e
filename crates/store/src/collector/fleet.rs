//! The collector's fleet rows: enrolled agents and their heartbeats, forwarded events and
//! the ingest request that carries them, and the fleet ban decisions with their change log.

use super::analysis::AnalysisState;
use super::ProfileLookup;
use crate::error::Result;
use crate::types::{CounterSnapshot, NewAlert, ProfileRow, UnixTime};

/// An enrolled agent (or a host registered in shared-key mode: no secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub host: String,
    /// The HMAC secret (hex); `None` for shared-key hosts.
    pub secret: Option<String>,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub last_seen: Option<UnixTime>,
    pub version: Option<String>,
    pub spool_items: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub oldest_unsent: Option<UnixTime>,
    /// The highest `seq` stored from this agent.
    pub last_seq: i64,
}

impl std::fmt::Debug for Agent {
    /// The secret is redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_seen", &self.last_seen)
            .field("version", &self.version)
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// What an agent's heartbeat says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub version: Option<String>,
    pub host: Option<String>,
    pub spool_items: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub oldest_unsent: Option<UnixTime>,
}

/// A forwarded event's row: its JSON and the columns queries filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEvent {
    pub time: UnixTime,
    pub host: Option<String>,
    pub action: String,
    pub outcome: String,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub json: String,
}

/// What the collector does with an alert besides storing it, decided before the
/// transaction (routes, the `llm.when` filter) and written in the same transaction as the alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertPlan {
    /// One outbox row per notifier, due at once.
    pub notifiers: Vec<String>,
    /// `Some(Pending)` asks the LLM (with the cache key, when answers may be shared);
    /// `Some(Skipped)` records that the filter left it out; `None`: no LLM configured.
    pub analysis: Option<(AnalysisState, Option<String>)>,
}

/// One item of an ingest request: an agent's, with its spool sequence number, or an event
/// stored once by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetItem {
    Event {
        seq: i64,
        event: FleetEvent,
    },
    Alert {
        seq: i64,
        alert: NewAlert,
        plan: AlertPlan,
    },
    /// An event from a sender that is not an enrolled agent (the Beats input): no `seq`,
    /// stored at most once per `key` however often it is sent (a Beat resends a window it
    /// got no ACK for). The key is kept as long as the event.
    Keyed {
        key: [u8; 16],
        event: FleetEvent,
    },
}

impl FleetItem {
    /// The agent's sequence number; `None` for a keyed event.
    pub fn seq(&self) -> Option<i64> {
        match self {
            FleetItem::Event { seq, .. } | FleetItem::Alert { seq, .. } => Some(*seq),
            FleetItem::Keyed { .. } => None,
        }
    }
}

/// What [`CollectorStore::ingest`](super::CollectorStore::ingest) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub events: u64,
    pub alerts: u64,
    /// Items whose `seq` was not above the agent's last stored one (a retried batch), or
    /// keyed events whose key was stored already (a resent window).
    pub duplicates: u64,
    /// Alerts the fleet rules raised over the new events.
    pub fleet_alerts: u64,
    /// Decision changes (adds and extensions, lifts) the fleet rules made.
    pub fleet_decisions: u64,
}

/// One thing the fleet rules made of an ingest's new events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetOutput {
    /// A fleet alert, stored like an agent's (with its plan's deliveries, so it is notified
    /// and analysed as its plan says).
    Alert(NewAlert, AlertPlan),
    /// A fleet ban decision. When its `alert_id` is `None` it is linked to the alert just
    /// before it in the same list, if any.
    Decision(NewDecision),
    /// Lift the decision in force for a target (a rule's `unban`).
    Lift { target: String, at: UnixTime },
}

/// What the fleet rules made of one ingest request's new events, committed in its
/// transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetEffects {
    pub outputs: Vec<FleetOutput>,
    /// The rules' counters after these events (saved under their name).
    pub counters: Option<CounterSnapshot>,
    /// Login profiles these events changed (the fleet anomaly detector).
    pub profiles: Vec<ProfileRow>,
}

/// A kind of decision change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionOp {
    /// A new decision in force.
    Add,
    /// The decision in force for the target now lasts longer.
    Extend,
    /// Lifted (by an operator or a rule) before its expiry.
    Delete,
    /// Its time is over.
    Expire,
}

impl DecisionOp {
    /// `add`, `extend`, `delete`, `expire` (the wire's `action`).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOp::Add => "add",
            DecisionOp::Extend => "extend",
            DecisionOp::Delete => "delete",
            DecisionOp::Expire => "expire",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<DecisionOp> {
        Some(match s {
            "add" => DecisionOp::Add,
            "extend" => DecisionOp::Extend,
            "delete" => DecisionOp::Delete,
            "expire" => DecisionOp::Expire,
            _ => return None,
        })
    }

    /// Whether the change ends the ban (delete, expire).
    pub fn lifts(self) -> bool {
        matches!(self, DecisionOp::Delete | DecisionOp::Expire)
    }
}

/// One change of the decisions log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionChange {
    /// Its place in the log: what `GET /v1/decisions?since=` counts.
    pub seq: i64,
    pub decision_id: i64,
    pub op: DecisionOp,
    pub target: String,
    /// For add/extend: the ban's length from `at` (`None`: permanent). For a lift: 0.
    pub duration_secs: Option<i64>,
    /// For add/extend: when the ban ends (`None`: never). For a lift: when it was lifted.
    pub expires_at: Option<UnixTime>,
    pub reason: String,
    pub rule_id: Option<String>,
    /// When the change was made.
    pub at: UnixTime,
}

/// Which decision
/// [`CollectorStore::delete_decision`](super::CollectorStore::delete_decision) lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionSelector<'a> {
    Id(i64),
    /// The decision in force for this target (canonical text form).
    Target(&'a str),
}

impl<'a> DecisionSelector<'a> {
    /// `(id, target)`, one of them set: the parameters of a statement matching either.
    pub(crate) fn parts(self) -> (Option<i64>, Option<&'a str>) {
        match self {
            DecisionSelector::Id(id) => (Some(id), None),
            DecisionSelector::Target(t) => (None, Some(t)),
        }
    }
}

/// The state of an enrolment token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Redeemed now: the agent was created.
    Redeemed,
    Unknown,
    Used,
    Expired,
}

/// A fleet ban decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    pub target: String,
    pub duration_secs: Option<i64>,
    pub reason: String,
    pub rule_id: Option<String>,
    pub created_at: UnixTime,
    /// The alert that led to it (fleet rules), for the dashboard.
    pub alert_id: Option<i64>,
}

impl NewDecision {
    /// Refuses what no backend stores: a timed decision that does not last.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.duration_secs.is_some_and(|s| s <= 0) {
            return Err(crate::error::StoreError::invalid(
                "decision duration",
                format!(
                    "{:?} for {}: must be above 0",
                    self.duration_secs, self.target
                ),
            ));
        }
        Ok(())
    }
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: i64,
    pub target: String,
    pub duration_secs: Option<i64>,
    pub reason: String,
    pub rule_id: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub alert_id: Option<i64>,
    /// When it stopped being in force: lifted (before `expires_at`) or expired (at it).
    pub removed_at: Option<UnixTime>,
}

impl Decision {
    /// Whether it is in force at `t`: neither lifted nor expired.
    pub fn in_force(&self, t: UnixTime) -> bool {
        self.removed_at.is_none() && self.expires_at.is_none_or(|e| e > t)
    }

    /// Whether it was lifted (rather than left to expire).
    pub fn lifted(&self) -> bool {
        self.removed_at
            .is_some_and(|r| self.expires_at.is_none_or(|e| r < e))
    }
}

/// Rows removed by [`CollectorStore::purge_fleet`](super::CollectorStore::purge_fleet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetPurgeStats {
    pub events: u64,
    pub decisions: u64,
    pub tokens: u64,
}

/// What [`CollectorStore::ingest_group`](super::CollectorStore::ingest_group) runs over
/// each request's new events: the request's index, the new events' indexes into its items,
/// a reader of the stored login profiles.
pub type GroupRules<'a> =
    dyn FnMut(usize, &[usize], &dyn ProfileLookup) -> Result<FleetEffects> + 'a;

/// One request of a [`CollectorStore::ingest_group`](super::CollectorStore::ingest_group).
#[derive(Debug, Clone, Copy)]
pub struct IngestRequest<'a> {
    pub agent_id: &'a str,
    /// When it was received.
    pub now: UnixTime,
    pub items: &'a [FleetItem],
}

/// One write of the fleet rules' outputs, for [`apply_outputs`].
pub(crate) enum OutputWrite<'a> {
    Alert(&'a NewAlert, &'a AlertPlan),
    Decision(&'a NewDecision),
    Lift(DecisionSelector<'a>, UnixTime),
}

/// The fleet rules' outputs written in order by `write`, on either backend: a decision
/// without an alert is linked to the alert just before it; `counts` counts the alerts and
/// the decisions that changed anything. `write` returns an alert's id, and for a decision
/// or a lift the seq of the change it made (`None`: nothing changed).
pub(crate) fn apply_outputs(
    outputs: &[FleetOutput],
    counts: &mut IngestCounts,
    mut write: impl FnMut(OutputWrite<'_>) -> Result<Option<i64>>,
) -> Result<()> {
    let mut last_alert = None;
    for o in outputs {
        match o {
            FleetOutput::Alert(a, plan) => {
                last_alert = write(OutputWrite::Alert(a, plan))?;
                counts.fleet_alerts += 1;
            }
            FleetOutput::Decision(d) => {
                let mut d = d.clone();
                d.alert_id = d.alert_id.or(last_alert);
                if write(OutputWrite::Decision(&d))?.is_some() {
                    counts.fleet_decisions += 1;
                }
            }
            FleetOutput::Lift { target, at } => {
                if write(OutputWrite::Lift(DecisionSelector::Target(target), *at))?.is_some() {
                    counts.fleet_decisions += 1;
                }
            }
        }
    }
    Ok(())
}
