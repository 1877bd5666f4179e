//! Scoring throughput of the login anomaly detector with GeoIP/ASN enrichment from local
//! .mmdb files (issue 6: ≥ 200 k logins/s). Run by bench/anomaly.sh:
//!
//!   cargo run --release -p logward-agent --example anomaly_bench -- GEOIP_DIR [LOGINS] [RUNS]
//!
//! Logins from 5,000 users, each with a usual address of their own (from the ranges MaxMind's
//! test databases place in a city) and one login in 50 from any address of those ranges,
//! over eight weeks. Each run starts with empty profiles and a cold GeoIP cache; the median
//! of RUNS is printed, with the cache's hit rate.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use logward_agent::enrich::GeoIp;
use logward_core::enrich::Enrichment;
use logward_core::{Action, Dataset, Event, Outcome, Timestamp};
use logward_engine::anomaly::{NoProfiles, Scope, Settings, Stage};

/// Networks of MaxMind's GeoIP2 City test database with a location (about 5,900 addresses),
/// so every user can have an address of their own that look-ups place in a city.
const NETWORKS: &[(&str, u32)] = &[
    ("202.196.224.0", 4096),
    ("67.43.156.0", 256),
    ("214.0.0.0", 256),
    ("214.0.1.0", 256),
    ("2.2.3.0", 256),
    ("175.16.199.0", 256),
    ("89.160.20.128", 128),
    ("81.2.69.160", 32),
    ("89.160.20.112", 16),
    ("81.2.69.192", 16),
    ("81.2.69.144", 16),
];

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: anomaly_bench GEOIP_DIR [LOGINS] [RUNS]");
    let n: usize = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let runs: usize = args.next().map_or(5, |a| a.parse().unwrap());
    let open = || GeoIp::open(std::path::Path::new(&dir)).unwrap();
    let pool: Vec<IpAddr> = NETWORKS
        .iter()
        .flat_map(|&(base, n)| {
            let b = u32::from(base.parse::<std::net::Ipv4Addr>().unwrap());
            (0..n).map(move |i| IpAddr::V4((b + i).into()))
        })
        .collect();
    let users: Vec<String> = (0..5000).map(|i| format!("user{i}")).collect();

    // The stream, built once: time order over eight weeks.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let t0 = 1_793_577_600i64;
    let span = 56 * 86_400i64;
    let mut events: Vec<Event<'static>> = Vec::with_capacity(n);
    for i in 0..n {
        let u = (xorshift(&mut seed) % users.len() as u64) as usize;
        let r = xorshift(&mut seed);
        // Mostly the user's usual address; one login in 50 from anywhere in the pool.
        let ip = if r % 50 == 0 {
            pool[(r / 50 % pool.len() as u64) as usize]
        } else {
            pool[u * 7 % pool.len()]
        };
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Success);
        e.timestamp = Some(Timestamp {
            unix: t0 + span * i as i64 / n as i64,
            nanos: 0,
            offset: 0,
        });
        e.host_name = Some(Cow::Borrowed("web01"));
        e.user_name = Some(Cow::Owned(users[u].clone()));
        e.source_ip = Some(ip);
        e.auth_method = Some("publickey");
        events.push(e);
    }

    let mut rates = Vec::with_capacity(runs);
    let mut alerts = 0usize;
    let mut hit_rate = 0.0;
    for _ in 0..runs {
        let geoip = open();
        let mut stage = Stage::new(Settings::default(), Scope::Host);
        let mut batch = events.clone();
        let start = Instant::now();
        alerts = 0;
        for e in &mut batch {
            if let Some(ip) = e.source_ip {
                let (geo, asn) = geoip.lookup(ip);
                e.enrichment = Some(Box::new(Enrichment {
                    geo,
                    asn,
                    dnsbl: Some(Vec::new()),
                }));
            }
            alerts += stage.event(e, &mut NoProfiles).0.len();
        }
        let s = start.elapsed().as_secs_f64();
        rates.push(n as f64 / s);
        let (hits, misses) = geoip.cache_stats();
        hit_rate = hits as f64 / (hits + misses).max(1) as f64;
    }
    // The two halves apart, to see where the time goes: look-ups alone (a cold cache), and
    // scoring of events enriched beforehand.
    let geoip = open();
    let start = Instant::now();
    let mut found = 0usize;
    for e in &events {
        let (g, a) = geoip.lookup(e.source_ip.unwrap());
        found += usize::from(g.is_some()) + usize::from(a.is_some());
    }
    let lookups = n as f64 / start.elapsed().as_secs_f64();
    // Every address once on a cold cache: the price of a miss (tree walks and decoding).
    let cold = open();
    let start = Instant::now();
    for &ip in &pool {
        std::hint::black_box(cold.lookup(ip));
    }
    let misses = pool.len() as f64 / start.elapsed().as_secs_f64();
    let mut enriched = events.clone();
    for e in &mut enriched {
        let (geo, asn) = geoip.lookup(e.source_ip.unwrap());
        e.enrichment = Some(Box::new(Enrichment {
            geo,
            asn,
            dnsbl: Some(Vec::new()),
        }));
    }
    let mut stage = Stage::new(Settings::default(), Scope::Host);
    let start = Instant::now();
    for e in &enriched {
        std::hint::black_box(stage.event(e, &mut NoProfiles));
    }
    let scoring = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "  apart: GeoIP+ASN look-ups {lookups:.0}/s in the stream's order ({found} answers), {misses:.0}/s when every one misses the cache; scoring of enriched logins {scoring:.0}/s"
    );
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "anomaly scoring with GeoIP+ASN enrichment: {n} logins, {} users, median of {runs}: {median:.0} logins/s (min {:.0}, max {:.0}); GeoIP cache hits {:.1}%; {alerts} alerts in the last run",
        users.len(),
        rates[0],
        rates[rates.len() - 1],
        hit_rate * 100.0
    );
}
