//! What the collector tests share: a collector started from YAML through the real
//! config parser, an enrolled agent signing with `logward_core::wire`, a webhook receiver and
//! an OpenAI-compatible chat-completions server, both real HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use logward_collector::{create_token, random_hex, start, Running};
use logward_core::json::write_event;
use logward_core::{wire, write_alert, Action, Alert, Dataset, Event, Outcome, Severity};
use logward_store::Store as _;
use serde_json::Value;

pub use logward_core::clock::unix_now as now;

mod backends;
#[allow(unused_imports)] // by the test files on both stores only
pub use backends::*;

/// Starts a collector whose config is `yaml` (without `listen`/`state_dir`, added here).
pub async fn collector(dir: &Path, yaml: &str) -> Running {
    let text = format!(
        "listen: 127.0.0.1:0\nstate_dir: {}\n{yaml}",
        dir.join("state").display()
    );
    let c = logward_collector::config::parse("collector.yaml", &text, dir)
        .unwrap_or_else(|e| panic!("{e:?}"));
    start(c).await.unwrap()
}

pub struct Agent {
    pub base: String,
    pub client: reqwest::Client,
    pub id: String,
    pub secret: String,
}

impl Agent {
    /// Enrols with a fresh token, as `logward enroll` does.
    pub async fn enrol(run: &Running) -> Agent {
        Agent::enrol_as(run, "web01").await
    }

    /// Enrols as `host`.
    pub async fn enrol_as(run: &Running, host: &str) -> Agent {
        let base = format!("http://{}", run.addr);
        let client = reqwest::Client::new();
        // On the collector's store, off the async runtime (PostgreSQL's client blocks).
        let at = logward_collector::StoreAt::from(&run.state.config);
        let token = tokio::task::spawn_blocking(move || create_token(at, now(), 3600).unwrap())
            .await
            .unwrap();
        let r = client
            .post(format!("{base}/v1/enroll"))
            .body(serde_json::json!({"token": token, "host": host}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        Agent {
            base,
            client,
            id: v["agent_id"].as_str().unwrap().to_owned(),
            secret: v["secret"].as_str().unwrap().to_owned(),
        }
    }

    /// A request signed at `ts` with `nonce`, as `logward run` signs it: the body's digest in
    /// the head too (`head_digest`), or not, as agents before it did. Its status, headers and
    /// body, as sent (no status asserted). Errors are the client's (a connection the server
    /// closed).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        ts: i64,
        nonce: &str,
        head_digest: bool,
    ) -> reqwest::Result<(u16, reqwest::header::HeaderMap, String)> {
        let digest = wire::body_digest(&body);
        let sig = wire::sign_digest(self.secret.as_bytes(), method, path, ts, nonce, &digest);
        let url = format!("{}{path}", self.base);
        let mut req = if method == "GET" {
            self.client.get(url)
        } else {
            self.client.post(url)
        }
        .header(wire::HEADER_AGENT, &self.id)
        .header(wire::HEADER_TIMESTAMP, ts.to_string())
        .header(wire::HEADER_NONCE, nonce)
        .header(wire::HEADER_SIGNATURE, sig);
        if head_digest {
            req = req.header(wire::HEADER_CONTENT_SHA256, digest);
        }
        let r = req.body(body).send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Ok((status, headers, r.text().await?))
    }

    /// A signed heartbeat at `ts` with `nonce`, as the agent sends it: what the replay tests
    /// capture and send again.
    pub async fn heartbeat_at(
        &self,
        ts: i64,
        nonce: &str,
    ) -> reqwest::Result<(u16, reqwest::header::HeaderMap, String)> {
        let body = b"{\"version\":\"0.1.0\"}".to_vec();
        self.send("POST", "/v1/heartbeat", body, ts, nonce, true)
            .await
    }

    /// A signed request now, with a fresh nonce.
    pub async fn signed(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, String) {
        let (status, _, text) = self
            .send(method, path, body, now(), &random_hex(16), true)
            .await
            .unwrap();
        (status, text)
    }

    /// A signed `POST /v1/events`; the answer's JSON.
    pub async fn events(&self, body: String) -> Value {
        let (status, text) = self.signed("POST", "/v1/events", body.into_bytes()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A signed GET of `path` (with its query, as agents sign it); the answer's JSON.
    pub async fn get(&self, path: &str) -> Value {
        let (status, text) = self.signed("GET", path, Vec::new()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    pub async fn metrics(&self) -> String {
        get_text(&self.client, &format!("{}/metrics", self.base), None).await
    }
}

/// The body of a GET of `url`, with `token` as the bearer if given (no status asserted):
/// what the metrics scrapes and the API reads of every test file do.
pub async fn get_text(client: &reqwest::Client, url: &str, token: Option<&str>) -> String {
    let mut req = client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().text().await.unwrap()
}

/// The stored alerts of `rule` (all of them, oldest first), as the JSON the API serves.
pub fn alerts_of(state: &Path, rule: &str) -> Vec<Value> {
    logward_store::SqliteStore::open_dir(state)
        .unwrap()
        .alerts_between(0, i64::MAX, 1000)
        .unwrap()
        .into_iter()
        .filter(|a| a.alert.rule_id == rule)
        .map(|a| serde_json::from_str(&a.alert.json).unwrap())
        .collect()
}

pub fn metric(text: &str, line_prefix: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// One NDJSON event line as an agent forwards it.
pub fn event_line(seq: u64, e: &Event<'_>) -> String {
    let mut out = Vec::new();
    write_event(&mut out, e);
    format!(
        "{{\"seq\":{seq},\"event\":{}}}\n",
        String::from_utf8(out).unwrap()
    )
}

/// One NDJSON alert line as an agent forwards it.
pub fn alert_line(seq: u64, rule: &str, severity: Severity, ip: &str, user: &str) -> String {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.timestamp = logward_core::Timestamp::parse_rfc3339(b"2026-11-22T10:00:01Z").map(|t| t.0);
    e.reason = Some("bad-password");
    e.set_source(ip.to_owned().into(), Some(51022));
    e.user_name = Some(user.to_owned().into());
    e.original = Some(format!("Failed password for {user} from {ip} port 51022 ssh2").into());
    let a = Alert::new(
        e.into_owned(),
        rule,
        "SSH brute force",
        severity,
        "5 failures in 60s",
    );
    let mut out = Vec::new();
    write_alert(&mut out, &a);
    format!(
        "{{\"seq\":{seq},\"alert\":{}}}\n",
        String::from_utf8(out).unwrap()
    )
}

/// Serves `app` on 127.0.0.1 until the test ends.
async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

/// A webhook receiver: answers `status` (200 unless changed) and keeps what it received.
#[derive(Clone, Default)]
pub struct Hook {
    pub received: Arc<Mutex<Vec<(Instant, HeaderMap, Value)>>>,
    /// Status codes to answer, first to last; 200 once they are used up.
    pub statuses: Arc<Mutex<Vec<u16>>>,
}

impl Hook {
    /// Starts it; returns its URL.
    pub async fn start(&self) -> String {
        async fn hook(State(h): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
            let status = {
                let mut s = h.statuses.lock().unwrap();
                if s.is_empty() {
                    200
                } else {
                    s.remove(0)
                }
            };
            if status == 200 {
                let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
                h.received
                    .lock()
                    .unwrap()
                    .push((Instant::now(), headers, v));
            }
            StatusCode::from_u16(status).unwrap()
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        format!("http://{}/hook", serve(app).await)
    }

    /// Waits until `n` deliveries arrived (panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<(Instant, HeaderMap, Value)> {
        let end = Instant::now() + within;
        loop {
            {
                let r = self.received.lock().unwrap();
                if r.len() >= n {
                    return r.clone();
                }
            }
            assert!(
                Instant::now() < end,
                "{n} deliveries expected within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How the chat-completions server behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Llm {
    /// Answers after `delay_ms`.
    Answer { delay_ms: u64 },
    /// 500 with an error body.
    Fail,
}

/// An OpenAI-compatible `POST /v1/chat/completions`, as DeepSeek, Qwen, Spark, Ollama and
/// vLLM serve it. Keeps each request's headers and body.
#[derive(Clone)]
pub struct LlmServer {
    pub mode: Llm,
    pub requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

pub const ANSWER: &str = "Likely an SSH password brute force from a scanner; block the address.";
pub const SERVED_MODEL: &str = "test-model-2026-11";

impl LlmServer {
    pub fn new(mode: Llm) -> LlmServer {
        LlmServer {
            mode,
            requests: Arc::default(),
        }
    }

    /// Starts it; returns the base URL (…/v1).
    pub async fn start(&self) -> String {
        async fn chat(
            State(s): State<LlmServer>,
            headers: HeaderMap,
            body: String,
        ) -> (StatusCode, String) {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            s.requests.lock().unwrap().push((headers, v));
            match s.mode {
                Llm::Fail => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"error":{"message":"upstream overloaded","type":"server_error"}}"#.into(),
                ),
                Llm::Answer { delay_ms } => {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    let answer = serde_json::json!({
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 1_790_000_000,
                        "model": SERVED_MODEL,
                        "choices": [{
                            "index": 0,
                            "message": {"role": "assistant", "content": ANSWER},
                            "finish_reason": "stop"
                        }],
                        "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}
                    });
                    (StatusCode::OK, answer.to_string())
                }
            }
        }
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(self.clone());
        format!("http://{}/v1", serve(app).await)
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

#[allow(unused_imports)] // not every test uses it
pub use logward_test_support::eventually;
