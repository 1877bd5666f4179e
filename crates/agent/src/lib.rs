//! logward's agent: sources, actions (nftables bans), process spawning, the daemon.

pub mod anomaly;
pub mod ban;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dns_check;
pub mod enrich;
pub mod forward;
pub mod metrics;
pub mod pipeline;
pub mod process;
pub mod sources;
