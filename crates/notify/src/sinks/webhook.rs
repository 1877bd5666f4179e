//! `type: webhook` — any HTTP endpoint: method, headers, a JSON body (the message's alert JSON
//! by default, or a template), an `Idempotency-Key` header, and an optional HMAC-SHA256
//! signature so the receiver can tell logward's requests from forgeries.
//!
//! Signature: `X-Logward-Timestamp: <unix seconds>` and
//! `X-Logward-Signature: sha256=<hex(HMAC-SHA256(secret, timestamp + "." + body))>` (the
//! scheme of Stripe and Slack's signing: the timestamp inside the MAC stops replays).

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use sha2::Sha256;

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{SendError, Sent};

/// No service limit of its own; this keeps a broken loop from flooding a receiver.
pub const RATES: &[Rate] = &[Rate::per_second(10)];

notifier_config! {
    pub struct Config {
        /// Where to send (may hold a token: treated as a secret).
        pub url: Secret,
        /// `POST` (default), `PUT` or `PATCH`.
        #[serde(default = "default_method")]
        pub method: String,
        /// Extra headers (values are secrets: `Authorization: Bearer …`).
        #[serde(default)]
        pub headers: BTreeMap<String, Secret>,
        /// A minijinja template for the body; by default the alert JSON (a digest for several).
        #[serde(default)]
        pub body: Option<String>,
        /// `application/json` unless the body template says otherwise.
        #[serde(default = "default_content_type")]
        pub content_type: String,
        /// Signs each request with HMAC-SHA256 when set.
        #[serde(default)]
        pub secret: Option<Secret>,
    }
}

fn default_method() -> String {
    "POST".into()
}

fn default_content_type() -> String {
    "application/json".into()
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("url", self.url.expose(), &mut e);
        if !matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            e.push(format!("method `{}`: POST, PUT or PATCH", self.method));
        }
        if let Some(b) = &self.body {
            if let Err(err) = minijinja::Environment::new().template_from_str(b) {
                e.push(format!("body template: {err}"));
            }
        }
        e
    }
}

#[derive(Debug)]
pub struct Webhook {
    client: reqwest::Client,
    url: Secret,
    method: Method,
    headers: Vec<(String, Secret)>,
    body: Option<minijinja::Environment<'static>>,
    content_type: String,
    secret: Option<Secret>,
}

/// `hex(HMAC-SHA256(secret, timestamp + "." + body))`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Webhook {
    pub fn new(c: &Config, timeout: Duration) -> Result<Webhook, String> {
        let body = match &c.body {
            Some(src) => {
                let mut env = minijinja::Environment::new();
                env.add_template_owned("body", src.clone())
                    .map_err(|e| format!("body template: {e}"))?;
                Some(env)
            }
            None => None,
        };
        Ok(Webhook {
            client: http::client(timeout)?,
            url: c.url.clone(),
            method: Method::from_bytes(c.method.as_bytes()).map_err(|e| e.to_string())?,
            headers: c
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body,
            content_type: c.content_type.clone(),
            secret: c.secret.clone(),
        })
    }

    fn body(&self, m: &Message) -> Result<Vec<u8>, SendError> {
        match &self.body {
            None => serde_json::to_vec(&m.json).map_err(|e| SendError::permanent(e.to_string())),
            Some(env) => {
                let ctx = minijinja::context! {
                    title => &m.title,
                    text => &m.text,
                    markdown => &m.markdown,
                    severity => m.severity.as_str(),
                    idempotency_key => &m.idempotency_key,
                    alert => minijinja::Value::from_serialize(&m.json),
                };
                env.get_template("body")
                    .and_then(|t| t.render(ctx))
                    .map(String::into_bytes)
                    .map_err(|e| SendError::permanent(format!("body template: {e}")))
            }
        }
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body = self.body(m)?;
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect();
        headers.push(("Idempotency-Key".into(), m.idempotency_key.clone()));
        if let Some(secret) = &self.secret {
            let ts = chrono::Utc::now().timestamp();
            headers.push(("X-Logward-Timestamp".into(), ts.to_string()));
            headers.push((
                "X-Logward-Signature".into(),
                format!(
                    "sha256={}",
                    signature(secret.expose().as_bytes(), ts, &body)
                ),
            ));
        }
        http::exchange(
            &self.client,
            self.method.clone(),
            self.url.expose(),
            &self.content_type,
            &headers,
            body,
        )
        .await?
        .sent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"key", 1_700_000_000, b"{}"),
            "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
