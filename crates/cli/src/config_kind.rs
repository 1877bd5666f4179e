//! Which kind of config a file is — agent, collector or rules — told by its top-level keys,
//! so `check` and `notify test` take any of them.

use std::path::Path;

/// The kinds of YAML file logward reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Agent,
    Collector,
    Rules,
}

/// Keys only the collector's config has.
const COLLECTOR_ONLY: &[&str] = &[
    "listen",
    "tls",
    "state_dir",
    "store",
    "retention_days",
    "auth",
    "limits",
    "llm",
    "beats",
];
/// Keys only the agent's config has.
const AGENT_ONLY: &[&str] = &[
    "sources", "output", "bans", "pipeline", "metrics", "forward", "enrich",
];

/// The kind of `text`: `--collector` forces the collector; a top-level `chains:` is a rules
/// file; collector keys without agent keys make a collector config; anything else is an agent
/// config (whose check then names any collector key as unknown, with this hint).
pub fn detect(text: &str, collector: bool) -> Kind {
    if collector {
        return Kind::Collector;
    }
    if logward_agent::config::is_rules_file(text) {
        return Kind::Rules;
    }
    let places = logward_engine::strict_yaml::Places::of(text);
    let keys = places.top_keys();
    let has = |set: &[&str]| keys.iter().any(|k| set.contains(k));
    if has(COLLECTOR_ONLY) && !has(AGENT_ONLY) {
        Kind::Collector
    } else {
        Kind::Agent
    }
}

/// Reads a config file (a clear message when it cannot be read).
pub fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// A hint printed after an agent config's errors when it holds collector keys.
pub fn mixed_hint(text: &str) -> Option<String> {
    let places = logward_engine::strict_yaml::Places::of(text);
    let found: Vec<&str> = places
        .top_keys()
        .into_iter()
        .filter(|k| COLLECTOR_ONLY.contains(k))
        .collect();
    (!found.is_empty()).then(|| {
        format!(
            "hint: {} belong(s) to a collector config; checked as an agent config because of \
             its agent keys (pass --collector to check it as a collector config)",
            found.join(", ")
        )
    })
}

/// What an agent-only build (without the `collector` feature) says when given a collector
/// config: exit status 1.
#[cfg(not(feature = "collector"))]
pub fn no_collector(path: &Path) -> i32 {
    eprintln!(
        "logward: {} is a collector config, and this logward is an agent-only build \
         (built without the `collector` feature)",
        path.display()
    );
    1
}
