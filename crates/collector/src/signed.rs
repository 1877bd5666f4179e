//! Signed requests (docs/COLLECTOR.md "Signed requests"): the headers, the agent's secret,
//! the body read against its declared digest, the rate limit and the replay cache.

// A handler's refusal is its HTTP response, carried as the `Err` of the checks it runs.
#![allow(clippy::result_large_err)]

use logward_core::nats as lnats;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use logward_core::wire;
use logward_store::Agent;

use crate::body::{BodyError, ReadBody};
use crate::config::Auth;
use crate::metrics::AuthFailure;
use crate::nonces::Check;
use crate::reply::{error, unauthorized};
use crate::server::AppState;
use crate::unix_now as now;

/// Reads a body up to `limit` bytes, hashing it as it comes: within the unverified-body
/// budget (`crate::body`), or outside it when `signed_head` (the request's signature was
/// already verified over the digest it declares); `Err` is the answer (413, 503, 408). A
/// declared length over the limit is refused before anything is read.
pub(crate) async fn read_body(
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
            Err(unavailable(
                state,
                endpoint,
                "too many unauthenticated request bodies at once, retry later",
                "1",
            ))
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
pub(crate) struct Signed {
    pub agent_id: String,
    pub host: String,
    pub body: Bytes,
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ()> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ()),
    }
}

/// The signature headers of a request, well-formed.
struct Head<'h> {
    agent: &'h str,
    ts: i64,
    nonce: &'h str,
    sig: &'h str,
}

/// Reads the signature headers: all present, each well-formed (`Err` is the 401 answer).
fn head<'h>(
    state: &AppState,
    endpoint: &'static str,
    h: &'h HeaderMap,
) -> Result<Head<'h>, Response> {
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
    Ok(Head {
        agent,
        ts,
        nonce,
        sig,
    })
}

/// How a signed batch's freshness and replay are judged: an HTTP request against this
/// collector's clock and run; a NATS message against the time the stream stored it (it may
/// wait there longer than the skew window), its nonce tied to its stream sequence (a
/// redelivery is the same stored message, not a replay; a re-publish is a new one).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arrival {
    Http { now: i64 },
    Nats { stored: i64, stream_seq: u64 },
}

/// The freshness check of [`Arrival`] (docs/COLLECTOR.md "Replay").
fn fresh(state: &AppState, endpoint: &'static str, ts: i64, how: Arrival) -> Result<(), Response> {
    let ok = match how {
        // Signed before this collector started: its nonce may be one a crashed run accepted
        // and never saved (docs/COLLECTOR.md "Replay").
        Arrival::Http { now } => wire::fresh(ts, now) && ts >= state.started_at,
        // The server's clock: it stamped the message when it stored it.
        Arrival::Nats { stored, .. } => wire::fresh(ts, stored),
    };
    if ok {
        Ok(())
    } else {
        Err(unauthorized(state, endpoint, AuthFailure::StaleTimestamp))
    }
}

/// Checks a signed request (docs/COLLECTOR.md "Signed requests"). Everything that can be
/// checked without the body is checked first: a request refused there has nothing of its
/// body read.
pub(crate) async fn authenticate(
    state: &AppState,
    endpoint: &'static str,
    req: Request,
    limit: usize,
) -> Result<Signed, Response> {
    let (parts, body) = req.into_parts();
    let h = &parts.headers;
    let fail = |why| unauthorized(state, endpoint, why);
    let get = |name| header_str(h, name).map_err(|_| fail(AuthFailure::MalformedHeader));
    let head = head(state, endpoint, h)?;
    let t = now();
    let how = Arrival::Http { now: t };
    fresh(state, endpoint, head.ts, how)?;
    let (secret, host) = agent_secret(state, endpoint, head.agent).await?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let verify = |digest: &str| verified(&secret, parts.method.as_str(), path, &head, digest);
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
            admit(state, endpoint, &head, how)?;
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
            admit(state, endpoint, &head, how)?;
            body
        }
    };
    if matches!(state.config.auth, Auth::Shared { .. }) {
        register_shared(state, endpoint, head.agent, t).await?;
    }
    Ok(Signed {
        agent_id: head.agent.to_owned(),
        host,
        body,
    })
}

/// Checks a signed batch whose body is already held (a NATS message: `headers` are its
/// headers, `subject_agent` the agent its subject names) exactly as [`authenticate`] checks
/// a request to `POST /v1/events`: the same headers, the same signature over the same
/// canonical text, the same size bound, the same refusals counted the same way. The agent of
/// the subject must be the signed one: an agent cannot publish for another.
pub(crate) async fn authenticate_held(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    subject_agent: Option<&str>,
    body: Bytes,
    how: Arrival,
) -> Result<Signed, Response> {
    let events = (lnats::SIGNED_METHOD, lnats::SIGNED_PATH);
    authenticate_held_as(state, endpoint, headers, subject_agent, body, how, events).await
}

/// [`authenticate_held`] of a message signed as the request `signed_as` (method, path): a
/// heartbeat on NATS is signed as `POST /v1/heartbeat`.
pub(crate) async fn authenticate_held_as(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    subject_agent: Option<&str>,
    body: Bytes,
    how: Arrival,
    signed_as: (&str, &str),
) -> Result<Signed, Response> {
    let (head, host) = check_held(
        state,
        endpoint,
        headers,
        subject_agent,
        &body,
        how,
        signed_as,
    )
    .await?;
    admit(state, endpoint, &head, how)?;
    if matches!(state.config.auth, Auth::Shared { .. }) {
        register_shared(state, endpoint, head.agent, now()).await?;
    }
    Ok(Signed {
        agent_id: head.agent.to_owned(),
        host,
        body,
    })
}

/// The agents a batch may be signed by, looked up before the checks: the fleet rules leader
/// looks a pass's agents up once on its own store connection (crate::rules_leader), not one
/// by one through the store thread, whose queue is the ingest's. An agent absent from the
/// map is unknown.
pub(crate) type KnownAgents = HashMap<String, Option<Agent>>;

/// The fleet rules leader's check of a batch the ingest consumers judge too
/// (crate::rules_leader): the same headers, freshness, agent, size and signature as
/// [`authenticate_held`], the agent's row taken from `agents`, without taking its nonce
/// (the ingest consumer takes it; the leader counts an agent's `seq` once instead) or
/// registering a shared-key host.
pub(crate) fn verify_held(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    subject_agent: Option<&str>,
    body: Bytes,
    how: Arrival,
    agents: &KnownAgents,
) -> Result<Signed, Response> {
    let head = held_head(state, endpoint, headers, subject_agent, how)?;
    let found = agents.get(head.agent).and_then(Option::as_ref);
    let (secret, host) = secret_of(state, endpoint, head.agent, found)?;
    let events = (lnats::SIGNED_METHOD, lnats::SIGNED_PATH);
    held_signature(state, endpoint, headers, &body, &head, &secret, events)?;
    Ok(Signed {
        agent_id: head.agent.to_owned(),
        host,
        body,
    })
}

/// [`authenticate_held`]'s checks but the replay cache: the head and the agent's host.
async fn check_held<'h>(
    state: &AppState,
    endpoint: &'static str,
    headers: &'h HeaderMap,
    subject_agent: Option<&str>,
    body: &Bytes,
    how: Arrival,
    signed_as: (&str, &str),
) -> Result<(Head<'h>, String), Response> {
    let head = held_head(state, endpoint, headers, subject_agent, how)?;
    let (secret, host) = agent_secret(state, endpoint, head.agent).await?;
    held_signature(state, endpoint, headers, body, &head, &secret, signed_as)?;
    Ok((head, host))
}

/// A held batch's checks before its agent is looked up: the head, the subject's agent and
/// the freshness.
fn held_head<'h>(
    state: &AppState,
    endpoint: &'static str,
    headers: &'h HeaderMap,
    subject_agent: Option<&str>,
    how: Arrival,
) -> Result<Head<'h>, Response> {
    let head = head(state, endpoint, headers)?;
    // The signature does not cover the subject: a message on another agent's subject is
    // refused as a forgery would be.
    if subject_agent != Some(head.agent) {
        return Err(unauthorized(state, endpoint, AuthFailure::BadSignature));
    }
    fresh(state, endpoint, head.ts, how)?;
    Ok(head)
}

/// A held batch's checks with its agent's `secret`: the size, the declared digest and the
/// signature over `method path`.
fn held_signature(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    body: &Bytes,
    head: &Head<'_>,
    secret: &str,
    (method, path): (&str, &str),
) -> Result<(), Response> {
    let fail = |why| unauthorized(state, endpoint, why);
    let limit = state.config.limits.body_bytes;
    if body.len() > limit {
        return Err(error(
            state,
            endpoint,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over {limit} bytes"),
        ));
    }
    let digest = wire::body_digest(body);
    if let Some(declared) = header_str(headers, wire::HEADER_CONTENT_SHA256)
        .map_err(|_| fail(AuthFailure::MalformedHeader))?
    {
        if !crate::auth::constant_time_eq(digest.as_bytes(), declared.as_bytes()) {
            return Err(fail(AuthFailure::BadSignature));
        }
    }
    if !verified(secret, method, path, head, &digest) {
        return Err(fail(AuthFailure::BadSignature));
    }
    Ok(())
}

/// Whether `head`'s signature is the agent's (`secret`) over `method path` and the body's
/// `digest`; constant time (wire::verify_digest).
fn verified(secret: &str, method: &str, path: &str, head: &Head<'_>, digest: &str) -> bool {
    wire::verify_digest(
        secret.as_bytes(),
        method,
        path,
        head.ts,
        head.nonce,
        digest,
        head.sig,
    )
}

/// The secret the request must be signed with and the host the agent speaks for: the
/// shared key and the agent's own name, or the enrolled agent's (not revoked).
async fn agent_secret(
    state: &AppState,
    endpoint: &'static str,
    agent: &str,
) -> Result<(String, String), Response> {
    let found = match &state.config.auth {
        Auth::Shared { .. } => None,
        Auth::Agents => {
            let id = agent.to_owned();
            state
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
                })?
        }
    };
    secret_of(state, endpoint, agent, found.as_ref())
}

/// [`agent_secret`] of an agent whose row (`found`) was looked up already.
fn secret_of(
    state: &AppState,
    endpoint: &'static str,
    agent: &str,
    found: Option<&Agent>,
) -> Result<(String, String), Response> {
    let fail = |why| unauthorized(state, endpoint, why);
    Ok(match &state.config.auth {
        Auth::Shared { key } => (key.clone(), agent.to_owned()),
        Auth::Agents => match found {
            None => return Err(fail(AuthFailure::UnknownAgent)),
            Some(a) if a.revoked_at.is_some() => return Err(fail(AuthFailure::RevokedAgent)),
            Some(a) => match &a.secret {
                Some(s) => (s.clone(), a.host.clone()),
                None => return Err(fail(AuthFailure::UnknownAgent)),
            },
        },
    })
}

/// A shared-key agent seen for the first time is registered (the fleet page lists it).
async fn register_shared(
    state: &AppState,
    endpoint: &'static str,
    agent: &str,
    t: i64,
) -> Result<(), Response> {
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
    Ok(())
}

/// Admits a verified request: the agent's rate limit first, so an agent's flood is refused
/// before it can fill its share of the replay cache (and never touches another agent's),
/// then the replay cache. A NATS message has no rate limit (the collector pulls at its own
/// pace), and its nonce is tied to the stream message that brought it.
fn admit(
    state: &AppState,
    endpoint: &'static str,
    head: &Head<'_>,
    how: Arrival,
) -> Result<(), Response> {
    let t = match how {
        Arrival::Http { now } => {
            limited(state, endpoint, head.agent)?;
            now
        }
        Arrival::Nats { .. } => now(),
    };
    let mut nonces = state.nonces.lock().unwrap_or_else(|p| p.into_inner());
    let check = match how {
        Arrival::Http { .. } => nonces.check(head.agent, head.nonce, head.ts, t),
        Arrival::Nats { stream_seq, .. } => {
            nonces.check_message(head.agent, head.nonce, head.ts, t, stream_seq)
        }
    };
    drop(nonces);
    match check {
        Check::New => Ok(()),
        Check::Replayed => Err(unauthorized(state, endpoint, AuthFailure::ReplayedNonce)),
        Check::AgentFull | Check::Full => {
            state.metrics.nonces_full.fetch_add(1, Relaxed);
            Err(unavailable(
                state,
                endpoint,
                "too many requests in the replay window",
                "60",
            ))
        }
    }
}

/// A 503 with `Retry-After: retry_after` (seconds): the collector is busy, the request
/// itself was fine and may be sent again unchanged.
pub(crate) fn unavailable(
    state: &AppState,
    endpoint: &'static str,
    msg: &str,
    retry_after: &'static str,
) -> Response {
    let mut r = error(state, endpoint, StatusCode::SERVICE_UNAVAILABLE, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
    r
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
