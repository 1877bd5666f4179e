//! `logward enroll`: trade a one-time collector token for this agent's credentials
//! (docs/COLLECTOR.md, Enrolment), written to `<state_dir>/collector.json` with mode 0600.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use logward_agent::forward::{self, Credentials};

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The collector's base URL (default: `forward.collector` of --config).
    #[arg(long, value_name = "URL")]
    pub collector: Option<String>,
    /// The one-time token from `logward collector token create` (visible to `ps` while
    /// enrolling: prefer --token-file on shared hosts).
    #[arg(long, value_name = "TOKEN", required_unless_present = "token_file")]
    pub token: Option<String>,
    /// Reads the token from FILE (`-`: standard input), first line, surrounding space trimmed.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// A PEM CA file: the only certificate authority trusted for the collector (default:
    /// `forward.ca` of --config, else the usual web roots). Kept in collector.json.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The host name to enrol as: every event and alert this agent forwards carries it as
    /// `host.name` (the collector's identity rule) [default: this machine's host name].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The agent config whose `forward:` section supplies --collector and --ca defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory where collector.json is written (the one `logward run` uses)
    /// [default: $LOGWARD_STATE_DIR, /var/lib/logward as root, else $XDG_STATE_HOME/logward
    /// or ~/.local/state/logward].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The token from --token or --token-file.
fn token(args: &EnrollArgs) -> anyhow::Result<String> {
    let text = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the token from standard input")?;
            line
        }
        (None, Some(p)) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the token from {}", p.display()))?,
        (None, None) => anyhow::bail!("give --token or --token-file"),
    };
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    Ok(token)
}

pub fn run(args: EnrollArgs) -> anyhow::Result<i32> {
    let token = token(&args)?;
    let mut collector = args.collector;
    let mut ca = args.ca;
    if let Some(path) = &args.config {
        let loaded = logward_agent::config::load(path)
            .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
        if let Some(f) = loaded.config.forward {
            collector = collector.or(f.collector);
            ca = ca.or(f.ca);
        }
    }
    let Some(collector) = collector else {
        anyhow::bail!("no collector: give --collector URL (or `forward.collector` in --config)");
    };
    if let Some(ca) = &ca {
        anyhow::ensure!(ca.is_file(), "CA file {} does not exist", ca.display());
    }
    // A relative CA path in collector.json would depend on the daemon's working directory.
    let ca = match ca {
        Some(p) if p.is_relative() => Some(std::env::current_dir()?.join(p)),
        other => other,
    };
    let state_dir = args
        .state_dir
        .unwrap_or_else(logward_agent::daemon::default_state_dir);
    let host = args.host.clone().unwrap_or_else(forward::host_name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let creds: Credentials = rt
        .block_on(forward::enroll(&collector, &token, ca.as_deref(), &host))
        .with_context(|| format!("enrolment at {collector} failed"))?;
    let path = creds.save(&state_dir)?;
    println!(
        "enrolled as {} at {}; credentials in {} (mode 0600). Add `forward: {{}}` to the agent \
         config and restart `logward run`.",
        creds.agent_id,
        creds.collector,
        path.display()
    );
    Ok(0)
}
