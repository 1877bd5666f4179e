//! The DNS check stage's throughput on one thread (bench/dns_check.sh): `dns-query` events
//! through the trusted filters, the (client, domain) dedup, a threat list (bench/gen_dns.py's,
//! matched by name and every parent) and the heuristics — the agent's `DnsCheck::check`, as
//! the pipeline calls it — in two mixes:
//!
//! - `all-checked`: every query a new (client, name) pair from an untrusted client: the
//!   worst case, each one through the lists and the heuristics;
//! - `seed-mix`: the seed's shape (7 k queries/s in, 1.5 k/s left after its filters): a fifth
//!   of the queries from trusted clients, and every name asked four times by its client.
//!
//! Beside them, the cost of building the events alone (what every stage's figure includes).
//! Events per second of this thread's CPU time (Linux schedstat: not stretched while other
//! work holds the core), median of PASSES passes.
//!
//!     cargo run --release -p logward-agent --example dns_check_bench -- LIST QUERIES [PASSES]

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use logward_agent::dns_check::trust::{Net, Trust};
use logward_agent::dns_check::{DnsCheck, Settings};
use logward_core::{Action, Dns, Event, Timestamp};
use logward_engine::dns::{Format, ListSet, ListSpec};

/// Nanoseconds this thread has spent on a CPU.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn event<'a>(client: IpAddr, name: &'a str, t: i64) -> Event<'a> {
    let mut e = Event {
        action: Some(Action::DnsQuery),
        source_ip: Some(client),
        timestamp: Some(Timestamp {
            unix: t / 1000,
            nanos: (t % 1000) as u32 * 1_000_000,
            offset: 0,
        }),
        ..Event::default()
    };
    e.dns = Some(Box::new(Dns {
        question_name: Cow::Borrowed(name),
        question_type: Some(Cow::Borrowed("A")),
        ..Dns::default()
    }));
    e
}

/// One query of the stream: its client and its name's index.
struct Q {
    client: IpAddr,
    name: usize,
}

fn stream(names: usize, mix: &str) -> Vec<Q> {
    let client = |i: usize| {
        IpAddr::V4(Ipv4Addr::new(
            10,
            1,
            (i / 250 % 250) as u8,
            (i % 250) as u8 + 1,
        ))
    };
    let trusted = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1));
    let mut out = Vec::with_capacity(names * 4);
    match mix {
        "all-checked" => {
            for n in 0..names {
                out.push(Q {
                    client: client(n % 5000),
                    name: n,
                });
            }
        }
        _ => {
            // Each client asks each of its names four times, a little apart; every fifth
            // query comes from a trusted network.
            for chunk in (0..names).collect::<Vec<_>>().chunks(64) {
                for _ in 0..4 {
                    for &n in chunk {
                        let c = if n % 5 == 0 {
                            trusted
                        } else {
                            client(n % 5000)
                        };
                        out.push(Q { client: c, name: n });
                    }
                }
            }
        }
    }
    out
}

fn settings() -> Settings {
    Settings {
        enabled: true,
        trusted: Trust {
            clients: vec![Net::parse("10.200.0.0/16").unwrap_or_else(|| unreachable!())],
            domains: vec!["corp.example".into(), "in-addr.arpa".into()],
            query_types: vec!["PTR".into()],
        },
        dedup_window: Duration::from_secs(600),
        ..Settings::default()
    }
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(list), Some(queries)) = (args.get(1), args.get(2)) else {
        return Err("usage: dns_check_bench LIST QUERIES [PASSES]".into());
    };
    let passes: usize = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(5);
    let text = std::fs::read_to_string(queries).map_err(|e| format!("{queries}: {e}"))?;
    let names: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let (lists, outcomes) = ListSet::load([ListSpec {
        name: "bench".into(),
        severity: logward_core::Severity::High,
        path: list.into(),
        format: Some(Format::Domains),
    }]);
    for o in &outcomes {
        eprintln!("{o}");
    }
    let entries: usize = lists.lists().map(|(_, d, i)| d + i).sum();
    for mix in ["all-checked", "seed-mix"] {
        let s = stream(names.len(), mix);
        let mut build = Vec::new();
        let mut stage = Vec::new();
        let mut findings = 0u64;
        let mut checked = 0u64;
        for _ in 0..passes {
            // Building the events alone.
            let c0 = thread_cpu_ns();
            let mut sink = 0usize;
            for (i, q) in s.iter().enumerate() {
                let e = event(q.client, names[q.name], i as i64);
                sink += e.dns.as_ref().map_or(0, |d| d.question_name.len());
            }
            std::hint::black_box(sink);
            if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
                build.push(s.len() as f64 / ((b - a) as f64 / 1e9));
            }
            // The stage, fresh each pass (empty dedup and heuristics state).
            let mut check = DnsCheck::new(&settings())?;
            check.set_lists(lists.clone());
            let c0 = thread_cpu_ns();
            for (i, q) in s.iter().enumerate() {
                let mut e = event(q.client, names[q.name], i as i64);
                check.check("bench", &mut e);
                std::hint::black_box(&e);
            }
            if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
                stage.push(s.len() as f64 / ((b - a) as f64 / 1e9));
            }
            let st = check.stats();
            checked = st.checked;
            findings = st.listed + st.tunnel + st.dga + st.new_domain;
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        println!(
            "mix={mix} list_entries={entries} events={} checked={checked} findings={findings} build_events_per_cpu_s={:.0} stage_events_per_cpu_s={:.0} ns_per_event={:.0}",
            s.len(),
            median(&mut build),
            median(&mut stage),
            1e9 / median(&mut stage.clone()).max(1.0),
        );
    }
    Ok(())
}
