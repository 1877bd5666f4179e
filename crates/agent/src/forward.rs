//! The `forward` sink: events and alerts to a collector (docs/COLLECTOR.md is the contract,
//! docs/AGENT.md's Forwarding section the settings).
//!
//! The pipeline writes what is to be forwarded into the store's spool, in the transaction of
//! the checkpoint of the lines that produced it. Here three tasks talk to the collector, each
//! request signed with [`logward_core::wire`] under the credentials `logward enroll` wrote:
//!
//! - the **sender** reads the spool in seq order, sends batches (items, bytes and age bounds)
//!   as gzip NDJSON to `POST /v1/events`, and deletes them only after a `200` (its `rejected`
//!   lines are logged and counted, not retried). Errors and `5xx` back off with jitter; a
//!   `429` waits its `Retry-After`; a `413` halves the batch. With `transport: nats` the
//!   same signed batch is a JetStream message instead, deleted only after the stream's
//!   publish ack ([`nats`]).
//! - the **heartbeat** posts the spool's size every `heartbeat` interval (with `transport:
//!   nats`, publishes it on `logward.heartbeat.<agent>`, signed the same way).
//! - the **decisions poller** fetches fleet ban decisions after the last one seen, validates
//!   each target and hands them to the daemon, which applies them with its ban executor and
//!   stores the cursor, so a restart does not apply them again. With `transport: nats` it
//!   watches the collectors' signed decisions stream instead ([`decisions_nats`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logward_core::backoff::Backoff;
use logward_core::clock::unix_now as now;
use logward_core::wire;
use logward_store::{AgentStore, SpoolKind, SpoolStats, SqliteStore, StoreError};
use reqwest::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::ban::BanTarget;
use crate::config::Forward;

mod decisions_nats;
mod nats;

pub use decisions_nats::DECISIONS_KEY;

/// The credentials file `logward enroll` writes in the state directory.
pub const CREDENTIALS_FILE: &str = "collector.json";

/// The store key of the decisions cursor.
pub const DECISIONS_SINCE: &str = "decisions_since";

/// Why forwarding (or enrolment) failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid credentials: {source}")]
    Credentials {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "this agent is not enrolled ({0} is missing): run `logward enroll --collector URL --token T`"
    )]
    NotEnrolled(PathBuf),
    #[error("CA file {path}: {message}")]
    Ca { path: PathBuf, message: String },
    #[error("collector URL `{0}`: {1}")]
    Url(String, String),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("cannot reach the collector: {0}")]
    Transport(String),
    #[error("the collector refused the token (401): token unknown, used or expired")]
    TokenRefused,
    #[error("the collector answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("the collector's answer is not what the protocol says: {0}")]
    Answer(String),
    #[error("random numbers: {0}")]
    Random(String),
}

/// What `logward enroll` stores (`<state_dir>/collector.json`, mode 0600).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The collector's base URL.
    pub collector: String,
    /// The id the collector gave this agent.
    pub agent_id: String,
    /// The agent's HMAC key (the text as the collector gave it; its bytes are the key).
    pub secret: String,
    /// The pinned CA file given at enrolment, if any.
    pub ca: Option<PathBuf>,
    /// The public key (hex) that signs the fleet decisions on NATS, as the enrolment
    /// answer gave it (a collector with `nats:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("collector", &self.collector)
            .field("agent_id", &self.agent_id)
            .field("secret", &"<redacted>")
            .field("ca", &self.ca)
            .field("decisions_key", &self.decisions_key)
            .finish()
    }
}

impl Credentials {
    /// Reads `<state_dir>/collector.json`.
    pub fn load(state_dir: &Path) -> Result<Credentials, ForwardError> {
        let path = state_dir.join(CREDENTIALS_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ForwardError::NotEnrolled(path))
            }
            Err(source) => return Err(ForwardError::Io { path, source }),
        };
        serde_json::from_slice(&text).map_err(|source| ForwardError::Credentials { path, source })
    }

    /// Writes `<state_dir>/collector.json`: a new file created with mode 0600 (never
    /// readable by others, not even for a moment), then renamed over the old one.
    pub fn save(&self, state_dir: &Path) -> Result<PathBuf, ForwardError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ForwardError::Io { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(io(state_dir))?;
        let path = state_dir.join(CREDENTIALS_FILE);
        let tmp = state_dir.join(format!("{CREDENTIALS_FILE}.tmp"));
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&tmp)(e)),
        }
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| ForwardError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }
}

/// This host's name (the kernel's), for enrolment and the heartbeat.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// An HTTP client for the collector: rustls; with `ca`, that file's certificates are the
/// only trusted roots, otherwise the usual web roots.
pub fn client(ca: Option<&Path>, timeout: Duration) -> Result<Client, ForwardError> {
    let mut b = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("logward/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = ca {
        let ca_err = |message: String| ForwardError::Ca {
            path: ca.to_path_buf(),
            message,
        };
        let pem = std::fs::read(ca).map_err(|e| ca_err(e.to_string()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no PEM certificate in it".into()));
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| ForwardError::Client(e.to_string()))
}

/// `base` joined with an API path (`/v1/events`), keeping a path prefix of `base`.
fn endpoint(base: &str, path: &str) -> Result<Url, ForwardError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let u = Url::parse(&url).map_err(|e| ForwardError::Url(base.to_owned(), e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ForwardError::Url(
            base.to_owned(),
            "must be https:// or http://".into(),
        ));
    }
    Ok(u)
}

/// A transport error with its causes (rustls says why a certificate was refused there).
fn transport(e: &reqwest::Error) -> ForwardError {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    ForwardError::Transport(s)
}

/// `POST /v1/enroll` with a one-time token; the credentials to save.
pub async fn enroll(
    collector: &str,
    token: &str,
    ca: Option<&Path>,
    host: &str,
) -> Result<Credentials, ForwardError> {
    let collector = collector.trim_end_matches('/').to_owned();
    let url = endpoint(&collector, "/v1/enroll")?;
    let client = client(ca, Duration::from_secs(30))?;
    let body = wire::EnrolRequest {
        token: token.to_owned(),
        host: host.to_owned(),
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
    };
    let body = serde_json::to_string(&body)
        .map_err(|e| ForwardError::Client(format!("enrolment: {e}")))?;
    let r = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport(&e))?;
    let status = r.status();
    let text = r.text().await.map_err(|e| transport(&e))?;
    if status == StatusCode::UNAUTHORIZED {
        return Err(ForwardError::TokenRefused);
    }
    if status != StatusCode::OK {
        return Err(ForwardError::Status {
            status,
            body: text.chars().take(300).collect(),
        });
    }
    let a: wire::EnrolAnswer =
        serde_json::from_str(&text).map_err(|e| ForwardError::Answer(e.to_string()))?;
    if a.agent_id.is_empty() || a.secret.is_empty() {
        return Err(ForwardError::Answer("empty agent_id or secret".into()));
    }
    Ok(Credentials {
        collector,
        agent_id: a.agent_id,
        secret: a.secret,
        ca: ca.map(Path::to_path_buf),
        decisions_key: a
            .decisions_key
            .filter(|k| logward_core::nats::valid_public_key(k)),
    })
}

/// A fresh nonce: 16 bytes from the operating system's CSPRNG, in hex.
fn nonce() -> Result<String, ForwardError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ForwardError::Random(e.to_string()))?;
    Ok(wire::hex(&b))
}

/// A uniform random fraction in [0, 1) for backoff jitter.
fn jitter() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The next backoff wait drawn in [d/2, d], so agents that lost the collector together do
/// not come back in step.
fn jittered(backoff: &mut Backoff) -> Duration {
    backoff.next_wait().mul_f64(0.5 + jitter() / 2.0)
}

/// Counts for the metrics.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Items the collector answered 200 for (accepted or duplicate).
    pub sent: AtomicU64,
    /// Items it rejected (logged, not retried).
    pub rejected: AtomicU64,
    /// Requests to `/v1/events` that failed (transport, 4xx, 5xx; not 429).
    pub send_errors: AtomicU64,
    /// `429` answers.
    pub throttled: AtomicU64,
    /// Unix time of the last 200 from `/v1/events` (0: never).
    pub last_success: AtomicI64,
    /// Heartbeats the collector accepted.
    pub heartbeats: AtomicU64,
    /// Fleet decisions received and handed to the ban executor.
    pub decisions: AtomicU64,
    /// Fleet decisions refused: bad target or action, or a NATS message not validly signed
    /// or not a decision.
    pub decisions_invalid: AtomicU64,
    /// Of those, NATS decision messages without a valid signature of the fleet's key.
    pub decisions_forged: AtomicU64,
}

/// One fleet ban decision change, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `true`: the fleet lifted it (deleted or expired): unban. `false`: ban (added or
    /// extended).
    pub lift: bool,
    pub target: BanTarget,
    /// `None`: permanent.
    pub seconds: Option<u64>,
    pub reason: String,
    pub rule_id: Option<String>,
}

/// Decisions fetched in one poll, and the cursor to store once they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    pub decisions: Vec<Decision>,
    pub next: String,
}

/// The store connection the forward tasks share.
type Db = Arc<Mutex<dyn AgentStore>>;

/// Runs `f` on the store off the async threads.
async fn db<T: Send + 'static>(
    store: &Db,
    f: impl FnOnce(&mut dyn AgentStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut s = store
            .lock()
            .map_err(|_| "the forward store's lock is poisoned".to_owned())?;
        f(&mut *s).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What the three tasks share.
#[derive(Debug)]
struct Link {
    client: Client,
    creds: Credentials,
    base: String,
    settings: Forward,
    store: Db,
    stats: Arc<ForwardStats>,
    host: String,
}

/// An answer: status, `Retry-After` seconds, body.
struct Reply {
    status: StatusCode,
    retry_after: Option<u64>,
    body: String,
}

/// The signature headers' values of one request (or NATS message).
struct Signature {
    ts: i64,
    nonce: String,
    signature: String,
    digest: String,
}

impl Link {
    /// Signs `method path` with `body` now, under a fresh nonce.
    fn sign(&self, method: &str, path: &str, body: &[u8]) -> Result<Signature, ForwardError> {
        let ts = now();
        let nonce = nonce()?;
        // The digest goes in a header too, so the collector checks the signature before it
        // reads the body (and never counts ours among unauthenticated bodies).
        let digest = wire::body_digest(body);
        let signature = wire::sign_digest(
            self.creds.secret.as_bytes(),
            method,
            path,
            ts,
            &nonce,
            &digest,
        );
        Ok(Signature {
            ts,
            nonce,
            signature,
            digest,
        })
    }

    /// Sends one signed request.
    async fn request(
        &self,
        method: Method,
        url: Url,
        body: Vec<u8>,
        content_type: &str,
        gzip: bool,
    ) -> Result<Reply, ForwardError> {
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let sig = self.sign(method.as_str(), &path, &body)?;
        let mut rb = self
            .client
            .request(method, url)
            .header(wire::HEADER_AGENT, &self.creds.agent_id)
            .header(wire::HEADER_TIMESTAMP, sig.ts.to_string())
            .header(wire::HEADER_NONCE, sig.nonce)
            .header(wire::HEADER_SIGNATURE, sig.signature)
            .header(wire::HEADER_CONTENT_SHA256, sig.digest);
        if !body.is_empty() {
            rb = rb.header(
                CONTENT_TYPE,
                HeaderValue::from_str(content_type)
                    .map_err(|e| ForwardError::Client(e.to_string()))?,
            );
        }
        if gzip {
            rb = rb.header(CONTENT_ENCODING, "gzip");
        }
        let r = rb.body(body).send().await.map_err(|e| transport(&e))?;
        let status = r.status();
        let retry_after = r
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = r.text().await.map_err(|e| transport(&e))?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// The NDJSON body of a batch, one [`wire::EventsLine`] per item (`{"seq":N,"event":{…}}` /
/// `{"seq":N,"alert":{…}}`), and how many items were left out because their JSON does not
/// parse: the pipeline never spools such, and the collector would reject the line anyway.
pub fn ndjson(items: &[logward_store::SpooledItem]) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.json.len() + 32).sum());
    let mut left_out = 0;
    for it in items {
        let Ok(raw) = serde_json::from_str::<&serde_json::value::RawValue>(&it.json) else {
            tracing::warn!(seq = it.seq, "forward: a spooled item is not JSON; dropped");
            left_out += 1;
            continue;
        };
        let (event, alert) = match it.kind {
            SpoolKind::Event => (Some(raw), None),
            SpoolKind::Alert => (None, Some(raw)),
        };
        let line = wire::EventsLine {
            seq: it.seq,
            event,
            alert,
        };
        // Writing to a Vec fails only if serializing does, which a parsed text cannot.
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
    }
    (out, left_out)
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

/// The forward tasks of a running agent.
#[derive(Debug)]
pub struct Forwarder {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stats: Arc<ForwardStats>,
}

impl Forwarder {
    /// Starts the sender, the heartbeat and (when enabled) the decisions poller on their own
    /// store connection. Decisions go to `decisions`.
    pub fn start(
        state_dir: &Path,
        settings: &Forward,
        creds: Credentials,
        decisions: Option<mpsc::Sender<Decisions>>,
    ) -> Result<Forwarder, ForwardError> {
        let base = settings
            .collector
            .clone()
            .unwrap_or_else(|| creds.collector.clone());
        endpoint(&base, "/v1/events")?;
        let ca = settings.ca.clone().or_else(|| creds.ca.clone());
        let client = client(ca.as_deref(), Duration::from_secs(30))?;
        let store = SqliteStore::open_dir(state_dir).map_err(|e| ForwardError::Io {
            path: state_dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let stats = Arc::new(ForwardStats::default());
        let link = Arc::new(Link {
            client,
            creds,
            base: base.clone(),
            settings: settings.clone(),
            store: Arc::new(Mutex::new(store)),
            stats: Arc::clone(&stats),
            host: host_name(),
        });
        match &settings.nats {
            Some(n) => {
                tracing::info!(nats = %n.connect.url, agent_id = %link.creds.agent_id, tls_ca = ?n.connect.ca, "forwarding to NATS JetStream")
            }
            None => {
                tracing::info!(collector = %base, agent_id = %link.creds.agent_id, tls_ca = ?ca, "forwarding to the collector")
            }
        }
        let mut tasks = vec![
            tokio::spawn(send_loop(Arc::clone(&link))),
            tokio::spawn(heartbeat_loop(Arc::clone(&link))),
        ];
        match (settings.decisions, decisions, &settings.nats) {
            (true, Some(tx), Some(n)) => tasks.push(tokio::spawn(decisions_nats::watch_loop(
                Arc::clone(&link),
                n.clone(),
                tx,
            ))),
            (true, Some(tx), None) => {
                tasks.push(tokio::spawn(decisions_loop(Arc::clone(&link), tx)));
            }
            _ => {}
        }
        Ok(Forwarder { tasks, stats })
    }

    pub fn stats(&self) -> Arc<ForwardStats> {
        Arc::clone(&self.stats)
    }

    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads, sends, acknowledges; forever.
async fn send_loop(link: Arc<Link>) {
    let s = &link.settings;
    let mut backoff = Backoff::new(s.backoff_min, s.backoff_max);
    let mut limit = s.batch_items;
    let mut waited = false;
    let mut failing = false;
    let url = match endpoint(&link.base, "/v1/events") {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "forward: not sending");
            return;
        }
    };
    let nats = match &s.nats {
        Some(n) => Some(nats::Publisher::connect(&link, n, &mut backoff).await),
        None => None,
    };
    loop {
        let max_bytes = s.batch_bytes;
        let items = match db(&link.store, move |st| st.spool_read(limit, max_bytes)).await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "forward: cannot read the spool");
                tokio::time::sleep(jittered(&mut backoff)).await;
                continue;
            }
        };
        let Some(last) = items.last().map(|i| i.seq) else {
            waited = false;
            tokio::time::sleep(s.batch_age).await;
            continue;
        };
        let bytes: u64 = items.iter().map(|i| i.json.len() as u64).sum();
        let full = items.len() >= limit || bytes + 4096 >= s.batch_bytes;
        if !full && !waited {
            // Let the batch fill for up to its age bound.
            waited = true;
            tokio::time::sleep(s.batch_age).await;
            continue;
        }
        waited = false;
        let (lines, left_out) = ndjson(&items);
        let body = gzip(&lines);
        let reply = match &nats {
            Some(n) => {
                let first = items.first().map_or(last, |i| i.seq);
                n.publish(&link, body, (first, last, items.len() as u64))
                    .await
            }
            None => {
                link.request(
                    Method::POST,
                    url.clone(),
                    body,
                    "application/x-ndjson",
                    true,
                )
                .await
            }
        };
        match reply {
            Ok(r) if r.status == StatusCode::OK => {
                let a: wire::EventsAnswer = serde_json::from_str(&r.body).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "forward: the collector's 200 is not the documented JSON");
                    wire::EventsAnswer::default()
                });
                let n = items.len() as u64;
                // Items left out of the body count as the collector's rejects would.
                let a = wire::EventsAnswer {
                    rejected: a.rejected + left_out,
                    ..a
                };
                if a.rejected > 0 {
                    tracing::warn!(
                        rejected = a.rejected,
                        errors = %serde_json::to_string(&a.errors).unwrap_or_default(),
                        "forward: the collector rejected lines (dropped, not retried)"
                    );
                    link.stats.rejected.fetch_add(a.rejected, Ordering::Relaxed);
                }
                tracing::debug!(
                    items = n,
                    accepted = a.accepted,
                    duplicates = a.duplicates,
                    last_seq = last,
                    "forward: batch sent"
                );
                match db(&link.store, move |st| st.spool_ack(last)).await {
                    Ok(_) => {}
                    Err(e) => {
                        // Sent again later: the collector drops them as duplicates.
                        tracing::error!(error = %e, "forward: cannot delete sent items from the spool");
                    }
                }
                link.stats
                    .sent
                    .fetch_add(n.saturating_sub(a.rejected), Ordering::Relaxed);
                link.stats.last_success.store(now(), Ordering::Relaxed);
                if failing {
                    tracing::info!("forward: the collector takes events again");
                    failing = false;
                }
                backoff.reset();
            }
            Ok(r) if r.status == StatusCode::TOO_MANY_REQUESTS => {
                link.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let wait = match r.retry_after {
                    Some(secs) => Duration::from_secs(secs),
                    None => jittered(&mut backoff),
                };
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "forward: rate limited by the collector (429)"
                );
                tokio::time::sleep(wait).await;
            }
            Ok(r) if r.status == StatusCode::PAYLOAD_TOO_LARGE && items.len() > 1 => {
                link.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                limit = (items.len() / 2).max(1);
                tracing::warn!(
                    limit,
                    "forward: batch too large for the collector (413); sending smaller batches"
                );
            }
            Ok(r) if r.status == StatusCode::PAYLOAD_TOO_LARGE => {
                // One item over the collector's limit can never be sent: drop it, or it
                // would hold back everything after it.
                link.stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    seq = last,
                    "forward: one item is over the collector's size limit (413); dropped"
                );
                if let Err(e) = db(&link.store, move |st| st.spool_ack(last)).await {
                    tracing::error!(error = %e, "forward: cannot delete from the spool");
                }
            }
            other => {
                link.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                let wait = jittered(&mut backoff);
                let why = match other {
                    Ok(r) => format!(
                        "{}: {}",
                        r.status,
                        r.body.chars().take(200).collect::<String>()
                    ),
                    Err(e) => e.to_string(),
                };
                if failing {
                    tracing::debug!(error = %why, wait_ms = wait.as_millis() as u64, "forward: send failed");
                } else {
                    tracing::warn!(error = %why, wait_ms = wait.as_millis() as u64, "forward: send failed; items stay in the spool and are retried");
                    failing = true;
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// `POST /v1/heartbeat` every `heartbeat` (with `transport: nats`, the same signed body
/// published on `logward.heartbeat.<agent>` instead).
async fn heartbeat_loop(link: Arc<Link>) {
    let url = match endpoint(&link.base, "/v1/heartbeat") {
        Ok(u) => u,
        Err(_) => return,
    };
    let nats = match &link.settings.nats {
        Some(n) => {
            let name = format!("logward-agent {} heartbeat", link.creds.agent_id);
            match logward_core::nats::connect(&n.connect, &name, true).await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "forward: cannot connect to NATS for heartbeats; sending them over HTTP");
                    None
                }
            }
        }
        None => None,
    };
    let mut tick = tokio::time::interval(link.settings.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let st: SpoolStats = db(&link.store, |s| s.spool_stats())
            .await
            .unwrap_or_default();
        let body = wire::HeartbeatBody {
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            host: Some(link.host.clone()),
            spool_items: i64::try_from(st.items).ok(),
            spool_bytes: i64::try_from(st.bytes).ok(),
            oldest_unsent: st.oldest,
        };
        let Ok(body) = serde_json::to_vec(&body) else {
            continue;
        };
        if let Some(client) = &nats {
            match nats::publish_heartbeat(&link, client, body).await {
                Ok(()) => {
                    link.stats.heartbeats.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::debug!(error = %e, "forward: heartbeat on NATS failed"),
            }
            continue;
        }
        match link
            .request(Method::POST, url.clone(), body, "application/json", false)
            .await
        {
            Ok(r) if r.status.is_success() => {
                link.stats.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => tracing::debug!(status = %r.status, "forward: heartbeat refused"),
            Err(e) => tracing::debug!(error = %e, "forward: heartbeat failed"),
        }
    }
}

/// Validates one poll's answer at `now`: bad targets and decisions already over are left out.
fn validate(answer: wire::DecisionsAnswer, now: i64, stats: &ForwardStats) -> Option<Decisions> {
    let next = answer.next?.to_string();
    let mut out = Vec::new();
    for d in answer.decisions {
        let lift = match d.action.as_deref() {
            None | Some("add" | "extend") => false,
            Some("delete" | "expire") => true,
            Some(other) => {
                stats.decisions_invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = ?d.id, action = %other, "forward: a fleet decision's action is unknown; ignored");
                continue;
            }
        };
        let target = match BanTarget::parse(&d.target) {
            Ok(t) => t,
            Err(e) => {
                stats.decisions_invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = ?d.id, error = %e, "forward: a fleet decision's target does not validate; ignored");
                continue;
            }
        };
        let seconds = match (d.expires_at, d.duration_secs) {
            (Some(e), _) => Some(e - now),
            (None, Some(s)) => Some(s),
            (None, None) => None,
        };
        if !lift && seconds.is_some_and(|s| s <= 0) {
            continue;
        }
        out.push(Decision {
            lift,
            target,
            seconds: seconds.and_then(|s| u64::try_from(s).ok()),
            reason: d
                .reason
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "fleet decision".into()),
            rule_id: d.rule_id,
        });
    }
    Some(Decisions {
        decisions: out,
        next,
    })
}

/// `GET /v1/decisions?since=…` every `decisions_poll`.
async fn decisions_loop(link: Arc<Link>, tx: mpsc::Sender<Decisions>) {
    let mut since = match db(&link.store, |s| s.forward_state(DECISIONS_SINCE)).await {
        Ok(s) => s.unwrap_or_else(|| "0".into()),
        Err(e) => {
            tracing::error!(error = %e, "forward: cannot read the decisions cursor; not polling decisions");
            return;
        }
    };
    let mut tick = tokio::time::interval(link.settings.decisions_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !poll_once(&link, &mut since, &tx).await {
            return;
        }
    }
}

/// One poll after `since`; what it brought is handed on and `since` moved past it. `false`:
/// stop polling (the daemon is gone, or the URL cannot be).
async fn poll_once(link: &Link, since: &mut String, tx: &mpsc::Sender<Decisions>) -> bool {
    let mut url = match endpoint(&link.base, "/v1/decisions") {
        Ok(u) => u,
        Err(_) => return false,
    };
    url.query_pairs_mut().append_pair("since", since);
    let r = match link.request(Method::GET, url, Vec::new(), "", false).await {
        Ok(r) if r.status == StatusCode::OK => r,
        Ok(r) => {
            tracing::debug!(status = %r.status, "forward: decisions refused");
            return true;
        }
        Err(e) => {
            tracing::debug!(error = %e, "forward: decisions poll failed");
            return true;
        }
    };
    let answer: wire::DecisionsAnswer = match serde_json::from_str(&r.body) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "forward: the decisions answer is not the documented JSON");
            return true;
        }
    };
    let Some(batch) = validate(answer, now(), &link.stats) else {
        tracing::warn!("forward: the decisions answer has no usable `next`");
        return true;
    };
    if batch.next == *since && batch.decisions.is_empty() {
        return true;
    }
    link.stats
        .decisions
        .fetch_add(batch.decisions.len() as u64, Ordering::Relaxed);
    *since = batch.next.clone();
    tx.send(batch).await.is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_store::{SpoolKind, SpooledItem};

    #[test]
    fn the_body_is_one_seq_tagged_object_per_line() {
        let items = [
            SpooledItem {
                seq: 7,
                kind: SpoolKind::Event,
                time: 0,
                json: r#"{"a":1}"#.into(),
            },
            SpooledItem {
                seq: 8,
                kind: SpoolKind::Alert,
                time: 0,
                json: r#"{"b":2}"#.into(),
            },
        ];
        let (body, left_out) = ndjson(&items);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"seq\":7,\"event\":{\"a\":1}}\n{\"seq\":8,\"alert\":{\"b\":2}}\n"
        );
        assert_eq!(left_out, 0);
        let gz = gzip(&ndjson(&items).0);
        let mut d = flate2::read::GzDecoder::new(&gz[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).unwrap();
        assert_eq!(back, ndjson(&items).0);
    }

    #[test]
    fn a_spooled_item_that_is_not_json_is_left_out_and_counted() {
        let item = |seq, json: &str| SpooledItem {
            seq,
            kind: SpoolKind::Event,
            time: 0,
            json: json.into(),
        };
        let (body, left_out) =
            ndjson(&[item(1, r#"{"a":1}"#), item(2, "{not json"), item(3, "[1]")]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"seq\":1,\"event\":{\"a\":1}}\n{\"seq\":3,\"event\":[1]}\n"
        );
        assert_eq!(left_out, 1);
    }

    #[test]
    fn nonces_are_fresh_and_well_formed() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert!(wire::valid_nonce(&a) && wire::valid_nonce(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn backoff_doubles_up_to_its_bound_with_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let waits: Vec<Duration> = (0..5).map(|_| jittered(&mut b)).collect();
        let bounds = [1, 2, 4, 4, 4];
        for (w, s) in waits.iter().zip(bounds) {
            let s = Duration::from_secs(s);
            assert!(*w >= s / 2 && *w <= s, "{w:?} for {s:?}");
        }
        b.reset();
        assert!(jittered(&mut b) <= Duration::from_secs(1));
    }

    #[test]
    fn decisions_are_validated_and_expired_ones_skipped() {
        let answer: wire::DecisionsAnswer = serde_json::from_str(
            r#"{"decisions":[
                {"id":1,"target":"192.0.2.7","duration_secs":600,"reason":"fleet","rule_id":"ssh-bruteforce","created_at":1,"expires_at":null},
                {"id":2,"target":"evil; flush ruleset","duration_secs":600,"reason":"x","rule_id":null,"created_at":1,"expires_at":null},
                {"id":3,"target":"2001:db8::/48","duration_secs":null,"reason":"","rule_id":null,"created_at":1,"expires_at":null},
                {"id":4,"target":"198.51.100.1","duration_secs":60,"reason":"old","rule_id":null,"created_at":1,"expires_at":900}
            ],"next":4}"#,
        )
        .unwrap();
        let stats = ForwardStats::default();
        let d = validate(answer, 1000, &stats).unwrap();
        assert_eq!(d.next, "4");
        assert_eq!(d.decisions.len(), 2);
        assert_eq!(d.decisions[0].target.to_string(), "192.0.2.7");
        assert_eq!(d.decisions[0].seconds, Some(600));
        assert_eq!(d.decisions[1].seconds, None);
        assert_eq!(d.decisions[1].reason, "fleet decision");
        assert_eq!(stats.decisions_invalid.load(Ordering::Relaxed), 1);
        assert!(!d.decisions[0].lift);
    }

    #[test]
    fn lifts_are_kept_and_unknown_actions_refused() {
        let answer: wire::DecisionsAnswer = serde_json::from_str(
            r#"{"decisions":[
                {"id":5,"action":"add","target":"192.0.2.7","duration_secs":600,"expires_at":1600},
                {"id":6,"action":"delete","target":"192.0.2.7","duration_secs":0,"expires_at":1000},
                {"id":7,"action":"expire","target":"198.51.100.1","duration_secs":0,"expires_at":900},
                {"id":8,"action":"delete","target":"not an address","duration_secs":0,"expires_at":900},
                {"id":9,"action":"explode","target":"192.0.2.8","duration_secs":60,"expires_at":1060}
            ],"next":9}"#,
        )
        .unwrap();
        let stats = ForwardStats::default();
        let d = validate(answer, 1000, &stats).unwrap();
        let got: Vec<_> = d
            .decisions
            .iter()
            .map(|x| (x.lift, x.target.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (false, "192.0.2.7".to_owned()),
                (true, "192.0.2.7".to_owned()),
                (true, "198.51.100.1".to_owned())
            ]
        );
        assert_eq!(stats.decisions_invalid.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn credentials_are_written_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let c = Credentials {
            collector: "https://c.example".into(),
            agent_id: "a1".into(),
            secret: "00".repeat(32),
            ca: None,
            decisions_key: None,
        };
        let path = c.save(&state).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let back = Credentials::load(&state).unwrap();
        assert_eq!(back.agent_id, "a1");
        assert!(!format!("{back:?}").contains(&c.secret));
        assert!(matches!(
            Credentials::load(dir.path()),
            Err(ForwardError::NotEnrolled(_))
        ));
    }
}
