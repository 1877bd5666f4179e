//! The fleet rules: the engine (crates/engine) run on the store thread over each ingest
//! request's newly stored events, in `seq` order, so a retried batch is never counted twice.
//! What it makes — alerts, ban decisions, its counters — is committed in the ingest's own
//! transaction ([`logward_store::CollectorStore::ingest_group`]); on any failure the engine is
//! reloaded from the counters last committed, so what it remembers is always what the store
//! holds.
//!
//! The counters are saved when they changed, at most every [`SAVE_EVERY`] (with an ingest,
//! or by the collector's timer when ingests stop), whenever the rules made something, and at
//! shutdown — not with every request: they hold an entry per address failing across the
//! fleet, and rewriting them all per request cost more than storing the events. A crash
//! therefore forgets at most about a second of counting (a ban fewer, never a repeated one).
//!
//! With `nats:` and PostgreSQL, the batches from NATS are counted instead by the rules
//! leader (crate::rules_leader), with a [`Rules`] of its own whose counters are saved under
//! another name.
//!
//! Fleet alerts carry `host.name: fleet` ([`FLEET_HOST`]); the host and agent whose event
//! completed the rule are kept as `labels.event_host` and `labels.event_agent`.

use std::time::{Duration, Instant};

use logward_core::{Alert, Event, Timestamp};
use logward_engine::{Effect, Engine, NoStages, Program, Runner, Timing};
use logward_store::{
    AlertPlan, CollectorStore, CounterSnapshot, FleetEffects, FleetOutput, NewAlert, NewDecision,
    ProfileLookup, StoreError, UnixTime,
};

use crate::anomaly::FleetAnomaly;
use crate::config::FleetRules;

/// `host.name` of the alerts the fleet rules raise.
pub const FLEET_HOST: &str = logward_store::FLEET_HOST;
/// The name the fleet rules' counters are saved under (table `counters`).
pub const COUNTERS_NAME: &str = "collector-fleet-rules";
/// How often changed counters are saved at most.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The fleet rules (none for `rules: none`) in the engine's runner, with the fleet
/// detector after them.
pub struct Rules {
    /// The rules file's name and text, for a reload; `None`: `rules: none`.
    source: Option<(String, String)>,
    runner: Runner,
    effects: Vec<Effect>,
    /// The name its counters are saved under.
    counters: &'static str,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("file", &self.source.as_ref().map(|s| &s.0))
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
pub fn fleet_alert(mut a: Alert, now: UnixTime, plan: &dyn Fn(&Alert) -> AlertPlan) -> FleetOutput {
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
    /// Compiles the configured rules (none for `rules: none`) and restores their counters
    /// from the store.
    pub fn load(
        cfg: &FleetRules,
        store: &mut dyn CollectorStore,
        now: UnixTime,
    ) -> Result<Rules, String> {
        Rules::load_as(cfg, store, now, COUNTERS_NAME)
    }

    /// [`Rules::load`] with the counters saved under `counters` (the rules leader's are
    /// not the store thread's).
    pub fn load_as(
        cfg: &FleetRules,
        store: &mut dyn CollectorStore,
        now: UnixTime,
        counters: &'static str,
    ) -> Result<Rules, String> {
        let source = match cfg {
            FleetRules::None => None,
            FleetRules::Default => Some((
                "fleet.yaml".to_owned(),
                logward_engine::FLEET_RULES.to_owned(),
            )),
            FleetRules::File { path, text } => Some((path.display().to_string(), text.clone())),
        };
        let mut r = Rules {
            source,
            runner: Runner::without_rules(Timing::Clock),
            effects: Vec::new(),
            counters,
        };
        r.reload(store, now)?;
        Ok(r)
    }

    /// Whether there are rules (not `rules: none`).
    pub fn active(&self) -> bool {
        self.source.is_some()
    }

    /// A fresh engine with the counters the store holds (after a failed ingest, or at start).
    pub fn reload(&mut self, store: &mut dyn CollectorStore, now: UnixTime) -> Result<(), String> {
        let Some((file, text)) = &self.source else {
            return Ok(());
        };
        let prog = Program::load(file, text).map_err(|e| e.to_string())?;
        // Counters are counted on ingest time and saved at most every SAVE_EVERY.
        self.runner =
            Runner::new(Engine::new(prog), Timing::Clock, SAVE_EVERY).saved_at(Instant::now());
        match store.load_counters(self.counters) {
            Ok(Some(snap)) => match self.runner.restore(&snap.data, at(now)) {
                Some(Ok(r)) => tracing::info!(
                    keys = r.keys,
                    bans = r.bans,
                    "fleet rules: counters restored"
                ),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "fleet rules: saved counters unusable; starting empty")
                }
                None => {}
            },
            Ok(None) => {}
            Err(e) => return Err(format!("fleet rules: cannot load counters: {e}")),
        }
        Ok(())
    }

    /// Runs the rules, then the detector (with the profiles `reader` reads), over `events`
    /// (the newly stored ones, in order) at `now`.
    pub fn run<'e>(
        &mut self,
        events: impl Iterator<Item = &'e Event<'static>>,
        now: UnixTime,
        plan: &dyn Fn(&Alert) -> AlertPlan,
        mut anomaly: Option<(&mut FleetAnomaly, &dyn ProfileLookup)>,
    ) -> Result<FleetEffects, StoreError> {
        let ts = at(now);
        let mut fx = std::mem::take(&mut self.effects);
        // The agents enriched their events: the runner takes them as they are (no copy).
        match anomaly.as_mut() {
            Some((a, reader)) => {
                let mut stages = a.stages(*reader);
                for e in events {
                    self.runner.enriched(e, ts, &mut stages, &mut fx);
                }
            }
            None => {
                for e in events {
                    self.runner.enriched(e, ts, &mut NoStages, &mut fx);
                }
            }
        }
        let mut effects = FleetEffects::default();
        let mut reason = None;
        let mut rules_acted = false;
        for f in fx.drain(..) {
            match f {
                Effect::Alert(a) => {
                    rules_acted = true;
                    reason = Some(a.message.clone());
                    effects.outputs.push(fleet_alert(*a, now, plan));
                }
                Effect::Detected(mut a) => {
                    a.labels.push(("scope".into(), "fleet".into()));
                    effects.outputs.push(fleet_alert(*a, now, plan));
                }
                Effect::Ban {
                    target,
                    duration,
                    rule_id,
                    ..
                } => {
                    let target = match target {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::warn!(error = %e, "fleet rule: ban refused");
                            continue;
                        }
                    };
                    rules_acted = true;
                    effects.outputs.push(FleetOutput::Decision(NewDecision {
                        target: target.to_string(),
                        duration_secs: Some(duration.max(1)),
                        reason: reason
                            .clone()
                            .or_else(|| rule_id.clone())
                            .unwrap_or_else(|| "fleet rule".into()),
                        rule_id,
                        created_at: now,
                        alert_id: None,
                    }));
                }
                Effect::Unban(target) => match target {
                    Ok(t) => {
                        rules_acted = true;
                        effects.outputs.push(FleetOutput::Lift {
                            target: t.to_string(),
                            at: now,
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "fleet rule: unban refused"),
                },
                Effect::Log { message, .. } => tracing::info!(%message, "fleet rule"),
                Effect::Exec(_) | Effect::Report { .. } => {
                    tracing::debug!(
                        "fleet rules: exec and report actions do nothing in the collector"
                    );
                }
            }
        }
        self.effects = fx;
        if self.runner.snapshot_due(rules_acted, Instant::now()) {
            effects.counters = self.snapshot(now);
        }
        if let Some((a, _)) = anomaly {
            effects.profiles = a.take_rows(now).map_err(|e| StoreError::Invalid {
                what: "login profile",
                detail: e.to_string(),
            })?;
        }
        Ok(effects)
    }

    /// The counters to save now (the cadence starts again); `None` without rules.
    pub fn snapshot(&mut self, now: UnixTime) -> Option<CounterSnapshot> {
        Some(CounterSnapshot {
            name: self.counters.into(),
            data: self.runner.take_snapshot(at(now), Instant::now())?,
            saved_at: now,
        })
    }

    /// Saves the counters now (at shutdown).
    pub fn save(&mut self, store: &mut dyn CollectorStore, now: UnixTime) -> Result<(), String> {
        let Some(snap) = self.snapshot(now) else {
            return Ok(());
        };
        store
            .put_counters(&snap)
            .map_err(|e| format!("fleet rules: cannot save counters: {e}"))
    }

    /// Saves the counters if they changed and were not saved for [`SAVE_EVERY`] (the
    /// collector's timer: ingests that stop leave nothing unsaved for long).
    pub fn save_if_due(
        &mut self,
        store: &mut dyn CollectorStore,
        now: UnixTime,
    ) -> Result<(), String> {
        self.save_if_due_at(store, now, Instant::now())
    }

    /// [`Rules::save_if_due`] with the monotonic clock reading `clock` (tests pass one a
    /// save interval ahead instead of waiting one).
    pub fn save_if_due_at(
        &mut self,
        store: &mut dyn CollectorStore,
        now: UnixTime,
        clock: Instant,
    ) -> Result<(), String> {
        if self.runner.snapshot_due(false, clock) {
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
    use logward_store::{SqliteStore, Store as _};

    fn failure(host: &'static str) -> Event<'static> {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.set_source("198.51.100.7".into(), Some(2222));
        e.host_name = Some(host.into());
        e.agent_id = Some(host.into());
        e
    }

    /// When the stored fleet counters were last saved.
    fn saved_at(store: &mut SqliteStore) -> UnixTime {
        store
            .load_counters(COUNTERS_NAME)
            .unwrap()
            .unwrap()
            .saved_at
    }

    #[test]
    fn counters_are_saved_when_rules_act_and_at_shutdown_not_per_request() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open_dir(dir.path()).unwrap();
        let mut r = Rules::load(&FleetRules::Default, &mut store, 1_000).unwrap();
        let plan = |_: &logward_core::Alert| logward_store::AlertPlan::default();
        let quiet = r
            .run(
                [failure("web01"), failure("web02")].iter(),
                1_000,
                &plan,
                None,
            )
            .unwrap();
        assert!(quiet.outputs.is_empty());
        assert!(quiet.counters.is_none(), "nothing made, saved < 1 s ago");
        let acted = r
            .run([failure("web03")].iter(), 1_001, &plan, None)
            .unwrap();
        assert!(!acted.outputs.is_empty(), "three hosts: a fleet ban");
        assert!(acted.counters.is_some(), "saved with what the rules made");

        r.save(&mut store, 1_002).unwrap();
        assert_eq!(saved_at(&mut store), 1_002);

        // The timer saves what changed once it is due, and nothing that did not.
        r.run([failure("web04")].iter(), 1_003, &plan, None)
            .unwrap();
        r.save_if_due(&mut store, 1_003).unwrap();
        assert_eq!(saved_at(&mut store), 1_002);
        // A save interval later, without waiting one: the clock read a save interval ahead.
        let later = Instant::now() + SAVE_EVERY;
        r.save_if_due_at(&mut store, 1_004, later).unwrap();
        assert_eq!(saved_at(&mut store), 1_004);
        r.save_if_due_at(&mut store, 1_005, later).unwrap();
        assert_eq!(saved_at(&mut store), 1_004);
    }
}
