//! `POST /v1/heartbeat`: an agent's version and spool, shown on the fleet page; the same
//! heartbeat from NATS (`logward.heartbeat.<agent>`, core NATS: every collector with `nats:`
//! subscribes), signed as `POST /v1/heartbeat` and checked the same way ([`record`]).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use logward_core::wire;
use logward_store::Heartbeat;
use serde_json::json;

use crate::reply::{error, reply, ErrorBody};
use crate::server::{AppState, SMALL_BODY};
use crate::signed::{authenticate, authenticate_held_as, Arrival, Signed};
use crate::unix_now as now;

#[utoipa::path(
    post,
    tag = "agents",
    path = "/v1/heartbeat",
    summary = "An agent's heartbeat: version, spool size, oldest unsent item.",
    request_body = wire::HeartbeatBody,
    responses(
        (status = 200, description = "Recorded.", body = Object),
        (status = 401, description = "Bad signature.", body = ErrorBody),
    ),
    security(("agentSignature" = [])),
)]
pub(crate) async fn heartbeat(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "heartbeat";
    match authenticate(&state, EP, req, SMALL_BODY).await {
        Ok(s) => record(&state, EP, s).await,
        Err(r) => r,
    }
}

/// Records an authenticated heartbeat (HTTP or NATS) and answers as the endpoint does.
async fn record(state: &Arc<AppState>, endpoint: &'static str, signed: Signed) -> Response {
    let Ok(b) = serde_json::from_slice::<wire::HeartbeatBody>(&signed.body) else {
        return error(
            state,
            endpoint,
            StatusCode::BAD_REQUEST,
            "invalid heartbeat",
        );
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
            reply(state, endpoint, StatusCode::OK, json!({}))
        }
        _ => error(
            state,
            endpoint,
            StatusCode::SERVICE_UNAVAILABLE,
            "store error",
        ),
    }
}

/// The endpoint NATS heartbeats are counted under in `/metrics`.
pub const NATS_ENDPOINT: &str = "nats_heartbeat";

/// Subscribes to every agent's NATS heartbeats (reconnecting with backoff) until `shutdown`.
pub fn start_nats(
    state: Arc<AppState>,
    cfg: crate::config::NatsConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = logward_core::backoff::Backoff::new(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(10),
        );
        loop {
            tokio::select! {
                r = subscribe(&state, &cfg) => {
                    tracing::warn!(error = %r, "nats: heartbeat subscription stopped; reconnecting");
                }
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_wait()) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Handles heartbeats until the subscription fails; why.
async fn subscribe(state: &Arc<AppState>, cfg: &crate::config::NatsConfig) -> String {
    use futures_util::StreamExt as _;
    let client = match logward_core::nats::connect(
        &cfg.connect,
        "logward-collector heartbeats",
        false,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut sub = match client
        .subscribe(logward_core::nats::HEARTBEAT_SUBJECTS)
        .await
    {
        Ok(s) => s,
        Err(e) => return format!("subscribe: {e}"),
    };
    while let Some(m) = sub.next().await {
        let headers = crate::nats::http_headers(m.headers.as_ref());
        let agent = logward_core::nats::heartbeat_agent(m.subject.as_str());
        let signed_as = (
            logward_core::nats::HEARTBEAT_METHOD,
            logward_core::nats::HEARTBEAT_PATH,
        );
        let how = Arrival::Http { now: now() };
        let answer = match authenticate_held_as(
            state,
            NATS_ENDPOINT,
            &headers,
            agent,
            m.payload.clone(),
            how,
            signed_as,
        )
        .await
        {
            Ok(signed) => record(state, NATS_ENDPOINT, signed).await,
            Err(r) => r,
        };
        if answer.status() != StatusCode::OK {
            tracing::debug!(subject = %m.subject, status = %answer.status(), "nats: heartbeat refused");
        }
    }
    "the subscription ended".into()
}
