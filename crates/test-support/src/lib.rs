//! What logward's tests share, so each is written once: free loopback ports ([`free_port`]),
//! waiting on something observable instead of sleeping ([`wait_until`], [`wait_for`]), the
//! shared corpus ([`corpus`]), skipping a test this host cannot run ([`skip!`], a failure
//! under `CI=true`), and the real processes a test runs: `logward run` ([`daemon::Daemon`]),
//! a collector or any other child ([`spawn`], killed on drop), and a log they follow growing
//! ([`append`]), and a Windows `.evtx` log written in place ([`evtx`]), a PostgreSQL database of a test's own
//! ([`postgres`]). A dev-dependency only; std
//! only, and tokio for async tests' `eventually` (feature `tokio`), rcgen for throwaway
//! certificates ([`pki`], feature `pki`); the Beats benchmarks' document and process
//! figures ([`bench`]).
// Tests spawn what they need (DESIGN.md "Processes"): the binary under test, `ip`, `nft`.
#![allow(clippy::disallowed_methods)]

pub mod bench;
pub mod daemon;
pub mod evtx;
mod file;
pub mod netns;
#[cfg(feature = "pki")]
pub mod pki;
mod ports;
pub mod postgres;
mod process;
mod skip;
mod wait;
#[cfg(feature = "tokio")]
mod wait_async;

pub use file::append;
pub use ports::{free_port, free_udp_port, wait_port};
pub use process::{run_utc, run_with_stdin, show, spawn, text, Proc};
pub use skip::{corpus, corpus_root, in_ci, skipped};
pub use wait::{wait_for, wait_until, POLL};
#[cfg(feature = "tokio")]
pub use wait_async::eventually;
