//! Fleet simulation load generator (bench/fleet.sh runs it): AGENTS agents enrolled for real
//! (a one-time token each from the collector's configured store, then `POST /v1/enroll`, so
//! each has its own secret) send signed, gzipped batches of sshd failures and successes over
//! HTTP (`POST /v1/events`) or NATS JetStream (`logward.events.<agent>`, as `transport: nats`
//! agents publish), one batch in flight per agent like the real agent. Two phases, one
//! JSON line of results:
//!
//! 1. **throughput** (`--seconds`): every agent sends as fast as it is answered, its batches
//!    built before the clock starts (the agents' JSON and gzip work is not the collector's; a
//!    fleet does it on other machines). Over NATS an answer only means "in the stream", so an
//!    agent also waits while `--window` of its batches are not yet stored: the stream's
//!    backlog stays bounded (a few seconds of work) and the drain after the phase short,
//!    while the consumers always have work. Measured: events stored per second (an exact
//!    count of the store when sending stops, over the time until then), the drain of what
//!    was accepted but not yet stored, and end to end (everything stored, over sending +
//!    drain). Over NATS with PostgreSQL the fleet rules leader counts the stream on a
//!    consumer of its own: how long it took after sending stopped to catch up, and its rate;
//!    the latency phase waits for it (bounded), so the probes are not behind its backlog.
//! 2. **latency** (`--latency-seconds`): a paced offered load well under capacity, `--rate`
//!    events/s over all agents; each agent sends one batch a second (the agent's default
//!    `forward.batch.age`), staggered over the second. Measured per batch: append → stored,
//!    its send time against the first poll of the store (every 10 ms) that shows the agent's
//!    `last_seq` past it; and the fleet-alert latency of `--probes` probes: probe p's address
//!    fails on agents 3p and 3p+1, and a second later on agent 3p+2 (the third host, which
//!    makes `fleet-bruteforce` fire): from that third batch sent to the ban visible at
//!    `GET /v1/decisions` (polled every 10 ms).
//!
//! CPU per phase (utime+stime from /proc, % of one core): the pids passed as `name=pid`, the
//! PostgreSQL backends of `--pg-db` (this generator's two store connections among them, a
//! small part), this generator, and the whole machine (`/proc/stat`, every process: 100 ×
//! cores when the machine is saturated).
//!
//! `fleet_load --config C --collector URL [--nats URL] [--agents 200] [--seconds 10]
//!  [--batch 250] [--window 4] [--latency-seconds 10] [--rate 20000] [--probes 6]
//!  [--pg-db NAME] [--pid name=pid]...`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use logward_collector::{config, open_store, random_hex, sha256_hex, Config};
use logward_core::clock::unix_now;
use logward_core::json::write_event;
use logward_core::nats as lnats;
use logward_core::{wire, Action, Dataset, Event, Outcome};
use serde_json::{json, Value};

const THROUGHPUT: usize = 0;
const LATENCY: usize = 1;
/// Store polls: every 25 ms while the store is saturated (the poll is load too), every 10 ms
/// in the latency phase (its resolution).
const POLL_MS: [u64; 2] = [25, 10];
/// Events per second of bodies built before the throughput phase (above what is stored).
const PREBUILT_RATE: usize = 120_000;
/// How long waiting for a backlog to drain (or a probe's ban) may take, at most.
const DRAIN_LIMIT: Duration = Duration::from_secs(90);
/// The third host's probe batch comes this long after the first two.
const THIRD_AFTER: Duration = Duration::from_secs(1);

struct Args {
    config: PathBuf,
    collector: String,
    nats: Option<String>,
    agents: usize,
    seconds: u64,
    batch: usize,
    window: usize,
    latency_seconds: u64,
    rate: usize,
    probes: usize,
    pg_db: Option<String>,
    pids: Vec<(String, u32)>,
}

fn args() -> Args {
    let mut a = Args {
        config: PathBuf::new(),
        collector: String::new(),
        nats: None,
        agents: 200,
        seconds: 10,
        batch: 250,
        window: 4,
        latency_seconds: 10,
        rate: 20_000,
        probes: 6,
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
            "--agents" => a.agents = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--batch" => a.batch = v.parse().unwrap(),
            "--window" => a.window = v.parse().unwrap(),
            "--latency-seconds" => a.latency_seconds = v.parse().unwrap(),
            "--rate" => a.rate = v.parse().unwrap(),
            "--probes" => a.probes = v.parse().unwrap(),
            "--pg-db" => a.pg_db = Some(v),
            "--pid" => {
                let (n, p) = v.split_once('=').expect("--pid name=pid");
                a.pids.push((n.to_owned(), p.parse().unwrap()));
            }
            _ => panic!("unknown flag {k}"),
        }
    }
    assert!(
        a.agents > 0 && a.batch > 0,
        "--agents and --batch must be > 0"
    );
    assert!(
        a.probes * 3 <= a.agents,
        "--probes needs 3 agents each (--agents {})",
        a.agents
    );
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

/// The gzipped NDJSON body of agent `a`'s events `first..first+n`; a probe's address is in
/// the first event.
fn body(a: usize, first: u64, n: usize, probe: Option<&str>) -> Vec<u8> {
    let now = unix_now();
    let mut out = Vec::with_capacity(n * 400);
    for k in 0..n as u64 {
        let seq = first + k;
        out.extend_from_slice(format!("{{\"seq\":{seq},\"event\":").as_bytes());
        write_event(&mut out, &event(a, seq, now, probe.filter(|_| k == 0)));
        out.extend_from_slice(b"}\n");
    }
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(&out).unwrap();
    w.finish().unwrap()
}

/// Every agent's throughput-phase bodies, built on every core.
fn prebuild(agents: usize, per_agent: usize, batch: usize) -> Vec<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out: Vec<Vec<Vec<u8>>> = vec![Vec::new(); agents];
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(agents.div_ceil(threads)).enumerate() {
            let base = t * agents.div_ceil(threads);
            s.spawn(move || {
                for (k, bodies) in chunk.iter_mut().enumerate() {
                    *bodies = (0..per_agent)
                        .map(|b| body(base + k, 1 + (b * batch) as u64, batch, None))
                        .collect();
                }
            });
        }
    });
    out
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

/// The machine's busy ticks over all cores (`/proc/stat`: everything but idle and iowait).
fn machine_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<u64>() - f.get(3).unwrap_or(&0) - f.get(4).unwrap_or(&0)
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

/// A CPU snapshot: the named processes, PostgreSQL's backends, this process, the machine.
struct Cpu {
    at: Instant,
    named: Vec<(String, u64)>,
    pg: BTreeMap<u32, u64>,
    me: u64,
    machine: u64,
}

fn cpu(a: &Args) -> Cpu {
    Cpu {
        at: Instant::now(),
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
        machine: machine_ticks(),
    }
}

/// % of one core per process between two snapshots.
fn cpu_pct(c0: &Cpu, c1: &Cpu, pg: bool) -> Value {
    let hz = 100.0; // USER_HZ on Linux
    let secs = c1.at.duration_since(c0.at).as_secs_f64();
    let pct = |t: u64| t as f64 / hz / secs * 100.0;
    let mut m = serde_json::Map::new();
    for ((n, t0), (_, t1)) in c0.named.iter().zip(&c1.named) {
        m.insert(n.clone(), pct(t1.saturating_sub(*t0)).into());
    }
    if pg {
        let t: u64 = c1
            .pg
            .iter()
            .map(|(p, t)| t.saturating_sub(c0.pg.get(p).copied().unwrap_or(0)))
            .sum();
        m.insert("postgres".into(), pct(t).into());
    }
    m.insert("load".into(), pct(c1.me.saturating_sub(c0.me)).into());
    m.insert(
        "machine".into(),
        pct(c1.machine.saturating_sub(c0.machine)).into(),
    );
    Value::Object(m)
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
    let v: Value = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
    v["decisions"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|d| d["target"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The fleet rules leader's backlog (PostgreSQL + NATS: it counts the stream on a consumer
/// of its own, after the ingest consumers): messages not yet counted, None before it exists.
async fn rules_backlog(js: &async_nats::jetstream::Context) -> Option<u64> {
    let stream = js.get_stream(lnats::DEFAULT_STREAM).await.ok()?;
    let mut c = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            logward_collector::rules_leader::CONSUMER,
        )
        .await
        .ok()?;
    let i = c.info().await.ok()?;
    Some(i.num_pending + i.num_ack_pending as u64)
}

/// What the agents' tasks and the store poller share.
struct Shared {
    /// Per agent: (last seq, send time, phase) of each batch not yet seen stored.
    sent: Mutex<Vec<Vec<(u64, Instant, usize)>>>,
    /// Append → stored, ms, of each batch, per phase.
    latencies: Mutex<[Vec<f64>; 2]>,
    /// The sum of the agents' `last_seq` at the last poll (their highest seq stored, so an
    /// estimate while batches of one agent may be stored out of order; exact counts come
    /// from the store).
    high_water: AtomicU64,
    poll_ms: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn unseen(&self, i: usize) -> usize {
        self.sent.lock().unwrap()[i].len()
    }
    fn unseen_in(&self, phase: usize) -> usize {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .map(|s| s.iter().filter(|x| x.2 == phase).count())
            .sum()
    }
}

/// One simulated agent.
struct Agent {
    i: usize,
    cred: Cred,
    link: Arc<Link>,
    shared: Arc<Shared>,
    /// Its next seq.
    seq: u64,
    accepted: u64,
    errors: u64,
}

impl Agent {
    /// Sends the batch of `n` events from the agent's next seq (`first`: its body, built
    /// again for each retry) until it is accepted or `until` passes; the send time if it was.
    async fn deliver(
        &mut self,
        mut first: Option<Vec<u8>>,
        n: usize,
        probe: Option<&str>,
        phase: usize,
        until: Instant,
    ) -> Option<Instant> {
        let last = self.seq + n as u64 - 1;
        while Instant::now() < until {
            let b = first
                .take()
                .unwrap_or_else(|| body(self.i, self.seq, n, probe));
            let t = Instant::now();
            match self.link.send(&self.cred, b, self.seq, last).await {
                Ok(()) => {
                    self.shared.sent.lock().unwrap()[self.i].push((last, t, phase));
                    self.accepted += n as u64;
                    self.seq = last + 1;
                    return Some(t);
                }
                Err(e) => {
                    self.errors += 1;
                    if self.errors <= 3 {
                        eprintln!("agent {}: {e}", self.i);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        None
    }
}

/// The store poller (its own connection): append → stored per batch, and `high_water`.
fn poll_store(cfg: Config, ids: Vec<String>, shared: Arc<Shared>) {
    let mut s = open_store(&cfg).expect("the store");
    while !shared.stop.load(Relaxed) {
        if let Ok(list) = s.agents() {
            let now = Instant::now();
            let seen: BTreeMap<&str, i64> =
                list.iter().map(|g| (g.id.as_str(), g.last_seq)).collect();
            let mut sent = shared.sent.lock().unwrap();
            let mut lat = shared.latencies.lock().unwrap();
            let mut n = 0u64;
            for (k, id) in ids.iter().enumerate() {
                let last = seen.get(id.as_str()).copied().unwrap_or(0).max(0) as u64;
                n += last;
                sent[k].retain(|(l, t, phase)| {
                    let keep = *l > last;
                    if !keep {
                        lat[*phase].push(now.duration_since(*t).as_secs_f64() * 1e3);
                    }
                    keep
                });
            }
            shared.high_water.store(n, Relaxed);
        }
        std::thread::sleep(Duration::from_millis(shared.poll_ms.load(Relaxed)));
    }
}

/// A store connection of its own for exact counts of the events stored.
struct Counter(Option<Box<dyn logward_store::CollectorStore>>);

impl Counter {
    /// The number of events stored and the instant the count was taken at.
    async fn count(&mut self) -> (u64, Instant) {
        let mut s = self.0.take().expect("the counter's store");
        let (s, n, t) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let n = s.count_fleet_events(None).unwrap_or(0);
            (s, n, t)
        })
        .await
        .unwrap();
        self.0 = Some(s);
        (n, t)
    }

    /// Waits until `want` events are stored, at most DRAIN_LIMIT: the count and when.
    async fn until(&mut self, want: u64, shared: &Shared) -> (u64, Instant) {
        let start = Instant::now();
        loop {
            // The estimate first: exact counts are not free on a big table.
            if shared.high_water.load(Relaxed) >= want || start.elapsed() >= DRAIN_LIMIT {
                let (n, t) = self.count().await;
                if n >= want || start.elapsed() >= DRAIN_LIMIT {
                    return (n, t);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The agents back from a phase's tasks, with the events they had accepted and the sends
/// that failed in it.
fn join_counts(r: Vec<(Agent, u64, u64)>) -> (Vec<Agent>, u64, u64) {
    let accepted = r.iter().map(|(_, n, _)| n).sum();
    let errors = r.iter().map(|(_, _, e)| e).sum();
    (r.into_iter().map(|(a, _, _)| a).collect(), accepted, errors)
}

/// Phase 1: every agent as fast as it is answered (and its window lets it), until `seconds`.
async fn throughput(
    a: &Args,
    agents: Vec<Agent>,
    shared: &Arc<Shared>,
    counter: &mut Counter,
) -> (Vec<Agent>, Value) {
    let per_agent = (PREBUILT_RATE * a.seconds as usize / a.agents).div_ceil(a.batch);
    let prebuilt = prebuild(a.agents, per_agent, a.batch);
    shared.poll_ms.store(POLL_MS[THROUGHPUT], Relaxed);
    let (n0, _) = counter.count().await;
    let cpu0 = cpu(a);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for (mut ag, bodies) in agents.into_iter().zip(prebuilt) {
        let (batch, window, shared) = (a.batch, a.window, shared.clone());
        tasks.push(tokio::spawn(async move {
            let (accepted0, errors0) = (ag.accepted, ag.errors);
            let mut bodies = bodies.into_iter();
            while Instant::now() < deadline {
                if window > 0 && shared.unseen(ag.i) >= window {
                    tokio::time::sleep(Duration::from_millis(POLL_MS[THROUGHPUT])).await;
                    continue;
                }
                // Prebuilt bodies start at seq 1, in step with the agent's seq.
                let b = bodies.next();
                ag.deliver(b, batch, None, THROUGHPUT, deadline).await;
            }
            let (n, e) = (ag.accepted - accepted0, ag.errors - errors0);
            (ag, n, e)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let cpu1 = cpu(a);
    let (stored, at) = counter.count().await;
    let (agents, accepted, errors) = join_counts(done);
    let sending = at.duration_since(started).as_secs_f64();
    let (all, drained_at) = counter.until(n0 + accepted, shared).await;
    let drain_s = drained_at.saturating_duration_since(at).as_secs_f64();
    let stored = stored - n0;
    let all = all - n0;
    // With a rules leader, the fleet rules count the stream after it is stored: how long
    // they took to catch up (the latency phase starts after, so its probes are not behind).
    let mut rules = json!(null);
    if let Some(Link::Nats(js)) = agents.first().map(|g| &*g.link) {
        let mut backlog = rules_backlog(js).await;
        while backlog.is_some_and(|n| n > 0) && at.elapsed() < DRAIN_LIMIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
            backlog = rules_backlog(js).await;
        }
        if let Some(n) = backlog {
            let s = at.elapsed().as_secs_f64();
            rules = json!({"caught_up": n == 0, "after_sending_s": s,
                "counted_per_s": accepted as f64 / (sending + s)});
        }
    }
    let out = json!({
        "seconds": a.seconds,
        "batch": a.batch,
        "window": a.window,
        "accepted": accepted,
        "accepted_per_s": accepted as f64 / a.seconds as f64,
        "send_errors": errors,
        "stored_when_sending_stopped": stored,
        "stored_per_s": stored as f64 / sending,
        "drain_s": drain_s,
        "drained": all >= accepted,
        "end_to_end_per_s": all as f64 / (sending + drain_s),
        "fleet_rules": rules,
        "cpu_pct_of_one_core": cpu_pct(&cpu0, &cpu1, a.pg_db.is_some()),
    });
    (agents, out)
}

/// Phase 2: `rate` events/s offered, one batch a second per agent, and the probes.
async fn latency(
    a: &Args,
    agents: Vec<Agent>,
    shared: &Arc<Shared>,
    counter: &mut Counter,
    client: &reqwest::Client,
    probe_as: &Cred,
) -> (Vec<Agent>, Value) {
    let per_batch = (a.rate / a.agents).max(1);
    let span = Duration::from_secs(a.latency_seconds);
    // Probe p's first two hosts at its time, spread over the phase; its third a second on.
    let probe_at: Vec<Duration> = (0..a.probes)
        .map(|p| {
            span.saturating_sub(THIRD_AFTER)
                .mul_f64((p as f64 + 0.5) / a.probes as f64)
        })
        .collect();
    let third_sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; a.probes]));
    shared.poll_ms.store(POLL_MS[LATENCY], Relaxed);
    let (n0, _) = counter.count().await;
    let cpu0 = cpu(a);
    let started = Instant::now();
    let end = started + span;
    let alerts = {
        let (client, base, c) = (client.clone(), a.collector.clone(), probe_as.clone());
        let third_sent = third_sent.clone();
        let probes = a.probes;
        tokio::spawn(async move {
            let mut got: Vec<Option<f64>> = vec![None; probes];
            while got.iter().any(Option::is_none) && Instant::now() < end + DRAIN_LIMIT {
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
                tokio::time::sleep(Duration::from_millis(POLL_MS[LATENCY])).await;
            }
            got
        })
    };
    let mut tasks = Vec::new();
    let n_agents = a.agents;
    for mut ag in agents {
        let third_sent = third_sent.clone();
        let probe = (ag.i / 3 < a.probes).then(|| {
            let p = ag.i / 3;
            let third = ag.i % 3 == 2;
            let at = started + probe_at[p] + if third { THIRD_AFTER } else { Duration::ZERO };
            (at, p, third)
        });
        tasks.push(tokio::spawn(async move {
            let (accepted0, errors0) = (ag.accepted, ag.errors);
            let offset = Duration::from_secs(1).mul_f64(ag.i as f64 / n_agents as f64);
            let mut k = 0u32;
            let mut probe = probe;
            loop {
                let next = started + offset + Duration::from_secs(1) * k;
                let (at, is_probe) = match probe {
                    Some((t, _, _)) if t <= next => (t, true),
                    _ => (next, false),
                };
                if at >= end {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                if let (true, Some((_, p, third))) = (is_probe, probe) {
                    let ip = format!("192.0.2.{}", p + 1);
                    let t = ag.deliver(None, 1, Some(&ip), LATENCY, end).await;
                    if third {
                        third_sent.lock().unwrap()[p] = t;
                    }
                    probe = None;
                } else {
                    ag.deliver(None, per_batch, None, LATENCY, end).await;
                    k += 1;
                }
            }
            let (n, e) = (ag.accepted - accepted0, ag.errors - errors0);
            (ag, n, e)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let cpu1 = cpu(a);
    let (agents, accepted, errors) = join_counts(done);
    // Every batch of the phase seen stored (bounded), so none is left out of the figures.
    let wait = Instant::now();
    while shared.unseen_in(LATENCY) > 0 && wait.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(POLL_MS[LATENCY])).await;
    }
    let (stored, _) = counter.count().await;
    let mut lat = std::mem::take(&mut shared.latencies.lock().unwrap()[LATENCY]);
    lat.sort_by(f64::total_cmp);
    let fleet = alerts.await.unwrap();
    let mut seen: Vec<f64> = fleet.iter().flatten().copied().collect();
    seen.sort_by(f64::total_cmp);
    let out = json!({
        "seconds": a.latency_seconds,
        "offered_per_s": per_batch * a.agents,
        "batch": per_batch,
        "accepted": accepted,
        "accepted_per_s": accepted as f64 / a.latency_seconds as f64,
        "send_errors": errors,
        "stored": stored - n0,
        "unseen_batches": shared.unseen_in(LATENCY),
        "stored_latency_ms": {
            "p50": pct(&lat, 0.5), "p99": pct(&lat, 0.99), "max": pct(&lat, 1.0),
            "batches": lat.len(),
        },
        "fleet_alert_ms": fleet,
        "fleet_alert_p50_ms": pct(&seen, 0.5),
        "fleet_alert_max_ms": pct(&seen, 1.0),
        "fleet_alert_missed": fleet.iter().filter(|x| x.is_none()).count(),
        "cpu_pct_of_one_core": cpu_pct(&cpu0, &cpu1, a.pg_db.is_some()),
    });
    (agents, out)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let cfg = config::load(&a.config).unwrap_or_else(|e| panic!("{e:?}"));
    let client = reqwest::Client::new();
    let base = a.collector.clone();

    // Enrolment: one token each, from the store the collector uses, then the real API.
    let (n, c2) = (a.agents, cfg.clone());
    let tokens = tokio::task::spawn_blocking(move || {
        let mut s = open_store(&c2).expect("the store");
        let now = unix_now();
        (0..n)
            .map(|_| {
                let token = random_hex(32);
                s.create_enrol_token(&sha256_hex(token.as_bytes()), now, now + 600)
                    .unwrap();
                token
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // 16 at a time (a burst of 200 new connections gets some closed unanswered), each tried
    // again on a connection error: its token is redeemed only by an answered request.
    let creds: Vec<Cred> = futures_util::stream::iter(tokens.into_iter().enumerate())
        .map(|(i, token)| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let body = format!("{{\"token\":\"{token}\",\"host\":\"fleet-{i:03}\"}}");
                let mut tries = 0;
                let r = loop {
                    match client
                        .post(format!("{base}/v1/enroll"))
                        .body(body.clone())
                        .send()
                        .await
                    {
                        Ok(r) => break r,
                        Err(e) if tries < 5 => {
                            tries += 1;
                            eprintln!("enrol {i}: {e}; again");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("enrol {i}: {e}"),
                    }
                };
                let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                Cred {
                    id: v["agent_id"].as_str().expect("enrolled").to_owned(),
                    secret: v["secret"].as_str().unwrap().to_owned(),
                }
            }
        })
        .buffered(16)
        .collect()
        .await;
    let ids: Vec<String> = creds.iter().map(|c| c.id.clone()).collect();

    let link = Arc::new(match &a.nats {
        Some(url) => {
            let c = async_nats::connect(url).await.unwrap();
            Link::Nats(async_nats::jetstream::new(c))
        }
        None => Link::Http(client.clone(), base.clone()),
    });
    let shared = Arc::new(Shared {
        sent: Mutex::new(vec![Vec::new(); a.agents]),
        latencies: Mutex::new([Vec::new(), Vec::new()]),
        high_water: AtomicU64::new(0),
        poll_ms: AtomicU64::new(POLL_MS[THROUGHPUT]),
        stop: AtomicBool::new(false),
    });
    let poller = {
        let (cfg, ids, shared) = (cfg.clone(), ids.clone(), shared.clone());
        tokio::task::spawn_blocking(move || poll_store(cfg, ids, shared))
    };
    let c2 = cfg.clone();
    let mut counter = Counter(Some(
        tokio::task::spawn_blocking(move || open_store(&c2).expect("the store"))
            .await
            .unwrap(),
    ));
    let mut agents: Vec<Agent> = creds
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, cred)| Agent {
            i,
            cred,
            link: link.clone(),
            shared: shared.clone(),
            seq: 1,
            accepted: 0,
            errors: 0,
        })
        .collect();

    let mut out = json!({
        "transport": if a.nats.is_some() { "nats" } else { "http" },
        "agents": a.agents,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    if a.seconds > 0 {
        let (ag, v) = throughput(&a, agents, &shared, &mut counter).await;
        agents = ag;
        out["throughput"] = v;
    }
    if a.latency_seconds > 0 {
        let (ag, v) = latency(&a, agents, &shared, &mut counter, &client, &creds[0]).await;
        agents = ag;
        out["latency"] = v;
    }
    shared.stop.store(true, Relaxed);
    poller.await.unwrap();
    let accepted: u64 = agents.iter().map(|g| g.accepted).sum();
    let (counted, _) = counter.count().await;
    // PostgreSQL's sync client owns a runtime: dropped where blocking is allowed.
    let store = counter.0.take();
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
    out["accepted"] = accepted.into();
    out["counted_in_store"] = counted.into();
    out["lost"] = accepted.saturating_sub(counted).into();
    println!("{out}");
}
