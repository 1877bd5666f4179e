//! `type: wecom` — a WeCom (企业微信) group robot, the key in its webhook URL; text or
//! markdown.
//!
//! Per WeCom's group-robot guide (群机器人配置说明): text content at most 2048 bytes and
//! markdown at most 4096 bytes of UTF-8, 20 messages a minute per robot; there is no signing,
//! the key in the URL is the credential.

use std::time::Duration;

use serde_json::{json, Value};

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{fit, SendError, Sent};

/// 20 messages a minute per robot.
pub const RATES: &[Rate] = &[Rate::per_minute(20)];

/// Longest `text.content`, in bytes.
pub const MAX_TEXT: usize = 2048;
/// Longest `markdown.content`, in bytes.
pub const MAX_MARKDOWN: usize = 4096;

/// WeCom's errcodes, shared by the robot and the application API: 45009 "api freq out of
/// limit" (the minute's quota is spent), -1 busy; the rest (93000 bad webhook key, 40058
/// content too long …) cannot succeed on a retry.
pub(crate) const CODES: http::ServiceCodes = http::ServiceCodes::errcode("WeCom errcode", &[45009]);

notifier_config! {
    pub struct Config {
        /// The robot's webhook, `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`.
        pub url: Secret,
        /// `markdown` (default) or `text`.
        #[serde(default = "super::markdown")]
        pub format: String,
        /// User ids to @-mention (`@all` for everyone).
        #[serde(default)]
        pub mentioned_list: Vec<String>,
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("url", self.url.expose(), &mut e);
        super::check_text_or_markdown(&self.format, &mut e);
        for u in &self.mentioned_list {
            if u.trim().is_empty() || u.contains(['<', '>']) {
                e.push(format!("mentioned_list: `{u}` is not a user id"));
            }
        }
        e
    }
}

#[derive(Debug)]
pub struct WeCom {
    client: reqwest::Client,
    url: Secret,
    markdown: bool,
    mentioned_list: Vec<String>,
}

impl WeCom {
    pub fn new(c: &Config, timeout: Duration) -> Result<WeCom, String> {
        Ok(WeCom {
            client: http::client(timeout)?,
            url: c.url.clone(),
            markdown: c.format != "text",
            mentioned_list: c.mentioned_list.clone(),
        })
    }

    /// The JSON body for `m`, its content cut on a character boundary to WeCom's limit.
    pub fn body(&self, m: &Message) -> Value {
        if self.markdown {
            // Markdown has no mentioned_list; `<@userid>` in the content mentions instead.
            let mentions: String = self
                .mentioned_list
                .iter()
                .map(|u| format!(" <@{u}>"))
                .collect();
            let content = format!(
                "{}{mentions}",
                fit(&m.markdown, MAX_MARKDOWN.saturating_sub(mentions.len()))
            );
            json!({"msgtype": "markdown", "markdown": {"content": content}})
        } else {
            let content = fit(&format!("{}\n{}", m.title, m.text), MAX_TEXT);
            let mut text = json!({"content": content});
            if !self.mentioned_list.is_empty() {
                text["mentioned_list"] = json!(self.mentioned_list);
            }
            json!({"msgtype": "text", "text": text})
        }
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body = http::json(&self.body(m))?;
        CODES.post(&self.client, self.url.expose(), body).await
    }
}
