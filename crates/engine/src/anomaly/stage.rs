//! The detector fed with events: failures and account creations are remembered, each
//! successful login (with its enrichment) is scored, and alerts come out.

use logward_core::{Action, Alert, Dataset, Event, Outcome, Severity};

use super::{
    features, Detector, Login, ProfileLoader, Settings, Verdict, RULE_ANOMALY, RULE_TRAVEL,
};

/// How profiles are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Per user and host (the agent).
    Host,
    /// Per user across hosts (the collector: impossible travel between hosts shows).
    Fleet,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageStats {
    pub logins: u64,
    pub failures: u64,
    pub alerts: u64,
}

/// The stage.
#[derive(Debug)]
pub struct Stage {
    detector: Detector,
    scope: Scope,
    stats: StageStats,
    key: String,
}

/// Whether this event is the one record of a login: sshd's `Accepted …` (wtmp and PAM
/// write the same login again), or a console/other login with a user.
fn is_login_record(e: &Event<'_>) -> bool {
    e.action == Some(Action::UserLogin)
        && !matches!(
            e.dataset,
            Some(Dataset::Wtmp | Dataset::Btmp | Dataset::Pam)
        )
}

impl Stage {
    pub fn new(settings: Settings, scope: Scope) -> Stage {
        Stage {
            detector: Detector::new(settings),
            scope,
            stats: StageStats::default(),
            key: String::new(),
        }
    }

    pub fn detector(&mut self) -> &mut Detector {
        &mut self.detector
    }

    pub fn stats(&self) -> StageStats {
        self.stats
    }

    /// Profiles changed since the last call, as JSON, to persist.
    pub fn take_dirty(&mut self) -> Vec<(String, Profile)> {
        self.detector.take_dirty()
    }

    /// Feeds one event; returns the alerts it raises (and the verdict, for a login).
    pub fn event(
        &mut self,
        e: &Event<'_>,
        loader: &mut dyn ProfileLoader,
    ) -> (Vec<Alert>, Option<Verdict>) {
        let Some(ts) = e.timestamp else {
            return (Vec::new(), None);
        };
        let host = e.host_name.as_deref().unwrap_or("");
        match (e.action, e.outcome) {
            (Some(Action::UserCreated), Outcome::Success | Outcome::Unknown) => {
                if let Some(u) = e.user_target_name.as_deref().or(e.user_name.as_deref()) {
                    self.detector.account_created(host, u, ts.unix);
                }
                (Vec::new(), None)
            }
            _ if !is_login_record(e) => (Vec::new(), None),
            (_, Outcome::Failure) => {
                if let Some(ip) = e.source_ip {
                    self.stats.failures += 1;
                    self.detector.failure(ip, ts.unix);
                }
                (Vec::new(), None)
            }
            (_, Outcome::Success) => {
                let Some(user) = e.user_name.as_deref() else {
                    return (Vec::new(), None);
                };
                self.stats.logins += 1;
                let x = e.enrichment.as_deref();
                let geo = x.and_then(|x| x.geo.as_ref());
                let login = Login {
                    time: ts.unix,
                    utc_offset: ts.offset,
                    user,
                    host,
                    ip: e.source_ip,
                    method: e.auth_method,
                    key: e.auth_key_fingerprint.as_deref(),
                    country: geo.and_then(|g| g.country_iso_code.as_deref()),
                    city: geo.and_then(|g| g.city_name.as_deref()),
                    location: geo.and_then(|g| g.location),
                    radius_km: geo.and_then(|g| g.accuracy_radius_km).unwrap_or(0),
                    asn: x.and_then(|x| x.asn.as_ref()).map(|a| a.number),
                    dnsbl_hits: x
                        .and_then(|x| x.dnsbl.as_ref())
                        .map_or(0, |z| u32::try_from(z.len()).unwrap_or(u32::MAX)),
                };
                // The key written into a buffer kept for the next login.
                let mut key = std::mem::take(&mut self.key);
                let host_part = if self.scope == Scope::Host { host } else { "" };
                Detector::write_key(&mut key, host_part, user);
                let v = self.detector.observe(&key, &login, loader);
                self.key = key;
                let alerts = alerts(e, &v);
                self.stats.alerts += alerts.len() as u64;
                (alerts, Some(v))
            }
            _ => (Vec::new(), None),
        }
    }
}

use super::Profile;

fn place(e: &Event<'_>) -> String {
    let x = e.enrichment.as_deref();
    let geo = x.and_then(|x| x.geo.as_ref());
    let mut parts: Vec<String> = Vec::new();
    if let Some(c) = geo.and_then(|g| g.city_name.as_deref()) {
        parts.push(c.to_owned());
    }
    if let Some(c) = geo.and_then(|g| g.country_iso_code.as_deref()) {
        parts.push(c.to_owned());
    }
    if let Some(a) = x.and_then(|x| x.asn.as_ref()) {
        parts.push(format!("AS{}", a.number));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn alerts(e: &Event<'_>, v: &Verdict) -> Vec<Alert> {
    let user = e.user_name.as_deref().unwrap_or("?");
    let from = e
        .source_ip
        .map(|ip| ip.to_string())
        .or_else(|| e.source_address.as_deref().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    let host = e.host_name.as_deref().unwrap_or("-");
    let reasons: Vec<String> = v
        .reasons
        .iter()
        .take(5)
        .map(|r| r.text.to_string())
        .collect();
    let score = (v.score * 100.0).round().clamp(0.0, 100.0) as u8;
    let mut out = Vec::new();
    for rule in &v.rules {
        let (name, severity, message) = if *rule == RULE_TRAVEL {
            let (km, kmh) = (
                v.features.travel_km.unwrap_or(0.0),
                v.features.travel_kmh.unwrap_or(0.0),
            );
            (
                "Impossible travel",
                Severity::High,
                format!(
                    "{user} logged in to {host} from {from}{}: {km:.0} km from the last login, {kmh:.0} km/h",
                    place(e)
                ),
            )
        } else if *rule == RULE_ANOMALY {
            (
                "Anomalous login",
                if v.score >= 0.85 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                format!(
                    "{user} logged in to {host} from {from}{}: score {:.2} — {}",
                    place(e),
                    v.score,
                    features::words(&v.reasons, 3)
                ),
            )
        } else {
            continue;
        };
        let mut a = Alert::new(e.clone().into_owned(), *rule, name, severity, message);
        a.score = Some(score);
        a.reasons = reasons.clone();
        a.tags = vec!["anomaly".into()];
        out.push(a);
    }
    out
}
