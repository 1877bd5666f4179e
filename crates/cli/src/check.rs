//! `logward check` (validate an agent config, a collector config or a rules file: every error
//! as `file:line:column: message`) and `logward default-config` (print a built-in config or
//! ruleset).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::config_kind::{self, Kind};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file to check: an agent config, a collector config or a rules file (told apart by
    /// their keys) [default: the built-in ruleset].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check the file as a collector config whatever its keys.
    #[arg(long, requires = "config")]
    pub collector: bool,
}

/// Exit status: 0 valid, 1 errors (each printed on stderr). "ok" is printed only when every
/// check passed.
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let Some(p) = &args.config else {
        return check_rules("default.yaml", logward_engine::DEFAULT_RULES);
    };
    let text = config_kind::read(p)?;
    match config_kind::detect(&text, args.collector) {
        Kind::Rules => check_rules(&p.display().to_string(), &text),
        Kind::Collector => Ok(check_collector(p)),
        Kind::Agent => {
            let code = check_agent(p)?;
            if code != 0 {
                if let Some(h) = config_kind::mixed_hint(&text) {
                    eprintln!("{h}");
                }
            }
            Ok(code)
        }
    }
}

fn check_rules(name: &str, text: &str) -> anyhow::Result<i32> {
    match logward_engine::Program::load(name, text) {
        Ok(p) => {
            println!(
                "{name}: ok ({} chains, {} rules)",
                p.chain_names().count(),
                p.rule_ids().len()
            );
            Ok(0)
        }
        Err(errors) => Ok(report(name, &errors.0)),
    }
}

/// Prints every error (file:line:column: message) and their count; the exit status is 1.
fn report(name: &str, errors: &[impl std::fmt::Display]) -> i32 {
    for e in errors {
        eprintln!("{e}");
    }
    let n = errors.len();
    eprintln!("{name}: {n} error{}", if n == 1 { "" } else { "s" });
    1
}

/// A collector config and the rules file it names.
#[cfg(not(feature = "collector"))]
fn check_collector(path: &std::path::Path) -> i32 {
    config_kind::no_collector(path)
}

/// A collector config and the rules file it names.
#[cfg(feature = "collector")]
fn check_collector(path: &std::path::Path) -> i32 {
    let name = path.display().to_string();
    match logward_collector::config::load(path) {
        Ok(c) => {
            println!(
                "{name}: ok, collector config (listen {}, {}, state in {}, store {}, fleet \
                 rules {}, {} notifier(s), LLM {}, login anomaly detection {})",
                c.listen,
                if c.tls.is_some() { "TLS" } else { "plain HTTP" },
                c.state_dir.display(),
                match &c.store {
                    logward_collector::StoreConfig::Sqlite => "SQLite".to_owned(),
                    logward_collector::StoreConfig::Postgres { url, .. } =>
                        format!("PostgreSQL {}", logward_store::redact_url(url)),
                },
                match &c.rules {
                    logward_collector::config::FleetRules::Default => "default".to_owned(),
                    logward_collector::config::FleetRules::None => "none".to_owned(),
                    logward_collector::config::FleetRules::File { path, .. } =>
                        path.display().to_string(),
                },
                c.notify.notifiers.len(),
                if c.llm.is_some() { "on" } else { "off" },
                if c.anomaly.is_some() { "on" } else { "off" },
            );
            0
        }
        Err(errors) => report(&name, &errors),
    }
}

/// An agent config, its conf.d fragments, the rules it names and the GeoIP databases it
/// opens: the summary is printed only once all of them are fine.
fn check_agent(path: &std::path::Path) -> anyhow::Result<i32> {
    let name = path.display().to_string();
    let l = match logward_agent::config::load(path) {
        Ok(l) => l,
        Err(errors) => return Ok(report(&name, &errors.0)),
    };
    let a = &l.config.anomaly;
    // The databases are opened as `logward run` would: a wrong path fails here.
    let anomaly = if !a.enabled {
        "login anomaly detection off".to_owned()
    } else {
        let geoip = match &a.geoip {
            Some(p) => match logward_agent::enrich::GeoIp::open(p) {
                Ok(g) => format!("GeoIP from {} file(s)", g.databases().len()),
                Err(e) => {
                    eprintln!("{name}: enrich.geoip: {e}");
                    eprintln!("{name}: 1 error");
                    return Ok(1);
                }
            },
            None => "no GeoIP".into(),
        };
        format!(
            "login anomaly detection on ({geoip}, {} DNSBL zone(s))",
            a.dnsbl.zones.len()
        )
    };
    println!(
        "{name}: ok ({} files, {} sources, {} rules, bans {}{})",
        l.config.files.len(),
        l.config.sources.len(),
        l.program.rule_ids().len(),
        if l.config.bans.enabled {
            "enabled"
        } else {
            "disabled"
        },
        match &l.config.forward {
            Some(f) if f.events == logward_agent::config::ForwardEvents::Alerts => {
                ", forwarding alerts"
            }
            Some(_) => ", forwarding events and alerts",
            None => "",
        }
    );
    let d = &l.config.dns;
    // The threat lists are read as `logward run` reads them: a list that cannot be read is
    // an error here (at run time it would be empty until its file appears).
    let mut lists = Vec::new();
    if d.enabled && !d.lists.is_empty() {
        let (_, outcomes) = logward_engine::dns::ListSet::load(d.lists.clone());
        let failed: Vec<_> = outcomes
            .iter()
            .filter(|o| matches!(o.outcome, logward_engine::dns::Outcome::Failed { .. }))
            .collect();
        if !failed.is_empty() {
            for o in &failed {
                eprintln!("{name}: dns.lists: {o}");
            }
            eprintln!(
                "{name}: {} error{}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" }
            );
            return Ok(1);
        }
        lists = outcomes;
    }
    println!("{anomaly}");
    if d.enabled {
        println!(
            "DNS check on ({} trusted client network(s), {} trusted domain(s), {} trusted query \
             type(s), {} source(s) with their own, dedup {}s, {} owner network(s), {})",
            d.trusted.clients.len(),
            d.trusted.domains.len(),
            d.trusted.query_types.len(),
            d.per_source.len(),
            d.dedup_window.as_secs(),
            d.owners.len(),
            match &d.api {
                Some(a) => format!("intel API {}", a.url),
                None => "no intel API".to_owned(),
            }
        );
        for o in &lists {
            println!("{o}");
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct DefaultConfigArgs {
    /// Print the built-in ruleset instead of the agent config.
    #[arg(long, conflicts_with = "fleet_rules")]
    pub rules: bool,
    /// Print the collector's built-in fleet ruleset (a starting point for `rules: FILE`).
    #[arg(long, conflicts_with = "collector")]
    pub fleet_rules: bool,
    /// Print the collector's config with every setting at its default.
    #[arg(long, conflicts_with = "rules")]
    pub collector: bool,
}

/// Prints the agent's built-in config, or with `--rules` the built-in ruleset, with
/// `--fleet-rules` the collector's, with `--collector` the collector's default config.
pub fn default_config(args: DefaultConfigArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    let text = if args.rules {
        logward_engine::DEFAULT_RULES.to_owned()
    } else if args.fleet_rules {
        logward_engine::FLEET_RULES.to_owned()
    } else if args.collector {
        #[cfg(feature = "collector")]
        {
            logward_collector::config::default_yaml()
        }
        #[cfg(not(feature = "collector"))]
        {
            eprintln!(
                "logward: this logward is an agent-only build (built without the `collector` \
                 feature): it has no collector config"
            );
            return Ok(1);
        }
    } else {
        logward_agent::config::default_yaml(std::path::Path::new("/"))
    };
    match out.write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
