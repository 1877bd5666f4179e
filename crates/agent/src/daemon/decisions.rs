//! Fleet ban decisions polled from the collector.

use logward_core::{Clock, SystemClock};
use logward_store::AgentStore as _;
use tokio::sync::mpsc;

use super::effects::commit;
use super::Pipeline;
use crate::ban::nftables::BanExecutor;
use crate::forward::{Decisions, DECISIONS_SINCE};

/// Applies fleet ban decisions like local bans (recorded in the store, then handed to the
/// ban executor) — additions and extensions as bans, deletions and expiries as unbans —
/// then stores the decisions cursor so a restart does not apply them again.
pub(super) fn apply_decisions(
    d: Decisions,
    pipeline: &mut Pipeline,
    executor: Option<&BanExecutor>,
    fail_tx: &mpsc::Sender<logward_core::Alert>,
) {
    let now = SystemClock.now().unix;
    if executor.is_none() {
        if !d.decisions.is_empty() {
            tracing::warn!(
                decisions = d.decisions.len(),
                "fleet ban decisions not applied: bans are disabled in this agent's config"
            );
        }
    } else {
        for x in &d.decisions {
            if x.lift {
                tracing::info!(target = %x.target, reason = %x.reason, "fleet decision lifted: unban");
                if let Some(e) = pipeline.record_unban(&x.target.to_string(), now) {
                    tracing::warn!(target = %x.target, error = %e, "fleet decision lift not applied");
                }
                continue;
            }
            tracing::info!(target = %x.target, seconds = ?x.seconds, reason = %x.reason, "fleet decision: ban");
            if let Some(e) = pipeline.record_ban(
                &x.target.to_string(),
                x.seconds,
                &x.reason,
                x.rule_id.clone(),
                now,
            ) {
                tracing::warn!(target = %x.target, error = %e, "fleet decision not applied");
            }
        }
        if !commit(pipeline, executor, fail_tx) {
            // The cursor stays: the same decisions come again at the next poll after a
            // restart.
            return;
        }
    }
    if let Err(e) = pipeline.store().set_forward_state(DECISIONS_SINCE, &d.next) {
        tracing::warn!(error = %e, "cannot store the decisions cursor");
    }
}
