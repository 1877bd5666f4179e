//! Login anomaly detection in the agent (docs/ANOMALY.md): GeoIP/ASN enrichment of every
//! event with a source address (before the rules, so rules can use `source.geo.*`), then the
//! engine's detector over logins, with profiles read from and written to the state store.
//!
//! DNSBL look-ups are asynchronous and never hold up the pipeline: a successful login whose
//! address is not in the DNSBL cache goes through the rules at once, and only its anomaly
//! score waits for the look-up (at most the DNSBL timeout); the daemon hands the answer back
//! with [`Anomaly::resume`]. `logward learn` and `scan --rules` use the same parts.

use std::net::IpAddr;
use std::sync::Arc;

use logward_core::enrich::Enrichment;
use logward_core::{Action, Alert, Event, Outcome};
use logward_engine::anomaly::{Profile, ProfileLoader, Scope, Settings, Stage};
use logward_store::{ProfileRow, Store, UnixTime};
use tokio::sync::mpsc;

use crate::enrich::dnsbl::{self, Answer};
use crate::enrich::{Dnsbl, GeoIp, Reload};

/// Reads profiles from the store; a row that does not parse counts as none (and is replaced
/// at the next write), counted in `bad`.
#[derive(Debug)]
pub struct StoreProfiles<'a> {
    pub store: Option<&'a mut dyn Store>,
    pub bad: &'a mut u64,
}

impl ProfileLoader for StoreProfiles<'_> {
    fn load(&mut self, key: &str) -> Option<Profile> {
        let data = self.store.as_mut()?.profile(key).ok()??;
        match serde_json::from_slice(&data) {
            Ok(p) => Some(p),
            Err(_) => {
                *self.bad += 1;
                None
            }
        }
    }
}

/// The changed profiles as store rows.
pub fn profile_rows(
    dirty: Vec<(String, Profile)>,
    now: UnixTime,
) -> Result<Vec<ProfileRow>, serde_json::Error> {
    ProfileRow::encode_all(dirty, now, serde_json::to_vec)
}

/// Adds GeoIP and ASN fields to an event with a source address (and none yet).
pub fn enrich_geo(geoip: &GeoIp, e: &mut Event<'_>) {
    let Some(ip) = e.source_ip else { return };
    if e.enrichment.is_some() {
        return;
    }
    let (geo, asn) = geoip.lookup(ip);
    if geo.is_some() || asn.is_some() {
        e.enrichment = Some(Box::new(Enrichment {
            geo,
            asn,
            dnsbl: None,
        }));
    }
}

/// Whether the detector wants to see the event at all.
pub fn concerns_detector(e: &Event<'_>) -> bool {
    matches!(e.action, Some(Action::UserLogin | Action::UserCreated))
}

/// A login waiting for its DNSBL answer.
#[derive(Debug)]
pub struct Deferred {
    pub event: Event<'static>,
    pub answer: Answer,
}

/// Counters for /metrics and `logward status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalyStats {
    pub logins: u64,
    pub alerts: u64,
    /// Logins whose score waited for a DNSBL look-up.
    pub deferred: u64,
    /// Stored profiles that could not be read (started afresh).
    pub bad_profiles: u64,
}

/// The detector with its inputs.
pub struct Anomaly {
    stage: Stage,
    geoip: Option<GeoIp>,
    dnsbl: Option<Arc<Dnsbl>>,
    deferred_tx: mpsc::UnboundedSender<Deferred>,
    /// Look-ups in flight.
    pending: usize,
    stats: AnomalyStats,
}

impl std::fmt::Debug for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anomaly")
            .field("geoip", &self.geoip.as_ref().map(GeoIp::databases))
            .field("dnsbl", &self.dnsbl)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Anomaly {
    /// The detector with `settings`; GeoIP and DNSBL when given. Deferred logins come back
    /// on the returned receiver, for [`Anomaly::resume`].
    pub fn new(
        settings: Settings,
        geoip: Option<GeoIp>,
        dnsbl: Option<Dnsbl>,
    ) -> (Anomaly, mpsc::UnboundedReceiver<Deferred>) {
        let (deferred_tx, rx) = mpsc::unbounded_channel();
        let a = Anomaly {
            stage: Stage::new(settings, Scope::Host),
            geoip,
            dnsbl: dnsbl.filter(Dnsbl::enabled).map(Arc::new),
            deferred_tx,
            pending: 0,
            stats: AnomalyStats::default(),
        };
        (a, rx)
    }

    pub fn stats(&self) -> AnomalyStats {
        let mut s = self.stats;
        s.logins = self.stage.stats().logins;
        s
    }

    /// The DNSBL service's counters, when DNSBL is on.
    pub fn dnsbl(&self) -> Option<&Dnsbl> {
        self.dnsbl.as_deref()
    }

    /// DNSBL look-ups still to come back.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// GeoIP and ASN fields, before the rules.
    pub fn enrich(&self, e: &mut Event<'_>) {
        if let Some(g) = &self.geoip {
            enrich_geo(g, e);
        }
    }

    /// Re-reads GeoIP databases that changed on disk (a broken new file keeps the old one).
    pub fn reload_geoip(&mut self) {
        let Some(g) = &mut self.geoip else { return };
        for r in g.reload_changed() {
            match r {
                Reload::Reloaded(p) => {
                    tracing::info!(file = %p.display(), "GeoIP database reloaded")
                }
                Reload::Kept(e) => {
                    tracing::error!(error = %e, "GeoIP database unreadable; the previous copy stays in use");
                }
            }
        }
    }

    /// After the rules: scores a login (or defers it for DNSBL), remembers failures and
    /// account creations. Alerts go to `out`.
    pub fn observe(&mut self, e: &Event<'_>, store: &mut dyn Store, out: &mut Vec<Alert>) {
        if !concerns_detector(e) {
            return;
        }
        if let (Some(d), Some(ip), Action::UserLogin, Outcome::Success) = (
            &self.dnsbl,
            e.source_ip,
            e.action.unwrap_or(Action::Unknown),
            e.outcome,
        ) {
            if dnsbl::is_public(ip) {
                if let Some(zones) = d.cached_zones(ip) {
                    let mut e = e.clone();
                    set_dnsbl(&mut e, zones);
                    self.score(&e, store, out);
                } else {
                    self.defer(Arc::clone(d), ip, e.clone().into_owned());
                }
                return;
            }
        }
        self.score(e, store, out);
    }

    fn defer(&mut self, d: Arc<Dnsbl>, ip: IpAddr, event: Event<'static>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime (a synchronous caller): score without the look-up.
            tracing::debug!("no async runtime: DNSBL skipped");
            return;
        };
        self.pending += 1;
        self.stats.deferred += 1;
        let tx = self.deferred_tx.clone();
        rt.spawn(async move {
            let answer = d.check(ip).await;
            let _ = tx.send(Deferred { event, answer });
        });
    }

    /// A deferred login with its DNSBL answer: scored now.
    pub fn resume(&mut self, d: Deferred, store: &mut dyn Store, out: &mut Vec<Alert>) {
        self.pending = self.pending.saturating_sub(1);
        let mut e = d.event;
        if let Answer::Checked(zones) = d.answer {
            set_dnsbl(&mut e, zones);
        }
        self.score(&e, store, out);
    }

    fn score(&mut self, e: &Event<'_>, store: &mut dyn Store, out: &mut Vec<Alert>) {
        let mut loader = StoreProfiles {
            store: Some(store),
            bad: &mut self.stats.bad_profiles,
        };
        let (alerts, _) = self.stage.event(e, &mut loader);
        self.stats.alerts += alerts.len() as u64;
        out.extend(alerts);
    }

    /// Profiles changed since the last call, as rows for the batch being committed.
    pub fn take_rows(&mut self, now: UnixTime) -> Vec<ProfileRow> {
        match profile_rows(self.stage.take_dirty(), now) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "login profiles could not be serialised; not saved");
                Vec::new()
            }
        }
    }
}

fn set_dnsbl(e: &mut Event<'_>, zones: Vec<String>) {
    e.enrichment.get_or_insert_with(Default::default).dnsbl = Some(zones);
}
