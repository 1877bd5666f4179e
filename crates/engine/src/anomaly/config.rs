//! The `anomaly:` config section, shared by the agent's and the collector's config files:
//! as written (strict) and checked into [`Settings`].

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Settings;

/// `anomaly:` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `login-anomaly` at or above this score (0–1, default 0.6).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub threshold: Option<Spanned<f64>>,
    /// Window for bursts and distinct locations (default `3h`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub window: Option<Spanned<String>>,
    /// Impossible travel above this speed (default 1000).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub max_speed_kmh: Option<Spanned<f64>>,
    /// Whether the local outlier factor weighs the soft features (default true).
    #[serde(default)]
    pub lof: Option<bool>,
}

/// A misplaced value: line, column, message.
pub type Problem = (u64, u64, String);

impl AnomalyConfig {
    /// Whether the detector runs, with which settings; every bad value with its place.
    pub fn check(&self) -> (bool, Settings, Vec<Problem>) {
        let mut s = Settings::default();
        let mut problems = Vec::new();
        let mut bad = |at: &serde_saphyr::Location, message: String| {
            problems.push((at.line(), at.column(), message));
        };
        s.use_lof = self.lof.unwrap_or(true);
        if let Some(t) = &self.threshold {
            if (0.0..=1.0).contains(&t.value) {
                s.threshold = t.value as f32;
            } else {
                bad(
                    &t.referenced,
                    format!("threshold {} is not within 0–1", t.value),
                );
            }
        }
        if let Some(w) = &self.window {
            match logward_core::duration::parse_secs(&w.value) {
                Some(secs) if secs > 0 => s.window = secs,
                _ => bad(
                    &w.referenced,
                    format!("`{}` is not a duration (10m, 3h, 1d)", w.value),
                ),
            }
        }
        if let Some(v) = &self.max_speed_kmh {
            if v.value.is_finite() && v.value > 0.0 {
                s.max_speed_kmh = v.value;
            } else {
                bad(
                    &v.referenced,
                    format!("max_speed_kmh {} must be above 0", v.value),
                );
            }
        }
        (self.enabled.unwrap_or(true), s, problems)
    }
}
