//! The control socket: `<state dir>/control.sock`, a unix stream socket (mode 0600, in the
//! 0700 state directory) through which `logward bans …` act on the running daemon — never on
//! nft behind its back.
//!
//! One request per connection: a JSON object on one line, answered by one JSON line
//! (`{"ok":true,…}` or `{"ok":false,"error":"…"}`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "control.sock";

/// The socket path for a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Bans in force.
    BansList,
    /// Ban an address or network for `seconds` (the configured default when absent).
    BansAdd {
        target: String,
        seconds: Option<u64>,
    },
    /// Lift a ban.
    BansDel { target: String },
    /// Liveness and counters.
    Status,
    /// The metrics, in the Prometheus text format (in `message`).
    Metrics,
    /// Outbox rows, newest first (`state`: pending, sent, failed; all when absent).
    OutboxList {
        state: Option<String>,
        limit: Option<usize>,
    },
    /// Failed rows (of one notifier, or all) back to pending, due now.
    OutboxRetry { notifier: Option<String> },
    /// Delete the rows in a state (`sent` or `failed`).
    OutboxPurge { state: String },
}

/// One outbox row as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: i64,
    pub alert_id: i64,
    pub notifier: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub rule_id: Option<String>,
}

/// One ban as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRow {
    pub target: String,
    pub reason: String,
    pub rule_id: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub offences: u32,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bans: Vec<BanRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<OutboxRow>,
}

impl Response {
    pub fn ok(message: impl Into<String>) -> Response {
        Response {
            ok: true,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    pub fn error(error: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(error.into()),
            ..Response::default()
        }
    }
}

/// A request on its way to the pipeline task, with where to answer.
#[derive(Debug)]
pub struct Command {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// Why a client got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no logward daemon is running with state directory {dir} (no control socket at {socket}); \
         start `logward run` or pass the daemon's --state-dir"
    )]
    NotRunning { dir: PathBuf, socket: PathBuf },
    #[error("control socket {socket}: {source}")]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {socket}: unreadable answer: {detail}")]
    Protocol { socket: PathBuf, detail: String },
}

/// Sends one request to the daemon of `state_dir` and waits (up to `timeout`) for its answer.
pub async fn request(
    state_dir: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let socket = socket_path(state_dir);
    let io = |source| ClientError::Io {
        socket: socket.clone(),
        source,
    };
    let mut stream = match UnixStream::connect(&socket).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NotRunning {
                dir: state_dir.to_path_buf(),
                socket,
            })
        }
        Err(e) => return Err(io(e)),
    };
    let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol {
        socket: socket.clone(),
        detail: e.to_string(),
    })?;
    line.push(b'\n');
    let exchange = async {
        stream.write_all(&line).await?;
        let mut answer = String::new();
        BufReader::new(&mut stream).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the daemon did not answer",
            )))
        }
        Ok(r) => r.map_err(io)?,
    };
    serde_json::from_str(&answer).map_err(|e| ClientError::Protocol {
        socket,
        detail: e.to_string(),
    })
}

/// Binds the socket (mode 0600). A socket file left by a daemon that died is replaced; one
/// that answers means another daemon uses this state directory, which is an error.
pub async fn bind(state_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(state_dir);
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!(
                    "another logward daemon is running with state directory {} (its control \
                     socket {} answers)",
                    state_dir.display(),
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

/// Accepts connections until the channel closes, passing each request to the pipeline task.
pub async fn serve(listener: UnixListener, tx: mpsc::Sender<Command>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, tx).await {
                tracing::debug!(error = %e, "control connection failed");
            }
        });
    }
}

async fn handle(mut stream: UnixStream, tx: mpsc::Sender<Command>) -> std::io::Result<()> {
    let (read, mut write) = stream.split();
    let mut line = String::new();
    // One bounded line: a request is small.
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 64 * 1024));
    reader.read_line(&mut line).await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::error(format!("bad request: {e}")),
        Ok(request) => {
            let (reply, rx) = oneshot::channel();
            if tx.send(Command { request, reply }).await.is_err() {
                Response::error("the daemon is shutting down")
            } else {
                rx.await
                    .unwrap_or_else(|_| Response::error("the daemon dropped the request"))
            }
        }
    };
    let mut out = serde_json::to_vec(&response).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}
