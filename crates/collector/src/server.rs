//! The HTTP server: axum routes served over HTTP/1.1 and HTTP/2 (hyper-util's auto
//! connection builder), plain or TLS (tokio-rustls, ring), and the handlers of
//! docs/COLLECTOR.md: enrolment, signed requests, ingest, heartbeats, decisions, metrics;
//! and the background tasks: notification delivery from the outbox (crates/notify) and the
//! LLM analyst (`crate::llm`).

// A handler's refusal is its HTTP response, carried as the `Err` of the checks it runs.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use logward_core::json::write_event;
use logward_core::json_read::{alert_from_str, event_from_str};
use logward_core::wire;
use logward_core::Event;
use logward_store::{FleetEvent, FleetItem, Heartbeat, NewAlert, SqliteStore, Store, TokenCheck};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::body::{BodyError, ReadBody, Unverified};
use crate::config::{Auth, Config};
use crate::llm::{alert_plan, Analyst};
use crate::metrics::{AuthFailure, Metrics};
use crate::nonces::Check;
use crate::{random_hex, sha256_hex, Error};

/// How much of an enrolment or heartbeat body is read.
const SMALL_BODY: usize = 64 * 1024;
/// The `meta` key the replay cache is saved under at shutdown.
const NONCES_META: &str = "collector.replay_cache";
/// Signed endpoints, each with its own rate bucket per agent.
const SIGNED_ENDPOINTS: usize = 3;
/// At most this many line errors are listed in an ingest answer.
const MAX_ERRORS: usize = 10;

use crate::unix_now as now;

pub use crate::store_thread::StoreHandle;

/// A token bucket per agent.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub store: StoreHandle,
    nonces: Mutex<crate::nonces::Nonces>,
    /// The budget of bodies read before their signature is checked.
    unverified: Unverified,
    /// Unix time this collector started: requests signed before it are refused.
    started_at: i64,
    /// `POST /v1/enroll` per address and in all.
    enroll_limiter: crate::enroll_limit::EnrollLimiter,
    buckets: Mutex<HashMap<String, Bucket>>,
    shared_known: Mutex<HashSet<String>>,
    /// Dashboard sessions.
    pub sessions: crate::auth::Sessions,
    /// Failed dashboard logins per address and user name.
    pub login_limiter: crate::auth::LoginLimiter,
    /// Which notifiers get an alert (the `notify.routes`).
    router: logward_notify::route::Router,
    /// Woken after an ingest stored alerts: the delivery workers.
    delivery_wake: Arc<tokio::sync::Notify>,
    /// Woken after an ingest stored alerts: the LLM analyst.
    llm_wake: Option<Arc<tokio::sync::Notify>>,
    /// Decompressed bytes of requests being parsed or waiting for the store
    /// (`limits.inflight_bytes`).
    inflight: Arc<tokio::sync::Semaphore>,
    /// Bodies decompressed and parsed at once: one core fewer than the machine has, so the
    /// store thread — the bottleneck — is never starved by a crowd of parsers.
    parsers: tokio::sync::Semaphore,
}

impl AppState {
    /// Takes a token from the agent's bucket for `endpoint` (each signed endpoint has its
    /// own, so polling decisions never costs an ingest its slot), or says how many seconds
    /// until one is there. Only authenticated agents get buckets, so the map is bounded by
    /// the fleet.
    fn rate_limit(&self, endpoint: &'static str, agent: &str) -> Result<(), u64> {
        let rps = f64::from(self.config.limits.requests_per_second.max(1));
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = b.entry(format!("{endpoint}\n{agent}")).or_insert(Bucket {
            tokens: rps,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rps).min(rps);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rps).ceil().max(1.0) as u64)
        }
    }
}

/// The replay cache's share of one agent: what its rate limit lets through on every signed
/// endpoint while a nonce is kept (at most twice the freshness window), so the cap is only
/// ever reached by an agent the rate limit already refuses.
fn nonces_per_agent(requests_per_second: u32) -> usize {
    let window = 2 * wire::MAX_SKEW_SECS as usize + 1;
    SIGNED_ENDPOINTS * requests_per_second.max(1) as usize * (window + 1)
}

/// A running collector.
#[derive(Debug)]
pub struct Running {
    /// Where it listens (the real port when the config said 0).
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Delivery workers and the LLM analyst.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections, stops delivery and analysis (what is undelivered stays
    /// in the outbox), and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let saved = self
            .state
            .store
            .call_with_rules(|s, r| r.as_mut().map_or(Ok(()), |r| r.save(s, now())))
            .await;
        if let Ok(Err(e)) = saved {
            tracing::error!("{e}");
        }
        for t in &self.background {
            t.abort();
        }
        let _ = self.task.await;
        let text = self
            .state
            .nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .export(now());
        match self
            .state
            .store
            .call(move |s| s.set_meta(NONCES_META, &text))
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("replay cache not saved: {e}"),
            Err(e) => tracing::error!("replay cache not saved: {e}"),
        }
    }

    /// Runs until the accept loop ends (never, short of an error or `stop`).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Loads the TLS certificate chain and key for the listener (h2 and http/1.1 by ALPN).
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(sc)))
}

/// The agents' routes and `/metrics` (the operators' are in [`crate::api::routes`]).
pub fn agent_routes() -> Vec<crate::api::Route> {
    vec![
        ("/v1/enroll", Method::POST, post(enroll)),
        ("/v1/events", Method::POST, post(events)),
        ("/v1/heartbeat", Method::POST, post(heartbeat)),
        ("/v1/decisions", Method::GET, get(decisions)),
        ("/metrics", Method::GET, get(metrics)),
    ]
}

/// Every route: the agents', then the operators'. The OpenAPI document describes each one
/// (a test checks it against this list).
pub fn all_routes() -> Vec<crate::api::Route> {
    let mut r = agent_routes();
    r.extend(crate::api::routes());
    r
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    let mut by_path: Vec<(&'static str, axum::routing::MethodRouter<Arc<AppState>>)> = Vec::new();
    for (path, _, mr) in all_routes() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(mr),
            None => by_path.push((path, mr)),
        }
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(path, mr);
    }
    router
        .fallback(crate::api::not_found)
        .layer(axum::middleware::from_fn(crate::api::headers))
        .with_state(state)
}

/// Opens the store, binds the listener and serves until stopped.
pub async fn start(config: Config) -> Result<Running, Error> {
    let metrics = Arc::new(Metrics::default());
    let store = StoreHandle::open_fleet(
        &config.state_dir,
        &config.rules,
        config.anomaly.clone(),
        metrics.clone(),
    )?;
    let acceptor = match &config.tls {
        // Under the systemd unit the files come as credentials (crate::credentials).
        Some(t) => Some(tls_acceptor(
            &crate::credentials::or_credential(&t.cert),
            &crate::credentials::or_credential(&t.key),
        )?),
        None => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Bind(config.listen, e))?;
    let addr = listener.local_addr().map_err(Error::Io)?;
    let login_limiter = crate::auth::LoginLimiter::new(
        config.limits.login_failures,
        Duration::from_secs(config.limits.login_window_secs),
    );
    let delivery_wake = Arc::new(tokio::sync::Notify::new());
    let (background, llm_wake) = start_background(&config, &metrics, &delivery_wake)?;
    let mut nonces = crate::nonces::Nonces::new(
        nonces_per_agent(config.limits.requests_per_second),
        config.limits.replay_cache,
    );
    // The nonces the last run saved at shutdown (a restart forgets none of them).
    match store.call(|s| s.meta(NONCES_META)).await {
        Ok(Ok(Some(text))) => {
            let kept = nonces.import(&text, now());
            tracing::debug!(kept, "replay cache restored");
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::warn!("replay cache not restored: {e}"),
        Err(e) => tracing::warn!("replay cache not restored: {e}"),
    }
    let l = &config.limits;
    let unverified = Unverified::new(
        l.unverified_bodies,
        l.unverified_bytes,
        l.unverified_per_address,
        Duration::from_secs(l.body_read_secs),
    );
    let inflight = Arc::new(tokio::sync::Semaphore::new(
        l.inflight_bytes
            .min(u32::MAX as usize)
            .min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let enroll_limiter =
        crate::enroll_limit::EnrollLimiter::new(l.enroll_per_minute, l.enroll_total_per_minute);
    let started_at = now();
    let state = Arc::new(AppState {
        started_at,
        unverified,
        enroll_limiter,
        inflight,
        router: logward_notify::route::Router::new(&config.notify),
        config,
        metrics,
        store,
        nonces: Mutex::new(nonces),
        buckets: Mutex::new(HashMap::new()),
        shared_known: Mutex::new(HashSet::new()),
        sessions: crate::auth::Sessions::default(),
        login_limiter,
        delivery_wake,
        llm_wake,
        parsers: tokio::sync::Semaphore::new(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1),
        ),
    });
    let app = router(state.clone());
    let (shutdown, stop) = watch::channel(false);
    // Fleet counters changed by ingests that then stopped are saved within a second or so.
    let save_state = state.clone();
    let mut save_stop = shutdown.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::rules::SAVE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = save_stop.changed() => return,
            }
            let saved = save_state
                .store
                .call_with_rules(|s, r| r.as_mut().map_or(Ok(()), |r| r.save_if_due(s, now())))
                .await;
            if let Ok(Err(e)) = saved {
                tracing::error!("{e}");
            }
        }
    });
    let purge_state = state.clone();
    let mut purge_stop = shutdown.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = purge_stop.changed() => return,
            }
            let days = purge_state.config.retention_days;
            let t = now();
            let r = purge_state
                .store
                .call(move |s| s.purge(t, days).and_then(|_| s.purge_fleet(t, days)))
                .await;
            match r {
                Ok(Ok(p)) => tracing::debug!(events = p.events, "retention purge"),
                Ok(Err(e)) => tracing::error!("retention purge failed: {e}"),
                Err(e) => tracing::error!("retention purge failed: {e}"),
            }
        }
    });
    let task = tokio::spawn(crate::listener::serve(
        listener,
        app,
        acceptor,
        state.config.connections,
        Arc::clone(&state.metrics),
        stop,
    ));
    Ok(Running {
        addr,
        state,
        shutdown,
        task,
        background,
    })
}

type Background = (
    Vec<tokio::task::JoinHandle<()>>,
    Option<Arc<tokio::sync::Notify>>,
);

/// Starts a delivery worker per notifier and the LLM analyst, on their own store connection
/// (WAL: they never block ingest for longer than one small write). A notifier that cannot be
/// built is logged and left out; its rows wait in the outbox.
fn start_background(
    config: &Config,
    metrics: &Arc<Metrics>,
    delivery_wake: &Arc<tokio::sync::Notify>,
) -> Result<Background, Error> {
    use logward_notify::deliver::{Delivery, Settings};
    let n = &config.notify;
    let mut notifiers = Vec::new();
    for (name, c) in &n.notifiers {
        match logward_notify::Notifier::build(name, &c.value, n.language) {
            Ok(x) => {
                tracing::info!(notifier = %x.name, r#type = x.kind(), "delivering alerts");
                notifiers.push(Arc::new(x));
            }
            Err(e) => tracing::error!(notifier = %name, error = %e, "notifier not started"),
        }
    }
    let mut tasks = Vec::new();
    let mut llm_wake = None;
    if notifiers.is_empty() && config.llm.is_none() {
        return Ok((tasks, llm_wake));
    }
    let store = Arc::new(Mutex::new(SqliteStore::open_dir(&config.state_dir)?));
    if let Some(l) = &config.llm {
        let analyst = Analyst::new(
            l.clone(),
            Arc::clone(&store),
            Arc::clone(delivery_wake),
            Arc::clone(&metrics.llm),
        )
        .map_err(Error::Llm)?;
        let analyst = Arc::new(analyst);
        llm_wake = Some(Arc::clone(&analyst.wake));
        tasks.push(tokio::spawn(analyst.run()));
    }
    if let (Some(r), false) = (&n.report, notifiers.is_empty()) {
        // The fleet-wide daily report, from the alerts of every host in the store.
        tracing::info!(at = %r.at.value, "fleet daily report scheduled");
        tasks.push(tokio::spawn(
            logward_notify::schedule::Reporter::fleet(
                r.clone(),
                notifiers.clone(),
                Arc::clone(&store),
                Arc::clone(&metrics.report),
            )
            .run(),
        ));
    }
    if !notifiers.is_empty() {
        let mut settings = Settings::from_config(n);
        // The collector's alert ids are the dashboard's: links open the alert's page.
        settings.dashboard_ids = true;
        settings.analysis_wait = config
            .llm
            .as_ref()
            .map_or(Duration::ZERO, |l| l.analysis_wait);
        tasks.extend(
            Delivery {
                notifiers,
                store,
                settings,
                wake: Arc::clone(delivery_wake),
                stats: Arc::clone(&metrics.delivery),
            }
            .spawn(),
        );
    }
    Ok((tasks, llm_wake))
}

fn reply(
    state: &AppState,
    endpoint: &'static str,
    status: StatusCode,
    body: impl serde::Serialize,
) -> Response {
    // The bodies are plain structs and `json!` values, which always serialize; should one
    // ever fail, the client gets a 500 that says so, not an empty 200.
    let (status, text) = match serde_json::to_string(&body) {
        Ok(t) => (status, t),
        Err(e) => {
            tracing::error!(endpoint, error = %e, "cannot serialize an answer");
            let t = r#"{"error":"internal error"}"#.to_owned();
            (StatusCode::INTERNAL_SERVER_ERROR, t)
        }
    };
    state.metrics.request(endpoint, status.as_u16());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

fn error(state: &AppState, endpoint: &'static str, status: StatusCode, msg: &str) -> Response {
    reply(state, endpoint, status, json!({ "error": msg }))
}

fn unauthorized(state: &AppState, endpoint: &'static str, why: AuthFailure) -> Response {
    state.metrics.auth_failure(why);
    error(state, endpoint, StatusCode::UNAUTHORIZED, why.as_str())
}

/// Reads a body up to `limit` bytes, hashing it as it comes: within the unverified-body
/// budget (`crate::body`), or outside it when `signed_head` (the request's signature was
/// already verified over the digest it declares); `Err` is the answer (413, 503, 408). A
/// declared length over the limit is refused before anything is read.
async fn read_body(
    state: &AppState,
    endpoint: &'static str,
    parts: &axum::http::request::Parts,
    body: Body,
    limit: usize,
    signed_head: bool,
) -> Result<ReadBody, Response> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        error(
            state,
            endpoint,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let peer = parts.extensions.get::<crate::api::Peer>().map(|p| p.0.ip());
    let m = &state.metrics;
    let read = if signed_head {
        state.unverified.read_signed(body, limit).await
    } else {
        state.unverified.read(peer, body, limit).await
    };
    match read {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(too_large()),
        Err(BodyError::Busy) => {
            m.unverified_refused.fetch_add(1, Relaxed);
            let mut r = error(
                state,
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many unauthenticated request bodies at once, retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(r)
        }
        Err(BodyError::Timeout) => {
            m.body_timeouts.fetch_add(1, Relaxed);
            let mut r = error(
                state,
                endpoint,
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(r)
        }
        Err(BodyError::Broken) => Err(error(
            state,
            endpoint,
            StatusCode::BAD_REQUEST,
            "the body could not be read",
        )),
    }
}

/// An authenticated request: the agent and the body as sent.
struct Signed {
    agent_id: String,
    host: String,
    body: Bytes,
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ()> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ()),
    }
}

/// Checks a signed request (docs/COLLECTOR.md "Signed requests"). Everything that can be
/// checked without the body is checked first: a request refused there has nothing of its
/// body read.
async fn authenticate(
    state: &AppState,
    endpoint: &'static str,
    req: Request,
    limit: usize,
) -> Result<Signed, Response> {
    let (parts, body) = req.into_parts();
    let h = &parts.headers;
    let fail = |why| unauthorized(state, endpoint, why);
    let get = |name| header_str(h, name).map_err(|_| fail(AuthFailure::MalformedHeader));
    let (Some(agent), Some(ts), Some(nonce), Some(sig)) = (
        get(wire::HEADER_AGENT)?,
        get(wire::HEADER_TIMESTAMP)?,
        get(wire::HEADER_NONCE)?,
        get(wire::HEADER_SIGNATURE)?,
    ) else {
        return Err(fail(AuthFailure::MissingHeader));
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return Err(fail(AuthFailure::MalformedHeader));
    };
    if !wire::valid_nonce(nonce)
        || sig.len() != 64
        || agent.is_empty()
        || agent.len() > 253
        || !agent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(fail(AuthFailure::MalformedHeader));
    }
    let t = now();
    // Signed before this collector started: its nonce may be one a crashed run accepted
    // and never saved (docs/COLLECTOR.md "Replay").
    if !wire::fresh(ts, t) || ts < state.started_at {
        return Err(fail(AuthFailure::StaleTimestamp));
    }
    let (secret, host) = match &state.config.auth {
        Auth::Shared { key } => (key.clone(), agent.to_owned()),
        Auth::Agents => {
            let id = agent.to_owned();
            let found = state
                .store
                .call(move |s| s.agent(&id))
                .await
                .map_err(|e| {
                    error(
                        state,
                        endpoint,
                        StatusCode::SERVICE_UNAVAILABLE,
                        &e.to_string(),
                    )
                })?
                .map_err(|e| {
                    tracing::error!("agent lookup failed: {e}");
                    error(
                        state,
                        endpoint,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store error",
                    )
                })?;
            match found {
                None => return Err(fail(AuthFailure::UnknownAgent)),
                Some(a) if a.revoked_at.is_some() => return Err(fail(AuthFailure::RevokedAgent)),
                Some(a) => match a.secret {
                    Some(s) => (s, a.host),
                    None => return Err(fail(AuthFailure::UnknownAgent)),
                },
            }
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let verify = |digest: &str| {
        wire::verify_digest(
            secret.as_bytes(),
            parts.method.as_str(),
            path,
            ts,
            nonce,
            digest,
            sig,
        )
    };
    let body = match get(wire::HEADER_CONTENT_SHA256)? {
        // A signed head: verified before a byte of the body is read, and admitted (rate
        // limit, replay cache) before the body is waited for; the body must then match.
        Some(declared) => {
            if !wire::valid_digest(declared) {
                return Err(fail(AuthFailure::MalformedHeader));
            }
            if !verify(declared) {
                return Err(fail(AuthFailure::BadSignature));
            }
            admit(state, endpoint, agent, nonce, ts, t)?;
            let read = read_body(state, endpoint, &parts, body, limit, true).await?;
            if !crate::auth::constant_time_eq(read.digest.as_bytes(), declared.as_bytes()) {
                return Err(fail(AuthFailure::BadSignature));
            }
            read.release()
        }
        // No digest in the head (agents before it was sent): the body is read within the
        // unverified budget first.
        None => {
            let read = read_body(state, endpoint, &parts, body, limit, false).await?;
            if !verify(&read.digest) {
                return Err(fail(AuthFailure::BadSignature));
            }
            // Verified: the body is the agent's now, out of the unverified budget.
            let body = read.release();
            admit(state, endpoint, agent, nonce, ts, t)?;
            body
        }
    };
    if matches!(state.config.auth, Auth::Shared { .. }) {
        let known = state
            .shared_known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(agent);
        if !known {
            let id = agent.to_owned();
            let r = state
                .store
                .call(move |s| s.register_shared_agent(&id, t))
                .await;
            if !matches!(r, Ok(Ok(()))) {
                return Err(error(
                    state,
                    endpoint,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store error",
                ));
            }
            state
                .shared_known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(agent.to_owned());
        }
    }
    Ok(Signed {
        agent_id: agent.to_owned(),
        host,
        body,
    })
}

/// Admits a verified request: the agent's rate limit first, so an agent's flood is refused
/// before it can fill its share of the replay cache (and never touches another agent's),
/// then the replay cache.
fn admit(
    state: &AppState,
    endpoint: &'static str,
    agent: &str,
    nonce: &str,
    ts: i64,
    now: i64,
) -> Result<(), Response> {
    limited(state, endpoint, agent)?;
    let check = state
        .nonces
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(agent, nonce, ts, now);
    match check {
        Check::New => Ok(()),
        Check::Replayed => Err(unauthorized(state, endpoint, AuthFailure::ReplayedNonce)),
        Check::AgentFull | Check::Full => {
            state.metrics.nonces_full.fetch_add(1, Relaxed);
            let mut r = error(
                state,
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests in the replay window",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            Err(r)
        }
    }
}

/// The 429 answer (with `Retry-After`) when the agent is over its rate for `endpoint`.
fn limited(state: &AppState, endpoint: &'static str, agent: &str) -> Result<(), Response> {
    let Err(secs) = state.rate_limit(endpoint, agent) else {
        return Ok(());
    };
    state.metrics.rate_limited.fetch_add(1, Relaxed);
    let mut r = error(
        state,
        endpoint,
        StatusCode::TOO_MANY_REQUESTS,
        "rate limited",
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Err(r)
}

async fn enroll(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "enroll";
    if matches!(state.config.auth, Auth::Shared { .. }) {
        return error(
            &state,
            EP,
            StatusCode::NOT_FOUND,
            "this collector uses a shared key: no enrolment",
        );
    }
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<crate::api::Peer>().map(|p| p.0.ip());
    if let Err(secs) = state.enroll_limiter.check(peer, Instant::now()) {
        state.metrics.enroll_limited.fetch_add(1, Relaxed);
        let mut r = error(
            &state,
            EP,
            StatusCode::TOO_MANY_REQUESTS,
            "too many enrolments, retry later",
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let body = match read_body(&state, EP, &parts, body, 4096, false).await {
        Ok(b) => b.release(),
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<wire::EnrolRequest>(&body) else {
        return error(
            &state,
            EP,
            StatusCode::BAD_REQUEST,
            "expected {\"token\", \"host\", \"version\"}",
        );
    };
    if b.host.is_empty() || b.host.len() > 253 || b.host.chars().any(char::is_control) {
        return error(&state, EP, StatusCode::BAD_REQUEST, "invalid host name");
    }
    let digest = sha256_hex(b.token.trim().as_bytes());
    let agent_id = random_hex(16);
    let secret = random_hex(32);
    let (id, sec) = (agent_id.clone(), secret.clone());
    let t = now();
    let r = state
        .store
        .call(move |s| s.redeem_enrol_token(&digest, t, &id, &b.host, &sec, b.version.as_deref()))
        .await;
    match r {
        Ok(Ok(TokenCheck::Redeemed)) => {
            state.metrics.enrolments.fetch_add(1, Relaxed);
            tracing::info!(agent = %agent_id, "agent enrolled");
            reply(
                &state,
                EP,
                StatusCode::OK,
                wire::EnrolAnswer { agent_id, secret },
            )
        }
        Ok(Ok(TokenCheck::Unknown)) => unauthorized(&state, EP, AuthFailure::TokenUnknown),
        Ok(Ok(TokenCheck::Used)) => unauthorized(&state, EP, AuthFailure::TokenUsed),
        Ok(Ok(TokenCheck::Expired)) => unauthorized(&state, EP, AuthFailure::TokenExpired),
        Ok(Err(e)) => {
            tracing::error!("enrolment failed: {e}");
            error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, "store error")
        }
        Err(e) => error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Decompresses a gzip body, stopping at `limit` bytes: `Ok(None)` when it is over.
fn gunzip(body: &[u8], limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)?;
    Ok((out.len() <= limit).then_some(out))
}

/// The identity rule: an agent speaks only for the host it enrolled as. `host.name` is
/// always the enrolled host (a different one the agent sent is kept as
/// `logward.claimed_host`, for a relay's sake, never used by rules) and `agent.id` the
/// authenticated agent, whatever the line said.
fn speaks_as(e: &mut Event<'_>, agent: &str, host: &str) {
    e.claimed_host = match e.host_name.take() {
        Some(claimed) if claimed != host => Some(claimed.into_owned().into()),
        _ => None,
    };
    e.host_name = Some(host.to_owned().into());
    e.agent_id = Some(agent.to_owned().into());
}

/// Parses the lines of one request into store items; rejected lines are counted with their
/// errors (the first few listed).
/// What parsing a request's lines counted besides its items.
#[derive(Debug, Default)]
struct LineCounts {
    rejected: u64,
    /// Lines over `limits.line_bytes` (also in `rejected`).
    oversized: u64,
    /// Text fields cut to `limits.field_bytes`.
    truncated: u64,
}

#[allow(clippy::too_many_arguments)]
fn parse_lines(
    text: &str,
    agent: &str,
    host: &str,
    t: i64,
    errors: &mut Vec<wire::LineError>,
    parsed: &mut Vec<Option<Event<'static>>>,
    state: &AppState,
    counts: &mut LineCounts,
) -> Vec<FleetItem> {
    let limits = &state.config.limits;
    let mut items = Vec::new();
    let mut buf = Vec::with_capacity(512);
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut event = None;
        let mut truncated = 0u32;
        let item = (|| -> Result<FleetItem, String> {
            if line.len() > limits.line_bytes {
                counts.oversized += 1;
                return Err(format!(
                    "the line is {} bytes, over the limit of {} (limits.line_bytes)",
                    line.len(),
                    limits.line_bytes
                ));
            }
            let l: wire::EventsLine<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
            let seq = i64::try_from(l.seq).map_err(|_| "seq: too large".to_owned())?;
            match (l.event, l.alert) {
                (Some(ev), None) => {
                    let mut e = event_from_str(ev.get()).map_err(|e| format!("event.{e}"))?;
                    speaks_as(&mut e, agent, host);
                    truncated = crate::truncate::event(&mut e, limits.field_bytes);
                    buf.clear();
                    write_event(&mut buf, &e);
                    let item = FleetItem::Event {
                        seq,
                        event: FleetEvent {
                            time: e.timestamp.map_or(t, |ts| ts.unix),
                            host: e.host_name.as_deref().map(str::to_owned),
                            action: e.action().as_str().to_owned(),
                            outcome: e.outcome.as_str().to_owned(),
                            source_ip: e.source_ip.map(|ip| ip.to_string()),
                            user: e.user_name.as_deref().map(str::to_owned),
                            json: String::from_utf8_lossy(&buf).into_owned(),
                        },
                    };
                    event = Some(e);
                    Ok(item)
                }
                (None, Some(al)) => {
                    let mut a = alert_from_str(al.get()).map_err(|e| format!("alert.{e}"))?;
                    speaks_as(&mut a.event, agent, host);
                    truncated = crate::truncate::alert(&mut a, limits.field_bytes);
                    Ok(FleetItem::Alert {
                        seq,
                        alert: NewAlert::from_alert(&a, t),
                        plan: alert_plan(&state.router, state.config.llm.as_ref(), &a),
                    })
                }
                _ => Err("expected exactly one of \"event\" and \"alert\"".to_owned()),
            }
        })();
        counts.truncated += u64::from(truncated);
        match item {
            Ok(it) => {
                items.push(it);
                parsed.push(event);
            }
            Err(msg) => {
                counts.rejected += 1;
                if errors.len() < MAX_ERRORS {
                    errors.push(wire::LineError {
                        line: i as u64 + 1,
                        error: msg,
                    });
                }
            }
        }
    }
    items
}

async fn events(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "events";
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let limits = state.config.limits;
    let signed = match authenticate(&state, EP, req, limits.body_bytes).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    state
        .metrics
        .bytes_received
        .fetch_add(signed.body.len() as u64, Relaxed);
    let host = signed.host.clone();
    let agent_id = signed.agent_id.clone();
    let t = now();
    let gzip = match encoding.as_deref() {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(_) => {
            return error(
                &state,
                EP,
                StatusCode::BAD_REQUEST,
                "content-encoding must be gzip or none",
            )
        }
    };
    let body = signed.body;
    let limit = limits.decompressed_bytes;
    // Room in the in-flight budget for what this body may decompress to, held until it is
    // stored; a request that finds none in time is answered 503.
    let want = if gzip { limit } else { body.len() }.clamp(1, limits.inflight_bytes);
    let inflight = tokio::time::timeout(
        Duration::from_secs(limits.body_read_secs),
        Arc::clone(&state.inflight).acquire_many_owned(u32::try_from(want).unwrap_or(u32::MAX)),
    )
    .await;
    let Ok(Ok(mut inflight)) = inflight else {
        state.metrics.inflight_refused.fetch_add(1, Relaxed);
        let mut r = error(
            &state,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "too much ingest in flight, retry later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let st = Arc::clone(&state);
    let Ok(permit) = state.parsers.acquire().await else {
        return error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    let parsed = tokio::task::spawn_blocking(move || {
        let plain = if gzip {
            match gunzip(&body, limit) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err((
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "decompressed body over the limit".to_owned(),
                    ))
                }
                Err(_) => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "the body is not valid gzip".to_owned(),
                    ))
                }
            }
        } else if body.len() > limit {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                "body over the limit".to_owned(),
            ));
        } else {
            body.to_vec()
        };
        let len = plain.len();
        let text = String::from_utf8(plain)
            .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not UTF-8".to_owned()))?;
        let n = text.split('\n').filter(|l| !l.trim().is_empty()).count();
        if n > st.config.limits.max_items {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{n} items in one request, over the limit of {} (limits.max_items): \
                     send smaller batches",
                    st.config.limits.max_items
                ),
            ));
        }
        let mut errors = Vec::new();
        let mut events = Vec::new();
        let mut counts = LineCounts::default();
        let items = parse_lines(
            &text,
            &agent_id,
            &host,
            t,
            &mut errors,
            &mut events,
            &st,
            &mut counts,
        );
        Ok((items, counts, errors, len, events))
    })
    .await;
    drop(permit);
    let (items, counts, errors, len, events) = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err((status, msg))) => {
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                state.metrics.oversized_requests.fetch_add(1, Relaxed);
            }
            return error(&state, EP, status, &msg);
        }
        Err(_) => {
            return error(
                &state,
                EP,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            )
        }
    };
    // Only what was decompressed stays in the budget until the items are stored.
    if let Some(extra) = inflight.split(inflight.num_permits().saturating_sub(len.max(1))) {
        drop(extra);
    }
    let m = &state.metrics;
    let rejected = counts.rejected;
    m.bytes_decompressed.fetch_add(len as u64, Relaxed);
    m.rejected_lines.fetch_add(rejected, Relaxed);
    m.oversized_lines.fetch_add(counts.oversized, Relaxed);
    m.truncated_fields.fetch_add(counts.truncated, Relaxed);
    let agent = signed.agent_id;
    // Fleet alerts are routed and analysed like forwarded ones.
    let plan_state = Arc::clone(&state);
    let plan: crate::store_thread::Planner = Arc::new(move |a: &logward_core::Alert| {
        alert_plan(&plan_state.router, plan_state.config.llm.as_ref(), a)
    });
    let stored = state
        .store
        .ingest(crate::store_thread::Ingest {
            agent,
            now: t,
            items,
            events,
            plan,
        })
        .await;
    let counts = match stored {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!("ingest failed: {e}");
            return error(
                &state,
                EP,
                StatusCode::SERVICE_UNAVAILABLE,
                "store error, retry later",
            );
        }
        Err(e) => return error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    if counts.alerts > 0 || counts.fleet_alerts > 0 {
        state.delivery_wake.notify_waiters();
        if let Some(w) = &state.llm_wake {
            w.notify_waiters();
        }
    }
    m.events_accepted.fetch_add(counts.events, Relaxed);
    m.alerts_accepted.fetch_add(counts.alerts, Relaxed);
    m.duplicates.fetch_add(counts.duplicates, Relaxed);
    m.fleet_alerts.fetch_add(counts.fleet_alerts, Relaxed);
    m.fleet_decisions.fetch_add(counts.fleet_decisions, Relaxed);
    m.ingested(counts.events + counts.alerts);
    drop(inflight);
    reply(
        &state,
        EP,
        StatusCode::OK,
        wire::EventsAnswer {
            accepted: counts.events + counts.alerts,
            duplicates: counts.duplicates,
            rejected,
            errors,
        },
    )
}

async fn heartbeat(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "heartbeat";
    let signed = match authenticate(&state, EP, req, SMALL_BODY).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<wire::HeartbeatBody>(&signed.body) else {
        return error(&state, EP, StatusCode::BAD_REQUEST, "invalid heartbeat");
    };
    let hb = Heartbeat {
        version: b.version,
        host: b.host,
        spool_items: b.spool_items,
        spool_bytes: b.spool_bytes,
        oldest_unsent: b.oldest_unsent,
    };
    let id = signed.agent_id;
    let t = now();
    match state
        .store
        .call(move |s| s.record_heartbeat(&id, t, &hb))
        .await
    {
        Ok(Ok(())) => {
            state.metrics.heartbeats.fetch_add(1, Relaxed);
            reply(&state, EP, StatusCode::OK, json!({}))
        }
        _ => error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, "store error"),
    }
}

async fn decisions(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "decisions";
    let since = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .map(str::parse::<i64>);
    let since = match since {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(&state, EP, StatusCode::BAD_REQUEST, "since: not an integer");
        }
    };
    if let Err(r) = authenticate(&state, EP, req, SMALL_BODY).await {
        return r;
    }
    let t = now();
    match state
        .store
        .call(move |s| {
            s.expire_decisions(t)?;
            s.decision_changes_after(since, 1000)
        })
        .await
    {
        Ok(Ok(list)) => {
            let next = list.last().map_or(since, |d| d.seq);
            let list: Vec<_> = list
                .into_iter()
                .map(|d| wire::DecisionChange {
                    id: Some(d.seq.into()),
                    decision_id: d.decision_id,
                    action: Some(d.op.as_str().into()),
                    target: d.target,
                    duration_secs: d.duration_secs,
                    reason: Some(d.reason),
                    rule_id: d.rule_id,
                    created_at: d.at,
                    expires_at: d.expires_at,
                })
                .collect();
            let answer = wire::DecisionsAnswer {
                decisions: list,
                next: Some(next.into()),
            };
            reply(&state, EP, StatusCode::OK, answer)
        }
        _ => error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, "store error"),
    }
}

async fn metrics(State(state): State<Arc<AppState>>, method: Method) -> Response {
    debug_assert_eq!(method, Method::GET);
    state.metrics.request("metrics", 200);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
