//! `logward check` (validate a rules file: every error as `file:line:column: message`) and
//! `logward default-config` (print the built-in ruleset).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The rules file to check [default: the built-in ruleset].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Exit status: 0 valid, 1 errors (each printed on stderr).
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let (name, text) = match &args.config {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
        ),
        None => (
            "default.yaml".to_owned(),
            logward_engine::DEFAULT_RULES.to_owned(),
        ),
    };
    match logward_engine::Program::load(&name, &text) {
        Ok(p) => {
            println!(
                "{name}: ok ({} chains, {} rules)",
                p.chain_names().count(),
                p.rule_ids().len()
            );
            Ok(0)
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!(
                "{name}: {} error{}",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            Ok(1)
        }
    }
}

/// Prints the built-in ruleset.
pub fn default_config() -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    match out.write_all(logward_engine::DEFAULT_RULES.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
