//! The collector store's raw ingest rate on each backend: groups of requests as the
//! collector's store thread makes them (5 000 items: 10 agents' requests of 500 events),
//! stored with `ingest_group` for a bounded time, no HTTP or JSON parsing (bench/store.sh).
//!
//!     cargo run --release -p logward-store --example ingest_rate -- SECONDS [POSTGRES_URL]
//!
//! Prints one line per backend: events, seconds, events/s, and the p50/p99 time of one
//! group's transaction. SQLite runs in a temporary directory; PostgreSQL in the database of
//! the URL given (a scratch database: the example's agents and events are left in it).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use logward_store::{
    CollectorStore, FleetEffects, FleetEvent, FleetItem, IngestRequest, PgStore, SqliteStore,
};

const AGENTS: usize = 10;
const PER_REQUEST: usize = 500;

/// One failed SSH login as the agent forwards it (≈ 450 bytes of JSON, like the load test's).
fn event(seq: u64) -> FleetEvent {
    let ip = format!(
        "10.{}.{}.{}",
        (seq >> 16) & 255,
        (seq >> 8) & 255,
        seq & 255
    );
    let user = format!("user{}", seq % 97);
    let t = 1_796_612_400 + i64::try_from(seq / 100).unwrap_or(0);
    FleetEvent {
        time: t,
        host: Some("web01".into()),
        action: "user-login".into(),
        outcome: "failure".into(),
        source_ip: Some(ip.clone()),
        user: Some(user.clone()),
        json: format!(
            r#"{{"@timestamp":"{t}","event":{{"kind":"event","category":["authentication"],"action":"user-login","outcome":"failure","module":"sshd","dataset":"sshd.auth"}},"host":{{"name":"web01"}},"source":{{"ip":"{ip}","port":{port}}},"user":{{"name":"{user}"}},"process":{{"name":"sshd","pid":{pid}}},"message":"Failed password for invalid user {user} from {ip} port {port} ssh2","log":{{"file":{{"path":"/var/log/auth.log"}}}}}}"#,
            port = 40_000 + seq % 20_000,
            pid = 1000 + seq % 5000,
        ),
    }
}

fn run(name: &str, store: &mut dyn CollectorStore, secs: f64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let ids: Vec<String> = (0..AGENTS).map(|a| format!("rate{a}")).collect();
    for id in &ids {
        if let Err(e) = store.register_shared_agent(id, now) {
            eprintln!("{name}: {e}");
            return;
        }
    }
    let start_seq = ids
        .iter()
        .filter_map(|id| store.agent(id).ok().flatten())
        .map(|a| a.last_seq)
        .max()
        .unwrap_or(0);
    let mut seq = u64::try_from(start_seq).unwrap_or(0);
    let (mut stored, mut times) = (0u64, Vec::new());
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        // Each agent's request carries its next PER_REQUEST sequence numbers.
        let batches: Vec<Vec<FleetItem>> = (0..AGENTS)
            .map(|_| {
                (0..PER_REQUEST)
                    .map(|k| FleetItem::Event {
                        seq: i64::try_from(seq + 1 + k as u64).unwrap_or(i64::MAX),
                        event: event(seq + k as u64),
                    })
                    .collect()
            })
            .collect();
        seq += PER_REQUEST as u64;
        let reqs: Vec<IngestRequest<'_>> = ids
            .iter()
            .zip(&batches)
            .map(|(id, items)| IngestRequest {
                agent_id: id,
                now,
                items,
            })
            .collect();
        let g = Instant::now();
        match store.ingest_group(&reqs, &mut |_, _, _| Ok(FleetEffects::default())) {
            Ok(c) => stored += c.iter().map(|c| c.events).sum::<u64>(),
            Err(e) => {
                eprintln!("{name}: {e}");
                return;
            }
        }
        times.push(g.elapsed());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            * 1e3
    };
    println!(
        "{name}: {stored} events in {elapsed:.2} s, {:.0} events/s \
         ({AGENTS} requests of {PER_REQUEST} per transaction; transaction p50 {:.1} ms, \
         p99 {:.1} ms)",
        stored as f64 / elapsed,
        pct(0.5),
        pct(0.99),
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(Ok(secs)) = args.first().map(|s| s.parse::<f64>()) else {
        eprintln!("usage: ingest_rate SECONDS [POSTGRES_URL]");
        return ExitCode::from(2);
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    match SqliteStore::open_dir(dir.path()) {
        Ok(mut s) => run("SQLite", &mut s, secs),
        Err(e) => eprintln!("SQLite: {e}"),
    }
    if let Some(url) = args.get(1) {
        match PgStore::connect(url, None) {
            Ok(mut s) => run("PostgreSQL", &mut s, secs),
            Err(e) => eprintln!("PostgreSQL: {e}"),
        }
    }
    ExitCode::SUCCESS
}
