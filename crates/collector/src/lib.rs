//! `logward collector`: the central server of a fleet (docs/COLLECTOR.md). Agents enrol with
//! a one-time token, sign every request (`logward_core::wire`), and forward their events and
//! alerts as NDJSON; the collector stores them in the same SQLite store the agent uses (or in
//! PostgreSQL, `store:`), plus the fleet tables, sends the notifications (with an optional LLM
//! second opinion on each alert), and serves ban decisions and Prometheus metrics. With
//! `nats:` it also consumes the batches agents publish to NATS JetStream (nats.rs) and
//! publishes the fleet's decisions there, signed (nats_decisions.rs).

pub mod anomaly;
pub mod api;
pub mod auth;
mod background;
pub mod beats;
pub mod body;
pub mod config;
pub mod credentials;
mod decisions;
pub mod dns_api;
mod enroll;
pub mod enroll_limit;
mod heartbeat;
mod ingest;
pub mod listener;
pub mod llm;
pub mod metrics;
pub mod nats;
pub mod nats_decisions;
pub mod nonces;
pub mod openapi;
pub mod origin;
pub mod presence;
mod reply;
pub mod rules;
pub mod rules_leader;
pub mod server;
mod signed;
pub mod status;
pub mod store_thread;
pub mod truncate;

use std::path::{Path, PathBuf};

use logward_store::{CollectorStore, PgStore, SqliteStore};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

pub use config::{Auth, Config, ConfigError, StoreConfig};
pub use server::{start, Running};

/// What can stop the collector.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] logward_store::StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the store thread stopped")]
    StoreGone,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("authentication: {0}")]
    Auth(String),
    #[error("LLM analysis: {0}")]
    Llm(String),
    #[error("certificate generation failed: {0}")]
    Cert(String),
    #[error("{0}")]
    Rules(String),
    /// A setting the config file's checks let through but its component refused.
    #[error("invalid config: {0}")]
    Config(String),
}

pub(crate) use logward_core::clock::unix_now;

/// `N` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS random source does not fail on Linux once the kernel has booted; if it ever
    // did, a process that cannot make secrets must not continue.
    if SystemRandom::new().fill(&mut b).is_err() {
        panic!("the OS random number generator failed");
    }
    b
}

/// `n` random bytes from the OS, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    if SystemRandom::new().fill(&mut b).is_err() {
        panic!("the OS random number generator failed");
    }
    logward_core::wire::hex(&b)
}

/// Creates (or sets the password of) a dashboard operator; whether it is new.
pub fn add_user(
    at: impl Into<StoreAt>,
    name: &str,
    password: &str,
    now: i64,
) -> Result<bool, Error> {
    if !auth::valid_user_name(name) {
        return Err(Error::Auth(format!(
            "{name:?}: a user name is 1 to 64 letters, digits, `.`, `_`, `-`, `@`"
        )));
    }
    if password.chars().count() < 8 {
        return Err(Error::Auth(
            "the password must be at least 8 characters".into(),
        ));
    }
    let phc = auth::hash_password(password)?;
    let mut store = open_store(at)?;
    Ok(store.set_operator(name, &phc, now)?)
}

/// Creates an API bearer token named `name`; returns its id and the token (only its SHA-256
/// is stored).
pub fn create_api_token(
    at: impl Into<StoreAt>,
    name: &str,
    now: i64,
) -> Result<(i64, String), Error> {
    let token = auth::new_api_token();
    let mut store = open_store(at)?;
    let id = store.create_api_token(name, &sha256_hex(token.as_bytes()), now)?;
    Ok((id, token))
}

/// Where a collector's store is: its state directory and its backend (`store:`). A path
/// alone is the default, SQLite in that directory.
#[derive(Debug, Clone)]
pub struct StoreAt {
    pub state_dir: PathBuf,
    pub store: StoreConfig,
}

impl From<&Path> for StoreAt {
    fn from(dir: &Path) -> StoreAt {
        StoreAt {
            state_dir: dir.to_path_buf(),
            store: StoreConfig::Sqlite,
        }
    }
}

impl From<&PathBuf> for StoreAt {
    fn from(dir: &PathBuf) -> StoreAt {
        StoreAt::from(dir.as_path())
    }
}

impl From<&Config> for StoreAt {
    fn from(c: &Config) -> StoreAt {
        StoreAt {
            state_dir: c.state_dir.clone(),
            store: c.store.clone(),
        }
    }
}

/// Opens the collector's store: where the backend is chosen, for the commands run on it and
/// the store thread. PostgreSQL is connected to (and migrated) here; the sync client must not
/// be used from an async task, so callers are the store thread, `spawn_blocking` or the CLI.
pub fn open_store(at: impl Into<StoreAt>) -> Result<Box<dyn CollectorStore>, Error> {
    let at = at.into();
    Ok(match &at.store {
        StoreConfig::Sqlite => Box::new(SqliteStore::open_dir(&at.state_dir)?),
        StoreConfig::Postgres {
            url,
            password,
            ca_file,
        } => Box::new(PgStore::connect_with(
            url,
            password.as_deref(),
            ca_file.as_deref(),
        )?),
    })
}

/// [`open_store`] for the store thread, whose time is the collector's ingest rate: SQLite's
/// WAL is checkpointed on a thread of its own, not in the middle of its commits.
pub(crate) fn open_store_thread_store(
    at: impl Into<StoreAt>,
) -> Result<Box<dyn CollectorStore>, Error> {
    let at = at.into();
    match &at.store {
        StoreConfig::Sqlite => {
            let mut s = SqliteStore::open_dir(&at.state_dir)?;
            s.checkpoint_in_background()?;
            Ok(Box::new(s))
        }
        StoreConfig::Postgres { .. } => open_store(at),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(b: &[u8]) -> String {
    logward_core::wire::hex(&Sha256::digest(b))
}

/// Creates a one-time enrolment token valid for `ttl_secs`; returns the token (only its
/// SHA-256 is stored).
pub fn create_token(at: impl Into<StoreAt>, now: i64, ttl_secs: i64) -> Result<String, Error> {
    let token = random_hex(32);
    let mut store = open_store(at)?;
    store.create_enrol_token(&sha256_hex(token.as_bytes()), now, now + ttl_secs)?;
    Ok(token)
}

/// Writes a self-signed certificate and its key (`cert.pem`, `key.pem`, the key mode 0600)
/// into `dir` for the given names (host names or IP addresses). Returns the two paths.
pub fn gen_cert(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), Error> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| Error::Cert(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let write = |path: &Path, text: &str, mode: u32| {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })
    };
    write(&key, &ck.signing_key.serialize_pem(), 0o600)?;
    write(&cert, &ck.cert.pem(), 0o644)?;
    Ok((cert, key))
}
