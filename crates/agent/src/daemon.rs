//! `logward run`: the agent daemon. Loads the config (or the built-in default), opens the
//! state store, re-applies the stored bans, starts the sources and the control socket, and
//! runs the [`Pipeline`] in one task until SIGTERM/SIGINT (drain, final commit, exit 0).
//! SIGHUP reloads the config and rules, keeping the running ones when the new ones fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use logward_core::{Clock, SystemClock};
use logward_engine::{ConfigErrors, Engine};
use logward_store::{OutboxState, SqliteStore, Store, StoreError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::ban::guard::{net_text, Guard, Verdict};
use crate::ban::nftables::{BanExecutor, NftConfig, Nftables};
use crate::ban::RestoreList;
use crate::config::{self, AgentConfig, Format, Source, SourceConfig};
use crate::control::{self, BanRow, Command, OutboxRow, Request, Response};
use crate::enrich::{Dnsbl, GeoIp};
use crate::forward::{Credentials, Decisions, Forwarder, DECISIONS_SINCE};
use crate::metrics::{self, SourceEntry, SourceStats};
use crate::pipeline::{ban_failed_alert, Effects, Pipeline, Printer, SNAPSHOT_EVERY};
use crate::sources::command::{CommandConfig, CommandSource};
use crate::sources::file::{FileConfig, FileSource};
use crate::sources::journal::JournalSource;
use crate::sources::stdin;
use crate::sources::utmp::UtmpSource;
use crate::sources::{SourceItem, CHANNEL_CAPACITY};
use logward_notify::deliver::{Delivery, DeliveryStats, Settings};
use logward_notify::route::Router;
use logward_notify::schedule::{ReportStats, Reporter};
use logward_notify::Notifier;

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

fn load(opts: &RunOptions) -> Result<(AgentConfig, logward_engine::Program), ConfigErrors> {
    match &opts.config {
        Some(path) => config::load(path).map(|l| (l.config, l.program)),
        None => Ok((
            AgentConfig::builtin(&detect_root()),
            logward_engine::default_program(),
        )),
    }
}

/// Where the built-in config looks for logs: `/`, or `LOGWARD_DETECT_ROOT` (tests give a
/// directory laid out like a host's).
fn detect_root() -> PathBuf {
    std::env::var_os("LOGWARD_DETECT_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn announce(sources: &[Source], builtin: bool) {
    for s in sources {
        tracing::info!(
            source = %s.config.id(),
            r#type = s.config.kind(),
            origin = %s.origin,
            "following {} {}",
            s.config.kind(),
            s.config.id()
        );
    }
    let text_logs = sources.iter().any(|s| {
        matches!(
            s.config,
            SourceConfig::File { .. } | SourceConfig::Journal(_)
        )
    });
    if builtin && !sources.is_empty() && !text_logs {
        // Only wtmp/btmp: sshd's own lines (failed passwords, invalid users, keys), sudo and
        // su never reach the rules; say so loudly rather than look like full coverage.
        tracing::warn!(
            "no auth log (/var/log/auth.log, /var/log/secure) and no systemd journal \
             (/run/systemd/journal) on this host: only wtmp/btmp records are followed, so SSH \
             failures by address, invalid users, key logins, sudo and su will NOT be seen. \
             Install rsyslog (it writes /var/log/auth.log) or run systemd-journald, or write \
             a config with `sources:` (start from `logward default-config`)"
        );
    }
    if sources.is_empty() {
        if builtin {
            tracing::warn!(
                "no log source found: none of /var/log/auth.log, /var/log/secure, the systemd \
                 journal (/run/systemd/journal), /var/log/wtmp, /var/log/btmp exists here. \
                 Write a config with `sources:` (start from `logward default-config`) and run \
                 `logward run --config FILE`"
            );
        } else {
            tracing::warn!("the config lists no sources: nothing will be followed");
        }
    }
}

/// A source task and what it was started from.
#[derive(Debug)]
struct Running {
    config: SourceConfig,
    entry: SourceEntry,
    task: tokio::task::JoinHandle<()>,
}

/// Starts one source task feeding `tx`, resuming after its stored checkpoint(s).
fn start_source(
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

fn nft_config(c: &AgentConfig) -> NftConfig {
    NftConfig {
        argv: c.bans.nft.clone(),
        table: c.bans.table.clone(),
        ipv6_prefix: c.bans.ipv6_prefix.value,
        ports: c.bans.ports.clone(),
        ..NftConfig::default()
    }
}

/// What the main loop keeps besides the pipeline, for the metrics.
#[derive(Debug)]
struct State {
    sources: Vec<Running>,
    ban_failures: u64,
    delivery: Deliveries,
    forward: Option<Forwarder>,
}

/// The running delivery workers and what they count.
#[derive(Debug)]
struct Deliveries {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stats: Arc<DeliveryStats>,
    report_stats: Arc<ReportStats>,
    wake: Arc<tokio::sync::Notify>,
    state_dir: PathBuf,
}

impl Deliveries {
    /// Starts a worker per configured notifier (on their own store connection) and routes
    /// the pipeline's alerts to them. A notifier that cannot be built is logged and left out;
    /// its rows wait in the outbox.
    fn start(state_dir: &Path, cfg: &AgentConfig, pipeline: &mut Pipeline) -> Deliveries {
        let stats = Arc::new(DeliveryStats::default());
        let report_stats = Arc::new(ReportStats::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let n = &cfg.notify;
        let router = if cfg.forward.is_some() {
            // The collector notifies; only routes marked `also_when_forwarding` stay here.
            Router::forwarding(n)
        } else {
            Router::new(n)
        };
        if cfg.forward.is_some() && router.is_empty() && !n.notifiers.is_empty() {
            tracing::info!("forwarding: the collector notifies; this agent's notifiers stay off (no route says `also_when_forwarding: true`)");
        }
        pipeline.set_router(router, Arc::clone(&wake));
        let mut notifiers = Vec::new();
        for (name, c) in &n.notifiers {
            match Notifier::build(name, &c.value, n.language) {
                Ok(x) => notifiers.push(Arc::new(x)),
                Err(e) => tracing::error!(notifier = %name, error = %e, "notifier not started"),
            }
        }
        let mut tasks = Vec::new();
        if !notifiers.is_empty() {
            match SqliteStore::open_dir(state_dir) {
                Ok(store) => {
                    for x in &notifiers {
                        tracing::info!(notifier = %x.name, r#type = x.kind(), "delivering alerts");
                    }
                    let store = Arc::new(std::sync::Mutex::new(store));
                    if let Some(r) = &n.report {
                        tracing::info!(at = %r.at.value, "daily report scheduled");
                        let reporter = Reporter::new(
                            r.clone(),
                            notifiers.clone(),
                            Arc::clone(&store),
                            logward_notify::host_name(),
                            Arc::clone(&report_stats),
                        );
                        tasks.push(tokio::spawn(reporter.run()));
                    }
                    tasks.extend(
                        Delivery {
                            notifiers,
                            store,
                            settings: Settings::from_config(n),
                            wake: Arc::clone(&wake),
                            stats: Arc::clone(&stats),
                        }
                        .spawn(),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox: cannot open the store; alerts are queued, not delivered")
                }
            }
        }
        Deliveries {
            tasks,
            stats,
            report_stats,
            wake,
            state_dir: state_dir.to_path_buf(),
        }
    }

    fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Replaces the workers after a reload.
    fn restart(&mut self, cfg: &AgentConfig, pipeline: &mut Pipeline) {
        self.stop();
        let dir = self.state_dir.clone();
        *self = Deliveries::start(&dir, cfg, pipeline);
    }
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
    let listener = control::bind(&opts.state_dir)
        .await
        .map_err(DaemonError::Control)?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;

    let (fail_tx, mut fail_rx) = mpsc::channel::<logward_core::Alert>(256);
    let mut startup_alerts = Vec::new();
    let mut startup_failures = 0;
    // Bans: re-applied from the store (the record) with their remaining time.
    let executor = if cfg.bans.enabled {
        let now = SystemClock.now().unix;
        let active = store.active_bans(now)?;
        let rows: Vec<(String, Option<u64>)> = active
            .iter()
            .map(|b| (b.target.to_string(), b.remaining(now)))
            .collect();
        let mut list = RestoreList::from_rows(rows.iter().map(|(t, r)| (t.as_str(), *r)));
        for bad in &list.rejected {
            tracing::error!(error = %bad, "a stored ban does not validate; not applied");
        }
        // The ignore list may have changed since: stored bans pass the guard again.
        let guard = Guard::new(program.ignore_networks(), cfg.bans.ipv6_prefix.value);
        list.bans.retain_mut(|b| match guard.check(*b) {
            Verdict::Ban(_) => true,
            Verdict::Narrowed { ban, ignored } => {
                tracing::warn!(target = %b.target, ignored = %net_text(ignored), "stored ban narrowed to the address alone: its prefix holds an ignored address");
                *b = ban;
                true
            }
            Verdict::Refused { ignored } => {
                tracing::warn!(target = %b.target, ignored = %net_text(ignored), "stored ban not applied: it would cover an address of the ignore list");
                false
            }
        });
        match Nftables::new(nft_config(&cfg)) {
            Ok(nft) => {
                let nft = Arc::new(nft);
                match nft.start(&list.bans).await {
                    Ok(n) => tracing::info!(restored = n, "bans enabled; stored bans re-applied"),
                    Err(e) => {
                        tracing::error!(error = %e, "bans: cannot set up the nftables table");
                        startup_alerts.push(ban_failed_alert("(restore)", &e.to_string()));
                        startup_failures += 1;
                    }
                }
                Some(BanExecutor::spawn(nft, 4096).0)
            }
            Err(e) => {
                tracing::error!(error = %e, "bans: invalid nftables settings");
                None
            }
        }
    } else {
        tracing::info!("bans disabled (alerts only); `bans: {{enabled: true}}` turns them on");
        None
    };

    // Forwarding: the credentials `logward enroll` wrote, checked before anything starts.
    let credentials = match &cfg.forward {
        Some(f) => {
            store.spool_set_max(f.spool_max)?;
            Some(Credentials::load(&opts.state_dir)?)
        }
        None => None,
    };

    let engine = Engine::new(program).with_v6_prefix(cfg.bans.ipv6_prefix.value);
    let mut pipeline = Pipeline::new(engine, store, executor.is_some(), Printer::stdout(format));
    pipeline.set_ipv6_prefix(cfg.bans.ipv6_prefix.value);
    pipeline.print_unprinted();
    pipeline.set_forward(cfg.forward.as_ref().map(|f| f.events));
    pipeline.restore_engine_state();
    let mut deferred_rx = start_anomaly(&cfg.anomaly, &mut pipeline)?;
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
        sources: Vec::new(),
        ban_failures: startup_failures,
        delivery,
        forward,
    };
    for s in &cfg.sources {
        match start_source(&s.config, &checkpoints, src_tx.clone()) {
            Ok(entry) => state.sources.push(entry),
            Err(e) => tracing::error!(source = %s.config.id(), origin = %s.origin, "{e}"),
        }
    }
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Command>(64);
    let metrics_server = match cfg.metrics.listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                // The bound address: port 0 in the config means "any free port".
                let addr = l.local_addr().unwrap_or(addr);
                tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
                Some(tokio::spawn(metrics::serve_http(l, ctl_tx.clone())))
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "metrics: cannot listen; not served over HTTP");
                None
            }
        },
        None => None,
    };
    let server = tokio::spawn(control::serve(listener, ctl_tx));
    tracing::info!(
        socket = %control::socket_path(&opts.state_dir).display(),
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
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                if let Some(path) = &opts.config {
                    let before = cfg.notify.clone();
                    if reload(path, &mut cfg, &mut pipeline, opts.format) {
                        if cfg.notify != before {
                            tracing::info!("SIGHUP: notifiers and routes changed; restarting delivery");
                            state.delivery.restart(&cfg, &mut pipeline);
                        }
                        let link = Link { src_tx: &src_tx, executor: executor.as_ref(), fail_tx: &fail_tx };
                        restart_sources(&cfg, &mut state, &mut pipeline, &mut src_rx, link).await;
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
            _ = save.tick() => {
                let now = SystemClock.now().unix;
                match pipeline.store().expire_bans(now) {
                    Ok(ended) => {
                        for t in ended {
                            pipeline.release(t);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "expiring bans in the store failed"),
                }
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
    while let Ok(item) = src_rx.try_recv() {
        pipeline.push(item);
    }
    // Logins still waiting for DNSBL get their answer (or the timeout) before the end.
    let deadline =
        tokio::time::Instant::now() + cfg.anomaly.dnsbl.timeout + Duration::from_millis(500);
    while pipeline.anomaly().is_some_and(|a| a.pending() > 0) {
        match tokio::time::timeout_at(deadline, deferred_rx.recv()).await {
            Ok(Some(d)) => pipeline.resume_login(d),
            _ => break,
        }
    }
    while let Ok(alert) = fail_rx.try_recv() {
        pipeline.add_alert(alert);
    }
    if let Err(e) = pipeline.commit_final() {
        tracing::error!(error = %e, "final commit failed: the last lines will be read again");
    }
    let _ = std::fs::remove_file(control::socket_path(&opts.state_dir));
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

/// Applies fleet ban decisions like local bans (recorded in the store, then handed to the
/// ban executor) — additions and extensions as bans, deletions and expiries as unbans —
/// then stores the decisions cursor so a restart does not apply them again.
fn apply_decisions(
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

/// Commits and carries out the effects; false on a store error (logged; retried later).
fn commit(
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
fn carry_out(
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

/// The login anomaly detector from `enrich:`/`anomaly:`: a GeoIP database that cannot be
/// opened stops the start (a clear error, not a silently blind detector).
fn start_anomaly(
    cfg: &crate::config::anomaly::Anomaly,
    pipeline: &mut Pipeline,
) -> Result<mpsc::UnboundedReceiver<crate::anomaly::Deferred>, DaemonError> {
    if !cfg.enabled {
        tracing::info!("login anomaly detection off (`anomaly: {{enabled: false}}`)");
        let (_tx, rx) = mpsc::unbounded_channel();
        return Ok(rx);
    }
    let geoip = cfg
        .geoip
        .as_deref()
        .map(|p| GeoIp::open(p).map_err(|e| DaemonError::Anomaly(format!("enrich.geoip: {e}"))))
        .transpose()?;
    let dnsbl = if cfg.dnsbl.zones.is_empty() {
        None
    } else {
        Some(Dnsbl::new(cfg.dnsbl.clone()).map_err(|e| DaemonError::Anomaly(e.to_string()))?)
    };
    tracing::info!(
        geoip = geoip.is_some(),
        dnsbl_zones = cfg.dnsbl.zones.len(),
        "login anomaly detection on"
    );
    let (a, rx) = crate::anomaly::Anomaly::new(cfg.settings.clone(), geoip, dnsbl);
    pipeline.set_anomaly(Some(a));
    Ok(rx)
}

async fn control_command(
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
    match request {
        Request::Status => {
            let s = pipeline.stats();
            let e = pipeline.engine().stats();
            // Counter tables are the memory that grows with distinct addresses: show how
            // full the fullest is against its bound, and how many keys a flood pushed out.
            let _ = reply.send(Response::ok(format!(
                "running: {} lines, {} events, {} alerts, {} commits, counter keys {} \
                 (largest table {} of max {}), {} evicted, bans {}",
                s.lines,
                s.events,
                s.alerts,
                s.commits,
                e.keys,
                e.largest,
                pipeline.engine().program().max_keys(),
                e.evicted,
                if executor.is_some() {
                    "enabled"
                } else {
                    "disabled"
                }
            )));
        }
        Request::Metrics => {
            let bans_active = match executor {
                Some(_) => pipeline.store().count_active_bans(now).ok(),
                None => None,
            };
            let snap = metrics::Snapshot {
                pipeline: pipeline.stats(),
                engine: pipeline.engine().stats(),
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
                sources: state.sources.iter().map(|r| r.entry.clone()).collect(),
            };
            let _ = reply.send(Response::ok(metrics::render(&snap)));
        }
        Request::OutboxList {
            state: which,
            limit,
        } => {
            let which = match which.as_deref().map(OutboxState::parse) {
                None => None,
                Some(Some(w)) => Some(w),
                Some(None) => {
                    let _ = reply.send(Response::error("state: pending, sent or failed"));
                    return;
                }
            };
            let rows = pipeline
                .store()
                .outbox_list(which, limit.unwrap_or(50).min(10_000));
            let _ = reply.send(match rows {
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
            });
        }
        Request::OutboxRetry { notifier } => {
            let r = pipeline.store().retry_failed(notifier.as_deref(), now);
            let _ = reply.send(match r {
                Ok(n) => {
                    state.delivery.wake.notify_waiters();
                    Response::ok(format!("{n} failed deliveries queued again"))
                }
                Err(e) => Response::error(e.to_string()),
            });
        }
        Request::OutboxPurge { state: which } => {
            let r = match OutboxState::parse(&which) {
                Some(w @ (OutboxState::Sent | OutboxState::Failed)) => {
                    pipeline.store().purge_outbox(w).map_err(|e| e.to_string())
                }
                _ => Err("purge takes sent or failed (pending rows are never purged)".to_owned()),
            };
            let _ = reply.send(match r {
                Ok(n) => Response::ok(format!("{n} {which} rows deleted")),
                Err(e) => Response::error(e),
            });
        }
        Request::BansList => {
            let _ = reply.send(match pipeline.store().active_bans(now) {
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
            });
        }
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
            finish(pipeline, executor, fail_tx, reply);
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
            finish(pipeline, executor, fail_tx, reply);
        }
    }
}

fn finish(
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

/// SIGHUP: the new config replaces the rules, output format and sources when it loads;
/// otherwise the running ones stay (each error logged). Ban settings take a restart (the
/// executor owns the table). Returns whether the new config loaded.
fn reload(
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

/// Where a restarted source sends, and how a commit carries out its effects.
#[derive(Debug, Clone, Copy)]
struct Link<'a> {
    src_tx: &'a mpsc::Sender<SourceItem>,
    executor: Option<&'a BanExecutor>,
    fail_tx: &'a mpsc::Sender<logward_core::Alert>,
}

/// Makes the running sources those of `cfg`: unchanged ones go on untouched; removed or
/// changed ones are stopped, what they already queued is processed and committed, and only
/// then are new or changed ones started from the store's checkpoints — so a source that
/// restarts under the same id resumes exactly where its last line was committed.
async fn restart_sources(
    cfg: &AgentConfig,
    state: &mut State,
    pipeline: &mut Pipeline,
    src_rx: &mut mpsc::Receiver<SourceItem>,
    link: Link<'_>,
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
    if !commit(pipeline, link.executor, link.fail_tx) {
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
        match start_source(&s.config, &checkpoints, link.src_tx.clone()) {
            Ok(r) => {
                tracing::info!(source = %r.entry.id, r#type = r.entry.kind, "SIGHUP: source started");
                state.sources.push(r);
            }
            Err(e) => tracing::error!(source = %s.config.id(), origin = %s.origin, "{e}"),
        }
    }
}
