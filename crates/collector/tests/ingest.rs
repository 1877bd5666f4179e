//! The collector end to end: the real server on 127.0.0.1, a signing client built on
//! `logward_core::wire` and reqwest, and the store read back to see what was kept.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;

use logward_collector::config::{Auth, Config, Limits, TlsFiles};
use logward_collector::{create_token, gen_cert, random_hex, sha256_hex, start, Running};
use logward_core::{wire, write_alert, Action, Alert, Dataset, Event, Outcome, Severity};
use logward_store::{CollectorStore as _, SqliteStore, Store};
use serde_json::Value;

mod common;
use common::{event_line, metric, now};

fn config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

struct Agent {
    base: String,
    client: reqwest::Client,
    id: String,
    secret: String,
}

/// A signed request; `ts`/`nonce`/`sig` overrides forge bad ones.
struct Send<'a> {
    method: &'a str,
    path: &'a str,
    body: Vec<u8>,
    gzip: bool,
    ts: Option<i64>,
    nonce: Option<String>,
    secret: Option<&'a str>,
}

impl<'a> Send<'a> {
    fn post(path: &'a str, body: Vec<u8>) -> Self {
        Send {
            method: "POST",
            path,
            body,
            gzip: false,
            ts: None,
            nonce: None,
            secret: None,
        }
    }
}

impl Agent {
    async fn send(&self, s: Send<'_>) -> (u16, Value, reqwest::header::HeaderMap) {
        self.try_send(s).await.unwrap()
    }

    /// The server answers an over-long declared body at once without reading it, so the
    /// client may see its write fail (broken pipe) before it reads the 413.
    async fn try_send(
        &self,
        s: Send<'_>,
    ) -> Result<(u16, Value, reqwest::header::HeaderMap), reqwest::Error> {
        let ts = s.ts.unwrap_or_else(now);
        let nonce = s.nonce.unwrap_or_else(|| random_hex(16));
        let secret = s.secret.unwrap_or(&self.secret);
        let sig = wire::sign(secret.as_bytes(), s.method, s.path, ts, &nonce, &s.body);
        let url = format!("{}{}", self.base, s.path);
        let mut req = match s.method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        }
        .header(wire::HEADER_AGENT, &self.id)
        .header(wire::HEADER_TIMESTAMP, ts.to_string())
        .header(wire::HEADER_NONCE, nonce)
        .header(wire::HEADER_SIGNATURE, sig)
        .body(s.body);
        if s.gzip {
            req = req.header("content-encoding", "gzip");
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        ))
    }
}

async fn enroll(base: &str, client: &reqwest::Client, token: &str) -> (u16, Value) {
    let r = client
        .post(format!("{base}/v1/enroll"))
        .body(serde_json::json!({"token": token, "host": "web01", "version": "0.1.0"}).to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn enrolled(run: &Running, dir: &Path) -> Agent {
    let base = format!("http://{}", run.addr);
    let client = reqwest::Client::new();
    let token = create_token(dir, now(), 3600).unwrap();
    let (status, v) = enroll(&base, &client, &token).await;
    assert_eq!(status, 200, "{v}");
    Agent {
        base,
        client,
        id: v["agent_id"].as_str().unwrap().to_owned(),
        secret: v["secret"].as_str().unwrap().to_owned(),
    }
}

fn event(user: &str) -> Event<'static> {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.timestamp = logward_core::Timestamp::parse_rfc3339(b"2026-11-22T10:00:01Z").map(|t| t.0);
    e.reason = Some("bad-password");
    e.set_source("203.0.113.45".into(), Some(51022));
    e.user_name = Some(user.to_owned().into());
    e.into_owned()
}

fn alert_line(seq: u64) -> String {
    let a = Alert::new(
        event("root"),
        "ssh-bruteforce",
        "SSH brute force",
        Severity::High,
        "5 failures",
    );
    let mut out = Vec::new();
    write_alert(&mut out, &a);
    format!(
        "{{\"seq\":{seq},\"alert\":{}}}\n",
        String::from_utf8(out).unwrap()
    )
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(b).unwrap();
    w.finish().unwrap()
}

/// A collector as [`config`] makes it, changed by `change`, and an agent enrolled on it.
async fn started(change: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Running, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    change(&mut c);
    let run = start(c).await.unwrap();
    let a = enrolled(&run, dir.path()).await;
    (dir, run, a)
}

/// The value of one metric line on the collector `a` speaks to.
async fn metric_of(a: &Agent, line_prefix: &str) -> u64 {
    metric(&metrics(a).await, line_prefix)
}

async fn metrics(a: &Agent) -> String {
    common::get_text(&a.client, &format!("{}/metrics", a.base), None).await
}

/// How many fleet events the collector in `dir` has stored, all hosts together.
fn stored_events(dir: &Path) -> u64 {
    store(dir).count_fleet_events(None).unwrap()
}

fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open_dir(dir).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_agent_events_and_alerts_are_stored() {
    let (dir, run, a) = started(|_| {}).await;
    // An event without a host gets the enrolled host name.
    let body = format!(
        "{}{}{}",
        event_line(1, &event("alice")),
        event_line(2, &event("bob")),
        alert_line(3)
    );
    let mut send = Send::post("/v1/events", gz(body.as_bytes()));
    send.gzip = true;
    let (status, v, _) = a.send(send).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 3);
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["rejected"], 0);

    let mut s = store(dir.path());
    assert_eq!(s.count_fleet_events(Some("web01")).unwrap(), 2);
    let stored = s.fleet_event_json(10).unwrap();
    let back = logward_core::json_read::read_event(stored[0].as_bytes()).unwrap();
    assert_eq!(back.user_name.as_deref(), Some("alice"));
    assert_eq!(back.host_name.as_deref(), Some("web01"));
    let alerts = s.alerts_between(0, i64::MAX, 10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert.rule_id, "ssh-bruteforce");
    assert_eq!(alerts[0].alert.host.as_deref(), Some("web01"));
    let agent = s.agent(&a.id).unwrap().unwrap();
    assert_eq!((agent.host.as_str(), agent.last_seq), ("web01", 3));

    let hb = serde_json::json!({"version": "0.1.0", "host": "web01", "spool_items": 4,
        "spool_bytes": 100, "oldest_unsent": null});
    let (status, _, _) = a
        .send(Send::post("/v1/heartbeat", hb.to_string().into_bytes()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.agent(&a.id).unwrap().unwrap().spool_items, Some(4));

    let id = s
        .add_decision(&logward_store::NewDecision {
            target: "203.0.113.45".into(),
            duration_secs: Some(3600),
            reason: "fleet brute force".into(),
            rule_id: Some("ssh-bruteforce".into()),
            created_at: now(),
            alert_id: None,
        })
        .unwrap();
    let mut get = Send::post("/v1/decisions?since=0", Vec::new());
    get.method = "GET";
    let (status, v, _) = a.send(get).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["next"], id);
    assert_eq!(v["decisions"][0]["target"], "203.0.113.45");
    let m = metrics(&a).await;
    assert_eq!(
        metric(
            &m,
            "logward_collector_ingest_items_total{kind=\"event\",result=\"accepted\"}"
        ),
        2
    );
    assert!(m.contains("logward_collector_store_seconds_count"));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_not_stored_twice() {
    let (dir, run, a) = started(|_| {}).await;
    let body = format!(
        "{}{}",
        event_line(1, &event("a")),
        event_line(2, &event("b"))
    );
    let (_, v, _) = a
        .send(Send::post("/v1/events", body.clone().into_bytes()))
        .await;
    assert_eq!(v["accepted"], 2);
    // The same batch again (new nonce: a retry, not a replay) plus one new item.
    let again = format!("{body}{}", event_line(3, &event("c")));
    let (status, v, _) = a.send(Send::post("/v1/events", again.into_bytes())).await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(stored_events(dir.path()), 3);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_counted_and_store_nothing() {
    let (dir, run, a) = started(|_| {}).await;
    let line = || event_line(1, &event("x")).into_bytes();

    let mut s = Send::post("/v1/events", line());
    s.secret = Some("not-the-secret");
    assert_eq!(a.send(s).await.0, 401);

    let mut s = Send::post("/v1/events", line());
    s.ts = Some(now() - 301);
    assert_eq!(a.send(s).await.0, 401);

    // Replay: the first use of the nonce is accepted, the second refused.
    let nonce = random_hex(16);
    let mut s = Send::post("/v1/events", Vec::new());
    s.nonce = Some(nonce.clone());
    assert_eq!(a.send(s).await.0, 200);
    let mut s = Send::post("/v1/events", line());
    s.nonce = Some(nonce);
    assert_eq!(a.send(s).await.0, 401);

    let unknown = Agent {
        base: a.base.clone(),
        client: a.client.clone(),
        id: "0123456789abcdef".into(),
        secret: a.secret.clone(),
    };
    assert_eq!(unknown.send(Send::post("/v1/events", line())).await.0, 401);

    // No headers at all.
    let r = a
        .client
        .post(format!("{}/v1/events", a.base))
        .body(line())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Revoked (as `logward collector agents revoke` does it: in the store).
    let revoked = enrolled(&run, dir.path()).await;
    assert!(store(dir.path()).revoke_agent(&revoked.id, now()).unwrap());
    assert_eq!(revoked.send(Send::post("/v1/events", line())).await.0, 401);

    // Tokens: unknown, used, expired.
    let (status, _) = enroll(&a.base, &a.client, "deadbeef").await;
    assert_eq!(status, 401);
    let token = create_token(dir.path(), now(), 3600).unwrap();
    assert_eq!(enroll(&a.base, &a.client, &token).await.0, 200);
    assert_eq!(enroll(&a.base, &a.client, &token).await.0, 401);
    let expired = "ab".repeat(32);
    store(dir.path())
        .create_enrol_token(&sha256_hex(expired.as_bytes()), now() - 100, now() - 1)
        .unwrap();
    assert_eq!(enroll(&a.base, &a.client, &expired).await.0, 401);

    let m = metrics(&a).await;
    for (reason, n) in [
        ("bad_signature", 1),
        ("stale_timestamp", 1),
        ("replayed_nonce", 1),
        ("unknown_agent", 1),
        ("missing_header", 1),
        ("revoked_agent", 1),
        ("token_unknown", 1),
        ("token_used", 1),
        ("token_expired", 1),
    ] {
        let p = format!("logward_collector_auth_failures_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&m, &p), n, "{reason}\n{m}");
    }
    assert_eq!(
        metric(
            &m,
            "logward_collector_requests_total{endpoint=\"events\",status=\"401\"}"
        ),
        6
    );
    assert_eq!(stored_events(dir.path()), 0);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_counted_and_good_lines_kept() {
    let (dir, run, a) = started(|_| {}).await;
    let body = format!(
        "{}not json\n{{\"seq\":3,\"event\":{{\"source\":{{\"port\":\"22\"}}}}}}\n\
         {{\"seq\":4}}\n{{\"seq\":5,\"alert\":{{\"event\":{{}}}}}}\n{}",
        event_line(1, &event("a")),
        event_line(6, &event("b"))
    );
    let (status, v, _) = a.send(Send::post("/v1/events", body.into_bytes())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(4))
    );
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[1]["line"], 3);
    assert!(errors[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("event.source.port: invalid type"));
    assert!(errors[3]["error"].as_str().unwrap().contains("rule"));
    assert_eq!(stored_events(dir.path()), 2);
    assert_eq!(
        metric_of(
            &a,
            "logward_collector_ingest_items_total{kind=\"any\",result=\"rejected\"}"
        )
        .await,
        4
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bombs_and_fake_gzip_are_refused() {
    let (dir, run, a) = started(|c| {
        c.limits = Limits {
            body_bytes: 2 << 20,
            decompressed_bytes: 4 << 20,
            requests_per_second: 1000,
            ..Limits::default()
        };
    })
    .await;

    let big = vec![b' '; 3 << 20];
    match a.try_send(Send::post("/v1/events", big)).await {
        Ok((status, _, _)) => assert_eq!(status, 413),
        // Refused before the body was read; the 413 is still counted (checked below).
        Err(e) => assert!(e.is_request(), "{e}"),
    }

    // 1 GiB of zeros: 64 gzip members of 16 MiB each (a valid multi-member gzip stream).
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(&vec![0u8; 16 << 20]).unwrap();
    let member = w.finish().unwrap();
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 64)
        .collect();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let mut s = Send::post("/v1/events", bomb);
    s.gzip = true;
    let (status, v, _) = a.send(s).await;
    assert_eq!(status, 413, "{v}");

    let mut s = Send::post("/v1/events", event_line(1, &event("a")).into_bytes());
    s.gzip = true;
    assert_eq!(a.send(s).await.0, 400);

    let (status, _, _) = a
        .send(Send::post("/v1/events", vec![0xff, 0xfe, b'\n']))
        .await;
    assert_eq!(status, 400);
    assert_eq!(stored_events(dir.path()), 0);
    assert_eq!(
        metric_of(
            &a,
            "logward_collector_requests_total{endpoint=\"events\",status=\"413\"}"
        )
        .await,
        2
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_agent_rate_limit_answers_429_with_retry_after() {
    let (_dir, run, a) = started(|c| {
        c.limits.requests_per_second = 2;
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry = None;
    for seq in 1..=4 {
        let (status, _, h) = a
            .send(Send::post(
                "/v1/events",
                event_line(seq, &event("a")).into_bytes(),
            ))
            .await;
        statuses.push(status);
        if status == 429 {
            retry = h.get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        }
    }
    assert_eq!(&statuses[..2], &[200, 200]);
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(retry.as_deref(), Some("1"));
    // Heartbeats have a bucket of their own: ingest's empty one does not refuse them, and
    // a flood of them is refused in turn.
    let mut beats = Vec::new();
    for _ in 0..4 {
        let (status, _, _) = a.send(Send::post("/v1/heartbeat", b"{}".to_vec())).await;
        beats.push(status);
    }
    assert_eq!(&beats[..2], &[200, 200], "{beats:?}");
    assert!(beats.contains(&429), "{beats:?}");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_generated_certificate_over_http2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = gen_cert(
        &dir.path().join("tls"),
        &["localhost".to_owned(), "127.0.0.1".to_owned()],
    )
    .unwrap();
    let mut c = config(dir.path());
    c.tls = Some(TlsFiles {
        cert: cert.clone(),
        key,
    });
    let run = start(c).await.unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", run.addr.port());
    // An untrusting client fails the handshake.
    assert!(reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .is_err());
    let token = create_token(dir.path(), now(), 60).unwrap();
    let r = client
        .post(format!("{base}/v1/enroll"))
        .body(serde_json::json!({"token": token, "host": "web02"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let a = Agent {
        base,
        client,
        id: v["agent_id"].as_str().unwrap().to_owned(),
        secret: v["secret"].as_str().unwrap().to_owned(),
    };
    let (status, v, _) = a
        .send(Send::post(
            "/v1/events",
            event_line(1, &event("a")).into_bytes(),
        ))
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)));
    assert_eq!(
        store(dir.path()).count_fleet_events(Some("web02")).unwrap(),
        1
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_key_mode_registers_hosts_on_first_sight() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.auth = Auth::Shared {
        key: "a-long-shared-key-0123".into(),
    };
    let run = start(c).await.unwrap();
    let a = Agent {
        base: format!("http://{}", run.addr),
        client: reqwest::Client::new(),
        id: "db01.example".into(),
        secret: "a-long-shared-key-0123".into(),
    };
    let (status, v, _) = a
        .send(Send::post(
            "/v1/events",
            event_line(1, &event("a")).into_bytes(),
        ))
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    let mut s = Send::post("/v1/events", event_line(2, &event("a")).into_bytes());
    s.secret = Some("wrong-key-0123456789");
    assert_eq!(a.send(s).await.0, 401);
    assert_eq!(enroll(&a.base, &a.client, "x").await.0, 404);
    let mut st = store(dir.path());
    assert_eq!(st.count_fleet_events(Some("db01.example")).unwrap(), 1);
    assert_eq!(st.agents().unwrap()[0].id, "db01.example");
    assert!(st.schema_version().unwrap() >= 2);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http2_with_prior_knowledge_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(dir.path())).await.unwrap();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let a = Agent {
        base: format!("http://{}", run.addr),
        client: client.clone(),
        id: String::new(),
        secret: String::new(),
    };
    let token = create_token(dir.path(), now(), 60).unwrap();
    let r = client
        .post(format!("{}/v1/enroll", a.base))
        .body(serde_json::json!({"token": token, "host": "web03"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let a = Agent {
        id: v["agent_id"].as_str().unwrap().to_owned(),
        secret: v["secret"].as_str().unwrap().to_owned(),
        ..a
    };
    let (status, v, _) = a
        .send(Send::post(
            "/v1/events",
            event_line(1, &event("a")).into_bytes(),
        ))
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    run.stop().await;
}
