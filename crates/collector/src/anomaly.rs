//! The fleet's login anomaly detector: the agents' detector (docs/ANOMALY.md) with one
//! profile per user across every host, so a login on one host right after one on another
//! from the far side of the world shows as impossible travel. It runs on the store thread
//! after the fleet rules, over each request's newly stored events (their GeoIP fields come
//! from the agents' enrichment); its alerts and the profiles it changed are committed in
//! the ingest's transaction. When a commit fails it forgets what it held in memory, and
//! reads the profiles back from the store.

use logward_core::{Alert, Event};
use logward_engine::anomaly::{Profile, ProfileLoader, Scope, Settings, Stage};
use logward_store::{AlertPlan, FleetEffects, ProfileReader, ProfileRow, UnixTime};

use crate::rules::fleet_alert;

/// Reads profiles through the ingest's transaction.
struct Loader<'a, 'r> {
    reader: &'a ProfileReader<'r>,
    bad: &'a mut u64,
}

impl ProfileLoader for Loader<'_, '_> {
    fn load(&mut self, key: &str) -> Option<Profile> {
        let data = self.reader.profile(key).ok()??;
        match serde_json::from_slice(&data) {
            Ok(p) => Some(p),
            Err(_) => {
                *self.bad += 1;
                None
            }
        }
    }
}

/// The detector with fleet-wide profiles.
#[derive(Debug)]
pub struct FleetAnomaly {
    settings: Settings,
    stage: Stage,
    /// Stored profiles that could not be read (started afresh).
    pub bad_profiles: u64,
}

impl FleetAnomaly {
    pub fn new(settings: Settings) -> FleetAnomaly {
        FleetAnomaly {
            stage: Stage::new(settings.clone(), Scope::Fleet),
            settings,
            bad_profiles: 0,
        }
    }

    /// Scores the logins among `events`; alerts and changed profiles join `effects`.
    pub fn run<'e>(
        &mut self,
        events: impl Iterator<Item = &'e Event<'static>>,
        reader: &ProfileReader<'_>,
        now: UnixTime,
        plan: &dyn Fn(&Alert) -> AlertPlan,
        effects: &mut FleetEffects,
    ) -> Result<(), serde_json::Error> {
        let mut loader = Loader {
            reader,
            bad: &mut self.bad_profiles,
        };
        for e in events {
            if !matches!(
                e.action,
                Some(logward_core::Action::UserLogin | logward_core::Action::UserCreated)
            ) {
                continue;
            }
            let (alerts, _) = self.stage.event(e, &mut loader);
            for mut a in alerts {
                a.labels.push(("scope".into(), "fleet".into()));
                effects.outputs.push(fleet_alert(a, now, plan));
            }
        }
        for (key, p) in self.stage.take_dirty() {
            effects.profiles.push(ProfileRow {
                key,
                data: serde_json::to_vec(&p)?,
                updated_at: now,
            });
        }
        Ok(())
    }

    /// After a failed commit: what memory holds may be ahead of the store.
    pub fn forget(&mut self) {
        self.stage = Stage::new(self.settings.clone(), Scope::Fleet);
    }

    pub fn logins(&self) -> u64 {
        self.stage.stats().logins
    }
}
