//! `type: email` — mail over SMTP (lettre): STARTTLS on 587 (default), implicit TLS on 465,
//! or plain on 25 to a relay on this host only. One `multipart/alternative` message per
//! alert or digest: the text form, then the HTML form; the subject is the title.
//!
//! SMTP answers decide: 4xx (greylisting, a full mailbox, "try later") and network or TLS
//! failures are transient; 5xx (no such user, relaying denied, authentication failed) is
//! permanent.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{cut, SendError, Sent};

/// Mail servers take far more; this keeps an alert storm from filling inboxes (the
/// delivery worker folds the excess into digests).
pub const RATES: &[Rate] = &[Rate::per_minute(10)];

notifier_config! {
    pub struct Config {
        /// The SMTP server.
        pub host: String,
        /// 587 for `starttls`, 465 for `implicit`, 25 for `none` unless set.
        #[serde(default)]
        pub port: Option<u16>,
        /// `starttls` (default), `implicit` (TLS from the first byte) or `none` (localhost only).
        #[serde(default)]
        pub tls: TlsMode,
        #[serde(default)]
        pub username: Option<Secret>,
        #[serde(default)]
        pub password: Option<Secret>,
        /// `logward <alerts@example.org>` or a bare address.
        pub from: String,
        pub to: Vec<String>,
        /// Put before the title in the subject (`[prod]`).
        #[serde(default)]
        pub subject_prefix: Option<String>,
        /// A PEM file of certificates to trust besides the public roots (a private CA, a
        /// self-signed relay).
        #[serde(default)]
        pub ca_file: Option<String>,
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    #[default]
    Starttls,
    Implicit,
    None,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.host.trim().is_empty() {
            e.push("host is empty".into());
        }
        if self.tls == TlsMode::None && !is_loopback(&self.host) {
            // Alerts and a password in clear text over the network: only to a local relay.
            e.push(format!(
                "tls: none is only allowed for a relay on this host (localhost, 127.0.0.1, ::1), not `{}`",
                self.host
            ));
        }
        if self.port == Some(0) {
            e.push("port 0".into());
        }
        if self.username.is_some() != self.password.is_some() {
            e.push("username and password go together".into());
        }
        if let Err(err) = self.from.parse::<Mailbox>() {
            e.push(format!("from `{}`: {err}", self.from));
        }
        if self.to.is_empty() {
            e.push("to: no recipients".into());
        }
        for t in &self.to {
            if let Err(err) = t.parse::<Mailbox>() {
                e.push(format!("to `{t}`: {err}"));
            }
        }
        if let Some(p) = &self.subject_prefix {
            if p.contains(['\r', '\n']) {
                e.push("subject_prefix holds a line break".into());
            }
        }
        e
    }
}

#[derive(Debug)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject_prefix: Option<String>,
    /// For the whole exchange: lettre's own timeout covers only the connect.
    timeout: Duration,
}

impl Email {
    pub fn new(c: &Config, timeout: Duration) -> Result<Email, String> {
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(c.host.clone());
            if let Some(path) = &c.ca_file {
                let pem = std::fs::read(path).map_err(|e| format!("ca_file `{path}`: {e}"))?;
                let cert =
                    Certificate::from_pem(&pem).map_err(|e| format!("ca_file `{path}`: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            b.build().map_err(|e| format!("TLS: {e}"))
        };
        let tls = match c.tls {
            TlsMode::Starttls => Tls::Required(params()?),
            TlsMode::Implicit => Tls::Wrapper(params()?),
            TlsMode::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.host.clone())
            .port(c.port.unwrap_or_else(|| c.tls.default_port()))
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(u), Some(p)) = (&c.username, &c.password) {
            b = b.credentials(Credentials::new(
                u.expose().to_owned(),
                p.expose().to_owned(),
            ));
        }
        let parse = |s: &str| s.parse::<Mailbox>().map_err(|e| format!("`{s}`: {e}"));
        Ok(Email {
            transport: b.build(),
            from: parse(&c.from)?,
            to: c.to.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
            subject_prefix: c.subject_prefix.clone(),
            timeout,
        })
    }

    /// The MIME message. Its Message-ID comes from the idempotency key, so a retried
    /// delivery is the same message to a mail client that drops duplicates.
    pub fn message(&self, m: &Message) -> Result<lettre::Message, SendError> {
        let subject = match &self.subject_prefix {
            Some(p) => format!("{p} {}", m.title),
            None => m.title.clone(),
        };
        let key: String = m
            .idempotency_key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect();
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject.replace(['\r', '\n'], " "))
            .message_id(Some(format!("<{key}@logward>")));
        for t in &self.to {
            b = b.to(t.clone());
        }
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(m.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(m.html.clone()),
                ),
        )
        .map_err(|e| SendError::permanent(format!("building the message: {e}")))
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let msg = self.message(m)?;
        match tokio::time::timeout(self.timeout, self.transport.send(msg)).await {
            Ok(Ok(r)) => {
                let answer: Vec<&str> = r.message().collect();
                Ok(Sent::new(r.code().into(), &answer.join(" ")))
            }
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::transient(format!(
                "SMTP: timed out after {:?}",
                self.timeout
            ))),
        }
    }
}

/// 5xx and client-side refusals (the server offers no STARTTLS) → permanent; 4xx, network,
/// TLS and timeouts → transient.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    let reason = format!("SMTP: {}", cut(&text, 400));
    if e.is_permanent() || e.is_client() {
        SendError::permanent(reason)
    } else {
        SendError::transient(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "::1", "[::1]", "127.0.0.53"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["mail.example.org", "10.0.0.1", "localhost.example.org"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
