//! logward's rule workflow: chains of filters and actions, counters over windows, built-in
//! rulesets. Pure, no I/O: time comes from an injected [`logward_core::Clock`] (or, in
//! replay, from each event's `@timestamp`), accounts from a [`UserDb`], and what should
//! happen comes out as [`Output`] values the agent carries out.
//!
//! ```
//! use logward_engine::{Engine, Program};
//! let program = Program::load("default.yaml", logward_engine::DEFAULT_RULES).unwrap();
//! let engine = Engine::new(program);
//! assert!(engine.program().rule_ids().contains(&"ssh-bruteforce"));
//! ```

pub mod anomaly;
pub mod compile;
pub mod config;
pub mod counter;
pub mod dns;
pub mod engine;
pub mod runner;
pub mod snapshot;
pub mod strict_yaml;

pub use compile::{ConfigError, ConfigErrors, LogLevel, Program};
pub use engine::{
    key_address, Engine, NoUsers, Output, StaticUsers, Stats, TraceOutcome, TraceStep, UserDb,
    DEFAULT_V6_PREFIX,
};
pub use runner::{acting_time, Effect, NoStages, Runner, Stages, Timing};
pub use snapshot::{Restored, SnapshotError};

/// The built-in ruleset (crates/engine/rules/default.yaml).
pub const DEFAULT_RULES: &str = include_str!("../rules/default.yaml");

/// The built-in fleet ruleset (crates/engine/rules/fleet.yaml): what the collector runs over
/// the merged stream of its agents' events (`fleet-bruteforce`).
pub const FLEET_RULES: &str = include_str!("../rules/fleet.yaml");

/// The built-in ruleset, compiled.
pub fn default_program() -> Program {
    match Program::load("default.yaml", DEFAULT_RULES) {
        Ok(p) => p,
        // A test keeps the built-in file valid; this arm is unreachable in a release.
        Err(e) => panic!("the built-in ruleset is invalid:\n{e}"),
    }
}

/// The built-in fleet ruleset, compiled.
pub fn fleet_program() -> Program {
    match Program::load("fleet.yaml", FLEET_RULES) {
        Ok(p) => p,
        // A test keeps the built-in file valid; this arm is unreachable in a release.
        Err(e) => panic!("the built-in fleet ruleset is invalid:\n{e}"),
    }
}
