//! `logward collector`: run the fleet collector, and manage its enrolment tokens, agents,
//! fleet ban decisions and TLS certificate (docs/COLLECTOR.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use logward_collector::config::{self, Config, StoreConfig};
use logward_collector::open_store;
use logward_core::clock::unix_now;
use logward_core::duration::parse_secs;
use logward_store::{BanTarget, CollectorStore, DecisionSelector, NewDecision};

#[derive(Debug, Args)]
pub struct CollectorArgs {
    /// The collector's config (YAML). Without one: plain HTTP on 127.0.0.1:7650, enrolled
    /// agents, state in /var/lib/logward-collector.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory, over the config's `state_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<CollectorCommand>,
}

#[derive(Debug, Subcommand)]
pub enum CollectorCommand {
    /// One-time enrolment tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Enrolled agents.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Fleet ban decisions: what every agent polling the collector applies.
    Decisions {
        #[command(subcommand)]
        command: DecisionsCommand,
    },
    /// Dashboard operators (argon2id password hashes in the store).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Bearer tokens for the REST API (only their SHA-256 is stored).
    ApiToken {
        #[command(subcommand)]
        command: ApiTokenCommand,
    },
    /// Bring the store's schema up to date (SQLite in the state directory, or the
    /// configured PostgreSQL database) and print its version; the collector also does this
    /// when it starts.
    Migrate,
    /// What the cluster is: the store (backend, schema), the collectors sharing it (live or
    /// gone, the rules leader), agents, what is stored today, PostgreSQL's partitions, and
    /// with `nats:` the stream and its consumers. Exit 0 when everything configured was
    /// reached, 2 when the store was not, 3 when NATS was not (the rest is still printed).
    Status {
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
        /// A collector not seen for this many seconds is shown as gone.
        #[arg(long, value_name = "SECS", default_value_t = logward_store::COLLECTOR_STALE_SECS)]
        stale_after: i64,
    },
    /// Copy a SQLite collector store (its state directory) into the configured PostgreSQL
    /// database, which must be empty: all or nothing, every row as it is.
    CopyFromSqlite {
        /// The state directory holding the SQLite store (logward.db).
        #[arg(value_name = "STATE_DIR")]
        from: PathBuf,
    },
    /// Write a self-signed certificate and key (cert.pem, key.pem) for the listener.
    GenCert {
        /// Directory to write them into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A host name or address the certificate is for (repeatable) [default: this
        /// host's name, localhost, 127.0.0.1, ::1].
        #[arg(long)]
        name: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new one-time token (only its SHA-256 is stored).
    Create {
        /// How long it stays valid: 24h, 30m, 7d.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DecisionsCommand {
    /// The decisions in force: id, target, expiry, rule, reason.
    List,
    /// Ban an address or network fleet-wide (extends the decision in force for it, if any).
    Add {
        /// An IPv4/IPv6 address or CIDR network.
        #[arg(long, value_name = "IP")]
        ip: String,
        /// How long: 30m, 4h, 7d.
        #[arg(long, default_value = "4h")]
        duration: String,
        /// Why (shown to agents and in their ban lists).
        #[arg(long, default_value = "manual fleet decision")]
        reason: String,
    },
    /// Lift a decision: every agent unbans the target at its next poll.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["ip", "id"])))]
    Del {
        /// The target of the decision in force.
        #[arg(long, value_name = "IP")]
        ip: Option<String>,
        /// The decision's id (as `decisions list` shows it).
        #[arg(long, value_name = "N")]
        id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an operator, or set an existing one's password. The password is read from
    /// the terminal (twice, without echo), or as the first line of standard input.
    Add { name: String },
    /// Every operator's name.
    List,
    /// Remove an operator (their dashboard sessions end at once).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Print a new bearer token for the REST API.
    Create {
        /// What it is for (shown in `list` and as the operator in logs).
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// Every token: id, name, created, last used, revoked (never the token).
    List,
    /// Refuse a token from now on.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Every agent: id, host, version, last seen, spool, revoked.
    List,
    /// Refuse an agent's requests from now on.
    Revoke { id: String },
}

fn load(args: &CollectorArgs) -> anyhow::Result<Config> {
    let mut c = match &args.config {
        None => Config::default(),
        Some(path) => config::load(path).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("invalid collector config:\n{}", text.join("\n"))
        })?,
    };
    if let Some(d) = &args.state_dir {
        c.state_dir = d.clone();
    }
    Ok(c)
}

pub fn run(args: CollectorArgs) -> anyhow::Result<i32> {
    match &args.command {
        None => serve(load(&args)?),
        Some(CollectorCommand::GenCert { out, name }) => gen_cert(out, name),
        Some(CollectorCommand::Migrate) => migrate(&load(&args)?),
        Some(CollectorCommand::Status { json, stale_after }) => {
            status(&load(&args)?, *json, *stale_after)
        }
        Some(CollectorCommand::CopyFromSqlite { from }) => copy_from_sqlite(&load(&args)?, from),
        Some(CollectorCommand::Token {
            command: TokenCommand::Create { ttl },
        }) => {
            let c = load(&args)?;
            let secs = parse_secs(ttl)
                .filter(|&s| s > 0)
                .with_context(|| format!("--ttl `{ttl}` is not a duration (24h, 30m, 7d)"))?;
            let token = logward_collector::create_token(&c, unix_now(), secs)?;
            println!("{token}");
            Ok(0)
        }
        Some(CollectorCommand::Decisions { command }) => {
            let c = load(&args)?;
            let mut store = open_store(&c)?;
            decisions(store.as_mut(), command)
        }
        Some(CollectorCommand::User { command }) => users(&load(&args)?, command),
        Some(CollectorCommand::ApiToken { command }) => api_tokens(&load(&args)?, command),
        Some(CollectorCommand::Agents { command }) => {
            let c = load(&args)?;
            let mut store = open_store(&c)?;
            agents(store.as_mut(), command)
        }
    }
}

/// Where the store is, for messages (never a password).
fn store_name(c: &Config) -> String {
    match &c.store {
        StoreConfig::Sqlite => c
            .state_dir
            .join(logward_store::SqliteStore::FILE_NAME)
            .display()
            .to_string(),
        StoreConfig::Postgres { url, .. } => logward_store::redact_url(url),
    }
}

/// `logward collector migrate`.
fn migrate(c: &Config) -> anyhow::Result<i32> {
    let version = open_store(c)?.schema_version()?;
    println!("{}: schema version {version}", store_name(c));
    Ok(0)
}

/// `logward collector status`.
fn status(c: &Config, json: bool, stale_after: i64) -> anyhow::Result<i32> {
    let s = logward_collector::status::gather(c, stale_after.max(1));
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", s.text());
    }
    Ok(s.exit_code())
}

/// `logward collector copy-from-sqlite STATE_DIR`.
fn copy_from_sqlite(c: &Config, from: &Path) -> anyhow::Result<i32> {
    let StoreConfig::Postgres {
        url,
        password,
        ca_file,
    } = &c.store
    else {
        anyhow::bail!(
            "the config's store is SQLite: copy-from-sqlite needs `store: {{type: postgres,              url: …}}` in --config"
        );
    };
    let file = from.join(logward_store::SqliteStore::FILE_NAME);
    if !file.is_file() {
        anyhow::bail!("{}: no collector store here", file.display());
    }
    let sqlite = logward_store::SqliteStore::open_dir(from)?;
    let mut pg =
        logward_store::PgStore::connect_with(url, password.as_deref(), ca_file.as_deref())?;
    let copied = pg.copy_from_sqlite(&sqlite, unix_now())?;
    for (table, rows) in &copied {
        println!("{table:<18} {rows:>10}");
    }
    println!("copied {} into {}", file.display(), store_name(c));
    Ok(0)
}

/// `logward collector gen-cert`.
fn gen_cert(out: &Path, name: &[String]) -> anyhow::Result<i32> {
    let names = if name.is_empty() {
        let mut n = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let h = h.trim();
            if !h.is_empty() && h != "localhost" {
                n.insert(0, h.to_owned());
            }
        }
        n
    } else {
        name.to_vec()
    };
    let (cert, key) = logward_collector::gen_cert(out, &names)?;
    println!(
        "certificate: {}\nkey:         {}",
        cert.display(),
        key.display()
    );
    println!("names:       {}", names.join(", "));
    Ok(0)
}

/// `logward collector user add|list|remove`.
fn users(c: &Config, command: &UserCommand) -> anyhow::Result<i32> {
    match command {
        UserCommand::Add { name } => {
            let password = read_password()?;
            let new = logward_collector::add_user(c, name, &password, unix_now())?;
            println!(
                "{} operator {name}",
                if new { "created" } else { "updated" }
            );
            Ok(0)
        }
        UserCommand::List => {
            for n in open_store(c)?.operators()? {
                println!("{n}");
            }
            Ok(0)
        }
        UserCommand::Remove { name } => {
            if open_store(c)?.remove_operator(name)? {
                println!("removed {name}");
                Ok(0)
            } else {
                eprintln!("logward: no operator {name}");
                Ok(1)
            }
        }
    }
}

/// `logward collector api-token create|list|revoke`.
fn api_tokens(c: &Config, command: &ApiTokenCommand) -> anyhow::Result<i32> {
    match command {
        ApiTokenCommand::Create { name } => {
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                anyhow::bail!("--name: 1 to 64 printable characters");
            }
            let (id, token) = logward_collector::create_api_token(c, name, unix_now())?;
            eprintln!("token {id} ({name}); it is shown once:");
            println!("{token}");
            Ok(0)
        }
        ApiTokenCommand::List => {
            println!(
                "{:>4}  {:<24}  {:>12}  {:>12}  STATE",
                "ID", "NAME", "CREATED", "LAST USED"
            );
            let t = unix_now();
            let ago = |s: Option<i64>| {
                s.map_or_else(|| "never".to_owned(), |s| format!("{}s ago", t - s))
            };
            for k in open_store(c)?.api_tokens()? {
                println!(
                    "{:>4}  {:<24}  {:>12}  {:>12}  {}",
                    k.id,
                    k.name,
                    ago(Some(k.created_at)),
                    ago(k.last_used),
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
            Ok(0)
        }
        ApiTokenCommand::Revoke { id } => {
            if open_store(c)?.revoke_api_token(*id, unix_now())? {
                println!("revoked token {id}");
                Ok(0)
            } else {
                eprintln!("logward: no active token {id}");
                Ok(1)
            }
        }
    }
}

/// `logward collector agents list|revoke`.
fn agents(store: &mut dyn CollectorStore, command: &AgentsCommand) -> anyhow::Result<i32> {
    match command {
        AgentsCommand::List => {
            println!(
                "{:<32}  {:<24}  {:<10}  {:>10}  {:>10}  {:>8}  STATE",
                "ID", "HOST", "VERSION", "LAST SEEN", "SPOOL", "LAST SEQ"
            );
            let t = unix_now();
            for a in store.agents()? {
                let seen = a
                    .last_seen
                    .map_or_else(|| "never".to_owned(), |s| format!("{}s ago", t - s));
                let state = match a.revoked_at {
                    Some(_) => "revoked",
                    None => "active",
                };
                println!(
                    "{:<32}  {:<24}  {:<10}  {:>10}  {:>10}  {:>8}  {state}",
                    a.id,
                    a.host,
                    a.version.as_deref().unwrap_or("-"),
                    seen,
                    a.spool_items.map_or_else(|| "-".into(), |n| n.to_string()),
                    a.last_seq,
                );
            }
            Ok(0)
        }
        AgentsCommand::Revoke { id } => {
            if store.revoke_agent(id, unix_now())? {
                println!("revoked {id}");
                Ok(0)
            } else {
                eprintln!("logward: no active agent {id}");
                Ok(1)
            }
        }
    }
}

fn decisions(store: &mut dyn CollectorStore, command: &DecisionsCommand) -> anyhow::Result<i32> {
    let t = unix_now();
    match command {
        DecisionsCommand::List => {
            println!(
                "{:>6}  {:<40}  {:>12}  {:<20}  REASON",
                "ID", "TARGET", "EXPIRES IN", "RULE"
            );
            for d in store.decisions_in_force(t)? {
                let left = d
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |e| format!("{}s", e - t));
                println!(
                    "{:>6}  {:<40}  {:>12}  {:<20}  {}",
                    d.id,
                    d.target,
                    left,
                    d.rule_id.as_deref().unwrap_or("-"),
                    d.reason.replace(['\n', '\r'], " ")
                );
            }
            Ok(0)
        }
        DecisionsCommand::Add {
            ip,
            duration,
            reason,
        } => {
            let target = BanTarget::parse(ip)
                .map_err(|e| anyhow::anyhow!("--ip `{ip}`: {e}"))?
                .to_string();
            // Rounded up to whole seconds: `999ms` is a one-second decision, never a 0 s one.
            let secs = parse_secs(duration).filter(|&s| s > 0).with_context(|| {
                format!("--duration `{duration}` is not a duration (30m, 4h, 7d)")
            })?;
            let (id, change) = store.put_decision(&NewDecision {
                target: target.clone(),
                duration_secs: Some(secs),
                reason: reason.clone(),
                rule_id: None,
                created_at: t,
                alert_id: None,
            })?;
            match change {
                Some(c) => println!("decision {id}: {} {target} for {secs}s", c.op.as_str()),
                None => println!("decision {id}: {target} is already banned for longer"),
            }
            Ok(0)
        }
        DecisionsCommand::Del { ip, id } => {
            let target;
            let which = match (ip, id) {
                (Some(ip), _) => {
                    target = BanTarget::parse(ip)
                        .map_err(|e| anyhow::anyhow!("--ip `{ip}`: {e}"))?
                        .to_string();
                    DecisionSelector::Target(&target)
                }
                (None, Some(id)) => DecisionSelector::Id(*id),
                (None, None) => anyhow::bail!("give --ip or --id"),
            };
            match store.delete_decision(which, t)? {
                Some(c) => {
                    println!("decision {} lifted: {}", c.decision_id, c.target);
                    Ok(0)
                }
                None => {
                    eprintln!("logward: no decision in force for that");
                    Ok(1)
                }
            }
        }
    }
}

/// The new password: from the terminal twice without echo, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("password: ").context("cannot read the password")?;
        let b = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if a != b {
            anyhow::bail!("the passwords differ");
        }
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let p = line.trim_end_matches(['\n', '\r']).to_owned();
        if p.is_empty() {
            anyhow::bail!("no password on standard input");
        }
        Ok(p)
    }
}

fn serve(c: Config) -> anyhow::Result<i32> {
    crate::logging::init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let scheme = if c.tls.is_some() { "https" } else { "http" };
        let store = store_name(&c);
        let run = logward_collector::start(c).await?;
        tracing::info!(
            "collector listening on {scheme}://{} (store {store})",
            run.addr
        );
        // systemd stops with SIGTERM, a terminal with SIGINT: both save the fleet rules'
        // counters and stop cleanly.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch for SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
        run.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}
