//! Alerts per second from the engine into the store's outbox (issue 4's "≥ 50 k/s"), beside
//! the same alerts stored without delivery rows. Run by bench/notify.sh:
//!
//!     cargo run --release -p logward-agent --example outbox_bench -- [ALERTS] [NOTIFIERS]
//!
//! Each line is an sshd `Accepted publickey` for a new user: one `ssh-login` alert each. The
//! pipeline is the daemon's own (decode, rules, batch of 1024, one transaction per batch).

use std::sync::Arc;
use std::time::Instant;

use logward_agent::config::Format;
use logward_agent::pipeline::{Pipeline, Printer};
use logward_agent::sources::{Payload, SourceItem};
use logward_engine::Engine;
use logward_notify::route::Router;
use logward_store::{SqliteStore, Store};

/// Nanoseconds this thread has spent on a CPU (Linux schedstat): unlike the wall clock, not
/// stretched while other processes hold the cores of a shared machine. `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One run: (alerts per wall-clock second, alerts per on-CPU second, outbox rows).
fn run(alerts: usize, notifiers: usize) -> Result<(f64, Option<f64>, u64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = SqliteStore::open_dir(dir.path()).map_err(|e| e.to_string())?;
    let engine = Engine::new(logward_engine::default_program());
    let mut p = Pipeline::new(
        engine,
        store,
        false,
        Printer::new(Format::None, Box::new(std::io::sink())),
    );
    if notifiers > 0 {
        let mut yaml = String::from("notifiers:\n");
        for i in 0..notifiers {
            yaml.push_str(&format!(
                "  n{i}: {{type: webhook, url: 'http://127.0.0.1:9/x'}}\n"
            ));
        }
        let cfg: logward_notify::NotifyConfig =
            serde_saphyr::from_str(&yaml).map_err(|e| e.to_string())?;
        p.set_router(Router::new(&cfg), Arc::new(tokio::sync::Notify::new()));
    }
    let source: Arc<str> = Arc::from("bench");
    let cpu = thread_cpu_ns();
    let t = Instant::now();
    for i in 0..alerts {
        let line = format!(
            "Jan 10 10:{:02}:{:02} web sshd[{}]: Accepted publickey for u{i} from 10.{}.{}.{} port 40000 ssh2",
            i / 60 % 60,
            i % 60,
            1000 + i % 30000,
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
        p.push(SourceItem {
            source: Arc::clone(&source),
            payload: Payload::Line(line),
            checkpoint: None,
        });
        if i % 1024 == 1023 {
            p.commit().map_err(|e| e.to_string())?;
        }
    }
    p.commit().map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let cpu_secs = thread_cpu_ns()
        .zip(cpu)
        .map(|(end, start)| end.saturating_sub(start) as f64 / 1e9);
    let n = p.stats().alerts as f64;
    let rows = p
        .store()
        .outbox_counts()
        .map_err(|e| e.to_string())?
        .pending;
    Ok((n / secs, cpu_secs.map(|c| n / c), rows))
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let alerts = args.first().copied().unwrap_or(200_000);
    let notifiers = args.get(1).copied().unwrap_or(1);
    match (run(alerts, 0), run(alerts, notifiers)) {
        (Ok((base, base_cpu, _)), Ok((with, with_cpu, rows))) => {
            let cpu = |x: Option<f64>| x.map_or("null".to_owned(), |v| format!("{v:.0}"));
            println!(
                "{{\"alerts\": {alerts}, \"notifiers\": {notifiers}, \"stored_only_per_s\": {base:.0}, \"with_outbox_per_s\": {with:.0}, \"stored_only_per_cpu_s\": {}, \"with_outbox_per_cpu_s\": {}, \"outbox_rows\": {rows}}}",
                cpu(base_cpu),
                cpu(with_cpu)
            );
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("outbox_bench: {e}");
            std::process::exit(1);
        }
    }
}
