//! The agent's metrics in the Prometheus text exposition format (version 0.0.4): pipeline
//! and engine counts, bans and ban failures, and each source's own counters.
//!
//! Served by `logward metrics` (through the control socket) and, when `metrics.listen` is
//! set, over HTTP at `GET /metrics` for a Prometheus scraper.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use logward_core::exposition::{self, Writer};

use crate::control::{Command, Request};
use crate::pipeline::PipelineStats;
use crate::sources::beats::BeatsStats;
use crate::sources::command::ProcessStats;
use crate::sources::dns_capture::DnsCaptureStats;
use crate::sources::evtx::EvtxStats;
use crate::sources::file::FileStats;
use crate::sources::utmp::UtmpStats;

/// One source's counters, by kind.
#[derive(Debug, Clone)]
pub enum SourceStats {
    File(Arc<FileStats>),
    Process(Arc<ProcessStats>),
    Utmp(Arc<UtmpStats>),
    Evtx(Arc<EvtxStats>),
    /// The Beats listener: documents as lines, rejected documents as invalid.
    Beats(Arc<BeatsStats>),
    /// A live DNS capture: events as lines, the kernel's drops as dropped.
    DnsCapture(Arc<DnsCaptureStats>),
    /// Standard input: counted by the pipeline only.
    Plain,
}

/// A source as the metrics name it.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    pub id: String,
    pub kind: &'static str,
    pub stats: SourceStats,
}

/// Everything one exposition shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pipeline: PipelineStats,
    pub engine: logward_engine::Stats,
    /// Bans the daemon failed to apply (each also an ERROR log and a `ban-failed` alert).
    pub ban_failures: u64,
    /// Bans in force in the store, when bans are enabled.
    pub bans_active: Option<u64>,
    /// Outbox rows per state.
    pub outbox: Option<logward_store::OutboxCounts>,
    /// The delivery workers' counts.
    pub delivery: Option<Arc<logward_notify::deliver::DeliveryStats>>,
    /// The daily report's counts.
    pub report: Option<Arc<logward_notify::schedule::ReportStats>>,
    /// The forward sink's counts and the spool's totals, when forwarding.
    pub forward: Option<ForwardSnapshot>,
    /// The login anomaly detector's counts, when it runs.
    pub anomaly: Option<AnomalySnapshot>,
    /// The DNS check's counts, when it runs.
    pub dns: Option<DnsSnapshot>,
    pub sources: Vec<SourceEntry>,
}

/// What the login anomaly detector and DNSBL show.
#[derive(Debug, Clone, Default)]
pub struct AnomalySnapshot {
    pub stats: crate::anomaly::AnomalyStats,
    pub dnsbl: Option<crate::enrich::dnsbl::Counts>,
}

fn anomaly(o: &mut Out, a: &AnomalySnapshot) {
    let c = "counter";
    let st = &a.stats;
    o.one(
        "logward_anomaly_logins_total",
        c,
        "Successful logins scored by the anomaly detector.",
        st.logins,
    );
    o.one(
        "logward_anomaly_alerts_total",
        c,
        "login-anomaly and impossible-travel alerts.",
        st.alerts,
    );
    o.one(
        "logward_anomaly_deferred_total",
        c,
        "Logins whose score waited for a DNSBL look-up.",
        st.deferred,
    );
    o.one(
        "logward_anomaly_bad_profiles_total",
        c,
        "Stored login profiles that could not be read.",
        st.bad_profiles,
    );
    if let Some(d) = &a.dnsbl {
        o.one(
            "logward_dnsbl_queries_total",
            c,
            "DNSBL queries sent (one per zone).",
            d.queries,
        );
        o.one(
            "logward_dnsbl_listed_total",
            c,
            "Look-ups that found the address listed.",
            d.listed,
        );
        o.one(
            "logward_dnsbl_cache_hits_total",
            c,
            "Look-ups answered from the cache.",
            d.cache_hits,
        );
        o.one(
            "logward_dnsbl_timeouts_total",
            c,
            "DNSBL queries that timed out.",
            d.timeouts,
        );
        o.one(
            "logward_dnsbl_errors_total",
            c,
            "DNSBL queries that failed.",
            d.errors,
        );
        o.one(
            "logward_dnsbl_error_codes_total",
            c,
            "Answers in 127.255.255.0/24 (the list refused).",
            d.error_codes,
        );
        o.one(
            "logward_dnsbl_limited_total",
            c,
            "Look-ups skipped by the rate or concurrency limit.",
            d.limited,
        );
    }
}

/// What the DNS check and its intel API show.
#[derive(Debug, Clone, Default)]
pub struct DnsSnapshot {
    pub stats: crate::dns_check::DnsStats,
    pub api: Option<crate::dns_check::api::ApiCounts>,
    /// Domains waiting for the intel API.
    pub pending: u64,
    pub heuristics: logward_engine::dns::HeuristicsStats,
    /// Entries in the threat lists (domains and networks), all lists together.
    pub list_entries: u64,
}

fn dns(o: &mut Out, d: &DnsSnapshot) {
    let c = "counter";
    let st = &d.stats;
    o.one(
        "logward_dns_queries_total",
        c,
        "dns-query events seen by the DNS check.",
        st.queries,
    );
    let r = o.w.counters(
        "logward_dns_trusted_total",
        "Queries not checked: a trusted client, domain or query type.",
        [
            ([("by", "client")], st.trusted_client),
            ([("by", "domain")], st.trusted_domain),
            ([("by", "query_type")], st.trusted_type),
        ],
    );
    o.keep(r);
    o.one(
        "logward_dns_deduped_total",
        c,
        "Repeats of a (client, domain) within the dedup window: not checked again.",
        st.deduped,
    );
    o.one(
        "logward_dns_checked_total",
        c,
        "Queries checked against the threat intelligence.",
        st.checked,
    );
    let r = o.w.counters(
        "logward_dns_findings_total",
        "Checked queries by their strongest finding (event.reason).",
        [
            ([("reason", "listed")], st.listed),
            ([("reason", "api-malicious")], st.api_malicious),
            ([("reason", "tunnel")], st.tunnel),
            ([("reason", "dga")], st.dga),
            ([("reason", "new-domain")], st.new_domain),
        ],
    );
    o.keep(r);
    o.one(
        "logward_dns_resumed_total",
        c,
        "Queries run through the rules again when a malicious API verdict came in.",
        st.resumed,
    );
    o.one(
        "logward_dns_waiting_dropped_total",
        c,
        "Queries not kept while their domain's API look-up ran (over 16 per domain).",
        st.waiting_dropped,
    );
    o.one(
        "logward_dns_list_entries",
        "gauge",
        "Domains and networks in the threat lists as last read.",
        d.list_entries,
    );
    let h = &d.heuristics;
    o.one(
        "logward_dns_heuristics_skipped_total",
        c,
        "Queries the heuristics do not judge (reverse look-ups, mDNS, bare suffixes).",
        h.skipped,
    );
    let r = o.w.counters(
        "logward_dns_heuristics_evicted_total",
        "State the heuristics forgot to stay bounded.",
        [
            ([("state", "tunnel_pairs")], h.tunnel_evicted),
            ([("state", "new_domain_clients")], h.new_domain_evicted),
        ],
    );
    o.keep(r);
    let Some(a) = &d.api else { return };
    o.one(
        "logward_dns_api_pending",
        "gauge",
        "Domains waiting for an intel API answer (in flight or to be retried).",
        d.pending,
    );
    for (name, help, v) in [
        (
            "logward_dns_api_requests_total",
            "HTTP requests sent to the intel API.",
            a.requests,
        ),
        (
            "logward_dns_api_verdicts_total",
            "Verdicts read from the intel API's answers.",
            a.verdicts,
        ),
        (
            "logward_dns_api_malicious_total",
            "Malicious verdicts.",
            a.malicious,
        ),
        (
            "logward_dns_api_cache_hits_total",
            "Queries answered from the verdict cache.",
            a.cache_hits,
        ),
        (
            "logward_dns_api_asked_total",
            "Domains sent to be asked about.",
            a.asked,
        ),
        (
            "logward_dns_api_timeouts_total",
            "Requests that timed out.",
            a.timeouts,
        ),
        (
            "logward_dns_api_errors_total",
            "Requests that failed (transport, status, no verdict).",
            a.errors,
        ),
        (
            "logward_dns_api_rate_limited_total",
            "429 answers (every request paused).",
            a.rate_limited,
        ),
        (
            "logward_dns_api_retries_total",
            "Look-ups tried again after a failure.",
            a.retries,
        ),
        (
            "logward_dns_api_given_up_total",
            "Domains given up after every attempt failed.",
            a.given_up,
        ),
        (
            "logward_dns_api_queue_full_total",
            "Domains not asked about: too many waiting.",
            a.queue_full,
        ),
    ] {
        o.one(name, c, help, v);
    }
}

/// What the forward sink shows.
#[derive(Debug, Clone)]
pub struct ForwardSnapshot {
    pub stats: Arc<crate::forward::ForwardStats>,
    /// `None` when the store could not be read.
    pub spool: Option<logward_store::SpoolStats>,
}

fn forward(o: &mut Out, f: &ForwardSnapshot) {
    use std::sync::atomic::Ordering::Relaxed;
    let st = &f.stats;
    if let Some(sp) = &f.spool {
        o.one(
            "logward_forward_spool_items",
            "gauge",
            "Items in the forward spool, waiting for the collector.",
            sp.items,
        );
        o.one(
            "logward_forward_spool_bytes",
            "gauge",
            "Bytes of JSON in the forward spool.",
            sp.bytes,
        );
        o.one(
            "logward_forward_spool_max_bytes",
            "gauge",
            "The forward spool's size bound.",
            sp.max_bytes,
        );
        o.one(
            "logward_forward_dropped_total",
            "counter",
            "Plain events dropped because the spool was full (alerts are never dropped).",
            sp.dropped,
        );
    }
    let c = "counter";
    o.one(
        "logward_forward_sent_total",
        c,
        "Items the collector answered 200 for.",
        st.sent.load(Relaxed),
    );
    o.one(
        "logward_forward_rejected_total",
        c,
        "Items the collector rejected (logged, not retried).",
        st.rejected.load(Relaxed),
    );
    o.one(
        "logward_forward_send_errors_total",
        c,
        "Requests to the collector that failed and will be retried.",
        st.send_errors.load(Relaxed),
    );
    o.one(
        "logward_forward_throttled_total",
        c,
        "429 answers from the collector.",
        st.throttled.load(Relaxed),
    );
    o.one(
        "logward_forward_heartbeats_total",
        c,
        "Heartbeats the collector accepted.",
        st.heartbeats.load(Relaxed),
    );
    o.one(
        "logward_forward_decisions_total",
        c,
        "Fleet ban decisions received.",
        st.decisions.load(Relaxed),
    );
    o.one(
        "logward_forward_decisions_invalid_total",
        c,
        "Fleet ban decisions refused: a target that does not validate, an unknown action, a \
         NATS message unsigned, badly signed or not shaped as a decision.",
        st.decisions_invalid.load(Relaxed),
    );
    o.one(
        "logward_forward_decisions_forged_total",
        c,
        "Of those, NATS decision messages without a valid signature of the fleet's key.",
        st.decisions_forged.load(Relaxed),
    );
    o.one(
        "logward_forward_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last batch the collector took (0: none yet).",
        u64::try_from(st.last_success.load(Relaxed)).unwrap_or(0),
    );
}

/// The families of one exposition; the first write error is kept (a `String` never refuses
/// text, so there is none in practice).
struct Out<'w, 'a> {
    w: &'w mut Writer<'a>,
    status: exposition::Result,
}

impl Out<'_, '_> {
    fn keep(&mut self, r: exposition::Result) {
        if self.status.is_ok() {
            self.status = r;
        }
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, v: u64) {
        let r = match kind {
            "counter" => self.w.counter(name, help, v),
            _ => self.w.gauge(name, help, v),
        };
        self.keep(r);
    }
}

/// Renders the exposition.
pub fn render(s: &Snapshot) -> String {
    let s = s.clone();
    exposition::render(move |w| {
        let mut o = Out { w, status: Ok(()) };
        write(&mut o, &s);
        o.status
    })
}

fn write(o: &mut Out, s: &Snapshot) {
    let p = &s.pipeline;
    let r = o.w.gauges(
        "logward_build_info",
        "The running version.",
        [([("version", env!("CARGO_PKG_VERSION"))], 1u64)],
    );
    o.keep(r);
    let c = "counter";
    o.one(
        "logward_lines_total",
        c,
        "Lines read by all sources.",
        p.lines,
    );
    o.one(
        "logward_events_total",
        c,
        "Events run through the rules.",
        p.events,
    );
    o.one(
        "logward_events_unknown_total",
        c,
        "Events no decoder recognised (event.action unknown).",
        p.unknown,
    );
    o.one("logward_alerts_total", c, "Alerts raised.", p.alerts);
    o.one(
        "logward_commits_total",
        c,
        "Store transactions committed.",
        p.commits,
    );
    o.one(
        "logward_commit_errors_total",
        c,
        "Store commits that failed (the batch is kept and retried).",
        p.commit_errors,
    );
    o.one("logward_bans_total", c, "Bans recorded.", p.bans);
    o.one(
        "logward_bans_skipped_total",
        c,
        "Ban actions not applied because bans are disabled.",
        p.bans_skipped,
    );
    o.one(
        "logward_bans_stale_total",
        c,
        "Ban actions not applied because the offence is older than its ban (a backlog).",
        p.bans_stale,
    );
    o.one(
        "logward_bans_narrowed_total",
        c,
        "IPv6 bans narrowed to the address alone because their prefix holds an ignored address.",
        p.bans_narrowed,
    );
    o.one(
        "logward_bans_refused_total",
        c,
        "Bans refused because they would cover an address of the ignore list.",
        p.bans_refused,
    );
    o.one(
        "logward_journal_forged_total",
        c,
        "Journal entries whose claimed program (SYSLOG_IDENTIFIER) the journal's own fields contradict.",
        p.forged,
    );
    o.one(
        "logward_ban_failures_total",
        c,
        "Ban or unban batches the firewall refused.",
        s.ban_failures,
    );
    if let Some(n) = s.bans_active {
        o.one("logward_bans_active", "gauge", "Bans in force.", n);
    }
    let e = &s.engine;
    // Not `logward_counter_*`: a metric name must not hold a metric type (promtool).
    o.one(
        "logward_rule_keys",
        "gauge",
        "Keys held by the rule counters.",
        e.keys,
    );
    o.one(
        "logward_rule_key_evictions_total",
        c,
        "Counter keys evicted because a counter was full (a flood).",
        e.evicted,
    );
    o.one(
        "logward_template_errors_total",
        c,
        "Message templates that failed to render.",
        e.render_errors,
    );
    if let Some(ob) = &s.outbox {
        let r = o.w.gauges(
            "logward_outbox_rows",
            "Outbox rows by delivery state.",
            [
                ([("state", "pending")], ob.pending),
                ([("state", "sent")], ob.sent),
                ([("state", "failed")], ob.failed),
            ],
        );
        o.keep(r);
    }
    if let Some(a) = &s.anomaly {
        anomaly(o, a);
    }
    if let Some(d) = &s.dns {
        dns(o, d);
    }
    if let Some(f) = &s.forward {
        forward(o, f);
    }
    if let Some(d) = &s.delivery {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        o.one(
            "logward_deliveries_total",
            c,
            "Outbox rows delivered.",
            get(&d.sent),
        );
        o.one(
            "logward_delivery_messages_total",
            c,
            "Messages sent (a digest or a deduplicated group counts once).",
            get(&d.messages),
        );
        o.one(
            "logward_delivery_digests_total",
            c,
            "Digest messages folding alerts a rate limit could not take one by one.",
            get(&d.digests),
        );
        o.one(
            "logward_delivery_retries_total",
            c,
            "Failed delivery attempts that will be retried.",
            get(&d.retries),
        );
        o.one(
            "logward_delivery_failures_total",
            c,
            "Outbox rows given up on (refused, or out of retries).",
            get(&d.failed),
        );
        o.one(
            "logward_delivery_rate_limited_total",
            c,
            "Times a service asked to slow down.",
            get(&d.rate_limited),
        );
        o.one(
            "logward_delivery_held_total",
            c,
            "Outbox rows held by quiet hours or a dedup window.",
            get(&d.held),
        );
    }
    if let Some(r) = &s.report {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        o.one(
            "logward_reports_sent_total",
            c,
            "Daily reports delivered (one per notifier).",
            get(&r.sent),
        );
        o.one(
            "logward_reports_failed_total",
            c,
            "Daily reports a notifier never took.",
            get(&r.failed),
        );
    }
    sources(o, &s.sources);
    // The listener's own counters (at most one beats source per agent).
    let beats = s.sources.iter().find_map(|e| match &e.stats {
        SourceStats::Beats(b) => b.server.get(),
        _ => None,
    });
    if let Some(m) = beats {
        let r = m.write(o.w, "logward_beats");
        o.keep(r);
    }
    let r = logward_core::process_metrics::Sample::read().write(o.w);
    o.keep(r);
}

/// One source's counters, `None` where its kind keeps no such counter (its series then
/// leaves the source out).
#[derive(Default)]
struct SourceCounts {
    lines: Option<u64>,
    errors: Option<u64>,
    rotations: Option<u64>,
    truncations: Option<u64>,
    long_lines: Option<u64>,
    invalid: Option<u64>,
    restarts: Option<u64>,
    dropped: Option<u64>,
}

impl SourceStats {
    /// What each kind of source counts, read once per scrape.
    fn counts(&self) -> SourceCounts {
        match self {
            SourceStats::File(f) => {
                let s = f.snapshot();
                SourceCounts {
                    lines: Some(s.lines),
                    errors: Some(s.errors),
                    rotations: Some(s.rotations),
                    truncations: Some(s.truncations),
                    long_lines: Some(s.long_lines),
                    invalid: Some(s.invalid_utf8),
                    restarts: None,
                    dropped: None,
                }
            }
            SourceStats::Process(p) => SourceCounts {
                lines: Some(p.lines()),
                errors: Some(p.spawn_failures()),
                long_lines: Some(p.truncated()),
                invalid: Some(p.invalid()),
                restarts: Some(p.starts().saturating_sub(1)),
                ..SourceCounts::default()
            },
            SourceStats::Utmp(u) => SourceCounts {
                lines: Some(u.events()),
                errors: Some(u.read_errors()),
                rotations: Some(u.rotations()),
                truncations: Some(u.truncations()),
                ..SourceCounts::default()
            },
            SourceStats::Evtx(e) => SourceCounts {
                lines: Some(e.records()),
                errors: Some(e.errors()),
                rotations: Some(e.replaced()),
                invalid: Some(e.skipped()),
                ..SourceCounts::default()
            },
            SourceStats::Beats(b) => SourceCounts {
                lines: Some(b.documents.load(std::sync::atomic::Ordering::Relaxed)),
                invalid: Some(b.rejected.load(std::sync::atomic::Ordering::Relaxed)),
                ..SourceCounts::default()
            },
            SourceStats::DnsCapture(d) => SourceCounts {
                lines: Some(d.events()),
                errors: Some(d.errors()),
                invalid: Some(d.unusable()),
                dropped: Some(d.drops()),
                ..SourceCounts::default()
            },
            SourceStats::Plain => SourceCounts::default(),
        }
    }
}

fn sources(o: &mut Out, list: &[SourceEntry]) {
    type Get = fn(&SourceCounts) -> Option<u64>;
    // All counters.
    let series: [(&str, &str, Get); 8] = [
        (
            "logward_source_lines_total",
            "Lines (or records) a source sent.",
            |c| c.lines,
        ),
        (
            "logward_source_errors_total",
            "Failed opens, reads or program starts of a source.",
            |c| c.errors,
        ),
        (
            "logward_source_rotations_total",
            "Files replaced under a followed path.",
            |c| c.rotations,
        ),
        (
            "logward_source_truncations_total",
            "Followed files found shorter than what had been read (copytruncate).",
            |c| c.truncations,
        ),
        (
            "logward_source_long_lines_total",
            "Lines cut (or skipped) for exceeding the line limit.",
            |c| c.long_lines,
        ),
        (
            "logward_source_invalid_total",
            "Lines with invalid UTF-8 (decoded lossily) or that a source could not use.",
            |c| c.invalid,
        ),
        (
            "logward_source_restarts_total",
            "Times a followed program (journalctl, a command) exited and was started again.",
            |c| c.restarts,
        ),
        (
            "logward_source_dropped_total",
            "Packets the kernel dropped before a capture source read them (its receive buffer was full).",
            |c| c.dropped,
        ),
    ];
    let counts: Vec<SourceCounts> = list.iter().map(|src| src.stats.counts()).collect();
    for (name, help, get) in series {
        let rows: Vec<_> = list
            .iter()
            .zip(&counts)
            .filter_map(|(src, c)| {
                let v = get(c)?;
                Some(([("source", src.id.as_str()), ("type", src.kind)], v))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let r = o.w.counters(name, help, rows);
        o.keep(r);
    }
}

/// Most bytes of an HTTP request head before hyper answers 431 (its smallest buffer).
const MAX_HEAD: usize = 8192;
/// Time a client has for its request head, and for the whole exchange.
const DEADLINE: Duration = Duration::from_secs(10);

/// Serves `GET /metrics` on `listener`, asking the pipeline task for each exposition: one
/// request per connection (no keep-alive), the request body never read.
pub async fn serve_http(listener: TcpListener, ctl: mpsc::Sender<Command>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ctl = ctl.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, ctl.clone()));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(DEADLINE)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let r = tokio::time::timeout(DEADLINE, conn).await;
            if !matches!(r, Ok(Ok(()))) {
                tracing::debug!(%peer, "metrics: request failed or timed out");
            }
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    ctl: mpsc::Sender<Command>,
) -> Result<hyper::Response<String>, Infallible> {
    if req.method() != Method::GET {
        return Ok(respond(StatusCode::METHOD_NOT_ALLOWED, String::new()));
    }
    if req.uri().path() != "/metrics" {
        return Ok(respond(StatusCode::NOT_FOUND, String::new()));
    }
    let (reply, rx) = oneshot::channel();
    let body = match ctl
        .send(Command {
            request: Request::Metrics,
            reply,
        })
        .await
    {
        Ok(()) => rx.await.ok().and_then(|r| r.message),
        Err(_) => None,
    };
    Ok(match body {
        Some(b) => respond(StatusCode::OK, b),
        None => respond(StatusCode::SERVICE_UNAVAILABLE, String::new()),
    })
}

fn respond(status: StatusCode, body: String) -> hyper::Response<String> {
    let mut r = hyper::Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(exposition::CONTENT_TYPE),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_well_formed() {
        let file = Arc::new(FileStats::default());
        let s = Snapshot {
            pipeline: PipelineStats {
                lines: 10,
                alerts: 2,
                ..PipelineStats::default()
            },
            ban_failures: 1,
            bans_active: Some(3),
            sources: vec![SourceEntry {
                id: "file:/var/log/a \"b\"".into(),
                kind: "file",
                stats: SourceStats::File(file),
            }],
            ..Snapshot::default()
        };
        let text = render(&s);
        assert!(text.contains("\nlogward_lines_total 10\n"), "{text}");
        assert!(text.contains("\nlogward_ban_failures_total 1\n"));
        assert!(text.contains("\nlogward_bans_active 3\n"));
        assert!(
            text.contains("\n# TYPE process_resident_memory_bytes gauge\n"),
            "{text}"
        );
        assert!(text.contains(
            "logward_source_lines_total{source=\"file:/var/log/a \\\"b\\\"\",type=\"file\"} 0\n"
        ));
        // Every sample line follows its # TYPE, names are valid, values are integers.
        let mut typed = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap_or_default().to_owned());
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let name = l.split(['{', ' ']).next().unwrap_or_default();
            assert!(typed.contains(name), "untyped sample: {l}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            let v = l.rsplit(' ').next().unwrap_or_default();
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }
}
