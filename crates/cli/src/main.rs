//! `logward`: one binary for scanning logs offline, the agent daemon and the collector.

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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("logward: {e:#}");
            std::process::exit(1);
        }
    }
}
