//! The HTTP server: the state the handlers share, the routes (served over HTTP/1.1 and
//! HTTP/2 by `crate::listener`, plain or TLS with tokio-rustls and ring), starting and
//! stopping. The handlers of docs/COLLECTOR.md are in `enroll`, `ingest`, `heartbeat` and
//! `decisions` (signed requests: `signed`); the background tasks in `background`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use logward_core::wire;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::background::start_background;
use crate::body::Unverified;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::Error;

/// How much of an enrolment or heartbeat body is read.
pub(crate) const SMALL_BODY: usize = 64 * 1024;
/// The `meta` key the replay cache is saved under at shutdown.
const NONCES_META: &str = "collector.replay_cache";
/// Signed endpoints, each with its own rate bucket per agent.
const SIGNED_ENDPOINTS: usize = 3;

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
    pub(crate) nonces: Mutex<crate::nonces::Nonces>,
    /// The budget of bodies read before their signature is checked.
    pub(crate) unverified: Unverified,
    /// Unix time this collector started: requests signed before it are refused.
    pub(crate) started_at: i64,
    /// `POST /v1/enroll` per address and in all.
    pub(crate) enroll_limiter: crate::enroll_limit::EnrollLimiter,
    buckets: Mutex<HashMap<String, Bucket>>,
    pub(crate) shared_known: Mutex<HashSet<String>>,
    /// Dashboard sessions.
    pub sessions: crate::auth::Sessions,
    /// Failed dashboard logins per address and user name.
    pub login_limiter: crate::auth::LoginLimiter,
    /// Which notifiers get an alert (the `notify.routes`).
    pub(crate) router: logward_notify::route::Router,
    /// Woken after an ingest stored alerts: the delivery workers.
    pub(crate) delivery_wake: Arc<tokio::sync::Notify>,
    /// Woken after an ingest stored alerts: the LLM analyst.
    pub(crate) llm_wake: Option<Arc<tokio::sync::Notify>>,
    /// Decompressed bytes of requests being parsed or waiting for the store
    /// (`limits.inflight_bytes`).
    pub(crate) inflight: Arc<tokio::sync::Semaphore>,
    /// Bodies decompressed and parsed at once: one core fewer than the machine has, so the
    /// store thread — the bottleneck — is never starved by a crowd of parsers.
    pub(crate) parsers: tokio::sync::Semaphore,
    /// The fleet's key that signs the decisions published on NATS (`nats:` only).
    pub(crate) decision_key: Option<logward_core::nats::DecisionKey>,
    /// Woken after a decision was committed here: the NATS decisions publisher.
    pub(crate) decisions_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Says a decision change was committed (the publisher also looks on its own, for the
    /// changes other processes make).
    pub(crate) fn decisions_changed(&self) {
        self.decisions_wake.notify_one();
    }
}

impl AppState {
    /// Takes a token from the agent's bucket for `endpoint` (each signed endpoint has its
    /// own, so polling decisions never costs an ingest its slot), or says how many seconds
    /// until one is there. Only authenticated agents get buckets, so the map is bounded by
    /// the fleet.
    pub(crate) fn rate_limit(&self, endpoint: &'static str, agent: &str) -> Result<(), u64> {
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
    /// Where the Beats input listens, when configured.
    pub beats_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Delivery workers and the LLM analyst.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Their store connection, dropped after them off the runtime.
    background_store: Option<logward_notify::deliver::SharedStore>,
    /// This collector's heartbeat row (crate::presence): deleted at a clean stop.
    presence: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, stops delivery and analysis (what is undelivered stays
    /// in the outbox), and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // Its row deleted (bounded: a store that does not answer leaves a row that ages).
        let _ = tokio::time::timeout(Duration::from_secs(5), self.presence).await;
        let saved = self
            .state
            .store
            .call_with_rules(|s, r| r.save(s, now()))
            .await;
        if let Ok(Err(e)) = saved {
            tracing::error!("{e}");
        }
        for t in &self.background {
            t.abort();
        }
        for t in self.background {
            let _ = t.await;
        }
        if let Some(s) = self.background_store {
            let _ = tokio::task::spawn_blocking(move || drop(s)).await;
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
        ("/v1/enroll", Method::POST, post(crate::enroll::enroll)),
        ("/v1/events", Method::POST, post(crate::ingest::events)),
        (
            "/v1/heartbeat",
            Method::POST,
            post(crate::heartbeat::heartbeat),
        ),
        (
            "/v1/decisions",
            Method::GET,
            get(crate::decisions::decisions),
        ),
        (
            "/v1/decisions/key",
            Method::GET,
            get(crate::decisions::decisions_key),
        ),
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
    let _ = metrics.backend.set(crate::presence::backend(&config.store));
    // Opened off the async runtime: PostgreSQL's sync client runs its own.
    let (at, rules, anomaly, m) = (
        crate::StoreAt::from(&config),
        config.rules.clone(),
        config.anomaly.clone(),
        metrics.clone(),
    );
    let store =
        tokio::task::spawn_blocking(move || StoreHandle::open_fleet(at, &rules, anomaly, m))
            .await
            .map_err(|_| Error::StoreGone)??;
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
    let (mut background, llm_wake, background_store) = {
        let (c, m, w) = (config.clone(), metrics.clone(), delivery_wake.clone());
        tokio::task::spawn_blocking(move || start_background(&c, &m, &w))
            .await
            .map_err(|_| Error::StoreGone)??
    };
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
    let decision_key = match &config.nats {
        Some(_) => Some(crate::nats_decisions::load_key(&store).await?),
        None => None,
    };
    let started_at = now();
    let state = Arc::new(AppState {
        decision_key,
        decisions_wake: Arc::new(tokio::sync::Notify::new()),
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
    crate::background::spawn_rules_saver(state.clone(), shutdown.subscribe());
    crate::background::spawn_retention_purge(state.clone(), shutdown.subscribe());
    let beats_addr = match &state.config.beats {
        Some(b) => {
            // Checked when the config loaded, its paths made relative to the config file's
            // folder then: absolute, or relative to the working directory when the config was
            // named by a relative path, so they are not joined to anything again.
            let b = b
                .check(std::path::Path::new(""))
                .map_err(|e| Error::Config(format!("beats: {}", e.join("; "))))?;
            let (addr, task) = crate::beats::start(state.clone(), b, shutdown.subscribe()).await?;
            tracing::info!(%addr, "beats: listening");
            background.push(task);
            Some(addr)
        }
        None => None,
    };
    if let Some(n) = &state.config.nats {
        background.push(crate::nats::start(
            state.clone(),
            n.clone(),
            shutdown.subscribe(),
        ));
        background.push(crate::heartbeat::start_nats(
            state.clone(),
            n.clone(),
            shutdown.subscribe(),
        ));
        background.push(crate::nats_decisions::start(
            state.clone(),
            n.clone(),
            shutdown.subscribe(),
        ));
        if crate::rules_leader::enabled(&state.config) {
            background.push(crate::rules_leader::start(
                state.clone(),
                n.clone(),
                shutdown.subscribe(),
            ));
        }
    }
    let listen = std::iter::once(addr)
        .chain(beats_addr)
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let presence = crate::presence::start(state.clone(), listen, shutdown.subscribe());
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
        beats_addr,
        state,
        shutdown,
        task,
        background,
        background_store,
        presence,
    })
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
