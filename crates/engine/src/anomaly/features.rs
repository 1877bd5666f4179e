//! What is odd about one login, measured against the user's profile, and the score.

use std::borrow::Cow;

use super::lof::{Vector, DIM};
use super::profile::{Profile, MAX_RECENT};
use super::{travel, Login, Settings};

/// The explainable features of one login.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub new_address: bool,
    pub new_network: bool,
    pub new_asn: bool,
    pub new_country: bool,
    pub new_city: bool,
    pub new_method: bool,
    pub new_key: bool,
    /// The share of the user's logins within an hour of this one's hour of day.
    pub hour_share: f32,
    pub unusual_hour: bool,
    /// The user's logins in the window before this one.
    pub logins_in_window: u32,
    /// Distinct locations in the window, this one included.
    pub locations_in_window: u32,
    /// From the last geolocated login: km, and the speed it implies.
    pub travel_km: Option<f64>,
    pub travel_kmh: Option<f64>,
    pub impossible_travel: bool,
    pub dnsbl_hits: u32,
    /// Failed authentications from this address or its network just before.
    pub failures_before: u32,
    /// The first login of an account created moments ago.
    pub new_account: bool,
    /// Nobody reached this host from this ASN / network before.
    pub host_new_asn: bool,
    pub host_new_network: bool,
    /// The host's users log in from this country / ASN: at least [`HOST_USUAL`] logins
    /// that raised no alert.
    pub host_usual_country: bool,
    pub host_usual_asn: bool,
}

/// Logins from a country or ASN before it is usual for a host (one unnoticed attacker's
/// login must not make the attacker's country usual).
pub const HOST_USUAL: u64 = 3;

/// One reason behind a score: its weight and the words an admin reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub weight: f32,
    /// Fixed words borrowed, numbers formatted: most logins have a reason or two and no
    /// alert, so a fixed reason costs no allocation.
    pub text: Cow<'static, str>,
}

/// The strings a login is looked up and recorded under in a profile, written once per
/// login into buffers that are reused (no allocation per login once warm).
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub ip: String,
    pub net: String,
    pub asn: String,
    /// `country/city`, empty when either is unknown.
    pub city: String,
    /// What "a location" is for windows: `country/city`, the country, else the network.
    pub place: String,
}

impl Keys {
    pub fn fill(&mut self, l: &Login<'_>) {
        use std::fmt::Write;
        for b in [
            &mut self.ip,
            &mut self.net,
            &mut self.asn,
            &mut self.city,
            &mut self.place,
        ] {
            b.clear();
        }
        if let Some(ip) = l.ip {
            let _ = write!(self.ip, "{ip}");
            write_network(&mut self.net, ip);
        }
        if let Some(a) = l.asn {
            let _ = write!(self.asn, "{a}");
        }
        if let (Some(c), Some(city)) = (l.country, l.city) {
            let _ = write!(self.city, "{c}/{city}");
        }
        match (l.country, l.city) {
            (Some(_), Some(_)) => self.place.push_str(&self.city),
            (Some(c), None) => self.place.push_str(c),
            _ => self.place.push_str(&self.net),
        }
    }
}

/// Writes the /24 (IPv4) or /48 (IPv6) network of `ip`.
fn write_network(out: &mut String, ip: std::net::IpAddr) {
    use std::fmt::Write;
    let _ = match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            write!(out, "{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            write!(out, "{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    };
}

/// Hours of the day the user logged in, as a short list for a reason's words.
fn usual_hours(p: &Profile) -> String {
    let mut h: Vec<(u32, usize)> = p
        .hours
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| (c, i))
        .collect();
    h.sort_by(|a, b| b.cmp(a));
    let mut top: Vec<usize> = h.iter().take(4).map(|&(_, i)| i).collect();
    top.sort_unstable();
    top.iter()
        .map(|i| format!("{i:02}h"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Features {
    /// The features of `l` against `p`, with the login's keys written beforehand (the
    /// fields only the detector knows stay default).
    pub(crate) fn compute(p: &Profile, l: &Login<'_>, s: &Settings, k: &Keys) -> Features {
        let mut f = Features::default();
        let known = p.logins > 0;
        if l.ip.is_some() {
            f.new_address = known && !p.addresses.contains(&k.ip);
            f.new_network = known && !p.networks.contains(&k.net);
        }
        // "New" only against a history that has the attribute at all (a profile built
        // without GeoIP does not make every located login new).
        if l.asn.is_some() {
            f.new_asn = !p.asns.is_empty() && !p.asns.contains(&k.asn);
        }
        if let Some(c) = l.country {
            f.new_country = !p.countries.is_empty() && !p.countries.contains(c);
            if l.city.is_some() {
                f.new_city = !f.new_country && !p.cities.is_empty() && !p.cities.contains(&k.city);
            }
        }
        if let Some(m) = l.method {
            f.new_method = !p.methods.is_empty() && !p.methods.contains(m);
        }
        if let Some(k) = l.key {
            f.new_key = !p.keys.is_empty() && !p.keys.contains(k);
        }
        if p.logins > 0 {
            let share = |hist: &[u32; 24], h: usize, of: u64| {
                let near: u32 = [(h + 23) % 24, h, (h + 1) % 24]
                    .iter()
                    .map(|&i| hist[i])
                    .sum();
                near as f32 / of as f32
            };
            f.hour_share = share(&p.hours, l.hour(), p.logins);
            // Usual in the host's clock, or in the local (solar) time of where the login
            // comes from: a traveller's 09:00 in Tokyo is not a night login in London.
            let located: u64 = p.solar_hours.iter().map(|&c| u64::from(c)).sum();
            if let Some(h) = l.solar_hour() {
                if located >= s.warmup_logins {
                    f.hour_share = f.hour_share.max(share(&p.solar_hours, h, located));
                }
            }
            f.unusual_hour = p.logins >= s.warmup_logins && f.hour_share < 0.03;
        } else {
            f.hour_share = 1.0;
        }
        let since = l.time - s.window;
        // Distinct places, this one first; the recent list is bounded, so is this.
        let mut places: [&str; MAX_RECENT + 1] = [""; MAX_RECENT + 1];
        places[0] = &k.place;
        let mut n = 1;
        // Newest first: the window is the tail of the time-ordered list.
        for r in p
            .recent
            .iter()
            .rev()
            .take_while(|r| r.time > since)
            .filter(|r| r.time <= l.time)
        {
            f.logins_in_window += 1;
            if !r.place.is_empty() && n < places.len() && !places[..n].contains(&r.place.as_str()) {
                places[n] = &r.place;
                n += 1;
            }
        }
        f.locations_in_window = n as u32;
        if let (Some(now), Some(prev)) = (l.location, p.last_located()) {
            if let Some(then) = prev.at {
                let km = travel::distance_km(then, now);
                let kmh = travel::speed_kmh(km, l.time - prev.time);
                f.travel_km = Some(km);
                f.travel_kmh = Some(kmh);
                // Locations are circles: only the distance beyond both radii (and 100 km of
                // GeoIP's usual error) is travel.
                let slack = f64::from(prev.radius_km + l.radius_km) + 100.0;
                f.impossible_travel = km > slack && kmh > s.max_speed_kmh;
            }
        }
        f.dnsbl_hits = l.dnsbl_hits;
        f
    }

    /// The point the LOF sees: the soft features, each scaled to [0, 1].
    pub fn vector(&self) -> Vector {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        let mut v = [0.0f32; DIM];
        v[0] = b(self.new_address) * 0.5;
        v[1] = b(self.new_network) * 0.7;
        v[2] = b(self.new_asn);
        v[3] = b(self.new_country) * 1.5;
        v[4] = b(self.new_city) * 0.7;
        v[5] = b(self.new_method);
        v[6] = b(self.new_key);
        v[7] = (1.0 - self.hour_share.min(0.3) / 0.3) * 0.8;
        v[8] = (self.logins_in_window.min(10) as f32) / 10.0;
        v[9] = (self.locations_in_window.saturating_sub(1).min(4) as f32) / 4.0;
        v[10] = b(self.failures_before > 0);
        v[11] = (self.dnsbl_hits.min(3) as f32) / 3.0;
        v
    }

    /// The score in [0, 1] and the reasons, strongest first. Soft reasons (what is new to
    /// the user) are weighed by how odd the whole login is for this user (the LOF); hard
    /// reasons (DNSBL listings, failures before the success, a new account reached from a
    /// new network) count in full. Impossible travel is a reason but not in the score: it
    /// is the `impossible-travel` rule's.
    pub fn score(&self, lof: Option<f32>, s: &Settings) -> (f32, Vec<Reason>) {
        let mut soft: Vec<Reason> = Vec::new();
        let mut hard: Vec<Reason> = Vec::new();
        let mut add = |to_hard: bool, weight: f32, text: Cow<'static, str>| {
            let r = Reason { weight, text };
            if to_hard {
                hard.push(r)
            } else {
                soft.push(r)
            }
        };
        // What is new to the user but usual for the host's other users (colleagues abroad,
        // a trip to a branch office) weighs less than what nobody here ever came from.
        if self.new_country && !self.host_usual_country {
            add(false, 0.55, "first login from this country".into());
        } else if self.new_country {
            add(
                false,
                0.3,
                "first login from this country (others log in from it here)".into(),
            );
        }
        if self.new_city {
            add(false, 0.15, "first login from this city".into());
        }
        if self.new_asn && !self.host_usual_asn {
            add(
                false,
                0.3,
                "first login from this network operator (ASN)".into(),
            );
        } else if self.new_asn {
            add(
                false,
                0.15,
                "first login from this network operator (ASN; others log in from it here)".into(),
            );
        }
        if self.new_network {
            add(
                false,
                0.12,
                "first login from this /24 or /48 network".into(),
            );
        } else if self.new_address {
            add(false, 0.05, "first login from this address".into());
        }
        // A credential the user never used (a password for a key-only user) is about the
        // account, not about habits: hard. With an unusual hour or a network never seen,
        // it is how a leaked or guessed password shows.
        if self.new_method && (self.unusual_hour || self.new_network) {
            add(
                true,
                0.62,
                if self.unusual_hour {
                    "an authentication method never used before, at an unusual hour"
                } else {
                    "an authentication method never used before, from a network never seen"
                }
                .into(),
            );
        } else if self.new_method {
            add(
                true,
                0.45,
                "an authentication method never used before".into(),
            );
        }
        if self.new_key {
            add(false, 0.25, "a key never used before".into());
        }
        if self.unusual_hour {
            add(
                false,
                0.35,
                format!(
                    "an unusual hour ({:.0}% of past logins near it)",
                    self.hour_share * 100.0
                )
                .into(),
            );
        }
        if self.logins_in_window >= 8 {
            add(
                false,
                0.2,
                format!("{} logins in the window before", self.logins_in_window).into(),
            );
        }
        if self.locations_in_window >= 3 {
            add(
                false,
                0.3,
                format!(
                    "{} distinct locations in the window",
                    self.locations_in_window
                )
                .into(),
            );
        }
        if self.dnsbl_hits > 0 {
            add(
                true,
                (0.45 + 0.15 * (self.dnsbl_hits - 1) as f32).min(0.8),
                format!("the address is on {} DNS blocklist(s)", self.dnsbl_hits).into(),
            );
        }
        if self.failures_before >= s.failures {
            add(
                true,
                if self.failures_before >= 3 * s.failures {
                    0.8
                } else {
                    0.65
                },
                format!(
                    "success after {} failures from this address or network",
                    self.failures_before
                )
                .into(),
            );
        }
        if self.new_account {
            // A colleague's first login comes from a network operator the host knows (the
            // office's, a local ISP); an attacker's from one nobody here uses.
            let w = if self.host_new_asn {
                0.65
            } else if self.host_new_network {
                0.45
            } else {
                0.3
            };
            add(true, w, "the first login of a just-created account".into());
            if self.host_new_asn {
                add(
                    true,
                    0.3,
                    "from a network operator never seen on this host".into(),
                );
            }
        }
        let noisy_or = |rs: &[Reason]| 1.0 - rs.iter().map(|r| 1.0 - r.weight).product::<f32>();
        let factor = match lof {
            // LOF ≈ 1: a login like the user's others; ≥ 2.5: unlike any of them.
            Some(l) => (0.25 + 0.75 * ((l - 1.0) / 1.5)).clamp(0.25, 1.0),
            None => 1.0,
        };
        let soft_score = noisy_or(&soft) * factor;
        let score = 1.0 - (1.0 - soft_score) * (1.0 - noisy_or(&hard));
        for r in &mut soft {
            r.weight *= factor;
        }
        if let Some(l) = lof {
            if l >= 1.5 {
                soft.push(Reason {
                    weight: ((l - 1.0) / 4.0).min(0.5),
                    text: format!("unlike the user's past logins (LOF {l:.1})").into(),
                });
            }
        }
        let mut reasons = hard;
        reasons.extend(soft);
        // Impossible travel is its own rule (`impossible-travel`); it is a reason in words
        // but does not raise `login-anomaly` too, which would alert twice for one login.
        if self.impossible_travel {
            if let (Some(km), Some(kmh)) = (self.travel_km, self.travel_kmh) {
                reasons.push(Reason {
                    weight: 0.7,
                    text: format!("impossible travel: {km:.0} km at {kmh:.0} km/h").into(),
                });
            }
        }
        reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        (score.clamp(0.0, 1.0), reasons)
    }
}

/// A reason list in words, e.g. for an alert's message.
pub fn words(reasons: &[Reason], top: usize) -> String {
    reasons
        .iter()
        .take(top)
        .map(|r| &*r.text)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The usual hours, for an alert's details.
pub fn usual(p: &Profile) -> String {
    usual_hours(p)
}
