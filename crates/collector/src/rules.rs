//! The fleet rules: the engine (crates/engine) run on the store thread over each ingest
//! request's newly stored events, in `seq` order, so a retried batch is never counted twice.
//! What it makes — alerts, ban decisions, its counters — is committed in the ingest's own
//! transaction ([`logward_store::SqliteStore::ingest_with`]); on any failure the engine is
//! reloaded from the counters last committed, so what it remembers is always what the store
//! holds.
//!
//! The counters are saved when they changed, at most every [`SAVE_EVERY`] (with an ingest,
//! or by the collector's timer when ingests stop), whenever the rules made something, and at
//! shutdown — not with every request: they hold an entry per address failing across the
//! fleet, and rewriting them all per request cost more than storing the events. A crash
//! therefore forgets at most about a second of counting (a ban fewer, never a repeated one).
//!
//! Fleet alerts carry `host.name: fleet` ([`FLEET_HOST`]); the host and agent whose event
//! completed the rule are kept as `labels.event_host` and `labels.event_agent`.

use std::time::{Duration, Instant};

use logward_core::{Event, Timestamp};
use logward_engine::{Engine, Output, Program};
use logward_store::{
    CounterSnapshot, FleetEffects, FleetOutput, NewAlert, NewDecision, SqliteStore, Store, UnixTime,
};

use crate::config::FleetRules;

/// `host.name` of the alerts the fleet rules raise.
pub const FLEET_HOST: &str = logward_store::FLEET_HOST;
/// The name the fleet rules' counters are saved under (table `counters`).
pub const COUNTERS_NAME: &str = "collector-fleet-rules";
/// How often changed counters are saved at most.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The fleet rules and their state.
pub struct Rules {
    file: String,
    text: String,
    engine: Engine,
    /// When the counters were last given to the store.
    saved: Instant,
    /// Whether events were counted since.
    changed: bool,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn at(unix: UnixTime) -> Timestamp {
    Timestamp {
        unix,
        nanos: 0,
        offset: 0,
    }
}

/// A fleet alert: `host.name: fleet`, the event's host and agent kept as
/// `labels.event_host` and `labels.event_agent`.
pub fn fleet_alert(
    mut a: logward_core::Alert,
    now: UnixTime,
    plan: &dyn Fn(&logward_core::Alert) -> logward_store::AlertPlan,
) -> FleetOutput {
    if let Some(h) = a.event.host_name.take() {
        a.labels.push(("event_host".into(), h.to_string()));
    }
    if let Some(id) = a.event.agent_id.take() {
        a.labels.push(("event_agent".into(), id.to_string()));
    }
    a.event.claimed_host = None;
    a.event.host_name = Some(FLEET_HOST.into());
    FleetOutput::Alert(NewAlert::from_alert(&a, now), plan(&a))
}

impl Rules {
    /// Compiles the configured rules (`None` for `rules: none`) and restores their counters
    /// from the store.
    pub fn load(
        cfg: &FleetRules,
        store: &mut SqliteStore,
        now: UnixTime,
    ) -> Result<Option<Rules>, String> {
        let (file, text) = match cfg {
            FleetRules::None => return Ok(None),
            FleetRules::Default => (
                "fleet.yaml".to_owned(),
                logward_engine::FLEET_RULES.to_owned(),
            ),
            FleetRules::File { path, text } => (path.display().to_string(), text.clone()),
        };
        let mut r = Rules {
            engine: Engine::new(Program::load(&file, &text).map_err(|e| e.to_string())?),
            file,
            text,
            saved: Instant::now(),
            changed: false,
        };
        r.reload(store, now)?;
        Ok(Some(r))
    }

    /// A fresh engine with the counters the store holds (after a failed ingest, or at start).
    pub fn reload(&mut self, store: &mut SqliteStore, now: UnixTime) -> Result<(), String> {
        let prog = Program::load(&self.file, &self.text).map_err(|e| e.to_string())?;
        self.engine = Engine::new(prog);
        self.saved = Instant::now();
        self.changed = false;
        match store.load_counters(COUNTERS_NAME) {
            Ok(Some(snap)) => match self.engine.restore(&snap.data, at(now)) {
                Ok(r) => tracing::info!(
                    keys = r.keys,
                    bans = r.bans,
                    "fleet rules: counters restored"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "fleet rules: saved counters unusable; starting empty")
                }
            },
            Ok(None) => {}
            Err(e) => return Err(format!("fleet rules: cannot load counters: {e}")),
        }
        Ok(())
    }

    /// Runs the rules over `events` (the newly stored ones, in order) at `now`.
    pub fn run<'e>(
        &mut self,
        events: impl Iterator<Item = &'e Event<'static>>,
        now: UnixTime,
        plan: &dyn Fn(&logward_core::Alert) -> logward_store::AlertPlan,
    ) -> FleetEffects {
        let ts = at(now);
        let mut out = Vec::new();
        for e in events {
            self.engine.process_at(e, ts, &mut out);
            self.changed = true;
        }
        let mut effects = FleetEffects::default();
        let mut reason = None;
        for o in out {
            match o {
                Output::Alert(a) => {
                    reason = Some(a.message.clone());
                    effects.outputs.push(fleet_alert(*a, now, plan));
                }
                Output::Ban {
                    ip,
                    duration,
                    rule_id,
                    ..
                } => effects.outputs.push(FleetOutput::Decision(NewDecision {
                    target: ip.to_string(),
                    duration_secs: Some(duration.max(1)),
                    reason: reason
                        .clone()
                        .or_else(|| rule_id.clone())
                        .unwrap_or_else(|| "fleet rule".into()),
                    rule_id,
                    created_at: now,
                    alert_id: None,
                })),
                Output::Unban { ip } => effects.outputs.push(FleetOutput::Lift {
                    target: ip.to_string(),
                    at: now,
                }),
                Output::Log { message, .. } => tracing::info!(%message, "fleet rule"),
                Output::Exec { .. } | Output::Report { .. } => {
                    tracing::debug!(
                        "fleet rules: exec and report actions do nothing in the collector"
                    );
                }
            }
        }
        if !effects.outputs.is_empty() || (self.changed && self.saved.elapsed() >= SAVE_EVERY) {
            effects.counters = Some(self.snapshot(now));
            self.saved = Instant::now();
            self.changed = false;
        }
        effects
    }

    fn snapshot(&self, now: UnixTime) -> CounterSnapshot {
        CounterSnapshot {
            name: COUNTERS_NAME.into(),
            data: self.engine.snapshot(at(now)),
            saved_at: now,
        }
    }

    /// Saves the counters now (at shutdown).
    pub fn save(&mut self, store: &mut SqliteStore, now: UnixTime) -> Result<(), String> {
        store
            .put_counters(&self.snapshot(now))
            .map_err(|e| format!("fleet rules: cannot save counters: {e}"))?;
        self.saved = Instant::now();
        self.changed = false;
        Ok(())
    }

    /// Saves the counters if they changed and were not saved for [`SAVE_EVERY`] (the
    /// collector's timer: ingests that stop leave nothing unsaved for long).
    pub fn save_if_due(&mut self, store: &mut SqliteStore, now: UnixTime) -> Result<(), String> {
        if self.changed && self.saved.elapsed() >= SAVE_EVERY {
            self.save(store, now)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_core::{Action, Dataset, Outcome};

    fn failure(host: &'static str) -> Event<'static> {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.set_source("198.51.100.7".into(), Some(2222));
        e.host_name = Some(host.into());
        e.agent_id = Some(host.into());
        e
    }

    #[test]
    fn counters_are_saved_when_rules_act_and_at_shutdown_not_per_request() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open_dir(dir.path()).unwrap();
        let mut r = Rules::load(&FleetRules::Default, &mut store, 1_000)
            .unwrap()
            .unwrap();
        let plan = |_: &logward_core::Alert| logward_store::AlertPlan::default();
        let quiet = r.run([failure("web01"), failure("web02")].iter(), 1_000, &plan);
        assert!(quiet.outputs.is_empty());
        assert!(quiet.counters.is_none(), "nothing made, saved < 1 s ago");
        let acted = r.run([failure("web03")].iter(), 1_001, &plan);
        assert!(!acted.outputs.is_empty(), "three hosts: a fleet ban");
        assert!(acted.counters.is_some(), "saved with what the rules made");

        r.save(&mut store, 1_002).unwrap();
        let saved = store.load_counters(COUNTERS_NAME).unwrap().unwrap();
        assert_eq!(saved.saved_at, 1_002);

        // The timer saves what changed once it is due, and nothing that did not.
        r.run([failure("web04")].iter(), 1_003, &plan);
        r.save_if_due(&mut store, 1_003).unwrap();
        assert_eq!(
            store
                .load_counters(COUNTERS_NAME)
                .unwrap()
                .unwrap()
                .saved_at,
            1_002
        );
        // A save interval later, without waiting one: the last save moved back by it.
        r.saved = r.saved.checked_sub(SAVE_EVERY).unwrap();
        r.save_if_due(&mut store, 1_004).unwrap();
        assert_eq!(
            store
                .load_counters(COUNTERS_NAME)
                .unwrap()
                .unwrap()
                .saved_at,
            1_004
        );
        r.save_if_due(&mut store, 1_005).unwrap();
        assert_eq!(
            store
                .load_counters(COUNTERS_NAME)
                .unwrap()
                .unwrap()
                .saved_at,
            1_004
        );
    }
}
