//! The rows the store keeps, as plain values.

use crate::ban::{BanTarget, Family};
use crate::fingerprint::Fingerprint;

/// Seconds since the Unix epoch. Every time in the store is one of these, supplied by the
/// caller's clock.
pub type UnixTime = i64;

/// The oldest time retention keeps: `keep_days` days before `now` (both backends, the
/// agent's store and the collector's fleet tables; saturating, so no clock overflows).
pub(crate) fn retention_cutoff(now: UnixTime, keep_days: u32) -> UnixTime {
    now.saturating_sub(i64::from(keep_days).saturating_mul(86_400))
}

/// Where a source stopped reading, as of the last committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The source's id (stable across restarts: a file path, `journal`, a configured name).
    pub source: String,
    /// `st_dev` of the file being read (file sources).
    pub device: Option<u64>,
    /// `st_ino` of the file being read (file sources).
    pub inode: Option<u64>,
    /// Byte offset of the first byte not yet processed.
    pub offset: u64,
    /// Fingerprint of the file's first bytes (file sources).
    pub fingerprint: Option<Fingerprint>,
    /// Number of lines processed so far (so `log.file.line` continues after a restart).
    pub line: u64,
    /// The journal cursor of the last entry processed (journal sources).
    pub cursor: Option<String>,
    /// When this checkpoint was written.
    pub updated_at: UnixTime,
}

impl Checkpoint {
    /// A checkpoint with only a source id and time; fill the rest with struct update syntax.
    pub fn new(source: impl Into<String>, updated_at: UnixTime) -> Checkpoint {
        Checkpoint {
            source: source.into(),
            device: None,
            inode: None,
            offset: 0,
            fingerprint: None,
            line: 0,
            cursor: None,
            updated_at,
        }
    }
}

/// An alert to store: its full JSON plus the columns queries filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// `@timestamp` of the alert.
    pub time: UnixTime,
    /// `rule.id`.
    pub rule_id: String,
    /// `event.severity`, 1 (info) … 5 (critical).
    pub severity: u8,
    /// `host.name`.
    pub host: Option<String>,
    /// `source.address`.
    pub source_address: Option<String>,
    /// `user.name`.
    pub user: Option<String>,
    /// The whole alert as JSON (what sinks deliver).
    pub json: String,
    /// What the DNS check found, when the alert is about a DNS query: stored beside the
    /// alert in `dns_hits` (the dashboard's DNS page). Not read back with the alert.
    pub dns: Option<Box<DnsHit>>,
}

/// A DNS check finding kept for the DNS page: who asked what, and what it was found to be.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsHit {
    /// `source.ip` (the client that asked).
    pub client: Option<String>,
    /// `dns.question.name`.
    pub domain: String,
    /// `dns.question.type`.
    pub qtype: Option<String>,
    /// `event.reason`: the strongest finding (`listed`, `api-malicious`, `tunnel`, `dga` …).
    pub finding: Option<String>,
    /// `logward.dns.list`.
    pub list: Option<String>,
    /// `logward.dns.verdict`.
    pub verdict: Option<String>,
    /// `logward.dns.severity`.
    pub severity: Option<String>,
    /// The answers' data, comma-separated (at most 256 bytes).
    pub answer: Option<String>,
    /// `logward.dns.owner`.
    pub owner: Option<String>,
}

impl DnsHit {
    /// The hit of an event the DNS check flagged (one with `logward.dns.*`).
    pub fn of_event(e: &logward_core::Event<'_>) -> Option<DnsHit> {
        let d = e.dns.as_deref()?;
        let intel = d.intel.as_deref()?;
        let mut answer = String::new();
        for a in &d.answers {
            if answer.len() + a.data.len() + 2 > 256 {
                break;
            }
            if !answer.is_empty() {
                answer.push_str(", ");
            }
            answer.push_str(&a.data);
        }
        Some(DnsHit {
            client: e.source_ip.map(|ip| ip.to_string()),
            domain: d.question_name.to_string(),
            qtype: d.question_type.as_deref().map(str::to_owned),
            finding: e.reason.map(str::to_owned),
            list: intel.list.clone(),
            verdict: intel.verdict.clone(),
            severity: intel.severity.clone(),
            answer: (!answer.is_empty()).then_some(answer),
            owner: intel.owner.clone(),
        })
    }
}

impl NewAlert {
    /// Refuses what no backend stores: a severity outside 1–5.
    pub(crate) fn validate(&self) -> crate::error::Result<()> {
        if !(1..=5).contains(&self.severity) {
            return Err(crate::error::StoreError::invalid(
                "alert severity",
                format!("{} (rule {}): must be 1 to 5", self.severity, self.rule_id),
            ));
        }
        Ok(())
    }

    /// The row for a core [`Alert`](logward_core::Alert): its nested ECS JSON and the indexed
    /// columns taken from it. `now` stands in for the time when the event has no timestamp.
    pub fn from_alert(alert: &logward_core::Alert, now: UnixTime) -> NewAlert {
        // An sshd login alert is ~600 bytes: start large enough not to grow on the hot path.
        let mut json = Vec::with_capacity(1024);
        logward_core::write_alert(&mut json, alert);
        let e = &alert.event;
        NewAlert {
            time: e.timestamp.map_or(now, |t| t.unix),
            rule_id: alert.rule_id.clone(),
            severity: alert.severity.code(),
            host: e.host_name.as_deref().map(str::to_owned),
            source_address: e.source_address.as_deref().map(str::to_owned),
            user: e.user_name.as_deref().map(str::to_owned),
            // The writer emits UTF-8 only; a lossy conversion never changes it.
            json: String::from_utf8(json)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            dns: DnsHit::of_event(e).map(Box::new),
        }
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    /// Row id (increasing in commit order).
    pub id: i64,
    /// The alert as it was given.
    pub alert: NewAlert,
}

/// A delivery to queue in the outbox for an alert of the same batch. At most one per (alert,
/// sink): its idempotency key is derived from the pair, so
/// [`AgentStore::commit_batch`](crate::AgentStore::commit_batch) refuses a batch that repeats one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// Index into [`Batch::alerts`] of the alert to deliver.
    pub alert: usize,
    /// The sink's configured name.
    pub sink: String,
    /// Earliest time to try (usually now).
    pub next_attempt_at: UnixTime,
}

/// Delivery state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Not delivered yet; tried again from `next_attempt_at`.
    Pending,
    /// Delivered.
    Sent,
    /// Given up on (until an operator retries it).
    Failed,
}

impl OutboxState {
    /// A delivery's state after a failed attempt: pending when it is tried again at
    /// `retry_at`, failed (given up) without one.
    pub(crate) fn after_failure(retry_at: Option<UnixTime>) -> OutboxState {
        match retry_at {
            Some(_) => OutboxState::Pending,
            None => OutboxState::Failed,
        }
    }
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "sent" => Some(OutboxState::Sent),
            "failed" => Some(OutboxState::Failed),
            _ => None,
        }
    }
}

/// An outbox row with its alert's JSON, ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// The alert delivered.
    pub alert_id: i64,
    /// The sink's name.
    pub sink: String,
    /// Delivery state.
    pub state: OutboxState,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Earliest time of the next attempt.
    pub next_attempt_at: UnixTime,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Unique per (database, alert, sink): receivers use it to drop repeats, since delivery
    /// is at-least-once.
    pub idempotency_key: String,
    /// The alert's JSON.
    pub alert_json: String,
    /// The alert's LLM analysis row, when one was asked for (the collector's).
    pub analysis: Option<OutboxAnalysis>,
}

/// What delivery needs of an alert's LLM analysis: whether to wait for it, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxAnalysis {
    pub state: crate::collector::AnalysisState,
    pub text: Option<String>,
    /// When the alert was stored asking for it (Unix seconds): delivery waits from here.
    pub requested_at: UnixTime,
}

/// Number of outbox rows in each state (for metrics and `logward outbox`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for delivery.
    pub pending: u64,
    /// Delivered (until retention removes them).
    pub sent: u64,
    /// Given up on.
    pub failed: u64,
}

/// A ban to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    /// What is banned.
    pub target: BanTarget,
    /// Why (a human sentence or the alert message).
    pub reason: String,
    /// The rule that asked for the ban, when one did (`None` for `logward bans add`).
    pub rule_id: Option<String>,
    /// When the ban starts.
    pub created_at: UnixTime,
    /// When it ends; `None` for a permanent ban.
    pub expires_at: Option<UnixTime>,
}

/// A change to the ban table, committed with the batch that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanChange {
    /// Ban (or re-ban) a target. A target banned before — even long expired, until retention
    /// forgets it — counts one more offence, which the engine reads through
    /// [`AgentStore::ban`](crate::AgentStore::ban) to escalate the ban time.
    Add(NewBan),
    /// Lift a ban now (`logward bans del`, an `unban` action). No effect when not banned.
    Remove {
        /// The target to unban.
        target: BanTarget,
        /// When.
        at: UnixTime,
    },
}

/// A ban as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// What is banned.
    pub target: BanTarget,
    /// IPv4 or IPv6 (also `target.family()`; stored so queries can select a set).
    pub family: Family,
    /// Why.
    pub reason: String,
    /// The rule that asked for it.
    pub rule_id: Option<String>,
    /// When the current (or last) ban started.
    pub created_at: UnixTime,
    /// When it ends; `None` for permanent.
    pub expires_at: Option<UnixTime>,
    /// How many times this target has been banned (1 for the first ban).
    pub offences: u32,
    /// When it was lifted or expired, if it was.
    pub removed_at: Option<UnixTime>,
}

impl Ban {
    /// Seconds left at `now`: `Some(0)` once expired, `None` for a permanent ban.
    pub fn remaining(&self, now: UnixTime) -> Option<u64> {
        self.expires_at
            .map(|e| u64::try_from(e.saturating_sub(now)).unwrap_or(0))
    }

    /// Whether the ban is in force at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.removed_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// An engine's counter state, opaque to the store (the engine serialises it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Name of the counter set (one per engine instance or rule set).
    pub name: String,
    /// The serialised counters.
    pub data: Vec<u8>,
    /// When they were taken.
    pub saved_at: UnixTime,
}

/// Section of the daily report an entry goes into (Pyruse's three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportSection {
    /// Things to look at.
    Warn,
    /// Things that happened.
    Info,
    /// Lines nothing recognised.
    Other,
}

impl ReportSection {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReportSection::Warn => "WARN",
            ReportSection::Info => "INFO",
            ReportSection::Other => "OTHER",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ReportSection> {
        match s {
            "WARN" => Some(ReportSection::Warn),
            "INFO" => Some(ReportSection::Info),
            "OTHER" => Some(ReportSection::Other),
            _ => None,
        }
    }
}

/// An entry for the daily report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEntry {
    /// When it happened.
    pub time: UnixTime,
    /// Which section.
    pub section: ReportSection,
    /// The text.
    pub text: String,
}

/// A stored report entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReportEntry {
    /// Row id.
    pub id: i64,
    /// The entry.
    pub entry: ReportEntry,
}

/// Everything one step of the pipeline produced, committed together by
/// [`AgentStore::commit_batch`](crate::AgentStore::commit_batch). Reuse one `Batch` and
/// [`clear`](Batch::clear) it after each commit to keep its allocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// New positions of the sources whose lines produced the rest of the batch.
    pub checkpoints: Vec<Checkpoint>,
    /// Alerts raised.
    pub alerts: Vec<NewAlert>,
    /// Deliveries to queue for those alerts.
    pub outbox: Vec<NewOutbox>,
    /// Bans added or lifted.
    pub bans: Vec<BanChange>,
    /// Counter snapshots as of the checkpoints (so a restart keeps its windows without
    /// counting the replayed lines twice).
    pub counters: Vec<CounterSnapshot>,
    /// Daily report entries.
    pub report: Vec<ReportEntry>,
    /// Events and alerts for the forward spool (empty unless forwarding is configured).
    pub spool: Vec<SpoolItem>,
    /// Login profiles changed by the lines of this batch (docs/ANOMALY.md).
    pub profiles: Vec<ProfileRow>,
}

/// One stored login profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub key: String,
    /// The profile as JSON.
    pub data: Vec<u8>,
    pub updated_at: UnixTime,
}

impl ProfileRow {
    /// Rows for the changed profiles (key, profile), each encoded by `encode` (the callers'
    /// JSON: the store does not know the profile type) and stamped `updated_at`; the first
    /// error stops it. The agent's batches and the collector's ingest both write these.
    pub fn encode_all<P, E>(
        changed: Vec<(String, P)>,
        updated_at: UnixTime,
        encode: impl Fn(&P) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<ProfileRow>, E> {
        changed
            .into_iter()
            .map(|(key, p)| {
                Ok(ProfileRow {
                    data: encode(&p)?,
                    key,
                    updated_at,
                })
            })
            .collect()
    }
}

impl Batch {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
            && self.alerts.is_empty()
            && self.outbox.is_empty()
            && self.bans.is_empty()
            && self.counters.is_empty()
            && self.report.is_empty()
            && self.spool.is_empty()
            && self.profiles.is_empty()
    }

    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.checkpoints.clear();
        self.alerts.clear();
        self.outbox.clear();
        self.bans.clear();
        self.counters.clear();
        self.report.clear();
        self.spool.clear();
        self.profiles.clear();
    }
}

/// Row ids given to a committed batch's alerts and outbox rows, in the batch's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchIds {
    /// One per [`Batch::alerts`].
    pub alerts: Vec<i64>,
    /// One per [`Batch::outbox`].
    pub outbox: Vec<i64>,
    /// Plain events the spool dropped to stay under its size bound (oldest first).
    pub spool_dropped: u64,
}

/// Rows removed by [`Store::purge`](crate::Store::purge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Alerts removed.
    pub alerts: u64,
    /// Sent outbox rows removed.
    pub outbox: u64,
    /// Lifted or expired bans forgotten (their offence counts with them).
    pub bans: u64,
    /// Report entries removed.
    pub report: u64,
    /// DNS hits removed (whole days).
    pub dns_hits: u64,
}

/// What a spool item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpoolKind {
    /// A plain event (dropped first when the spool is full).
    Event,
    /// An alert (never dropped).
    Alert,
}

impl SpoolKind {
    /// The key of the item's object on the wire: `event` or `alert`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpoolKind::Event => "event",
            SpoolKind::Alert => "alert",
        }
    }
}

/// An item to add to the forward spool (its seq is given when it is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolItem {
    /// Event or alert.
    pub kind: SpoolKind,
    /// When it happened (the event's `@timestamp`, else the commit time).
    pub time: UnixTime,
    /// Its ECS JSON object.
    pub json: String,
}

/// A spooled item, as the sender reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledItem {
    /// Increasing by one per item, never reused.
    pub seq: u64,
    /// Event or alert.
    pub kind: SpoolKind,
    /// When it happened.
    pub time: UnixTime,
    /// Its ECS JSON object.
    pub json: String,
}

/// The spool's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Items waiting.
    pub items: u64,
    /// Bytes of their JSON.
    pub bytes: u64,
    /// The size bound.
    pub max_bytes: u64,
    /// Plain events dropped since the database was created.
    pub dropped: u64,
    /// The seq the next item gets.
    pub next_seq: u64,
    /// `time` of the oldest item waiting.
    pub oldest: Option<UnixTime>,
}
