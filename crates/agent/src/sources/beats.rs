//! The *beats* source: a Beats (Lumberjack v2) listener — Winlogbeat, Filebeat, Packetbeat
//! ship to it with `output.logstash` — whose documents become events through
//! `logward_parse::beats` (Winlogbeat → Windows events, Filebeat lines → the line
//! decoders, others kept as `unknown`).
//!
//! **ACK after commit.** A window's events go into the pipeline followed by a
//! [`Payload::Committed`] that completes the window: the listener ACKs it only after the
//! store transaction holding what those events produced (alerts, bans, spooled events).
//! Killed before, the agent never ACKs, and the Beat sends the window again to the next
//! agent it reaches — at least once, never lost.
//!
//! **Bounded.** The listener hands over one window per connection at a time and reads
//! nothing more from that connection until it is completed; the items wait in the
//! pipeline's bounded channel, so a slow pipeline slows the Beats (their window waits),
//! never grows memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use logward_beats::{Batch, Metrics, Server};
use logward_parse::beats::Decoder;
use tokio::sync::mpsc::{self, Sender};

use super::{Completion, Payload, SourceItem};

/// Windows the listener may hold ready for this source (each connection holds at most one).
const BATCHES: usize = 4;

/// What the source counts, besides the listener's own counters.
#[derive(Debug, Default)]
pub struct BeatsStats {
    /// Documents decoded into events.
    pub documents: AtomicU64,
    /// Documents that were not a JSON object (each logged, the rest of the window kept).
    pub rejected: AtomicU64,
    /// The listener's counters, once it is bound.
    pub server: OnceLock<Arc<Metrics>>,
}

/// A configured beats source.
#[derive(Debug)]
pub struct BeatsSource {
    id: Arc<str>,
    cfg: logward_beats::Config,
    stats: Arc<BeatsStats>,
}

impl BeatsSource {
    pub fn new(id: Arc<str>, cfg: logward_beats::Config) -> BeatsSource {
        BeatsSource {
            id,
            cfg,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<BeatsStats> {
        Arc::clone(&self.stats)
    }

    /// Listens and feeds `tx` until the pipeline goes away or the task is aborted (the
    /// listener stops with it: its connections close, unacknowledged windows are resent).
    pub async fn run(self, tx: Sender<SourceItem>) {
        let server = match Server::bind(self.cfg.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(source = %self.id, "{e}");
                return;
            }
        };
        let _ = self.stats.server.set(server.metrics());
        match server.local_addr() {
            Ok(addr) => tracing::info!(source = %self.id, %addr,
                tls = self.cfg.tls.is_some(), "beats: listening"),
            Err(e) => tracing::warn!(source = %self.id, "beats: {e}"),
        }
        let (btx, mut batches) = mpsc::channel::<Batch>(BATCHES);
        // Stops when `batches` is dropped (this task ends or is aborted).
        tokio::spawn(server.run(btx));
        let mut decoder = Decoder::new();
        while let Some(batch) = batches.recv().await {
            if self.window(batch, &mut decoder, &tx).await.is_err() {
                return;
            }
        }
    }

    /// One window's events, then its completion; `Err` when the pipeline is gone.
    async fn window(
        &self,
        batch: Batch,
        decoder: &mut Decoder,
        tx: &Sender<SourceItem>,
    ) -> Result<(), ()> {
        let Batch {
            peer,
            client_cn,
            events,
            done,
        } = batch;
        let sender = logward_beats::config::sender(peer, client_cn.as_deref());
        for ev in events {
            let event = match decoder.decode(&sender, ev.json.get()) {
                Ok(d) => d.event,
                Err(e) => {
                    let n = self.stats.rejected.fetch_add(1, Relaxed) + 1;
                    // The first, then every hundredth: a sender controls how many.
                    if n % 100 == 1 {
                        tracing::warn!(source = %self.id, %sender, rejected = n,
                            "beats: a document skipped: {e}");
                    }
                    continue;
                }
            };
            self.stats.documents.fetch_add(1, Relaxed);
            self.send(tx, Payload::Event(Box::new(event))).await?;
        }
        let done = Completion::new(move || done.complete());
        self.send(tx, Payload::Committed(done)).await
    }

    async fn send(&self, tx: &Sender<SourceItem>, payload: Payload) -> Result<(), ()> {
        tx.send(SourceItem {
            source: Arc::clone(&self.id),
            payload,
            checkpoint: None,
        })
        .await
        .map_err(drop)
    }
}
