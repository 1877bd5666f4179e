//! `logward report`: the daily report of the last `--since`, printed now from the state
//! store (what the scheduled report would send, without sending it).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use logward_agent::daemon;
use logward_core::duration::parse_duration;
use logward_notify::{report, Language, ReportZone};
use logward_store::{SqliteStore, Store};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    En,
    #[value(name = "zh-CN", alias = "zh", alias = "zh-cn")]
    ZhCn,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The window, ending now: 24h, 7d, 90m.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// State directory [default: $LOGWARD_STATE_DIR, /var/lib/logward as root, else
    /// $XDG_STATE_HOME/logward or ~/.local/state/logward].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[arg(long, value_enum, default_value = "en")]
    pub language: LanguageArg,
    /// The host name in the title [default: this host's name].
    #[arg(long)]
    pub host: Option<String>,
    /// IANA time zone of the times shown (Asia/Shanghai, UTC) [default: local time].
    #[arg(long)]
    pub timezone: Option<String>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    let window = parse_duration(&args.since)
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--since `{}` is not a duration (24h, 7d, 90m)", args.since))?;
    let zone = match &args.timezone {
        None => ReportZone::Local,
        Some(z) => ReportZone::parse(z)
            .with_context(|| format!("--timezone `{z}` is not an IANA time zone"))?,
    };
    let dir = args.state_dir.unwrap_or_else(daemon::default_state_dir);
    // Opening would create an empty store: say where none is instead.
    if !dir.join(SqliteStore::FILE_NAME).exists() {
        anyhow::bail!(
            "no state store in {} (has `logward run` used this state directory?)",
            dir.display()
        );
    }
    let mut store = SqliteStore::open_dir(&dir)?;
    let to = chrono::Utc::now().timestamp();
    let from = to.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
    let entries = store.report_entries(from, to)?;
    let language = match args.language {
        LanguageArg::En => Language::En,
        LanguageArg::ZhCn => Language::ZhCn,
    };
    let host = args.host.unwrap_or_else(logward_notify::host_name);
    let r = report::build(&entries, from, to, &host, language).in_zone(zone);
    let out = match args.format {
        ReportFormat::Text => r.text(),
        ReportFormat::Markdown => r.markdown(),
        ReportFormat::Html => r.html(),
        ReportFormat::Json => format!("{:#}\n", r.json()),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(0)
}
