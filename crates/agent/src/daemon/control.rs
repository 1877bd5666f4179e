//! Answers the control socket's requests (`logward status`, `bans`, `outbox`, metrics).

use std::sync::Arc;

use logward_core::{Clock, SystemClock};
use logward_engine::Engine;
use logward_store::{AgentStore as _, OutboxState, Store};
use tokio::sync::mpsc;

use super::effects::carry_out;
use super::Pipeline;
use super::State;
use crate::ban::nftables::BanExecutor;
use crate::config::AgentConfig;
use crate::control::{BanRow, Command, OutboxRow, Request, Response};
use crate::metrics;

pub(super) async fn control_command(
    cmd: Command,
    pipeline: &mut Pipeline,
    executor: Option<&BanExecutor>,
    cfg: &AgentConfig,
    state: &State,
    fail_tx: &mpsc::Sender<logward_core::Alert>,
) {
    let Command { request, reply } = cmd;
    let now = SystemClock.now().unix;
    let disabled = || {
        Response::error(
            "bans are disabled in this daemon's config: set `bans: {enabled: true}` and restart \
             `logward run`",
        )
    };
    let answer = match request {
        Request::Status => status(pipeline, executor),
        Request::Metrics => {
            Response::ok(metrics::render(&snapshot(pipeline, executor, state, now)))
        }
        Request::OutboxList {
            state: which,
            limit,
        } => outbox_list(pipeline, which.as_deref(), limit),
        Request::OutboxRetry { notifier } => {
            let r = pipeline.store().retry_failed(notifier.as_deref(), now);
            match r {
                Ok(n) => {
                    state.delivery.wake.notify_waiters();
                    Response::ok(format!("{n} failed deliveries queued again"))
                }
                Err(e) => Response::error(e.to_string()),
            }
        }
        Request::OutboxPurge { state: which } => outbox_purge(pipeline, &which),
        Request::BansList => bans_list(pipeline, executor, now),
        Request::BansAdd { target, seconds } => {
            if executor.is_none() {
                let _ = reply.send(disabled());
                return;
            }
            let secs = seconds.unwrap_or_else(|| cfg.default_ban().as_secs());
            if let Some(e) =
                pipeline.record_ban(&target, Some(secs), "manual (logward bans add)", None, now)
            {
                let _ = reply.send(Response::error(e));
                return;
            }
            return finish(pipeline, executor, fail_tx, reply);
        }
        Request::BansDel { target } => {
            if executor.is_none() {
                let _ = reply.send(disabled());
                return;
            }
            if let Some(e) = pipeline.record_unban(&target, now) {
                let _ = reply.send(Response::error(e));
                return;
            }
            return finish(pipeline, executor, fail_tx, reply);
        }
    };
    let _ = reply.send(answer);
}

/// `logward status`.
fn status(pipeline: &Pipeline, executor: Option<&BanExecutor>) -> Response {
    let s = pipeline.stats();
    let e = pipeline.engine().map(Engine::stats).unwrap_or_default();
    // Counter tables are the memory that grows with distinct addresses: show how
    // full the fullest is against its bound, and how many keys a flood pushed out.
    Response::ok(format!(
        "running: {} lines, {} events, {} alerts, {} commits, counter keys {} \
         (largest table {} of max {}), {} evicted, bans {}",
        s.lines,
        s.events,
        s.alerts,
        s.commits,
        e.keys,
        e.largest,
        pipeline.engine().map_or(0, |e| e.program().max_keys()),
        e.evicted,
        if executor.is_some() {
            "enabled"
        } else {
            "disabled"
        }
    ))
}

/// What `/metrics` and `logward metrics` show.
fn snapshot(
    pipeline: &mut Pipeline,
    executor: Option<&BanExecutor>,
    state: &State,
    now: i64,
) -> metrics::Snapshot {
    let bans_active = match executor {
        Some(_) => pipeline.store().count_active_bans(now).ok(),
        None => None,
    };
    metrics::Snapshot {
        pipeline: pipeline.stats(),
        engine: pipeline.engine().map(Engine::stats).unwrap_or_default(),
        ban_failures: state.ban_failures,
        bans_active,
        outbox: pipeline.store().outbox_counts().ok(),
        delivery: Some(Arc::clone(&state.delivery.stats)),
        report: Some(Arc::clone(&state.delivery.report_stats)),
        forward: state.forward.as_ref().map(|f| metrics::ForwardSnapshot {
            stats: f.stats(),
            spool: pipeline.store().spool_stats().ok(),
        }),
        anomaly: pipeline.anomaly().map(|a| metrics::AnomalySnapshot {
            stats: a.stats(),
            dnsbl: a.dnsbl().map(|d| d.stats.counts()),
        }),
        dns: pipeline.dns().map(|d| metrics::DnsSnapshot {
            stats: d.stats(),
            api: d.api().map(|a| a.stats.counts()),
            pending: d.pending() as u64,
            heuristics: d.heuristics().stats(),
            list_entries: d.lists().lists().map(|(_, n, m)| (n + m) as u64).sum(),
        }),
        sources: state.sources.iter().map(|r| r.entry.clone()).collect(),
    }
}

/// `logward outbox list`.
fn outbox_list(pipeline: &mut Pipeline, which: Option<&str>, limit: Option<usize>) -> Response {
    let which = match which.map(OutboxState::parse) {
        None => None,
        Some(Some(w)) => Some(w),
        Some(None) => return Response::error("state: pending, sent or failed"),
    };
    let rows = pipeline
        .store()
        .outbox_list(which, limit.unwrap_or(50).min(10_000));
    match rows {
        Ok(rows) => Response {
            ok: true,
            outbox: rows
                .into_iter()
                .map(|o| OutboxRow {
                    rule_id: serde_json::from_str::<serde_json::Value>(&o.alert_json)
                        .ok()
                        .and_then(|v| v.pointer("/rule/id")?.as_str().map(str::to_owned)),
                    id: o.id,
                    alert_id: o.alert_id,
                    notifier: o.sink,
                    state: o.state.as_str().to_owned(),
                    attempts: o.attempts,
                    next_attempt_at: o.next_attempt_at,
                    last_error: o.last_error,
                })
                .collect(),
            ..Response::default()
        },
        Err(e) => Response::error(e.to_string()),
    }
}

/// `logward outbox purge`.
fn outbox_purge(pipeline: &mut Pipeline, which: &str) -> Response {
    let r = match OutboxState::parse(which) {
        Some(w @ (OutboxState::Sent | OutboxState::Failed)) => {
            pipeline.store().purge_outbox(w).map_err(|e| e.to_string())
        }
        _ => Err("purge takes sent or failed (pending rows are never purged)".to_owned()),
    };
    match r {
        Ok(n) => Response::ok(format!("{n} {which} rows deleted")),
        Err(e) => Response::error(e),
    }
}

/// `logward bans list`.
fn bans_list(pipeline: &mut Pipeline, executor: Option<&BanExecutor>, now: i64) -> Response {
    match pipeline.store().active_bans(now) {
        Ok(bans) => Response {
            ok: true,
            bans: bans
                .into_iter()
                .map(|b| BanRow {
                    target: b.target.to_string(),
                    reason: b.reason,
                    rule_id: b.rule_id,
                    created_at: b.created_at,
                    expires_at: b.expires_at,
                    offences: b.offences,
                })
                .collect(),
            message: if executor.is_none() {
                Some("bans are disabled in this daemon's config".into())
            } else {
                None
            },
            ..Response::default()
        },
        Err(e) => Response::error(e.to_string()),
    }
}

/// Commits a manual ban or unban and answers once the executor has carried it out.
pub(super) fn finish(
    pipeline: &mut Pipeline,
    executor: Option<&BanExecutor>,
    fail_tx: &mpsc::Sender<logward_core::Alert>,
    reply: tokio::sync::oneshot::Sender<Response>,
) {
    match pipeline.commit() {
        Ok(effects) => carry_out(effects, executor, fail_tx.clone(), Some(reply)),
        Err(e) => {
            let _ = reply.send(Response::error(format!("state store: {e}")));
        }
    }
}
