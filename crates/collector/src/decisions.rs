//! `GET /v1/decisions`: the fleet's ban decisions changed after a cursor; `GET
//! /v1/decisions/key`: the public key that signs them on NATS (crate::nats_decisions).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use logward_core::wire;

use crate::reply::{error, reply, ErrorBody};
use crate::server::{AppState, SMALL_BODY};
use crate::signed::authenticate;
use crate::unix_now as now;

#[utoipa::path(
    get,
    tag = "agents",
    path = "/v1/decisions",
    summary = "Fleet ban decisions after an id (agents poll this).",
    params(("since" = Option<i64>, Query, description = "Only decisions with a higher id.")),
    responses(
        (status = 200, description = "Decisions.", body = wire::DecisionsAnswer),
        (status = 401, description = "Bad signature.", body = ErrorBody),
    ),
    security(("agentSignature" = [])),
)]
pub(crate) async fn decisions(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "decisions";
    let since = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()))
        .and_then(|mut pairs| pairs.find(|(k, _)| k == "since"))
        .map(|(_, v)| v.parse::<i64>());
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
            let list: Vec<_> = list.into_iter().map(to_wire).collect();
            let answer = wire::DecisionsAnswer {
                decisions: list,
                next: Some(next.into()),
            };
            reply(&state, EP, StatusCode::OK, answer)
        }
        _ => error(&state, EP, StatusCode::SERVICE_UNAVAILABLE, "store error"),
    }
}

/// A change of the log as agents get it, polled or from NATS.
pub(crate) fn to_wire(d: logward_store::DecisionChange) -> wire::DecisionChange {
    wire::DecisionChange {
        id: Some(d.seq.into()),
        decision_id: d.decision_id,
        action: Some(d.op.as_str().into()),
        target: d.target,
        duration_secs: d.duration_secs,
        reason: Some(d.reason),
        rule_id: d.rule_id,
        created_at: d.at,
        expires_at: d.expires_at,
    }
}

#[utoipa::path(
    get,
    tag = "agents",
    path = "/v1/decisions/key",
    summary = "The public key that signs the fleet decisions published on NATS (agents pin it).",
    responses(
        (status = 200, description = "The key.", body = wire::DecisionsKey),
        (status = 401, description = "Bad signature.", body = ErrorBody),
        (status = 404, description = "This collector does not publish decisions on NATS.", body = ErrorBody),
    ),
    security(("agentSignature" = [])),
)]
pub(crate) async fn decisions_key(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "decisions_key";
    if let Err(r) = authenticate(&state, EP, req, SMALL_BODY).await {
        return r;
    }
    match &state.decision_key {
        Some(k) => reply(
            &state,
            EP,
            StatusCode::OK,
            wire::DecisionsKey {
                algorithm: "ed25519".into(),
                key: k.public_hex(),
            },
        ),
        None => error(
            &state,
            EP,
            StatusCode::NOT_FOUND,
            "this collector does not publish decisions on NATS",
        ),
    }
}
