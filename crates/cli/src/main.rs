//! `logward`: one binary for scanning logs offline, the agent daemon and the collector.

mod agent;
mod check;
#[cfg(feature = "collector")]
mod collector;
mod config_kind;
mod enroll;
mod evaluate;
mod logging;
mod manual;
mod notify;
mod report;
mod scan;
mod schema;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Build the per-user login profiles of the anomaly detector from old logs (.gz
    /// rotations included), so a new install knows its users on day one.
    Learn(scan::LearnArgs),
    /// Check an agent config (with its conf.d and rules), a collector config or a rules file:
    /// every error as file:line:column, exit 1 when there is one.
    Check(check::CheckArgs),
    /// Print the agent's built-in config (detected sources, rules reference); with --rules
    /// the built-in ruleset, with --collector the collector's default config.
    DefaultConfig(check::DefaultConfigArgs),
    /// Run the agent daemon: follow the logs, run the rules, alert, ban.
    Run(agent::RunArgs),
    /// List, add or lift bans through the running daemon's control socket.
    Bans(agent::BansArgs),
    /// Decode one line and show what the rules would do with it.
    TestLine(agent::TestLineArgs),
    /// Whether the daemon runs, with its main counts.
    Status(agent::DaemonArgs),
    /// Send a test alert through a configured notifier.
    Notify(notify::NotifyArgs),
    /// The daemon's alert deliveries: list, retry failed ones, purge.
    Outbox(notify::OutboxArgs),
    /// The daemon's metrics in the Prometheus text format (for node_exporter's textfile
    /// collector, or a look by hand; `metrics.listen` serves them over HTTP).
    Metrics(agent::DaemonArgs),
    /// Print the daily report (WARN, INFO, OTHER) of the last --since now, from the state
    /// store.
    Report(report::ReportArgs),
    /// Enrol this agent at a collector with a one-time token: writes the credentials to
    /// `<state_dir>/collector.json` (mode 0600) for the `forward:` sink.
    Enroll(enroll::EnrollArgs),
    /// The fleet collector: authenticated ingest from agents, storage, decisions, metrics;
    /// `token create`, `agents list|revoke`, `gen-cert` manage it.
    #[cfg(feature = "collector")]
    Collector(collector::CollectorArgs),
    /// Evaluate the login anomaly detector on a labelled, generated scenario: recall per
    /// attack type, precision, false alerts per 1,000 normal logins, LOF on and off.
    EvaluateAnomaly(evaluate::EvaluateArgs),
    /// Print the JSON Schema of the agent, collector or rules config, for editors with a
    /// YAML language server.
    Schema(schema::SchemaArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(manual::CompletionsArgs),
    /// Print the logward(8) man page, or write every command's page with --dir.
    Man(manual::ManArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Learn(args) => scan::learn(args),
        Command::Check(args) => check::run(args),
        Command::DefaultConfig(args) => check::default_config(args),
        Command::Run(args) => agent::run(args),
        Command::Bans(args) => agent::bans(args),
        Command::TestLine(args) => agent::test_line(args),
        Command::Notify(args) => notify::run(args),
        Command::Outbox(args) => notify::outbox(args),
        Command::Status(args) => agent::ask(args, logward_agent::control::Request::Status),
        Command::Metrics(args) => agent::ask(args, logward_agent::control::Request::Metrics),
        Command::Report(args) => report::run(args),
        Command::Enroll(args) => enroll::run(args),
        #[cfg(feature = "collector")]
        Command::Collector(args) => collector::run(args),
        Command::EvaluateAnomaly(args) => evaluate::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Completions(args) => manual::completions(Cli::command(), args),
        Command::Man(args) => manual::man(Cli::command(), args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("logward: {e:#}");
            std::process::exit(1);
        }
    }
}
