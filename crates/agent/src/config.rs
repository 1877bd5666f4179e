//! The agent's configuration: YAML, strict (`deny_unknown_fields` everywhere, sources an
//! internally tagged enum on `type:` named after their modules), `${ENV}` substitution,
//! `conf.d/*.yaml` fragments merged in sorted order, and a semantic pass that reports every
//! error at its file:line:column (the same [`ConfigError`] the rules use).
//!
//! ```yaml
//! sources:
//!   - {type: file, path: /var/log/auth.log}
//!   - {type: utmp, wtmp: /var/log/wtmp, btmp: /var/log/btmp}
//! rules: default          # or a rules file, relative to this file
//! output: {format: text}  # or ndjson
//! bans: {enabled: true, ipv6_prefix: 64, default_duration: 1h}
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use logward_engine::{ConfigError, ConfigErrors, Program};
pub mod anomaly;
pub mod dns;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::sources::audit::AuditConfig;
use crate::sources::dns_capture::DnsCaptureConfig;
use crate::sources::evtx::EvtxConfig;
pub use crate::sources::file::StartAt;
use crate::sources::journal::JournalConfig;
use crate::sources::utmp::{UtmpConfig, UtmpSource};

/// One configured source. `type:` is the module name under `sources/`; the journal and utmp
/// variants take those modules' own config structs.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A followed text file (sources/file.rs).
    File {
        /// The file; its path is the source id unless `id` is set.
        path: PathBuf,
        /// Where a file without a checkpoint starts: `end` (default) or `beginning`.
        #[serde(default)]
        start_at: StartAt,
        /// A stable id for the checkpoint (default: the path).
        #[serde(default)]
        id: Option<String>,
    },
    /// auditd's log, followed as a file (sources/audit.rs).
    Audit(AuditConfig),
    /// A live or growing Windows `.evtx` file, followed by record id (sources/evtx.rs).
    Evtx(EvtxConfig),
    /// The systemd journal through `journalctl -o json --follow` (sources/journal.rs).
    Journal(JournalConfig),
    /// wtmp and/or btmp records (sources/utmp.rs).
    Utmp(UtmpConfig),
    /// A program whose standard output is followed (sources/command.rs).
    Command {
        /// The source id.
        name: String,
        /// Program and arguments (never a shell).
        argv: Vec<String>,
        /// Start it again when it exits (default true).
        #[serde(default = "yes")]
        restart: bool,
    },
    /// The agent's standard input (sources/stdin.rs).
    Stdin {
        #[serde(default)]
        id: Option<String>,
    },
    /// A Beats (Lumberjack v2) listener: Winlogbeat, Filebeat … with `output.logstash`
    /// (sources/beats.rs). At most one per agent: it serves any number of Beats.
    Beats(logward_beats::config::BeatsFile),
    /// Live DNS traffic on an interface, decoded to `dns-query` events
    /// (sources/dns_capture.rs). Needs CAP_NET_RAW.
    DnsCapture(DnsCaptureConfig),
}

fn yes() -> bool {
    true
}

impl PartialEq for SourceConfig {
    /// Same type and same settings (compared through their Debug form: the journal and utmp
    /// configs do not implement `PartialEq`).
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl SourceConfig {
    /// The `type:` word.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::File { .. } => "file",
            SourceConfig::Audit(_) => "audit",
            SourceConfig::Evtx(_) => "evtx",
            SourceConfig::Journal(_) => "journal",
            SourceConfig::Utmp(_) => "utmp",
            SourceConfig::Command { .. } => "command",
            SourceConfig::Stdin { .. } => "stdin",
            SourceConfig::Beats(_) => "beats",
            SourceConfig::DnsCapture(_) => "dns_capture",
        }
    }

    /// The id its checkpoints and decoder state are kept under (utmp: its files' ids).
    pub fn id(&self) -> String {
        match self {
            SourceConfig::File { path, id, .. } => id
                .clone()
                .unwrap_or_else(|| path.to_string_lossy().into_owned()),
            SourceConfig::Audit(a) => a.source_id(),
            SourceConfig::Evtx(e) => e.source_id(),
            SourceConfig::Journal(_) => "journal".into(),
            SourceConfig::Utmp(u) => UtmpSource::new(u.clone()).ids().join(","),
            SourceConfig::Command { name, .. } => name.clone(),
            SourceConfig::Stdin { id } => id.clone().unwrap_or_else(|| "stdin".into()),
            SourceConfig::Beats(b) => format!("beats:{}", b.listen),
            SourceConfig::DnsCapture(c) => c.source_id(),
        }
    }
}

/// How alerts are printed on standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One readable line per alert.
    #[default]
    Text,
    /// One nested ECS JSON object per line.
    Ndjson,
    /// Nothing on stdout (alerts still go to the store).
    None,
}

impl Format {
    /// The word the config takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Ndjson => "ndjson",
            Format::None => "none",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// `text` (default), `ndjson` or `none`.
    #[serde(default)]
    pub format: Format,
}

/// `bans:` — off unless `enabled: true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BansConfig {
    /// Whether `ban` actions reach the firewall (default false: alerts only).
    #[serde(default)]
    pub enabled: bool,
    /// How nft is run, before `-f -` (default `[nft]`).
    #[serde(default = "default_nft")]
    pub nft: Vec<String>,
    /// The `inet` table logward owns (default `logward`).
    #[serde(default = "default_table")]
    pub table: String,
    /// IPv6 bans cover this prefix (default 64; 128 bans single addresses).
    #[serde(default = "default_v6_prefix")]
    #[schemars(with = "u8")]
    pub ipv6_prefix: Spanned<u8>,
    /// Default duration of `logward bans add` without `--duration` (default 1h).
    #[serde(default = "default_manual")]
    #[schemars(with = "String")]
    pub default_duration: Spanned<String>,
    /// Drop only TCP to these ports from a banned address (e.g. `[22]`); empty (the default):
    /// all traffic from it.
    #[serde(default)]
    pub ports: Vec<u16>,
}

fn default_nft() -> Vec<String> {
    vec!["nft".to_owned()]
}
fn default_table() -> String {
    "logward".to_owned()
}
fn unknown<T>(value: T) -> Spanned<T> {
    Spanned::new(
        value,
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}
fn default_v6_prefix() -> Spanned<u8> {
    unknown(64)
}
fn default_manual() -> Spanned<String> {
    unknown("1h".to_owned())
}

impl Default for BansConfig {
    fn default() -> Self {
        BansConfig {
            enabled: false,
            nft: default_nft(),
            table: default_table(),
            ipv6_prefix: default_v6_prefix(),
            default_duration: default_manual(),
            ports: Vec::new(),
        }
    }
}

/// `pipeline:` — batching of store commits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Most lines per store transaction (default 1024). A batch is also committed as soon as
    /// no more input is waiting, so a quiet host commits (and prints) every line at once.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}

fn default_max_batch() -> usize {
    1024
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_batch: default_max_batch(),
        }
    }
}

/// `metrics:` — where Prometheus scrapes `GET /metrics` (off unless `listen` is set;
/// `logward metrics` works either way, through the control socket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `127.0.0.1:9817`, `[::1]:9817` … (loopback unless the host's firewall guards it).
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
}

/// `forward:` — events and alerts to a collector (docs/AGENT.md, Forwarding), as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// The collector's base URL (default: the one `logward enroll` wrote to
    /// `collector.json`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub collector: Option<Spanned<String>>,
    /// A PEM CA file: when set, the only certificate authority trusted for the collector
    /// (default: the one in `collector.json`, else the usual web roots).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// What is sent: `all` events and alerts (default) or only `alerts`.
    #[serde(default)]
    pub events: ForwardEvents,
    /// Batch bounds.
    #[serde(default)]
    pub batch: ForwardBatchConfig,
    /// Size bound of the spool (bytes of JSON waiting; default `256MiB`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub spool_max: Option<Spanned<String>>,
    /// How often the heartbeat is sent (default `30s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub heartbeat: Option<Spanned<String>>,
    /// Fleet ban decisions.
    #[serde(default)]
    pub decisions: ForwardDecisionsConfig,
    /// Waits between failed attempts.
    #[serde(default)]
    pub backoff: ForwardBackoffConfig,
    /// How batches reach the collector: `http` (default, `POST /v1/events`) or `nats`
    /// (published to a NATS JetStream stream the collectors consume; `nats:` says where).
    #[serde(default)]
    pub transport: ForwardTransport,
    /// The NATS server, for `transport: nats`.
    #[serde(default)]
    pub nats: Option<ForwardNatsConfig>,
}

/// `forward.transport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForwardTransport {
    /// `POST /v1/events` to the collector.
    #[default]
    Http,
    /// A JetStream message on `logward.events.<agent-id>`.
    Nats,
}

/// `forward.nats`: where and how to connect (docs/AGENT.md, Forwarding over NATS).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardNatsConfig {
    /// `nats://host:4222` or `tls://host:4222` (several comma-separated).
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// When set, a publish must be stored by this stream (default: any stream that takes
    /// the subject).
    #[serde(default)]
    pub stream: Option<String>,
    /// User name (with `password_file`).
    #[serde(default)]
    pub user: Option<String>,
    /// A file whose first line is the user's password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A file holding an NKey seed.
    #[serde(default)]
    pub nkey_file: Option<PathBuf>,
    /// A `.creds` file (JWT and NKey seed).
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// A PEM CA file: TLS required, and only this authority trusted.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The collectors' stream of signed fleet decisions this agent watches instead of
    /// polling (default `LOGWARD_DECISIONS`).
    #[serde(default)]
    pub decisions_stream: Option<String>,
}

/// The checked `forward.nats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardNats {
    pub connect: logward_core::nats::Connect,
    pub stream: Option<String>,
    pub decisions_stream: String,
}

/// `forward.events`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForwardEvents {
    /// Every decoded event and every alert (but DNS queries the DNS check trusted or saw
    /// again within its dedup window).
    #[default]
    All,
    /// Alerts only.
    Alerts,
}

/// `forward.batch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardBatchConfig {
    /// Most items per request (default 500).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub items: Option<Spanned<usize>>,
    /// Most bytes of JSON per request, before compression (default `1MiB`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub bytes: Option<Spanned<String>>,
    /// How long a batch that is not full waits for more (default `1s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub age: Option<Spanned<String>>,
}

/// `forward.decisions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardDecisionsConfig {
    /// Whether fleet decisions are fetched and applied (default true; they need
    /// `bans.enabled` to reach the firewall).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How often they are fetched (default `10s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub poll: Option<Spanned<String>>,
}

/// `forward.backoff`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardBackoffConfig {
    /// The first wait after a failure (default `1s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub min: Option<Spanned<String>>,
    /// The longest wait (default `60s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max: Option<Spanned<String>>,
}

/// The checked `forward:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub collector: Option<String>,
    pub ca: Option<PathBuf>,
    pub events: ForwardEvents,
    pub batch_items: usize,
    pub batch_bytes: u64,
    pub batch_age: Duration,
    pub spool_max: u64,
    pub heartbeat: Duration,
    pub decisions: bool,
    pub decisions_poll: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// `Some`: batches go to NATS JetStream instead of `POST /v1/events`.
    pub nats: Option<ForwardNats>,
}

impl Default for Forward {
    fn default() -> Self {
        Forward {
            collector: None,
            ca: None,
            events: ForwardEvents::All,
            batch_items: 500,
            batch_bytes: 1 << 20,
            batch_age: Duration::from_secs(1),
            spool_max: 256 << 20,
            heartbeat: Duration::from_secs(30),
            decisions: true,
            decisions_poll: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            nats: None,
        }
    }
}

/// `4096`, `64KiB`, `256MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(i);
    let n: u64 = num.parse().ok()?;
    let k: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(k)
}

impl ForwardConfig {
    /// The semantic pass: every value parsed, every error at its place.
    fn check(self, file: &str, base: &Path, errors: &mut Vec<ConfigError>) -> Forward {
        let mut f = Forward::default();
        let mut interval = |v: &Option<Spanned<String>>, into: &mut Duration| {
            if let Some(v) = v {
                match logward_core::duration::parse_duration(&v.value) {
                    Some(d) if !d.is_zero() => *into = d,
                    _ => errors.push(at(
                        file,
                        v,
                        format!("`{}` is not a duration (500ms, 30s, 10m, 1h)", v.value),
                    )),
                }
            }
        };
        interval(&self.batch.age, &mut f.batch_age);
        interval(&self.heartbeat, &mut f.heartbeat);
        interval(&self.decisions.poll, &mut f.decisions_poll);
        interval(&self.backoff.min, &mut f.backoff_min);
        interval(&self.backoff.max, &mut f.backoff_max);
        let mut size = |v: &Option<Spanned<String>>, into: &mut u64| {
            if let Some(v) = v {
                match parse_size(&v.value) {
                    Some(n) if n > 0 => *into = n,
                    _ => errors.push(at(
                        file,
                        v,
                        format!("`{}` is not a size (65536, 64KiB, 256MiB, 1GiB)", v.value),
                    )),
                }
            }
        };
        size(&self.batch.bytes, &mut f.batch_bytes);
        size(&self.spool_max, &mut f.spool_max);
        if let Some(n) = &self.batch.items {
            if n.value == 0 {
                errors.push(at(file, n, "`batch.items` must be at least 1".into()));
            } else {
                f.batch_items = n.value;
            }
        }
        if f.backoff_min > f.backoff_max {
            if let Some(v) = &self.backoff.min {
                errors.push(at(
                    file,
                    v,
                    "`backoff.min` is longer than `backoff.max`".into(),
                ));
            } else {
                f.backoff_min = f.backoff_max;
            }
        }
        if let Some(c) = &self.collector {
            let v = c.value.trim_end_matches('/');
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                errors.push(at(
                    file,
                    c,
                    format!(
                        "collector `{}` must start with https:// or http://",
                        c.value
                    ),
                ));
            }
            f.collector = Some(v.to_owned());
        }
        f.ca = self
            .ca
            .map(|p| if p.is_relative() { base.join(p) } else { p });
        f.events = self.events;
        f.decisions = self.decisions.enabled.unwrap_or(true);
        let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        match (self.transport, self.nats) {
            (ForwardTransport::Http, _) => {}
            (ForwardTransport::Nats, None) => errors.push(err(
                file,
                1,
                1,
                "forward: `transport: nats` needs a `nats:` section with its `url`".into(),
            )),
            (ForwardTransport::Nats, Some(n)) => {
                let u = n.url.value.trim();
                if !u
                    .split(',')
                    .all(|u| u.trim().starts_with("nats://") || u.trim().starts_with("tls://"))
                {
                    errors.push(at(
                        file,
                        &n.url,
                        format!("NATS url `{u}` must start with nats:// or tls://"),
                    ));
                }
                let ways = [
                    n.user.is_some(),
                    n.nkey_file.is_some(),
                    n.creds_file.is_some(),
                ];
                if ways.iter().filter(|w| **w).count() > 1 {
                    errors.push(at(
                        file,
                        &n.url,
                        "forward.nats: at most one of `user`, `nkey_file` and `creds_file`".into(),
                    ));
                }
                if n.password_file.is_some() && n.user.is_none() {
                    errors.push(at(
                        file,
                        &n.url,
                        "forward.nats: `password_file` needs `user`".into(),
                    ));
                }
                f.nats = Some(ForwardNats {
                    connect: logward_core::nats::Connect {
                        url: u.to_owned(),
                        user: n.user,
                        password_file: n.password_file.map(rel),
                        nkey_file: n.nkey_file.map(rel),
                        creds_file: n.creds_file.map(rel),
                        ca: n.ca.map(rel),
                    },
                    stream: n.stream,
                    decisions_stream: n
                        .decisions_stream
                        .unwrap_or_else(|| logward_core::nats::DEFAULT_DECISIONS_STREAM.to_owned()),
                });
            }
        }
        f
    }
}

/// The JSON Schema of an agent config file (or a conf.d fragment).
pub fn json_schema() -> schemars::Schema {
    logward_engine::config::json_schema_of::<FileConfig>("logward agent config")
}

/// One file as written (the main file or a conf.d fragment).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Sources; fragments append to the main file's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<SourceConfig>>")]
    sources: Option<Vec<Spanned<SourceConfig>>>,
    /// `default` or a rules file path (relative to the file that names it).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    rules: Option<Spanned<String>>,
    #[serde(default)]
    output: Option<OutputConfig>,
    #[serde(default)]
    bans: Option<BansConfig>,
    #[serde(default)]
    pipeline: Option<PipelineConfig>,
    #[serde(default)]
    metrics: Option<MetricsConfig>,
    #[serde(default)]
    notify: Option<logward_notify::NotifyConfig>,
    #[serde(default)]
    forward: Option<ForwardConfig>,
    #[serde(default)]
    enrich: Option<anomaly::EnrichConfig>,
    #[serde(default)]
    anomaly: Option<anomaly::AnomalyConfig>,
    /// The DNS check (docs/DNS.md).
    #[serde(default)]
    dns: Option<dns::DnsConfig>,
}

/// Which rules run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesRef {
    /// The built-in ruleset.
    Default,
    /// A rules file.
    File(PathBuf),
}

/// A source with where it was configured (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub config: SourceConfig,
    /// `file:line:column`, or `auto-detected`.
    pub origin: String,
}

/// The checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub sources: Vec<Source>,
    pub rules: RulesRef,
    pub output: OutputConfig,
    pub bans: BansConfig,
    pub pipeline: PipelineConfig,
    pub metrics: MetricsConfig,
    /// Alert delivery (no notifiers: alerts go to the console and the store only).
    pub notify: logward_notify::NotifyConfig,
    /// Forwarding to a collector (`forward:`), when configured.
    pub forward: Option<Forward>,
    /// Enrichment and the login anomaly detector (`enrich:`, `anomaly:`).
    pub anomaly: anomaly::DetectorSetup,
    /// The DNS check (`dns:`; off without it).
    pub dns: crate::dns_check::Settings,
    /// The files read, in merge order (empty for the built-in default).
    pub files: Vec<PathBuf>,
}

/// A loaded configuration with its compiled rules.
#[derive(Debug)]
pub struct Loaded {
    pub config: AgentConfig,
    pub program: Program,
}

impl AgentConfig {
    /// `logward run` without `--config`: what this host has (see [`detect_sources`]), the
    /// default rules, alerts on the console, no bans.
    pub fn builtin(root: &Path) -> AgentConfig {
        AgentConfig {
            sources: detect_sources(root)
                .into_iter()
                .map(|config| Source {
                    config,
                    origin: "auto-detected".into(),
                })
                .collect(),
            rules: RulesRef::Default,
            output: OutputConfig::default(),
            bans: BansConfig::default(),
            pipeline: PipelineConfig::default(),
            metrics: MetricsConfig::default(),
            notify: logward_notify::NotifyConfig::default(),
            forward: None,
            anomaly: anomaly::DetectorSetup::default(),
            dns: crate::dns_check::Settings::default(),
            files: Vec::new(),
        }
    }

    /// The settings alone, without where each was written (sources' origins, the files read,
    /// YAML places): a loaded config compares equal to [`AgentConfig::builtin`] this way.
    pub fn without_places(mut self) -> AgentConfig {
        for s in &mut self.sources {
            s.origin.clear();
        }
        self.files.clear();
        self.bans.ipv6_prefix = unknown(self.bans.ipv6_prefix.value);
        self.bans.default_duration = unknown(self.bans.default_duration.value);
        self
    }

    /// The manual ban duration in seconds.
    pub fn default_ban(&self) -> Duration {
        Duration::from_secs(
            logward_core::duration::parse_secs(&self.bans.default_duration.value)
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(3600),
        )
    }
}

/// The sources the built-in config follows on this host, `root` standing for `/` (tests):
/// `auth.log` (Debian) or `secure` (Red Hat), else the journal when it runs; wtmp and btmp
/// when present. Files start at their end (history is `logward scan`'s job). auditd's log is
/// not added: its login records repeat what those logs say (a `type: audit` source is opt-in).
pub fn detect_sources(root: &Path) -> Vec<SourceConfig> {
    let mut out = Vec::new();
    let log = root.join("var/log");
    let mut auth = false;
    for name in ["auth.log", "secure"] {
        let p = log.join(name);
        if p.is_file() {
            auth = true;
            out.push(SourceConfig::File {
                path: p,
                start_at: StartAt::End,
                id: None,
            });
        }
    }
    if !auth && root.join("run/systemd/journal").is_dir() {
        out.push(SourceConfig::Journal(journal_default()));
    }
    let present = |name: &str| Some(log.join(name)).filter(|p| p.is_file());
    let (wtmp, btmp) = (present("wtmp"), present("btmp"));
    if wtmp.is_some() || btmp.is_some() {
        out.push(SourceConfig::Utmp(UtmpConfig {
            wtmp,
            btmp,
            ..UtmpConfig::default()
        }));
    }
    out
}

/// Replaces `${NAME}` with the environment variable's value (`$${` writes a literal `${`).
/// A variable that is not set is an error at its place, as is an unclosed `${`.
pub fn substitute_env(
    file: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<ConfigError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (ln, line) in text.split_inclusive('\n').enumerate() {
        // Comment lines are left alone (they may show `${…}` to explain it).
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        let mut col = 1u64;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            col += rest[..i].chars().count() as u64;
            let tail = &rest[i..];
            if let Some(t) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = t;
                col += 3;
            } else if let Some(t) = tail.strip_prefix("${") {
                match t.find('}') {
                    Some(end) => {
                        let name = &t[..end];
                        let ok_name = !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                        match (ok_name, env(name)) {
                            (true, Some(v)) => out.push_str(&v),
                            (true, None) => errors.push(err(
                                file,
                                ln as u64 + 1,
                                col,
                                format!("environment variable `{name}` is not set"),
                            )),
                            (false, _) => errors.push(err(
                                file,
                                ln as u64 + 1,
                                col,
                                format!(
                                    "`${{{name}}}` is not a variable name (letters, digits, _)"
                                ),
                            )),
                        }
                        col += 3 + name.chars().count() as u64;
                        rest = &t[end + 1..];
                    }
                    None => {
                        errors.push(err(file, ln as u64 + 1, col, "unclosed `${`".into()));
                        out.push_str(tail);
                        rest = "";
                    }
                }
            } else {
                out.push('$');
                rest = &tail[1..];
                col += 1;
            }
        }
        out.push_str(rest);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The journal source with every default (an empty mapping through serde).
fn journal_default() -> JournalConfig {
    match serde_saphyr::from_str::<JournalConfig>("{}") {
        Ok(c) => c,
        Err(e) => unreachable!("the journal source's defaults do not load: {e}"),
    }
}

fn err(file: &str, line: u64, column: u64, message: String) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        line: line.max(1),
        column: column.max(1),
        message,
    }
}

fn at<T>(file: &str, s: &Spanned<T>, message: String) -> ConfigError {
    err(file, s.referenced.line(), s.referenced.column(), message)
}

/// One file parsed, with the places of its keys (for errors on fields that carry none).
fn parse_file(
    file: &str,
    text: &str,
) -> Result<(FileConfig, logward_engine::strict_yaml::Places), Vec<ConfigError>> {
    let text = substitute_env(file, text, |k| std::env::var(k).ok())?;
    if text.trim().is_empty() {
        return Ok((FileConfig::default(), Default::default()));
    }
    let parsed = logward_engine::strict_yaml::from_str(file, &text)?;
    Ok((parsed, logward_engine::strict_yaml::Places::of(&text)))
}

/// The `conf.d/*.yaml` fragments beside `main`, sorted by name.
pub fn fragments(main: &Path) -> Vec<PathBuf> {
    let dir = main.parent().unwrap_or(Path::new(".")).join("conf.d");
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml") && p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Loads `main` and its `conf.d/*.yaml` fragments, checks everything and compiles the rules.
/// All errors, from every file, at once.
pub fn load(main: &Path) -> Result<Loaded, ConfigErrors> {
    let mut errors = Vec::new();
    let mut files = vec![main.to_path_buf()];
    files.extend(fragments(main));
    let mut sources: Vec<(String, Spanned<SourceConfig>, PathBuf)> = Vec::new();
    let mut rules: Option<(String, Spanned<String>, PathBuf)> = None;
    let mut output = None;
    let mut bans: Option<(String, BansConfig, logward_engine::strict_yaml::Places)> = None;
    let mut pipeline = None;
    let mut metrics = None;
    let mut notify: Option<(String, logward_notify::NotifyConfig)> = None;
    let mut forward: Option<(String, ForwardConfig, PathBuf)> = None;
    let mut enrich: Option<(String, anomaly::EnrichConfig, PathBuf)> = None;
    let mut anomaly_cfg: Option<(String, anomaly::AnomalyConfig)> = None;
    let mut dns_cfg: Option<(String, dns::DnsConfig, PathBuf)> = None;
    for path in &files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(err(&name, 1, 1, format!("cannot read the file: {e}")));
                continue;
            }
        };
        let (parsed, places) = match parse_file(&name, &text) {
            Ok(p) => p,
            Err(es) => {
                errors.extend(es);
                continue;
            }
        };
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for s in parsed.sources.into_iter().flatten() {
            sources.push((name.clone(), s, base.clone()));
        }
        if let Some(r) = parsed.rules {
            rules = Some((name.clone(), r, base.clone()));
        }
        if parsed.output.is_some() {
            output = parsed.output;
        }
        if let Some(b) = parsed.bans {
            bans = Some((name.clone(), b, places));
        }
        if parsed.pipeline.is_some() {
            pipeline = parsed.pipeline;
        }
        if parsed.metrics.is_some() {
            metrics = parsed.metrics;
        }
        if let Some(n) = parsed.notify {
            notify = Some((name.clone(), n));
        }
        if let Some(f) = parsed.forward {
            forward = Some((name.clone(), f, base.clone()));
        }
        if let Some(e) = parsed.enrich {
            enrich = Some((name.clone(), e, base.clone()));
        }
        if let Some(a) = parsed.anomaly {
            anomaly_cfg = Some((name.clone(), a));
        }
        if let Some(d) = parsed.dns {
            dns_cfg = Some((name.clone(), d, base.clone()));
        }
    }

    // The semantic pass.
    let mut checked = Vec::new();
    let mut ids: Vec<(String, String)> = Vec::new();
    for (file, s, base) in sources {
        let mut config = s.value.clone();
        match &mut config {
            SourceConfig::File { path, .. } => {
                if path.as_os_str().is_empty() {
                    errors.push(at(&file, &s, "`path` is empty".into()));
                } else if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
            SourceConfig::Audit(a) => {
                if a.path.as_os_str().is_empty() {
                    errors.push(at(&file, &s, "`path` is empty".into()));
                } else if a.path.is_relative() {
                    a.path = base.join(&a.path);
                }
            }
            SourceConfig::Evtx(e) => {
                if e.path.as_os_str().is_empty() {
                    errors.push(at(&file, &s, "`path` is empty".into()));
                } else if e.path.is_relative() {
                    e.path = base.join(&e.path);
                }
            }
            SourceConfig::Utmp(u) => {
                for p in [&mut u.wtmp, &mut u.btmp].into_iter().flatten() {
                    if p.is_relative() {
                        *p = base.join(&*p);
                    }
                }
                if u.wtmp.is_none() && u.btmp.is_none() {
                    errors.push(at(&file, &s, "`wtmp` and `btmp` are both null".into()));
                }
            }
            SourceConfig::Command { name, argv, .. } => {
                if let Err(e) = crate::sources::command::validate_argv(argv) {
                    errors.push(at(&file, &s, e.to_string()));
                }
                if name.is_empty() {
                    errors.push(at(&file, &s, "`name` is empty".into()));
                }
            }
            SourceConfig::Journal(j) => {
                if let Err(e) = crate::sources::journal::JournalSource::new("journal", j.clone()) {
                    errors.push(at(&file, &s, e.to_string()));
                }
            }
            SourceConfig::Stdin { .. } => {}
            SourceConfig::DnsCapture(c) => {
                for p in c.problems() {
                    errors.push(at(&file, &s, p));
                }
            }
            SourceConfig::Beats(b) => {
                b.resolve_paths(&base);
                if let Err(es) = b.check_files(&base) {
                    for e in es {
                        errors.push(at(&file, &s, format!("beats {e}")));
                    }
                }
                if let Some((_, first)) = ids.iter().find(|(i, _)| i.starts_with("beats:")) {
                    errors.push(at(
                        &file,
                        &s,
                        format!("a second beats source (the first is at {first}): one listener serves every Beat"),
                    ));
                }
            }
        }
        let origin = format!("{file}:{}:{}", s.referenced.line(), s.referenced.column());
        let id = config.id();
        if let Some((_, first)) = ids.iter().find(|(i, _)| *i == id) {
            errors.push(at(
                &file,
                &s,
                format!("a second source with id `{id}` (the first is at {first}); set `id:`"),
            ));
        } else {
            ids.push((id, origin.clone()));
        }
        checked.push(Source { config, origin });
    }
    let bans = match bans {
        Some((file, b, places)) => {
            let p = b.ipv6_prefix.value;
            if !(logward_ban_min_v6()..=128).contains(&p) {
                errors.push(at(
                    &file,
                    &b.ipv6_prefix,
                    format!(
                        "`ipv6_prefix` must be {}…128, not {p}",
                        logward_ban_min_v6()
                    ),
                ));
            }
            if logward_core::duration::parse_secs(&b.default_duration.value).is_none() {
                errors.push(at(
                    &file,
                    &b.default_duration,
                    format!(
                        "`{}` is not a duration (30s, 10m, 1h, 5d, 1w)",
                        b.default_duration.value
                    ),
                ));
            }
            if b.nft.is_empty() {
                let (l, c) = places.value_or_parent(&["bans", "nft"]);
                errors.push(err(
                    &file,
                    l,
                    c,
                    "`bans.nft` needs at least a program".into(),
                ));
            }
            if b.table.is_empty()
                || !b
                    .table
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            {
                let (l, c) = places.value_or_parent(&["bans", "table"]);
                errors.push(err(
                    &file,
                    l,
                    c,
                    format!("`bans.table` `{}`: letters, digits, _ and - only", b.table),
                ));
            }
            b
        }
        None => BansConfig::default(),
    };
    let notify = match notify {
        Some((file, n)) => {
            errors.extend(n.check(&file));
            n
        }
        None => logward_notify::NotifyConfig::default(),
    };
    let forward = forward.map(|(file, f, base)| f.check(&file, &base, &mut errors));
    let anomaly = anomaly::check(enrich, anomaly_cfg, &mut errors);
    let dns = dns::check(dns_cfg, &mut errors);
    let (rules_ref, program) = match rules {
        None => (RulesRef::Default, Some(logward_engine::default_program())),
        Some((_, r, _)) if r.value == "default" => {
            (RulesRef::Default, Some(logward_engine::default_program()))
        }
        Some((file, r, base)) => {
            let path = base.join(&r.value);
            let shown = path.display().to_string();
            let program = match std::fs::read_to_string(&path) {
                Ok(text) => match Program::load(&shown, &text) {
                    Ok(p) => Some(p),
                    Err(es) => {
                        errors.extend(es.0);
                        None
                    }
                },
                Err(e) => {
                    errors.push(at(&file, &r, format!("cannot read rules {shown}: {e}")));
                    None
                }
            };
            (RulesRef::File(path), program)
        }
    };
    match program {
        Some(program) if errors.is_empty() => Ok(Loaded {
            config: AgentConfig {
                sources: checked,
                rules: rules_ref,
                output: output.unwrap_or_default(),
                bans,
                pipeline: pipeline.unwrap_or_default(),
                metrics: metrics.unwrap_or_default(),
                notify,
                forward,
                anomaly,
                dns,
                files,
            },
            program,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

fn logward_ban_min_v6() -> u8 {
    crate::ban::MIN_PREFIX_V6
}

/// Whether a YAML file is a rules file (it has a top-level `chains:`) rather than an agent
/// config, so `logward check --config` takes either.
pub fn is_rules_file(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("chains:"))
}

/// The agent's built-in config as YAML (`logward default-config`): the sources detected on
/// this host (`root` stands for `/`), the rules reference and every other setting at its
/// default, commented.
pub fn default_yaml(root: &Path) -> String {
    let mut s = String::from(
        "# logward agent config (logward run --config FILE). Every key is optional;\n\
         # conf.d/*.yaml beside this file is merged in name order (sources are appended).\n\
         # ${NAME} is replaced by the environment variable NAME ($${ for a literal ${).\n\
         sources:\n",
    );
    let found = detect_sources(root);
    if found.is_empty() {
        s.push_str("  []  # nothing found on this host: add file/journal/utmp sources\n");
    }
    for src in &found {
        match src {
            SourceConfig::File { path, .. } => s.push_str(&format!(
                "  - {{type: file, path: {}, start_at: end}}\n",
                path.display()
            )),
            SourceConfig::Audit(a) => s.push_str(&format!(
                "  - {{type: audit, path: {}, start_at: end}}\n",
                a.path.display()
            )),
            SourceConfig::Journal(_) => s.push_str("  - {type: journal}\n"),
            SourceConfig::Utmp(u) => {
                let show = |p: &Option<PathBuf>| {
                    p.as_ref()
                        .map_or("null".to_owned(), |p| p.display().to_string())
                };
                s.push_str(&format!(
                    "  - {{type: utmp, wtmp: {}, btmp: {}, start_at: end}}\n",
                    show(&u.wtmp),
                    show(&u.btmp)
                ))
            }
            SourceConfig::Evtx(_)
            | SourceConfig::Command { .. }
            | SourceConfig::Stdin { .. }
            | SourceConfig::Beats(_)
            | SourceConfig::DnsCapture(_) => {}
        }
    }
    // Every value below comes from the types' defaults: the printed file loads as exactly
    // `AgentConfig::builtin` (tests here and in crates/cli/tests/default_config.rs).
    let bans = BansConfig::default();
    s.push_str(&format!(
        "  # - {{type: journal, identifiers: [sshd, sshd-session, sudo, su]}}\n\
         \x20 # - {{type: command, name: fw, argv: [tail, -F, /var/log/ufw.log]}}\n\
         # the rule workflow: `default` (logward default-config --rules prints it) or a file\n\
         rules: default\n\
         output:\n\
         \x20 format: {format}      # text | ndjson | none (alerts always go to the store)\n\
         bans:\n\
         \x20 enabled: {enabled}    # true: `ban` actions add nftables elements\n\
         \x20 nft: [{nft}]        # how nft is run\n\
         \x20 table: {table}    # the inet table logward owns\n\
         \x20 ipv6_prefix: {prefix}   # IPv6 bans cover this prefix\n\
         \x20 default_duration: {duration}  # `logward bans add` without --duration\n\
         \x20 ports: []         # [22]: only TCP to these ports; empty: all traffic\n\
         pipeline:\n\
         \x20 max_batch: {max_batch}   # most lines per store transaction\n\
         metrics:\n\
         \x20 listen: null      # e.g. 127.0.0.1:9817 serves GET /metrics (Prometheus)\n\
         # login anomaly detection (docs/ANOMALY.md)\n\
         anomaly: {anomaly}\n",
        format = Format::default().as_str(),
        enabled = bans.enabled,
        nft = bans.nft.join(", "),
        table = bans.table,
        prefix = bans.ipv6_prefix.value,
        duration = bans.default_duration.value,
        max_batch = PipelineConfig::default().max_batch,
        anomaly = logward_engine::anomaly::config::default_flow(),
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn enrich_and_anomaly_sections_with_defaults_values_and_placed_errors() {
        let d = tempfile::tempdir().unwrap();
        let main = write(d.path(), "agent.yaml", "sources: []\n");
        let a = load(&main).unwrap().config.anomaly;
        assert_eq!(a, anomaly::DetectorSetup::default());
        assert!(
            a.enabled,
            "on by default; nothing leaves the host (no DNSBL zone)"
        );
        assert!(a.dnsbl.zones.is_empty());
        let main = write(
            d.path(),
            "agent.yaml",
            "enrich:\n  geoip: GeoIP\n  dnsbl:\n    zones: [zen.spamhaus.org.]\n    \
             nameservers: [127.0.0.1, \"[::1]:5353\"]\n    timeout: 800ms\n    cache_ttl: 10m\n\
             anomaly: {threshold: 0.7, window: 1h, max_speed_kmh: 900, lof: false}\n",
        );
        let a = load(&main).unwrap().config.anomaly;
        assert_eq!(a.geoip, Some(d.path().join("GeoIP")));
        assert_eq!(a.dnsbl.zones, ["zen.spamhaus.org"]);
        assert_eq!(a.dnsbl.nameservers.len(), 2);
        assert_eq!(a.dnsbl.nameservers[0].port(), 53);
        assert_eq!(a.dnsbl.timeout, Duration::from_millis(800));
        assert_eq!(a.dnsbl.cache_ttl, Duration::from_secs(600));
        assert_eq!(a.settings.threshold, 0.7);
        assert_eq!((a.settings.window, a.settings.max_speed_kmh), (3600, 900.0));
        assert!(!a.settings.use_lof);
        let main = write(
            d.path(),
            "agent.yaml",
            "enrich:\n  dnsbl:\n    zones: [nodots]\n    nameservers: [dns.example]\n    \
             timeout: soon\nanomaly:\n  threshold: 2\n",
        );
        let shown: Vec<String> = load(&main)
            .unwrap_err()
            .0
            .iter()
            .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
            .collect();
        assert_eq!(shown.len(), 4, "{shown:?}");
        for (line, what) in [
            ("3:", "not a DNS zone"),
            ("4:", "not an address"),
            ("5:", "not a duration"),
            ("7:", "not within 0–1"),
        ] {
            assert!(
                shown
                    .iter()
                    .any(|e| e.starts_with(line) && e.contains(what)),
                "{what}: {shown:?}"
            );
        }
        let main = write(d.path(), "agent.yaml", "anomaly: {treshold: 1}\n");
        assert!(load(&main).is_err(), "unknown keys are refused");
    }

    #[test]
    fn forward_over_nats_is_checked() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "agent.yaml",
            "forward:\n  transport: nats\n  nats: {url: \"nats://127.0.0.1:4222\", stream: S, \
             user: a, password_file: pass}\n",
        );
        let n = load(&main).unwrap().config.forward.unwrap().nats.unwrap();
        assert_eq!(n.connect.url, "nats://127.0.0.1:4222");
        assert_eq!(n.connect.password_file, Some(d.path().join("pass")));
        assert_eq!(n.stream.as_deref(), Some("S"));
        // `nats:` alone does not switch the transport.
        let main = write(
            d.path(),
            "agent.yaml",
            "forward:\n  nats: {url: \"nats://h:4222\"}\n",
        );
        assert_eq!(load(&main).unwrap().config.forward.unwrap().nats, None);
        for (bad, says) in [
            ("forward: {transport: nats}\n", "needs a `nats:` section"),
            (
                "forward: {transport: nats, nats: {url: \"http://h\"}}\n",
                "nats:// or tls://",
            ),
            (
                "forward: {transport: nats, nats: {url: \"nats://h\", user: u, nkey_file: k}}\n",
                "at most one of",
            ),
            (
                "forward: {transport: nats, nats: {url: \"nats://h\", password_file: p}}\n",
                "needs `user`",
            ),
        ] {
            let main = write(d.path(), "agent.yaml", bad);
            let errors = load(&main).unwrap_err().0;
            assert!(
                errors.iter().any(|e| e.message.contains(says)),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn forward_section_defaults_values_and_errors_with_places() {
        let d = tempfile::tempdir().unwrap();
        let main = write(d.path(), "agent.yaml", "forward: {}\n");
        let f = load(&main).unwrap().config.forward.unwrap();
        assert_eq!(f, Forward::default());
        assert_eq!((f.batch_items, f.spool_max), (500, 256 << 20));
        let main = write(
            d.path(),
            "agent.yaml",
            "forward:\n  collector: https://c.example:8443/\n  ca: ca.pem\n  events: alerts\n  \
             batch: {items: 50, bytes: 64KiB, age: 250ms}\n  spool_max: 1GiB\n  heartbeat: 1m\n  \
             decisions: {enabled: false, poll: 2s}\n  backoff: {min: 500ms, max: 5m}\n",
        );
        let f = load(&main).unwrap().config.forward.unwrap();
        assert_eq!(f.collector.as_deref(), Some("https://c.example:8443"));
        assert_eq!(f.ca, Some(d.path().join("ca.pem")));
        assert_eq!(f.events, ForwardEvents::Alerts);
        assert_eq!((f.batch_items, f.batch_bytes), (50, 64 << 10));
        assert_eq!(f.batch_age, Duration::from_millis(250));
        assert_eq!(f.spool_max, 1 << 30);
        assert_eq!(f.heartbeat, Duration::from_secs(60));
        assert!(!f.decisions);
        assert_eq!(f.decisions_poll, Duration::from_secs(2));
        assert_eq!(
            (f.backoff_min, f.backoff_max),
            (Duration::from_millis(500), Duration::from_secs(300))
        );
        let main = write(
            d.path(),
            "agent.yaml",
            "forward:\n  collector: ftp://x\n  spool_max: lots\n  batch: {items: 0, age: soon}\n",
        );
        let errors = load(&main).unwrap_err().0;
        let shown: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
            .collect();
        assert_eq!(errors.len(), 4, "{shown:?}");
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("2:") && e.contains("https://")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("3:") && e.contains("not a size")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("4:") && e.contains("not a duration")),
            "{shown:?}"
        );
        assert!(shown.iter().any(|e| e.contains("at least 1")), "{shown:?}");
        let main = write(d.path(), "agent.yaml", "forward: {colector: x}\n");
        assert!(load(&main).is_err(), "unknown keys are refused");
    }

    #[test]
    fn env_substitution() {
        let env = |k: &str| (k == "TOKEN").then(|| "s3cret".to_owned());
        assert_eq!(
            substitute_env("f", "a: ${TOKEN}\nb: $${TOKEN} $5\n", env).unwrap(),
            "a: s3cret\nb: ${TOKEN} $5\n"
        );
        assert_eq!(
            substitute_env("f", "  # ${NOPE}\n", env).unwrap(),
            "  # ${NOPE}\n"
        );
        let e = substitute_env("f", "a: 1\nb: x ${NOPE} ${bad-name}\n", env).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].line, e[0].column), (2, 6));
        assert!(e[0].message.contains("NOPE"), "{}", e[0].message);
        assert_eq!((e[1].line, e[1].column), (2, 14));
    }

    #[test]
    fn loads_merges_fragments_and_resolves_paths() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "agent.yaml",
            "sources:\n  - {type: file, path: auth.log, start_at: beginning}\noutput: {format: ndjson}\n",
        );
        write(
            d.path(),
            "conf.d/20-b.yaml",
            "sources:\n  - {type: utmp, wtmp: null, btmp: /var/log/btmp}\n",
        );
        write(
            d.path(),
            "conf.d/10-a.yaml",
            "sources:\n  - {type: command, name: c, argv: [cat]}\nbans: {enabled: true}\n",
        );
        let l = load(&main).unwrap();
        let c = &l.config;
        assert_eq!(c.output.format, Format::Ndjson);
        assert!(c.bans.enabled);
        let kinds: Vec<_> = c.sources.iter().map(|s| s.config.kind()).collect();
        assert_eq!(kinds, ["file", "command", "utmp"]);
        assert_eq!(
            c.sources[0].config.id(),
            d.path().join("auth.log").display().to_string()
        );
        assert_eq!(c.files.len(), 3);
        assert_eq!(c.sources[2].config.id(), "/var/log/btmp");
        assert!(l.program.rule_ids().contains(&"ssh-bruteforce"));
    }

    #[test]
    fn every_error_with_its_place() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "agent.yaml",
            "sources:\n  - {type: file, path: /a}\n  - {type: file, path: /a}\n  - {type: command, name: x, argv: []}\nbans:\n  ipv6_prefix: 8\n  default_duration: soon\nrules: missing.yaml\n",
        );
        write(
            d.path(),
            "conf.d/a.yaml",
            "sources:\n  - {type: fil, path: /b}\n",
        );
        let e = load(&main).unwrap_err().0;
        let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        let f = main.display().to_string();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{f}:3:5: a second source"))),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{f}:4:5: argv is empty"))),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{f}:6:16: `ipv6_prefix`"))),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{f}:7:21: `soon`"))),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{f}:8:8: cannot read rules"))),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.contains("a.yaml:2:") && s.contains("fil")),
            "{shown:#?}"
        );
    }

    #[test]
    fn dns_capture_sources_load_and_their_errors_are_placed() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "agent.yaml",
            "sources:\n  - {type: dns_capture, interface: eth0}\n  - {type: dns_capture, interface: any, ports: [53, 5353], buffer: 8MiB}\n",
        );
        let c = load(&main).unwrap().config;
        let ids: Vec<String> = c.sources.iter().map(|s| s.config.id()).collect();
        assert_eq!(ids, ["dns_capture:eth0", "dns_capture:any"]);
        let main = write(
            d.path(),
            "bad.yaml",
            "sources:\n  - {type: dns_capture, interface: eth0}\n  - {type: dns_capture, interface: lo, ports: [8053], buffer: huge}\n",
        );
        let e = load(&main).unwrap_err().0;
        let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        let f = main.display().to_string();
        for want in [
            "8053 is not one the DNS decoder reads",
            "`huge` is not a size",
        ] {
            assert!(
                shown
                    .iter()
                    .any(|s| s.starts_with(&format!("{f}:3:5: ")) && s.contains(want)),
                "{want}: {shown:#?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "a.yaml",
            "sources:\n  - {type: file, path: /a, colour: red}\n",
        );
        let e = load(&main).unwrap_err().0;
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("colour"), "{}", e[0].message);
    }

    #[test]
    fn detection_and_default_yaml() {
        let d = tempfile::tempdir().unwrap();
        assert!(detect_sources(d.path()).is_empty());
        write(d.path(), "var/log/secure", "");
        write(d.path(), "var/log/btmp", "");
        std::fs::create_dir_all(d.path().join("run/systemd/journal")).unwrap();
        let found = detect_sources(d.path());
        let kinds: Vec<_> = found.iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["file", "utmp"]);
        std::fs::remove_file(d.path().join("var/log/secure")).unwrap();
        let kinds: Vec<_> = detect_sources(d.path()).iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["journal", "utmp"]);
        // auditd's log repeats the login lines: opt-in, never detected.
        write(d.path(), "var/log/audit/audit.log", "");
        let kinds: Vec<_> = detect_sources(d.path()).iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["journal", "utmp"]);
        // The printed default loads as a config.
        let p = write(d.path(), "agent.yaml", &default_yaml(d.path()));
        let l = load(&p).unwrap();
        assert_eq!(l.config.sources.len(), 2);
        assert_eq!(
            l.config.sources[1].config.id(),
            d.path().join("var/log/btmp").display().to_string()
        );
        assert!(!is_rules_file(&default_yaml(d.path())));
        // …and as exactly the built-in config, but for where each setting came from.
        assert_eq!(
            l.config.without_places(),
            AgentConfig::builtin(d.path()).without_places()
        );
        assert!(is_rules_file(logward_engine::DEFAULT_RULES));
    }
}
