//! `POST /v1/events`: an agent's events and alerts as NDJSON (gzip or plain), parsed off the
//! async threads, bounded in bytes in flight, and handed to the store thread.

// A handler's refusal is its HTTP response, carried as the `Err` of the checks it runs.
#![allow(clippy::result_large_err)]

use std::io::Read as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use logward_core::json::write_event;
use logward_core::json_read::{alert_from_str, event_from_str};
use logward_core::wire;
use logward_core::Event;
use logward_store::{FleetEvent, FleetItem, IngestCounts, NewAlert};
use tokio::sync::OwnedSemaphorePermit;

use crate::llm::alert_plan;
use crate::reply::{error, reply, ErrorBody};
use crate::server::AppState;
use crate::signed::{authenticate, unavailable};
use crate::unix_now as now;

/// At most this many line errors are listed in an ingest answer.
const MAX_ERRORS: usize = 10;

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

/// What parsing a request's lines counted besides its items.
#[derive(Debug, Default)]
struct LineCounts {
    rejected: u64,
    /// Lines over `limits.line_bytes` (also in `rejected`).
    oversized: u64,
    /// Text fields cut to `limits.field_bytes`.
    truncated: u64,
}

/// The lines of one request, parsed.
#[derive(Default)]
struct Lines {
    items: Vec<FleetItem>,
    /// The parsed event of each item (`None` for alerts): what the fleet rules read.
    events: Vec<Option<Event<'static>>>,
    counts: LineCounts,
    /// The first [`MAX_ERRORS`] rejected lines.
    errors: Vec<wire::LineError>,
}

/// One accepted line: its store item, its event (`None` for an alert), the fields cut.
struct Line {
    item: FleetItem,
    event: Option<Event<'static>>,
    truncated: u32,
}

/// Parses the lines of one request into store items; rejected lines are counted with their
/// errors (the first few listed).
fn parse_lines(text: &str, agent: &str, host: &str, t: i64, state: &AppState) -> Lines {
    let limits = &state.config.limits;
    let mut lines = Lines::default();
    let mut buf = Vec::with_capacity(512);
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let parsed = if line.len() > limits.line_bytes {
            lines.counts.oversized += 1;
            Err(format!(
                "the line is {} bytes, over the limit of {} (limits.line_bytes)",
                line.len(),
                limits.line_bytes
            ))
        } else {
            parse_line(line, agent, host, t, state, &mut buf)
        };
        match parsed {
            Ok(l) => {
                lines.counts.truncated += u64::from(l.truncated);
                lines.items.push(l.item);
                lines.events.push(l.event);
            }
            Err(msg) => {
                lines.counts.rejected += 1;
                if lines.errors.len() < MAX_ERRORS {
                    lines.errors.push(wire::LineError {
                        line: i as u64 + 1,
                        error: msg,
                    });
                }
            }
        }
    }
    lines
}

/// Parses one line (an event or an alert) as spoken by `agent` for `host`; `buf` is
/// scratch space for the event's JSON.
fn parse_line(
    line: &str,
    agent: &str,
    host: &str,
    t: i64,
    state: &AppState,
    buf: &mut Vec<u8>,
) -> Result<Line, String> {
    let field_bytes = state.config.limits.field_bytes;
    let l: wire::EventsLine<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let seq = i64::try_from(l.seq).map_err(|_| "seq: too large".to_owned())?;
    match (l.event, l.alert) {
        (Some(ev), None) => {
            let mut e = event_from_str(ev.get()).map_err(|e| format!("event.{e}"))?;
            speaks_as(&mut e, agent, host);
            let truncated = crate::truncate::event(&mut e, field_bytes);
            buf.clear();
            write_event(buf, &e);
            let item = FleetItem::Event {
                seq,
                event: FleetEvent {
                    time: e.timestamp.map_or(t, |ts| ts.unix),
                    host: e.host_name.as_deref().map(str::to_owned),
                    action: e.action().as_str().to_owned(),
                    outcome: e.outcome.as_str().to_owned(),
                    source_ip: e.source_ip.map(|ip| ip.to_string()),
                    user: e.user_name.as_deref().map(str::to_owned),
                    json: String::from_utf8_lossy(buf).into_owned(),
                },
            };
            Ok(Line {
                item,
                event: Some(e),
                truncated,
            })
        }
        (None, Some(al)) => {
            let mut a = alert_from_str(al.get()).map_err(|e| format!("alert.{e}"))?;
            speaks_as(&mut a.event, agent, host);
            let truncated = crate::truncate::alert(&mut a, field_bytes);
            Ok(Line {
                item: FleetItem::Alert {
                    seq,
                    alert: NewAlert::from_alert(&a, t),
                    plan: alert_plan(&state.router, state.config.llm.as_ref(), &a),
                },
                event: None,
                truncated,
            })
        }
        _ => Err("expected exactly one of \"event\" and \"alert\"".to_owned()),
    }
}

/// Decompresses (when `gzip`) and parses a body of at most `limit` bytes; the number is the
/// decompressed length. `Err` is the status and message of the answer.
fn decode(
    body: &[u8],
    gzip: bool,
    limit: usize,
    state: &AppState,
    agent: &str,
    host: &str,
    t: i64,
) -> Result<(Lines, usize), (StatusCode, String)> {
    let plain = if gzip {
        match gunzip(body, limit) {
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
    if n > state.config.limits.max_items {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{n} items in one request, over the limit of {} (limits.max_items): \
                 send smaller batches",
                state.config.limits.max_items
            ),
        ));
    }
    Ok((parse_lines(&text, agent, host, t, state), len))
}

/// Room in the in-flight budget for `want` bytes, waited for at most `limits.body_read_secs`;
/// `Err` is the 503 answer.
async fn reserve(
    state: &AppState,
    endpoint: &'static str,
    want: usize,
) -> Result<OwnedSemaphorePermit, Response> {
    let inflight = tokio::time::timeout(
        Duration::from_secs(state.config.limits.body_read_secs),
        Arc::clone(&state.inflight).acquire_many_owned(u32::try_from(want).unwrap_or(u32::MAX)),
    )
    .await;
    let Ok(Ok(inflight)) = inflight else {
        state.metrics.inflight_refused.fetch_add(1, Relaxed);
        return Err(unavailable(
            state,
            endpoint,
            "too much ingest in flight, retry later",
            "1",
        ));
    };
    Ok(inflight)
}

#[utoipa::path(
    post,
    tag = "agents",
    path = "/v1/events",
    summary = "Ingest NDJSON lines of {seq, event} or {seq, alert} (gzip allowed).",
    request_body(content = String, content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "Stored.", body = wire::EventsAnswer),
        (status = 401, description = "Bad signature.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 429, description = "Rate limited.", body = ErrorBody),
    ),
    security(("agentSignature" = [])),
)]
pub(crate) async fn events(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "events";
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let signed = match authenticate(&state, EP, req, state.config.limits.body_bytes).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    ingest_signed(&state, EP, signed, encoding.as_deref()).await
}

/// Decompresses, parses and stores an authenticated batch (`encoding`: its
/// `content-encoding`), whatever carried it: the answer to `POST /v1/events`, which the NATS
/// consumer reads as the fate of its message (200 stored, 503 retry, else refused).
pub(crate) async fn ingest_signed(
    state: &Arc<AppState>,
    endpoint: &'static str,
    signed: crate::signed::Signed,
    encoding: Option<&str>,
) -> Response {
    let state = Arc::clone(state);
    let limits = state.config.limits;
    state
        .metrics
        .bytes_received
        .fetch_add(signed.body.len() as u64, Relaxed);
    let host = signed.host.clone();
    let agent_id = signed.agent_id.clone();
    let t = now();
    let gzip = match encoding {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(_) => {
            return error(
                &state,
                endpoint,
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
    let mut inflight = match reserve(&state, endpoint, want).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let st = Arc::clone(&state);
    let Ok(permit) = state.parsers.acquire().await else {
        return error(
            &state,
            endpoint,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
        );
    };
    let parsed =
        tokio::task::spawn_blocking(move || decode(&body, gzip, limit, &st, &agent_id, &host, t))
            .await;
    drop(permit);
    let (lines, len) = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err((status, msg))) => {
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                state.metrics.oversized_requests.fetch_add(1, Relaxed);
            }
            return error(&state, endpoint, status, &msg);
        }
        Err(_) => {
            return error(
                &state,
                endpoint,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            )
        }
    };
    // Only what was decompressed stays in the budget until the items are stored.
    if let Some(extra) = inflight.split(inflight.num_permits().saturating_sub(len.max(1))) {
        drop(extra);
    }
    let Lines {
        items,
        events,
        counts,
        errors,
    } = lines;
    let m = &state.metrics;
    let rejected = counts.rejected;
    m.bytes_decompressed.fetch_add(len as u64, Relaxed);
    m.rejected_lines.fetch_add(rejected, Relaxed);
    m.oversized_lines.fetch_add(counts.oversized, Relaxed);
    m.truncated_fields.fetch_add(counts.truncated, Relaxed);
    let agent = signed.agent_id;
    // With a rules leader, it counts the stream's batches (crate::rules_leader), not this.
    let rules = !(endpoint == crate::nats::ENDPOINT && crate::rules_leader::enabled(&state.config));
    let counts = match store_items(&state, endpoint, agent, t, items, events, rules).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    m.events_accepted.fetch_add(counts.events, Relaxed);
    m.alerts_accepted.fetch_add(counts.alerts, Relaxed);
    m.duplicates.fetch_add(counts.duplicates, Relaxed);
    m.fleet_alerts.fetch_add(counts.fleet_alerts, Relaxed);
    m.fleet_decisions.fetch_add(counts.fleet_decisions, Relaxed);
    if counts.fleet_decisions > 0 {
        state.decisions_changed();
    }
    m.ingested(counts.events + counts.alerts);
    drop(inflight);
    reply(
        &state,
        endpoint,
        StatusCode::OK,
        wire::EventsAnswer {
            accepted: counts.events + counts.alerts,
            duplicates: counts.duplicates,
            rejected,
            errors,
        },
    )
}

/// The events of an authenticated batch, with their `seq`, decoded as [`ingest_signed`]
/// decodes them (the same limits, the same host and agent stamped): what the fleet rules
/// leader counts. Rejected lines are left out, as ingest leaves them out; `Err` when the
/// whole batch would be refused.
pub(crate) async fn decode_events(
    state: &Arc<AppState>,
    signed: crate::signed::Signed,
    encoding: Option<&str>,
) -> Result<Vec<(i64, Event<'static>)>, String> {
    let gzip = match encoding {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(_) => return Err("content-encoding must be gzip or none".into()),
    };
    let st = Arc::clone(state);
    let limit = state.config.limits.decompressed_bytes;
    let crate::signed::Signed {
        agent_id,
        host,
        body,
    } = signed;
    let t = now();
    let (lines, _) =
        tokio::task::spawn_blocking(move || decode(&body, gzip, limit, &st, &agent_id, &host, t))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|(_, msg)| msg)?;
    Ok(lines
        .items
        .iter()
        .zip(lines.events)
        .filter_map(|(item, e)| Some((item.seq()?, e?)))
        .collect())
}

/// Hands the items to the store thread (the fleet rules run there) and wakes the delivery
/// workers and the analyst when alerts were stored; `Err` is the 503 answer.
async fn store_items(
    state: &Arc<AppState>,
    endpoint: &'static str,
    agent: String,
    t: i64,
    items: Vec<FleetItem>,
    events: Vec<Option<Event<'static>>>,
    rules: bool,
) -> Result<IngestCounts, Response> {
    // Fleet alerts are routed and analysed like forwarded ones.
    let plan_state = Arc::clone(state);
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
            rules,
        })
        .await;
    let counts = match stored {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!("ingest failed: {e}");
            return Err(error(
                state,
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                "store error, retry later",
            ));
        }
        Err(e) => {
            return Err(error(
                state,
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
            ))
        }
    };
    if counts.alerts > 0 || counts.fleet_alerts > 0 {
        state.delivery_wake.notify_waiters();
        if let Some(w) = &state.llm_wake {
            w.notify_waiters();
        }
    }
    Ok(counts)
}
