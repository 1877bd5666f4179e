//! One user's login history on one host (or across the fleet): what was seen, when, how
//! often. Bounded everywhere, so a user logging in from a million addresses costs a fixed
//! amount of memory and state.

use std::collections::{HashMap, VecDeque};

// FxHash: at most MAX_VALUES short keys per set, looked up several times per login, where
// SipHash's cost showed; a crafted collision can cost no more than a scan of one bounded set.
use rustc_hash::FxBuildHasher;

use serde::{Deserialize, Serialize};

use super::lof::Lof;

/// Distinct values kept per kind (addresses, networks, ASNs …); the least recently seen go.
pub const MAX_VALUES: usize = 128;
/// Recent logins kept for windows and travel.
pub const MAX_RECENT: usize = 64;

/// When a value was first and last seen, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub first: i64,
    pub last: i64,
    pub count: u64,
}

/// Values of one kind with their [`Seen`], at most [`MAX_VALUES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeenSet(HashMap<String, Seen, FxBuildHasher>);

impl SeenSet {
    /// Whether `v` was seen.
    pub fn contains(&self, v: &str) -> bool {
        self.0.contains_key(v)
    }

    /// The record of `v`.
    pub fn get(&self, v: &str) -> Option<&Seen> {
        self.0.get(v)
    }

    /// Distinct values kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records `v` at `t`.
    pub fn see(&mut self, v: &str, t: i64) {
        if let Some(s) = self.0.get_mut(v) {
            s.last = s.last.max(t);
            s.first = s.first.min(t);
            s.count += 1;
            return;
        }
        if self.0.len() >= MAX_VALUES {
            // O(n) but only when a new value meets a full set.
            if let Some(old) = self
                .0
                .iter()
                .min_by_key(|(_, s)| (s.last, s.count))
                .map(|(k, _)| k.clone())
            {
                self.0.remove(&old);
            }
        }
        self.0.insert(
            v.to_owned(),
            Seen {
                first: t,
                last: t,
                count: 1,
            },
        );
    }
}

/// One past login, for windows and travel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    pub time: i64,
    pub ip: String,
    /// `country/city`, or the /24 or /48 network when not geolocated: what "a location" is.
    pub place: String,
    /// Latitude and longitude, when geolocated.
    pub at: Option<(f64, f64)>,
    /// The location's accuracy radius, km (0 when unknown).
    pub radius_km: u32,
    /// Whether the login raised an alert: travel is not measured from it (a legitimate
    /// login after an attacker's must not be "impossible travel" from the attacker's place).
    #[serde(default)]
    pub suspect: bool,
}

/// The profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub logins: u64,
    pub first: i64,
    pub last: i64,
    pub addresses: SeenSet,
    /// /24 (IPv4) and /48 (IPv6) networks.
    pub networks: SeenSet,
    pub asns: SeenSet,
    pub countries: SeenSet,
    pub cities: SeenSet,
    pub methods: SeenSet,
    pub keys: SeenSet,
    /// Logins per local hour of day, and per weekday (0 = Monday).
    pub hours: [u32; 24],
    /// Geolocated logins per hour of mean solar time where they came from (longitude / 15).
    #[serde(default)]
    pub solar_hours: [u32; 24],
    pub weekdays: [u32; 7],
    pub recent: VecDeque<Recent>,
    /// Past logins as feature vectors.
    pub lof: Lof,
}

impl Profile {
    /// An empty profile; its LOF uses `k` neighbours.
    pub fn new(k: usize) -> Profile {
        Profile {
            logins: 0,
            first: 0,
            last: 0,
            addresses: SeenSet::default(),
            networks: SeenSet::default(),
            asns: SeenSet::default(),
            countries: SeenSet::default(),
            cities: SeenSet::default(),
            methods: SeenSet::default(),
            keys: SeenSet::default(),
            hours: [0; 24],
            solar_hours: [0; 24],
            weekdays: [0; 7],
            recent: VecDeque::new(),
            lof: Lof::new(k, 2 * k.max(8) + 4),
        }
    }

    /// Days between the first and the last login.
    pub fn span_days(&self) -> f64 {
        if self.logins == 0 {
            return 0.0;
        }
        (self.last - self.first) as f64 / 86_400.0
    }

    /// The most recent geolocated login that raised no alert.
    pub fn last_located(&self) -> Option<&Recent> {
        self.recent
            .iter()
            .rev()
            .find(|r| r.at.is_some() && !r.suspect)
    }
}
