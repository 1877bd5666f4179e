//! The collector's configuration: YAML, strict (`deny_unknown_fields`), every error at its
//! file:line:column.
//!
//! ```yaml
//! listen: 0.0.0.0:7650
//! tls: {cert: cert.pem, key: key.pem}     # or {disabled: true}; required off loopback
//! state_dir: /var/lib/logward-collector
//! store: {type: sqlite}                   # or {type: postgres, url: …, password_env: …}
//! retention_days: 30
//! auth: {mode: agents}                    # or {mode: shared, key: …} / key_file: …
//! limits: {body_bytes: 8388608, decompressed_bytes: 67108864, requests_per_second: 50,
//!          login_failures: 5, login_window_secs: 300, session_secs: 43200, …}
//!                                         # every key: `default_yaml`, docs/COLLECTOR.md
//! connections: {handshake_secs: 10, header_secs: 10, idle_secs: 60, max: 4096,
//!               per_address: 128}
//! rules: default                          # the built-in fleet rules; `none`, or a file
//! anomaly: {enabled: true, threshold: 0.6} # fleet-wide login profiles (docs/ANOMALY.md)
//! notify: {…}                             # the agent's `notify:` (docs/NOTIFY.md)
//! llm: {base_url: …, model: …}            # the LLM second opinion (docs/LLM.md)
//! beats: {listen: 0.0.0.0:5044, tls: {…}}  # the Beats input (docs/WINDOWS.md)
//! nats: {url: nats://127.0.0.1:4222}      # agents' batches from JetStream (docs/SCALE.md)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The address `logward collector` listens on without a config: loopback, plain HTTP.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7650";
/// The state directory without a config (or without `state_dir:`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/logward-collector";

pub use logward_core::config_error::ConfigError;

/// The JSON Schema of a collector config file.
pub fn json_schema() -> schemars::Schema {
    logward_engine::config::json_schema_of::<FileConfig>("logward collector config")
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    listen: Option<serde_saphyr::Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<TlsFile>")]
    tls: Option<serde_saphyr::Spanned<TlsFile>>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    #[schemars(with = "Option<StoreFile>")]
    store: Option<serde_saphyr::Spanned<StoreFile>>,
    #[serde(default = "default_retention")]
    retention_days: u32,
    #[serde(default)]
    #[schemars(with = "Option<AuthFile>")]
    auth: Option<serde_saphyr::Spanned<AuthFile>>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    connections: crate::listener::Connections,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    rules: Option<serde_saphyr::Spanned<String>>,
    #[serde(default)]
    notify: Option<logward_notify::NotifyConfig>,
    #[serde(default)]
    llm: Option<crate::llm::LlmFile>,
    #[serde(default)]
    anomaly: Option<logward_engine::anomaly::config::AnomalyConfig>,
    #[serde(default)]
    beats: Option<logward_beats::config::BeatsFile>,
    /// Batches from agents with `transport: nats` (docs/COLLECTOR.md, NATS JetStream).
    #[serde(default)]
    nats: Option<NatsFile>,
}

/// `nats:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NatsFile {
    /// `nats://host:4222` or `tls://host:4222` (several comma-separated).
    url: String,
    /// The stream, created when missing (default `LOGWARD_EVENTS`).
    #[serde(default)]
    stream: Option<String>,
    /// The durable pull consumer every collector shares (default `logward-collector`).
    #[serde(default)]
    consumer: Option<String>,
    /// User name (with `password_file`).
    #[serde(default)]
    user: Option<String>,
    /// A file whose first line is the password.
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// A file holding an NKey seed.
    #[serde(default)]
    nkey_file: Option<PathBuf>,
    /// A `.creds` file (JWT and NKey seed).
    #[serde(default)]
    creds_file: Option<PathBuf>,
    /// A PEM CA file: TLS required, only this authority trusted.
    #[serde(default)]
    ca: Option<PathBuf>,
    /// The stream's limits when this collector creates it: bytes (default 1 GiB), age in
    /// seconds (default 7 days), the duplicate window in seconds (default 120).
    #[serde(default)]
    max_bytes: Option<i64>,
    #[serde(default)]
    max_age_secs: Option<u64>,
    #[serde(default)]
    duplicate_window_secs: Option<u64>,
    /// Seconds a fetched message may stay unacknowledged before it is delivered again
    /// (default 30): how long a batch a dead collector held holds back the stream.
    #[serde(default)]
    ack_wait_secs: Option<u64>,
    /// Messages delivered and not yet acknowledged, over all collectors (the consumer's
    /// `max_ack_pending`, default 256), and so handled at once by one collector at most.
    #[serde(default)]
    max_in_flight: Option<u64>,
    /// The stream of signed fleet decisions agents watch (default `LOGWARD_DECISIONS`,
    /// subject `logward.decisions`), created or updated by the collector.
    #[serde(default)]
    decisions_stream: Option<String>,
    /// How long the decisions stream keeps a change, in seconds (default 30 days): an
    /// agent away longer catches up only on what is still there.
    #[serde(default)]
    decisions_max_age_secs: Option<u64>,
}

/// The checked `nats:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    pub connect: logward_core::nats::Connect,
    pub stream: String,
    pub consumer: String,
    pub max_bytes: i64,
    pub max_age_secs: u64,
    pub duplicate_window_secs: u64,
    pub ack_wait_secs: u64,
    pub max_in_flight: u64,
    pub decisions_stream: String,
    pub decisions_max_age_secs: u64,
}

impl NatsFile {
    fn check(&self, resolve: impl Fn(&Path) -> PathBuf) -> Result<NatsConfig, String> {
        let url = self.url.trim();
        if url.is_empty()
            || !url
                .split(',')
                .all(|u| u.trim().starts_with("nats://") || u.trim().starts_with("tls://"))
        {
            return Err(format!("url `{url}` must start with nats:// or tls://"));
        }
        let ways = [
            self.user.is_some(),
            self.nkey_file.is_some(),
            self.creds_file.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err("at most one of `user`, `nkey_file` and `creds_file`".into());
        }
        if self.password_file.is_some() && self.user.is_none() {
            return Err("`password_file` needs `user`".into());
        }
        let name = |v: &Option<String>, default: &str, what: &str| {
            let n = v.as_deref().unwrap_or(default);
            if n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Err(format!("{what} `{n}`: letters, digits, `-` and `_` only"))
            } else {
                Ok(n.to_owned())
            }
        };
        let positive = |v: Option<u64>, default: u64, what: &str| match v {
            Some(0) => Err(format!("{what}: must be above 0")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let c = NatsConfig {
            connect: logward_core::nats::Connect {
                url: url.to_owned(),
                user: self.user.clone(),
                password_file: self.password_file.as_deref().map(&resolve),
                nkey_file: self.nkey_file.as_deref().map(&resolve),
                creds_file: self.creds_file.as_deref().map(&resolve),
                ca: self.ca.as_deref().map(&resolve),
            },
            stream: name(&self.stream, logward_core::nats::DEFAULT_STREAM, "stream")?,
            consumer: name(
                &self.consumer,
                logward_core::nats::DEFAULT_CONSUMER,
                "consumer",
            )?,
            max_bytes: match self.max_bytes {
                Some(n) if n <= 0 => return Err("max_bytes: must be above 0".into()),
                Some(n) => n,
                None => 1 << 30,
            },
            max_age_secs: positive(self.max_age_secs, 7 * 86_400, "max_age_secs")?,
            duplicate_window_secs: positive(
                self.duplicate_window_secs,
                120,
                "duplicate_window_secs",
            )?,
            ack_wait_secs: positive(self.ack_wait_secs, 30, "ack_wait_secs")?,
            max_in_flight: match positive(self.max_in_flight, 256, "max_in_flight")? {
                n if n > 10_000 => return Err("max_in_flight: at most 10000".into()),
                n => n,
            },
            decisions_stream: name(
                &self.decisions_stream,
                logward_core::nats::DEFAULT_DECISIONS_STREAM,
                "decisions_stream",
            )?,
            decisions_max_age_secs: positive(
                self.decisions_max_age_secs,
                30 * 86_400,
                "decisions_max_age_secs",
            )?,
        };
        if c.decisions_stream == c.stream {
            return Err(format!(
                "decisions_stream `{}`: must differ from stream",
                c.decisions_stream
            ));
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    cert: Option<PathBuf>,
    #[serde(default)]
    key: Option<PathBuf>,
    #[serde(default)]
    disabled: bool,
}

/// `store:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    #[serde(rename = "type")]
    kind: StoreKind,
    /// PostgreSQL: `postgresql://user@host:port/db` (or the key=value form), no password.
    #[serde(default)]
    url: Option<String>,
    /// PostgreSQL: the environment variable holding the password.
    #[serde(default)]
    password_env: Option<String>,
    /// PostgreSQL: a file holding the password (its first line).
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// PostgreSQL with `sslmode=require`: certificates (PEM) trusted besides the public roots.
    #[serde(default)]
    ca_file: Option<PathBuf>,
}

/// `store.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// One SQLite file in `state_dir` (the default).
    Sqlite,
    /// A PostgreSQL database (docs/SCALE.md).
    Postgres,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    mode: AuthMode,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_file: Option<PathBuf>,
}

/// `auth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Enrolled agents, each with its own secret (the default).
    Agents,
    /// One shared key; the agent id is the host name, registered on first sight.
    Shared,
}

/// `limits:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body as sent (compressed or not). Default 8 MiB.
    #[serde(default = "default_body")]
    pub body_bytes: usize,
    /// Largest body after gzip decompression. Default 64 MiB.
    #[serde(default = "default_decompressed")]
    pub decompressed_bytes: usize,
    /// Requests per second per agent and signed endpoint (events, heartbeat, decisions;
    /// the burst is the same). Default 50.
    #[serde(default = "default_rps")]
    pub requests_per_second: u32,
    /// Failed dashboard logins allowed per client address, and per user name, in
    /// `login_window_secs`; past them a login is answered 429. Default 5.
    #[serde(default = "default_login_failures")]
    pub login_failures: u32,
    /// Default 300.
    #[serde(default = "default_login_window")]
    pub login_window_secs: u64,
    /// How long a dashboard session lasts. Default 43200 (12 hours).
    #[serde(default = "default_session")]
    pub session_secs: u64,
    /// Request bodies read at once before their signature is checked (enrolment included);
    /// over it a request is answered 503 with `Retry-After`. Default 64.
    #[serde(default = "default_unverified_bodies")]
    pub unverified_bodies: usize,
    /// Of those, at most this many from one client address (agents behind one NAT share
    /// it; each body holds it only while it uploads). Default 16.
    #[serde(default = "default_unverified_per_address")]
    pub unverified_per_address: usize,
    /// Bytes held at once, over all requests, of bodies whose signature is not checked yet;
    /// over it a request is answered 503. Default 64 MiB.
    #[serde(default = "default_unverified_bytes")]
    pub unverified_bytes: usize,
    /// Seconds a request body may take to arrive; slower: 408. Default 30.
    #[serde(default = "default_body_read_secs")]
    pub body_read_secs: u64,
    /// Nonces remembered over all agents (each agent's share is what its rate limit lets
    /// through in the replay window). Default 2,000,000.
    #[serde(default = "default_replay_cache")]
    pub replay_cache: usize,
    /// Items (lines) per `POST /v1/events`; more: 413. Default 10,000.
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// Bytes of one NDJSON line; a longer line is rejected (counted, listed). Default 1 MiB.
    #[serde(default = "default_line_bytes")]
    pub line_bytes: usize,
    /// Bytes of one text field of an event or alert; longer ones are cut and end with
    /// `…[truncated]`. Default 64 KiB.
    #[serde(default = "default_field_bytes")]
    pub field_bytes: usize,
    /// Decompressed bytes of requests being parsed or waiting for the store, over all
    /// requests; a request waits for room (503 after `body_read_secs`). Default 256 MiB.
    #[serde(default = "default_inflight_bytes")]
    pub inflight_bytes: usize,
    /// Enrolment requests per minute from one address (burst the same); more: 429.
    /// Default 10.
    #[serde(default = "default_enroll_per_address")]
    pub enroll_per_minute: u32,
    /// Enrolment requests per minute from everywhere together. Default 60.
    #[serde(default = "default_enroll_total")]
    pub enroll_total_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: default_body(),
            decompressed_bytes: default_decompressed(),
            requests_per_second: default_rps(),
            login_failures: default_login_failures(),
            login_window_secs: default_login_window(),
            session_secs: default_session(),
            unverified_bodies: default_unverified_bodies(),
            unverified_per_address: default_unverified_per_address(),
            unverified_bytes: default_unverified_bytes(),
            body_read_secs: default_body_read_secs(),
            replay_cache: default_replay_cache(),
            max_items: default_max_items(),
            line_bytes: default_line_bytes(),
            field_bytes: default_field_bytes(),
            inflight_bytes: default_inflight_bytes(),
            enroll_per_minute: default_enroll_per_address(),
            enroll_total_per_minute: default_enroll_total(),
        }
    }
}

fn default_retention() -> u32 {
    30
}
fn default_body() -> usize {
    8 << 20
}
fn default_decompressed() -> usize {
    64 << 20
}
fn default_rps() -> u32 {
    50
}
fn default_login_failures() -> u32 {
    5
}
fn default_login_window() -> u64 {
    300
}
fn default_session() -> u64 {
    43_200
}
fn default_unverified_bodies() -> usize {
    64
}
fn default_unverified_per_address() -> usize {
    16
}
fn default_unverified_bytes() -> usize {
    64 << 20
}
fn default_body_read_secs() -> u64 {
    30
}
fn default_replay_cache() -> usize {
    2_000_000
}
fn default_max_items() -> usize {
    10_000
}
fn default_line_bytes() -> usize {
    1 << 20
}
fn default_field_bytes() -> usize {
    64 << 10
}
fn default_inflight_bytes() -> usize {
    256 << 20
}
fn default_enroll_per_address() -> u32 {
    10
}
fn default_enroll_total() -> u32 {
    60
}

/// TLS for the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `rules:`: what the collector runs over the merged stream of its agents' events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FleetRules {
    /// The built-in fleet ruleset (`logward_engine::FLEET_RULES`).
    #[default]
    Default,
    /// No fleet rules: events are stored, nothing is correlated.
    None,
    /// A rules file (docs/RULES.md), checked when the config is loaded.
    File { path: PathBuf, text: String },
}

/// `store:`: where the collector keeps its state.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    /// `logward.db` in the state directory.
    #[default]
    Sqlite,
    /// A PostgreSQL database; the password read from its env variable or file at load. TLS
    /// when the URL says `sslmode=require`, trusting `ca_file` besides the public roots.
    Postgres {
        url: String,
        password: Option<String>,
        ca_file: Option<PathBuf>,
    },
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Sqlite => f.write_str("Sqlite"),
            StoreConfig::Postgres {
                url,
                password,
                ca_file,
            } => f
                .debug_struct("Postgres")
                .field("url", &logward_store::redact_url(url))
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .field("ca_file", ca_file)
                .finish(),
        }
    }
}

/// How agents authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Agents,
    Shared { key: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Agents => f.write_str("Agents"),
            Auth::Shared { .. } => f.write_str("Shared { key: <redacted> }"),
        }
    }
}

/// The checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None`: plain HTTP (loopback, or `tls: {disabled: true}`).
    pub tls: Option<TlsFiles>,
    pub state_dir: PathBuf,
    /// The store's backend (SQLite in `state_dir` unless `store:` says PostgreSQL).
    pub store: StoreConfig,
    pub retention_days: u32,
    pub auth: Auth,
    pub limits: Limits,
    /// Connection timeouts and caps.
    pub connections: crate::listener::Connections,
    pub rules: FleetRules,
    /// Notifiers and routes: the collector notifies for the fleet (docs/NOTIFY.md).
    pub notify: logward_notify::NotifyConfig,
    /// The LLM second opinion; `None` when not configured (or `enabled: false`).
    pub llm: Option<crate::llm::LlmConfig>,
    /// The fleet login anomaly detector (profiles per user across hosts); `None`: off.
    pub anomaly: Option<logward_engine::anomaly::Settings>,
    /// The Beats input (crate::beats), checked, its paths absolute; `None`: off.
    pub beats: Option<logward_beats::config::BeatsFile>,
    /// The NATS JetStream consumer (crate::nats); `None`: off.
    pub nats: Option<NatsConfig>,
}

impl Default for Config {
    /// No config file: loopback, plain HTTP, enrolled agents, the default state directory.
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7650)),
            tls: None,
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            store: StoreConfig::Sqlite,
            retention_days: default_retention(),
            auth: Auth::Agents,
            limits: Limits::default(),
            connections: crate::listener::Connections::default(),
            rules: FleetRules::Default,
            notify: logward_notify::NotifyConfig::default(),
            llm: None,
            anomaly: Some(logward_engine::anomaly::Settings::default()),
            beats: None,
            nats: None,
        }
    }
}

/// Loads and checks a config file; relative paths are relative to its directory.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read: {e}"),
        }]
    })?;
    parse(&file, &text, path.parent().unwrap_or(Path::new(".")))
}

/// Parses and checks config text; `base` resolves relative paths.
pub fn parse(file: &str, text: &str, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let err = |line: u64, column: u64, message: String| ConfigError {
        file: file.to_owned(),
        line: line.max(1),
        column: column.max(1),
        message,
    };
    let fc: FileConfig = if text.trim().is_empty() {
        serde_saphyr::from_str("{}").map_err(|e| vec![err(1, 1, e.to_string())])?
    } else {
        logward_engine::strict_yaml::from_str(file, text).map_err(|es| {
            es.into_iter()
                .map(|e| err(e.line, e.column, e.message))
                .collect::<Vec<_>>()
        })?
    };
    let mut errors = Vec::new();
    let mut config = Config::default();
    let at = |s: &serde_saphyr::Location| (s.line(), s.column());
    if let Some(l) = &fc.listen {
        match l.value.parse::<SocketAddr>() {
            Ok(a) => config.listen = a,
            Err(_) => {
                let (line, col) = at(&l.referenced);
                errors.push(err(
                    line,
                    col,
                    format!("listen: {:?} is not an address:port", l.value),
                ))
            }
        }
    }
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    match &fc.tls {
        Some(t) => {
            let (line, col) = at(&t.referenced);
            match (&t.value.cert, &t.value.key, t.value.disabled) {
                (Some(c), Some(k), false) => {
                    config.tls = Some(TlsFiles {
                        cert: resolve(c),
                        key: resolve(k),
                    })
                }
                (None, None, true) => {}
                (_, _, true) => errors.push(err(
                    line,
                    col,
                    "tls: `disabled: true` takes no cert or key".into(),
                )),
                _ => errors.push(err(
                    line,
                    col,
                    "tls: give both `cert` and `key`, or `disabled: true`".into(),
                )),
            }
        }
        None if !config.listen.ip().is_loopback() => {
            let (line, col) = fc.listen.as_ref().map_or((1, 1), |l| at(&l.referenced));
            errors.push(err(
                line,
                col,
                format!(
                    "listen: {} is not a loopback address: configure `tls: {{cert, key}}` \
                     (see `logward collector gen-cert`) or say `tls: {{disabled: true}}`",
                    config.listen
                ),
            ));
        }
        None => {}
    }
    if let Some(d) = &fc.state_dir {
        config.state_dir = resolve(d);
    }
    if let Some(st) = &fc.store {
        let (line, col) = at(&st.referenced);
        match store_config(&st.value, &resolve) {
            Ok(s) => config.store = s,
            Err(m) => errors.push(err(line, col, format!("store: {m}"))),
        }
    }
    config.retention_days = fc.retention_days;
    if let Some(a) = &fc.auth {
        let (line, col) = at(&a.referenced);
        match a.value.mode {
            AuthMode::Agents => {
                if a.value.key.is_some() || a.value.key_file.is_some() {
                    errors.push(err(
                        line,
                        col,
                        "auth: `mode: agents` takes no key (each agent enrols)".into(),
                    ));
                }
            }
            AuthMode::Shared => {
                let key = match (&a.value.key, &a.value.key_file) {
                    (Some(k), None) => Some(k.clone()),
                    (None, Some(f)) => match std::fs::read_to_string(resolve(f)) {
                        Ok(k) => Some(k.trim().to_owned()),
                        Err(e) => {
                            errors.push(err(
                                line,
                                col,
                                format!("auth.key_file: cannot read {}: {e}", f.display()),
                            ));
                            None
                        }
                    },
                    _ => {
                        errors.push(err(
                            line,
                            col,
                            "auth: `mode: shared` needs exactly one of `key`, `key_file`".into(),
                        ));
                        None
                    }
                };
                match key {
                    Some(k) if k.len() < 16 => errors.push(err(
                        line,
                        col,
                        "auth: the shared key must be at least 16 characters".into(),
                    )),
                    Some(k) => config.auth = Auth::Shared { key: k },
                    None => {}
                }
            }
        }
    }
    let l = fc.limits;
    let places = logward_engine::strict_yaml::Places::of(text);
    for (key, bad) in [
        ("body_bytes", l.body_bytes == 0),
        ("decompressed_bytes", l.decompressed_bytes == 0),
        ("requests_per_second", l.requests_per_second == 0),
        ("login_failures", l.login_failures == 0),
        ("login_window_secs", l.login_window_secs == 0),
        ("session_secs", l.session_secs == 0),
        ("unverified_bodies", l.unverified_bodies == 0),
        ("unverified_bytes", l.unverified_bytes == 0),
        ("unverified_per_address", l.unverified_per_address == 0),
        ("body_read_secs", l.body_read_secs == 0),
        ("replay_cache", l.replay_cache == 0),
        ("max_items", l.max_items == 0),
        ("line_bytes", l.line_bytes == 0),
        ("field_bytes", l.field_bytes < 64),
        ("inflight_bytes", l.inflight_bytes == 0),
        ("enroll_per_minute", l.enroll_per_minute == 0),
        ("enroll_total_per_minute", l.enroll_total_per_minute == 0),
    ] {
        if bad {
            let (line, col) = places.value_or_parent(&["limits", key]);
            let least = if key == "field_bytes" {
                "at least 64"
            } else {
                "above 0"
            };
            errors.push(err(line, col, format!("limits.{key}: must be {least}")));
        }
    }
    config.limits = l;
    if let Some(k) = fc.connections.zero_key() {
        errors.push(err(1, 1, format!("connections.{k}: must be above 0")));
    }
    config.connections = fc.connections;
    if let Some(a) = &fc.anomaly {
        let (enabled, settings, problems) = a.check();
        config.anomaly = enabled.then_some(settings);
        for (line, column, message) in problems {
            errors.push(err(line, column, message));
        }
    }
    if let Some(r) = &fc.rules {
        let (line, col) = at(&r.referenced);
        match r.value.trim() {
            "default" => config.rules = FleetRules::Default,
            "none" => config.rules = FleetRules::None,
            "" => errors.push(err(
                line,
                col,
                "rules: give `default`, `none` or a rules file".into(),
            )),
            f => {
                let path = resolve(Path::new(f));
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        match logward_engine::Program::load(&path.display().to_string(), &text) {
                            Ok(_) => config.rules = FleetRules::File { path, text },
                            // The rules file's own errors, each at its file:line:column.
                            Err(es) => errors.extend(es.0),
                        }
                    }
                    Err(e) => errors.push(err(
                        line,
                        col,
                        format!("rules: cannot read {}: {e}", path.display()),
                    )),
                }
            }
        }
    }
    if let Some(n) = fc.notify {
        for e in n.check(file) {
            errors.push(err(e.line, e.column, format!("notify: {}", e.message)));
        }
        config.notify = n;
    }
    if let Some(b) = &fc.beats {
        let (line, col) = places.value_or_parent(&["beats"]);
        let mut b = b.clone();
        b.resolve_paths(base);
        match b.check_files(base) {
            Ok(_) => config.beats = Some(b),
            Err(es) => errors.extend(es.into_iter().map(|e| err(line, col, format!("beats.{e}")))),
        }
    }
    if let Some(n) = &fc.nats {
        match n.check(resolve) {
            Ok(n) => config.nats = Some(n),
            Err(e) => {
                let (line, col) = places.value_or_parent(&["nats"]);
                errors.push(err(line, col, format!("nats: {e}")));
            }
        }
    }
    if let Some(l) = &fc.llm {
        config.llm = crate::llm::check(l, base, |line, col, m| errors.push(err(line, col, m)));
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// Checks `store:` and reads the PostgreSQL password from its env variable or file.
fn store_config(st: &StoreFile, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<StoreConfig, String> {
    match st.kind {
        StoreKind::Sqlite => {
            if st.url.is_some()
                || st.password_env.is_some()
                || st.password_file.is_some()
                || st.ca_file.is_some()
            {
                return Err(
                    "`type: sqlite` takes no url, password or ca_file (the file is in \
                            `state_dir`)"
                        .into(),
                );
            }
            Ok(StoreConfig::Sqlite)
        }
        StoreKind::Postgres => {
            let Some(url) = st.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
                return Err("`type: postgres` needs `url: postgresql://user@host:port/db`".into());
            };
            // A password in the URL would be printed wherever the config is shown.
            if logward_store::redact_url(url) != url {
                return Err(
                    "the url must not hold the password: give `password_env` or \
                            `password_file`"
                        .into(),
                );
            }
            if let Err(e) = logward_store::PgStore::check_url(url) {
                return Err(format!("url: not a PostgreSQL URL: {e}"));
            }
            let password = match (&st.password_env, &st.password_file) {
                (None, None) => None,
                (Some(var), None) => match std::env::var(var) {
                    Ok(p) if !p.is_empty() => Some(p),
                    _ => return Err(format!("password_env: {var} is not set")),
                },
                (None, Some(f)) => {
                    // Under the systemd unit the file may come as a credential.
                    let path = crate::credentials::or_credential(&resolve(f));
                    match std::fs::read_to_string(&path) {
                        Ok(t) => Some(t.lines().next().unwrap_or("").to_owned()),
                        Err(e) => {
                            return Err(format!(
                                "password_file: cannot read {}: {e}",
                                path.display()
                            ))
                        }
                    }
                }
                (Some(_), Some(_)) => {
                    return Err("give one of `password_env`, `password_file`".into())
                }
            };
            let ca_file = st.ca_file.as_deref().map(resolve);
            if let Some(ca) = &ca_file {
                if !url.contains("sslmode=require") {
                    return Err("ca_file: only used with `sslmode=require` in the url".into());
                }
                if let Err(e) = std::fs::metadata(ca) {
                    return Err(format!("ca_file: cannot read {}: {e}", ca.display()));
                }
            }
            Ok(StoreConfig::Postgres {
                url: url.to_owned(),
                password,
                ca_file,
            })
        }
    }
}

/// The collector's config with every setting at its default, commented
/// (`logward default-config --collector`): what the collector runs with without `--config`.
pub fn default_yaml() -> String {
    // Every value comes from the types' defaults (`default_yaml_is_the_default` loads it back).
    let l = Limits::default();
    let c = crate::listener::Connections::default();
    format!(
        "# logward collector config (logward collector --config FILE; docs/COLLECTOR.md).\n\
         # Every key is optional; relative paths are relative to this file. Strict: an unknown\n\
         # key is an error at file:line:column (`logward check --config FILE`).\n\
         listen: {DEFAULT_LISTEN}          # off loopback `tls:` is required\n\
         # tls: {{cert: cert.pem, key: key.pem}}  # `logward collector gen-cert --out DIR` writes them\n\
         state_dir: {DEFAULT_STATE_DIR}\n\
         store: {{type: sqlite}}              # or {{type: postgres, url: postgresql://…, password_env: VAR}}\n\
         retention_days: {}                 # fleet events, alerts, expired decisions\n\
         auth: {{mode: agents}}               # enrolled agents; {{mode: shared, key_file: FILE}}\n\
         limits:\n\
         \x20 body_bytes: {}             # a request body as sent\n\
         \x20 decompressed_bytes: {}     # after gzip\n\
         \x20 requests_per_second: {}          # per agent and endpoint\n\
         \x20 login_failures: {}                # dashboard logins per address / user …\n\
         \x20 login_window_secs: {}           # … in this window\n\
         \x20 session_secs: {}              # a dashboard session\n\
         \x20 unverified_bodies: {}            # bodies read before their signature is checked …\n\
         \x20 unverified_per_address: {}       # … from one address …\n\
         \x20 unverified_bytes: {}       # … and their bytes together (503 above)\n\
         \x20 body_read_secs: {}               # a body must arrive in this time (408)\n\
         \x20 replay_cache: {}            # nonces remembered over all agents\n\
         \x20 max_items: {}                 # items per POST /v1/events (413)\n\
         \x20 line_bytes: {}              # one NDJSON line (rejected above)\n\
         \x20 field_bytes: {}               # one text field (cut above, marked)\n\
         \x20 inflight_bytes: {}         # decompressed bytes parsed or queued (503)\n\
         \x20 enroll_per_minute: {}            # POST /v1/enroll per address …\n\
         \x20 enroll_total_per_minute: {}      # … and in all (429)\n\
         connections:\n\
         \x20 handshake_secs: {}              # a TLS handshake must finish in this\n\
         \x20 header_secs: {}                 # a request head must arrive in this\n\
         \x20 idle_secs: {}                   # an idle or stalled connection is closed after this\n\
         \x20 max: {}                       # open connections\n\
         \x20 per_address: {}                # open connections per client address\n\
         rules: default                     # the built-in fleet rules; `none`, or a rules file\n\
         anomaly: {}\n\
         notify: {{}}                         # notifiers and routes (docs/NOTIFY.md)\n\
         # llm: {{base_url: http://127.0.0.1:11434/v1, model: qwen2.5:7b}}  # docs/LLM.md\n",
        default_retention(),
        l.body_bytes,
        l.decompressed_bytes,
        l.requests_per_second,
        l.login_failures,
        l.login_window_secs,
        l.session_secs,
        l.unverified_bodies,
        l.unverified_per_address,
        l.unverified_bytes,
        l.body_read_secs,
        l.replay_cache,
        l.max_items,
        l.line_bytes,
        l.field_bytes,
        l.inflight_bytes,
        l.enroll_per_minute,
        l.enroll_total_per_minute,
        c.handshake_secs,
        c.header_secs,
        c.idle_secs,
        c.max,
        c.per_address,
        logward_engine::anomaly::config::default_flow(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_yaml_is_the_default() {
        let c = super::parse(
            "default.yaml",
            &super::default_yaml(),
            std::path::Path::new("/"),
        )
        .expect("the default config loads");
        assert_eq!(c, super::Config::default());
    }

    #[test]
    fn the_nats_section_is_checked() {
        let c = parse(
            "c.yaml",
            "nats: {url: \"nats://127.0.0.1:4222\", creds_file: a.creds, ack_wait_secs: 5}\n",
            Path::new("/etc/x"),
        )
        .unwrap();
        let n = c.nats.unwrap();
        assert_eq!(n.stream, "LOGWARD_EVENTS");
        assert_eq!(n.consumer, "logward-collector");
        assert_eq!(n.connect.creds_file, Some(PathBuf::from("/etc/x/a.creds")));
        assert_eq!((n.ack_wait_secs, n.duplicate_window_secs), (5, 120));
        for (bad, says) in [
            ("nats: {url: \"http://h\"}", "nats:// or tls://"),
            ("nats: {url: \"nats://h\", stream: \"a.b\"}", "stream `a.b`"),
            (
                "nats: {url: \"nats://h\", user: u, creds_file: c}",
                "at most one",
            ),
            (
                "nats: {url: \"nats://h\", ack_wait_secs: 0}",
                "ack_wait_secs",
            ),
        ] {
            let e = parse("c.yaml", bad, Path::new("/")).unwrap_err();
            assert!(e.iter().any(|e| e.message.contains(says)), "{bad}: {e:?}");
        }
    }

    #[test]
    fn defaults_and_full_config() {
        let c = parse("c.yaml", "", Path::new("/etc/x")).unwrap();
        assert_eq!(c, Config::default());
        let c = parse(
            "c.yaml",
            "listen: 0.0.0.0:9000\ntls: {cert: c.pem, key: k.pem}\nstate_dir: st\n\
             retention_days: 7\nauth: {mode: shared, key: 0123456789abcdef}\n\
             limits: {body_bytes: 10, decompressed_bytes: 20, requests_per_second: 3}\n",
            Path::new("/etc/x"),
        )
        .unwrap();
        assert_eq!(c.tls.unwrap().cert, Path::new("/etc/x/c.pem"));
        assert_eq!(c.state_dir, Path::new("/etc/x/st"));
        assert_eq!(c.limits.requests_per_second, 3);
        assert!(matches!(c.auth, Auth::Shared { .. }));
        assert_eq!(c.rules, FleetRules::Default);
    }

    #[test]
    fn rules_default_none_or_a_checked_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = parse("c.yaml", "rules: none\n", dir.path()).unwrap();
        assert_eq!(c.rules, FleetRules::None);
        let e = parse(
            "c.yaml",
            "retention_days: 3\nrules: nope.yaml\n",
            dir.path(),
        )
        .unwrap_err();
        assert_eq!((e[0].line, e[0].column), (2, 8), "{}", e[0]);
        assert!(e[0].message.contains("cannot read"), "{}", e[0]);
        std::fs::write(
            dir.path().join("bad.yaml"),
            "chains:\n  a:\n    - {type: equals, field: no.such.field, value: x}\n",
        )
        .unwrap();
        let e = parse("c.yaml", "rules: bad.yaml\n", dir.path()).unwrap_err();
        assert!(e[0].file.ends_with("bad.yaml"), "{}", e[0]);
        assert_eq!(e[0].line, 3, "{}", e[0]);
        std::fs::write(dir.path().join("ok.yaml"), logward_engine::FLEET_RULES).unwrap();
        let c = parse("c.yaml", "rules: ok.yaml\n", dir.path()).unwrap();
        assert!(matches!(c.rules, FleetRules::File { .. }));
    }

    #[test]
    fn store_sqlite_by_default_or_postgres_with_its_password_outside_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let c = parse("c.yaml", "store: {type: sqlite}\n", dir.path()).unwrap();
        assert_eq!(c.store, StoreConfig::Sqlite);
        std::fs::write(dir.path().join("pw"), "s3cret\nignored\n").unwrap();
        let c = parse(
            "c.yaml",
            "store: {type: postgres, url: \"postgresql://lw@db/logward\", password_file: pw}\n",
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            c.store,
            StoreConfig::Postgres {
                url: "postgresql://lw@db/logward".into(),
                password: Some("s3cret".into()),
                ca_file: None,
            }
        );
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        std::env::set_var("LOGWARD_TEST_STORE_PW", "from-env");
        let c = parse(
            "c.yaml",
            "store: {type: postgres, url: \"host=db user=lw\", password_env: LOGWARD_TEST_STORE_PW}\n",
            dir.path(),
        )
        .unwrap();
        assert!(
            matches!(c.store, StoreConfig::Postgres { password: Some(ref p), .. } if p == "from-env")
        );
        for (yaml, says) in [
            ("store: {type: postgres}\n", "needs `url"),
            (
                "store: {type: postgres, url: \"postgresql://lw:pw@db/x\"}\n",
                "must not hold the password",
            ),
            (
                "store: {type: postgres, url: \"postgresql://db/x\", password_env: LOGWARD_TEST_NO_SUCH_VAR}\n",
                "is not set",
            ),
            (
                "store: {type: postgres, url: \"postgresql://db/x\", password_file: nope}\n",
                "cannot read",
            ),
            ("store: {type: postgres, url: \"postgresql://db:notaport/x\"}\n", "not a PostgreSQL URL"),
            ("store: {type: sqlite, url: \"postgresql://db/x\"}\n", "takes no url"),
            (
                "store: {type: postgres, url: \"postgresql://db/x\", ca_file: pw}\n",
                "only used with `sslmode=require`",
            ),
            (
                "store: {type: postgres, url: \"postgresql://db/x?sslmode=require\", ca_file: nope}\n",
                "cannot read",
            ),
        ] {
            let e = parse("c.yaml", yaml, dir.path()).unwrap_err();
            assert_eq!(e[0].line, 1, "{}", e[0]);
            assert!(e[0].message.contains(says), "{yaml}: {}", e[0]);
            assert!(!e[0].message.contains(":pw@"), "{}", e[0]);
        }
        let e = parse("c.yaml", "store: {type: mysql}\n", dir.path()).unwrap_err();
        assert!(e[0].message.contains("mysql"), "{}", e[0]);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("c.yaml", "listen: 0.0.0.0:9000\n", Path::new(".")).unwrap_err();
        assert!(e[0].to_string().starts_with("c.yaml:1:"), "{}", e[0]);
        assert!(e[0].message.contains("not a loopback"));
        let e = parse("c.yaml", "listen: 127.0.0.1:1\nbogus: 1\n", Path::new(".")).unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with("c.yaml:2:1: unknown key `bogus`"),
            "{}",
            e[0]
        );
        let e = parse(
            "c.yaml",
            "listen: 127.0.0.1:1\nauth: {mode: shared}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!((e[0].line, e[0].message.contains("exactly one")), (2, true));
        assert!(parse(
            "c.yaml",
            "listen: 0.0.0.0:1\ntls: {disabled: true}\n",
            Path::new(".")
        )
        .unwrap()
        .tls
        .is_none());
    }
}
