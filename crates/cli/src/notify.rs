//! `logward notify test NAME` and `logward outbox list|retry|purge`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use logward_agent::control::{self, Request};
use logward_core::{Alert, Event, Severity, SystemClock};
use logward_notify::message::{Item, Message};
use logward_notify::Notifier;

#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test alert through one configured notifier and print what the service answered.
    Test {
        /// The notifier's name under `notify.notifiers`.
        name: String,
        /// The agent or collector config that configures it (told apart by their keys).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Read the file as a collector config whatever its keys.
        #[arg(long)]
        collector: bool,
    },
}

/// The alert `notify test` sends.
fn test_alert() -> Alert {
    use logward_core::Clock;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let e = Event {
        timestamp: Some(SystemClock.now()),
        host_name: Some(host.into()),
        source_ip: "192.0.2.1".parse().ok(),
        source_address: Some("192.0.2.1".into()),
        user_name: Some("logward-test".into()),
        ..Event::default()
    };
    let mut a = Alert::new(
        e,
        "logward-test",
        "logward test",
        Severity::Info,
        "a test alert from `logward notify test`: delivery works".to_owned(),
    );
    a.tags.push("test".into());
    a
}

pub fn run(args: NotifyArgs) -> anyhow::Result<i32> {
    let NotifyCommand::Test {
        name,
        config,
        collector,
    } = args.command;
    let text = crate::config_kind::read(&config)?;
    let n = match crate::config_kind::detect(&text, collector) {
        #[cfg(feature = "collector")]
        crate::config_kind::Kind::Collector => match logward_collector::config::load(&config) {
            Ok(c) => c.notify,
            Err(errors) => {
                for e in &errors {
                    eprintln!("{e}");
                }
                return Ok(1);
            }
        },
        #[cfg(not(feature = "collector"))]
        crate::config_kind::Kind::Collector => {
            return Ok(crate::config_kind::no_collector(&config))
        }
        crate::config_kind::Kind::Rules => {
            eprintln!(
                "logward: {} is a rules file: give the agent or collector config that has \
                 `notify:`",
                config.display()
            );
            return Ok(1);
        }
        crate::config_kind::Kind::Agent => match logward_agent::config::load(&config) {
            Ok(l) => l.config.notify,
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{e}");
                }
                if let Some(h) = crate::config_kind::mixed_hint(&text) {
                    eprintln!("{h}");
                }
                return Ok(1);
            }
        },
    };
    let n = &n;
    let Some(c) = n.notifiers.get(&name) else {
        let known: Vec<_> = n.notifiers.keys().map(String::as_str).collect();
        eprintln!(
            "logward: no notifier `{name}` in {} (configured: {})",
            config.display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
        return Ok(1);
    };
    let notifier = Notifier::build(&name, &c.value, n.language).map_err(anyhow::Error::msg)?;
    let mut json = Vec::new();
    logward_core::write_alert(&mut json, &test_alert());
    let item = Item::from_json(serde_json::from_slice(&json)?, 1);
    let key = format!("logward-test-{}", chrono::Utc::now().timestamp_millis());
    let msg = Message::render(&[item], &notifier.templates, key)
        .ok_or_else(|| anyhow::anyhow!("nothing to render"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(notifier.send(&msg));
    let mut out = std::io::stdout().lock();
    match result {
        Ok(sent) => {
            writeln!(
                out,
                "{name} ({}): delivered, status {}",
                notifier.kind(),
                sent.status
            )?;
            if !sent.answer.trim().is_empty() {
                writeln!(out, "answer: {}", sent.answer.trim())?;
            }
            Ok(0)
        }
        Err(e) => {
            let class = match &e {
                logward_notify::SendError::Transient { .. } => "transient (would be retried)",
                logward_notify::SendError::RateLimited { .. } => "rate limited (would wait)",
                logward_notify::SendError::Permanent { .. } => "refused (would not be retried)",
            };
            writeln!(
                out,
                "{name} ({}): NOT delivered, {class}: {e}",
                notifier.kind()
            )?;
            Ok(1)
        }
    }
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The running daemon's state directory.
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Deliveries, newest first.
    List {
        /// pending, sent or failed [default: all].
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue failed deliveries again (of one notifier, or all).
    Retry {
        #[arg(long)]
        notifier: Option<String>,
    },
    /// Delete delivered (`sent`) or given-up (`failed`) rows.
    Purge {
        #[arg(value_parser = ["sent", "failed"])]
        state: String,
    },
}

pub fn outbox(args: OutboxArgs) -> anyhow::Result<i32> {
    let dir = args
        .state_dir
        .unwrap_or_else(logward_agent::daemon::default_state_dir);
    let req = match args.command {
        OutboxCommand::List { state, limit } => Request::OutboxList {
            state,
            limit: Some(limit),
        },
        OutboxCommand::Retry { notifier } => Request::OutboxRetry { notifier },
        OutboxCommand::Purge { state } => Request::OutboxPurge { state },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resp = rt.block_on(control::request(&dir, &req, Duration::from_secs(30)))?;
    if !resp.ok {
        eprintln!("logward: {}", resp.error.unwrap_or_else(|| "failed".into()));
        return Ok(1);
    }
    let mut out = std::io::stdout().lock();
    if let Request::OutboxList { .. } = req {
        writeln!(
            out,
            "id\talert\tnotifier\tstate\tattempts\tnext\trule\terror"
        )?;
        for o in &resp.outbox {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                o.id,
                o.alert_id,
                o.notifier,
                o.state,
                o.attempts,
                chrono::DateTime::from_timestamp(o.next_attempt_at, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                o.rule_id.as_deref().unwrap_or("-"),
                o.last_error.as_deref().unwrap_or("")
            )?;
        }
    } else if let Some(m) = resp.message {
        writeln!(out, "{m}")?;
    }
    Ok(0)
}
