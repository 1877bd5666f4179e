//! `type: feishu` (or `lark`) — a Feishu/Lark group's custom bot: text, rich-text post, or an
//! interactive card whose header colour follows the severity.
//!
//! Signing, per Feishu's custom-bot guide (签名校验), differs from DingTalk's: the string
//! `timestamp_s + "\n" + secret` is the HMAC-SHA256 *key* over an empty message, `sign =
//! base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`, and `timestamp` (seconds,
//! within an hour of Feishu's clock) and `sign` go into the JSON body.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use logward_core::Severity;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{fit, SendError, Sent};

/// 5 a second and 100 a minute per bot.
pub const RATES: &[Rate] = &[Rate::per_second(5), Rate::per_minute(100)];

/// The whole request body Feishu takes, in bytes.
pub const MAX_BODY: usize = 20_000;

notifier_config! {
    pub struct Config {
        /// The bot's webhook, `https://open.feishu.cn/open-apis/bot/v2/hook/…`.
        pub url: Secret,
        /// The signing secret when the bot's security setting is 签名校验.
        #[serde(default)]
        pub secret: Option<Secret>,
        /// `card` (default), `post` or `text`.
        #[serde(default = "default_format")]
        pub format: String,
    }
}

fn default_format() -> String {
    "card".into()
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("url", self.url.expose(), &mut e);
        if !matches!(self.format.as_str(), "text" | "post" | "card") {
            e.push(format!("format `{}`: text, post or card", self.format));
        }
        if self.secret.as_ref().is_some_and(Secret::is_empty) {
            e.push("secret is empty (leave it out when the bot does not sign)".into());
        }
        e
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Post,
    Card,
}

#[derive(Debug)]
pub struct Feishu {
    client: reqwest::Client,
    url: Secret,
    secret: Option<Secret>,
    format: Format,
}

/// `base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`.
pub fn signature(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The markdown form as a card's `lark_md`, which has no headings: the leading heading is
/// left out (the card's header shows the title) and any other becomes a bold line.
pub fn lark_md(m: &Message) -> String {
    m.markdown_under_header()
        .lines()
        .map(|l| match l.trim_start_matches('#').strip_prefix(' ') {
            Some(h) if l.starts_with('#') => format!("**{}**", h.trim()),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The card header's colour template for a severity.
fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "red",
        Severity::Medium => "orange",
        Severity::Low => "blue",
        Severity::Info => "grey",
    }
}

impl Feishu {
    pub fn new(c: &Config, timeout: Duration) -> Result<Feishu, String> {
        Ok(Feishu {
            client: http::client(timeout)?,
            url: c.url.clone(),
            secret: c.secret.clone(),
            format: match c.format.as_str() {
                "text" => Format::Text,
                "post" => Format::Post,
                _ => Format::Card,
            },
        })
    }

    /// The body for `m` with `text` (its text or markdown form, perhaps cut) as content.
    fn body_with(&self, m: &Message, text: &str) -> Value {
        match self.format {
            Format::Text => json!({
                "msg_type": "text",
                "content": {"text": format!("{}\n{text}", m.title)},
            }),
            Format::Post => {
                // One paragraph per line; an empty line keeps the spacing.
                let lines: Vec<Value> = text
                    .lines()
                    .map(|l| json!([{"tag": "text", "text": l}]))
                    .collect();
                json!({
                    "msg_type": "post",
                    "content": {"post": {"zh_cn": {"title": m.title, "content": lines}}},
                })
            }
            Format::Card => json!({
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {
                        "title": {"tag": "plain_text", "content": m.title},
                        "template": colour(m.severity),
                    },
                    "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
                },
            }),
        }
    }

    /// The JSON body for `m`, signed at `timestamp_s` when there is a secret, with the text
    /// shortened until the whole body fits in [`MAX_BODY`] bytes.
    pub fn body(&self, m: &Message, timestamp_s: i64) -> Result<Vec<u8>, SendError> {
        let mut text = if self.format == Format::Card {
            lark_md(m)
        } else {
            m.text.clone()
        };
        // JSON escaping can make the body grow faster than the text, so measure and repeat.
        for _ in 0..8 {
            let mut v = self.body_with(m, &text);
            if let (Some(secret), Some(obj)) = (&self.secret, v.as_object_mut()) {
                obj.insert("timestamp".into(), Value::from(timestamp_s.to_string()));
                obj.insert(
                    "sign".into(),
                    Value::from(signature(secret.expose(), timestamp_s)),
                );
            }
            let body = serde_json::to_vec(&v).map_err(|e| SendError::permanent(e.to_string()))?;
            if body.len() <= MAX_BODY {
                return Ok(body);
            }
            let over = body.len() - MAX_BODY;
            if over >= text.len() {
                break;
            }
            text = fit(&text, text.len().saturating_sub(over + 16));
        }
        Err(SendError::permanent(format!(
            "the message does not fit in Feishu's {MAX_BODY}-byte body (title too long?)"
        )))
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body = self.body(m, chrono::Utc::now().timestamp())?;
        CODES.post(&self.client, self.url.expose(), body).await
    }
}

/// Feishu's codes: 11232 and 9499 mean slow down; 19021 (bad signature or stale timestamp),
/// 19022 (IP not allowed), 19024 (keyword missing) and the rest cannot succeed on a retry.
/// Bot hooks answer `code`/`msg`; some older endpoints `StatusCode`/`StatusMessage`.
pub(crate) const CODES: http::ServiceCodes = http::ServiceCodes {
    name: "Feishu code",
    codes: &["code", "StatusCode"],
    messages: &["msg", "StatusMessage"],
    throttled: &[11232, 9499],
    throttled_for: None,
    busy: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(
        //   b"1700000000\nabc",b"",hashlib.sha256).digest()).decode())'
        assert_eq!(
            signature("abc", 1_700_000_000),
            "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4="
        );
    }

    #[test]
    fn colours_follow_severity() {
        assert_eq!(colour(Severity::Critical), "red");
        assert_eq!(colour(Severity::Medium), "orange");
        assert_eq!(colour(Severity::Info), "grey");
    }
}
