//! The Beats input (`beats:` in the config): Winlogbeat, Filebeat … ship to the collector
//! with `output.logstash`; their documents become events (`logward_parse::beats`) stored
//! with the agents' events and run through the same fleet rules.
//!
//! **Who speaks.** A Beat is not an enrolled agent. Its identity is the subject CN of its
//! client certificate (verified against `tls.client_ca`) when it presented one, else its
//! address — never what its documents say. That identity is the events' `host.name` (a
//! different one the document claimed is kept as `logward.claimed_host`) and `agent.id`
//! is `beats:<identity>`.
//!
//! **Stored once.** A Beat resends every window it got no ACK for, so each event is stored
//! under a 16-byte key (see [`key`]) — its sender and the document's identity (a Windows
//! record: its computer, channel and record id; a Filebeat line: host, file and offset; else
//! the whole document) — and the store ignores a key it has (`FleetItem::Keyed`). A window
//! is ACKed only after its events are committed; a store error drops the window (no ACK:
//! the Beat resends it).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use logward_beats::{Batch, Server};
use logward_core::json::write_event;
use logward_core::Event;
use logward_parse::beats::{Decoder, Identity, Route};
use logward_store::{FleetEvent, FleetItem};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use crate::server::AppState;
use crate::store_thread::{Ingest, Planner};
use crate::Error;

/// Windows the listener may hold ready for decoding (each connection holds at most one).
const BATCHES: usize = 8;

/// What the Beats input counts, besides the listener's own counters.
#[derive(Debug, Default)]
pub struct BeatsStats {
    /// Events stored.
    pub stored: AtomicU64,
    /// Events not stored again: their key was stored already (a resent window).
    pub duplicates: AtomicU64,
    /// Documents that made no event (not a JSON object, too large).
    pub rejected: AtomicU64,
    /// Windows not acknowledged because storing them failed (the Beat resends them).
    pub store_errors: AtomicU64,
    /// The listener's counters, once it is bound.
    pub server: OnceLock<Arc<logward_beats::Metrics>>,
}

/// Binds the listener and serves until `stop`; the address it listens on.
pub(crate) async fn start(
    state: Arc<AppState>,
    cfg: logward_beats::Config,
    mut stop: watch::Receiver<bool>,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let server = Server::bind(cfg).await.map_err(|e| match e {
        logward_beats::Error::Bind(a, e) => Error::Bind(a, e),
        logward_beats::Error::Tls(t) => Error::Tls(format!("beats: {t}")),
        logward_beats::Error::Config(c) => Error::Config(format!("beats: {c}")),
    })?;
    let addr = server.local_addr().map_err(Error::Io)?;
    let _ = state.metrics.beats.server.set(server.metrics());
    let (tx, mut batches) = mpsc::channel::<Batch>(BATCHES);
    let task = tokio::spawn(async move {
        // Stops when `batches` is dropped, with this task.
        tokio::spawn(server.run(tx));
        let planner = planner(&state);
        let mut decoder = Decoder::new();
        loop {
            let batch = tokio::select! {
                b = batches.recv() => match b {
                    Some(b) => b,
                    None => return,
                },
                _ = stop.changed() => return,
            };
            // Decoding is CPU work: off the async threads, the decoder lent and given back.
            let (st, plan) = (Arc::clone(&state), Arc::clone(&planner));
            let decoded = tokio::task::spawn_blocking(move || {
                (decode(&st, &mut decoder, &batch, plan), decoder, batch)
            })
            .await;
            let (ingest, back, batch) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("beats: decoding failed: {e}");
                    return;
                }
            };
            decoder = back;
            // Stored in the background: the next window decodes meanwhile, and waiting
            // ingests share one transaction (the store thread's group commit).
            tokio::spawn(store(Arc::clone(&state), ingest, batch));
        }
    });
    Ok((addr, task))
}

fn planner(state: &Arc<AppState>) -> Planner {
    let st = Arc::clone(state);
    Arc::new(move |a: &logward_core::Alert| {
        crate::llm::alert_plan(&st.router, st.config.llm.as_ref(), a)
    })
}

/// A window's documents as one ingest request of keyed events.
fn decode(state: &AppState, decoder: &mut Decoder, batch: &Batch, plan: Planner) -> Ingest {
    let sender = logward_beats::config::sender(batch.peer, batch.client_cn.as_deref());
    let agent = format!("beats:{sender}");
    let now = crate::unix_now();
    let field_bytes = state.config.limits.field_bytes;
    let mut items = Vec::with_capacity(batch.events.len());
    let mut events: Vec<Option<Event<'static>>> = Vec::with_capacity(batch.events.len());
    let mut buf = Vec::new();
    for ev in &batch.events {
        let raw = ev.json.get();
        let d = match decoder.decode(&sender, raw) {
            Ok(d) => d,
            Err(e) => {
                let n = state.metrics.beats.rejected.fetch_add(1, Relaxed) + 1;
                if n % 100 == 1 {
                    tracing::warn!(%sender, rejected = n, "beats: a document skipped: {e}");
                }
                continue;
            }
        };
        let mut e = d.event;
        e.agent_id = Some(agent.clone().into());
        let cut = crate::truncate::event(&mut e, field_bytes);
        state
            .metrics
            .truncated_fields
            .fetch_add(u64::from(cut), Relaxed);
        let json = stored_json(&mut e, d.route, &mut buf);
        items.push(FleetItem::Keyed {
            key: key(&sender, d.identity.as_ref(), raw),
            event: FleetEvent {
                time: e.timestamp.map_or(now, |t| t.unix),
                host: e.host_name.as_deref().map(str::to_owned),
                action: e.action().as_str().to_owned(),
                outcome: e.outcome.as_str().to_owned(),
                source_ip: e.source_ip.map(|ip| ip.to_string()),
                user: e.user_name.as_deref().map(str::to_owned),
                json,
            },
        });
        events.push(Some(e));
    }
    Ingest {
        agent,
        now,
        items,
        events,
        plan,
        rules: true,
    }
}

/// The event's row JSON. A Windows event's is written without `event.original` (the
/// whole Winlogbeat document): its `winlog` fields hold the record's data, the document
/// doubled the row (and the store's writes), and the alerts the rules raise on the event
/// still carry it — the alert page shows it. Other documents keep theirs: a Filebeat
/// line's is the line, an unknown document's is all there is of it.
fn stored_json(e: &mut Event<'_>, route: Route, buf: &mut Vec<u8>) -> String {
    buf.clear();
    let original = if route == Route::Windows && e.winlog.is_some() {
        e.original.take()
    } else {
        None
    };
    write_event(buf, e);
    if original.is_some() {
        e.original = original;
    }
    // The writer writes UTF-8: checked, not re-chunked (`from_utf8_lossy` walks it slowly).
    match std::str::from_utf8(buf) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(buf).into_owned(),
    }
}

/// The event's key: its sender and what identifies it among the sender's events. The
/// sender is part of it, so no Beat can claim another's keys (and have its events dropped).
///
/// With an identity: the first 8 bytes of SHA-256(sender, stream), then the position, big
/// endian. A stream's keys then grow with its events, so the store's unique index on them
/// takes each window at the end of a few runs instead of at 2,048 random places: a
/// hashed key dirtied an index page per event, and every commit wrote them all to the WAL
/// (and the checkpoint again to the database). Two streams share a prefix with a chance of
/// 2^-64 per pair. Without one: the first 16 bytes of SHA-256(sender, document).
pub fn key(sender: &str, identity: Option<&Identity>, document: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(sender.as_bytes());
    h.update([0]);
    let d = match identity {
        Some(id) => h.chain_update(id.stream.as_bytes()).finalize(),
        None => h.chain_update(document.as_bytes()).finalize(),
    };
    let mut k = [0u8; 16];
    match identity {
        Some(id) => {
            k[..8].copy_from_slice(&d[..8]);
            k[8..].copy_from_slice(&id.position.to_be_bytes());
        }
        None => k.copy_from_slice(&d[..16]),
    }
    k
}

/// Stores a window's events and ACKs it, or drops it unacknowledged on a store error.
async fn store(state: Arc<AppState>, ingest: Ingest, batch: Batch) {
    let m = &state.metrics;
    let stored = if ingest.items.is_empty() {
        Ok(Ok(Default::default()))
    } else {
        state.store.ingest(ingest).await
    };
    match stored {
        Ok(Ok(c)) => {
            m.beats.stored.fetch_add(c.events, Relaxed);
            m.beats.duplicates.fetch_add(c.duplicates, Relaxed);
            m.fleet_alerts.fetch_add(c.fleet_alerts, Relaxed);
            m.fleet_decisions.fetch_add(c.fleet_decisions, Relaxed);
            if c.fleet_decisions > 0 {
                state.decisions_changed();
            }
            m.ingested(c.events);
            if c.fleet_alerts > 0 {
                state.delivery_wake.notify_waiters();
                if let Some(w) = &state.llm_wake {
                    w.notify_waiters();
                }
            }
            batch.done.complete();
        }
        Ok(Err(e)) => {
            m.beats.store_errors.fetch_add(1, Relaxed);
            tracing::error!(peer = %batch.peer, "beats: storing a window failed ({e}); \
                not acknowledged, the Beat sends it again");
        }
        Err(e) => {
            m.beats.store_errors.fetch_add(1, Relaxed);
            tracing::error!(peer = %batch.peer, "beats: {e}; window not acknowledged");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A `beats:` setting refused at start-up stops the collector as a config error (it was
    /// reported as a TLS error, or by the listener as a rules error).
    #[tokio::test]
    async fn a_refused_beats_setting_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            state_dir: dir.path().to_owned(),
            beats: Some(logward_beats::config::BeatsFile {
                listen: "127.0.0.1:0".into(),
                tls: None,
                max_connections: 0,
                limits: Default::default(),
            }),
            ..crate::Config::default()
        };
        match crate::start(config).await.err() {
            Some(Error::Config(m)) => {
                assert_eq!(m, "beats: max_connections: must be above 0");
            }
            other => panic!("not a config error: {other:?}"),
        }
    }

    fn id(stream: &str, position: u64) -> Identity {
        Identity {
            stream: stream.into(),
            position,
        }
    }

    #[test]
    fn keys_differ_by_sender_and_identity() {
        let sec = |n| id("winlog\0DC01\0Security", n);
        let k = key("dc01", Some(&sec(42)), "{}");
        assert_eq!(k, key("dc01", Some(&sec(42)), "{\"other\":1}"));
        assert_ne!(k, key("dc02", Some(&sec(42)), "{}"));
        assert_ne!(k, key("dc01", Some(&sec(43)), "{}"));
        assert_ne!(k, key("dc01", Some(&id("winlog\0DC01\0System", 42)), "{}"));
        // The separator keeps ("a", "b…") and ("ab", "…") apart.
        assert_ne!(
            key("a", Some(&id("bc", 1)), ""),
            key("ab", Some(&id("c", 1)), "")
        );
        assert_ne!(key("a", None, "bc"), key("ab", None, "c"));
        assert_ne!(key("dc01", None, "{}"), key("dc01", None, "{ }"));
    }

    /// A stream's keys sort as its positions do: the unique index is appended to.
    #[test]
    fn a_streams_keys_grow_with_its_positions() {
        let sec = |n| key("dc01", Some(&id("winlog\0DC01\0Security", n)), "");
        assert!(sec(255) < sec(256) && sec(256) < sec(1 << 40));
        assert_eq!(sec(7)[..8], sec(9)[..8]);
    }
}
