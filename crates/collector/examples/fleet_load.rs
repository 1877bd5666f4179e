//! Fleet simulation load generator (bench/fleet.sh runs it): AGENTS agents enrolled for real
//! (a one-time token each from the collector's configured store, then `POST /v1/enroll`, so
//! each has its own secret) send signed, gzipped batches of sshd failures and successes for
//! a bounded time, over HTTP (`POST /v1/events`) or NATS JetStream (`logward.events.<agent>`,
//! as `transport: nats` agents publish), one batch in flight per agent like the real agent.
//!
//! Measured, printed as one JSON line:
//! - events stored end to end: the store's count when sending stops, over the sending time,
//!   then how long the backlog took to drain (NATS) and whether every accepted event arrived;
//! - append → stored latency per batch: its send time against the first poll of the store
//!   (every POLL_MS) that shows the agent's `last_seq` past the batch (commit visible);
//! - fleet-alert latency: PROBES addresses fail on 3 distinct agents each; from the third
//!   host's batch sent to the ban visible at `GET /v1/decisions`;
//! - CPU per process (utime+stime from /proc) over the sending time: the pids passed as
//!   `name=pid`, PostgreSQL backends of `--pg-db`, and this generator.
//!
//! `fleet_load --config C --collector URL [--nats URL] [--seconds 20] [--agents 200]
//!  [--batch 250] [--pg-db NAME] [--pid name=pid]...`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logward_collector::{config, create_token, open_store, random_hex};
use logward_core::clock::unix_now;
use logward_core::json::write_event;
use logward_core::nats as lnats;
use logward_core::{wire, Action, Dataset, Event, Outcome};

const POLL_MS: u64 = 25;
const PROBES: usize = 3;
/// Events per second of bodies built before the clock starts (the agents' JSON and gzip
/// work is not the collector's; a real fleet does it on other machines).
const PREBUILT_RATE: usize = 120_000;

struct Args {
    config: PathBuf,
    collector: String,
    nats: Option<String>,
    seconds: u64,
    agents: usize,
    batch: usize,
    pg_db: Option<String>,
    pids: Vec<(String, u32)>,
}

fn args() -> Args {
    let mut a = Args {
        config: PathBuf::new(),
        collector: String::new(),
        nats: None,
        seconds: 20,
        agents: 200,
        batch: 250,
        pg_db: None,
        pids: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("a value after each flag");
        match k.as_str() {
            "--config" => a.config = v.into(),
            "--collector" => a.collector = v,
            "--nats" => a.nats = Some(v),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--agents" => a.agents = v.parse().unwrap(),
            "--batch" => a.batch = v.parse().unwrap(),
            "--pg-db" => a.pg_db = Some(v),
            "--pid" => {
                let (n, p) = v.split_once('=').expect("--pid name=pid");
                a.pids.push((n.to_owned(), p.parse().unwrap()));
            }
            _ => panic!("unknown flag {k}"),
        }
    }
    a
}

/// Agent `a`'s event `seq`: mostly password failures from addresses of its own (no address
/// in two agents' background, so only the probes make fleet alerts), one in ten a login.
fn event(a: usize, seq: u64, now: i64, probe: Option<&str>) -> Event<'static> {
    let ok = probe.is_none() && seq % 10 == 0;
    let mut e = Event::new(
        Dataset::Sshd,
        Action::UserLogin,
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    );
    e.timestamp = Some(logward_core::Timestamp {
        unix: now,
        nanos: 0,
        offset: 0,
    });
    let ip = probe.map_or_else(
        || format!("10.{}.{}.{}", a % 250, (seq / 250) % 250, 1 + seq % 250),
        str::to_owned,
    );
    let user = ["root", "admin", "deploy", "git", "oracle", "ubuntu"][(seq % 6) as usize];
    let port = 1024 + (seq % 60000) as u16;
    let msg = if ok {
        format!("Accepted publickey for {user} from {ip} port {port} ssh2")
    } else {
        e.reason = Some("bad-password");
        format!("Failed password for {user} from {ip} port {port} ssh2")
    };
    e.set_source(ip.into(), Some(port));
    e.user_name = Some(user.into());
    e.process_name = Some("sshd".into());
    e.process_pid = Some(1000 + (seq % 30000) as u32);
    e.message = Some(msg.into());
    e.into_owned()
}

fn body(a: usize, first: u64, n: usize, probe: Option<&str>) -> Vec<u8> {
    let now = unix_now();
    let mut out = Vec::with_capacity(n * 400);
    for k in 0..n as u64 {
        let seq = first + k;
        out.extend_from_slice(format!("{{\"seq\":{seq},\"event\":").as_bytes());
        // The probe is the batch's first event.
        write_event(&mut out, &event(a, seq, now, probe.filter(|_| k == 0)));
        out.extend_from_slice(b"}\n");
    }
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(&out).unwrap();
    w.finish().unwrap()
}

/// utime + stime of a process, in clock ticks (0 once it is gone).
fn ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
}

/// The PostgreSQL backends serving database `db` (their title names it).
fn pg_backends(db: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("postgres: ") && cmd.split_whitespace().any(|w| w == db) {
            out.push(pid);
        }
    }
    out
}

struct Cpu {
    named: Vec<(String, u64)>,
    pg: BTreeMap<u32, u64>,
    me: u64,
}

fn cpu(a: &Args) -> Cpu {
    Cpu {
        named: a.pids.iter().map(|(n, p)| (n.clone(), ticks(*p))).collect(),
        pg: a
            .pg_db
            .as_deref()
            .map(pg_backends)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p, ticks(p)))
            .collect(),
        me: ticks(std::process::id()),
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[derive(Clone)]
struct Cred {
    id: String,
    secret: String,
}

enum Link {
    Http(reqwest::Client, String),
    Nats(async_nats::jetstream::Context),
}

impl Link {
    /// Sends one batch and waits for its answer (HTTP: stored; NATS: in the stream).
    async fn send(&self, c: &Cred, body: Vec<u8>, first: u64, last: u64) -> Result<(), String> {
        let ts = unix_now();
        let nonce = random_hex(16);
        let digest = wire::body_digest(&body);
        let sig = wire::sign_digest(
            c.secret.as_bytes(),
            "POST",
            "/v1/events",
            ts,
            &nonce,
            &digest,
        );
        match self {
            Link::Http(client, base) => {
                let r = client
                    .post(format!("{base}/v1/events"))
                    .header(wire::HEADER_AGENT, &c.id)
                    .header(wire::HEADER_TIMESTAMP, ts.to_string())
                    .header(wire::HEADER_NONCE, nonce)
                    .header(wire::HEADER_SIGNATURE, sig)
                    .header(wire::HEADER_CONTENT_SHA256, digest)
                    .header("content-encoding", "gzip")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let s = r.status();
                let text = r.text().await.unwrap_or_default();
                if s.is_success() {
                    Ok(())
                } else {
                    Err(format!("{s}: {text}"))
                }
            }
            Link::Nats(js) => {
                let mut h = async_nats::HeaderMap::new();
                h.insert(wire::HEADER_AGENT, c.id.as_str());
                h.insert(wire::HEADER_TIMESTAMP, ts.to_string().as_str());
                h.insert(wire::HEADER_NONCE, nonce.as_str());
                h.insert(wire::HEADER_SIGNATURE, sig.as_str());
                h.insert(wire::HEADER_CONTENT_SHA256, digest.as_str());
                h.insert(lnats::HEADER_ENCODING, "gzip");
                h.insert(lnats::MSG_ID, lnats::msg_id(&c.id, first, last).as_str());
                js.publish_with_headers(lnats::subject(&c.id), h, body.into())
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }
}

/// The fleet ban targets visible at `GET /v1/decisions`, asked as agent `c`.
async fn decisions(client: &reqwest::Client, base: &str, c: &Cred) -> HashSet<String> {
    let ts = unix_now();
    let nonce = random_hex(16);
    let sig = wire::sign(c.secret.as_bytes(), "GET", "/v1/decisions", ts, &nonce, b"");
    let r = client
        .get(format!("{base}/v1/decisions"))
        .header(wire::HEADER_AGENT, &c.id)
        .header(wire::HEADER_TIMESTAMP, ts.to_string())
        .header(wire::HEADER_NONCE, nonce)
        .header(wire::HEADER_SIGNATURE, sig)
        .send()
        .await;
    let Ok(r) = r else {
        return HashSet::new();
    };
    let v: serde_json::Value =
        serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
    v["decisions"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|d| d["target"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Per agent: (last seq, send time) of each batch not yet seen stored.
type Sent = Arc<Mutex<Vec<Vec<(u64, Instant)>>>>;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let cfg = config::load(&a.config).unwrap_or_else(|e| panic!("{e:?}"));
    let client = reqwest::Client::new();
    let base = a.collector.clone();

    // Enrolment: one token each, from the store the collector uses, then the real API.
    let mut creds = Vec::new();
    for i in 0..a.agents {
        let c2 = cfg.clone();
        let token = tokio::task::spawn_blocking(move || create_token(&c2, unix_now(), 600))
            .await
            .unwrap()
            .unwrap();
        let r = client
            .post(format!("{base}/v1/enroll"))
            .body(format!(
                "{{\"token\":\"{token}\",\"host\":\"fleet-{i:03}\"}}"
            ))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        creds.push(Cred {
            id: v["agent_id"].as_str().expect("enrolled").to_owned(),
            secret: v["secret"].as_str().unwrap().to_owned(),
        });
    }
    let ids: Vec<String> = creds.iter().map(|c| c.id.clone()).collect();

    let link = Arc::new(match &a.nats {
        Some(url) => {
            let c = async_nats::connect(url).await.unwrap();
            Link::Nats(async_nats::jetstream::new(c))
        }
        None => Link::Http(client.clone(), base.clone()),
    });

    let per_agent = (PREBUILT_RATE * a.seconds as usize / a.agents).div_ceil(a.batch);
    let prebuilt: Vec<Vec<Vec<u8>>> = (0..a.agents)
        .map(|i| {
            (0..per_agent)
                .map(|b| body(i, 1 + (b * a.batch) as u64, a.batch, None))
                .collect()
        })
        .collect();

    // Probe p: agents 3p, 3p+1 send a failure from 192.0.2.(p+1) at its time, agent 3p+2
    // a second later (the third host).
    let span = a.seconds as f64;
    let probe_at: Vec<f64> = (0..PROBES)
        .map(|p| span * (p as f64 + 1.0) / (PROBES as f64 + 2.0))
        .collect();
    let third_sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; PROBES]));
    let sent: Sent = Arc::new(Mutex::new(vec![Vec::new(); a.agents]));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));

    let cpu0 = cpu(&a);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for (i, (c, bodies)) in creds.iter().cloned().zip(prebuilt).enumerate() {
        let link = link.clone();
        let sent = sent.clone();
        let third_sent = third_sent.clone();
        let probe_at = probe_at.clone();
        let batch = a.batch;
        tasks.push(tokio::spawn(async move {
            let mut bodies = bodies.into_iter();
            let mut seq = 1u64;
            let mut accepted = 0u64;
            let mut errors = 0u64;
            let mut probe_done = false;
            // Some(was a probe) while the last batch is to be sent again.
            let mut retry: Option<bool> = None;
            while Instant::now() < deadline {
                let p = i / 3;
                let third = if i % 3 == 2 { 1.0 } else { 0.0 };
                let due = retry.unwrap_or_else(|| {
                    p < PROBES
                        && !probe_done
                        && started.elapsed().as_secs_f64() >= probe_at[p] + third
                });
                if due && retry.is_none() {
                    bodies.next(); // replaced by the probe's batch
                }
                let b = if due || retry.is_some() {
                    let ip = due.then(|| format!("192.0.2.{}", p + 1));
                    body(i, seq, batch, ip.as_deref())
                } else {
                    bodies.next().unwrap_or_else(|| body(i, seq, batch, None))
                };
                let last = seq + batch as u64 - 1;
                let t = Instant::now();
                match link.send(&c, b, seq, last).await {
                    Ok(()) => {
                        sent.lock().unwrap()[i].push((last, t));
                        if due {
                            probe_done = true;
                            if i % 3 == 2 {
                                third_sent.lock().unwrap()[p] = Some(t);
                            }
                        }
                        retry = None;
                        accepted += batch as u64;
                        seq = last + 1;
                    }
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("agent {i}: {e}");
                        }
                        retry = Some(due);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            (accepted, errors)
        }));
    }

    // The store poller (its own connection): append → stored per batch, and the count.
    // The count is the sum of the agents' high-water marks: every seq up to one is stored
    // (an agent's batches are stored in order), so it is the number of events stored.
    let stored = Arc::new(AtomicU64::new(0));
    let at_deadline = Arc::new(AtomicU64::new(u64::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (cfg, sent, latencies, ids) =
            (cfg.clone(), sent.clone(), latencies.clone(), ids.clone());
        let (stored, at_deadline, stop) = (stored.clone(), at_deadline.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut s = open_store(&cfg).expect("the store");
            while !stop.load(Relaxed) {
                let t = Instant::now();
                if let Ok(list) = s.agents() {
                    let now = Instant::now();
                    let seen: BTreeMap<&str, i64> =
                        list.iter().map(|g| (g.id.as_str(), g.last_seq)).collect();
                    let mut sent = sent.lock().unwrap();
                    let mut lat = latencies.lock().unwrap();
                    let mut n = 0u64;
                    for (k, id) in ids.iter().enumerate() {
                        let last = seen.get(id.as_str()).copied().unwrap_or(0).max(0) as u64;
                        n += last;
                        sent[k].retain(|(l, t)| {
                            let keep = *l > last;
                            if !keep {
                                lat.push(now.duration_since(*t).as_secs_f64() * 1e3);
                            }
                            keep
                        });
                    }
                    stored.store(n, Relaxed);
                    if t >= deadline && at_deadline.load(Relaxed) == u64::MAX {
                        at_deadline.store(n, Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(POLL_MS));
            }
        })
    };
    // Fleet-alert latency: the decisions polled as agent 0.
    let alerts = {
        let client = client.clone();
        let base = base.clone();
        let c = creds[0].clone();
        let third_sent = third_sent.clone();
        tokio::spawn(async move {
            let mut got: Vec<Option<f64>> = vec![None; PROBES];
            let until = deadline + Duration::from_secs(60);
            while got.iter().any(Option::is_none) && Instant::now() < until {
                let seen = decisions(&client, &base, &c).await;
                let now = Instant::now();
                for (p, g) in got.iter_mut().enumerate() {
                    let sent = third_sent.lock().unwrap()[p];
                    if let (None, Some(t)) = (*g, sent) {
                        if seen.contains(&format!("192.0.2.{}", p + 1)) {
                            *g = Some(now.duration_since(t).as_secs_f64() * 1e3);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            }
            got
        })
    };

    let mut accepted = 0;
    let mut errors = 0;
    for t in tasks {
        let (n, e) = t.await.unwrap();
        accepted += n;
        errors += e;
    }
    let cpu1 = cpu(&a);
    let window = a.seconds as f64;
    while at_deadline.load(Relaxed) == u64::MAX {
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    let stored_at_deadline = at_deadline.load(Relaxed);
    // Drain: wait until every accepted event is stored (NATS holds a backlog), bounded.
    let drain_start = Instant::now();
    while stored.load(Relaxed) < accepted && drain_start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    poller.await.unwrap();
    let stored = stored.load(Relaxed);
    let end_to_end = stored as f64 / (window + drain_s);
    let counted = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            open_store(&cfg)
                .and_then(|mut s| Ok(s.count_fleet_events(None)?))
                .unwrap_or(0)
        })
        .await
        .unwrap()
    };
    let fleet = alerts.await.unwrap();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(f64::total_cmp);
    let hz = 100.0; // USER_HZ on Linux
    let mut cpu_pct = serde_json::Map::new();
    for ((n, t0), (_, t1)) in cpu0.named.iter().zip(&cpu1.named) {
        let v = t1.saturating_sub(*t0) as f64 / hz / window * 100.0;
        *cpu_pct.entry(n.clone()).or_insert(0.0.into()) =
            (cpu_pct.get(n).and_then(|x| x.as_f64()).unwrap_or(0.0) + v).into();
    }
    if a.pg_db.is_some() {
        let pg: u64 = cpu1
            .pg
            .iter()
            .map(|(p, t)| t.saturating_sub(cpu0.pg.get(p).copied().unwrap_or(0)))
            .sum();
        cpu_pct.insert("postgres".into(), (pg as f64 / hz / window * 100.0).into());
    }
    cpu_pct.insert(
        "load".into(),
        (cpu1.me.saturating_sub(cpu0.me) as f64 / hz / window * 100.0).into(),
    );
    let out = serde_json::json!({
        "transport": if a.nats.is_some() { "nats" } else { "http" },
        "agents": a.agents,
        "batch": a.batch,
        "seconds": window,
        "accepted": accepted,
        "send_errors": errors,
        "stored_at_deadline": stored_at_deadline,
        "stored_per_s": stored_at_deadline as f64 / window,
        "accepted_per_s": accepted as f64 / window,
        "drain_s": drain_s,
        "stored": stored,
        "counted_in_store": counted,
        "lost": accepted.saturating_sub(counted),
        "end_to_end_per_s": end_to_end,
        "stored_latency_ms": {"p50": pct(&lat, 0.5), "p99": pct(&lat, 0.99), "batches": lat.len()},
        "fleet_alert_ms": fleet,
        "cpu_pct_of_one_core": cpu_pct,
    });
    println!("{out}");
}
