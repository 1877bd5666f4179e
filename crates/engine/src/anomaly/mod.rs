//! Login anomaly detection: per-user profiles, explainable features, a streaming LOF and
//! the score that blends them (docs/ANOMALY.md).
//!
//! Pure like the rest of the engine: enrichment (GeoIP, ASN, DNSBL) arrives in the
//! [`Login`], profiles missing from memory come from a [`ProfileLoader`] the caller
//! supplies, and the profiles changed since the last [`Detector::take_dirty`] go back to
//! the caller to persist.

pub mod config;
pub mod features;
pub mod lof;
pub mod profile;
pub mod stage;
pub mod travel;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use rustc_hash::FxBuildHasher;

pub use features::{Features, Reason};
use features::{Keys, HOST_USUAL};
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
    /// The hour of mean solar time at the login's location, 0–23 (`None` unlocated):
    /// the local hour without a time-zone database, within an hour or so of the civil one.
    pub fn solar_hour(&self) -> Option<usize> {
        let (_, lon) = self.location?;
        let t = self.time + (lon * 240.0) as i64;
        Some((t.rem_euclid(86_400) / 3600) as usize)
    }

    /// The local weekday, 0 = Monday.
    pub fn weekday(&self) -> usize {
        // 1970-01-01 was a Thursday.
        ((self.local().div_euclid(86_400) + 3).rem_euclid(7)) as usize
    }
}

/// The first address of the /24 or /48 network of `ip`.
fn network_base(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::from([o[0], o[1], o[2], 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

/// What failures are counted under: an address, or its /24 or /48 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FailKey {
    Address(IpAddr),
    Network(IpAddr),
}

fn fail_keys(ip: IpAddr) -> [FailKey; 2] {
    [FailKey::Address(ip), FailKey::Network(network_base(ip))]
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
    /// The LOF against the user's history (`None` during warm-up, with the LOF off, or
    /// where it could not change the verdict: the undamped score is under the threshold).
    pub lof: Option<f32>,
    /// In [0, 1]; undamped where `lof` is `None`.
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
    /// Keyed by user names that logged in (not by anything an outsider picks): FxHash.
    profiles: hashbrown::HashMap<String, Profile, FxBuildHasher>,
    dirty: HashSet<String, FxBuildHasher>,
    /// Accounts created: user key → time.
    created: HashMap<String, i64>,
    /// Failures by address and by network: (count, last time). Keys come from attackers:
    /// the std (SipHash, randomly keyed) map.
    failures: HashMap<FailKey, (u32, i64)>,
    /// Buffers reused for every login.
    keys: Keys,
    host_key: String,
}

impl Detector {
    pub fn new(settings: Settings) -> Detector {
        Detector {
            settings,
            profiles: hashbrown::HashMap::default(),
            dirty: HashSet::default(),
            created: HashMap::new(),
            failures: HashMap::new(),
            keys: Keys::default(),
            host_key: String::new(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The profile key of a user on a host (`host` empty: the user across the fleet).
    pub fn key(host: &str, user: &str) -> String {
        let mut k = String::new();
        Self::write_key(&mut k, host, user);
        k
    }

    /// [`Detector::key`] into a buffer (cleared first), for callers that reuse one.
    pub fn write_key(out: &mut String, host: &str, user: &str) {
        out.clear();
        out.push_str(host);
        out.push('\u{1f}');
        out.push_str(user);
    }

    /// The key of a host's own profile (every user's logins: which networks and ASNs the host
    /// is reached from), used for accounts without history.
    pub fn host_key(host: &str) -> String {
        Self::key(host, "")
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
        // One hash and probe; the key is copied only for a profile new to memory.
        match self.profiles.entry_ref(key) {
            hashbrown::hash_map::EntryRef::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::EntryRef::Vacant(v) => {
                let k = self.settings.k;
                v.insert(loader.load(key).unwrap_or_else(|| Profile::new(k)))
            }
        }
    }

    fn mark_dirty(&mut self, key: &str) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
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
        for k in fail_keys(ip) {
            let e = self.failures.entry(k).or_insert((0, time));
            if time - e.1 > window {
                *e = (0, time);
            }
            e.0 = e.0.saturating_add(1);
            e.1 = e.1.max(time);
        }
    }

    fn failures_before(&mut self, ip: IpAddr, time: i64) -> u32 {
        if self.failures.is_empty() {
            return 0;
        }
        let window = self.settings.failure_window;
        let mut n = 0;
        for k in fail_keys(ip) {
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
        let created = if self.created.is_empty() {
            None
        } else {
            self.created
                .get(&Self::key(login.host, login.user))
                .copied()
        };
        let mut keys = std::mem::take(&mut self.keys);
        keys.fill(login);
        let mut host_key = std::mem::take(&mut self.host_key);
        Self::write_key(&mut host_key, login.host, "");
        let host_asn_new;
        let host_net_new;
        let host_usual_country;
        let host_usual_asn;
        {
            let host = self.entry(&host_key, loader);
            host_asn_new = login.asn.is_some() && !host.asns.contains(&keys.asn);
            host_net_new = login.ip.is_some() && !host.networks.contains(&keys.net);
            let usual = |s: &SeenSet, v: &str| s.get(v).is_some_and(|x| x.count >= HOST_USUAL);
            host_usual_country = login.country.is_some_and(|c| usual(&host.countries, c));
            host_usual_asn = login.asn.is_some() && usual(&host.asns, &keys.asn);
        }
        let settings = self.settings.clone();
        let profile = self.entry(key, loader);
        let mut f = Features::compute(profile, login, &settings, &keys);
        f.failures_before = failures;
        f.new_account = profile.logins == 0
            && created.is_some_and(|c| login.time - c <= settings.new_account && c <= login.time);
        f.host_new_asn = host_asn_new;
        f.host_new_network = host_net_new;
        f.host_usual_country = host_usual_country;
        f.host_usual_asn = host_usual_asn;
        let warm =
            profile.logins >= settings.warmup_logins && profile.span_days() >= settings.warmup_days;
        let vector = f.vector();
        // The LOF only damps the soft reasons (a factor ≤ 1): where the undamped score is
        // under the threshold it cannot change the verdict, and is not computed (most
        // logins; the history then only records the point). Otherwise scored against the
        // history, then added to it, in one pass.
        let undamped = f.score(None, &settings);
        let want_lof = settings.use_lof && warm && undamped.0 >= settings.threshold;
        let lof = profile.lof.observe(vector, want_lof);
        let (score, reasons) = if lof.is_some() {
            f.score(lof, &settings)
        } else {
            undamped
        };
        let mut rules = Vec::new();
        if (warm || f.new_account) && score >= settings.threshold {
            rules.push(RULE_ANOMALY);
        }
        if f.impossible_travel {
            rules.push(RULE_TRAVEL);
        }
        learn(profile, login, &keys, !rules.is_empty());
        self.mark_dirty(key);
        // The host learns only logins that raised nothing: an attacker's country or ASN
        // must not become "usual here" for the next attack on another account.
        if rules.is_empty() {
            let host = self.entry(&host_key, loader);
            learn_host(host, login, &keys);
            self.mark_dirty(&host_key);
        }
        self.keys = keys;
        self.host_key = host_key;
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

fn learn(p: &mut Profile, l: &Login<'_>, k: &Keys, suspect: bool) {
    let t = l.time;
    if p.logins == 0 {
        p.first = t;
    }
    p.logins += 1;
    p.first = p.first.min(t);
    p.last = p.last.max(t);
    if l.ip.is_some() {
        p.addresses.see(&k.ip, t);
        p.networks.see(&k.net, t);
    }
    if l.asn.is_some() {
        p.asns.see(&k.asn, t);
    }
    if let Some(c) = l.country {
        p.countries.see(c, t);
        if l.city.is_some() {
            p.cities.see(&k.city, t);
        }
    }
    if let Some(m) = l.method {
        p.methods.see(m, t);
    }
    if let Some(k) = l.key {
        p.keys.see(k, t);
    }
    p.hours[l.hour()] += 1;
    if let Some(h) = l.solar_hour() {
        p.solar_hours[h] += 1;
    }
    p.weekdays[l.weekday()] += 1;
    // The oldest entry's buffers are reused for the newest.
    let mut r = if p.recent.len() >= profile::MAX_RECENT {
        p.recent.pop_front()
    } else {
        None
    }
    .unwrap_or_else(|| Recent {
        time: 0,
        ip: String::new(),
        place: String::new(),
        at: None,
        radius_km: 0,
        suspect: false,
    });
    r.time = t;
    r.ip.clear();
    r.ip.push_str(&k.ip);
    r.place.clear();
    r.place.push_str(&k.place);
    r.at = l.location;
    r.radius_km = l.radius_km;
    r.suspect = suspect;
    p.recent.push_back(r);
    while p.recent.len() > profile::MAX_RECENT {
        p.recent.pop_front();
    }
}

fn learn_host(p: &mut Profile, l: &Login<'_>, k: &Keys) {
    p.logins += 1;
    if p.logins == 1 {
        p.first = l.time;
    }
    p.last = p.last.max(l.time);
    if l.ip.is_some() {
        p.networks.see(&k.net, l.time);
    }
    if l.asn.is_some() {
        p.asns.see(&k.asn, l.time);
    }
    if let Some(c) = l.country {
        p.countries.see(c, l.time);
    }
}

#[cfg(test)]
mod tests;
