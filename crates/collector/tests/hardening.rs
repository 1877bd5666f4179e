//! Attacks on the collector's agent-facing request path (issue 13), each performed against
//! the real server on 127.0.0.1 with real signed requests, and each asserted to fail.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use logward_collector::config::{Config, Limits};
use logward_collector::{create_api_token, start, Running};
use logward_core::{Action, Dataset, Event, Outcome, Severity};
use logward_store::{CollectorStore as _, SqliteStore, Store};
use serde_json::Value;

mod common;
use common::{metric, Agent};

fn config(dir: &Path, limits: Limits) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.to_path_buf(),
        limits,
        ..Config::default()
    }
}

async fn collector(dir: &Path, limits: Limits) -> Running {
    start(config(dir, limits)).await.unwrap()
}

/// An NDJSON line: a failed sshd login from `ip` as `user`, claiming `host` (or none).
fn failure(seq: u64, ip: &str, user: &str, host: Option<&str>) -> String {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.set_source(ip.to_owned().into(), Some(40000));
    e.user_name = Some(user.to_owned().into());
    e.host_name = host.map(|h| h.to_owned().into());
    common::event_line(seq, &e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_flooding_signed_heartbeats_does_not_stop_another_agents_ingest() {
    let dir = tempfile::tempdir().unwrap();
    // A replay cache small enough for a test to fill, as the flood filled the real one.
    let run = collector(
        dir.path(),
        Limits {
            requests_per_second: 5,
            replay_cache: 200,
            ..Limits::default()
        },
    )
    .await;
    let flooder = Arc::new(Agent::enrol_as(&run, "web01").await);
    let victim = Agent::enrol_as(&run, "web02").await;
    let mut statuses = BTreeMap::<u16, u32>::new();
    for _ in 0..10 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let a = flooder.clone();
            set.spawn(async move { a.signed("POST", "/v1/heartbeat", b"{}".to_vec()).await });
        }
        while let Some(r) = set.join_next().await {
            *statuses.entry(r.unwrap().0).or_default() += 1;
        }
    }
    // The rate limit refused the flood before it reached the replay cache.
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 300,
        "{statuses:?}"
    );
    assert_eq!(statuses.get(&503), None, "{statuses:?}");
    let v = victim.events(failure(1, "192.0.2.1", "root", None)).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let m = victim.metrics().await;
    assert_eq!(metric(&m, "logward_collector_replay_cache_full_total"), 0);
    run.stop().await;
}

fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open_dir(dir).unwrap()
}

use common::alerts_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_can_speak_for_any_host() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(dir.path(), Limits::default()).await;
    // One enrolled agent posts failures from one address "from" three hosts, and an alert
    // forged for another host.
    let liar = Agent::enrol_as(&run, "web01").await;
    let ip = "198.51.100.66";
    let body = format!(
        "{}{}{}{}",
        failure(1, ip, "root", Some("web01")),
        failure(2, ip, "root", Some("web02")),
        failure(3, ip, "root", Some("db01")),
        common::alert_line(4, "ssh-bruteforce", Severity::High, ip, "root")
            .replace("\"alert\":{", "\"alert\":{\"host\":{\"name\":\"db01\"},"),
    );
    let v = liar.events(body).await;
    assert_eq!(v["accepted"], 4, "{v}");
    assert!(alerts_of(dir.path(), "fleet-bruteforce").is_empty());
    let mut s = store(dir.path());
    assert!(s.decisions_in_force(common::now()).unwrap().is_empty());
    // Everything it sent is stored as its own host, the claim kept aside.
    assert_eq!(s.count_fleet_events(Some("web01")).unwrap(), 3);
    assert_eq!(s.count_fleet_events(Some("web02")).unwrap(), 0);
    let events: Vec<Value> = s
        .fleet_event_json(10)
        .unwrap()
        .iter()
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["agent"]["id"] == liar.id.as_str()));
    let claims: Vec<_> = events
        .iter()
        .filter_map(|e| e["logward"]["claimed_host"].as_str())
        .collect();
    assert_eq!(claims.len(), 2, "{events:#?}");
    let forged = alerts_of(dir.path(), "ssh-bruteforce");
    assert_eq!(forged[0]["host"]["name"], "web01", "{:#}", forged[0]);
    assert_eq!(
        forged[0]["logward"]["claimed_host"], "db01",
        "{:#}",
        forged[0]
    );
    assert_eq!(forged[0]["agent"]["id"], liar.id.as_str());
    // The API's alert rows name the agent.
    let (_, token) = create_api_token(dir.path(), "ops", common::now()).unwrap();
    let url = format!("{}/v1/alerts?rule=ssh-bruteforce", liar.base);
    let page = common::get_text(&liar.client, &url, Some(&token)).await;
    let page: Value = serde_json::from_str(&page).unwrap();
    let row = &page["alerts"][0];
    assert_eq!(
        (row["host"].as_str(), row["agent_id"].as_str()),
        (Some("web01"), Some(liar.id.as_str())),
        "{page:#}"
    );

    // Three real agents still make one fleet decision, and the alert names the agent.
    let ip = "198.51.100.77";
    let mut last = String::new();
    for host in ["web01", "web02", "db01"] {
        let a = Agent::enrol_as(&run, host).await;
        let v = a.events(failure(1, ip, "root", None)).await;
        assert_eq!(v["accepted"], 1, "{v}");
        last = a.id;
    }
    let fleet = alerts_of(dir.path(), "fleet-bruteforce");
    assert_eq!(fleet.len(), 1);
    assert_eq!(
        fleet[0]["labels"]["event_agent"],
        last.as_str(),
        "{:#}",
        fleet[0]
    );
    assert_eq!(fleet[0]["labels"]["event_host"], "db01");
    let d = store(dir.path()).decisions_in_force(common::now()).unwrap();
    assert_eq!((d.len(), d[0].target.as_str()), (1, ip));
    run.stop().await;
}

/// A raw HTTP/1.1 `POST /v1/events` from `from` (a loopback address) as agent `agent` with a
/// wrong signature, declaring `declared` bytes and sending `body`; with `stall` it then
/// sends nothing more. Returns the status the server answered (0: closed without one).
async fn unauthenticated(
    addr: std::net::SocketAddr,
    from: &str,
    agent: &str,
    declared: usize,
    body: Arc<Vec<u8>>,
    stall: bool,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut tcp = sock.connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: collector\r\ncontent-length: {declared}\r\n\
         x-logward-agent: {agent}\r\nx-logward-timestamp: {}\r\n\
         x-logward-nonce: {}\r\nx-logward-signature: {}\r\n\r\n",
        common::now(),
        logward_collector::random_hex(16),
        "ab".repeat(32)
    );
    if tcp.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    // Writes fail once the server answered early and closed: its answer is still there.
    let _ = tcp.write_all(&body).await;
    if !stall {
        let _ = tcp.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tcp.read_to_end(&mut answer),
    )
    .await;
    if read.is_err() && answer.is_empty() {
        return 0;
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_bodies_are_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(
        dir.path(),
        Limits {
            body_bytes: 4 << 20,
            unverified_bodies: 8,
            unverified_per_address: 4,
            unverified_bytes: 16 << 20,
            body_read_secs: 2,
            ..Limits::default()
        },
    )
    .await;
    let agent = Arc::new(Agent::enrol_as(&run, "web01").await);
    let addr = run.addr;

    // Slow: 20 connections from one address declare 4 MiB, send 1 KiB and stall.
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let id = agent.id.clone();
        slow.spawn(async move {
            unauthenticated(
                addr,
                "127.0.0.2",
                &id,
                4 << 20,
                Arc::new(vec![b'x'; 1024]),
                true,
            )
            .await
        });
    }
    // Meanwhile the real agent, from its own address, still ingests.
    let v = agent.events(failure(1, "192.0.2.9", "root", None)).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let mut statuses = BTreeMap::<u16, u32>::new();
    while let Some(s) = slow.join_next().await {
        *statuses.entry(s.unwrap()).or_default() += 1;
    }
    // Four read (the address's share) until the deadline, the rest refused at once (on a
    // loaded machine a late one may get a freed slot and time out too).
    let (timed_out, refused) = (statuses.get(&408), statuses.get(&503));
    assert!(timed_out.is_some_and(|n| *n >= 4), "{statuses:?}");
    assert!(refused.is_some_and(|n| *n >= 12), "{statuses:?}");
    assert_eq!(statuses.values().sum::<u32>(), 20, "{statuses:?}");
    assert!(!statuses.contains_key(&0), "{statuses:?}");

    // Large: 40 connections from four addresses each send a whole 4 MiB body, wrongly
    // signed. At most 16 MiB is held at once; the rest is refused, nothing is stored.
    let big = Arc::new(vec![b'x'; 4 << 20]);
    let before = peak_rss_kib();
    let mut large = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (id, big) = (agent.id.clone(), big.clone());
        let from = format!("127.0.1.{}", i % 4 + 1);
        large.spawn(async move { unauthenticated(addr, &from, &id, 4 << 20, big, false).await });
    }
    let mut statuses = BTreeMap::<u16, u32>::new();
    while let Some(s) = large.join_next().await {
        *statuses.entry(s.unwrap()).or_default() += 1;
    }
    let grown_mib = (peak_rss_kib() - before) / 1024;
    eprintln!("large bodies: {statuses:?}, peak RSS +{grown_mib} MiB");
    assert_eq!(statuses.get(&200), None, "{statuses:?}");
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "{statuses:?}");
    // 40 × 4 MiB would be 160 MiB held at once; the budget is 16 MiB (vectors may double).
    assert!(grown_mib < 80, "peak RSS grew by {grown_mib} MiB");
    let v = agent.events(failure(2, "192.0.2.9", "root", None)).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let m = agent.metrics().await;
    assert!(metric(&m, "logward_collector_body_timeouts_total") >= 4);
    assert!(metric(&m, "logward_collector_unverified_refused_total") >= 12);
    run.stop().await;
}

/// `n` event lines from `seq` on, each `pad` bytes of `event.original`.
fn lines(seq: u64, n: u64, pad: usize) -> String {
    (seq..seq + n)
        .map(|s| {
            let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
            e.original = Some("x".repeat(pad).into());
            common::event_line(s, &e)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cap_on_items_line_or_field_size_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(
        dir.path(),
        Limits {
            max_items: 100,
            line_bytes: 128 << 10,
            field_bytes: 1024,
            ..Limits::default()
        },
    )
    .await;
    let a = Agent::enrol_as(&run, "web01").await;

    // Items: one over the cap is refused whole with a clear 413 (the agent halves its batch).
    let (status, text) = a
        .signed("POST", "/v1/events", lines(1, 101, 1).into_bytes())
        .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("limits.max_items"), "{text}");
    assert_eq!(store(dir.path()).count_fleet_events(None).unwrap(), 0);
    let v = a.events(lines(1, 100, 1)).await;
    assert_eq!(v["accepted"], 100, "{v}");

    // A line over line_bytes is rejected (listed, counted); its neighbours are kept.
    let body = format!(
        "{}{}{}",
        lines(101, 1, 1),
        lines(102, 1, 200 << 10),
        lines(103, 1, 1)
    );
    let v = a.events(body).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(
        v["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("limits.line_bytes"),
        "{v}"
    );

    // Fields over field_bytes are cut with a visible marker: a 30 KiB alert message and user
    // name stay small in the store (and so in the API and any LLM prompt).
    let huge = "u".repeat(30 << 10);
    let line = common::alert_line(104, "ssh-bruteforce", Severity::High, "192.0.2.5", &huge)
        .replace("5 failures in 60s", &"m".repeat(30 << 10));
    let v = a.events(line).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let stored = store(dir.path()).alerts_between(0, i64::MAX, 10).unwrap();
    let json = &stored[0].alert.json;
    assert!(json.len() < 8 << 10, "{} bytes", json.len());
    let alert: Value = serde_json::from_str(json).unwrap();
    for f in [&alert["message"], &alert["user"]["name"]] {
        let f = f.as_str().unwrap();
        assert!(
            f.len() <= 1024 && f.ends_with(logward_collector::truncate::MARKER),
            "{f}"
        );
    }
    let m = a.metrics().await;
    assert!(
        metric(&m, "logward_collector_truncated_fields_total") >= 2,
        "{m}"
    );
    assert_eq!(metric(&m, "logward_collector_oversized_lines_total"), 1);
    assert_eq!(metric(&m, "logward_collector_oversized_requests_total"), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompressed_bytes_in_flight_are_budgeted_across_requests() {
    let dir = tempfile::tempdir().unwrap();
    // Shared-key mode: once a host is registered, checking its signature needs no store
    // look-up, so requests reach the store queue while the store thread is held.
    let key = "a-shared-key-0123456789";
    let mut c = config(
        dir.path(),
        Limits {
            inflight_bytes: 64 << 10,
            body_read_secs: 1,
            ..Limits::default()
        },
    );
    c.auth = logward_collector::Auth::Shared { key: key.into() };
    let run = start(c).await.unwrap();
    let host = |id: &str| Agent {
        base: format!("http://{}", run.addr),
        client: reqwest::Client::new(),
        id: id.into(),
        secret: key.into(),
    };
    let a = Arc::new(host("web01"));
    let b = host("web02");
    a.events(lines(1, 1, 1)).await;
    b.events(lines(1, 1, 1)).await;
    // The store thread is held, so a parsed request waits there with its bytes.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let store = run.state.store.clone();
    let blocker = tokio::spawn(async move {
        store
            .call(move |_| {
                let _ = held.recv();
            })
            .await
    });
    let parsed = run.state.metrics.bytes_decompressed.load(Relaxed);
    let first = {
        let a = a.clone();
        tokio::spawn(async move {
            a.signed("POST", "/v1/events", lines(2, 1, 50 << 10).into_bytes())
                .await
        })
    };
    // Wait until the first request holds its 50 KiB (its parse is counted).
    common::eventually(std::time::Duration::from_secs(10), || {
        (run.state.metrics.bytes_decompressed.load(Relaxed) > parsed + (50 << 10)).then_some(())
    })
    .await;
    // A second request finds no room within body_read_secs (were it let in, it would wait
    // behind the held store: the timeout fails the test instead of hanging it).
    let second = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        b.signed("POST", "/v1/events", lines(2, 1, 20 << 10).into_bytes()),
    )
    .await;
    release.send(()).unwrap();
    let (status, text) = second.expect("the second request was let in");
    assert_eq!(status, 503, "{text}");
    blocker.await.unwrap().unwrap();
    assert_eq!(first.await.unwrap().0, 200);
    // With the room back, the refused request goes through on its retry.
    let v = b.events(lines(2, 1, 20 << 10)).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let m = b.metrics().await;
    assert_eq!(metric(&m, "logward_collector_inflight_refused_total"), 1);
    run.stop().await;
}

/// `POST /v1/enroll` with `token` from the loopback address `from`: status and
/// `Retry-After`.
async fn enroll_from(run: &Running, from: &str, token: &str) -> (u16, Option<String>) {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = client
        .post(format!("http://{}/v1/enroll", run.addr))
        .body(serde_json::json!({"token": token, "host": "web09"}).to_string())
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_has_no_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(
        dir.path(),
        Limits {
            enroll_per_minute: 3,
            enroll_total_per_minute: 5,
            ..Limits::default()
        },
    )
    .await;
    // One address guessing tokens: three tries, then 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(enroll_from(&run, "127.0.0.2", &"ab".repeat(32)).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|s| s.0).collect();
    assert_eq!(codes, [401, 401, 401, 429, 429], "{statuses:?}");
    // A token comes back every 20 s at 3 a minute.
    let retry: u64 = statuses[3].1.as_deref().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{statuses:?}");
    // Another address still gets its own tries, until everybody's budget is spent.
    assert_eq!(enroll_from(&run, "127.0.0.3", "00").await.0, 401);
    assert_eq!(enroll_from(&run, "127.0.0.3", "00").await.0, 401);
    let token = logward_collector::create_token(dir.path(), common::now(), 60).unwrap();
    assert_eq!(enroll_from(&run, "127.0.0.4", &token).await.0, 429);
    let m = Agent {
        base: format!("http://{}", run.addr),
        client: reqwest::Client::new(),
        id: String::new(),
        secret: String::new(),
    }
    .metrics()
    .await;
    assert_eq!(metric(&m, "logward_collector_enroll_rate_limited_total"), 3);
    assert_eq!(
        metric(
            &m,
            "logward_collector_auth_failures_total{reason=\"token_unknown\"}"
        ),
        5
    );
    run.stop().await;
}

/// The agent `a` talking to the collector `run` (a new client: the old one's connections
/// died with its collector).
fn same_agent(a: &Agent, run: &Running) -> Agent {
    Agent {
        base: format!("http://{}", run.addr),
        client: reqwest::Client::new(),
        id: a.id.clone(),
        secret: a.secret.clone(),
    }
}

#[test]
fn replay_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A collector that dies without stopping (its runtime dropped: no shutdown work, as
    // with kill -9) after accepting a request the attacker captured.
    let crashed = tokio::runtime::Runtime::new().unwrap();
    let (agent, ts, nonce) = crashed.block_on(async {
        let run = collector(dir.path(), Limits::default()).await;
        let a = Agent::enrol_as(&run, "web01").await;
        let (ts, nonce) = (common::now(), logward_collector::random_hex(16));
        let (status, _, _) = a.heartbeat_at(ts, &nonce).await.unwrap();
        assert_eq!(status, 200);
        (a, ts, nonce)
    });
    drop(crashed);
    // The next run starts in a later second than the capture.
    while common::now() <= ts {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let run = collector(dir.path(), Limits::default()).await;
        let a = same_agent(&agent, &run);
        let (status, _, body) = a.heartbeat_at(ts, &nonce).await.unwrap();
        assert_eq!(status, 401, "replayed after a crash: {body}");
        assert!(body.contains("stale_timestamp"), "{body}");
        // An agent whose clock runs two minutes ahead: its request is fresh after a
        // restart too, so the replay cache itself must survive a (graceful) restart.
        let (ahead, nonce) = (common::now() + 120, logward_collector::random_hex(16));
        let (status, _, _) = a.heartbeat_at(ahead, &nonce).await.unwrap();
        assert_eq!(status, 200);
        run.stop().await;
        let run = collector(dir.path(), Limits::default()).await;
        let a = same_agent(&agent, &run);
        let (status, _, body) = a.heartbeat_at(ahead, &nonce).await.unwrap();
        assert_eq!(status, 401, "replayed after a restart: {body}");
        assert!(body.contains("replayed_nonce"), "{body}");
        // The agent itself goes on.
        assert_eq!(
            a.heartbeat_at(common::now(), &logward_collector::random_hex(16))
                .await
                .unwrap()
                .0,
            200
        );
        run.stop().await;
    });
}

/// A raw HTTP/1.1 `POST /v1/events` head from 127.0.0.1 as `agent`, with a well-formed but
/// wrong signature over a declared body digest, declaring a 4 MiB body and sending none.
/// Returns the status and how long the answer took.
async fn wrong_signed_head(addr: std::net::SocketAddr, agent: &str) -> (u16, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: collector\r\ncontent-length: {}\r\n\
         x-logward-agent: {agent}\r\nx-logward-timestamp: {}\r\n\
         x-logward-nonce: {}\r\nx-logward-signature: {}\r\n\
         x-logward-content-sha256: {}\r\n\r\n",
        4 << 20,
        common::now(),
        logward_collector::random_hex(16),
        "ab".repeat(32),
        "cd".repeat(32),
    );
    let t = std::time::Instant::now();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), tcp.read(&mut answer))
        .await
        .unwrap()
        .unwrap_or(0);
    let status = String::from_utf8_lossy(&answer[..n])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, t.elapsed())
}

/// The hostile benchmark's finding: slow unauthenticated bodies from many addresses kept the
/// unverified budget full and every agent request got 503. An agent that signs its head
/// (the body's digest in `x-logward-content-sha256`, as `logward run` sends it) is verified
/// before its body is read and never waits for that budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_unauthenticated_bodies_starve_agents() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(
        dir.path(),
        Limits {
            unverified_bodies: 8,
            unverified_per_address: 2,
            body_read_secs: 8,
            ..Limits::default()
        },
    )
    .await;
    let agent = Arc::new(Agent::enrol_as(&run, "web01").await);
    let addr = run.addr;

    // 40 stalled bodies from 20 addresses: far more than the 8 unverified slots.
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..40 {
        let id = agent.id.clone();
        let from = format!("127.0.2.{}", i % 20 + 1);
        slow.spawn(async move {
            unauthenticated(addr, &from, &id, 4 << 20, Arc::new(vec![b'x'; 512]), true).await
        });
    }
    common::eventually(std::time::Duration::from_secs(10), || {
        let refused = run.state.metrics.unverified_refused.load(Relaxed);
        (refused >= 20).then_some(())
    })
    .await;

    // The budget is full: a request signed the old way (no digest in its head) is refused...
    let body = failure(1, "192.0.2.9", "root", None).into_bytes();
    let (status, _, text) = agent
        .send(
            "POST",
            "/v1/events",
            body,
            common::now(),
            &logward_collector::random_hex(16),
            false,
        )
        .await
        .unwrap();
    assert_eq!(status, 503, "the attack did not fill the budget: {text}");
    // ...while every request of an agent that signs its head goes through.
    for seq in 1..=20 {
        let v = agent.events(failure(seq, "192.0.2.9", "root", None)).await;
        assert_eq!(v["accepted"], 1, "{v}");
    }
    // A forged head is refused at once, before its (never sent) body is waited for.
    let (status, took) = wrong_signed_head(addr, &agent.id).await;
    assert_eq!(status, 401);
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");

    let mut statuses = BTreeMap::<u16, u32>::new();
    while let Some(s) = slow.join_next().await {
        *statuses.entry(s.unwrap()).or_default() += 1;
    }
    assert_eq!(statuses.get(&200), None, "{statuses:?}");
    run.stop().await;
    assert_eq!(store(dir.path()).count_fleet_events(None).unwrap(), 20);
}

/// A signed head whose body is not the one it signed: refused, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_other_than_the_signed_digest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = collector(dir.path(), Limits::default()).await;
    let agent = Agent::enrol_as(&run, "web01").await;
    let signed = failure(1, "192.0.2.9", "root", None);
    let sent = failure(1, "192.0.2.66", "admin", None);
    let (ts, nonce) = (common::now(), logward_collector::random_hex(16));
    let digest = logward_core::wire::body_digest(signed.as_bytes());
    let sig = logward_core::wire::sign_digest(
        agent.secret.as_bytes(),
        "POST",
        "/v1/events",
        ts,
        &nonce,
        &digest,
    );
    let r = agent
        .client
        .post(format!("{}/v1/events", agent.base))
        .header(logward_core::wire::HEADER_AGENT, &agent.id)
        .header(logward_core::wire::HEADER_TIMESTAMP, ts.to_string())
        .header(logward_core::wire::HEADER_NONCE, &nonce)
        .header(logward_core::wire::HEADER_SIGNATURE, sig)
        .header(logward_core::wire::HEADER_CONTENT_SHA256, digest)
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    run.stop().await;
    assert_eq!(store(dir.path()).count_fleet_events(None).unwrap(), 0);
}
