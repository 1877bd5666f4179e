//! `logward run`: the agent daemon. Loads the config (or the built-in default), opens the
//! state store, re-applies the stored bans, starts the sources and the control socket, and
//! runs the [`Pipeline`] in one task until SIGTERM/SIGINT (drain, final commit, exit 0).
//! SIGHUP reloads the config and rules, keeping the running ones when the new ones fail.

mod control;
mod decisions;
mod delivery;
mod effects;
mod reload;
mod sources;
mod startup;

use std::path::PathBuf;
use std::time::Duration;

use logward_core::{Clock, SystemClock};
use logward_engine::ConfigErrors;
use logward_store::{AgentStore as _, SqliteStore, StoreError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::Format;
use crate::control::{self as socket, Command};
use crate::forward::{Credentials, Decisions, Forwarder};
use crate::pipeline::SNAPSHOT_EVERY;
use crate::sources::{SourceItem, CHANNEL_CAPACITY};
use control::control_command;
use decisions::apply_decisions;
use delivery::Deliveries;
use effects::commit;
use reload::reload;
use sources::{restart_sources, start_sources, Running, Wiring};
use startup::{
    announce, load, restore_bans, serve_metrics, start_anomaly, start_dns, start_pipeline,
    RestoredBans,
};

/// The daemon's pipeline, on the store backend the daemon opens (the one place it is
/// chosen): a type parameter, so every batch's commit is a static call.
type Pipeline = crate::pipeline::Pipeline<SqliteStore>;

/// How `logward run` was invoked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--config`; `None` runs the built-in default.
    pub config: Option<PathBuf>,
    /// The state directory (store, control socket).
    pub state_dir: PathBuf,
    /// `--format`, overriding the config's `output.format`.
    pub format: Option<Format>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("invalid configuration:\n{0}")]
    Config(ConfigErrors),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("control socket: {0}")]
    Control(std::io::Error),
    #[error("store thread: {0}")]
    Thread(String),
    #[error("signals: {0}")]
    Signal(std::io::Error),
    #[error("forward: {0}")]
    Forward(#[from] crate::forward::ForwardError),
    #[error("{0}")]
    Anomaly(String),
}

/// The state directory when none is given: `$LOGWARD_STATE_DIR`, else `/var/lib/logward` as
/// root, else `$XDG_STATE_HOME/logward` or `~/.local/state/logward`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("LOGWARD_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if is_root() {
        return PathBuf::from("/var/lib/logward");
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("logward");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/state/logward"),
        None => PathBuf::from("/var/lib/logward"),
    }
}

/// Whether this process runs as root (the owner of /proc/self is the effective uid).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// What the main loop keeps besides the pipeline, for the metrics.
#[derive(Debug)]
struct State {
    sources: Vec<Running>,
    ban_failures: u64,
    delivery: Deliveries,
    forward: Option<Forwarder>,
}

/// How long a failed commit waits before it is tried again.
const COMMIT_RETRY: Duration = Duration::from_millis(500);

/// Runs the daemon until SIGTERM/SIGINT. Returns after the final commit.
pub async fn run(opts: RunOptions) -> Result<(), DaemonError> {
    let (mut cfg, program) = load(&opts).map_err(DaemonError::Config)?;
    let format = opts.format.unwrap_or(cfg.output.format);
    announce(&cfg.sources, opts.config.is_none());
    tracing::info!(state_dir = %opts.state_dir.display(), "opening the state store");
    let state_dir = opts.state_dir.clone();
    let mut store = tokio::task::spawn_blocking(move || SqliteStore::open_dir(&state_dir))
        .await
        .map_err(|e| DaemonError::Thread(e.to_string()))??;
    let listener = socket::bind(&opts.state_dir)
        .await
        .map_err(DaemonError::Control)?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;

    let (fail_tx, mut fail_rx) = mpsc::channel::<logward_core::Alert>(256);
    let RestoredBans {
        executor,
        alerts: startup_alerts,
        failures: startup_failures,
    } = restore_bans(&cfg, &program, &mut store).await?;

    // Forwarding: the credentials `logward enroll` wrote, checked before anything starts.
    let credentials = match &cfg.forward {
        Some(f) => {
            store.spool_set_max(f.spool_max)?;
            Some(Credentials::load(&opts.state_dir)?)
        }
        None => None,
    };

    let mut pipeline = start_pipeline(&cfg, program, store, executor.is_some(), format);
    let mut deferred_rx = start_anomaly(&cfg.anomaly, &mut pipeline)?;
    let mut dns = start_dns(&cfg.dns, &mut pipeline)?;
    for a in startup_alerts {
        pipeline.add_alert(a);
    }

    let (src_tx, mut src_rx) = mpsc::channel::<SourceItem>(CHANNEL_CAPACITY);
    let checkpoints = pipeline.store().checkpoints()?;
    let delivery = Deliveries::start(&opts.state_dir, &cfg, &mut pipeline);
    let (dec_tx, mut dec_rx) = mpsc::channel::<Decisions>(16);
    let forward = match (&cfg.forward, credentials) {
        (Some(f), Some(creds)) => Some(Forwarder::start(
            &opts.state_dir,
            f,
            creds,
            Some(dec_tx.clone()),
        )?),
        _ => None,
    };
    drop(dec_tx);
    let mut state = State {
        sources: start_sources(&cfg, &checkpoints, &src_tx),
        ban_failures: startup_failures,
        delivery,
        forward,
    };
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Command>(64);
    let metrics_server = serve_metrics(cfg.metrics.listen, ctl_tx.clone()).await;
    let server = tokio::spawn(socket::serve(listener, ctl_tx));
    tracing::info!(
        socket = %socket::socket_path(&opts.state_dir).display(),
        "logward agent running"
    );

    let max_batch = cfg.pipeline.max_batch.max(1);
    // While commits fail (a full or broken disk) nothing more is pulled from the sources:
    // the open batch stays at most `max_batch` lines, the bounded channel fills, and the
    // sources wait (backpressure) until a retry commits.
    let mut stalled = false;
    // A deadline, not a sleep made anew each turn: other events (a status request every
    // few hundred ms) must not keep postponing the retry.
    let mut retry_at = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    // Counters reach the store within SNAPSHOT_EVERY of a change even on a quiet host, and
    // expired bans release their addresses to the counters.
    let mut save = tokio::time::interval(SNAPSHOT_EVERY / 2);
    // A DNS query log's last query is complete once its log is quiet for a second.
    let mut idle = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                if let Some(path) = &opts.config {
                    let before = cfg.notify.clone();
                    let dns_before = cfg.dns.clone();
                    if reload(path, &mut cfg, &mut pipeline, opts.format) {
                        if cfg.dns != dns_before {
                            tracing::info!("SIGHUP: the dns section changed; restarting the DNS check");
                            if let Some(w) = dns.watcher.take() {
                                w.abort();
                            }
                            match start_dns(&cfg.dns, &mut pipeline) {
                                Ok(w) => dns = w,
                                Err(e) => tracing::error!(error = %e, "SIGHUP: the DNS check did not start"),
                            }
                        }
                        if cfg.notify != before {
                            tracing::info!("SIGHUP: notifiers and routes changed; restarting delivery");
                            state.delivery.restart(&cfg, &mut pipeline);
                        }
                        let wiring = Wiring { src_tx: &src_tx, executor: executor.as_ref(), fail_tx: &fail_tx };
                        restart_sources(&cfg, &mut state, &mut pipeline, &mut src_rx, wiring).await;
                    }
                } else {
                    tracing::info!("SIGHUP: running the built-in config; nothing to reload");
                }
            }
            Some(cmd) = ctl_rx.recv() => {
                control_command(cmd, &mut pipeline, executor.as_ref(), &cfg, &state, &fail_tx)
                    .await;
            }
            Some(d) = dec_rx.recv() => {
                apply_decisions(d, &mut pipeline, executor.as_ref(), &fail_tx);
            }
            Some(alert) = fail_rx.recv() => {
                // Only failed bans and unbans come this way.
                state.ban_failures += 1;
                pipeline.add_alert(alert);
                commit(&mut pipeline, executor.as_ref(), &fail_tx);
            }
            Some(d) = deferred_rx.recv() => {
                pipeline.resume_login(d);
                while let Ok(d) = deferred_rx.try_recv() {
                    pipeline.resume_login(d);
                }
                commit(&mut pipeline, executor.as_ref(), &fail_tx);
            }
            Some(a) = dns.verdicts.recv() => {
                pipeline.resume_dns(a);
                while let Ok(a) = dns.verdicts.try_recv() {
                    pipeline.resume_dns(a);
                }
                commit(&mut pipeline, executor.as_ref(), &fail_tx);
            }
            Some(lists) = dns.lists.recv() => {
                if let Some(d) = pipeline.dns_mut() {
                    d.set_lists(lists);
                }
            }
            Some(item) = src_rx.recv(), if !stalled => {
                pipeline.push(item);
                let mut n = 1;
                while n < max_batch {
                    match src_rx.try_recv() {
                        Ok(item) => { pipeline.push(item); n += 1; }
                        Err(_) => break,
                    }
                }
                if !commit(&mut pipeline, executor.as_ref(), &fail_tx) {
                    stalled = true;
                    retry_at = tokio::time::Instant::now() + COMMIT_RETRY;
                    tracing::warn!("not reading the sources until a commit succeeds");
                }
            }
            _ = tokio::time::sleep_until(retry_at), if stalled => {
                if commit(&mut pipeline, executor.as_ref(), &fail_tx) {
                    stalled = false;
                    tracing::info!("store commits again; reading the sources");
                } else {
                    retry_at = tokio::time::Instant::now() + COMMIT_RETRY;
                }
            }
            _ = tick.tick() => {
                pipeline.tick();
            }
            _ = idle.tick(), if !stalled => {
                pipeline.idle(false);
                if pipeline.pending() {
                    commit(&mut pipeline, executor.as_ref(), &fail_tx);
                }
            }
            _ = save.tick() => {
                expire_bans(&mut pipeline);
                // Saves the counters once they are due after a burst that went quiet.
                if !stalled {
                    commit(&mut pipeline, executor.as_ref(), &fail_tx);
                }
            }
        }
    }
    // Drain what the sources already handed over, then the final commit.
    server.abort();
    state.delivery.stop();
    if let Some(f) = &mut state.forward {
        f.stop();
    }
    if let Some(m) = metrics_server {
        m.abort();
    }
    drop(src_tx);
    drain(
        &mut pipeline,
        &mut src_rx,
        &mut deferred_rx,
        &mut fail_rx,
        cfg.anomaly.dnsbl.timeout,
    )
    .await;
    let _ = std::fs::remove_file(socket::socket_path(&opts.state_dir));
    let s = pipeline.stats();
    tracing::info!(
        lines = s.lines,
        events = s.events,
        alerts = s.alerts,
        commits = s.commits,
        "stopped"
    );
    Ok(())
}

/// Processes what the sources already handed over, waits for the logins still asking the
/// DNSBL (at most its timeout), and makes the final commit.
async fn drain(
    pipeline: &mut Pipeline,
    src_rx: &mut mpsc::Receiver<SourceItem>,
    deferred_rx: &mut mpsc::UnboundedReceiver<crate::anomaly::Deferred>,
    fail_rx: &mut mpsc::Receiver<logward_core::Alert>,
    dnsbl_timeout: Duration,
) {
    while let Ok(item) = src_rx.try_recv() {
        pipeline.push(item);
    }
    // Logins still waiting for DNSBL get their answer (or the timeout) before the end.
    let deadline = tokio::time::Instant::now() + dnsbl_timeout + Duration::from_millis(500);
    while pipeline.anomaly().is_some_and(|a| a.pending() > 0) {
        match tokio::time::timeout_at(deadline, deferred_rx.recv()).await {
            Ok(Some(d)) => pipeline.resume_login(d),
            _ => break,
        }
    }
    while let Ok(alert) = fail_rx.try_recv() {
        pipeline.add_alert(alert);
    }
    // Queries of DNS query logs still open are events too.
    pipeline.idle(true);
    if let Err(e) = pipeline.commit_final() {
        tracing::error!(error = %e, "final commit failed: the last lines will be read again");
    }
}

/// Ends the bans whose time is up in the store and releases their addresses to the
/// counters.
fn expire_bans(pipeline: &mut Pipeline) {
    let now = SystemClock.now().unix;
    match pipeline.store().expire_bans(now) {
        Ok(ended) => {
            for t in ended {
                pipeline.release(t);
            }
        }
        Err(e) => tracing::warn!(error = %e, "expiring bans in the store failed"),
    }
}
