//! The collector's metrics, in the Prometheus text format. Labels come from closed sets
//! (endpoint, status code, failure reason): never an agent id, host, address or user.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logward_core::exposition::{self, Snapshot, WaitHistogram, Writer};

/// Why a request was refused with 401 (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthFailure {
    MissingHeader,
    MalformedHeader,
    UnknownAgent,
    RevokedAgent,
    StaleTimestamp,
    ReplayedNonce,
    BadSignature,
    TokenUnknown,
    TokenUsed,
    TokenExpired,
    /// Dashboard login: wrong user name or password.
    LoginFailed,
    /// Dashboard login refused by the rate limit.
    LoginRateLimited,
    /// Dashboard or API request without a live session or a token.
    NoSession,
    /// An unknown or revoked API bearer token.
    BadApiToken,
    /// A state-changing request with a session but without its CSRF token.
    BadCsrf,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 15] = [
        AuthFailure::MissingHeader,
        AuthFailure::MalformedHeader,
        AuthFailure::UnknownAgent,
        AuthFailure::RevokedAgent,
        AuthFailure::StaleTimestamp,
        AuthFailure::ReplayedNonce,
        AuthFailure::BadSignature,
        AuthFailure::TokenUnknown,
        AuthFailure::TokenUsed,
        AuthFailure::TokenExpired,
        AuthFailure::LoginFailed,
        AuthFailure::LoginRateLimited,
        AuthFailure::NoSession,
        AuthFailure::BadApiToken,
        AuthFailure::BadCsrf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::MissingHeader => "missing_header",
            AuthFailure::MalformedHeader => "malformed_header",
            AuthFailure::UnknownAgent => "unknown_agent",
            AuthFailure::RevokedAgent => "revoked_agent",
            AuthFailure::StaleTimestamp => "stale_timestamp",
            AuthFailure::ReplayedNonce => "replayed_nonce",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::TokenUnknown => "token_unknown",
            AuthFailure::TokenUsed => "token_used",
            AuthFailure::TokenExpired => "token_expired",
            AuthFailure::LoginFailed => "login_failed",
            AuthFailure::LoginRateLimited => "login_rate_limited",
            AuthFailure::NoSession => "no_session",
            AuthFailure::BadApiToken => "bad_api_token",
            AuthFailure::BadCsrf => "bad_csrf",
        }
    }
}

/// Upper bounds (seconds) of the store latency histogram.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Items accepted in each of the last [`RATE_WINDOW`] seconds.
#[derive(Debug)]
struct IngestWindow {
    /// The second the newest slot counts.
    second: u64,
    slots: [u64; RATE_WINDOW],
}

/// Seconds the ingest-rate gauge averages over.
const RATE_WINDOW: usize = 60;

fn unix_second() -> u64 {
    u64::try_from(crate::unix_now()).unwrap_or(0)
}

impl Default for IngestWindow {
    fn default() -> IngestWindow {
        IngestWindow {
            second: 0,
            slots: [0; RATE_WINDOW],
        }
    }
}

impl IngestWindow {
    /// Moves the window to `now`, zeroing the seconds that passed without items.
    fn advance(&mut self, now: u64) {
        if now <= self.second {
            return;
        }
        let gap = (now - self.second).min(RATE_WINDOW as u64);
        for i in 1..=gap {
            self.slots[((self.second + i) % RATE_WINDOW as u64) as usize] = 0;
        }
        self.second = now;
    }
}

/// Every counter the collector keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    auth_failures: [AtomicU64; 15],
    /// Items accepted per second over the last minute (a ring of one-second slots).
    ingest_window: Mutex<IngestWindow>,
    pub logins: AtomicU64,
    /// Connections: open, refused over a cap, closed on a deadline.
    pub conn: crate::listener::ConnMetrics,
    /// Logins refused (503) because too many password checks were running or waiting.
    pub login_busy: AtomicU64,
    /// (endpoint, status) → count.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub events_accepted: AtomicU64,
    pub alerts_accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected_lines: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_decompressed: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Signed requests refused 503 because their agent's share of the replay cache (or
    /// the whole cache) was full.
    pub nonces_full: AtomicU64,
    /// Requests answered 503: too many unverified bodies at once (in all, from the address,
    /// or their bytes).
    pub unverified_refused: AtomicU64,
    /// Requests whose body did not arrive within `limits.body_read_secs` (408).
    pub body_timeouts: AtomicU64,
    /// Enrolments answered 429.
    pub enroll_limited: AtomicU64,
    /// Requests answered 503: no room in `limits.inflight_bytes` in time.
    pub inflight_refused: AtomicU64,
    /// Requests answered 413 after decompression (items or decompressed size).
    pub oversized_requests: AtomicU64,
    /// Lines rejected for being over `limits.line_bytes`.
    pub oversized_lines: AtomicU64,
    /// Text fields cut to `limits.field_bytes`.
    pub truncated_fields: AtomicU64,
    pub enrolments: AtomicU64,
    pub heartbeats: AtomicU64,
    /// Alerts the fleet rules raised.
    pub fleet_alerts: AtomicU64,
    /// Decision changes the fleet rules made.
    pub fleet_decisions: AtomicU64,
    /// Store jobs queued or running.
    pub queue_depth: AtomicI64,
    /// Ingest transactions (each one or more requests: group commit).
    pub ingest_groups: AtomicU64,
    /// Waits of store-thread jobs in its queue, from being sent to being started.
    pub store_wait: WaitHistogram,
    /// `sqlite` or `postgres`, set when the collector starts.
    pub backend: std::sync::OnceLock<&'static str>,
    store_buckets: [AtomicU64; 10],
    store_count: AtomicU64,
    store_micros: AtomicU64,
    /// What the delivery workers count (notifications).
    pub delivery: Arc<logward_notify::deliver::DeliveryStats>,
    /// What the fleet daily report counts.
    pub report: Arc<logward_notify::schedule::ReportStats>,
    /// What the LLM analyst counts.
    pub llm: Arc<crate::llm::LlmStats>,
    /// What the Beats input counts (`beats:`).
    pub beats: crate::beats::BeatsStats,
    /// What the NATS JetStream consumer counts (`nats:`).
    pub nats: crate::nats::NatsStats,
    /// What the NATS decisions publisher counts (`nats:`).
    pub nats_decisions: crate::nats_decisions::DecisionsStats,
    /// What the fleet rules leader counts (`nats:` with PostgreSQL).
    pub rules_leader: crate::rules_leader::LeaderStats,
}

impl Metrics {
    pub fn auth_failure(&self, r: AuthFailure) {
        self.auth_failures[r as usize].fetch_add(1, Relaxed);
    }

    pub fn auth_failures(&self, r: AuthFailure) -> u64 {
        self.auth_failures[r as usize].load(Relaxed)
    }

    pub fn request(&self, endpoint: &'static str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((endpoint, status)).or_default() += 1;
    }

    /// Items (events and alerts) stored by one ingest request, for the rate gauge.
    pub fn ingested(&self, n: u64) {
        let now = unix_second();
        let mut w = self.ingest_window.lock().unwrap_or_else(|p| p.into_inner());
        w.advance(now);
        w.slots[(now % RATE_WINDOW as u64) as usize] += n;
    }

    /// Items accepted per second, averaged over the last minute.
    pub fn ingest_rate(&self) -> f64 {
        let mut w = self.ingest_window.lock().unwrap_or_else(|p| p.into_inner());
        w.advance(unix_second());
        w.slots.iter().sum::<u64>() as f64 / RATE_WINDOW as f64
    }

    /// One store job's duration.
    pub fn store_time(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.store_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.store_count.fetch_add(1, Relaxed);
        self.store_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Time the store thread has spent on jobs so far.
    pub fn store_busy(&self) -> Duration {
        Duration::from_micros(self.store_micros.load(Relaxed))
    }

    /// The exposition text.
    pub fn render(self: &Arc<Self>) -> String {
        let m = Arc::clone(self);
        exposition::render(move |w| m.write(w))
    }

    fn write(&self, w: &mut Writer<'_>) -> exposition::Result {
        w.counters(
            "logward_collector_auth_failures_total",
            "Requests refused (agents' 401s; operators' 401, 403 and 429), by reason.",
            AuthFailure::ALL.map(|r| ([("reason", r.as_str())], self.auth_failures(r))),
        )?;
        let requests: Vec<_> = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(&(ep, st), &n)| (([("endpoint", ep)], [("status", st)]), n))
            .collect();
        w.counters(
            "logward_collector_requests_total",
            "HTTP requests, by endpoint and status.",
            requests,
        )?;
        w.counters(
            "logward_collector_ingest_items_total",
            "Items of POST /v1/events, by kind and result.",
            [
                ("event", "accepted", &self.events_accepted),
                ("alert", "accepted", &self.alerts_accepted),
                ("any", "duplicate", &self.duplicates),
                ("any", "rejected", &self.rejected_lines),
            ]
            .map(|(kind, result, v)| ([("kind", kind), ("result", result)], v.load(Relaxed))),
        )?;
        for (name, help, v) in [
            (
                "logward_collector_fleet_alerts_total",
                "Alerts raised by the fleet rules.",
                &self.fleet_alerts,
            ),
            (
                "logward_collector_fleet_decisions_total",
                "Ban decisions added, extended or lifted by the fleet rules.",
                &self.fleet_decisions,
            ),
            (
                "logward_collector_ingest_bytes_total",
                "Request body bytes of POST /v1/events as sent.",
                &self.bytes_received,
            ),
            (
                "logward_collector_ingest_decompressed_bytes_total",
                "Bytes of NDJSON after decompression.",
                &self.bytes_decompressed,
            ),
            (
                "logward_collector_rate_limited_total",
                "Requests answered 429 (per-agent rate limit).",
                &self.rate_limited,
            ),
            (
                "logward_collector_replay_cache_full_total",
                "Signed requests answered 503: their agent's share of the replay cache was full.",
                &self.nonces_full,
            ),
            (
                "logward_collector_unverified_refused_total",
                "Requests answered 503: too many bodies not yet authenticated at once.",
                &self.unverified_refused,
            ),
            (
                "logward_collector_body_timeouts_total",
                "Requests answered 408: the body did not arrive within limits.body_read_secs.",
                &self.body_timeouts,
            ),
            (
                "logward_collector_inflight_refused_total",
                "Requests answered 503: no room in limits.inflight_bytes in time.",
                &self.inflight_refused,
            ),
            (
                "logward_collector_oversized_requests_total",
                "POST /v1/events answered 413 after decompression (too many items or bytes).",
                &self.oversized_requests,
            ),
            (
                "logward_collector_oversized_lines_total",
                "NDJSON lines rejected for being over limits.line_bytes.",
                &self.oversized_lines,
            ),
            (
                "logward_collector_truncated_fields_total",
                "Text fields of events and alerts cut to limits.field_bytes.",
                &self.truncated_fields,
            ),
            (
                "logward_collector_enroll_rate_limited_total",
                "POST /v1/enroll answered 429 (per address or in all).",
                &self.enroll_limited,
            ),
            (
                "logward_collector_enrolments_total",
                "Agents enrolled.",
                &self.enrolments,
            ),
            (
                "logward_collector_heartbeats_total",
                "Heartbeats received.",
                &self.heartbeats,
            ),
        ] {
            w.counter(name, help, v.load(Relaxed))?;
        }
        w.gauge(
            "logward_collector_ingest_rate",
            "Items (events and alerts) stored per second, averaged over the last minute.",
            self.ingest_rate(),
        )?;
        for (name, help, v) in [
            (
                "logward_collector_dashboard_logins_total",
                "Successful dashboard logins.",
                &self.logins,
            ),
            (
                "logward_collector_dashboard_logins_busy_total",
                "Dashboard logins refused with 503: every password check slot was taken.",
                &self.login_busy,
            ),
            (
                "logward_collector_ingest_transactions_total",
                "Ingest transactions; under load each stores several requests (group commit).",
                &self.ingest_groups,
            ),
        ] {
            w.counter(name, help, v.load(Relaxed))?;
        }
        w.gauge(
            "logward_collector_store_queue_depth",
            "Store jobs queued or running.",
            self.queue_depth.load(Relaxed).max(0),
        )?;
        let background = Snapshot::merged([
            &self.delivery.lock_wait,
            &self.report.lock_wait,
            &self.llm.lock_wait,
        ]);
        w.histograms(
            "logward_collector_store_wait_seconds",
            "Time a store request waited before the store started it: pool=ingest, in the \
             store thread's queue (ingests, look-ups); pool=background, for the lock of the \
             connection delivery, the daily report and the LLM analyst share.",
            [
                ([("pool", "ingest")], &self.store_wait.snapshot()),
                ([("pool", "background")], &background),
            ],
        )?;
        if let Some(b) = self.backend.get() {
            w.gauges(
                "logward_collector_store_info",
                "The store's backend (always 1).",
                [([("backend", *b)], 1u64)],
            )?;
        }
        let store: [u64; 10] = std::array::from_fn(|i| self.store_buckets[i].load(Relaxed));
        w.histogram(
            "logward_collector_store_seconds",
            "Time of one store job (an ingest transaction of one or more requests, a lookup).",
            &own_counts(&BUCKETS, &store),
            self.store_count.load(Relaxed),
            self.store_micros.load(Relaxed) as f64 / 1e6,
        )?;
        let d = &self.delivery;
        for (name, help, v) in [
            (
                "deliveries_total",
                "Outbox rows delivered to a notifier.",
                &d.sent,
            ),
            (
                "delivery_messages_total",
                "Messages sent (a digest or a deduplicated group is one).",
                &d.messages,
            ),
            (
                "delivery_digests_total",
                "Digest messages sent.",
                &d.digests,
            ),
            (
                "delivery_retries_total",
                "Failed delivery attempts that will be retried.",
                &d.retries,
            ),
            (
                "delivery_failures_total",
                "Outbox rows given up on (refused, or out of retries).",
                &d.failed,
            ),
            (
                "delivery_rate_limited_total",
                "Times a service said to slow down.",
                &d.rate_limited,
            ),
            (
                "delivery_held_total",
                "Rows held by quiet hours or a dedup window.",
                &d.held,
            ),
            (
                "delivery_with_analysis_total",
                "Rows delivered with their LLM analysis appended.",
                &d.with_analysis,
            ),
            (
                "delivery_without_analysis_total",
                "Rows whose analysis failed or came too late, delivered without it.",
                &d.without_analysis,
            ),
            (
                "reports_sent_total",
                "Fleet daily reports delivered (one per notifier).",
                &self.report.sent,
            ),
            (
                "reports_failed_total",
                "Fleet daily reports a notifier never took.",
                &self.report.failed,
            ),
        ] {
            w.counter(&format!("logward_collector_{name}"), help, v.load(Relaxed))?;
        }
        let l = &self.llm;
        w.counter(
            "logward_collector_llm_requests_total",
            "Requests sent to the LLM endpoint.",
            l.requests.load(Relaxed),
        )?;
        w.counters(
            "logward_collector_llm_analyses_total",
            "Analyses finished, by outcome.",
            crate::llm::Outcome::ALL.map(|x| ([("outcome", x.as_str())], l.outcomes(x))),
        )?;
        let (buckets, count, sum) = l.histogram();
        w.histogram(
            "logward_collector_llm_seconds",
            "Time of one LLM request.",
            &own_counts(&crate::llm::LATENCY_BUCKETS, &buckets),
            count,
            sum,
        )?;
        self.conn.write(w)?;
        let b = &self.beats;
        w.counters(
            "logward_collector_beats_documents_total",
            "Beats input documents, by result (stored, duplicate: a resent window's, rejected).",
            [
                ("stored", &b.stored),
                ("duplicate", &b.duplicates),
                ("rejected", &b.rejected),
            ]
            .map(|(r, v)| ([("result", r)], v.load(Relaxed))),
        )?;
        w.counter(
            "logward_collector_beats_store_errors_total",
            "Beats windows not acknowledged because storing them failed (the Beat resends them).",
            b.store_errors.load(Relaxed),
        )?;
        if let Some(m) = b.server.get() {
            m.write(w, "logward_collector_beats")?;
        }
        let n = &self.nats;
        w.counters(
            "logward_collector_nats_messages_total",
            "NATS JetStream messages, by fate: acked (stored, then acknowledged), terminated \
             (refused, never delivered again), retried (store busy: delivered again later).",
            [
                ("acked", &n.acked),
                ("terminated", &n.terminated),
                ("retried", &n.retried),
            ]
            .map(|(r, v)| ([("fate", r)], v.load(Relaxed))),
        )?;
        w.counter(
            "logward_collector_nats_received_total",
            "NATS JetStream messages received by this collector.",
            n.received.load(Relaxed),
        )?;
        w.counter(
            "logward_collector_nats_redelivered_total",
            "Of those, messages the server had delivered before (to this or another collector).",
            n.redelivered.load(Relaxed),
        )?;
        w.gauges(
            "logward_collector_nats_consumer_messages",
            "The shared consumer at its last look: messages pending (not yet delivered), \
             ack_pending (delivered, not yet acknowledged), redelivered.",
            [
                ("pending", &n.pending),
                ("ack_pending", &n.ack_pending),
                ("redelivered", &n.server_redelivered),
            ]
            .map(|(r, v)| ([("state", r)], v.load(Relaxed))),
        )?;
        w.gauge(
            "logward_collector_nats_up",
            "1 while this collector is connected to NATS and consuming.",
            n.up.load(Relaxed),
        )?;
        let d = &self.nats_decisions;
        w.counters(
            "logward_collector_nats_decisions_total",
            "Fleet decision changes published on NATS, by fate: published (stored by the \
             stream), duplicate (already there: another collector published it), error \
             (the publish failed; retried).",
            [
                ("published", &d.published),
                ("duplicate", &d.duplicates),
                ("error", &d.errors),
            ]
            .map(|(r, v)| ([("fate", r)], v.load(Relaxed))),
        )?;
        w.gauge(
            "logward_collector_nats_decisions_up",
            "1 while this collector is connected to NATS and publishing decisions.",
            d.up.load(Relaxed),
        )?;
        let r = &self.rules_leader;
        w.gauge(
            "logward_collector_rules_leader",
            "1 while this collector leads the fleet rules (nats: with PostgreSQL; docs/SCALE.md).",
            r.leader.load(Relaxed),
        )?;
        w.counters(
            "logward_collector_rules_messages_total",
            "Stream messages the fleet rules leader settled, by fate: counted (committed with \
             the rules' effects), skipped (at or below the stored position: a redelivery), \
             refused (failed the check or decoding, as on ingest).",
            [
                ("counted", &r.counted),
                ("skipped", &r.skipped),
                ("refused", &r.refused),
            ]
            .map(|(f, v)| ([("fate", f)], v.load(Relaxed))),
        )?;
        w.counter(
            "logward_collector_rules_redelivered_total",
            "Messages the rules consumer had delivered before (to this or another leader).",
            r.redelivered.load(Relaxed),
        )?;
        w.gauges(
            "logward_collector_rules_consumer_messages",
            "The rules consumer at the leader's last look: pending (not yet delivered), \
             ack_pending (delivered, not yet acknowledged).",
            [("pending", &r.pending), ("ack_pending", &r.ack_pending)]
                .map(|(st, v)| ([("state", st)], v.load(Relaxed))),
        )?;
        logward_core::process_metrics::Sample::read().write(w)
    }
}

/// Each bucket's own count from the cumulative counts the recorders keep (every bucket an
/// observation fits in counts it); the encoder adds them up again.
fn own_counts(bounds: &[f64], cumulative: &[u64]) -> Vec<(f64, u64)> {
    let mut below = 0;
    bounds
        .iter()
        .zip(cumulative)
        .map(|(&b, &n)| {
            let own = n.saturating_sub(below);
            below = below.max(n);
            (b, own)
        })
        .collect()
}
