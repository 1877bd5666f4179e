//! The JSON answers of the agents' endpoints, counted in the metrics.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::metrics::AuthFailure;
use crate::server::AppState;

pub(crate) fn reply(
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

pub(crate) fn error(
    state: &AppState,
    endpoint: &'static str,
    status: StatusCode,
    msg: &str,
) -> Response {
    reply(state, endpoint, status, ErrorBody { error: msg })
}

/// The body of every error answer (the `Error` schema of the OpenAPI document).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody<'a> {
    /// What was wrong, for a person.
    pub error: &'a str,
}

pub(crate) fn unauthorized(state: &AppState, endpoint: &'static str, why: AuthFailure) -> Response {
    state.metrics.auth_failure(why);
    error(state, endpoint, StatusCode::UNAUTHORIZED, why.as_str())
}
