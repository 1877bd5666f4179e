//! The source tasks: started from the config and the store's checkpoints, and restarted
//! after a reload.

use std::sync::Arc;

use logward_store::AgentStore as _;
use tokio::sync::mpsc;

use super::effects::commit;
use super::Pipeline;
use super::State;
use crate::ban::nftables::BanExecutor;
use crate::config::{AgentConfig, SourceConfig};
use crate::metrics::{SourceEntry, SourceStats};
use crate::sources::beats::BeatsSource;
use crate::sources::command::{CommandConfig, CommandSource};
use crate::sources::dns_capture::DnsCaptureSource;
use crate::sources::evtx::EvtxSource;
use crate::sources::file::{FileConfig, FileSource};
use crate::sources::journal::JournalSource;
use crate::sources::stdin;
use crate::sources::utmp::UtmpSource;
use crate::sources::SourceItem;

/// A source task and what it was started from.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) config: SourceConfig,
    pub(super) entry: SourceEntry,
    pub(super) task: tokio::task::JoinHandle<()>,
}

/// Starts one source task feeding `tx`, resuming after its stored checkpoint(s).
pub(super) fn start_source(
    source: &SourceConfig,
    checkpoints: &[logward_store::Checkpoint],
    tx: mpsc::Sender<SourceItem>,
) -> Result<Running, String> {
    let id = source.id();
    let mine = |id: &str| checkpoints.iter().find(|c| c.source == id).cloned();
    let (stats, task) = match source {
        SourceConfig::File { path, start_at, .. } => {
            let mut c = FileConfig::new(path.clone());
            c.id = Arc::from(id.as_str());
            c.start_at = *start_at;
            let src = FileSource::new(c, mine(&id));
            (SourceStats::File(src.stats()), tokio::spawn(src.run(tx)))
        }
        SourceConfig::Audit(a) => {
            let src = FileSource::new(a.file_config(), mine(&id));
            (SourceStats::File(src.stats()), tokio::spawn(src.run(tx)))
        }
        SourceConfig::Evtx(e) => {
            let src = EvtxSource::new(e.clone(), mine(&id));
            (SourceStats::Evtx(src.stats()), tokio::spawn(src.run(tx)))
        }
        SourceConfig::Journal(j) => {
            let src = JournalSource::new(Arc::<str>::from(id.as_str()), j.clone())
                .map_err(|e| e.to_string())?;
            let stats = SourceStats::Process(src.stats());
            (stats, tokio::spawn(src.run(mine(&id), tx)))
        }
        SourceConfig::Utmp(u) => {
            let src = UtmpSource::new(u.clone());
            let stats = SourceStats::Utmp(src.stats());
            let cps = src.ids().iter().filter_map(|i| mine(i)).collect();
            (stats, tokio::spawn(src.run(cps, tx)))
        }
        SourceConfig::Command { argv, restart, .. } => {
            let c = CommandConfig {
                argv: argv.clone(),
                restart: *restart,
                backoff: Default::default(),
            };
            let src =
                CommandSource::new(Arc::<str>::from(id.as_str()), c).map_err(|e| e.to_string())?;
            (SourceStats::Process(src.stats()), tokio::spawn(src.run(tx)))
        }
        SourceConfig::Beats(b) => {
            // Paths were made relative to the config file's folder when the config loaded:
            // absolute, or relative to the working directory when the config was named by a
            // relative path (`--config agent.yaml`), so they are not joined to anything again.
            let cfg = b
                .check_files(std::path::Path::new(""))
                .map_err(|e| e.join("; "))?;
            let src = BeatsSource::new(Arc::<str>::from(id.as_str()), cfg);
            (SourceStats::Beats(src.stats()), tokio::spawn(src.run(tx)))
        }
        SourceConfig::DnsCapture(c) => {
            // Opened here, so a missing CAP_NET_RAW or interface is an error at start-up.
            let src = DnsCaptureSource::open(c).map_err(|e| e.to_string())?;
            (
                SourceStats::DnsCapture(src.stats()),
                tokio::spawn(src.run(tx)),
            )
        }
        SourceConfig::Stdin { .. } => {
            let id = Arc::<str>::from(id.as_str());
            let task = tokio::spawn(async move {
                let summary = stdin::run(id, tx).await;
                tracing::info!(?summary, "standard input ended");
            });
            (SourceStats::Plain, task)
        }
    };
    Ok(Running {
        config: source.clone(),
        entry: SourceEntry {
            id,
            kind: source.kind(),
            stats,
        },
        task,
    })
}

/// Starts the sources of `cfg`; one that cannot start is logged and left out.
pub(super) fn start_sources(
    cfg: &AgentConfig,
    checkpoints: &[logward_store::Checkpoint],
    src_tx: &mpsc::Sender<SourceItem>,
) -> Vec<Running> {
    let mut running = Vec::new();
    for s in &cfg.sources {
        match start_source(&s.config, checkpoints, src_tx.clone()) {
            Ok(entry) => running.push(entry),
            Err(e) => tracing::error!(source = %s.config.id(), origin = %s.origin, "{e}"),
        }
    }
    running
}

/// Where a restarted source sends, and how a commit carries out its effects.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wiring<'a> {
    pub(super) src_tx: &'a mpsc::Sender<SourceItem>,
    pub(super) executor: Option<&'a BanExecutor>,
    pub(super) fail_tx: &'a mpsc::Sender<logward_core::Alert>,
}

/// Makes the running sources those of `cfg`: unchanged ones go on untouched; removed or
/// changed ones are stopped, what they already queued is processed and committed, and only
/// then are new or changed ones started from the store's checkpoints — so a source that
/// restarts under the same id resumes exactly where its last line was committed.
pub(super) async fn restart_sources(
    cfg: &AgentConfig,
    state: &mut State,
    pipeline: &mut Pipeline,
    src_rx: &mut mpsc::Receiver<SourceItem>,
    wiring: Wiring<'_>,
) {
    let (keep, stop): (Vec<_>, Vec<_>) = std::mem::take(&mut state.sources)
        .into_iter()
        .partition(|r| cfg.sources.iter().any(|s| s.config == r.config));
    state.sources = keep;
    let missing = |state: &State| {
        cfg.sources
            .iter()
            .filter(|s| !state.sources.iter().any(|r| r.config == s.config))
            .count()
    };
    if stop.is_empty() && missing(state) == 0 {
        return;
    }
    for r in stop {
        r.task.abort();
        let _ = r.task.await; // cancelled: it sends nothing more
        tracing::info!(source = %r.entry.id, "SIGHUP: source stopped");
    }
    while let Ok(item) = src_rx.try_recv() {
        pipeline.push(item);
    }
    if !commit(pipeline, wiring.executor, wiring.fail_tx) {
        tracing::error!("SIGHUP: new sources not started (the store commit failed)");
        return;
    }
    let checkpoints = match pipeline.store().checkpoints() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: cannot read checkpoints; new sources not started");
            return;
        }
    };
    for s in &cfg.sources {
        if state.sources.iter().any(|r| r.config == s.config) {
            continue;
        }
        match start_source(&s.config, &checkpoints, wiring.src_tx.clone()) {
            Ok(r) => {
                tracing::info!(source = %r.entry.id, r#type = r.entry.kind, "SIGHUP: source started");
                state.sources.push(r);
            }
            Err(e) => tracing::error!(source = %s.config.id(), origin = %s.origin, "{e}"),
        }
    }
}
