//! SIGHUP: reloading the config and rules.

use std::path::Path;

use logward_engine::Engine;

use super::Pipeline;
use crate::config::{self, AgentConfig, Format};

/// SIGHUP: the new config replaces the rules, output format and sources when it loads;
/// otherwise the running ones stay (each error logged). Ban settings take a restart (the
/// executor owns the table). Returns whether the new config loaded.
pub(super) fn reload(
    path: &Path,
    cfg: &mut AgentConfig,
    pipeline: &mut Pipeline,
    format: Option<Format>,
) -> bool {
    match config::load(path) {
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            tracing::error!(
                errors = errors.0.len(),
                "SIGHUP: the new config is invalid; keeping the running config and rules"
            );
            false
        }
        Ok(l) => {
            if l.config.bans != cfg.bans {
                tracing::warn!(
                    "SIGHUP: the ban settings changed; they take effect at the next restart"
                );
            }
            if l.config.forward != cfg.forward {
                tracing::warn!(
                    "SIGHUP: the forward settings changed; they take effect at the next restart"
                );
            }
            if l.config.metrics != cfg.metrics {
                tracing::warn!(
                    "SIGHUP: the metrics settings changed; they take effect at the next restart"
                );
            }
            // Ban settings change only at a restart, so the running prefix stays.
            pipeline
                .replace_engine(Engine::new(l.program).with_v6_prefix(cfg.bans.ipv6_prefix.value));
            pipeline
                .printer()
                .set_format(format.unwrap_or(l.config.output.format));
            let bans = cfg.bans.clone();
            let metrics = cfg.metrics.clone();
            let forward = cfg.forward.clone();
            *cfg = l.config;
            cfg.bans = bans;
            cfg.metrics = metrics;
            cfg.forward = forward;
            tracing::info!("SIGHUP: config and rules reloaded");
            true
        }
    }
}
