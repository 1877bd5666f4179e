//! The Beats protocol (Lumberjack v2, and v1's data frames) as an input: Winlogbeat,
//! Filebeat and other Beats ship to it with their `output.logstash` unchanged.
//!
//! - [`codec`]: the sync frame reader (bounded, fuzzed) and the ACK frame;
//! - `server` (the default feature `server`): the tokio listener, plain or TLS, one `Batch` per window, ACKed when the
//!   consumer completes it;
//! - `tls`: the listener's rustls config and the client certificate's CN;
//! - `metrics`: its counters for `/metrics`;
//! - `config`: the settings as the agent's and the collector's config files write them,
//!   and who a batch's sender is.
//!
//! What the events mean (Winlogbeat → Windows events, Filebeat → auth-log lines) is for the
//! consumer: this crate only delivers each event's JSON document.

pub mod codec;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod tls;

pub use codec::{Event, FrameError, Limits};
#[cfg(feature = "server")]
pub use metrics::Metrics;
#[cfg(feature = "server")]
pub use server::{Batch, Config, Done, Server};
#[cfg(feature = "server")]
pub use tls::{ClientAuth, TlsConfig};

/// Why the server could not start.
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("beats: cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    #[error("beats TLS: {0}")]
    Tls(String),
    #[error("beats: {0}")]
    Config(String),
}
