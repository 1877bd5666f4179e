//! Alert delivery: notifiers (chat robots, webhooks, mail, syslog, a local file), the
//! templates that word their messages, the routes that pick them, the per-service rate limits,
//! and the worker that drains the store's durable outbox into them.
//!
//! Every alert is written to the outbox (in the same store transaction as the lines that
//! raised it) before any delivery is tried; the [`deliver`] worker sends what is due, retries
//! with backoff and jitter, folds what a service's rate limit cannot take into digests, and
//! marks rows sent or failed — at-least-once, with an idempotency key per (alert, notifier).

pub mod config;
pub mod deliver;
pub mod fleet;
pub mod http;
pub mod limit;
pub mod message;
pub mod report;
pub mod route;
pub mod schedule;
pub mod secret;
pub mod sinks;
pub mod template;
pub mod zh;

pub use config::{next_run, Language, NotifyConfig, ReportConfig, ReportZone};
pub use message::Message;
pub use report::Report;
pub use secret::Secret;
pub use sinks::outcome::{SendError, Sent};
pub use sinks::{Notifier, NotifierConfig};

/// This host's name as the kernel has it (what syslog headers carry), else `$HOSTNAME`,
/// else `localhost`: the name in report titles, syslog headers and enrolment.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}
