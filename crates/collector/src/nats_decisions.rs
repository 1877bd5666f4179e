//! The fleet's ban decisions published on NATS JetStream (`nats:`; docs/COLLECTOR.md "NATS
//! JetStream", docs/SCALE.md): agents with `transport: nats` watch the stream instead of
//! polling `GET /v1/decisions`.
//!
//! Each change of the store's decisions log is one message on `logward.decisions` in the
//! stream `decisions_stream` (created or updated here), its body the very JSON a poll answer
//! carries for it ([`wire::DecisionChange`]), signed with the fleet's Ed25519 key: agents can
//! publish on NATS too, and must not be able to ban an address fleet-wide. The key is made
//! once and kept in the store (meta, insert-if-absent, so collectors sharing PostgreSQL
//! agree on one); agents learn its public half over their signed HTTP link.
//!
//! The publisher tails the log, not the places that write it: woken after a commit in this
//! process, and every [`TICK`] for what other collectors or the CLI committed. The log's
//! `seq` order is its commit order (the stores make it so: store postgres/decisions.rs), so
//! reading after a cursor never passes over a change committed later with a lower seq.
//! Several collectors may publish the same changes: `Nats-Msg-Id` is the change's seq, so
//! the stream's duplicate window drops a double, and the "published up to" cursor is shared
//! in the store so a restarted collector resumes where the fleet is. A double outside the
//! window is harmless: agents ignore changes at or below their cursor.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use logward_core::backoff::Backoff;
use logward_core::nats::{self as lnats, DecisionKey};
use tokio::sync::watch;

use crate::config::NatsConfig;
use crate::server::AppState;
use crate::store_thread::StoreHandle;
use crate::{unix_now as now, Error};

/// The meta key of the fleet's decision signing key (its secret: never shown).
pub const KEY_META: &str = "nats.decisions_key";
/// The meta key of the seq up to which changes are published.
pub const CURSOR_META: &str = "nats.decisions_published";
/// How often the publisher looks at the log without being woken.
pub const TICK: Duration = Duration::from_secs(2);
/// Changes read (and published) at once.
const PAGE: usize = 500;

/// What the publisher counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct DecisionsStats {
    /// Changes the stream stored.
    pub published: AtomicU64,
    /// Changes the stream already had (another collector published them).
    pub duplicates: AtomicU64,
    /// Publishes that failed (retried).
    pub errors: AtomicU64,
    /// 1 while connected and publishing.
    pub up: AtomicU64,
}

/// The fleet's key: the one in the store, or a new one stored if there is none.
pub(crate) async fn load_key(store: &StoreHandle) -> Result<DecisionKey, Error> {
    let fresh = DecisionKey::from_secret(crate::random_bytes::<32>()).secret_hex();
    let stored = store.call(move |s| s.init_meta(KEY_META, &fresh)).await??;
    DecisionKey::from_secret_hex(&stored).ok_or_else(|| {
        Error::Config(format!(
            "the store's {KEY_META} is not an Ed25519 secret key in hex"
        ))
    })
}

/// Starts the publisher; it runs (reconnecting with backoff) until `shutdown`.
pub fn start(
    state: Arc<AppState>,
    cfg: NatsConfig,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(key) = state.decision_key.clone() else {
            return;
        };
        let backoff = Mutex::new(Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(10),
        ));
        let up = &state.metrics.nats_decisions.up;
        let run = || publish(&state, &cfg, &key, &backoff);
        crate::nats::reconnecting("decisions publisher", up, &backoff, shutdown, run).await;
    })
}

/// The decisions stream, created or brought to this configuration.
async fn stream(js: &jetstream::Context, cfg: &NatsConfig) -> Result<(), String> {
    let config = stream::Config {
        name: cfg.decisions_stream.clone(),
        subjects: vec![lnats::DECISIONS_SUBJECT.to_owned()],
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(cfg.decisions_max_age_secs),
        duplicate_window: Duration::from_secs(cfg.duplicate_window_secs),
        // One change is well under a kilobyte.
        max_message_size: 64 * 1024,
        ..Default::default()
    };
    let name = &cfg.decisions_stream;
    match js.get_stream(name).await {
        Ok(_) => js
            .update_stream(config)
            .await
            .map(drop)
            .map_err(|e| format!("stream {name}: {e}")),
        Err(_) => js
            .get_or_create_stream(config)
            .await
            .map(drop)
            .map_err(|e| format!("stream {name}: {e}")),
    }
}

/// Connects, makes the stream, and publishes new changes until an error.
async fn publish(
    state: &Arc<AppState>,
    cfg: &NatsConfig,
    key: &DecisionKey,
    backoff: &Mutex<Backoff>,
) -> Result<(), String> {
    let client = lnats::connect(&cfg.connect, "logward-collector decisions", false).await?;
    let js = jetstream::new(client);
    stream(&js, cfg).await?;
    tracing::info!(stream = %cfg.decisions_stream, "nats: publishing decisions");
    let stats = &state.metrics.nats_decisions;
    stats.up.store(1, Relaxed);
    let mut published = 0i64;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        publish_new(state, &js, key, &mut published).await?;
        backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reset();
        tokio::select! {
            _ = state.decisions_wake.notified() => {}
            _ = tick.tick() => {}
        }
    }
}

/// Publishes every change after the cursor (this process's, or the fleet's when ahead).
async fn publish_new(
    state: &Arc<AppState>,
    js: &jetstream::Context,
    key: &DecisionKey,
    published: &mut i64,
) -> Result<(), String> {
    let stats = &state.metrics.nats_decisions;
    loop {
        let mine = *published;
        let t = now();
        let (since, changes) = state
            .store
            .call(move |s| {
                // Nobody may poll any more: the publisher makes the expiries agents unban.
                s.expire_decisions(t)?;
                let shared = s
                    .meta(CURSOR_META)?
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                let since = shared.max(mine);
                Ok::<_, logward_store::StoreError>((since, s.decision_changes_after(since, PAGE)?))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the decisions log: {e}"))?;
        *published = since;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(());
        };
        let full = changes.len() >= PAGE;
        for c in changes {
            let seq = c.seq;
            let body = serde_json::to_vec(&crate::decisions::to_wire(c))
                .map_err(|e| format!("decision {seq}: {e}"))?;
            let mut h = async_nats::HeaderMap::new();
            h.insert(lnats::MSG_ID, seq.to_string().as_str());
            h.insert(lnats::HEADER_DECISION_SIGNATURE, key.sign(&body).as_str());
            let sent = js
                .publish_with_headers(lnats::DECISIONS_SUBJECT, h, body.into())
                .await;
            let ack = match sent {
                Ok(a) => a.await,
                Err(e) => {
                    stats.errors.fetch_add(1, Relaxed);
                    return Err(format!("publish decision {seq}: {e}"));
                }
            };
            match ack {
                Ok(a) if a.duplicate => stats.duplicates.fetch_add(1, Relaxed),
                Ok(_) => stats.published.fetch_add(1, Relaxed),
                Err(e) => {
                    stats.errors.fetch_add(1, Relaxed);
                    return Err(format!("publish decision {seq}: {e}"));
                }
            };
            *published = seq;
        }
        // Raised, never lowered: another collector may be ahead already.
        state
            .store
            .call(move |s| {
                let shared = s
                    .meta(CURSOR_META)?
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                if last > shared {
                    s.set_meta(CURSOR_META, &last.to_string())?;
                }
                Ok::<_, logward_store::StoreError>(())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the decisions cursor: {e}"))?;
        if !full {
            return Ok(());
        }
    }
}
