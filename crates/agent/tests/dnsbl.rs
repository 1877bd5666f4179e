//! DNSBL look-ups against a real DNS server on loopback (Debian's dnsmasq serving test
//! zones), and against one that never answers.
//!
//! Needs `dnsmasq` (package dnsmasq-base): without it the test says why and returns, except
//! under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // the test starts dnsmasq
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use logward_agent::enrich::dnsbl::{Answer, Settings, Skip};
use logward_agent::enrich::Dnsbl;

#[path = "support/dnsmasq.rs"]
mod dnsmasq;
use dnsmasq::dnsmasq;

fn settings(ns: SocketAddr, zones: &[&str]) -> Settings {
    Settings {
        zones: zones.iter().map(|z| (*z).to_owned()).collect(),
        nameservers: vec![ns],
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_error_codes_misses_and_the_cache() {
    let Some(dns) = dnsmasq() else { return };
    let d = Dnsbl::new(settings(dns.addr, &["bl.test", "quota.test"])).unwrap();
    assert!(d.enabled());

    let listed = d.check("81.2.69.142".parse().unwrap()).await;
    // Listed by bl.test; quota.test's 127.255.255.254 is an error code, not a listing.
    assert_eq!(listed, Answer::Checked(vec!["bl.test".to_owned()]));
    assert_eq!(d.stats.error_codes.load(Relaxed), 1);
    assert_eq!(d.stats.queries.load(Relaxed), 2);

    let v6 = d.check("2a00:1450::1".parse().unwrap()).await;
    assert_eq!(v6, Answer::Checked(vec!["bl.test".to_owned()]));

    let clean = d.check("89.160.20.112".parse().unwrap()).await;
    assert_eq!(clean, Answer::Checked(vec![]));
    assert_eq!(d.stats.errors.load(Relaxed), 0);

    // Asked again: from the cache, no query.
    let before = d.stats.queries.load(Relaxed);
    assert_eq!(
        d.check("81.2.69.142".parse().unwrap()).await,
        Answer::Checked(vec!["bl.test".to_owned()])
    );
    assert_eq!(d.stats.queries.load(Relaxed), before);
    assert_eq!(d.stats.cache_hits.load(Relaxed), 1);

    // Private addresses are never asked about.
    assert_eq!(
        d.check("10.0.0.1".parse().unwrap()).await,
        Answer::Skipped(Skip::NotPublic)
    );
    assert_eq!(d.stats.queries.load(Relaxed), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_one_timeout_and_is_not_cached() {
    // A UDP socket that reads queries and drops them.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let mut s = settings(addr, &["a.test", "b.test", "c.test"]);
    s.timeout = Duration::from_millis(300);
    let d = Dnsbl::new(s).unwrap();
    let t = Instant::now();
    let a = d.check("81.2.69.142".parse().unwrap()).await;
    let took = t.elapsed();
    // Nothing is known, which is not "not listed".
    assert_eq!(a, Answer::Skipped(Skip::Unanswered));
    // Three zones in parallel: about one timeout, not three.
    assert!(took < Duration::from_millis(800), "{took:?}");
    assert!(d.stats.timeouts.load(Relaxed) >= 1, "{:?}", d.stats);
    // Not cached: the next login asks again.
    let q = d.stats.queries.load(Relaxed);
    d.check("81.2.69.142".parse().unwrap()).await;
    assert_eq!(d.stats.queries.load(Relaxed), q + 3);
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_skips_rather_than_waits_and_no_zone_means_off() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut s = settings(silent.local_addr().unwrap(), &["a.test"]);
    s.per_second = 2;
    s.timeout = Duration::from_millis(50);
    let d = Dnsbl::new(s).unwrap();
    let mut skipped = 0;
    for i in 1..=5u8 {
        let ip = std::net::IpAddr::from([81, 2, 69, i]);
        if d.check(ip).await == Answer::Skipped(Skip::Limited) {
            skipped += 1;
        }
    }
    assert_eq!(skipped, 3);
    assert_eq!(d.stats.limited.load(Relaxed), 3);

    let off = Dnsbl::new(Settings::default()).unwrap();
    assert!(!off.enabled());
    assert_eq!(
        off.check("81.2.69.142".parse().unwrap()).await,
        Answer::Skipped(Skip::Disabled)
    );
}
