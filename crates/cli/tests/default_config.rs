//! One default config: the config types' defaults are the source; `logward default-config`
//! (generated from them) loads back as exactly the built-in settings, and every default value
//! written in docs/AGENT.md, docs/COLLECTOR.md and the deploy/ examples is the type's.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::path::{Path, PathBuf};
use std::process::Command;

use logward_agent::config::{self, AgentConfig};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn stdout(args: &[&str]) -> String {
    let o = Command::new(BIN).args(args).output().expect("run logward");
    assert!(o.status.success(), "logward {args:?}: {o:?}");
    String::from_utf8(o.stdout).expect("utf-8")
}

/// An agent config from its text (written into `dir`), checked; its settings without places.
fn agent(dir: &Path, text: &str) -> AgentConfig {
    let p = dir.join("agent.yaml");
    std::fs::write(&p, text).expect("write");
    match config::load(&p) {
        Ok(l) => l.config.without_places(),
        Err(e) => panic!("{text}\n{e:?}"),
    }
}

/// `a.b.c` and a value as nested YAML.
fn nested(key: &str, value: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = key.split('.').collect();
    for (i, k) in parts.iter().enumerate() {
        out.push_str(&"  ".repeat(i));
        if i + 1 == parts.len() {
            out.push_str(&format!("{k}: {value}\n"));
        } else {
            out.push_str(&format!("{k}:\n"));
        }
    }
    out
}

/// The backquoted words of a table cell.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `(key, default)` of every row of the doc's `| key | default | meaning |` tables whose
/// default is written as a value (`none`, `system` are not); a cell naming two keys
/// (`enrich.dnsbl.concurrency`, `per_second`) gives two, the second under the first's parent.
fn table_defaults(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| key | default |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if !in_table || cells.len() < 4 || cells[1].starts_with("---") {
            continue;
        }
        let (keys, values) = (quoted(cells[1]), quoted(cells[2]));
        if values.is_empty() {
            continue;
        }
        assert_eq!(keys.len(), values.len(), "{line}");
        let parent = keys[0].rsplit_once('.').map(|(p, _)| p.to_owned());
        for (k, v) in keys.into_iter().zip(values) {
            let k = match (&parent, k.contains('.')) {
                (Some(p), false) => format!("{p}.{k}"),
                _ => k,
            };
            out.push((k, v));
        }
    }
    out
}

/// The fenced yaml block of `doc` whose first line starts with `first`.
fn yaml_block(doc: &str, first: &str) -> String {
    doc.split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with(first))
        .unwrap_or_else(|| panic!("no yaml block starting with {first}"))
        .to_owned()
}

#[test]
fn default_config_output_loads_as_the_builtin_config() {
    let d = tempfile::tempdir().expect("tempdir");
    let text = stdout(&["default-config"]);
    // `logward default-config` describes this host (`/`), as `logward run` would follow it.
    assert_eq!(
        agent(d.path(), &text),
        AgentConfig::builtin(Path::new("/")).without_places()
    );
}

#[test]
fn agent_md_defaults_are_the_types_defaults() {
    let d = tempfile::tempdir().expect("tempdir");
    let base = agent(d.path(), "sources: []\n");
    assert_eq!(
        base,
        AgentConfig::builtin(d.path()).without_places(),
        "an empty config is the built-in one (no sources found in an empty root)"
    );
    let doc = read("docs/AGENT.md");
    let rows = table_defaults(&doc);
    assert!(rows.len() >= 15, "AGENT.md's default tables: {rows:?}");
    for (key, value) in &rows {
        let text = format!("sources: []\n{}", nested(key, value));
        assert_eq!(
            agent(d.path(), &text),
            base,
            "docs/AGENT.md says `{key}` defaults to `{value}`"
        );
    }
    // The `forward:` example lists every default but the collector's address and CA.
    let block = yaml_block(&doc, "forward:\n");
    let kept: String = block
        .lines()
        .filter(|l| !l.trim_start().starts_with("collector:") && !l.trim_start().starts_with("ca:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.matches(':').count() >= 10, "{kept}");
    let forward = agent(d.path(), &format!("sources: []\n{kept}"));
    let empty = agent(d.path(), "sources: []\nforward: {}\n");
    assert_eq!(forward, empty, "AGENT.md's forward defaults:\n{kept}");
}

/// The example's settings are the defaults, except those it sets on purpose: its sources and
/// notifiers, and (among the `#~ ` alternatives) the collector's address, the CA, the DNSBL
/// zone, the GeoIP folder and `bans.ports`.
#[test]
fn agent_example_values_are_the_defaults() {
    let d = tempfile::tempdir().expect("tempdir");
    let base = agent(d.path(), "sources: []\n");
    let example = read("deploy/agent.example.yaml");
    let c = agent(d.path(), &example);
    assert_eq!(c.rules, base.rules);
    assert_eq!(c.output, base.output);
    assert_eq!(c.bans, base.bans);
    assert_eq!(c.pipeline, base.pipeline);
    assert_eq!(c.metrics, base.metrics);
    assert_eq!(c.anomaly, base.anomaly);
    assert_eq!(c.notify.dedup.value, base.notify.dedup.value);
    assert_eq!(c.notify.language, base.notify.language);

    let on: String = example
        .lines()
        .filter(|l| !l.contains("geoip:"))
        .map(|l| match l.find("#~ ") {
            Some(i) => format!("{}{}\n", &l[..i], &l[i + 3..]),
            None => format!("{l}\n"),
        })
        .collect();
    let mut c = agent(d.path(), &on);
    let mut forward = c.forward.take().expect("the example's forward: section");
    assert!(forward.collector.take().is_some() && forward.ca.take().is_some());
    assert_eq!(
        forward,
        logward_agent::config::Forward::default(),
        "the example's forward: values"
    );
    assert_eq!(c.bans.ports, [22]);
    c.bans.ports.clear();
    assert_eq!(c.bans, base.bans);
    assert_eq!(c.anomaly.dnsbl.zones, ["zen.spamhaus.org"]);
    c.anomaly.dnsbl.zones.clear();
    assert_eq!(c.anomaly, base.anomaly, "the example's enrich: values");
}

#[cfg(feature = "collector")]
mod collector {
    use super::*;
    use logward_collector::config::{parse, Config};

    fn load(text: &str) -> Config {
        parse("collector.yaml", text, Path::new("/")).unwrap_or_else(|e| {
            panic!(
                "{text}\n{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    }

    #[test]
    fn default_config_output_is_the_collectors_default() {
        let text = stdout(&["default-config", "--collector"]);
        assert_eq!(load(&text), Config::default());
        // Every section of the config is in it.
        for key in ["limits:", "connections:", "anomaly:", "notify:", "# llm:"] {
            assert!(text.lines().any(|l| l.starts_with(key)), "{key}\n{text}");
        }
    }

    /// docs/COLLECTOR.md's full config block is the defaults but for its address and TLS.
    #[test]
    fn collector_md_config_block_is_the_default() {
        let doc = read("docs/COLLECTOR.md");
        let block = yaml_block(&doc, "listen: 0.0.0.0:7650");
        let text: String = block
            .lines()
            .filter(|l| !l.starts_with("tls:"))
            .map(|l| format!("{}\n", l.replace("0.0.0.0:7650", "127.0.0.1:7650")))
            .collect();
        assert!(text.contains("connections:") && text.contains("limits:"));
        assert_eq!(load(&text), Config::default(), "{text}");
    }

    /// `limits.KEY` … (default N [KiB|MiB|s]) in docs/COLLECTOR.md's prose.
    #[test]
    fn collector_md_prose_defaults_are_the_types_defaults() {
        let doc = read("docs/COLLECTOR.md").replace('\n', " ");
        let mut checked = 0;
        for part in doc.split("`limits.").skip(1) {
            let Some((key, rest)) = part.split_once('`') else {
                continue;
            };
            // The words up to the next code span: `… at once (default 64), …`.
            let words = rest.split('`').next().unwrap_or_default();
            let Some((_, rest)) = words.split_once("default ") else {
                continue;
            };
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let digits: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect();
            let n: u64 = digits.parse().unwrap_or_else(|_| panic!("{key}: {rest}"));
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ',');
            let unit = match rest.split([' ', ')', ';', ',']).nth(1) {
                Some("KiB") => 1 << 10,
                Some("MiB") => 1 << 20,
                _ => 1,
            };
            let text = format!("limits: {{{key}: {}}}\n", n * unit);
            assert_eq!(
                load(&text),
                Config::default(),
                "docs/COLLECTOR.md says `limits.{key}` defaults to {n}×{unit}"
            );
            checked += 1;
        }
        assert!(checked >= 10, "{checked} prose defaults found");
    }

    /// The example's limits, connections, retention and anomaly settings are the defaults.
    #[test]
    fn collector_example_values_are_the_defaults() {
        let c = logward_collector::config::load(&repo("deploy/collector.example.yaml"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let d = Config::default();
        assert_eq!(c.limits, d.limits);
        assert_eq!(c.connections, d.connections);
        assert_eq!(c.retention_days, d.retention_days);
        assert_eq!(c.anomaly, d.anomaly);
        assert_eq!(c.rules, d.rules);
        assert_eq!(c.state_dir, d.state_dir);
    }
}
