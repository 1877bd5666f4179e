//! `type: dingtalk` — a DingTalk group's custom robot (自定义机器人), text or markdown.
//!
//! Signing (加签), per DingTalk's custom-robot security settings: `sign =
//! urlencode(base64(HMAC-SHA256(key = secret, msg = timestamp_ms + "\n" + secret)))`, sent
//! with `timestamp` in the query string. A robot with a keyword setting drops messages that
//! lack it, so the keyword is put into the title and text when they do not hold it already.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{fit, SendError, Sent};

/// 20 messages a minute per robot (more and DingTalk throttles the robot).
pub const RATES: &[Rate] = &[Rate::per_minute(20)];

/// The message text DingTalk takes (about 20 000 bytes).
pub const MAX_TEXT: usize = 20_000;

/// DingTalk's errcodes: 130101 "send too fast" (the robot is throttled; wait a minute before
/// trying again), -1 busy; the rest (310000 signature, keyword or IP mismatch; 300001 bad
/// token …) cannot succeed on a retry.
pub(crate) const CODES: http::ServiceCodes =
    http::ServiceCodes::errcode("DingTalk errcode", &[130101]);

notifier_config! {
    pub struct Config {
        /// The robot's webhook, `https://oapi.dingtalk.com/robot/send?access_token=…`.
        pub url: Secret,
        /// The signing secret (`SEC…`) when the robot's security setting is 加签.
        #[serde(default)]
        pub secret: Option<Secret>,
        /// The robot's keyword (自定义关键词), added to messages that lack it.
        #[serde(default)]
        pub keyword: Option<String>,
        /// `markdown` (default) or `text`.
        #[serde(default = "super::markdown")]
        pub format: String,
        /// Mobile numbers to @-mention.
        #[serde(default)]
        pub at_mobiles: Vec<String>,
        /// @-mention everyone in the group.
        #[serde(default)]
        pub at_all: bool,
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("url", self.url.expose(), &mut e);
        super::check_text_or_markdown(&self.format, &mut e);
        if self.secret.as_ref().is_some_and(Secret::is_empty) {
            e.push("secret is empty (leave it out when the robot does not sign)".into());
        }
        if self.keyword.as_deref().is_some_and(|k| k.trim().is_empty()) {
            e.push("keyword is empty".into());
        }
        for m in &self.at_mobiles {
            if m.is_empty()
                || !m
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
            {
                e.push(format!("at_mobiles: `{m}` is not a mobile number"));
            }
        }
        e
    }
}

#[derive(Debug)]
pub struct DingTalk {
    client: reqwest::Client,
    url: Secret,
    secret: Option<Secret>,
    keyword: Option<String>,
    markdown: bool,
    at_mobiles: Vec<String>,
    at_all: bool,
}

/// `base64(HMAC-SHA256(key = secret, msg = timestamp_ms + "\n" + secret))`, before URL-encoding.
pub fn signature(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `s` with the keyword in front when it does not hold it.
fn with_keyword(s: &str, keyword: Option<&str>) -> String {
    match keyword {
        Some(k) if !s.contains(k) => format!("{k} {s}"),
        _ => s.to_owned(),
    }
}

impl DingTalk {
    pub fn new(c: &Config, timeout: Duration) -> Result<DingTalk, String> {
        Ok(DingTalk {
            client: http::client(timeout)?,
            url: c.url.clone(),
            secret: c.secret.clone(),
            keyword: c.keyword.clone(),
            markdown: c.format != "text",
            at_mobiles: c.at_mobiles.clone(),
            at_all: c.at_all,
        })
    }

    /// The JSON body for `m`.
    pub fn body(&self, m: &Message) -> Value {
        let kw = self.keyword.as_deref();
        // A mobile is only notified when the text names it too.
        let mentions: String = self.at_mobiles.iter().map(|p| format!(" @{p}")).collect();
        let at = json!({"atMobiles": self.at_mobiles, "isAtAll": self.at_all});
        if self.markdown {
            // The keyword goes in front, so cutting the end never removes it.
            let text = with_keyword(&m.markdown, kw);
            let text = format!(
                "{}{mentions}",
                fit(&text, MAX_TEXT.saturating_sub(mentions.len()))
            );
            json!({
                "msgtype": "markdown",
                "markdown": {"title": with_keyword(&m.title, kw), "text": text},
                "at": at,
            })
        } else {
            let text = with_keyword(&format!("{}\n{}", m.title, m.text), kw);
            let text = format!(
                "{}{mentions}",
                fit(&text, MAX_TEXT.saturating_sub(mentions.len()))
            );
            json!({"msgtype": "text", "text": {"content": text}, "at": at})
        }
    }

    /// The webhook with `timestamp` and `sign` added when the robot signs.
    fn url(&self) -> String {
        let url = self.url.expose();
        match &self.secret {
            None => url.to_owned(),
            Some(secret) => {
                let ts = chrono::Utc::now().timestamp_millis();
                let sign = signature(secret.expose(), ts);
                let sep = if url.contains('?') { '&' } else { '?' };
                format!(
                    "{url}{sep}timestamp={ts}&sign={}",
                    utf8_percent_encode(&sign, NON_ALPHANUMERIC)
                )
            }
        }
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body = http::json(&self.body(m))?;
        CODES.post(&self.client, &self.url(), body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"SECabc",
        //   b"1700000000000\nSECabc",hashlib.sha256).digest()).decode())'
        assert_eq!(
            signature("SECabc", 1_700_000_000_000),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
    }

    #[test]
    fn the_keyword_is_added_once() {
        assert_eq!(with_keyword("SSH login", Some("alert")), "alert SSH login");
        assert_eq!(with_keyword("an alert", Some("alert")), "an alert");
        assert_eq!(with_keyword("x", None), "x");
    }
}
