//! The fleet rules: the engine (crates/engine) run on the store thread over each ingest
//! request's newly stored events, in `seq` order, so a retried batch is never counted twice.
//! What it makes — alerts, ban decisions, its counters — is committed in the ingest's own
//! transaction ([`logward_store::SqliteStore::ingest_with`]); on any failure the engine is
//! reloaded from the counters last committed, so what it remembers is always what the store
//! holds.
//!
//! Fleet alerts carry `host.name: fleet` ([`FLEET_HOST`]); the host whose event completed
//! the rule is kept as `labels.event_host`.

use logward_core::{Event, Timestamp};
use logward_engine::{Engine, Output, Program};
use logward_store::{
    CounterSnapshot, FleetEffects, FleetOutput, NewAlert, NewDecision, SqliteStore, Store, UnixTime,
};

use crate::config::FleetRules;

/// `host.name` of the alerts the fleet rules raise.
pub const FLEET_HOST: &str = "fleet";
/// The name the fleet rules' counters are saved under (table `counters`).
pub const COUNTERS_NAME: &str = "collector-fleet-rules";

/// The fleet rules and their state.
pub struct Rules {
    file: String,
    text: String,
    engine: Engine,
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
        };
        r.reload(store, now)?;
        Ok(Some(r))
    }

    /// A fresh engine with the counters the store holds (after a failed ingest, or at start).
    pub fn reload(&mut self, store: &mut SqliteStore, now: UnixTime) -> Result<(), String> {
        let prog = Program::load(&self.file, &self.text).map_err(|e| e.to_string())?;
        self.engine = Engine::new(prog);
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
        }
        let mut effects = FleetEffects::default();
        let mut reason = None;
        for o in out {
            match o {
                Output::Alert(mut a) => {
                    if let Some(h) = a.event.host_name.take() {
                        a.labels.push(("event_host".into(), h.to_string()));
                    }
                    a.event.host_name = Some(FLEET_HOST.into());
                    reason = Some(a.message.clone());
                    effects
                        .outputs
                        .push(FleetOutput::Alert(NewAlert::from_alert(&a, now), plan(&a)));
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
        effects.counters = Some(CounterSnapshot {
            name: COUNTERS_NAME.into(),
            data: self.engine.snapshot(ts),
            saved_at: now,
        });
        effects
    }
}
