//! A labelled, deterministic scenario for evaluating the login anomaly detector
//! (docs/ANOMALY.md, "Evaluation"): eight weeks of logins by office users, VPN/mobile users
//! and travellers, with the hard normal cases (address and ASN churn, business trips at
//! plausible speed, a laptop replaced with a new key, a user working late once, a new
//! colleague's account), and attacks injected after the warm-up, each labelled with its type.
//!
//! Everything comes from one seed through a small PRNG (splitmix64): the same seed gives the
//! same stream on every machine.

use std::net::{IpAddr, Ipv4Addr};

use logward_engine::anomaly::{travel, Login};

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for a generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.range(0, xs.len() as i64) as usize]
    }
    /// Roughly normal (sum of four uniforms), mean 0, sd ≈ 1.
    pub fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.f64()).sum::<f64>() * 1.732 - 3.464
    }
}

/// A city of the built-in table.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Local time offset from UTC, hours (standard time; the scenario ignores DST).
    pub tz: i32,
    /// Broadband, mobile and hosting ASNs of the city.
    pub asns: [u32; 3],
}

const fn city(
    name: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    tz: i32,
    asns: [u32; 3],
) -> City {
    City {
        name,
        country,
        lat,
        lon,
        tz,
        asns,
    }
}

/// Where users live and travel. Pairs of cities in one country are close (≤ 450 km), so
/// mobile users roam between them.
pub const CITIES: &[City] = &[
    city("London", "GB", 51.51, -0.13, 0, [2856, 5089, 5378]),
    city("Birmingham", "GB", 52.49, -1.89, 0, [2856, 5089, 12576]),
    city("Paris", "FR", 48.86, 2.35, 1, [3215, 12322, 5410]),
    city("Lille", "FR", 50.63, 3.06, 1, [3215, 12322, 15557]),
    city("Berlin", "DE", 52.52, 13.40, 1, [3320, 6805, 3209]),
    city("Hamburg", "DE", 53.55, 9.99, 1, [3320, 6805, 8881]),
    city("New York", "US", 40.71, -74.01, -5, [7922, 701, 20115]),
    city("Boston", "US", 42.36, -71.06, -5, [7922, 701, 6167]),
    city("Tokyo", "JP", 35.68, 139.69, 9, [2516, 4713, 17676]),
    city("Osaka", "JP", 34.69, 135.50, 9, [2516, 4713, 9605]),
    city("Madrid", "ES", 40.42, -3.70, 1, [3352, 12479, 12430]),
    city("Valencia", "ES", 39.47, -0.38, 1, [3352, 12479, 12338]),
];

/// Where attackers come from: countries no normal user lives in or visits.
pub const ATTACKER_CITIES: &[City] = &[
    city("Moscow", "RU", 55.76, 37.62, 3, [8359, 12389, 31213]),
    city("Beijing", "CN", 39.90, 116.40, 8, [4808, 4134, 37963]),
    city("Lagos", "NG", 6.52, 3.38, 1, [29465, 36873, 37148]),
    city("Bucharest", "RO", 44.43, 26.10, 2, [8708, 9050, 6830]),
    city("Hanoi", "VN", 21.03, 105.85, 7, [45899, 7552, 18403]),
    city("Sao Paulo", "BR", -23.55, -46.63, -3, [28573, 18881, 26599]),
];

/// The hosts users log in to: name and UTC offset, seconds.
pub const HOSTS: &[(&str, i32)] = &[
    ("web01", 0),
    ("db01", 3600),
    ("bastion", -5 * 3600),
    ("build", 9 * 3600),
];

/// Kinds of normal login, to break false alerts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NormalKind {
    /// Stable office (or office and home) addresses.
    Office,
    /// VPN or mobile: addresses, networks and ASNs churn within the user's country.
    Roaming,
    /// A traveller at home.
    TravellerHome,
    /// A traveller on a business trip (another city or country, reached at plausible speed).
    Trip,
    /// The first logins with a replaced laptop's new key.
    NewLaptop,
    /// The one evening a user works late.
    LateOnce,
    /// A new colleague: account created, first logins from the office.
    NewColleague,
    /// A normal login within 24 h after an attack on the same user (the profile has
    /// learnt the attacker's login).
    AfterAttack,
}

impl NormalKind {
    pub const ALL: [NormalKind; 8] = [
        NormalKind::Office,
        NormalKind::Roaming,
        NormalKind::TravellerHome,
        NormalKind::Trip,
        NormalKind::NewLaptop,
        NormalKind::LateOnce,
        NormalKind::NewColleague,
        NormalKind::AfterAttack,
    ];
    pub fn name(self) -> &'static str {
        match self {
            NormalKind::Office => "office",
            NormalKind::Roaming => "vpn/mobile",
            NormalKind::TravellerHome => "traveller at home",
            NormalKind::Trip => "business trip",
            NormalKind::NewLaptop => "new laptop key",
            NormalKind::LateOnce => "works late once",
            NormalKind::NewColleague => "new colleague",
            NormalKind::AfterAttack => "after an attack",
        }
    }
}

/// Attack types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackKind {
    /// The user's own key, from a country the user never logged in from.
    StolenKey,
    /// Many failures from one address, then a success with a password.
    CredentialStuffing,
    /// Minutes after the user's real login, from thousands of km away.
    ImpossibleTravel,
    /// At night (host time), with an auth method the user never used, from the user's own
    /// ASN.
    NightNewMethod,
    /// An account created and used minutes later from an ASN nobody reached the host from.
    NewAccount,
}

impl AttackKind {
    pub const ALL: [AttackKind; 5] = [
        AttackKind::StolenKey,
        AttackKind::CredentialStuffing,
        AttackKind::ImpossibleTravel,
        AttackKind::NightNewMethod,
        AttackKind::NewAccount,
    ];
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::StolenKey => "stolen key, new country",
            AttackKind::CredentialStuffing => "credential stuffing",
            AttackKind::ImpossibleTravel => "impossible travel",
            AttackKind::NightNewMethod => "night, new method",
            AttackKind::NewAccount => "new account, new ASN",
        }
    }
}

/// What a login is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    Normal(NormalKind),
    Attack(AttackKind),
}

/// A login of the scenario, owning its strings ([`ScenarioLogin::login`] borrows them).
#[derive(Debug, Clone)]
pub struct ScenarioLogin {
    pub time: i64,
    pub utc_offset: i32,
    pub user: String,
    pub host: &'static str,
    pub ip: IpAddr,
    pub method: &'static str,
    pub key: Option<String>,
    pub country: &'static str,
    pub city: &'static str,
    pub location: (f64, f64),
    pub radius_km: u32,
    pub asn: u32,
}

impl ScenarioLogin {
    pub fn login(&self) -> Login<'_> {
        Login {
            time: self.time,
            utc_offset: self.utc_offset,
            user: &self.user,
            host: self.host,
            ip: Some(self.ip),
            method: Some(self.method),
            key: self.key.as_deref(),
            country: Some(self.country),
            city: Some(self.city),
            location: Some(self.location),
            radius_km: self.radius_km,
            asn: Some(self.asn),
            dnsbl_hits: 0,
        }
    }
}

/// One event of the stream.
#[derive(Debug, Clone)]
pub enum Event {
    Login(Box<ScenarioLogin>, Label),
    Failure {
        ip: IpAddr,
        time: i64,
    },
    AccountCreated {
        host: &'static str,
        user: String,
        time: i64,
    },
}

impl Event {
    pub fn time(&self) -> i64 {
        match self {
            Event::Login(l, _) => l.time,
            Event::Failure { time, .. } | Event::AccountCreated { time, .. } => *time,
        }
    }
    /// Order within one second: creations, then failures, then logins.
    fn rank(&self) -> u8 {
        match self {
            Event::AccountCreated { .. } => 0,
            Event::Failure { .. } => 1,
            Event::Login(..) => 2,
        }
    }
}

/// The scenario's size.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub seed: u64,
    pub users: usize,
    pub days: i64,
    /// Attacks of each type.
    pub attacks_per_type: usize,
    /// No attack before this day (the profiles' warm-up).
    pub warmup_days: i64,
}

impl Config {
    /// `users` users over eight weeks, max(10, users / 5) attacks of each type after three
    /// weeks.
    pub fn new(seed: u64, users: usize) -> Config {
        Config {
            seed,
            users,
            days: 56,
            attacks_per_type: (users / 5).max(10),
            warmup_days: 21,
        }
    }
}

/// The stream, in time order.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub config: Config,
    pub events: Vec<Event>,
}

/// 2026-11-02, a Monday, 00:00 UTC.
pub const START: i64 = 1_793_577_600;
const DAY: i64 = 86_400;
const HOUR: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Office,
    Roaming,
    Traveller,
}

/// A fixed place a user logs in from.
#[derive(Debug, Clone, Copy)]
struct Spot {
    city: usize,
    asn: u32,
    ip: Ipv4Addr,
}

#[derive(Debug, Clone)]
struct User {
    name: String,
    host: &'static str,
    host_offset: i32,
    home: usize,
    style: Style,
    spots: Vec<Spot>,
    method: &'static str,
    key: Option<String>,
    /// The local hour the working day starts.
    start_hour: f64,
    /// Cities the traveller visits.
    destinations: Vec<usize>,
    /// The first day the user exists (new colleagues start later).
    first_day: i64,
}

/// A first octet for an ASN, so each operator has its own address space.
fn octet(asn: u32) -> u8 {
    (11 + (asn.wrapping_mul(2_654_435_761) >> 8) % 200) as u8
}

fn address(rng: &mut Rng, asn: u32) -> Ipv4Addr {
    Ipv4Addr::new(
        octet(asn),
        rng.range(0, 256) as u8,
        rng.range(0, 256) as u8,
        rng.range(1, 255) as u8,
    )
}

fn spot(rng: &mut Rng, city: usize, asn_index: usize) -> Spot {
    let asn = CITIES[city].asns[asn_index];
    Spot {
        city,
        asn,
        ip: address(rng, asn),
    }
}

/// The other city of the same country (the table lists them in pairs).
fn twin(city: usize) -> usize {
    city ^ 1
}

fn at(c: &City) -> (f64, f64) {
    (c.lat, c.lon)
}

struct Gen {
    rng: Rng,
    users: Vec<User>,
    /// Normal logins per user, in time order.
    logins: Vec<Vec<(ScenarioLogin, NormalKind)>>,
    events: Vec<Event>,
    /// Fresh attacker ASNs (private-use 32-bit range: never a normal user's).
    next_asn: u32,
    /// Each city's office /24.
    offices: Vec<[u8; 4]>,
}

impl Gen {
    fn fresh_asn(&mut self) -> u32 {
        self.next_asn += 1;
        self.next_asn
    }

    fn user(&mut self, i: usize, first_day: i64) -> User {
        let rng = &mut self.rng;
        let home = rng.range(0, CITIES.len() as i64) as usize;
        let style = match rng.range(0, 10) {
            0..=4 => Style::Office,
            5..=7 => Style::Roaming,
            _ => Style::Traveller,
        };
        let (host, host_offset) = *rng.pick(HOSTS);
        // The office: one /24 per city, shared by its users.
        let office = self.offices[home];
        let mut spots = vec![Spot {
            city: home,
            asn: CITIES[home].asns[0],
            ip: Ipv4Addr::new(office[0], office[1], office[2], rng.range(2, 250) as u8),
        }];
        if rng.chance(0.4) {
            // Works from home some days, on another ISP.
            spots.push(spot(rng, home, 1));
        }
        let password = rng.chance(0.3);
        let mut destinations = Vec::new();
        if style == Style::Traveller {
            destinations.push(twin(home));
            let mut far = rng.range(0, CITIES.len() as i64) as usize;
            if CITIES[far].country == CITIES[home].country {
                far = (far + 2) % CITIES.len();
            }
            destinations.push(far);
        }
        User {
            name: format!("u{i:04}"),
            host,
            host_offset,
            home,
            style,
            spots,
            method: if password { "password" } else { "publickey" },
            key: (!password).then(|| format!("SHA256:k{i:04}-{:08x}", rng.next_u64() as u32)),
            start_hour: 7.5 + rng.f64() * 2.5,
            destinations,
            first_day,
        }
    }

    fn make(&self, u: &User, time: i64, city: usize, asn: u32, ip: Ipv4Addr) -> ScenarioLogin {
        let c = &CITIES[city];
        ScenarioLogin {
            time,
            utc_offset: u.host_offset,
            user: u.name.clone(),
            host: u.host,
            ip: IpAddr::V4(ip),
            method: u.method,
            key: u.key.clone(),
            country: c.country,
            city: c.name,
            location: at(c),
            // Mobile and VPN addresses geolocate coarsely.
            radius_km: if u.style == Style::Roaming { 200 } else { 20 },
            asn,
        }
    }

    /// Local working-day times (seconds after local midnight) for one day.
    fn day_times(&mut self, start_hour: f64, weekday: i64) -> Vec<i64> {
        let rng = &mut self.rng;
        let n = if weekday >= 5 {
            usize::from(rng.chance(0.06))
        } else {
            match rng.range(0, 10) {
                0 => 0,
                1..=4 => 1,
                5..=8 => 2,
                _ => 3,
            }
        };
        let mut ts: Vec<i64> = (0..n)
            .map(|_| {
                let h = (start_hour + rng.f64() * 9.0 + rng.normal() * 0.3).clamp(6.0, 19.0);
                (h * 3600.0) as i64
            })
            .collect();
        ts.sort_unstable();
        ts.dedup();
        ts
    }

    /// The normal logins of user `ui`.
    fn normal(&mut self, ui: usize) {
        let u = self.users[ui].clone();
        let mut out: Vec<(ScenarioLogin, NormalKind)> = Vec::new();
        let home_kind = match u.style {
            Style::Office => NormalKind::Office,
            Style::Roaming => NormalKind::Roaming,
            Style::Traveller => NormalKind::TravellerHome,
        };
        // Trips: every two to three weeks, two to four days.
        let mut trips: Vec<(i64, i64, usize, Ipv4Addr, u32)> = Vec::new();
        if u.style == Style::Traveller {
            let mut d = u.first_day + self.rng.range(3, 10);
            while d + 5 < u.first_day + 56 {
                let dest = *self.rng.pick(&u.destinations);
                let asn = *self.rng.pick(&CITIES[dest].asns);
                let ip = address(&mut self.rng, asn);
                let len = self.rng.range(2, 5);
                trips.push((d, d + len, dest, ip, asn));
                d += len + self.rng.range(10, 18);
            }
        }
        // The laptop replacement (once, some users) and the late evening (once, some users).
        let laptop_day = (u.key.is_some() && self.rng.chance(0.15))
            .then(|| self.rng.range(u.first_day + 14, u.first_day + 50));
        let late_day = self
            .rng
            .chance(0.15)
            .then(|| self.rng.range(u.first_day + 14, u.first_day + 50));
        let mut key = u.key.clone();
        let mut new_key_logins = 0;
        let mut roam_ip = u.spots[0];
        for day in u.first_day..56 {
            let weekday = day % 7;
            // The day after a trip is in it too: a long flight home lands then.
            let trip = trips.iter().find(|t| day >= t.0 && day <= t.1 + 1).copied();
            let tz = match trip {
                Some((d0, d1, dest, _, _)) if day > d0 && day <= d1 => CITIES[dest].tz,
                _ => CITIES[u.home].tz,
            };
            let midnight = START + day * DAY - i64::from(tz) * HOUR;
            let mut times = self.day_times(u.start_hour, weekday);
            if late_day == Some(day) {
                times.push(((22.0 + self.rng.f64() * 1.5) * 3600.0) as i64);
            }
            for t in times {
                let time = midnight + t + self.rng.range(0, 60);
                let mut kind = home_kind;
                let (lcity, asn, ip) = if let Some((d0, d1, dest, ip, asn)) = trip {
                    // Flies out at 07:00 home time on the first day, back at 17:00 local on
                    // the last; flights at 800 km/h plus 1.5 h, and an hour either side.
                    let dist = travel::distance_km(at(&CITIES[u.home]), at(&CITIES[dest]));
                    let flight = ((dist / 800.0 + 1.5) * 3600.0) as i64;
                    let depart = START + d0 * DAY - i64::from(CITIES[u.home].tz) * HOUR + 7 * HOUR;
                    let arrive = depart + flight + HOUR;
                    let back = START + d1 * DAY - i64::from(CITIES[dest].tz) * HOUR + 17 * HOUR;
                    let land = back + flight + HOUR;
                    if time < depart - HOUR || time > land {
                        (u.home, u.spots[0].asn, u.spots[0].ip)
                    } else if time >= arrive && time < back - HOUR {
                        kind = NormalKind::Trip;
                        (dest, asn, ip)
                    } else {
                        continue;
                    }
                } else {
                    match u.style {
                        Style::Roaming => {
                            // A new exit address most logins; the ASN and city churn too.
                            if self.rng.chance(0.6) {
                                let c = if self.rng.chance(0.3) {
                                    twin(u.home)
                                } else {
                                    u.home
                                };
                                let asn = *self.rng.pick(&CITIES[c].asns);
                                roam_ip = Spot {
                                    city: c,
                                    asn,
                                    ip: address(&mut self.rng, asn),
                                };
                            }
                            (roam_ip.city, roam_ip.asn, roam_ip.ip)
                        }
                        _ => {
                            let s = *self.rng.pick(&u.spots);
                            (s.city, s.asn, s.ip)
                        }
                    }
                };
                if late_day == Some(day) && t >= 22 * 3600 {
                    kind = NormalKind::LateOnce;
                }
                if laptop_day.is_some_and(|d| day >= d) && new_key_logins == 0 {
                    key = Some(format!("SHA256:{}-new", u.name));
                }
                if laptop_day.is_some_and(|d| day >= d) && new_key_logins < 3 {
                    new_key_logins += 1;
                    kind = NormalKind::NewLaptop;
                }
                if u.first_day > 0 && day < u.first_day + 7 {
                    kind = NormalKind::NewColleague;
                }
                let mut l = self.make(&u, time, lcity, asn, ip);
                l.key = key.clone();
                // Sometimes a typo or two first (below the failure threshold).
                if u.method == "password" && self.rng.chance(0.05) {
                    for k in 0..self.rng.range(1, 3) {
                        self.events.push(Event::Failure {
                            ip: l.ip,
                            time: time - 20 + k,
                        });
                    }
                }
                out.push((l, kind));
            }
        }
        out.sort_by_key(|(l, _)| l.time);
        // A flight's arrival can fall on the next local day: keep only plausible order.
        self.logins[ui] = out;
    }

    fn attacker(&mut self, rng_city: Option<usize>) -> (City, u32, Ipv4Addr) {
        let c = match rng_city {
            Some(i) => ATTACKER_CITIES[i],
            None => *self.rng.pick(ATTACKER_CITIES),
        };
        let asn = self.fresh_asn();
        let ip = address(&mut self.rng, asn);
        (c, asn, ip)
    }

    fn attack_login(
        &self,
        u: &User,
        time: i64,
        c: &City,
        asn: u32,
        ip: Ipv4Addr,
        method: &'static str,
    ) -> ScenarioLogin {
        ScenarioLogin {
            time,
            utc_offset: u.host_offset,
            user: u.name.clone(),
            host: u.host,
            ip: IpAddr::V4(ip),
            method,
            key: if method == "publickey" {
                u.key.clone()
            } else {
                None
            },
            country: c.country,
            city: c.name,
            location: at(c),
            radius_km: 50,
            asn,
        }
    }

    /// A user to attack: an existing one matching `want`, not attacked yet if possible.
    fn target(&mut self, used: &mut [bool], want: impl Fn(&User) -> bool) -> Option<usize> {
        let cands: Vec<usize> = (0..self.users.len())
            .filter(|&i| self.users[i].first_day == 0 && want(&self.users[i]))
            .collect();
        if cands.is_empty() {
            return None;
        }
        let fresh: Vec<usize> = cands.iter().copied().filter(|&i| !used[i]).collect();
        let i = if fresh.is_empty() {
            *self.rng.pick(&cands)
        } else {
            *self.rng.pick(&fresh)
        };
        used[i] = true;
        Some(i)
    }

    /// A normal login of user `ui` after the warm-up, to anchor an attack on.
    fn anchor(&mut self, ui: usize, min_day: i64) -> Option<ScenarioLogin> {
        let from = START + min_day * DAY;
        let ls: Vec<&ScenarioLogin> = self.logins[ui]
            .iter()
            .map(|(l, _)| l)
            .filter(|l| l.time >= from)
            .collect();
        if ls.is_empty() {
            return None;
        }
        let i = self.rng.range(0, ls.len() as i64) as usize;
        Some(ls[i].clone())
    }

    fn attacks(&mut self, cfg: &Config) -> Vec<(ScenarioLogin, AttackKind)> {
        let mut out = Vec::new();
        let mut used = vec![false; self.users.len()];
        let w = cfg.warmup_days;
        for kind in AttackKind::ALL {
            for n in 0..cfg.attacks_per_type {
                match kind {
                    AttackKind::StolenKey => {
                        let Some(ui) = self.target(&mut used, |u| u.key.is_some()) else {
                            continue;
                        };
                        let u = self.users[ui].clone();
                        let (c, asn, ip) = self.attacker(None);
                        let time = START + self.rng.range(w * DAY, (cfg.days - 1) * DAY);
                        out.push((self.attack_login(&u, time, &c, asn, ip, "publickey"), kind));
                    }
                    AttackKind::CredentialStuffing => {
                        let Some(ui) = self.target(&mut used, |u| u.method == "password") else {
                            continue;
                        };
                        let u = self.users[ui].clone();
                        let (c, asn, ip) = self.attacker(None);
                        let time = START + self.rng.range(w * DAY, (cfg.days - 1) * DAY);
                        let fails = self.rng.range(4, 40);
                        for k in 0..fails {
                            self.events.push(Event::Failure {
                                ip: IpAddr::V4(ip),
                                time: time - (fails - k) * self.rng.range(5, 60),
                            });
                        }
                        out.push((self.attack_login(&u, time, &c, asn, ip, "password"), kind));
                    }
                    AttackKind::ImpossibleTravel => {
                        let Some(ui) = self.target(&mut used, |_| true) else {
                            continue;
                        };
                        let u = self.users[ui].clone();
                        let Some(a) = self.anchor(ui, w) else {
                            continue;
                        };
                        // From an attacker city 2,000–9,000 km away from the real login.
                        let far: Vec<usize> = (0..ATTACKER_CITIES.len())
                            .filter(|&i| {
                                let d = travel::distance_km(a.location, at(&ATTACKER_CITIES[i]));
                                (2000.0..9000.0).contains(&d)
                            })
                            .collect();
                        if far.is_empty() {
                            continue;
                        }
                        let ci = *self.rng.pick(&far);
                        let (c, asn, ip) = self.attacker(Some(ci));
                        let time = a.time + self.rng.range(10 * 60, 50 * 60);
                        out.push((self.attack_login(&u, time, &c, asn, ip, u.method), kind));
                    }
                    AttackKind::NightNewMethod => {
                        let Some(ui) = self.target(&mut used, |_| true) else {
                            continue;
                        };
                        let u = self.users[ui].clone();
                        let day = self.rng.range(w, cfg.days - 1);
                        // 01:00–04:59 at the user's home (the host's clock may differ).
                        let time = START + day * DAY - i64::from(CITIES[u.home].tz) * HOUR
                            + self.rng.range(HOUR, 5 * HOUR);
                        let method = if u.method == "publickey" {
                            "password"
                        } else {
                            "keyboard-interactive"
                        };
                        // From the user's own ASN (a compromised machine on the user's
                        // network), a new address.
                        let asn = u.spots[0].asn;
                        let ip = address(&mut self.rng, asn);
                        let c = CITIES[u.home];
                        out.push((self.attack_login(&u, time, &c, asn, ip, method), kind));
                    }
                    AttackKind::NewAccount => {
                        let (host, host_offset) = HOSTS[n % HOSTS.len()];
                        let name = format!("svc{n:03}");
                        let time = START + self.rng.range(w * DAY, (cfg.days - 1) * DAY);
                        self.events.push(Event::AccountCreated {
                            host,
                            user: name.clone(),
                            time: time - self.rng.range(60, 30 * 60),
                        });
                        let u = User {
                            name,
                            host,
                            host_offset,
                            home: 0,
                            style: Style::Office,
                            spots: Vec::new(),
                            method: "password",
                            key: None,
                            start_hour: 9.0,
                            destinations: Vec::new(),
                            first_day: 0,
                        };
                        let (c, asn, ip) = self.attacker(None);
                        out.push((self.attack_login(&u, time, &c, asn, ip, "password"), kind));
                    }
                }
            }
        }
        out
    }
}

impl Scenario {
    /// Generates the scenario of `config`.
    pub fn generate(config: Config) -> Scenario {
        let mut g = Gen {
            rng: Rng::new(config.seed),
            users: Vec::new(),
            logins: Vec::new(),
            events: Vec::new(),
            next_asn: 4_200_000_000,
            offices: Vec::new(),
        };
        for c in CITIES {
            let mut r = Rng::new(config.seed ^ u64::from(c.asns[0]));
            g.offices.push(address(&mut r, c.asns[0]).octets());
        }
        // One in twenty is a new colleague who starts after the warm-up.
        for i in 0..config.users {
            let first_day = if i % 20 == 19 {
                g.rng.range(config.warmup_days, config.days - 14)
            } else {
                0
            };
            let u = g.user(i, first_day);
            g.users.push(u);
        }
        g.logins = vec![Vec::new(); config.users];
        for ui in 0..config.users {
            g.normal(ui);
            let u = &g.users[ui];
            if u.first_day > 0 {
                if let Some((first, _)) = g.logins[ui].first() {
                    let time = first.time - g.rng.range(30 * 60, 3 * HOUR);
                    let (host, user) = (u.host, u.name.clone());
                    g.events.push(Event::AccountCreated { host, user, time });
                }
            }
        }
        let attacks = g.attacks(&config);
        // Normal logins within 24 h after an attack on the same user are their own kind.
        for (a, _) in &attacks {
            if let Some(ui) = g.users.iter().position(|u| u.name == a.user) {
                for (l, k) in &mut g.logins[ui] {
                    if l.time > a.time && l.time <= a.time + DAY {
                        *k = NormalKind::AfterAttack;
                    }
                }
            }
        }
        let mut events = std::mem::take(&mut g.events);
        for ls in std::mem::take(&mut g.logins) {
            for (l, k) in ls {
                events.push(Event::Login(Box::new(l), Label::Normal(k)));
            }
        }
        for (l, k) in attacks {
            events.push(Event::Login(Box::new(l), Label::Attack(k)));
        }
        events.sort_by_key(|e| (e.time(), e.rank()));
        Scenario { config, events }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_ordered_and_labelled() {
        let a = Scenario::generate(Config::new(3, 40));
        let b = Scenario::generate(Config::new(3, 40));
        assert_eq!(a.events.len(), b.events.len());
        assert!(a.events.windows(2).all(|w| w[0].time() <= w[1].time()));
        for (x, y) in a.events.iter().zip(&b.events) {
            assert_eq!(x.time(), y.time());
        }
        for k in AttackKind::ALL {
            let n = a
                .events
                .iter()
                .filter(|e| matches!(e, Event::Login(_, Label::Attack(x)) if *x == k))
                .count();
            assert!(n >= 8, "{k:?}: {n}");
        }
        for k in [NormalKind::Office, NormalKind::Roaming, NormalKind::Trip] {
            assert!(a
                .events
                .iter()
                .any(|e| matches!(e, Event::Login(_, Label::Normal(x)) if *x == k)));
        }
    }

    #[test]
    fn trips_are_at_plausible_speed() {
        let s = Scenario::generate(Config::new(1, 60));
        let mut last: std::collections::HashMap<String, (i64, (f64, f64))> =
            std::collections::HashMap::new();
        for e in &s.events {
            if let Event::Login(l, Label::Normal(_)) = e {
                if let Some(&(t, p)) = last.get(&l.user) {
                    let km = travel::distance_km(p, l.location);
                    if km > 500.0 {
                        assert!(
                            travel::speed_kmh(km, l.time - t) < 1000.0,
                            "{km} km in {} s: {l:?}",
                            l.time - t
                        );
                    }
                }
                last.insert(l.user.clone(), (l.time, l.location));
            }
        }
    }
}
