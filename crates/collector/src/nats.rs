//! Agents' batches from NATS JetStream (`nats:`; docs/COLLECTOR.md "NATS JetStream",
//! docs/SCALE.md). The collector creates (or binds to) the stream of `logward.events.>` and
//! one durable pull consumer that every collector process shares, so each message goes to
//! one of them and another takes over when one dies.
//!
//! Each message is judged exactly as a `POST /v1/events` is (signed.rs `authenticate_held`,
//! ingest.rs `ingest_signed`, the same refusals counted the same way under the endpoint
//! `nats`), and its fate follows the answer: stored (`200`) → acknowledged, and only then,
//! after the store thread committed it; busy (`503`, a store error) → delivered again later;
//! refused (`4xx`) → terminated, never delivered again. A message delivered twice (a
//! collector died before its ack reached the server) is stored once: ingest is idempotent
//! by (agent, seq), and the second one counts as duplicates.
//!
//! That idempotence needs no order (the store keeps each agent's stored seq ranges,
//! store/collector/seqs.rs), so the consumer lets `max_in_flight` messages be out at once
//! over all collectors (`max_ack_pending`), and each collector handles as many at once: their
//! ingests meet in the store thread's queue and commit together (group commit). Several
//! collectors share the stream's load (docs/SCALE.md).
//!
//! With the PostgreSQL store these messages are stored without the fleet rules: the rules
//! leader counts the stream from a consumer of its own (crate::rules_leader).

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream, AckKind};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use futures_util::StreamExt as _;
use logward_core::backoff::Backoff;
use logward_core::nats as lnats;
use tokio::sync::watch;

use crate::config::NatsConfig;
use crate::server::AppState;
use crate::signed::{authenticate_held, Arrival};

/// The endpoint NATS messages are counted under in `/metrics` (requests by status, the
/// same refusal counters as HTTP).
pub const ENDPOINT: &str = "nats";

/// What the consumer counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct NatsStats {
    /// Messages received from the consumer.
    pub received: AtomicU64,
    /// Acknowledged after their batch was stored.
    pub acked: AtomicU64,
    /// Refused and terminated (never delivered again).
    pub terminated: AtomicU64,
    /// Handed back for a later delivery (the store was busy or failed).
    pub retried: AtomicU64,
    /// Of the messages received, those the server had delivered before.
    pub redelivered: AtomicU64,
    /// The consumer's figures at its last look: messages not yet delivered, delivered and
    /// not yet acknowledged, and redelivered.
    pub pending: AtomicU64,
    pub ack_pending: AtomicU64,
    pub server_redelivered: AtomicU64,
    /// 1 while connected and consuming.
    pub up: AtomicU64,
}

/// Starts the consumer; it runs (reconnecting with backoff) until `shutdown`.
pub fn start(
    state: Arc<AppState>,
    cfg: NatsConfig,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let backoff = Mutex::new(Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(10),
        ));
        let up = &state.metrics.nats.up;
        reconnecting("consumer", up, &backoff, shutdown, || consume(&state, &cfg)).await;
    })
}

/// Runs `run` (connect, then work until an error) again after a `backoff` wait whenever it
/// stops, until `shutdown`; `up` is 0 between runs. A run that came up (set `up` to 1)
/// resets `backoff` when it stops, so a connection lost after a healthy run is retried at
/// once rather than after the longest wait of an earlier outage; `run` may also reset it.
pub(crate) async fn reconnecting<F: Future<Output = Result<(), String>>>(
    what: &str,
    up: &AtomicU64,
    backoff: &Mutex<Backoff>,
    mut shutdown: watch::Receiver<bool>,
    mut run: impl FnMut() -> F,
) {
    loop {
        tokio::select! {
            r = run() => {
                if up.swap(0, Relaxed) == 1 {
                    backoff.lock().unwrap_or_else(PoisonError::into_inner).reset();
                }
                if let Err(e) = r {
                    tracing::warn!(error = %e, "nats: {what} stopped; reconnecting");
                }
            }
            _ = shutdown.changed() => return,
        }
        let wait = backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_wait();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The stream, created with the configured limits when missing.
pub(crate) async fn stream(
    js: &jetstream::Context,
    cfg: &NatsConfig,
    body_bytes: usize,
) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![lnats::SUBJECTS.to_owned()],
        storage: stream::StorageType::File,
        max_bytes: cfg.max_bytes,
        max_age: Duration::from_secs(cfg.max_age_secs),
        duplicate_window: Duration::from_secs(cfg.duplicate_window_secs),
        // A message over the collector's body limit (and room for its headers) would only
        // be refused.
        max_message_size: i32::try_from(body_bytes + 64 * 1024).unwrap_or(i32::MAX),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {}: {e}", cfg.stream))
}

/// Connects, binds the stream and the consumer, and handles messages until an error.
async fn consume(state: &Arc<AppState>, cfg: &NatsConfig) -> Result<(), String> {
    let client = lnats::connect(&cfg.connect, "logward-collector", false).await?;
    let js = jetstream::new(client);
    let stream = stream(&js, cfg, state.config.limits.body_bytes).await?;
    // An existing consumer without explicit acks (made by hand) would drop batches a dying
    // collector held: refused, never changed behind its maker's back.
    if let Ok(mut c) = stream
        .get_consumer::<consumer::pull::Config>(&cfg.consumer)
        .await
    {
        let policy = c.info().await.map(|i| i.config.ack_policy).ok();
        if policy.is_some_and(|p| p != consumer::AckPolicy::Explicit) {
            return Err(format!(
                "consumer {} has ack policy {:?}; logward needs explicit acks (delete the \
                 consumer and the collector makes it)",
                cfg.consumer,
                policy.unwrap_or(consumer::AckPolicy::Explicit)
            ));
        }
    }
    let in_flight = usize::try_from(cfg.max_in_flight).unwrap_or(1).max(1);
    // Made, or updated to this configuration (a consumer of an older collector had one
    // message in flight).
    let mut consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(cfg.consumer.clone()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(cfg.ack_wait_secs),
            // Over all collectors; ingest stores an agent's batches in any order once.
            max_ack_pending: i64::try_from(in_flight).unwrap_or(1),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("consumer {}: {e}", cfg.consumer))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(in_flight.min(1000))
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("consumer {}: {e}", cfg.consumer))?;
    tracing::info!(url = %cfg.connect.url, stream = %cfg.stream, consumer = %cfg.consumer, "nats: consuming");
    state.metrics.nats.up.store(1, Relaxed);
    let mut look = tokio::time::interval(Duration::from_secs(2));
    // Messages being handled; dropped (aborted) with this function: what they did not
    // acknowledge is delivered again and counted duplicates where it was stored.
    let mut handling = tokio::task::JoinSet::new();
    loop {
        while handling.len() >= in_flight {
            handling.join_next().await;
        }
        let next = tokio::select! {
            m = messages.next() => m,
            Some(_) = handling.join_next(), if !handling.is_empty() => continue,
            _ = look.tick() => {
                if let Ok(i) = consumer.info().await {
                    let n = &state.metrics.nats;
                    n.pending.store(i.num_pending, Relaxed);
                    n.ack_pending.store(i.num_ack_pending as u64, Relaxed);
                    n.server_redelivered.store(i.num_redelivered as u64, Relaxed);
                }
                continue;
            }
        };
        match next {
            Some(Ok(m)) => {
                let state = Arc::clone(state);
                handling.spawn(async move { handle(&state, m).await });
            }
            Some(Err(e)) => return Err(format!("messages: {e}")),
            None => return Err("the message stream ended".into()),
        }
    }
}

/// The message's headers as an HTTP request's (the names lower-cased, as HTTP has them).
pub(crate) fn http_headers(h: Option<&async_nats::HeaderMap>) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, values) in h.into_iter().flat_map(|h| h.iter()) {
        let Ok(name) = HeaderName::from_bytes(name.to_string().to_ascii_lowercase().as_bytes())
        else {
            continue;
        };
        for v in values {
            if let Ok(v) = HeaderValue::from_str(v.as_str()) {
                out.append(name.clone(), v);
            }
        }
    }
    out
}

/// Judges, stores and settles one message.
async fn handle(state: &Arc<AppState>, msg: jetstream::Message) {
    let stats = &state.metrics.nats;
    stats.received.fetch_add(1, Relaxed);
    let (stored, stream_seq, first_delivery) = match msg.info() {
        Ok(i) => (
            i.published.unix_timestamp(),
            i.stream_sequence,
            i.delivered <= 1,
        ),
        Err(e) => {
            // Not a JetStream delivery: nothing to acknowledge.
            tracing::warn!(error = %e, "nats: a message without JetStream metadata; ignored");
            return;
        }
    };
    if !first_delivery {
        stats.redelivered.fetch_add(1, Relaxed);
    }
    let headers = http_headers(msg.headers.as_ref());
    let encoding = headers
        .get(lnats::HEADER_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let how = Arrival::Nats { stored, stream_seq };
    let agent = lnats::subject_agent(msg.subject.as_str());
    let answer =
        match authenticate_held(state, ENDPOINT, &headers, agent, msg.payload.clone(), how).await {
            Ok(signed) => {
                crate::ingest::ingest_signed(state, ENDPOINT, signed, encoding.as_deref()).await
            }
            Err(r) => r,
        };
    let status = answer.status();
    let settled = if status == StatusCode::OK {
        // Confirmed by the server: until then the batch may be delivered again (and is then
        // counted as duplicates, not stored twice).
        let r = msg.double_ack().await;
        if r.is_ok() {
            stats.acked.fetch_add(1, Relaxed);
        }
        r
    } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        stats.retried.fetch_add(1, Relaxed);
        msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await
    } else {
        stats.terminated.fetch_add(1, Relaxed);
        let why = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap_or_default();
        tracing::warn!(
            subject = %msg.subject,
            %status,
            answer = %String::from_utf8_lossy(&why),
            "nats: batch refused; terminated"
        );
        msg.ack_with(AckKind::Term).await
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, "nats: cannot settle a message; the server delivers it again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs that come up and then fail (a server restarted now and then) are each retried
    /// after the shortest wait: the outages before a healthy run do not lengthen it.
    #[tokio::test]
    async fn a_run_that_came_up_resets_the_backoff() {
        let up = AtomicU64::new(0);
        let backoff = Mutex::new(Backoff::new(
            Duration::from_millis(1),
            Duration::from_secs(3600),
        ));
        // Earlier outages: the next wait would be 2^10 ms.
        for _ in 0..10 {
            backoff.lock().unwrap().next_wait();
        }
        let (stop, shutdown) = watch::channel(false);
        let runs = AtomicU64::new(0);
        let started = std::time::Instant::now();
        let (r, u, s) = (&runs, &up, &stop);
        reconnecting("test", &up, &backoff, shutdown, move || async move {
            if r.fetch_add(1, Relaxed) == 3 {
                let _ = s.send(true);
                std::future::pending::<()>().await;
            }
            u.store(1, Relaxed);
            Err("lost".to_owned())
        })
        .await;
        assert_eq!(runs.load(Relaxed), 4);
        // Three waits of 1 ms, not 1 s + 2 s + 4 s.
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }
}
