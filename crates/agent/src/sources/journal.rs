//! The *journal* source: `journalctl -o json` followed from the checkpointed cursor.
//!
//! - **Matches** are on `SYSLOG_IDENTIFIER` (sshd, sudo, useradd …), never on unit names,
//!   which differ by distribution (`ssh.service` on Debian, `sshd.service` elsewhere);
//!   repeated matches of one field are OR-ed by journalctl. An empty list reads every entry.
//! - **Position**: after the checkpoint's cursor (`--after-cursor`); with no checkpoint,
//!   `start_at: end` (the default) asks `journalctl -n 1` for the cursor of the newest entry
//!   and follows after it (so nothing written between that and the follower is missed),
//!   `start_at: beginning` reads everything. `--no-tail` is always given: with `--follow`,
//!   journalctl otherwise shows only the last 10 entries after a cursor.
//! - **Items**: every line is one entry, sent as [`Payload::Line`] with a checkpoint holding
//!   its `__CURSOR`; the source resumes after the last entry it *sent*. A line cut short
//!   (journalctl killed mid-write) has no newline and is dropped: its entry is read again.
//! - **Restarts**: when journalctl exits or dies it is started again from the last cursor
//!   after a capped exponential backoff, with its exit status and last stderr line logged.
//! - **Files**: journalctl cannot `--follow` journals opened with `--file` (systemd 252 says
//!   "Failed to get journal fd" and exits 0), so with `files` the source reads to the end,
//!   then polls again from the cursor every `poll_interval`. `--directory` follows normally.
//! - `--all` is given so fields over 4 KiB are not shown as `null` (a long MESSAGE would be
//!   lost); lines are kept up to [`MAX_ENTRY`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_core::clock::unix_now;
use logward_store::Checkpoint;
use serde::Deserialize;
use tokio::io::{AsyncRead, BufReader};
use tokio::sync::mpsc::Sender;

use super::command::{
    line_text, log_stderr, pause, read_line_capped, reap, send, validate_argv, Backoff,
    ConfigError, Delay, Gone, LineEnd, ProcessStats,
};
use super::{Payload, SourceItem};
use crate::process;

/// Largest journal entry line kept (JSON of one entry with `--all`); longer ones are skipped
/// and counted.
pub const MAX_ENTRY: usize = 1 << 20;

/// The identifiers matched by default: the programs whose messages logward decodes, as they
/// name themselves in the journal (a program logged under another name — a second Postfix
/// instance, a Drupal site's own identity — needs `identifiers:`, or `[]` for every entry).
pub const DEFAULT_IDENTIFIERS: &[&str] = &[
    // Logins, privileges, accounts.
    "sshd",
    "sshd-session",
    "sshd-auth",
    "dropbear",
    "xrdp",
    "xrdp-sesman",
    "login",
    "systemd-logind",
    "sudo",
    "su",
    "doas",
    "unix_chkpwd",
    "useradd",
    "userdel",
    "usermod",
    "groupadd",
    "groupdel",
    "groupmod",
    "gpasswd",
    "groupmems",
    "passwd",
    "chpasswd",
    "chgpasswd",
    "newusers",
    "chage",
    "chsh",
    "chfn",
    // Mail.
    "postfix/smtpd",
    "postfix/submission/smtpd",
    "postfix/smtps/smtpd",
    "postfix/postscreen",
    "postfix/anvil",
    "dovecot",
    "exim",
    "exim4",
    "sendmail",
    "sm-mta",
    "imapd",
    "pop3d",
    "ipop3d",
    "cyrus/imap",
    "cyrus/pop3",
    "sieve",
    "timsieved",
    "roundcube",
    // FTP, web, databases, VPN, VoIP, DNS, others.
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "ftpd",
    "nginx",
    "httpd",
    "apache2",
    "lighttpd",
    "haproxy",
    "mysqld",
    "mariadbd",
    "openvpn",
    "asterisk",
    "freeswitch",
    "named",
    "portsentry",
    "fail2ban-server",
    "webmin",
    "monit",
    "grafana-server",
    "grafana",
    "vaultwarden",
    "phpMyAdmin",
    "drupal",
];

pub use super::StartAt;

/// A journal source as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// `SYSLOG_IDENTIFIER` values to read (OR-ed); empty reads every entry.
    #[serde(default = "default_identifiers")]
    pub identifiers: Vec<String>,
    /// Read the journal files of this directory (`--directory`) instead of the system's.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Read these journal files (`--file`); polled, since journalctl cannot follow them.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    #[serde(default)]
    pub start_at: StartAt,
    /// The journalctl program (argv prefix: a path, or a wrapper and its arguments).
    #[serde(default = "default_journalctl")]
    pub journalctl: Vec<String>,
    /// Delays between restarts of journalctl.
    #[serde(skip)]
    pub backoff: Backoff,
    /// With `files`: how often to look for new entries.
    #[serde(skip, default = "default_poll")]
    pub poll_interval: Duration,
}

fn default_identifiers() -> Vec<String> {
    DEFAULT_IDENTIFIERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn default_journalctl() -> Vec<String> {
    vec!["journalctl".to_owned()]
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            identifiers: default_identifiers(),
            directory: None,
            files: Vec::new(),
            start_at: StartAt::End,
            journalctl: default_journalctl(),
            backoff: Backoff::default(),
            poll_interval: default_poll(),
        }
    }
}

impl JournalConfig {
    fn check(&self) -> Result<(), ConfigError> {
        validate_argv(&self.journalctl)?;
        for ident in &self.identifiers {
            if ident.is_empty() || ident.len() > 255 || ident.chars().any(char::is_control) {
                return Err(ConfigError::Invalid(format!(
                    "identifier {ident:?}: must be 1 to 255 characters without control characters"
                )));
            }
        }
        for path in self.directory.iter().chain(&self.files) {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::Invalid("an empty journal path".to_owned()));
            }
        }
        Ok(())
    }

    /// journalctl's arguments before the position and the matches.
    fn base_argv(&self) -> Vec<String> {
        let mut argv = self.journalctl.clone();
        argv.extend(["--output=json", "--all", "--quiet", "--no-pager"].map(str::to_owned));
        if let Some(dir) = &self.directory {
            argv.push(format!("--directory={}", dir.display()));
        }
        for file in &self.files {
            argv.push(format!("--file={}", file.display()));
        }
        argv
    }

    /// The follower's argv: from after `cursor` (or from the beginning), with the matches.
    fn follow_argv(&self, cursor: Option<&str>) -> Vec<String> {
        let mut argv = self.base_argv();
        if self.files.is_empty() {
            argv.push("--follow".to_owned());
        }
        argv.push("--no-tail".to_owned());
        if let Some(c) = cursor {
            argv.push(format!("--after-cursor={c}"));
        }
        argv.extend(
            self.identifiers
                .iter()
                .map(|i| format!("SYSLOG_IDENTIFIER={i}")),
        );
        argv
    }
}

/// The `__CURSOR` of a `journalctl -o json` line, found without parsing the JSON.
///
/// The exact bytes `"__CURSOR":"` can only be the key: inside a JSON string every `"` is
/// escaped, so a value that mentions `"__CURSOR":"` reads `\"__CURSOR\":\"`, and field names
/// are upper-case letters, digits and `_`. A cursor holds no `"` or `\`.
pub fn cursor_of(line: &str) -> Option<&str> {
    const KEY: &str = "\"__CURSOR\":\"";
    let start = line.find(KEY)? + KEY.len();
    let rest = &line[start..];
    let end = rest.find('"')?;
    let cursor = &rest[..end];
    (!cursor.is_empty() && !cursor.contains('\\')).then_some(cursor)
}

/// Whether `cursor` has the shape journalctl accepts (`s=…;i=…;b=…;m=…;t=…;x=…`), so a
/// damaged checkpoint cannot make every start fail.
pub fn plausible_cursor(cursor: &str) -> bool {
    let mut keys = 0;
    for part in cursor.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            return false;
        };
        if !matches!(k, "s" | "i" | "b" | "m" | "t" | "x")
            || v.is_empty()
            || !v.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return false;
        }
        keys += 1;
    }
    keys == 6
}

/// Follows the journal.
#[derive(Debug)]
pub struct JournalSource {
    id: Arc<str>,
    config: JournalConfig,
    stats: Arc<ProcessStats>,
}

/// How one journalctl run ended.
enum RunEnd {
    /// It exited (status and last stderr line).
    Exited {
        status: String,
        success: bool,
        stderr: Option<String>,
    },
    /// It could not be started.
    NotStarted,
}

impl JournalSource {
    /// A source with id `id` (`journal` by default); refuses an invalid configuration.
    pub fn new(
        id: impl Into<Arc<str>>,
        config: JournalConfig,
    ) -> Result<JournalSource, ConfigError> {
        config.check()?;
        Ok(JournalSource {
            id: id.into(),
            config,
            stats: Arc::default(),
        })
    }

    /// Counters, and the pid of the running journalctl.
    pub fn stats(&self) -> Arc<ProcessStats> {
        Arc::clone(&self.stats)
    }

    /// The argv the follower would run from `cursor` (for logs and tests).
    pub fn argv(&self, cursor: Option<&str>) -> Vec<String> {
        self.config.follow_argv(cursor)
    }

    /// Runs until the receiving end of `tx` is dropped, resuming after `checkpoint`'s cursor.
    pub async fn run(self, checkpoint: Option<Checkpoint>, tx: Sender<SourceItem>) {
        let mut cursor = checkpoint.and_then(|c| c.cursor);
        if let Some(c) = &cursor {
            if !plausible_cursor(c) {
                tracing::error!(source = %self.id, cursor = %c, start_at = ?self.config.start_at,
                    "the checkpointed journal cursor is malformed; starting as if there were none");
                cursor = None;
            }
        }
        // With no cursor and start_at: end, the position is the newest entry's cursor.
        let mut resolved = cursor.is_some() || self.config.start_at == StartAt::Beginning;
        let mut delay = Delay::new(self.config.backoff);
        let mut buf = Vec::new();
        loop {
            if !resolved {
                match self.newest_cursor().await {
                    Ok(newest) => {
                        tracing::info!(source = %self.id, cursor = newest.as_deref().unwrap_or("(empty journal)"),
                            "no checkpoint: following from the end of the journal");
                        cursor = newest;
                        resolved = true;
                    }
                    Err(e) => {
                        let wait = delay.after_run(Duration::ZERO);
                        tracing::warn!(source = %self.id, restart_in = ?wait, "cannot find the end of the journal: {e}");
                        if !pause(&tx, wait).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let started = Instant::now();
            let end = match self.run_once(&mut cursor, &tx, &mut buf).await {
                Err(Gone) => return,
                Ok(end) => end,
            };
            let polling = !self.config.files.is_empty();
            let wait = match end {
                RunEnd::Exited { success: true, .. } if polling => {
                    // Read to the end of the files: look again later.
                    delay.reset();
                    self.config.poll_interval
                }
                RunEnd::Exited { status, stderr, .. } => {
                    let wait = delay.after_run(started.elapsed());
                    tracing::warn!(
                        source = %self.id,
                        %status,
                        stderr = stderr.as_deref().unwrap_or(""),
                        cursor = cursor.as_deref().unwrap_or(""),
                        restart_in = ?wait,
                        "journalctl exited; restarting after the last cursor"
                    );
                    wait
                }
                RunEnd::NotStarted => delay.after_run(Duration::ZERO),
            };
            if !pause(&tx, wait).await {
                return;
            }
        }
    }

    /// The cursor of the newest entry (any identifier), `None` for an empty journal.
    async fn newest_cursor(&self) -> Result<Option<String>, String> {
        let mut argv = self.config.base_argv();
        argv.push("--lines=1".to_owned());
        let out = process::run(&argv, b"", Duration::from_secs(60))
            .await
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{}: {}", out.status, out.stderr_text(512)));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().find(|l| !l.trim().is_empty()) {
            None => Ok(None),
            Some(line) => cursor_of(line)
                .map(|c| Some(c.to_owned()))
                .ok_or_else(|| "journalctl printed an entry without __CURSOR".to_owned()),
        }
    }

    /// Starts journalctl after `cursor` and sends its entries until it exits; `cursor` follows
    /// the entries sent.
    async fn run_once(
        &self,
        cursor: &mut Option<String>,
        tx: &Sender<SourceItem>,
        buf: &mut Vec<u8>,
    ) -> Result<RunEnd, Gone> {
        let argv = self.config.follow_argv(cursor.as_deref());
        let mut child = match process::spawn_reader(&argv) {
            Ok(child) => child,
            Err(e) => {
                self.stats.spawn_failed();
                tracing::warn!(source = %self.id, "{e}");
                return Ok(RunEnd::NotStarted);
            }
        };
        self.stats.started(child.id());
        tracing::debug!(source = %self.id, pid = ?child.id(), argv = ?argv, "journalctl started");
        let program = argv.first().cloned().unwrap_or_default();
        let stderr = log_stderr(&mut child, Arc::clone(&self.id), program, self.stats());
        if let Some(stdout) = child.stdout.take() {
            self.follow(stdout, cursor, tx, buf).await?;
        }
        let exit = reap(&mut child, stderr).await;
        self.stats.exited();
        Ok(RunEnd::Exited {
            success: exit.success(),
            status: exit.text,
            stderr: exit.stderr,
        })
    }

    async fn follow<R: AsyncRead + Unpin>(
        &self,
        stdout: R,
        cursor: &mut Option<String>,
        tx: &Sender<SourceItem>,
        buf: &mut Vec<u8>,
    ) -> Result<(), Gone> {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        loop {
            let end = tokio::select! {
                end = read_line_capped(&mut reader, buf, MAX_ENTRY) => end,
                _ = tx.closed() => return Err(Gone),
            };
            match end {
                Ok(LineEnd::Complete { cut: false }) => {}
                Ok(LineEnd::Complete { cut: true }) => {
                    self.stats.cut();
                    tracing::warn!(source = %self.id, max = MAX_ENTRY, "journal entry too long; skipped");
                    continue;
                }
                Ok(LineEnd::Partial { .. }) => {
                    // journalctl died mid-write: the entry is read again after the cursor.
                    tracing::debug!(source = %self.id, "incomplete last line dropped");
                    return Ok(());
                }
                Ok(LineEnd::Eof) => return Ok(()),
                Err(e) => {
                    tracing::warn!(source = %self.id, "reading journalctl's output: {e}");
                    return Ok(());
                }
            }
            let line = line_text(buf, false);
            if line.trim().is_empty() {
                continue;
            }
            let Some(c) = cursor_of(&line).map(str::to_owned) else {
                self.stats.bad();
                tracing::warn!(source = %self.id, "journalctl line without __CURSOR skipped");
                continue;
            };
            let checkpoint = Checkpoint {
                cursor: Some(c.clone()),
                ..Checkpoint::new(&*self.id, unix_now())
            };
            let item = SourceItem {
                source: Arc::clone(&self.id),
                payload: Payload::Line(line),
                checkpoint: Some(checkpoint),
            };
            if !send(tx, item).await {
                return Err(Gone);
            }
            *cursor = Some(c);
            self.stats.line();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_found_only_as_the_key() {
        let line = r#"{"MESSAGE":"x \"__CURSOR\":\"evil\" y","__CURSOR":"s=ab;i=1;b=cd;m=1;t=2;x=3","_PID":"1"}"#;
        assert_eq!(cursor_of(line), Some("s=ab;i=1;b=cd;m=1;t=2;x=3"));
        assert_eq!(cursor_of(r#"{"MESSAGE":"no cursor"}"#), None);
        assert_eq!(cursor_of(r#"{"__CURSOR":""}"#), None);
    }

    #[test]
    fn cursor_shape() {
        assert!(plausible_cursor(
            "s=5007dceadff645059d4249f253bb7637;i=1;b=0123456789abcdef0123456789abcdef;m=f4240;t=60a24181e4000;x=23c462a343877491"
        ));
        for bad in [
            "",
            "garbage",
            "s=1;i=2",
            "s=1;i=2;b=3;m=4;t=5;x=6;y=7",
            "s=g;i=2;b=3;m=4;t=5;x=6",
        ] {
            assert!(!plausible_cursor(bad), "{bad}");
        }
    }

    #[test]
    fn argv_follows_from_the_cursor_with_or_ed_identifier_matches() {
        let config = JournalConfig {
            identifiers: vec!["sshd".into(), "sudo".into()],
            directory: Some(PathBuf::from("/j")),
            ..JournalConfig::default()
        };
        let src = JournalSource::new("journal", config).unwrap();
        assert_eq!(
            src.argv(Some("s=1")),
            [
                "journalctl",
                "--output=json",
                "--all",
                "--quiet",
                "--no-pager",
                "--directory=/j",
                "--follow",
                "--no-tail",
                "--after-cursor=s=1",
                "SYSLOG_IDENTIFIER=sshd",
                "SYSLOG_IDENTIFIER=sudo",
            ]
        );
        let files = JournalConfig {
            files: vec![PathBuf::from("/a.journal")],
            identifiers: Vec::new(),
            ..JournalConfig::default()
        };
        let argv = JournalSource::new("journal", files).unwrap().argv(None);
        assert!(!argv.iter().any(|a| a == "--follow"), "{argv:?}");
        assert!(argv.iter().any(|a| a == "--file=/a.journal"));
    }

    #[test]
    fn bad_configs_are_refused() {
        let with = |f: fn(&mut JournalConfig)| {
            let mut c = JournalConfig::default();
            f(&mut c);
            JournalSource::new("journal", c).map(|_| ())
        };
        assert!(with(|c| c.identifiers.push(String::new())).is_err());
        assert!(with(|c| c.identifiers.push("a\nb".into())).is_err());
        assert!(with(|c| c.journalctl.clear()).is_err());
        assert!(with(|c| c.files.push(PathBuf::new())).is_err());
        assert!(with(|_| {}).is_ok());
    }
}
