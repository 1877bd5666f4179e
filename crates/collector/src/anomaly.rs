//! The fleet's login anomaly detector: the agents' detector (docs/ANOMALY.md) with one
//! profile per user across every host, so a login on one host right after one on another
//! from the far side of the world shows as impossible travel. It runs on the store thread
//! after the fleet rules, over each request's newly stored events (their GeoIP fields come
//! from the agents' enrichment), as the stage after the rules in the engine's runner; its
//! alerts and the profiles it changed are committed in the ingest's transaction. When a
//! commit fails it forgets what it held in memory, and reads the profiles back from the
//! store.

use logward_core::{Action, Alert, Event};
use logward_engine::anomaly::{Profile, ProfileLoader, Scope, Settings, Stage};
use logward_engine::Stages;
use logward_store::{ProfileLookup, ProfileRow, UnixTime};

/// Reads profiles through the ingest's transaction.
struct Loader<'a> {
    reader: &'a dyn ProfileLookup,
    bad: &'a mut u64,
}

impl ProfileLoader for Loader<'_> {
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

/// The fleet detector as the runner's stage after the rules (no enrichment: the agents'
/// events come enriched).
pub struct FleetStages<'a> {
    stage: &'a mut Stage,
    loader: Loader<'a>,
}

impl std::fmt::Debug for FleetStages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetStages").finish_non_exhaustive()
    }
}

impl Stages for FleetStages<'_> {
    fn detect(&mut self, e: &Event<'_>, out: &mut Vec<Alert>) {
        if matches!(e.action, Some(Action::UserLogin | Action::UserCreated)) {
            out.extend(self.stage.event(e, &mut self.loader).0);
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

    /// The detector for one ingest, reading profiles through its transaction.
    pub fn stages<'a>(&'a mut self, reader: &'a dyn ProfileLookup) -> FleetStages<'a> {
        FleetStages {
            stage: &mut self.stage,
            loader: Loader {
                reader,
                bad: &mut self.bad_profiles,
            },
        }
    }

    /// The profiles changed since the last call, as rows for the ingest's transaction.
    pub fn take_rows(&mut self, now: UnixTime) -> Result<Vec<ProfileRow>, serde_json::Error> {
        ProfileRow::encode_all(self.stage.take_dirty(), now, serde_json::to_vec)
    }

    /// After a failed commit: what memory holds may be ahead of the store.
    pub fn forget(&mut self) {
        self.stage = Stage::new(self.settings.clone(), Scope::Fleet);
    }

    pub fn logins(&self) -> u64 {
        self.stage.stats().logins
    }
}
