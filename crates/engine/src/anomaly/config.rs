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

/// The `anomaly:` section at its defaults, as a YAML flow mapping (the agent's and the
/// collector's `default-config` print it): generated from [`Settings::default`], so it cannot
/// drift from what an empty section means.
pub fn default_flow() -> String {
    let s = Settings::default();
    format!(
        "{{enabled: true, threshold: {}, window: {}, max_speed_kmh: {}, lof: {}}}",
        s.threshold,
        logward_core::duration::format_duration(std::time::Duration::from_secs(
            s.window.unsigned_abs()
        )),
        s.max_speed_kmh,
        s.use_lof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_flow_reads_back_as_the_defaults() {
        let text = default_flow();
        assert_eq!(
            text,
            "{enabled: true, threshold: 0.6, window: 3h, max_speed_kmh: 1000, lof: true}"
        );
        let c: AnomalyConfig = match serde_saphyr::from_str(&text) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let (enabled, settings, problems) = c.check();
        assert!(enabled && problems.is_empty(), "{problems:?}");
        assert_eq!(settings, Settings::default());
    }
}
