//! Log output of the daemons (`run`, `collector`): stderr, level from `LOGWARD_LOG` (default
//! info), ANSI colours only on a terminal and never with `NO_COLOR` set — under systemd
//! stderr goes to journald, which would store the escape codes verbatim.

use std::io::IsTerminal;

/// Whether log lines are coloured: stderr is a terminal and `NO_COLOR` is unset or empty
/// (no-color.org).
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

/// Installs the subscriber (a second call is a no-op).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .try_init();
}
