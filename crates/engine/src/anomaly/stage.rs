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

/// Whether a successful login is a person's, to score like an SSH login. Of Windows
/// logons (4624) only the interactive and RDP ones are (types 2, 10, 11, 12): the system's
/// and services' (0, 5), scheduled tasks (4), unlocks (7, 13), network logons to shares and
/// management (3, 8) and new-credentials (9) are machines at work, and so are machine
/// accounts (`NAME$`), ANONYMOUS LOGON and the Window Manager and Font Driver accounts
/// whatever their type. An RDP authentication (1149) is a logon; Kerberos tickets (4768,
/// 4769) and NTLM validations (4776) only vouch for one logged elsewhere. OpenSSH for
/// Windows' logins are sshd's (decoded as such).
fn is_person_login(e: &Event<'_>) -> bool {
    let Some(w) = e.winlog.as_deref() else {
        return true;
    };
    match w.event_id {
        4624 => {
            matches!(
                w.logon_type,
                Some(
                    "interactive"
                        | "remote-interactive"
                        | "cached-interactive"
                        | "cached-remote-interactive"
                )
            ) && !e
                .user_name
                .as_deref()
                .is_some_and(is_windows_service_account)
        }
        1149 => true,
        _ => e.dataset == Some(Dataset::Sshd),
    }
}

/// Accounts Windows logs on by itself: machine accounts, the well-known service principals,
/// ANONYMOUS LOGON, and the Window Manager (`DWM-n`) and Font Driver Host (`UMFD-n`) ones.
pub(super) fn is_windows_service_account(user: &str) -> bool {
    let numbered = |prefix: &str| {
        user.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && user.len() > prefix.len()
            && user[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
    };
    user.ends_with('$')
        || [
            "ANONYMOUS LOGON",
            "SYSTEM",
            "LOCAL SERVICE",
            "NETWORK SERVICE",
        ]
        .iter()
        .any(|a| user.eq_ignore_ascii_case(a))
        || numbered("DWM-")
        || numbered("UMFD-")
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
            (_, Outcome::Success) if !is_person_login(e) => (Vec::new(), None),
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
