//! The NATS JetStream transport between agents and collectors (docs/SCALE.md): subject and
//! message-id naming both sides share, and the one way both connect (credentials, TLS).
//!
//! A message is the same signed batch an agent would POST to `/v1/events`: the gzipped
//! NDJSON body, the [`crate::wire`] headers signed over the canonical text of
//! `POST /v1/events`, on the subject [`subject`] of the agent.
//!
//! The other way, the collectors publish each fleet ban decision change on
//! [`DECISIONS_SUBJECT`] (one JSON [`crate::wire::DecisionChange`] a message), signed with the
//! fleet's Ed25519 [`DecisionKey`]: agents may publish on NATS, so only that signature — not
//! the subject — says a collector made it. Heartbeats go on [`heartbeat_subject`], signed as
//! `POST /v1/heartbeat` is.

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

/// The subject of the fleet's ban decision changes.
pub const DECISIONS_SUBJECT: &str = "logward.decisions";
/// The decisions stream's default name.
pub const DEFAULT_DECISIONS_STREAM: &str = "LOGWARD_DECISIONS";
/// The header holding a decision message's Ed25519 signature (hex).
pub const HEADER_DECISION_SIGNATURE: &str = "logward-decision-signature";
/// Every agent's heartbeats: `logward.heartbeat.<agent-id>` (core NATS, not stored).
pub const HEARTBEAT_PREFIX: &str = "logward.heartbeat.";
/// The subjects the collectors subscribe to for heartbeats.
pub const HEARTBEAT_SUBJECTS: &str = "logward.heartbeat.*";
/// The method a NATS heartbeat is signed as.
pub const HEARTBEAT_METHOD: &str = "POST";
/// The path a NATS heartbeat is signed as (the HTTP one's).
pub const HEARTBEAT_PATH: &str = "/v1/heartbeat";
/// What a decision signature covers before the message body: no other Ed25519 signature of
/// the same key can pass for one.
const DECISION_CONTEXT: &[u8] = b"logward fleet decision v1\n";

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

/// The subject of an agent's heartbeats.
pub fn heartbeat_subject(agent: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{agent}")
}

/// The agent a heartbeat subject speaks for.
pub fn heartbeat_agent(subject: &str) -> Option<&str> {
    subject
        .strip_prefix(HEARTBEAT_PREFIX)
        .filter(|a| !a.is_empty() && !a.contains(['.', '*', '>']))
}

/// The fleet's decision signing key (Ed25519). Its secret never shows in `Debug`.
#[derive(Clone)]
pub struct DecisionKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for DecisionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionKey")
            .field("public", &self.public_hex())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl DecisionKey {
    /// The key of 32 secret bytes (from the OS's random source, or the store).
    pub fn from_secret(bytes: [u8; 32]) -> DecisionKey {
        DecisionKey(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }

    /// The key whose secret is this hex text (as [`Self::secret_hex`] writes it).
    pub fn from_secret_hex(hex: &str) -> Option<DecisionKey> {
        Some(DecisionKey::from_secret(unhex32(hex)?))
    }

    /// The secret, in hex: for the store only.
    pub fn secret_hex(&self) -> String {
        crate::wire::hex(self.0.as_bytes())
    }

    /// The public key, in hex: what agents pin.
    pub fn public_hex(&self) -> String {
        crate::wire::hex(self.0.verifying_key().as_bytes())
    }

    /// The signature (hex) of a decision message's body.
    pub fn sign(&self, body: &[u8]) -> String {
        use ed25519_dalek::Signer as _;
        let mut m = Vec::with_capacity(DECISION_CONTEXT.len() + body.len());
        m.extend_from_slice(DECISION_CONTEXT);
        m.extend_from_slice(body);
        crate::wire::hex(&self.0.sign(&m).to_bytes())
    }
}

/// Whether `signature` (hex) is the signature of `body` by the public key `public` (hex).
/// Malformed keys and signatures are simply not valid.
pub fn verify_decision(public: &str, body: &[u8], signature: &str) -> bool {
    let Some(key) = unhex32(public).and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok())
    else {
        return false;
    };
    let Some(sig) = unhex::<64>(signature) else {
        return false;
    };
    let mut m = Vec::with_capacity(DECISION_CONTEXT.len() + body.len());
    m.extend_from_slice(DECISION_CONTEXT);
    m.extend_from_slice(body);
    key.verify_strict(&m, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_ok()
}

/// Whether `text` is a public key (64 hex digits of a valid point).
pub fn valid_public_key(text: &str) -> bool {
    unhex32(text).is_some_and(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).is_ok())
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    unhex::<32>(text)
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let t = text.trim().as_bytes();
    if t.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in t.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
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
        assert_eq!(heartbeat_subject("a-1"), "logward.heartbeat.a-1");
        assert_eq!(heartbeat_agent("logward.heartbeat.a-1"), Some("a-1"));
        assert_eq!(heartbeat_agent("logward.heartbeat.a.b"), None);
    }

    #[test]
    fn decisions_verify_only_under_their_key_and_body() {
        let k = DecisionKey::from_secret([7; 32]);
        let other = DecisionKey::from_secret([8; 32]);
        let body = br#"{"id":1,"target":"192.0.2.7"}"#;
        let sig = k.sign(body);
        assert!(verify_decision(&k.public_hex(), body, &sig));
        assert!(!verify_decision(&other.public_hex(), body, &sig));
        assert!(!verify_decision(
            &k.public_hex(),
            br#"{"id":1,"target":"192.0.2.8"}"#,
            &sig
        ));
        assert!(!verify_decision(&k.public_hex(), body, &other.sign(body)));
        assert!(!verify_decision(&k.public_hex(), body, ""));
        assert!(!verify_decision("zz", body, &sig));
        assert!(valid_public_key(&k.public_hex()));
        let back = DecisionKey::from_secret_hex(&k.secret_hex()).unwrap();
        assert_eq!(back.public_hex(), k.public_hex());
        assert!(!format!("{k:?}").contains(&k.secret_hex()));
    }
}
