//! What `run` does before the main loop: the config, the announcement of the sources, the
//! bans restored from the store, the anomaly detector and the metrics listener.

use std::path::PathBuf;
use std::sync::Arc;

use logward_core::{Clock, SystemClock};
use logward_engine::{ConfigErrors, Engine};
use logward_store::{AgentStore as _, SqliteStore};
use tokio::sync::mpsc;

use super::Pipeline;
use super::{DaemonError, RunOptions};
use crate::ban::guard::{net_text, Guard, Verdict};
use crate::ban::nftables::{BanExecutor, NftConfig, Nftables};
use crate::ban::RestoreList;
use crate::config::{self, AgentConfig, Format, Source, SourceConfig};
use crate::control::Command;
use crate::enrich::{Dnsbl, GeoIp};
use crate::metrics;
use crate::pipeline::{ban_failed_alert, Printer};

pub(super) fn load(
    opts: &RunOptions,
) -> Result<(AgentConfig, logward_engine::Program), ConfigErrors> {
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
pub(super) fn detect_root() -> PathBuf {
    std::env::var_os("LOGWARD_DETECT_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

pub(super) fn announce(sources: &[Source], builtin: bool) {
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

pub(super) fn nft_config(c: &AgentConfig) -> NftConfig {
    NftConfig {
        argv: c.bans.nft.clone(),
        table: c.bans.table.clone(),
        ipv6_prefix: c.bans.ipv6_prefix.value,
        ports: c.bans.ports.clone(),
        ..NftConfig::default()
    }
}

/// The login anomaly detector from `enrich:`/`anomaly:`: a GeoIP database that cannot be
/// opened stops the start (a clear error, not a silently blind detector).
pub(super) fn start_anomaly(
    cfg: &crate::config::anomaly::DetectorSetup,
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

/// What the DNS check hands back to the main loop: intel API verdicts, reloaded threat lists
/// (receivers that never yield when there is no API or no list), and its background tasks.
pub(super) struct DnsWiring {
    pub verdicts: mpsc::UnboundedReceiver<crate::dns_check::api::Answer>,
    pub lists: mpsc::Receiver<logward_engine::dns::ListSet>,
    /// The list watcher (stopped when the check is restarted).
    pub watcher: Option<tokio::task::JoinHandle<()>>,
}

/// The DNS check from `dns:`: its threat lists read (a list that cannot be read is empty
/// until its file appears, logged), their watcher started, the intel API asked from now on.
pub(super) fn start_dns(
    cfg: &crate::dns_check::Settings,
    pipeline: &mut Pipeline,
) -> Result<DnsWiring, DaemonError> {
    let (lists_tx, lists_rx) = mpsc::channel(1);
    let mut wiring = DnsWiring {
        verdicts: mpsc::unbounded_channel().1,
        lists: lists_rx,
        watcher: None,
    };
    let Some((mut check, outcomes)) =
        crate::dns_check::DnsCheck::configured(cfg).map_err(DaemonError::Anomaly)?
    else {
        pipeline.set_dns(None);
        return Ok(wiring);
    };
    if !cfg.lists.is_empty() {
        crate::dns_check::log_lists(&outcomes);
        wiring.watcher = Some(tokio::spawn(crate::dns_check::watch_lists(
            check.lists().clone(),
            cfg.lists_check,
            lists_tx,
        )));
    }
    if let Some(rx) = check.start_api() {
        wiring.verdicts = rx;
    }
    tracing::info!(
        lists = cfg.lists.len(),
        api = cfg.api.is_some(),
        owners = cfg.owners.len(),
        dedup_window_s = cfg.dedup_window.as_secs(),
        "DNS check on"
    );
    pipeline.set_dns(Some(check));
    Ok(wiring)
}

/// What restoring the bans leaves for the main loop.
pub(super) struct RestoredBans {
    pub executor: Option<BanExecutor>,
    /// `ban-failed` alerts for the pipeline (the table could not be set up), and how many.
    pub alerts: Vec<logward_core::Alert>,
    pub failures: u64,
}

/// Bans: re-applied from the store (the record) with their remaining time.
pub(super) async fn restore_bans(
    cfg: &AgentConfig,
    program: &logward_engine::Program,
    store: &mut SqliteStore,
) -> Result<RestoredBans, DaemonError> {
    let mut alerts = Vec::new();
    let mut failures = 0;
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
        match Nftables::new(nft_config(cfg)) {
            Ok(nft) => {
                let nft = Arc::new(nft);
                match nft.start(&list.bans).await {
                    Ok(n) => tracing::info!(restored = n, "bans enabled; stored bans re-applied"),
                    Err(e) => {
                        tracing::error!(error = %e, "bans: cannot set up the nftables table");
                        alerts.push(ban_failed_alert("(restore)", &e.to_string()));
                        failures += 1;
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
    Ok(RestoredBans {
        executor,
        alerts,
        failures,
    })
}

/// Serves `/metrics` over HTTP when `metrics.listen` is set; a port that cannot be bound is
/// logged, not fatal.
pub(super) async fn serve_metrics(
    listen: Option<std::net::SocketAddr>,
    ctl_tx: mpsc::Sender<Command>,
) -> Option<tokio::task::JoinHandle<()>> {
    match listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                // The bound address: port 0 in the config means "any free port".
                let addr = l.local_addr().unwrap_or(addr);
                tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
                Some(tokio::spawn(metrics::serve_http(l, ctl_tx)))
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "metrics: cannot listen; not served over HTTP");
                None
            }
        },
        None => None,
    }
}

/// The pipeline over the opened store, with the engine state and the unprinted alerts of
/// the last run restored.
pub(super) fn start_pipeline(
    cfg: &AgentConfig,
    program: logward_engine::Program,
    store: SqliteStore,
    bans: bool,
    format: Format,
) -> Pipeline {
    let engine = Engine::new(program).with_v6_prefix(cfg.bans.ipv6_prefix.value);
    let mut pipeline = Pipeline::new(engine, store, bans, Printer::stdout(format));
    pipeline.set_ipv6_prefix(cfg.bans.ipv6_prefix.value);
    pipeline.print_unprinted();
    pipeline.set_forward(cfg.forward.as_ref().map(|f| f.events));
    pipeline.restore_engine_state();
    pipeline
}
