//! The server's counters, shared with whoever serves `/metrics` (the agent or the collector
//! writes them with [`Metrics::write`] under its own prefix).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use logward_core::exposition::{Result, Writer};

use crate::codec::ErrorKind;

/// Why a connection ended early, other than a malformed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The TLS handshake failed or took longer than `handshake_timeout`.
    Tls,
    /// No bytes for `idle_timeout` between windows, or a window not whole within
    /// `read_timeout` (a slowloris).
    Timeout,
    /// `max_connections` were open: refused at accept.
    Full,
    /// `max_open_windows` other connections held their windows for all of `read_timeout`:
    /// no memory left for this one's.
    Busy,
    /// The consumer dropped a batch without completing it: no ACK, the client resends.
    Dropped,
    /// Reading or writing the socket failed (a reset, a client that stopped reading ACKs).
    Io,
}

impl Closed {
    /// Every reason, in the order of the `closed` counters.
    pub const ALL: [Closed; 6] = [
        Closed::Tls,
        Closed::Timeout,
        Closed::Full,
        Closed::Busy,
        Closed::Dropped,
        Closed::Io,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Tls => "tls",
            Closed::Timeout => "timeout",
            Closed::Full => "full",
            Closed::Busy => "busy",
            Closed::Dropped => "dropped",
            Closed::Io => "io",
        }
    }
}

/// Counters since the server started (all monotonic but `open`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections accepted (refused ones included).
    pub connections: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Windows read whole and handed to the consumer.
    pub windows: AtomicU64,
    /// Events in those windows.
    pub events: AtomicU64,
    /// Windows ACKed after the consumer completed them.
    pub acks: AtomicU64,
    /// Keep-alive ACKs (seq 0) sent while a window was being processed.
    pub keepalives: AtomicU64,
    malformed: [AtomicU64; ErrorKind::ALL.len()],
    closed: [AtomicU64; Closed::ALL.len()],
}

impl Metrics {
    pub(crate) fn malformed(&self, kind: ErrorKind) {
        self.malformed[kind.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self, why: Closed) {
        self.closed[why as usize].fetch_add(1, Relaxed);
    }

    /// Connections closed for a malformed frame of `kind`.
    pub fn malformed_count(&self, kind: ErrorKind) -> u64 {
        self.malformed[kind.index()].load(Relaxed)
    }

    /// Connections closed (or refused) for `why`.
    pub fn closed_count(&self, why: Closed) -> u64 {
        self.closed[why as usize].load(Relaxed)
    }

    /// TLS handshakes that failed or timed out (a client without the required certificate,
    /// one that does not trust ours, plain TCP to a TLS port).
    pub fn tls_failures(&self) -> u64 {
        self.closed_count(Closed::Tls)
    }

    /// The Prometheus families, named `<prefix>_…` (for example `logward_agent_beats`).
    pub fn write(&self, w: &mut Writer<'_>, prefix: &str) -> Result {
        let load = |a: &AtomicU64| a.load(Relaxed);
        w.counter(
            &format!("{prefix}_connections_total"),
            "Beats connections accepted (refused ones included).",
            load(&self.connections),
        )?;
        w.gauge(
            &format!("{prefix}_connections_open"),
            "Beats connections open now.",
            load(&self.open) as i64,
        )?;
        w.counter(
            &format!("{prefix}_windows_total"),
            "Beats windows read whole and handed on.",
            load(&self.windows),
        )?;
        w.counter(
            &format!("{prefix}_events_total"),
            "Events in those windows.",
            load(&self.events),
        )?;
        w.counter(
            &format!("{prefix}_acks_total"),
            "Windows acknowledged after they were committed.",
            load(&self.acks),
        )?;
        w.counter(
            &format!("{prefix}_keepalives_total"),
            "Keep-alive ACKs sent while a window was being committed.",
            load(&self.keepalives),
        )?;
        w.counters(
            &format!("{prefix}_malformed_total"),
            "Connections closed for a malformed frame, by kind.",
            ErrorKind::ALL.map(|k| ([("kind", k.as_str())], self.malformed_count(k))),
        )?;
        w.counters(
            &format!("{prefix}_closed_total"),
            "Connections closed or refused for another reason (tls, timeout, full, busy, dropped, io).",
            Closed::ALL.map(|c| ([("reason", c.as_str())], self.closed_count(c))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_written_under_the_prefix() {
        let m = std::sync::Arc::new(Metrics::default());
        m.malformed(ErrorKind::ZipBomb);
        m.closed(Closed::Tls);
        m.events.fetch_add(7, Relaxed);
        let text = logward_core::exposition::render(move |w| m.write(w, "logward_agent_beats"));
        for line in [
            "logward_agent_beats_events_total 7",
            "logward_agent_beats_malformed_total{kind=\"zip_bomb\"} 1",
            "logward_agent_beats_malformed_total{kind=\"bad_zlib\"} 0",
            "logward_agent_beats_closed_total{reason=\"tls\"} 1",
            "logward_agent_beats_connections_open 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
