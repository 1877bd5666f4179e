//! The *dns_capture* source: live DNS traffic on an interface — the packetbeat replacement.
//!
//! An `AF_PACKET` socket ([`socket`]) with a kernel filter ([`bpf`]) that passes only UDP and
//! TCP on the DNS ports (IPv4 and IPv6, and the fragments reassembly needs); a blocking
//! thread reads it and hands each packet to the DNS decoder
//! ([`logward_parse::dns::Decoder`], the one `logward scan capture.pcap` uses), whose
//! `dns-query` events go into the pipeline like any source's. No checkpoint: live packets
//! are not replayed.
//!
//! - **Time**: a packet's time is the clock when it is read. Once a second without packets
//!   the decoder is flushed with the clock, so a query whose reply never comes is still
//!   reported (after the decoder's join window).
//! - **Drops**: the kernel's drop counter for the socket (its receive buffer was full while
//!   the thread was behind) is read once a second: a metric
//!   (`logward_source_dropped_total`) and a warning when it grows.
//! - **Backpressure**: the thread blocks on the pipeline's bounded channel like any source;
//!   while it waits the kernel buffers, then drops and counts.
//!
//! Needs `CAP_NET_RAW` only (docs/DNS.md, Live capture); without it the source does not
//! start and says so.

pub mod bpf;
pub mod socket;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logward_parse::dns::packet::linktype;
use logward_parse::dns::Decoder;
use serde::Deserialize;
use tokio::sync::mpsc;

use self::socket::{Capture, OpenError};
use super::{Payload, SourceItem};

/// The ports the decoder reads DNS on: 53 (UDP and TCP), mDNS 5353 and LLMNR 5355 (UDP).
pub const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// The receive buffer asked for when none is configured: a few seconds of 50 k packets/s
/// (each costs its truesize, about 1 KiB, in the buffer).
pub const DEFAULT_BUFFER: usize = 64 << 20;

/// How long a read waits before the loop looks at the clock, the drop counter and whether
/// it should stop.
const TICK: Duration = Duration::from_millis(200);

/// `{type: dns_capture}` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsCaptureConfig {
    /// The interface: a name (`eth0`, `lo`) or `any` (every interface).
    pub interface: String,
    /// The ports captured (default `[53]`; also `5353` mDNS and `5355` LLMNR, UDP).
    #[serde(default = "default_ports")]
    pub ports: Vec<u16>,
    /// The socket's receive buffer, which absorbs bursts while the pipeline is busy
    /// (default `64MiB`; past `net.core.rmem_max` only with CAP_NET_ADMIN).
    #[serde(default)]
    pub buffer: Option<String>,
    /// A stable id (default `dns_capture:<interface>`).
    #[serde(default)]
    pub id: Option<String>,
}

fn default_ports() -> Vec<u16> {
    vec![53]
}

impl DnsCaptureConfig {
    /// Captures port 53 on `interface`.
    pub fn new(interface: impl Into<String>) -> DnsCaptureConfig {
        DnsCaptureConfig {
            interface: interface.into(),
            ports: default_ports(),
            buffer: None,
            id: None,
        }
    }

    /// The source id: `id`, else `dns_capture:<interface>`.
    pub fn source_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("dns_capture:{}", self.interface))
    }

    /// What is wrong with it, each in words (the config loader reports them at the source).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.interface.is_empty() || self.interface.len() > 15 || self.interface.contains('/') {
            out.push(format!(
                "`interface` {:?} is not an interface name (`eth0`, `lo`, `any`)",
                self.interface
            ));
        }
        if self.ports.is_empty() || self.ports.len() > DNS_PORTS.len() {
            out.push(format!("`ports`: 1 to {} ports", DNS_PORTS.len()));
        }
        for p in &self.ports {
            if !DNS_PORTS.contains(p) {
                out.push(format!(
                    "`ports`: {p} is not one the DNS decoder reads (53, 5353, 5355)"
                ));
            }
        }
        if self.buffer_bytes().is_none() {
            out.push(format!(
                "`buffer`: `{}` is not a size (65536, 64KiB, 64MiB)",
                self.buffer.as_deref().unwrap_or_default()
            ));
        }
        out
    }

    fn buffer_bytes(&self) -> Option<usize> {
        match &self.buffer {
            None => Some(DEFAULT_BUFFER),
            Some(s) => crate::config::parse_size(s)
                .filter(|&n| n > 0)
                .and_then(|n| usize::try_from(n).ok()),
        }
    }
}

/// What the capture did, for metrics and tests.
#[derive(Debug, Default)]
pub struct DnsCaptureStats {
    packets: AtomicU64,
    events: AtomicU64,
    errors: AtomicU64,
    /// Packets the decoder could not use (malformed, cut, not DNS after all).
    unusable: AtomicU64,
    drops: AtomicU64,
}

impl DnsCaptureStats {
    /// Packets read from the socket.
    pub fn packets(&self) -> u64 {
        self.packets.load(Relaxed)
    }
    /// `dns-query` events sent into the pipeline.
    pub fn events(&self) -> u64 {
        self.events.load(Relaxed)
    }
    /// Failed reads.
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }
    /// Packets the decoder could not read (malformed, cut short, not DNS).
    pub fn unusable(&self) -> u64 {
        self.unusable.load(Relaxed)
    }
    /// Packets the kernel dropped for want of buffer (as last read; `0` where the kernel
    /// cannot say).
    pub fn drops(&self) -> u64 {
        self.drops.load(Relaxed)
    }
}

/// A live capture, its socket open.
#[derive(Debug)]
pub struct DnsCaptureSource {
    id: Arc<str>,
    interface: String,
    capture: Capture,
    stats: Arc<DnsCaptureStats>,
}

impl DnsCaptureSource {
    /// Opens the socket: fails, saying why, without CAP_NET_RAW, for an unknown interface
    /// or a config [`DnsCaptureConfig::problems`] rejects.
    pub fn open(config: &DnsCaptureConfig) -> Result<DnsCaptureSource, OpenError> {
        if let Some(p) = config.problems().into_iter().next() {
            return Err(OpenError::Config(p));
        }
        let buffer = config.buffer_bytes().unwrap_or(DEFAULT_BUFFER);
        let capture = Capture::open(&config.interface, &config.ports, buffer, TICK)?;
        if capture.rcvbuf < buffer {
            tracing::warn!(source = %config.source_id(), asked = buffer, granted = capture.rcvbuf,
                "dns_capture: a smaller receive buffer than configured (raise net.core.rmem_max, or grant CAP_NET_ADMIN)");
        }
        Ok(DnsCaptureSource {
            id: Arc::from(config.source_id().as_str()),
            interface: config.interface.clone(),
            capture,
            stats: Arc::default(),
        })
    }

    /// The source's counters (keep a clone before [`run`](Self::run)).
    pub fn stats(&self) -> Arc<DnsCaptureStats> {
        Arc::clone(&self.stats)
    }

    /// Captures until the receiver of `tx` is dropped or this task is aborted (the thread
    /// sees either within a tick and closes the socket).
    pub async fn run(self, tx: mpsc::Sender<SourceItem>) {
        let stop = Arc::new(AtomicBool::new(false));
        // Set when this future is dropped (aborted on a reload) as well as when it ends.
        struct StopOnDrop(Arc<AtomicBool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Relaxed);
            }
        }
        let _guard = StopOnDrop(Arc::clone(&stop));
        tracing::info!(source = %self.id, interface = %self.interface,
            buffer = self.capture.rcvbuf, "dns_capture: capturing");
        let id = Arc::clone(&self.id);
        if let Err(e) = tokio::task::spawn_blocking(move || self.capture_loop(&tx, &stop)).await {
            tracing::error!(source = %id, "dns_capture: the capture thread failed: {e}");
        }
    }

    fn capture_loop(self, tx: &mpsc::Sender<SourceItem>, stop: &AtomicBool) {
        let mut decoder = Decoder::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut next_tick = Instant::now() + Duration::from_secs(1);
        let mut drops_reported = 0u64;
        let mut diag_warned = false;
        while !stop.load(Relaxed) && !tx.is_closed() {
            match self.capture.recv(&mut buf) {
                Ok(Some(n)) => {
                    self.stats.packets.fetch_add(1, Relaxed);
                    decoder.push(linktype::RAW, now_nanos(), &buf[..n]);
                    if self.send_events(&mut decoder, tx).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let n = self.stats.errors.fetch_add(1, Relaxed) + 1;
                    if n % 1000 == 1 {
                        tracing::warn!(source = %self.id, errors = n, "dns_capture: read failed: {e}");
                    }
                    // An interface gone down fails every read: do not spin.
                    std::thread::sleep(TICK);
                }
            }
            if Instant::now() < next_tick {
                continue;
            }
            next_tick = Instant::now() + Duration::from_secs(1);
            decoder.flush(now_nanos());
            if self.send_events(&mut decoder, tx).is_err() {
                return;
            }
            let s = decoder.stats();
            self.stats.unusable.store(
                s.malformed + s.unknown_link + s.bad_messages + s.not_dns,
                Relaxed,
            );
            match self.capture.drops() {
                Ok(Some(d)) => {
                    self.stats.drops.store(d, Relaxed);
                    if d > drops_reported {
                        tracing::warn!(source = %self.id, dropped = d, new = d - drops_reported,
                            "dns_capture: the kernel dropped packets (the receive buffer was full: the pipeline is behind)");
                        drops_reported = d;
                    }
                }
                Ok(None) | Err(_) if diag_warned => {}
                r => {
                    diag_warned = true;
                    let why = r.err().map_or_else(
                        || {
                            "no packet socket diagnostics in this kernel (CONFIG_PACKET_DIAG)"
                                .into()
                        },
                        |e| e.to_string(),
                    );
                    tracing::warn!(source = %self.id, "dns_capture: the kernel's drop counter cannot be read: {why}");
                }
            }
        }
    }

    /// Sends the events the decoder completed; `Err` when the pipeline is gone.
    fn send_events(&self, decoder: &mut Decoder, tx: &mpsc::Sender<SourceItem>) -> Result<(), ()> {
        for event in decoder.events() {
            self.stats.events.fetch_add(1, Relaxed);
            tx.blocking_send(SourceItem {
                source: Arc::clone(&self.id),
                payload: Payload::Event(Box::new(event)),
                checkpoint: None,
            })
            .map_err(drop)?;
        }
        Ok(())
    }
}

/// The clock in nanoseconds since the epoch (the decoder's time).
fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_problems_are_named() {
        let mut c = DnsCaptureConfig::new("eth0");
        assert!(c.problems().is_empty());
        assert_eq!(c.source_id(), "dns_capture:eth0");
        c.ports = vec![53, 8053];
        c.buffer = Some("lots".into());
        c.interface = "../../etc".into();
        let p = c.problems().join("; ");
        assert!(p.contains("8053 is not one the DNS decoder reads"), "{p}");
        assert!(p.contains("`lots` is not a size"), "{p}");
        assert!(p.contains("not an interface name"), "{p}");
        c = DnsCaptureConfig::new("any");
        c.buffer = Some("8MiB".into());
        assert_eq!(c.buffer_bytes(), Some(8 << 20));
    }
}
