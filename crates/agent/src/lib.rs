//! logward's agent: sources, actions (nftables bans), process spawning, the daemon.

pub mod ban;
pub mod process;
pub mod sources;
