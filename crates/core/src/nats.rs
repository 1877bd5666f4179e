//! The NATS JetStream transport between agents and collectors (docs/SCALE.md): subject and
//! message-id naming both sides share, and the one way both connect (credentials, TLS).
//!
//! A message is the same signed batch an agent would POST to `/v1/events`: the gzipped
//! NDJSON body, the [`crate::wire`] headers signed over the canonical text of
//! `POST /v1/events`, on the subject [`subject`] of the agent.

use std::path::PathBuf;
use std::time::Duration;

/// Every agent's batches: `logward.events.<agent-id>`.
pub const SUBJECT_PREFIX: &str = "logward.events.";
/// The subjects of the stream.
pub const SUBJECTS: &str = "logward.events.>";
/// The stream's default name.
pub const DEFAULT_STREAM: &str = "LOGWARD_EVENTS";
/// The collectors' shared durable pull consumer's default name.
pub const DEFAULT_CONSUMER: &str = "logward-collector";
/// The method a NATS batch is signed as (the signature is the HTTP one's).
pub const SIGNED_METHOD: &str = "POST";
/// The path a NATS batch is signed as.
pub const SIGNED_PATH: &str = "/v1/events";
/// JetStream's de-duplication header.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The encoding of the body (`gzip`), as HTTP's `Content-Encoding`.
pub const HEADER_ENCODING: &str = "content-encoding";

/// The subject an agent publishes on.
pub fn subject(agent: &str) -> String {
    format!("{SUBJECT_PREFIX}{agent}")
}

/// The agent a subject speaks for (`None`: not a batch subject, or a wildcard level).
pub fn subject_agent(subject: &str) -> Option<&str> {
    subject
        .strip_prefix(SUBJECT_PREFIX)
        .filter(|a| !a.is_empty() && !a.contains(['.', '*', '>']))
}

/// A batch's `Nats-Msg-Id`: `<agent>:<first seq>-<last seq>`, so the server's duplicate
/// window drops a batch the agent publishes again after a lost ack.
pub fn msg_id(agent: &str, first: u64, last: u64) -> String {
    format!("{agent}:{first}-{last}")
}

/// How to reach the NATS server: a `nats://` or `tls://` URL (several comma-separated), at
/// most one way to authenticate, and a CA file (when set, TLS is required and only it is
/// trusted).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Connect {
    pub url: String,
    pub user: Option<String>,
    /// A file whose first line is the password (with `user`).
    pub password_file: Option<PathBuf>,
    /// A file holding an NKey seed (`SU…`).
    pub nkey_file: Option<PathBuf>,
    /// A `.creds` file (JWT and NKey seed).
    pub creds_file: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Paths and the user name only: the secrets stay in their files.
        f.debug_struct("Connect")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password_file", &self.password_file)
            .field("nkey_file", &self.nkey_file)
            .field("creds_file", &self.creds_file)
            .field("ca", &self.ca)
            .finish()
    }
}

fn read_secret(path: &std::path::Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{what} file {}: {e}", path.display()))?;
    let first = text.lines().next().unwrap_or("").trim().to_owned();
    if first.is_empty() {
        return Err(format!("{what} file {} is empty", path.display()));
    }
    Ok(first)
}

/// Connects as `name`. With `retry`, a server that is down is not an error: the client
/// connects (and always reconnects) in the background, and requests fail until it has.
pub async fn connect(c: &Connect, name: &str, retry: bool) -> Result<async_nats::Client, String> {
    let mut o = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(10)))
        // Never give up: a batch waits in the spool (or the stream) for the server.
        .max_reconnects(None);
    if retry {
        o = o.retry_on_initial_connect();
    }
    if let Some(user) = &c.user {
        let pass = match &c.password_file {
            Some(p) => read_secret(p, "NATS password")?,
            None => String::new(),
        };
        o = o.user_and_password(user.clone(), pass);
    }
    if let Some(p) = &c.nkey_file {
        o = o.nkey(read_secret(p, "NATS NKey seed")?);
    }
    if let Some(p) = &c.creds_file {
        o = o
            .credentials_file(p)
            .await
            .map_err(|e| format!("NATS credentials file {}: {e}", p.display()))?;
    }
    if let Some(ca) = &c.ca {
        if !ca.is_file() {
            return Err(format!(
                "NATS CA file {}: not a readable file",
                ca.display()
            ));
        }
        o = o.add_root_certificates(ca.clone()).require_tls(true);
    }
    o.connect(c.url.as_str())
        .await
        .map_err(|e| format!("NATS {}: {e}", c.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_one_agent() {
        assert_eq!(subject("a-1"), "logward.events.a-1");
        assert_eq!(subject_agent("logward.events.a-1"), Some("a-1"));
        for bad in [
            "logward.events.",
            "logward.events.a.b",
            "logward.events.*",
            "other.a",
        ] {
            assert_eq!(subject_agent(bad), None, "{bad}");
        }
        assert_eq!(msg_id("a-1", 3, 9), "a-1:3-9");
    }
}
