//! Nanoseconds a query for the DNS heuristics (docs/BENCHMARKS.md, DNS):
//!
//! ```sh
//! cargo build --release -p logward-engine --example dns_heuristics_bench
//! taskset -c 0 target/release/examples/dns_heuristics_bench [QUERIES]
//! ```
//!
//! The queries: well-known domains with common subdomains (most of the traffic, popular ones
//! more often), random
//! 12-letter DGA-like domains, and a dnscat2-like tunnel (hex subdomains, TXT), from 1000
//! clients (and once from 50), one second of clock every 10 000 queries. Each part runs five times; the median
//! of its CPU time (the thread's own, from /proc/thread-self/schedstat, so other processes
//! on the core do not count) is printed.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use logward_core::Timestamp;
use logward_engine::dns::{dga, ngram::Model, registered_domain, Heuristics, NewDomainSettings};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: enough to vary names, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn queries(n: usize, clients: u64) -> Vec<(i64, IpAddr, String, &'static str)> {
    let benign: Vec<&str> = include_str!("../tests/data/benign_domains.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let subs = [
        "www", "api", "cdn", "mail", "static", "img", "login", "m", "", "assets",
    ];
    let mut r = Rng(0x5EED);
    (0..n)
        .map(|i| {
            let c = r.next() % clients;
            let client = IpAddr::from([10, 0, (c / 250) as u8, (c % 250) as u8]);
            let roll = r.next() % 100;
            let (name, qtype) = if roll < 90 {
                // Popular domains far more often than the rest (u² skew).
                let u = (r.next() % 1_000_000) as f64 / 1e6;
                let d = benign[(u * u * benign.len() as f64) as usize];
                let s = subs[(r.next() % subs.len() as u64) as usize];
                let name = if s.is_empty() {
                    d.to_owned()
                } else {
                    format!("{s}.{d}")
                };
                (name, if roll < 60 { "A" } else { "AAAA" })
            } else if roll < 95 {
                let l: String = (0..12)
                    .map(|_| char::from(b'a' + (r.next() % 26) as u8))
                    .collect();
                (format!("{l}.com"), "A")
            } else {
                (format!("{:016x}.dnsc.tunnel.example", r.next()), "TXT")
            };
            ((i / 10_000) as i64, client, name, qtype)
        })
        .collect()
}

fn median_ns(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Nanoseconds this thread has run on a CPU (Linux's schedstat), so that other processes
/// sharing the core do not count; the wall clock where it cannot be read.
fn cpu_ns(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or_else(|| wall.elapsed().as_nanos() as f64)
}

fn time(n: usize, mut f: impl FnMut()) -> f64 {
    let wall = Instant::now();
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = cpu_ns(wall);
            f();
            (cpu_ns(wall) - t) / n as f64
        })
        .collect();
    median_ns(&mut runs)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let qs = queries(n, 1000);
    let at = |unix| Timestamp {
        unix,
        nanos: 0,
        offset: 0,
    };
    let model = Model::bundled();
    let rd = time(n, || {
        for (_, _, name, _) in &qs {
            black_box(registered_domain(black_box(name)));
        }
    });
    let dg = time(n, || {
        for (_, _, name, _) in &qs {
            if let Some(base) = registered_domain(name) {
                let label = base.split('.').next().unwrap_or(base);
                black_box(dga::score(&dga::features(&model, label)));
            }
        }
    });
    let run = |settings: logward_engine::dns::Settings| {
        time(n, || {
            let mut h = Heuristics::new(settings.clone());
            for (t, c, name, qt) in &qs {
                black_box(h.check(at(*t), *c, name, qt));
            }
        })
    };
    let dga_only = run(logward_engine::dns::Settings {
        tunnel: None,
        ..Default::default()
    });
    let tunnel_only = run(logward_engine::dns::Settings {
        dga: logward_engine::dns::DgaSettings {
            enabled: false,
            threshold: 1.0,
        },
        ..Default::default()
    });
    let tunnel_big = run(logward_engine::dns::Settings {
        dga: logward_engine::dns::DgaSettings {
            enabled: false,
            threshold: 1.0,
        },
        tunnel: Some(logward_engine::dns::TunnelSettings {
            tracked: 1 << 20,
            ..Default::default()
        }),
        ..Default::default()
    });
    let few = queries(n, 50);
    let default_few = time(n, || {
        let mut h = Heuristics::new(Default::default());
        for (t, c, name, qt) in &few {
            black_box(h.check(at(*t), *c, name, qt));
        }
    });
    let default = time(n, || {
        let mut h = Heuristics::new(Default::default());
        for (t, c, name, qt) in &qs {
            black_box(h.check(at(*t), *c, name, qt));
        }
    });
    let all = time(n, || {
        let mut h = Heuristics::new(logward_engine::dns::Settings {
            new_domains: Some(NewDomainSettings {
                learn: 0,
                ..Default::default()
            }),
            ..Default::default()
        });
        for (t, c, name, qt) in &qs {
            black_box(h.check(at(*t), *c, name, qt));
        }
    });
    println!("queries {n} (90 % well-known, 5 % DGA-like, 5 % tunnel), CPU time, median of 5 runs");
    println!("registered domain (psl)            {rd:7.0} ns/query");
    println!("DGA features + score               {dg:7.0} ns/query");
    println!("check(), DGA only                  {dga_only:7.0} ns/query");
    println!("check(), tunnel only               {tunnel_only:7.0} ns/query");
    println!("check(), tunnel only, 1 M tracked  {tunnel_big:7.0} ns/query");
    println!(
        "check(), defaults (DGA + tunnel)   {default:7.0} ns/query  {:.2} M queries/s",
        1e3 / default
    );
    println!(
        "check(), defaults, 50 clients      {default_few:7.0} ns/query  {:.2} M queries/s",
        1e3 / default_few
    );
    println!(
        "check(), + newly seen domains      {all:7.0} ns/query  {:.2} M queries/s",
        1e3 / all
    );
}
