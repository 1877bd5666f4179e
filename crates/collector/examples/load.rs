//! Load generator: the collector on loopback, N enrolled agents sending signed, gzipped
//! NDJSON batches concurrently for a bounded time; prints events/s and request latency
//! percentiles, then the raw SQLite rate of storing the same batches without HTTP.
//!
//! `cargo run --release -p logward-collector --example load -- [SECONDS] [AGENTS] [BATCH]`
//! (defaults 10, 20, 500). bench/collector.sh runs it.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::time::{Duration, Instant};

use logward_collector::config::{Config, Limits};
use logward_collector::store_thread::GROUP_ITEMS;
use logward_collector::{create_token, random_hex, start};
use logward_core::clock::unix_now;
use logward_core::json::write_event;
use logward_core::{wire, Action, Dataset, Event, Outcome};
use logward_store::{
    CollectorStore as _, FleetEffects, FleetEvent, FleetItem, IngestRequest, SqliteStore,
};

/// Events per second of request bodies built ahead of the run.
const PREBUILT_RATE: usize = 150_000;

fn event(i: u64) -> Event<'static> {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.timestamp = Some(logward_core::Timestamp {
        unix: 1_795_300_000 + i as i64,
        nanos: 0,
        offset: 0,
    });
    e.reason = Some("bad-password");
    let ip = format!("203.0.{}.{}", (i / 250) % 250, i % 250);
    e.set_source(ip.into(), Some(40000 + (i % 20000) as u16));
    e.user_name = Some(format!("user{}", i % 97).into());
    e.process_name = Some("sshd".into());
    e.process_pid = Some(1000 + (i % 5000) as u32);
    e.message = Some(
        format!(
            "Failed password for user{} from 203.0.0.1 port 4 ssh2",
            i % 97
        )
        .into(),
    );
    e.into_owned()
}

fn batch(first_seq: u64, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 400);
    for k in 0..n as u64 {
        let seq = first_seq + k;
        out.extend_from_slice(format!("{{\"seq\":{seq},\"event\":").as_bytes());
        write_event(&mut out, &event(seq));
        out.extend_from_slice(b"}\n");
    }
    out
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(b).unwrap();
    w.finish().unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let seconds = args.first().copied().unwrap_or(10);
    let agents = args.get(1).copied().unwrap_or(20) as usize;
    let batch_n = args.get(2).copied().unwrap_or(500) as usize;
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().to_path_buf(),
        // Every agent sends from 127.0.0.1 here; a real fleet comes from many addresses.
        limits: Limits {
            requests_per_second: 100_000,
            unverified_per_address: 100_000,
            unverified_bodies: 100_000,
            enroll_per_minute: 100_000,
            enroll_total_per_minute: 100_000,
            ..Limits::default()
        },
        ..Config::default()
    };
    let run = start(config).await.unwrap();
    let base = format!("http://{}", run.addr);
    let client = reqwest::Client::new();
    let mut creds = Vec::new();
    for _ in 0..agents {
        let token = create_token(dir.path(), unix_now(), 600).unwrap();
        let r = client
            .post(format!("{base}/v1/enroll"))
            .body(format!("{{\"token\":\"{token}\",\"host\":\"load\"}}"))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        creds.push((
            v["agent_id"].as_str().unwrap().to_owned(),
            v["secret"].as_str().unwrap().to_owned(),
        ));
    }
    // The bodies are built before the clock starts, so the server under test does not share
    // this machine's two cores with the agents' JSON and gzip work (on a real fleet they run
    // elsewhere). Enough for PREBUILT_RATE events/s; an agent that runs out builds more.
    let per_agent = (PREBUILT_RATE * seconds as usize / agents).div_ceil(batch_n);
    let bodies: Vec<Vec<Vec<u8>>> = (0..agents)
        .map(|_| {
            (0..per_agent)
                .map(|b| gz(&batch(1 + (b * batch_n) as u64, batch_n)))
                .collect()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for ((id, secret), bodies) in creds.into_iter().zip(bodies) {
        let client = client.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut seq = 1u64;
            let mut lat = Vec::new();
            let mut accepted = 0u64;
            let mut prebuilt = bodies.into_iter();
            while Instant::now() < deadline {
                let body = prebuilt.next().unwrap_or_else(|| gz(&batch(seq, batch_n)));
                seq += batch_n as u64;
                let ts = unix_now();
                let nonce = random_hex(16);
                let sig = wire::sign(secret.as_bytes(), "POST", "/v1/events", ts, &nonce, &body);
                let t0 = Instant::now();
                let r = client
                    .post(format!("{base}/v1/events"))
                    .header(wire::HEADER_AGENT, &id)
                    .header(wire::HEADER_TIMESTAMP, ts.to_string())
                    .header(wire::HEADER_NONCE, nonce)
                    .header(wire::HEADER_SIGNATURE, sig)
                    .header("content-encoding", "gzip")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let text = r.text().await.unwrap();
                lat.push(t0.elapsed());
                assert!(status.is_success(), "{status}: {text}");
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                accepted += v["accepted"].as_u64().unwrap();
            }
            (accepted, lat)
        }));
    }
    let mut total = 0;
    let mut lat = Vec::new();
    for t in tasks {
        let (a, l) = t.await.unwrap();
        total += a;
        lat.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let busy = run.state.metrics.store_busy().as_secs_f64();
    lat.sort();
    run.stop().await;
    println!(
        "collector: {agents} agents, {batch_n} events/request, gzip, {:.1} s: {total} events, \
         {:.0} events/s, {} requests, latency p50 {:.1} ms, p99 {:.1} ms, store thread busy \
         {:.0}%",
        elapsed,
        total as f64 / elapsed,
        lat.len(),
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        busy / elapsed * 100.0,
    );

    // The same events stored straight into SQLite, same batch size, no HTTP/JSON parsing.
    let raw_dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(raw_dir.path()).unwrap();
    store.register_shared_agent("raw", unix_now()).unwrap();
    let n_batches = (total as usize / batch_n).clamp(1, 1200);
    let batches: Vec<Vec<FleetItem>> = (0..n_batches)
        .map(|b| {
            (0..batch_n as u64)
                .map(|k| {
                    let seq = (b * batch_n) as u64 + k + 1;
                    let e = event(seq);
                    let mut json = Vec::new();
                    write_event(&mut json, &e);
                    FleetItem::Event {
                        seq: seq as i64,
                        event: FleetEvent {
                            time: e.timestamp.map_or(0, |t| t.unix),
                            host: Some("load".into()),
                            action: e.action().as_str().into(),
                            outcome: e.outcome.as_str().into(),
                            source_ip: e.source_ip.map(|i| i.to_string()),
                            user: e.user_name.as_deref().map(str::to_owned),
                            json: String::from_utf8(json).unwrap(),
                        },
                    }
                })
                .collect()
        })
        .collect();
    // Grouped as the collector's store thread groups queued requests at most.
    let per_tx = (GROUP_ITEMS / batch_n).max(1);
    let t0 = Instant::now();
    let mut stored = 0;
    for group in batches.chunks(per_tx) {
        let reqs: Vec<IngestRequest<'_>> = group
            .iter()
            .map(|b| IngestRequest {
                agent_id: "raw",
                now: unix_now(),
                items: b,
            })
            .collect();
        let counts = store
            .ingest_group(&reqs, &mut |_, _, _| Ok(FleetEffects::default()))
            .unwrap();
        stored += counts.iter().map(|c| c.events).sum::<u64>();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "raw SQLite batched insert ({}/transaction): {stored} events in {secs:.2} s, \
         {:.0} events/s",
        per_tx * batch_n,
        stored as f64 / secs
    );
}
