//! Scoring throughput of the login anomaly detector with GeoIP/ASN enrichment from local
//! .mmdb files (issue 6: ≥ 200 k logins/s). Run by bench/anomaly.sh:
//!
//!   cargo run --release -p logward-agent --example anomaly_bench -- GEOIP_DIR [LOGINS] [RUNS]
//!
//! Logins from 5,000 users, each with a usual address (from the ranges MaxMind's test
//! databases know, so look-ups find a city and an ASN) and one login in 50 from elsewhere,
//! over eight weeks. Each run starts with empty profiles; the median of RUNS is printed.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use logward_agent::enrich::GeoIp;
use logward_core::enrich::Enrichment;
use logward_core::{Action, Dataset, Event, Outcome, Timestamp};
use logward_engine::anomaly::{NoProfiles, Scope, Settings, Stage};

/// Addresses inside networks of the GeoLite2 City and ASN test databases.
const POOL: &[&str] = &[
    "81.2.69.142",
    "81.2.69.160",
    "81.2.69.192",
    "89.160.20.112",
    "89.160.20.128",
    "175.16.199.1",
    "175.16.199.200",
    "216.160.83.56",
    "2.125.160.216",
    "67.43.156.1",
    "202.196.224.1",
    "1.128.0.1",
    "12.81.92.1",
    "214.78.120.1",
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
    let geoip = GeoIp::open(std::path::Path::new(&dir)).unwrap();
    let pool: Vec<IpAddr> = POOL.iter().map(|p| p.parse().unwrap()).collect();
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
            pool[u % pool.len()]
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
    for _ in 0..runs {
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
    }
    // The two halves apart, to see where the time goes: look-ups alone, and scoring of
    // events enriched beforehand.
    let start = Instant::now();
    let mut found = 0usize;
    for e in &events {
        let (g, a) = geoip.lookup(e.source_ip.unwrap());
        found += usize::from(g.is_some()) + usize::from(a.is_some());
    }
    let lookups = n as f64 / start.elapsed().as_secs_f64();
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
        "  apart: GeoIP+ASN look-ups {lookups:.0}/s ({found} answers); scoring of enriched logins {scoring:.0}/s"
    );
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "anomaly scoring with GeoIP+ASN enrichment: {n} logins, {} users, median of {runs}: {median:.0} logins/s (min {:.0}, max {:.0}); {alerts} alerts in the last run",
        users.len(),
        rates[0],
        rates[rates.len() - 1]
    );
}
