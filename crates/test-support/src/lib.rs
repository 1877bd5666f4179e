//! What logward's tests share, so each is written once: free loopback ports ([`free_port`]),
//! waiting on something observable instead of sleeping ([`wait_until`], [`wait_for`]), the
//! shared corpus ([`corpus`]) and skipping a test this host cannot run ([`skip!`], a failure
//! under `CI=true`). A dev-dependency only; std only.

mod ports;
mod skip;
mod wait;

pub use ports::{free_port, free_udp_port};
pub use skip::{corpus, corpus_root, in_ci, skipped};
pub use wait::{wait_for, wait_until, POLL};
