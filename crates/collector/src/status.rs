//! `logward collector status`: what the cluster is, read from the store (the collectors'
//! heartbeat rows, agents, what is stored today, partitions) and, with `nats:`, from
//! nats-server (the stream and the consumers) — for an admin, as text or JSON. Each part
//! that cannot be reached says so and the rest is still shown; the exit code tells which.

use std::fmt::Write as _;
use std::time::Duration;

use logward_store::{redact_url, CollectorStore};
use serde::Serialize;

use crate::config::{Config, NatsConfig, StoreConfig};

/// Exit code: the store cannot be read (nothing but the NATS part is shown).
pub const EXIT_STORE: i32 = 2;
/// Exit code: the store is fine, NATS (configured) cannot be reached or has no stream.
pub const EXIT_NATS: i32 = 3;
/// Agents seen within this long count as seen recently.
pub const RECENT_SECS: i64 = 300;
/// How long the NATS look-ups may take in all.
const NATS_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Serialize)]
pub struct Status {
    pub now: i64,
    pub store: StoreStatus,
    pub collectors: Vec<CollectorStatus>,
    pub agents: Option<AgentsStatus>,
    pub today: Option<Today>,
    /// PostgreSQL's day partitions (none on SQLite).
    pub partitions: Vec<String>,
    /// `None` without `nats:` in the config.
    pub nats: Option<NatsStatus>,
}

#[derive(Debug, Serialize)]
pub struct StoreStatus {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The SQLite file, or the PostgreSQL URL without its password.
    pub at: String,
    pub schema_version: Option<u32>,
    /// Why it could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CollectorStatus {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub listen: String,
    pub backend: String,
    pub nats: bool,
    /// `leader`, `standby` or `inline` (docs/SCALE.md).
    pub role: String,
    pub started_at: i64,
    pub last_seen: i64,
    /// Seen within the staleness threshold.
    pub live: bool,
}

#[derive(Debug, Serialize)]
pub struct AgentsStatus {
    pub total: usize,
    /// Seen in the last [`RECENT_SECS`].
    pub recent: usize,
    pub revoked: usize,
    /// The largest spool backlog an agent reported: its host and items waiting.
    pub largest_spool: Option<(String, i64)>,
}

#[derive(Debug, Serialize)]
pub struct Today {
    /// 00:00 UTC today.
    pub since: i64,
    pub events: u64,
    pub alerts: u64,
}

#[derive(Debug, Serialize)]
pub struct NatsStatus {
    /// The server URL(s), passwords redacted.
    pub url: String,
    pub stream: String,
    /// Why it could not be read.
    pub error: Option<String>,
    pub messages: Option<u64>,
    pub bytes: Option<u64>,
    pub consumer_count: Option<usize>,
    pub consumers: Vec<ConsumerStatus>,
}

#[derive(Debug, Serialize)]
pub struct ConsumerStatus {
    pub name: String,
    /// Not yet delivered.
    pub pending: u64,
    /// Delivered, not yet acknowledged.
    pub ack_pending: u64,
    pub redelivered: u64,
}

impl Status {
    /// 0 when every configured part was reached; [`EXIT_STORE`] or [`EXIT_NATS`] otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.store.error.is_some() {
            EXIT_STORE
        } else if self.nats.as_ref().is_some_and(|n| n.error.is_some()) {
            EXIT_NATS
        } else {
            0
        }
    }
}

/// Reads the cluster's state. Blocking (PostgreSQL's sync client, a runtime of its own for
/// NATS): not to be called on an async runtime. `stale_secs`: a collector not seen for
/// longer is shown as gone.
pub fn gather(config: &Config, stale_secs: i64) -> Status {
    let now = crate::unix_now();
    let (backend, at) = match &config.store {
        StoreConfig::Sqlite => (
            "sqlite",
            config
                .state_dir
                .join(logward_store::SqliteStore::FILE_NAME)
                .display()
                .to_string(),
        ),
        StoreConfig::Postgres { url, .. } => ("postgres", redact_url(url)),
    };
    let mut status = Status {
        now,
        store: StoreStatus {
            backend,
            at,
            schema_version: None,
            error: None,
        },
        collectors: Vec::new(),
        agents: None,
        today: None,
        partitions: Vec::new(),
        nats: config.nats.as_ref().map(nats_status),
    };
    if let Err(e) = crate::open_store(config)
        .and_then(|mut s| read_store(s.as_mut(), &mut status, stale_secs).map_err(Into::into))
    {
        status.store.error = Some(e.to_string());
    }
    status
}

fn read_store(
    s: &mut dyn CollectorStore,
    status: &mut Status,
    stale_secs: i64,
) -> logward_store::Result<()> {
    let now = status.now;
    status.store.schema_version = Some(s.schema_version()?);
    status.collectors = s
        .collectors()?
        .into_iter()
        .map(|c| CollectorStatus {
            live: c.live(now, stale_secs),
            id: c.id,
            host: c.host,
            pid: c.pid,
            version: c.version,
            listen: c.listen,
            backend: c.backend,
            nats: c.nats,
            role: c.role,
            started_at: c.started_at,
            last_seen: c.last_seen,
        })
        .collect();
    let agents = s.agents()?;
    status.agents = Some(AgentsStatus {
        total: agents.len(),
        recent: agents
            .iter()
            .filter(|a| a.last_seen.is_some_and(|t| now - t <= RECENT_SECS))
            .count(),
        revoked: agents.iter().filter(|a| a.revoked_at.is_some()).count(),
        largest_spool: agents
            .iter()
            .filter_map(|a| Some((a.host.clone(), a.spool_items.filter(|&n| n > 0)?)))
            .max_by_key(|(_, n)| *n),
    });
    let since = now - now.rem_euclid(86_400);
    let sum = s.store_summary(since)?;
    status.today = Some(Today {
        since,
        events: sum.events,
        alerts: sum.alerts,
    });
    status.partitions = sum.partitions;
    Ok(())
}

fn nats_status(cfg: &NatsConfig) -> NatsStatus {
    let mut n = NatsStatus {
        url: cfg
            .connect
            .url
            .split(',')
            .map(|u| redact_url(u.trim()))
            .collect::<Vec<_>>()
            .join(","),
        stream: cfg.stream.clone(),
        error: None,
        messages: None,
        bytes: None,
        consumer_count: None,
        consumers: Vec::new(),
    };
    let read = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                tokio::time::timeout(NATS_TIMEOUT, read_nats(cfg, &mut n))
                    .await
                    .unwrap_or_else(|_| Err("no answer in time".into()))
            })
        });
    if let Err(e) = read {
        n.error = Some(e);
    }
    n
}

async fn read_nats(cfg: &NatsConfig, n: &mut NatsStatus) -> Result<(), String> {
    use async_nats::jetstream;
    let client =
        logward_core::nats::connect(&cfg.connect, "logward-collector-status", false).await?;
    let js = jetstream::new(client);
    let mut stream = js
        .get_stream(&cfg.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", cfg.stream))?;
    let info = stream
        .info()
        .await
        .map_err(|e| format!("stream {}: {e}", cfg.stream))?;
    n.messages = Some(info.state.messages);
    n.bytes = Some(info.state.bytes);
    n.consumer_count = Some(info.state.consumer_count);
    for name in [cfg.consumer.as_str(), crate::rules_leader::CONSUMER] {
        // The rules leader's consumer exists only with PostgreSQL; a missing one is left out.
        if let Ok(c) = stream.consumer_info(name).await {
            n.consumers.push(ConsumerStatus {
                name: name.to_owned(),
                pending: c.num_pending,
                ack_pending: c.num_ack_pending as u64,
                redelivered: c.num_redelivered as u64,
            });
        }
    }
    Ok(())
}

/// `12s`, `5m`, `3h`, `2d`.
fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7_199 => format!("{}m", s / 60),
        7_200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

impl Status {
    /// The text an admin reads.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let st = &self.store;
        let _ = write!(o, "store       {} {}", st.backend, st.at);
        match (&st.error, st.schema_version) {
            (Some(e), _) => {
                let _ = writeln!(o, "\n            UNREACHABLE: {e}");
            }
            (None, Some(v)) => {
                let _ = writeln!(o, " (schema {v})");
            }
            (None, None) => o.push('\n'),
        }
        if st.error.is_none() {
            let live = self.collectors.iter().filter(|c| c.live).count();
            let _ = writeln!(
                o,
                "collectors  {live} live, {} gone",
                self.collectors.len() - live
            );
            for c in &self.collectors {
                let _ = writeln!(
                    o,
                    "  {:<4}  {:<7}  {}  pid {}  v{}  {}{}  seen {} ago  id {}",
                    if c.live { "live" } else { "gone" },
                    c.role,
                    c.host,
                    c.pid,
                    c.version,
                    c.listen,
                    if c.nats { "  nats" } else { "" },
                    ago(self.now - c.last_seen),
                    c.id
                );
            }
        }
        if let Some(a) = &self.agents {
            let _ = write!(
                o,
                "agents      {} ({} seen in the last 5 min, {} revoked)",
                a.total, a.recent, a.revoked
            );
            match &a.largest_spool {
                Some((host, n)) => {
                    let _ = writeln!(o, "; largest spool: {n} items ({host})");
                }
                None => o.push('\n'),
            }
        }
        if let Some(t) = &self.today {
            let _ = writeln!(
                o,
                "today       {} events, {} alerts stored (since 00:00 UTC)",
                t.events, t.alerts
            );
        }
        if !self.partitions.is_empty() {
            let _ = writeln!(
                o,
                "partitions  {}: {}",
                self.partitions.len(),
                self.partitions.join(", ")
            );
        }
        if let Some(n) = &self.nats {
            match &n.error {
                Some(e) => {
                    let _ = writeln!(o, "nats        {} UNREACHABLE: {e}", n.url);
                }
                None => {
                    let _ = writeln!(
                        o,
                        "nats        {}: stream {}, {} messages ({} bytes), {} consumers",
                        n.url,
                        n.stream,
                        n.messages.unwrap_or(0),
                        n.bytes.unwrap_or(0),
                        n.consumer_count.unwrap_or(0)
                    );
                    for c in &n.consumers {
                        let _ = writeln!(
                            o,
                            "  consumer {}: pending {}, ack pending {}, redelivered {}",
                            c.name, c.pending, c.ack_pending, c.redelivered
                        );
                    }
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn ages_are_short() {
        assert_eq!(ago(-3), "0s");
        assert_eq!(ago(59), "59s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 86_400), "3d");
    }
}
