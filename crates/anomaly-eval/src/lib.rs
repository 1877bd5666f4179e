//! The login anomaly detector's evaluation (docs/ANOMALY.md, "Evaluation"): a labelled,
//! deterministic [`scenario`] and the [`evaluate`] harness that runs the engine's detector
//! over it. Used by `logward evaluate-anomaly` and the tests, never by the agent or the
//! collector.

pub mod evaluate;
pub mod scenario;
