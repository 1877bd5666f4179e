//! `type: telegram` — the Bot API's `sendMessage`: `POST {api}/bot{token}/sendMessage` with a
//! JSON body (`chat_id`, `text` of 1–4096 characters after entity parsing, `parse_mode`).
//!
//! The answer is `{"ok": true, "result": …}` or `{"ok": false, "error_code": N,
//! "description": "…", "parameters": {"retry_after": S}}`; 429 carries `retry_after`, 400
//! (chat not found, bad text) and 401/403/404 (bad token, bot blocked or kicked) cannot
//! succeed on retry. The token is part of the URL path: it never reaches an error or a log.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::{redact, Secret};
use crate::sinks::outcome::{cut, fit_chars, SendError, Sent};

/// About one message per second to a chat, and 20 per minute to a group.
pub const RATES: &[Rate] = &[Rate::per_second(1), Rate::per_minute(20)];

/// `text` limit, in characters after entity parsing.
const TEXT_MAX: usize = 4096;

notifier_config! {
    pub struct Config {
        /// The Bot API's base URL (a local Bot API server, or a test's receiver).
        #[serde(default = "default_api")]
        pub api: String,
        /// The bot token from @BotFather.
        pub token: Secret,
        /// A chat id (`-1001234567890`) or a channel's `@username`.
        pub chat_id: ChatId,
        /// `html` (default: the title in bold, the text escaped) or `none` (plain text).
        #[serde(default)]
        pub parse_mode: ParseMode,
    }
}

fn default_api() -> String {
    "https://api.telegram.org".into()
}

/// How the text is marked up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[schemars(transform = html_alias)]
#[serde(rename_all = "lowercase")]
pub enum ParseMode {
    #[default]
    #[serde(alias = "HTML")]
    Html,
    None,
}

fn html_alias(schema: &mut schemars::Schema) {
    crate::config::accept_aliases(schema, "html", &["HTML"]);
}

/// A chat id as written in YAML: an integer or a string; sent back as the JSON type the Bot
/// API documents (Integer or String).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatId(pub String);

impl ChatId {
    fn to_json(&self) -> Value {
        match self.0.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(self.0.clone()),
        }
    }
}

impl schemars::JsonSchema for ChatId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ChatId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A chat id (integer) or a channel's @username.",
            "type": ["integer", "string"],
        })
    }
}

impl<'de> Deserialize<'de> for ChatId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ChatId, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ChatId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chat id (integer) or a channel's @username")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChatId, E> {
                Ok(ChatId(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChatId, E> {
                Ok(ChatId(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChatId, E> {
                Ok(ChatId(v.trim().to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("api", &self.api, &mut e);
        if self.token.is_empty() {
            e.push("token is empty".into());
        } else if self.token.expose().contains(['/', '?', '#', ' ']) {
            // It goes into the URL path as is.
            e.push("token holds `/`, `?`, `#` or a space: not a bot token".into());
        }
        let id = &self.chat_id.0;
        if !(id.parse::<i64>().is_ok() || (id.starts_with('@') && id.len() > 1)) {
            e.push(format!(
                "chat_id `{id}`: an integer id or a channel's @username"
            ));
        }
        e
    }
}

#[derive(Debug)]
pub struct Telegram {
    client: reqwest::Client,
    api: String,
    token: Secret,
    chat_id: Value,
    parse_mode: ParseMode,
}

/// The three characters Telegram's HTML mode needs escaped.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `sendMessage` body. The limit counts characters after entity parsing, so the plain
/// text is fitted first and escaped after (an `&amp;` is never cut in two).
pub fn body(m: &Message, chat_id: &Value, mode: ParseMode) -> Value {
    let title = fit_chars(m.title.trim(), 512);
    let room = TEXT_MAX.saturating_sub(title.chars().count() + 2);
    let text = fit_chars(m.text.trim(), room);
    let text = match (title.is_empty(), text.is_empty()) {
        (true, true) => "logward alert".to_owned(),
        _ => text,
    };
    match mode {
        ParseMode::Html => json!({
            "chat_id": chat_id,
            "text": format!("<b>{}</b>\n\n{}", escape_html(&title), escape_html(&text)),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        }),
        ParseMode::None => json!({
            "chat_id": chat_id,
            "text": format!("{title}\n\n{text}"),
            "link_preview_options": {"is_disabled": true},
        }),
    }
}

impl Telegram {
    pub fn new(c: &Config, timeout: Duration) -> Result<Telegram, String> {
        Ok(Telegram {
            client: http::client(timeout)?,
            api: c.api.trim_end_matches('/').to_owned(),
            token: c.token.clone(),
            chat_id: c.chat_id.to_json(),
            parse_mode: c.parse_mode,
        })
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let url = format!("{}/bot{}/sendMessage", self.api, self.token.expose());
        let body = http::json(&body(m, &self.chat_id, self.parse_mode))?;
        let raw = http::post(&self.client, &url, "application/json", body)
            .await
            .map_err(|e| self.redacted(e))?;
        answer(raw).map_err(|e| self.redacted(e))
    }

    fn redacted(&self, e: SendError) -> SendError {
        let token = self.token.expose();
        match e {
            SendError::Transient { reason, after } => SendError::Transient {
                reason: redact(&reason, &[token]),
                after,
            },
            SendError::RateLimited { reason, after } => SendError::RateLimited {
                reason: redact(&reason, &[token]),
                after,
            },
            SendError::Permanent { reason } => SendError::Permanent {
                reason: redact(&reason, &[token]),
            },
        }
    }
}

/// Reads the Bot API's answer: its own `ok`/`error_code`/`retry_after` when the body is
/// its JSON, the HTTP status otherwise (a proxy's error page).
fn answer(raw: http::Reply) -> Result<Sent, SendError> {
    let Ok(v) = serde_json::from_str::<Value>(&raw.body) else {
        return http::classify(raw.status, raw.retry_after, raw.body)
            .map(|a| Sent::new(a.status.as_u16(), &a.body));
    };
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(Sent::new(raw.status.as_u16(), &raw.body));
    }
    let code = v
        .get("error_code")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(raw.status.as_u16()));
    let description = v
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description");
    let mut reason = format!("Telegram error {code}: {}", cut(description, 300));
    // A group that became a supergroup has a new id: say which, so the operator can fix it.
    if let Some(id) = v
        .pointer("/parameters/migrate_to_chat_id")
        .and_then(Value::as_i64)
    {
        reason.push_str(&format!(" (the chat is now {id}: set chat_id to it)"));
    }
    let after = v
        .pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .or(raw.retry_after);
    match code {
        429 => Err(SendError::rate_limited(reason, after)),
        500..=599 => Err(SendError::Transient { reason, after }),
        _ if raw.status.is_server_error() => Err(SendError::Transient { reason, after }),
        _ => Err(SendError::permanent(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migrated_group_names_its_new_id() {
        let raw = http::Reply {
            status: reqwest::StatusCode::BAD_REQUEST,
            retry_after: None,
            body: r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#.into(),
        };
        let e = answer(raw).unwrap_err();
        assert!(e.is_permanent());
        assert!(
            e.to_string()
                .ends_with("(the chat is now -1001234567890: set chat_id to it)"),
            "{e}"
        );
    }

    #[test]
    fn text_fits_after_escaping_and_chat_ids_keep_their_type() {
        assert_eq!(ChatId("-100123".into()).to_json(), json!(-100_123));
        assert_eq!(ChatId("@ops".into()).to_json(), json!("@ops"));
        assert_eq!(escape_html("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
