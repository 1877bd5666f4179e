//! The *command* source: a program, given as an argv array (never a shell), whose stdout is
//! followed line by line, as reaction's streams are. When the program exits it is started
//! again after a capped exponential backoff; what it writes on stderr is logged. Its lines
//! carry no checkpoint (a program's output cannot be resumed).
//!
//! This module also holds what every process-following source shares (the journal source
//! uses it too): [`Backoff`], the capped line reader, the stderr logger and [`ProcessStats`].

use std::io;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc::Sender;

use super::{Payload, SourceItem};
use crate::process;

/// A command source as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The program and its arguments, each one argv element; no shell is involved.
    pub argv: Vec<String>,
    /// Start the program again when it exits (after [`Backoff`]); `false` ends the source.
    #[serde(default = "default_restart")]
    pub restart: bool,
    /// Delays between restarts (not configurable in YAML yet; tests shorten them).
    #[serde(skip)]
    pub backoff: Backoff,
}

fn default_restart() -> bool {
    true
}

/// A configuration the source refuses before running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("argv is empty: a command source needs a program")]
    EmptyArgv,
    #[error("argv[0] {0:?} is not a program name")]
    BadProgram(String),
    #[error("argv[{index}] contains a NUL byte")]
    Nul { index: usize },
    #[error("{0}")]
    Invalid(String),
}

/// Checks an argv array: a program that is neither empty nor option-like, no NUL anywhere
/// (`execve` could not pass it).
pub fn validate_argv(argv: &[String]) -> Result<(), ConfigError> {
    let program = argv.first().ok_or(ConfigError::EmptyArgv)?;
    if program.trim().is_empty() || program.starts_with('-') {
        return Err(ConfigError::BadProgram(program.clone()));
    }
    if let Some(index) = argv.iter().position(|a| a.contains('\0')) {
        return Err(ConfigError::Nul { index });
    }
    Ok(())
}

/// Capped exponential backoff between restarts of a program: `initial`, doubled after each
/// quick exit up to `max`; back to `initial` once a run lasted `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(10),
        }
    }
}

/// The running state of a [`Backoff`].
#[derive(Debug, Clone)]
pub(crate) struct Delay {
    reset_after: Duration,
    steps: logward_core::backoff::Backoff,
}

impl Delay {
    pub(crate) fn new(backoff: Backoff) -> Delay {
        Delay {
            reset_after: backoff.reset_after,
            steps: logward_core::backoff::Backoff::new(backoff.initial, backoff.max),
        }
    }

    /// The delay before the next start, given how long the last run lasted.
    pub(crate) fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= self.reset_after {
            self.steps.reset();
        }
        self.steps.next_wait()
    }

    /// Forget earlier failures (a run that ended normally).
    pub(crate) fn reset(&mut self) {
        self.steps.reset();
    }
}

/// Counters of a source that runs a program, shared with whoever watches it (metrics, tests).
#[derive(Debug, Default)]
pub struct ProcessStats {
    pid: AtomicU32,
    starts: AtomicU64,
    exits: AtomicU64,
    spawn_failures: AtomicU64,
    lines: AtomicU64,
    truncated: AtomicU64,
    invalid: AtomicU64,
    stderr_lines: AtomicU64,
}

impl ProcessStats {
    /// The pid of the running child, if one is running.
    pub fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Relaxed) {
            0 => None,
            pid => Some(pid),
        }
    }
    /// Children started.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }
    /// Children that exited (or died) while followed.
    pub fn exits(&self) -> u64 {
        self.exits.load(Ordering::Relaxed)
    }
    /// Attempts to start the program that failed (not found, not executable…).
    pub fn spawn_failures(&self) -> u64 {
        self.spawn_failures.load(Ordering::Relaxed)
    }
    /// Lines sent into the pipeline.
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }
    /// Lines longer than the source's limit, cut (or, for the journal, skipped).
    pub fn truncated(&self) -> u64 {
        self.truncated.load(Ordering::Relaxed)
    }
    /// Lines the source could not use (journal lines without a cursor, cut entries).
    pub fn invalid(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }
    /// Lines the program wrote on stderr (each logged).
    pub fn stderr_lines(&self) -> u64 {
        self.stderr_lines.load(Ordering::Relaxed)
    }

    pub(crate) fn started(&self, pid: Option<u32>) {
        self.pid.store(pid.unwrap_or(0), Ordering::Relaxed);
        self.starts.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn exited(&self) {
        self.pid.store(0, Ordering::Relaxed);
        self.exits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn spawn_failed(&self) {
        self.spawn_failures.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn line(&self) {
        self.lines.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn cut(&self) {
        self.truncated.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bad(&self) {
        self.invalid.fetch_add(1, Ordering::Relaxed);
    }
}

/// How a call to [`read_line_capped`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// A line ending in `\n` (the newline is not kept); `cut` when bytes past the limit
    /// were dropped.
    Complete { cut: bool },
    /// Bytes without a newline before the end of the input.
    Partial { cut: bool },
    /// The end of the input, nothing read.
    Eof,
}

/// Reads one line into `buf` (cleared first), keeping at most `max` bytes of it: the rest
/// up to the newline is read and dropped, so memory stays bounded whatever the input.
pub(crate) async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineEnd> {
    buf.clear();
    let mut cut = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() && !cut {
                LineEnd::Eof
            } else {
                LineEnd::Partial { cut }
            });
        }
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            return Ok(LineEnd::Complete { cut });
        }
    }
}

/// A line's bytes as text, as every reader makes it ([`logward_parse::lines`]): a trailing
/// `\r` dropped, invalid UTF-8 replaced, a character split by the cap (`cut`) dropped.
pub(crate) fn line_text(bytes: &[u8], cut: bool) -> String {
    logward_parse::lines::decode_capped(bytes, cut, usize::MAX)
        .text
        .into_owned()
}

/// Longest stderr line logged as is (the rest is cut).
const STDERR_LINE_MAX: usize = 1024;

/// Logs every line `child` writes on stderr (WARN, with the source and program) and returns
/// the last one, to explain an exit.
pub(crate) fn log_stderr(
    child: &mut Child,
    source: Arc<str>,
    program: String,
    stats: Arc<ProcessStats>,
) -> Option<tokio::task::JoinHandle<Option<String>>> {
    let stderr = child.stderr.take()?;
    Some(tokio::spawn(async move {
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        let mut last = None;
        loop {
            match read_line_capped(&mut reader, &mut buf, STDERR_LINE_MAX).await {
                Ok(LineEnd::Eof) | Err(_) => return last,
                Ok(LineEnd::Complete { cut } | LineEnd::Partial { cut }) => {
                    let text = line_text(&buf, cut);
                    stats.stderr_lines.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(source = %source, program = %program, "stderr: {text}");
                    last = Some(text);
                }
            }
        }
    }))
}

/// How a followed child ended.
#[derive(Debug)]
pub(crate) struct Exit {
    /// Its exit status, when it could be had.
    pub(crate) status: Option<ExitStatus>,
    /// The status as text for logs.
    pub(crate) text: String,
    /// The last line it wrote on stderr.
    pub(crate) stderr: Option<String>,
}

impl Exit {
    pub(crate) fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// After the child closed its stdout: its exit status (waiting a little for it, killing it
/// when it lingers) and its last stderr line.
pub(crate) async fn reap(
    child: &mut Child,
    stderr: Option<tokio::task::JoinHandle<Option<String>>>,
) -> Exit {
    let (status, text) = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) => (Some(status), status.to_string()),
        Ok(Err(e)) => (None, format!("unknown ({e})")),
        Err(_) => {
            // It closed stdout but goes on running: it is of no more use.
            let _ = child.kill().await;
            (None, "closed its stdout; killed".to_owned())
        }
    };
    let stderr = match stderr {
        // A grandchild may hold stderr open; do not wait for it long.
        Some(task) => match tokio::time::timeout(Duration::from_millis(500), task).await {
            Ok(Ok(last)) => last,
            _ => None,
        },
        None => None,
    };
    Exit {
        status,
        text,
        stderr,
    }
}

/// Sends `item`, or tells that the pipeline is gone (the source then ends).
pub(crate) async fn send(tx: &Sender<SourceItem>, item: SourceItem) -> bool {
    tx.send(item).await.is_ok()
}

/// Sleeps `delay`; `false` when the pipeline went away meanwhile.
pub(crate) async fn pause(tx: &Sender<SourceItem>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = tx.closed() => false,
    }
}

/// Follows a command's stdout.
#[derive(Debug)]
pub struct CommandSource {
    id: Arc<str>,
    config: CommandConfig,
    stats: Arc<ProcessStats>,
}

impl CommandSource {
    /// A source with id `id` (the configured name); refuses an invalid argv.
    pub fn new(
        id: impl Into<Arc<str>>,
        config: CommandConfig,
    ) -> Result<CommandSource, ConfigError> {
        validate_argv(&config.argv)?;
        Ok(CommandSource {
            id: id.into(),
            config,
            stats: Arc::default(),
        })
    }

    pub fn stats(&self) -> Arc<ProcessStats> {
        Arc::clone(&self.stats)
    }

    /// Runs until the receiving end of `tx` is dropped (or, with `restart: false`, until the
    /// program exits). A program that cannot be started is retried with the same backoff.
    pub async fn run(self, tx: Sender<SourceItem>) {
        let argv = &self.config.argv;
        let program = argv.first().cloned().unwrap_or_default();
        let mut delay = Delay::new(self.config.backoff);
        let mut buf = Vec::new();
        loop {
            let started = Instant::now();
            let exit = match process::spawn_reader(argv) {
                Err(e) => {
                    self.stats.spawn_failed();
                    tracing::warn!(source = %self.id, "{e}");
                    None
                }
                Ok(mut child) => {
                    self.stats.started(child.id());
                    tracing::info!(source = %self.id, program = %program, pid = ?child.id(), "command started");
                    let stderr = log_stderr(
                        &mut child,
                        Arc::clone(&self.id),
                        program.clone(),
                        Arc::clone(&self.stats),
                    );
                    if let Some(stdout) = child.stdout.take() {
                        if let Err(Gone) = self.follow(stdout, &tx, &mut buf).await {
                            return;
                        }
                    }
                    let exit = reap(&mut child, stderr).await;
                    self.stats.exited();
                    Some(exit)
                }
            };
            let wait = delay.after_run(started.elapsed());
            if !self.config.restart {
                if let Some(exit) = exit {
                    tracing::info!(source = %self.id, program = %program, status = %exit.text, "command exited; not restarted (restart: false)");
                }
                return;
            }
            if let Some(exit) = exit {
                tracing::warn!(
                    source = %self.id,
                    program = %program,
                    status = %exit.text,
                    stderr = exit.stderr.as_deref().unwrap_or(""),
                    restart_in = ?wait,
                    "command exited; restarting"
                );
            }
            if !pause(&tx, wait).await {
                return;
            }
        }
    }

    async fn follow<R: AsyncRead + Unpin>(
        &self,
        stdout: R,
        tx: &Sender<SourceItem>,
        buf: &mut Vec<u8>,
    ) -> Result<(), Gone> {
        let mut reader = BufReader::new(stdout);
        loop {
            let end = tokio::select! {
                end = read_line_capped(&mut reader, buf, logward_parse::MAX_LINE) => end,
                _ = tx.closed() => return Err(Gone),
            };
            let cut = match end {
                Ok(LineEnd::Complete { cut } | LineEnd::Partial { cut }) => cut,
                Ok(LineEnd::Eof) => return Ok(()),
                Err(e) => {
                    tracing::warn!(source = %self.id, "reading the command's stdout: {e}");
                    return Ok(());
                }
            };
            if cut {
                self.stats.cut();
            }
            let item = SourceItem {
                source: Arc::clone(&self.id),
                payload: Payload::Line(line_text(buf, cut)),
                checkpoint: None,
            };
            if !send(tx, item).await {
                return Err(Gone);
            }
            self.stats.line();
        }
    }
}

/// The pipeline dropped its receiver: the source ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gone;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_after_a_long_run() {
        let mut d = Delay::new(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            reset_after: Duration::from_secs(10),
        });
        let quick = Duration::from_millis(1);
        let got: Vec<u128> = (0..5).map(|_| d.after_run(quick).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
        assert_eq!(d.after_run(Duration::from_secs(11)).as_millis(), 100);
        assert_eq!(d.after_run(quick).as_millis(), 200);
        d.reset();
        assert_eq!(d.after_run(quick).as_millis(), 100);
    }

    #[test]
    fn argv_validation() {
        let v = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(validate_argv(&[]), Err(ConfigError::EmptyArgv));
        assert!(matches!(
            validate_argv(&v(&[""])),
            Err(ConfigError::BadProgram(_))
        ));
        assert!(matches!(
            validate_argv(&v(&["-x"])),
            Err(ConfigError::BadProgram(_))
        ));
        assert_eq!(
            validate_argv(&v(&["echo", "a\0b"])),
            Err(ConfigError::Nul { index: 1 })
        );
        assert_eq!(validate_argv(&v(&["tail", "-F", "/x; rm -rf /"])), Ok(()));
    }

    #[tokio::test]
    async fn lines_are_capped_and_partial_lines_reported() {
        let input: &[u8] = b"short\r\nlong-line-here\nno-newline";
        let mut r = BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 8).await.unwrap(),
            LineEnd::Complete { cut: false }
        );
        assert_eq!(line_text(&buf, false), "short");
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 8).await.unwrap(),
            LineEnd::Complete { cut: true }
        );
        assert_eq!(buf, b"long-lin");
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 8).await.unwrap(),
            LineEnd::Partial { cut: true }
        );
        assert_eq!(buf, b"no-newli");
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 8).await.unwrap(),
            LineEnd::Eof
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(line_text(b"a\xffb\r", false), "a\u{fffd}b");
        // A character split by the cap is dropped, not replaced (as scan and files do).
        assert_eq!(
            line_text("ab\u{e9}".as_bytes().get(..3).unwrap(), true),
            "ab"
        );
    }
}
