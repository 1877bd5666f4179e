//! `logward run`, `logward bans …`, `logward test-line`: thin wiring to `logward_agent`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use logward_agent::config::Format;
use logward_agent::control::{self, Request};
use logward_agent::daemon::{self, RunOptions};
use logward_core::{Clock, Event, SystemClock};
use logward_engine::{Effect, Engine, NoStages, Runner, Timing, TraceOutcome, TraceStep};
use logward_parse::{LineDecoder, YearResolver, YearRule, Zone};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Text,
    Ndjson,
    None,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::None => Format::None,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent config [default: built-in: auto-detected sources, default rules, no bans].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory [default: $LOGWARD_STATE_DIR, /var/lib/logward as root, else
    /// $XDG_STATE_HOME/logward or ~/.local/state/logward].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// How alerts are printed on stdout (overrides `output.format`).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

fn state_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(daemon::default_state_dir)
}

fn logging() {
    crate::logging::init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    logging();
    let opts = RunOptions {
        config: args.config,
        state_dir: state_dir(args.state_dir),
        format: args.format.map(Format::from),
    };
    runtime()?.block_on(daemon::run(opts))?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The running daemon's state directory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Sends one request without arguments to the daemon and prints its answer.
pub fn ask(args: DaemonArgs, req: Request) -> anyhow::Result<i32> {
    let dir = state_dir(args.state_dir);
    let resp = runtime()?.block_on(control::request(&dir, &req, Duration::from_secs(30)))?;
    if !resp.ok {
        eprintln!("logward: {}", resp.error.unwrap_or_else(|| "failed".into()));
        return Ok(1);
    }
    let text = resp.message.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct BansArgs {
    /// The running daemon's state directory.
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: BansCommand,
}

#[derive(Debug, Subcommand)]
pub enum BansCommand {
    /// Bans in force.
    List,
    /// Ban an address or network through the running daemon.
    Add {
        target: String,
        /// 30s, 10m, 1h, 5d, 1w [default: the config's bans.default_duration].
        #[arg(long)]
        duration: Option<String>,
    },
    /// Lift a ban through the running daemon.
    Del { target: String },
}

pub fn bans(args: BansArgs) -> anyhow::Result<i32> {
    let dir = state_dir(args.state_dir);
    let req = match args.command {
        BansCommand::List => Request::BansList,
        BansCommand::Add { target, duration } => {
            let seconds = match duration {
                None => None,
                Some(d) => Some(
                    logward_core::duration::parse_secs(&d)
                        .and_then(|s| u64::try_from(s).ok())
                        .ok_or_else(|| {
                            anyhow::anyhow!("`{d}` is not a duration (30s, 10m, 1h, 5d, 1w)")
                        })?,
                ),
            };
            Request::BansAdd { target, seconds }
        }
        BansCommand::Del { target } => Request::BansDel { target },
    };
    let resp = runtime()?.block_on(control::request(&dir, &req, Duration::from_secs(60)))?;
    if !resp.ok {
        eprintln!("logward: {}", resp.error.unwrap_or_else(|| "failed".into()));
        return Ok(1);
    }
    let mut out = std::io::stdout().lock();
    if let Some(m) = &resp.message {
        if !matches!(req, Request::BansList) {
            writeln!(out, "{m}")?;
        } else {
            eprintln!("logward: {m}");
        }
    }
    if matches!(req, Request::BansList) {
        let now = SystemClock.now().unix;
        for b in &resp.bans {
            let left = b.expires_at.map_or("permanent".to_owned(), |e| {
                format!("{}s left", (e - now).max(0))
            });
            writeln!(
                out,
                "{}\t{}\toffences={}\t{}",
                b.target, left, b.offences, b.reason
            )?;
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct TestLineArgs {
    /// The log line (syslog or journal JSON).
    pub line: String,
    /// A rules file [default: the built-in ruleset].
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Prints the decoded event (NDJSON), the steps the rules took (chain, step, kind, outcome)
/// and what they would do with it.
pub fn test_line(args: TestLineArgs) -> anyhow::Result<i32> {
    let program = match &args.rules {
        None => logward_engine::default_program(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
            match logward_engine::Program::load(&p.display().to_string(), &text) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(1);
                }
            }
        }
    };
    let now = SystemClock.now();
    let mut dec = LineDecoder::new(YearResolver::new(YearRule::Reference(now), Zone::Local));
    let mut e = Event::default();
    dec.decode_into(&args.line, &mut e);
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    logward_core::json::write_event(&mut buf, &e);
    out.write_all(b"event: ")?;
    out.write_all(&buf)?;
    out.write_all(b"\n")?;
    let mut runner = Runner::new(Engine::new(program), Timing::Clock, Duration::MAX);
    let mut effects = Vec::new();
    let mut trace = Vec::new();
    runner.event_traced(
        &mut e,
        SystemClock.now(),
        &mut NoStages,
        &mut effects,
        &mut trace,
    );
    print_trace(&mut out, &trace)?;
    if effects.is_empty() {
        writeln!(out, "result: no alert, no action")?;
    }
    for fx in &effects {
        match fx {
            Effect::Alert(a) | Effect::Detected(a) => {
                buf.clear();
                logward_core::write_alert(&mut buf, a);
                write!(out, "alert {} ({}): ", a.rule_id, a.severity)?;
                out.write_all(&buf)?;
                out.write_all(b"\n")?;
            }
            Effect::Ban {
                target: Ok(t),
                duration,
                ..
            } => writeln!(
                out,
                "action: ban {t} for {duration}s (when bans are enabled)"
            )?,
            Effect::Ban { target: Err(e), .. } => writeln!(out, "action: ban refused: {e}")?,
            Effect::Unban(Ok(t)) => writeln!(out, "action: unban {t}")?,
            Effect::Unban(Err(e)) => writeln!(out, "action: unban refused: {e}")?,
            Effect::Exec(argv) => writeln!(out, "action: exec {argv:?}")?,
            Effect::Report { section, message } => {
                writeln!(out, "action: report [{section}] {message}")?
            }
            Effect::Log { level, message } => writeln!(out, "action: log {level:?} {message}")?,
        }
    }
    Ok(0)
}

/// One line per step taken (`chain[step] kind: pass|fail|ran [-> jumped-to]`), then which
/// chains matched: those in which an action ran.
fn print_trace(out: &mut impl Write, trace: &[TraceStep]) -> std::io::Result<()> {
    writeln!(out, "trace:")?;
    for s in trace {
        write!(
            out,
            "  {}[{}] {}: {}",
            s.chain,
            s.step,
            s.kind,
            s.outcome.as_str()
        )?;
        match &s.jump {
            Some(j) => writeln!(out, " -> {j}")?,
            None => writeln!(out)?,
        }
    }
    let mut matched: Vec<&str> = Vec::new();
    for s in trace.iter().filter(|s| s.outcome == TraceOutcome::Ran) {
        if !matched.contains(&s.chain.as_str()) {
            matched.push(&s.chain);
        }
    }
    if matched.is_empty() {
        writeln!(out, "matched: no chain")
    } else {
        writeln!(out, "matched: {}", matched.join(", "))
    }
}
