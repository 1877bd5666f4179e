//! The LLM second opinion on an alert: its state and its row.

use crate::types::UnixTime;

/// Where an alert's analysis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisState {
    /// Asked, no answer yet.
    Pending,
    /// Answered: `text` holds it.
    Done,
    /// The endpoint failed or timed out: `error` says why.
    Failed,
    /// Not asked: the `llm.when` filter left this alert out (schema 7).
    Skipped,
}

impl AnalysisState {
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisState::Pending => "pending",
            AnalysisState::Done => "done",
            AnalysisState::Failed => "failed",
            AnalysisState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<AnalysisState> {
        match s {
            "pending" => Some(AnalysisState::Pending),
            "done" => Some(AnalysisState::Done),
            "failed" => Some(AnalysisState::Failed),
            "skipped" => Some(AnalysisState::Skipped),
            _ => None,
        }
    }
}

/// One alert's analysis row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub alert_id: i64,
    pub state: AnalysisState,
    /// The model that answered (as the endpoint named it, else as configured).
    pub model: Option<String>,
    pub text: Option<String>,
    pub error: Option<String>,
    /// What identical alerts share (rule, address, user …), to reuse an answer.
    pub cache_key: Option<String>,
    pub requested_at: UnixTime,
    pub finished_at: Option<UnixTime>,
    /// How long the endpoint took, in milliseconds (none for a cache hit or a skip).
    pub latency_ms: Option<i64>,
}

/// A pending analysis with what the LLM worker needs to ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAnalysis {
    pub alert_id: i64,
    pub cache_key: Option<String>,
    pub requested_at: UnixTime,
    /// The alert's ECS JSON.
    pub alert_json: String,
}
