//! Login anomaly detection: per-user profiles, explainable features, a streaming LOF and
//! the score that blends them (docs/ANOMALY.md).
//!
//! Pure like the rest of the engine: enrichment (GeoIP, ASN, DNSBL) arrives in the
//! [`Login`], profiles missing from memory come from a [`ProfileLoader`] the caller
//! supplies, and the profiles changed since the last [`Detector::take_dirty`] go back to
//! the caller to persist.

pub mod config;
pub mod evaluate;
pub mod features;
pub mod lof;
pub mod profile;
pub mod scenario;
pub mod stage;
pub mod travel;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub use features::{Features, Reason};
pub use profile::{Profile, Recent, Seen, SeenSet};
pub use stage::{Scope, Stage, StageStats};

/// The rule ids the detector raises.
pub const RULE_ANOMALY: &str = "login-anomaly";
pub const RULE_TRAVEL: &str = "impossible-travel";

/// Tunables, with the defaults of docs/ANOMALY.md.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Neighbours of the LOF (the seed's k).
    pub k: usize,
    /// Whether the LOF weighs the soft features (off: the plain features alone).
    pub use_lof: bool,
    /// `login-anomaly` at or above this score.
    pub threshold: f32,
    /// The window for bursts and distinct locations, seconds.
    pub window: i64,
    /// Above this speed two consecutive logins are impossible travel, km/h.
    pub max_speed_kmh: f64,
    /// Warm-up: logins and days of history before `login-anomaly` may fire.
    pub warmup_logins: u64,
    pub warmup_days: f64,
    /// An account this young (seconds since it was created) on its first login is "new".
    pub new_account: i64,
    /// Failures from the address or network before a success that make it suspicious.
    pub failures: u32,
    /// How long failures are remembered, seconds.
    pub failure_window: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            k: 10,
            use_lof: true,
            threshold: 0.6,
            window: 3 * 3600,
            max_speed_kmh: 1000.0,
            warmup_logins: 10,
            warmup_days: 7.0,
            new_account: 86_400,
            failures: 3,
            failure_window: 3600,
        }
    }
}

/// A successful login, enriched.
#[derive(Debug, Clone, Default)]
pub struct Login<'a> {
    /// Unix seconds.
    pub time: i64,
    /// The host's offset from UTC, seconds (for the hour of day).
    pub utc_offset: i32,
    pub user: &'a str,
    pub host: &'a str,
    pub ip: Option<IpAddr>,
    pub method: Option<&'a str>,
    /// The key fingerprint, for publickey logins.
    pub key: Option<&'a str>,
    pub country: Option<&'a str>,
    pub city: Option<&'a str>,
    /// Latitude, longitude.
    pub location: Option<(f64, f64)>,
    pub radius_km: u32,
    pub asn: Option<u32>,
    /// DNSBL zones listing the address.
    pub dnsbl_hits: u32,
}

impl Login<'_> {
    fn local(&self) -> i64 {
        self.time + i64::from(self.utc_offset)
    }
    /// The local hour of day, 0–23.
    pub fn hour(&self) -> usize {
        (self.local().rem_euclid(86_400) / 3600) as usize
    }
    /// The local weekday, 0 = Monday.
    pub fn weekday(&self) -> usize {
        // 1970-01-01 was a Thursday.
        ((self.local().div_euclid(86_400) + 3).rem_euclid(7)) as usize
    }
}

/// The /24 (IPv4) or /48 (IPv6) network of an address.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// Where profiles come from when they are not in memory (the agent's state store).
pub trait ProfileLoader {
    fn load(&mut self, key: &str) -> Option<Profile>;
}

/// No stored profiles: everything is learnt from the stream.
#[derive(Debug, Default)]
pub struct NoProfiles;

impl ProfileLoader for NoProfiles {
    fn load(&mut self, _: &str) -> Option<Profile> {
        None
    }
}

/// The verdict on one login.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub features: Features,
    /// The LOF against the user's history (`None` during warm-up or with the LOF off).
    pub lof: Option<f32>,
    /// In [0, 1].
    pub score: f32,
    /// Strongest first.
    pub reasons: Vec<Reason>,
    /// The rule ids raised: [`RULE_ANOMALY`], [`RULE_TRAVEL`].
    pub rules: Vec<&'static str>,
    /// Whether the user's profile was past warm-up.
    pub warm: bool,
}

/// Failures remembered per address and network, at most this many keys.
const MAX_FAILURE_KEYS: usize = 100_000;

/// The detector: profiles in memory, keyed by [`Detector::key`].
#[derive(Debug)]
pub struct Detector {
    settings: Settings,
    profiles: HashMap<String, Profile>,
    dirty: HashSet<String>,
    /// Accounts created: user key → time.
    created: HashMap<String, i64>,
    /// Failures by address and by network: (count, last time).
    failures: HashMap<String, (u32, i64)>,
}

impl Detector {
    pub fn new(settings: Settings) -> Detector {
        Detector {
            settings,
            profiles: HashMap::new(),
            dirty: HashSet::new(),
            created: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The profile key of a user on a host (`host` empty: the user across the fleet).
    pub fn key(host: &str, user: &str) -> String {
        format!("{host}\u{1f}{user}")
    }

    /// The key of a host's own profile (every user's logins: which networks and ASNs the host
    /// is reached from), used for accounts without history.
    pub fn host_key(host: &str) -> String {
        format!("{host}\u{1f}")
    }

    /// Profiles changed since the last call, to persist.
    pub fn take_dirty(&mut self) -> Vec<(String, Profile)> {
        let keys: Vec<String> = self.dirty.drain().collect();
        keys.into_iter()
            .filter_map(|k| self.profiles.get(&k).map(|p| (k, p.clone())))
            .collect()
    }

    /// The profile under `key`, loaded or new.
    pub fn profile(&mut self, key: &str, loader: &mut dyn ProfileLoader) -> &Profile {
        self.entry(key, loader)
    }

    fn entry(&mut self, key: &str, loader: &mut dyn ProfileLoader) -> &mut Profile {
        if !self.profiles.contains_key(key) {
            let p = loader
                .load(key)
                .unwrap_or_else(|| Profile::new(self.settings.k));
            self.profiles.insert(key.to_owned(), p);
        }
        self.profiles
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// A failed authentication from `ip` at `time`.
    pub fn failure(&mut self, ip: IpAddr, time: i64) {
        if self.failures.len() >= MAX_FAILURE_KEYS {
            let horizon = time - self.settings.failure_window;
            self.failures.retain(|_, v| v.1 >= horizon);
            if self.failures.len() >= MAX_FAILURE_KEYS {
                self.failures.clear();
            }
        }
        let window = self.settings.failure_window;
        for k in [ip.to_string(), network(ip)] {
            let e = self.failures.entry(k).or_insert((0, time));
            if time - e.1 > window {
                *e = (0, time);
            }
            e.0 = e.0.saturating_add(1);
            e.1 = e.1.max(time);
        }
    }

    fn failures_before(&mut self, ip: IpAddr, time: i64) -> u32 {
        let window = self.settings.failure_window;
        let mut n = 0;
        for k in [ip.to_string(), network(ip)] {
            if let Some(&(c, last)) = self.failures.get(&k) {
                if time - last <= window {
                    n = n.max(c);
                }
            }
            // A success closes the run: the next failures count afresh.
            self.failures.remove(&k);
        }
        n
    }

    /// An account created (useradd) on `host`.
    pub fn account_created(&mut self, host: &str, user: &str, time: i64) {
        if self.created.len() >= MAX_FAILURE_KEYS {
            self.created.clear();
        }
        self.created.insert(Self::key(host, user), time);
    }

    /// Scores a successful login against the user's profile on its host, then learns it.
    pub fn login(&mut self, login: &Login<'_>, loader: &mut dyn ProfileLoader) -> Verdict {
        let key = Self::key(login.host, login.user);
        self.observe(&key, login, loader)
    }

    /// Scores and learns a login under an explicit profile key (the collector uses
    /// `Detector::key("", user)` to follow a user across hosts).
    pub fn observe(
        &mut self,
        key: &str,
        login: &Login<'_>,
        loader: &mut dyn ProfileLoader,
    ) -> Verdict {
        let failures = login
            .ip
            .map_or(0, |ip| self.failures_before(ip, login.time));
        let created = self
            .created
            .get(&Self::key(login.host, login.user))
            .copied();
        let host_key = Self::host_key(login.host);
        let host_asn_new;
        let host_net_new;
        {
            let host = self.entry(&host_key, loader);
            host_asn_new = login
                .asn
                .is_some_and(|a| !host.asns.contains(&a.to_string()));
            host_net_new = login
                .ip
                .is_some_and(|ip| !host.networks.contains(&network(ip)));
        }
        let settings = self.settings.clone();
        let profile = self.entry(key, loader);
        let mut f = Features::compute(profile, login, &settings);
        f.failures_before = failures;
        f.new_account = profile.logins == 0
            && created.is_some_and(|c| login.time - c <= settings.new_account && c <= login.time);
        f.host_new_asn = host_asn_new;
        f.host_new_network = host_net_new;
        let warm =
            profile.logins >= settings.warmup_logins && profile.span_days() >= settings.warmup_days;
        let vector = f.vector();
        // Scored against the history, then added to it, in one pass.
        let lof = profile.lof.observe(vector, settings.use_lof && warm);
        let (score, reasons) = f.score(lof, &settings);
        let mut rules = Vec::new();
        if (warm || f.new_account) && score >= settings.threshold {
            rules.push(RULE_ANOMALY);
        }
        if f.impossible_travel {
            rules.push(RULE_TRAVEL);
        }
        learn(profile, login);
        self.dirty.insert(key.to_owned());
        let host = self.entry(&host_key, loader);
        learn_host(host, login);
        self.dirty.insert(host_key);
        Verdict {
            features: f,
            lof,
            score,
            reasons,
            rules,
            warm,
        }
    }
}

fn learn(p: &mut Profile, l: &Login<'_>) {
    let t = l.time;
    if p.logins == 0 {
        p.first = t;
    }
    p.logins += 1;
    p.first = p.first.min(t);
    p.last = p.last.max(t);
    if let Some(ip) = l.ip {
        p.addresses.see(&ip.to_string(), t);
        p.networks.see(&network(ip), t);
    }
    if let Some(a) = l.asn {
        p.asns.see(&a.to_string(), t);
    }
    if let Some(c) = l.country {
        p.countries.see(c, t);
        if let Some(city) = l.city {
            p.cities.see(&format!("{c}/{city}"), t);
        }
    }
    if let Some(m) = l.method {
        p.methods.see(m, t);
    }
    if let Some(k) = l.key {
        p.keys.see(k, t);
    }
    p.hours[l.hour()] += 1;
    p.weekdays[l.weekday()] += 1;
    p.recent.push_back(Recent {
        time: t,
        ip: l.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        place: features::place(l),
        at: l.location,
        radius_km: l.radius_km,
    });
    while p.recent.len() > profile::MAX_RECENT {
        p.recent.pop_front();
    }
}

fn learn_host(p: &mut Profile, l: &Login<'_>) {
    p.logins += 1;
    if p.logins == 1 {
        p.first = l.time;
    }
    p.last = p.last.max(l.time);
    if let Some(ip) = l.ip {
        p.networks.see(&network(ip), l.time);
    }
    if let Some(a) = l.asn {
        p.asns.see(&a.to_string(), l.time);
    }
}

#[cfg(test)]
mod tests;
