//! `POST /v1/heartbeat`: an agent's version and spool, shown on the fleet page.

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
use crate::signed::authenticate;
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
