//! The fleet rules with several collectors (docs/SCALE.md "Fleet rules with several
//! collectors"): with `nats:` and the PostgreSQL store, the ingest consumers store batches
//! without running the fleet rules, and one collector at a time — the rules leader — counts
//! every batch of the stream once, so each key (an address, a user) is counted in exactly
//! one place and a fleet alert or decision is raised once fleet-wide.
//!
//! Leadership is a session-level PostgreSQL advisory lock taken on a store connection of
//! the leader's own ([`CollectorStore::lead_rules`]): a dead collector's session ends and
//! the lock is free; the others try again every [`RETRY`]. The leader reads the stream from
//! its own durable consumer ([`CONSUMER`]), checks each batch's signature again (the
//! stream's content is never trusted unverified), decodes it with the ingest path's decoder,
//! and commits the rules' effects — alerts, decisions, counters, profiles — in one
//! transaction with its position ([`POSITION_KEY`]: the last stream sequence counted and
//! each agent's highest `seq` counted); messages are acknowledged after that commit. A
//! message at or below the stored sequence (a redelivery after a leader died between its
//! commit and its acks) is acknowledged without counting; a batch whose `seq`s were counted
//! already (an agent's re-publish) counts nothing. A new leader loads the saved counters and
//! the position first, so what it remembers is what the store holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, AckKind};
use futures_util::StreamExt as _;
use logward_core::nats as lnats;
use logward_core::Event;
use logward_store::{CollectorStore, FleetEffects, IngestCounts, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::anomaly::FleetAnomaly;
use crate::config::{Auth, Config, NatsConfig, StoreConfig};
use crate::rules::Rules;
use crate::server::AppState;
use crate::signed::{verify_held, Arrival, KnownAgents};

/// The leader's durable consumer on the agents' stream.
pub const CONSUMER: &str = "logward-rules";
/// The endpoint the leader's refusals are counted under in `/metrics` (the ingest
/// consumer counts the same batches' under `nats`).
pub const ENDPOINT: &str = "nats-rules";
/// The name the leader's counters are saved under (not the store thread's, which counts
/// HTTP ingests).
pub const COUNTERS_NAME: &str = "collector-fleet-rules-stream";
/// The meta row holding the leader's position, committed with the rules' effects.
pub const POSITION_KEY: &str = "fleet-rules-stream";
/// How often a collector that does not lead tries to take the lead.
pub const RETRY: Duration = Duration::from_secs(3);
/// Messages counted in one transaction at most.
const BATCH: usize = 500;
/// Messages of a pass checked and decoded at once (the decoding runs on the blocking pool).
const DECODERS: usize = 8;

/// Whether this collector's NATS batches are counted by a rules leader: `nats:` with the
/// PostgreSQL store (several collectors may share the stream and the database). HTTP ingest
/// and the single-collector SQLite default keep the rules in their ingest's transaction.
pub fn enabled(config: &Config) -> bool {
    config.nats.is_some() && matches!(config.store, StoreConfig::Postgres { .. })
}

/// What the leader counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct LeaderStats {
    /// 1 while this collector leads the fleet rules.
    pub leader: AtomicU64,
    /// Messages whose events the leader counted (committed).
    pub counted: AtomicU64,
    /// Messages acknowledged without counting: at or below the stored position.
    pub skipped: AtomicU64,
    /// Messages whose batch failed its check or decoding (the ingest consumer refuses them).
    pub refused: AtomicU64,
    /// Of the messages received, those the server had delivered before.
    pub redelivered: AtomicU64,
    /// The rules consumer at its last look: not yet delivered, delivered and unacknowledged.
    pub pending: AtomicU64,
    pub ack_pending: AtomicU64,
}

impl LeaderStats {
    /// This collector no longer leads: its last look at the rules consumer goes too, or a
    /// former leader would report the messages it held then as unacknowledged for ever
    /// (and the cluster's figures, summed over collectors, would never drain).
    fn step_down(&self) {
        self.leader.store(0, Relaxed);
        self.pending.store(0, Relaxed);
        self.ack_pending.store(0, Relaxed);
    }
}

/// Where the leader is in the stream: committed with what it counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Position {
    /// The last stream sequence counted (or skipped).
    stream_seq: u64,
    /// Each agent's highest `seq` counted.
    agents: BTreeMap<String, i64>,
}

/// A store connection dropped on a thread of its own: PostgreSQL's sync client must not be
/// dropped on the async runtime, and a follower's or leader's connection may be dropped
/// there (a task stopped at shutdown).
struct OffRuntime(Option<Box<dyn CollectorStore>>);

impl Drop for OffRuntime {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            if std::thread::Builder::new()
                .name("rules-store-drop".into())
                .spawn(move || drop(s))
                .is_err()
            {
                tracing::warn!("fleet rules: cannot close a store connection");
            }
        }
    }
}

impl std::ops::Deref for OffRuntime {
    type Target = dyn CollectorStore;
    fn deref(&self) -> &Self::Target {
        self.0.as_deref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for OffRuntime {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_deref_mut().expect("present until dropped")
    }
}

/// The leader's state: its store connection (which holds the lock), its rules and detector,
/// and its position as committed.
struct Leader {
    store: OffRuntime,
    rules: Rules,
    anomaly: Option<FleetAnomaly>,
    position: Position,
    /// The position's text as stored (compared when committing).
    saved: Option<String>,
}

/// Runs for the collector's life: waits for the lead, leads until it is lost or fails,
/// and waits again.
pub fn start(
    state: Arc<AppState>,
    cfg: NatsConfig,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stats = &state.metrics.rules_leader;
        loop {
            let leader = tokio::select! {
                l = take_lead(&state) => l,
                _ = shutdown.changed() => return,
            };
            stats.leader.store(1, Relaxed);
            tracing::info!("fleet rules: this collector leads");
            let mut slot = Some(leader);
            let r = tokio::select! {
                r = lead(&state, &cfg, &mut slot) => r,
                _ = shutdown.changed() => Ok(()),
            };
            stats.step_down();
            if let Err(e) = r {
                tracing::warn!(error = %e, "fleet rules: no longer leading");
            }
            // The lock goes with the connection (closed off the async runtime).
            drop(slot.take());
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Tries every [`RETRY`] until this collector leads; the rules and the position loaded.
async fn take_lead(state: &Arc<AppState>) -> Leader {
    let mut store: Option<OffRuntime> = None;
    loop {
        let at = crate::StoreAt::from(&state.config);
        let (rules, anomaly) = (state.config.rules.clone(), state.config.anomaly.clone());
        let held = store.take();
        let r = tokio::task::spawn_blocking(move || {
            let mut s = match held {
                Some(s) => s,
                None => OffRuntime(Some(
                    crate::open_store(at).map_err(|e| (None, e.to_string()))?,
                )),
            };
            match s.lead_rules() {
                Ok(true) => {}
                Ok(false) => return Ok(Err(s)),
                Err(e) => return Err((Some(s), e.to_string())),
            }
            let now = crate::unix_now();
            let loaded = Rules::load_as(&rules, &mut *s, now, COUNTERS_NAME).and_then(|r| {
                let saved = s.meta(POSITION_KEY).map_err(|e| e.to_string())?;
                let position = match &saved {
                    Some(t) => serde_json::from_str(t)
                        .map_err(|e| format!("stored position unreadable: {e}"))?,
                    None => Position::default(),
                };
                Ok((r, saved, position))
            });
            match loaded {
                Ok((rules, saved, position)) => Ok(Ok(Leader {
                    store: s,
                    rules,
                    anomaly: anomaly.map(FleetAnomaly::new),
                    position,
                    saved,
                })),
                Err(e) => Err((Some(s), e)),
            }
        })
        .await;
        match r {
            Ok(Ok(Ok(l))) => return l,
            Ok(Ok(Err(s))) => store = Some(s),
            Ok(Err((s, e))) => {
                tracing::warn!(error = %e, "fleet rules: cannot take the lead");
                // A store that failed is closed (off the runtime) and opened again.
                drop(s);
            }
            Err(e) => tracing::warn!(error = %e, "fleet rules: cannot take the lead"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Leads: consumes the stream and counts it until the lead is lost or something fails.
/// `slot` holds the leader between passes (empty only while a pass runs).
async fn lead(
    state: &Arc<AppState>,
    cfg: &NatsConfig,
    slot: &mut Option<Leader>,
) -> Result<(), String> {
    let client = lnats::connect(&cfg.connect, "logward-rules", false).await?;
    let js = jetstream::new(client);
    let stream = crate::nats::stream(&js, cfg, state.config.limits.body_bytes).await?;
    let mut consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            CONSUMER,
            consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(cfg.ack_wait_secs),
                max_ack_pending: 10 * BATCH as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {CONSUMER}: {e}"))?;
    // Bound as it is when it exists: without explicit acks a message would count as settled
    // before its pass committed.
    if consumer.cached_info().config.ack_policy != consumer::AckPolicy::Explicit {
        return Err(format!(
            "consumer {CONSUMER} does not use explicit acks (delete it and the leader makes it)"
        ));
    }
    let stats = &state.metrics.rules_leader;
    loop {
        if let Ok(i) = consumer.info().await {
            stats.pending.store(i.num_pending, Relaxed);
            stats.ack_pending.store(i.num_ack_pending as u64, Relaxed);
        }
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut msgs = Vec::new();
        while let Some(m) = batch.next().await {
            msgs.push(m.map_err(|e| format!("fetch: {e}"))?);
        }
        if msgs.is_empty() {
            still_leads(slot).await?;
            continue;
        }
        pass(state, slot, &msgs).await?;
    }
}

/// Whether the leader's session still holds the lock (a lost connection lost it).
async fn still_leads(slot: &mut Option<Leader>) -> Result<(), String> {
    let mut l = slot.take().ok_or("no leader state")?;
    let (l, r) = tokio::task::spawn_blocking(move || {
        let r = l.store.lead_rules();
        (l, r)
    })
    .await
    .map_err(|e| e.to_string())?;
    *slot = Some(l);
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err("the lock was lost (its connection ended)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// One message's part of a pass: when the stream stored it, and its events not counted
/// before.
type Counted = (i64, Vec<Event<'static>>);

/// Counts `msgs` (in stream order) in one transaction, then acknowledges them.
async fn pass(
    state: &Arc<AppState>,
    slot: &mut Option<Leader>,
    msgs: &[jetstream::Message],
) -> Result<(), String> {
    let stats = &state.metrics.rules_leader;
    let mut position = slot.as_ref().ok_or("no leader state")?.position.clone();
    // The messages to count, in stream order; the others were counted before.
    let mut todo = Vec::with_capacity(msgs.len());
    let mut skipped = 0u64;
    for m in msgs {
        let Ok(info) = m.info() else { continue };
        if info.delivered > 1 {
            stats.redelivered.fetch_add(1, Relaxed);
        }
        if info.stream_sequence <= position.stream_seq {
            skipped += 1;
            continue;
        }
        position.stream_seq = info.stream_sequence;
        todo.push((m, info.published.unix_timestamp(), info.stream_sequence));
    }
    let taken = todo.len() as u64;
    let agents = match known_agents(state, slot, &todo).await {
        Ok(a) => a,
        Err(e) => {
            nak(msgs).await;
            return Err(e);
        }
    };
    // Checked and decoded a few at a time (the decoding runs off the runtime), counted in
    // stream order.
    let agents = &agents;
    let checks: Vec<_> = todo
        .into_iter()
        .map(|(m, stored, stream_seq)| check(state, m, stored, stream_seq, agents))
        .collect();
    let mut checked = futures_util::stream::iter(checks).buffered(DECODERS);
    let mut counted: Vec<Counted> = Vec::new();
    while let Some(batch) = checked.next().await {
        let Some((stored, agent, events)) = batch else {
            stats.refused.fetch_add(1, Relaxed);
            continue;
        };
        // An agent's batches come in `seq` order: one counted before (re-published) counts
        // nothing, as ingest stores it once.
        let last = position.agents.entry(agent).or_insert(0);
        let mut fresh = Vec::with_capacity(events.len());
        for (seq, e) in events {
            if seq > *last {
                *last = seq;
                fresh.push(e);
            }
        }
        counted.push((stored, fresh));
    }
    drop(checked);
    let text = serde_json::to_string(&position).map_err(|e| e.to_string())?;
    let plan_state = Arc::clone(state);
    let plan: crate::store_thread::Planner = Arc::new(move |a: &logward_core::Alert| {
        crate::llm::alert_plan(&plan_state.router, plan_state.config.llm.as_ref(), a)
    });
    let mut l = slot.take().ok_or("no leader state")?;
    let (l, r) = tokio::task::spawn_blocking(move || {
        let now = crate::unix_now();
        let r = commit(&mut l, &counted, &text, now, &plan);
        match &r {
            Ok(_) => {
                l.position = position;
                l.saved = Some(text);
            }
            Err(_) => {
                if let Err(e) = l.rules.reload(&mut *l.store, now) {
                    tracing::error!("fleet rules: {e}");
                }
                if let Some(a) = l.anomaly.as_mut() {
                    a.forget();
                }
            }
        }
        (l, r)
    })
    .await
    .map_err(|e| e.to_string())?;
    *slot = Some(l);
    match r {
        Ok(counts) => {
            stats.counted.fetch_add(taken, Relaxed);
            stats.skipped.fetch_add(skipped, Relaxed);
            let m = &state.metrics;
            m.fleet_alerts.fetch_add(counts.fleet_alerts, Relaxed);
            m.fleet_decisions.fetch_add(counts.fleet_decisions, Relaxed);
            if counts.fleet_decisions > 0 {
                state.decisions_changed();
            }
            if counts.fleet_alerts > 0 {
                state.delivery_wake.notify_waiters();
                if let Some(w) = &state.llm_wake {
                    w.notify_waiters();
                }
            }
            for m in msgs {
                if let Err(e) = m.ack().await {
                    // Delivered again later, and then skipped: it is at or below the position.
                    tracing::debug!(error = %e, "fleet rules: an ack was lost");
                }
            }
            Ok(())
        }
        Err(e) => {
            nak(msgs).await;
            Err(format!("commit: {e}"))
        }
    }
}

/// One message's batch checked and decoded: when the stream stored it, its agent and its
/// events with their `seq`; `None` when the ingest refuses it too.
async fn check(
    state: &Arc<AppState>,
    m: &jetstream::Message,
    stored: i64,
    stream_seq: u64,
    agents: &KnownAgents,
) -> Option<(i64, String, Vec<(i64, Event<'static>)>)> {
    let how = Arrival::Nats { stored, stream_seq };
    let headers = crate::nats::http_headers(m.headers.as_ref());
    let encoding = headers
        .get(lnats::HEADER_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let agent = lnats::subject_agent(m.subject.as_str());
    let payload = m.payload.clone();
    let signed = verify_held(state, ENDPOINT, &headers, agent, payload, how, agents).ok()?;
    let agent = signed.agent_id.clone();
    match crate::ingest::decode_events(state, signed, encoding.as_deref()).await {
        Ok(events) => Some((stored, agent, events)),
        Err(e) => {
            tracing::debug!(error = %e, "fleet rules: a batch the ingest refuses too");
            None
        }
    }
}

/// Gives `msgs` back to the stream at once (a pass that did not commit).
async fn nak(msgs: &[jetstream::Message]) {
    for m in msgs {
        let _ = m.ack_with(AckKind::Nak(None)).await;
    }
}

/// The enrolled agents the messages' subjects name, looked up once on the leader's own
/// store connection (the store thread's queue is the ingest's: a lookup there per message
/// waited behind ingest commits). With the shared key there is nothing to look up.
async fn known_agents(
    state: &AppState,
    slot: &mut Option<Leader>,
    todo: &[(&jetstream::Message, i64, u64)],
) -> Result<KnownAgents, String> {
    if !matches!(state.config.auth, Auth::Agents) {
        return Ok(KnownAgents::new());
    }
    let ids: BTreeSet<String> = todo
        .iter()
        .filter_map(|(m, ..)| lnats::subject_agent(m.subject.as_str()))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Ok(KnownAgents::new());
    }
    let mut l = slot.take().ok_or("no leader state")?;
    let (l, r) = tokio::task::spawn_blocking(move || {
        let r = ids
            .into_iter()
            .map(|id| l.store.agent(&id).map(|a| (id, a)))
            .collect::<Result<KnownAgents, StoreError>>();
        (l, r)
    })
    .await
    .map_err(|e| e.to_string())?;
    *slot = Some(l);
    r.map_err(|e| format!("agent lookup: {e}"))
}

/// The rules over a pass's events, committed with the new position.
fn commit(
    l: &mut Leader,
    counted: &[Counted],
    position: &str,
    now: i64,
    plan: &crate::store_thread::Planner,
) -> Result<IngestCounts, StoreError> {
    let Leader {
        store,
        rules,
        anomaly,
        saved,
        ..
    } = l;
    store.commit_rules(
        POSITION_KEY,
        saved.as_deref(),
        position,
        now,
        &mut |reader| {
            let mut all = FleetEffects::default();
            for (at, events) in counted {
                let fx = rules.run(
                    events.iter(),
                    *at,
                    &**plan,
                    anomaly.as_mut().map(|a| (a, reader)),
                )?;
                all.outputs.extend(fx.outputs);
                all.profiles.extend(fx.profiles);
            }
            // Always with the position: a new leader must find the counters of exactly the
            // messages before it.
            all.counters = rules.snapshot(now);
            Ok(all)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn a_former_leader_reports_no_rules_consumer_backlog() {
        let m = Arc::new(Metrics::default());
        let r = &m.rules_leader;
        r.leader.store(1, Relaxed);
        r.pending.store(5, Relaxed);
        r.ack_pending.store(3, Relaxed);
        r.step_down();
        let text = m.render();
        for sample in [
            "logward_collector_rules_leader 0",
            "logward_collector_rules_consumer_messages{state=\"pending\"} 0",
            "logward_collector_rules_consumer_messages{state=\"ack_pending\"} 0",
        ] {
            assert!(text.lines().any(|l| l == sample), "{sample}:\n{text}");
        }
    }
}
