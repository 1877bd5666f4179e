//! `POST /v1/enroll`: an agent trades a one-time token for its id and secret.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use logward_core::wire;
use logward_store::TokenCheck;

use crate::config::Auth;
use crate::metrics::AuthFailure;
use crate::reply::{error, reply, unauthorized, ErrorBody};
use crate::server::AppState;
use crate::signed::read_body;
use crate::unix_now as now;
use crate::{random_hex, sha256_hex};

#[utoipa::path(
    post,
    tag = "agents",
    path = "/v1/enroll",
    summary = "Redeem a one-time enrolment token for an agent id and secret.",
    request_body = wire::EnrolRequest,
    responses(
        (status = 200, description = "Enrolled.", body = wire::EnrolAnswer),
        (status = 401, description = "Unknown, used or expired token.", body = ErrorBody),
    ),
)]
pub(crate) async fn enroll(State(state): State<Arc<AppState>>, req: Request) -> Response {
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
                wire::EnrolAnswer {
                    agent_id,
                    secret,
                    decisions_key: state.decision_key.as_ref().map(|k| k.public_hex()),
                },
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
