//! Committing a batch and carrying out its effects (bans, unbans, programs).

use std::time::Duration;

use tokio::sync::mpsc;

use super::Pipeline;
use crate::ban::nftables::BanExecutor;
use crate::control::Response;
use crate::pipeline::{ban_failed_alert, Effects};

/// Commits and carries out the effects; false on a store error (logged; retried later).
pub(super) fn commit(
    pipeline: &mut Pipeline,
    executor: Option<&BanExecutor>,
    fail_tx: &mpsc::Sender<logward_core::Alert>,
) -> bool {
    match pipeline.commit() {
        Ok(effects) => {
            carry_out(effects, executor, fail_tx.clone(), None);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "store commit failed; the batch is kept and retried");
            false
        }
    }
}

/// Applies bans/unbans and runs programs in the background; a failing ban is an ERROR and a
/// `ban-failed` alert. `reply` (a control request) gets the outcome.
pub(super) fn carry_out(
    effects: Effects,
    executor: Option<&BanExecutor>,
    fail_tx: mpsc::Sender<logward_core::Alert>,
    reply: Option<tokio::sync::oneshot::Sender<Response>>,
) {
    let Effects {
        bans,
        unbans,
        execs,
    } = effects;
    for argv in execs {
        tokio::spawn(async move {
            match crate::process::run(&argv, b"", Duration::from_secs(30)).await {
                Ok(out) if out.status.success() => {}
                Ok(out) => tracing::warn!(
                    program = %argv.first().map(String::as_str).unwrap_or(""),
                    status = %out.status,
                    stderr = %out.stderr_text(512),
                    "exec action failed"
                ),
                Err(e) => tracing::warn!(error = %e, "exec action could not run"),
            }
        });
    }
    if bans.is_empty() && unbans.is_empty() {
        if let Some(r) = reply {
            let _ = r.send(Response::ok("done"));
        }
        return;
    }
    let Some(exec) = executor.cloned() else {
        if let Some(r) = reply {
            let _ = r.send(Response::error("bans are disabled"));
        }
        return;
    };
    tokio::spawn(async move {
        let mut result = Ok(());
        if !bans.is_empty() {
            let shown = bans
                .iter()
                .map(|b| b.target.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if let Err(e) = exec.ban(bans).await {
                tracing::error!(targets = %shown, error = %e, "ban failed");
                let _ = fail_tx.send(ban_failed_alert(&shown, &e.to_string())).await;
                result = Err(format!("ban failed: {e}"));
            } else {
                tracing::info!(targets = %shown, "banned");
            }
        }
        if !unbans.is_empty() {
            let shown = unbans
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if let Err(e) = exec.unban(unbans).await {
                tracing::error!(targets = %shown, error = %e, "unban failed");
                result = Err(format!("unban failed: {e}"));
            } else {
                tracing::info!(targets = %shown, "unbanned");
            }
        }
        if let Some(r) = reply {
            let _ = r.send(match result {
                Ok(()) => Response::ok("done"),
                Err(e) => Response::error(e),
            });
        }
    });
}
