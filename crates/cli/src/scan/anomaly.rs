//! Login anomaly detection in `scan --rules` and `learn`: the engine's detector over the
//! scanned events, GeoIP from `--geoip`, profiles from (and with `--learn`, back to) the
//! state store in `--state-dir`; and the DNS check of `--config`'s `dns:` section, the
//! agent's own stage, before the rules as in `logward run`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use logward_agent::anomaly::{concerns_detector, enrich_geo, profile_rows, StoreProfiles};
use logward_agent::dns_check::DnsCheck;
use logward_agent::enrich::GeoIp;
use logward_core::{Alert, Event};
use logward_engine::anomaly::{Scope, Settings, Stage};
use logward_engine::Stages;
use logward_store::{AgentStore as _, SqliteStore, Store};

/// The detector with its inputs.
pub struct Anomaly {
    stage: Stage,
    geoip: Option<GeoIp>,
    store: Option<SqliteStore>,
    dir: Option<PathBuf>,
    learn: bool,
    bad_profiles: u64,
    dns: Option<DnsCheck>,
}

impl std::fmt::Debug for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anomaly")
            .field("dir", &self.dir)
            .field("learn", &self.learn)
            .finish_non_exhaustive()
    }
}

impl Anomaly {
    /// `state_dir`: where profiles live (none: `default_dir` when a store exists there, else
    /// the scan learns in memory only). `learn`: write the profiles back.
    pub fn open(
        state_dir: Option<&Path>,
        default_dir: Option<PathBuf>,
        geoip: Option<&Path>,
        learn: bool,
        use_lof: bool,
    ) -> anyhow::Result<Anomaly> {
        let geoip = geoip
            .map(|p| GeoIp::open(p).map_err(|e| anyhow::anyhow!("--geoip: {e}")))
            .transpose()?;
        let dir = match state_dir {
            Some(d) => Some(d.to_owned()),
            None => default_dir.filter(|d| d.join("logward.db").is_file()),
        };
        let store =
            match &dir {
                Some(d) if learn || d.join("logward.db").is_file() => {
                    if learn {
                        std::fs::create_dir_all(d)
                            .with_context(|| format!("cannot create {}", d.display()))?;
                    }
                    Some(SqliteStore::open_dir(d).with_context(|| {
                        format!("cannot open the state store in {}", d.display())
                    })?)
                }
                _ => None,
            };
        Ok(Anomaly {
            stage: Stage::new(
                Settings {
                    use_lof,
                    ..Settings::default()
                },
                Scope::Host,
            ),
            geoip,
            store,
            dir,
            learn,
            bad_profiles: 0,
            dns: None,
        })
    }

    /// Checks `dns-query` events with `dns` from now on, as the agent's pipeline does.
    pub fn set_dns(&mut self, dns: Option<DnsCheck>) {
        self.dns = dns;
    }

    /// Logins scored so far.
    pub fn logins(&self) -> u64 {
        self.stage.stats().logins
    }

    /// With `--learn`, writes the changed profiles; returns how many and where.
    pub fn finish(&mut self) -> anyhow::Result<Option<(usize, PathBuf)>> {
        if self.bad_profiles > 0 {
            eprintln!(
                "logward: {} stored profiles could not be read and were started afresh",
                self.bad_profiles
            );
        }
        if !self.learn {
            return Ok(None);
        }
        let (Some(store), Some(dir)) = (self.store.as_mut(), self.dir.as_ref()) else {
            return Ok(None);
        };
        let now = logward_core::clock::unix_now();
        let rows = profile_rows(self.stage.take_dirty(), now)?;
        store
            .put_profiles(&rows)
            .with_context(|| format!("cannot write profiles to {}", dir.display()))?;
        Ok(Some((rows.len(), dir.clone())))
    }
}

/// The scan's stages around the rules, as the agent's: GeoIP on every event with a source
/// address and the DNS check, then the detector.
impl Stages for Anomaly {
    fn enrich(&mut self, e: &mut Event<'_>) {
        if let Some(g) = &self.geoip {
            enrich_geo(g, e);
        }
        // No source id: a scanned file is none of the config's sources, so only the global
        // `trusted` applies (not `per_source`).
        if let Some(d) = self.dns.as_mut() {
            d.check("", e);
        }
    }

    fn detect(&mut self, e: &Event<'_>, out: &mut Vec<Alert>) {
        if !concerns_detector(e) {
            return;
        }
        let mut loader = StoreProfiles {
            store: self.store.as_mut().map(|s| s as &mut dyn Store),
            bad: &mut self.bad_profiles,
        };
        let (alerts, _) = self.stage.event(e, &mut loader);
        out.extend(alerts);
    }
}
