//! `logward`: one binary for scanning logs offline, the agent daemon and the collector.

mod check;
mod scan;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "logward",
    version,
    about = "Security-event monitor for Linux and Windows servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode auth logs offline (files, globs, directories, .gz rotations, stdin) into ECS
    /// events, a table or a summary.
    Scan(scan::ScanArgs),
    /// Check a rules file: every error as file:line:column, exit 1 when there is one.
    Check(check::CheckArgs),
    /// Print the built-in ruleset (a starting point for your own).
    DefaultConfig,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Check(args) => check::run(args),
        Command::DefaultConfig => check::default_config(),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("logward: {e:#}");
            std::process::exit(1);
        }
    }
}
