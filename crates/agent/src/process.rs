//! The one module that spawns processes (DESIGN.md "Commands, never shells").
//!
//! Every external program logward runs — `nft`, `journalctl`, exec actions, command sources —
//! is started here, from an argv array: the first element is the program, the rest are its
//! arguments, each passed to `execve` as one string. No shell is ever involved, so no quoting,
//! globbing, `;` or `$(…)` in an argument has any meaning.
//!
//! Text that comes from a log line must never become an argument unchecked: a typed value
//! (an `IpAddr`, a number) rendered by logward is safe; anything else goes through
//! [`checked_arg`] first, which refuses what could change the meaning of an argv (an option
//! look-alike, control characters, NUL).
//!
//! Two ways to run a program:
//! - [`run`]: feed it some bytes on stdin, capture stdout and stderr, kill it after a timeout.
//! - [`spawn`]: start a long-lived child with piped stdin (and stdout when asked) that the
//!   caller drives; it is killed when its handle is dropped.
//! - [`spawn_reader`]: start a long-lived child whose stdout and stderr the caller reads
//!   (sources that follow a program's output).

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// Why a program could not be run to completion.
///
/// `Clone` (the I/O error sits behind an `Arc`) so one failure can be reported to every caller
/// whose request was part of the same batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProcessError {
    /// The argv array had no program.
    #[error("empty argv: no program to run")]
    EmptyArgv,
    /// The program could not be started (not found, not executable, …).
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// Talking to the running program failed.
    #[error("i/o with {program}: {source}")]
    Io {
        program: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// The program did not finish in time; it has been killed.
    #[error("{program} did not finish within {after:?}; killed")]
    Timeout { program: String, after: Duration },
}

/// What a finished program left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// stderr as text (lossy), trimmed, cut to `max` bytes on a character boundary so a
    /// runaway error message cannot flood a log line or an alert.
    pub fn stderr_text(&self, max: usize) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let text = text.trim();
        if text.len() <= max {
            return text.to_owned();
        }
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes in all)", &text[..end], text.len())
    }
}

/// An argument derived from untrusted text was refused by [`checked_arg`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused argument {shown:?}: {reason}")]
pub struct ArgError {
    /// The refused text, cut to 64 characters for display.
    pub shown: String,
    pub reason: &'static str,
}

/// Checks that `text` (from a log line, a template…) is safe as one argv element: not empty,
/// not starting with `-` (it would be read as an option), no NUL or other control character,
/// at most 4 KiB. Returns the text unchanged when it is.
pub fn checked_arg(text: &str) -> Result<&str, ArgError> {
    let refuse = |reason| {
        Err(ArgError {
            shown: text.chars().take(64).collect(),
            reason,
        })
    };
    if text.is_empty() {
        return refuse("empty");
    }
    if text.starts_with('-') {
        return refuse("starts with '-' (would be read as an option)");
    }
    if text.len() > 4096 {
        return refuse("longer than 4096 bytes");
    }
    if text.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    Ok(text)
}

/// Which of a long-lived child's standard streams are piped to logward.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pipes {
    /// Pipe stdin (else it reads from /dev/null).
    pub stdin: bool,
    /// Pipe stdout (else it is discarded).
    pub stdout: bool,
}

/// The only place a `Command` is created.
///
/// `std::process::Command::new` is forbidden everywhere else by clippy's `disallowed-methods`
/// (clippy.toml) so that every program logward starts goes through this module's argv-only
/// functions; this is the one sanctioned call. The tokio command is built from the std one so
/// the rule covers it too.
#[allow(clippy::disallowed_methods)]
fn command(argv: &[String]) -> Result<tokio::process::Command, ProcessError> {
    let (program, args) = argv.split_first().ok_or(ProcessError::EmptyArgv)?;
    let mut std_cmd = std::process::Command::new(program);
    std_cmd.args(args);
    let mut cmd = tokio::process::Command::from(std_cmd);
    // A child must never outlive the handle that owns it (timeouts, dropped sources).
    cmd.kill_on_drop(true);
    Ok(cmd)
}

fn program_name(argv: &[String]) -> String {
    argv.first().cloned().unwrap_or_default()
}

/// Runs `argv` with `input` on its stdin, capturing stdout and stderr; kills it when it has
/// not finished after `timeout`. A non-zero exit status is not an error here: it is in the
/// returned [`Output`] for the caller to judge.
///
/// stdin is written while stdout and stderr are read, so a large input and a chatty program
/// cannot dead-lock on full pipes.
pub async fn run(argv: &[String], input: &[u8], timeout: Duration) -> Result<Output, ProcessError> {
    let program = program_name(argv);
    let mut cmd = command(argv)?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| ProcessError::Spawn {
        program: program.clone(),
        source: Arc::new(e),
    })?;
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // The program may exit without reading all of its input (e.g. on a parse error):
            // a broken pipe is then not our failure, its exit status and stderr tell the story.
            match stdin.write_all(input).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e),
            }
            match stdin.shutdown().await {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
        }
        Ok(())
    };
    let finished = async { tokio::join!(feed, child.wait_with_output()) };
    match tokio::time::timeout(timeout, finished).await {
        // The future (and with it the child, kill_on_drop) is dropped: the process is killed.
        Err(_) => Err(ProcessError::Timeout {
            program,
            after: timeout,
        }),
        Ok((fed, out)) => {
            let out = out.map_err(|e| ProcessError::Io {
                program: program.clone(),
                source: Arc::new(e),
            })?;
            fed.map_err(|e| ProcessError::Io {
                program,
                source: Arc::new(e),
            })?;
            Ok(Output {
                status: out.status,
                stdout: out.stdout,
                stderr: out.stderr,
            })
        }
    }
}

/// Starts a long-lived child from `argv` with the chosen pipes; stderr is inherited (it goes
/// to logward's own log stream). The child is killed when the returned handle is dropped.
pub fn spawn(argv: &[String], pipes: Pipes) -> Result<tokio::process::Child, ProcessError> {
    let program = program_name(argv);
    let mut cmd = command(argv)?;
    let io = |piped: bool| if piped { Stdio::piped() } else { Stdio::null() };
    cmd.stdin(io(pipes.stdin)).stdout(io(pipes.stdout));
    cmd.spawn().map_err(|e| ProcessError::Spawn {
        program,
        source: Arc::new(e),
    })
}

/// Starts a long-lived child from `argv` whose stdout and stderr are both piped to logward
/// (stdin reads from /dev/null): for sources that follow a program's output (journalctl,
/// command sources) and log what it says on stderr themselves. The child is killed when the
/// returned handle is dropped.
pub fn spawn_reader(argv: &[String]) -> Result<tokio::process::Child, ProcessError> {
    let program = program_name(argv);
    let mut cmd = command(argv)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().map_err(|e| ProcessError::Spawn {
        program,
        source: Arc::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn argv(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[tokio::test]
    async fn run_feeds_stdin_and_captures_both_streams() {
        let input = vec![b'x'; 1 << 20]; // larger than a pipe buffer
        let out = run(&argv(&["cat"]), &input, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), input.len());

        let out = run(
            &argv(&["ls", "/nonexistent-logward-path"]),
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(!out.status.success());
        assert!(!out.stderr.is_empty());
    }

    #[tokio::test]
    async fn arguments_are_never_interpreted_by_a_shell() {
        let out = run(
            &argv(&["echo", "a; echo injected $(id) `id` | cat"]),
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, b"a; echo injected $(id) `id` | cat\n");
    }

    #[tokio::test]
    async fn timeout_kills_the_program() {
        let t0 = std::time::Instant::now();
        let err = run(&argv(&["sleep", "30"]), b"", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::Timeout { .. }), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn missing_program_and_empty_argv_are_errors() {
        let err = run(
            &argv(&["logward-no-such-program"]),
            b"",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProcessError::Spawn { .. }), "{err}");
        let err = run(&[], b"", Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(err, ProcessError::EmptyArgv));
    }

    #[tokio::test]
    async fn spawn_gives_a_child_with_piped_stdin() {
        let mut child = spawn(
            &argv(&["cat"]),
            Pipes {
                stdin: true,
                stdout: true,
            },
        )
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"first\n").await.unwrap();
        drop(stdin);
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .await
            .unwrap();
        assert_eq!(text, "first\n");
        assert!(child.wait().await.unwrap().success());
    }

    #[test]
    fn checked_arg_refuses_what_could_change_an_argv() {
        assert_eq!(checked_arg("alice"), Ok("alice"));
        assert_eq!(checked_arg("a b; c"), Ok("a b; c"));
        for bad in ["", "-rf", "--exec=x", "a\nb", "a\0b", "\u{1b}[31m"] {
            assert!(checked_arg(bad).is_err(), "{bad:?}");
        }
        assert!(checked_arg(&"a".repeat(5000)).is_err());
    }

    #[test]
    fn stderr_is_cut_on_a_character_boundary() {
        let out = Output {
            status: std::process::ExitStatus::default(),
            stdout: Vec::new(),
            stderr: "ééééé".as_bytes().to_vec(),
        };
        assert_eq!(out.stderr_text(100), "ééééé");
        assert!(out.stderr_text(3).starts_with("é…"));
    }
}
