//! `type: slack` — a Slack incoming webhook with a Block Kit message: a header (the title),
//! a section (the markdown form in Slack's mrkdwn) and a context line, plus `text` as the
//! fallback Slack shows in notifications.
//!
//! Slack answers `200 ok`; `429` with `Retry-After` when posting faster than 1/s; `400
//! invalid_payload`, `403 action_prohibited`, `404 channel_not_found`/`no_service`, `410
//! channel_is_archived` cannot succeed on retry; `5xx` (`rollup_error`) may.

use std::time::Duration;

use serde_json::json;

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{fit_chars, SendError, Sent};

/// Incoming webhooks take about one message per second.
pub const RATES: &[Rate] = &[Rate::per_second(1)];

/// Block Kit limits, in characters: a header's plain text, a section's text.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;

notifier_config! {
    pub struct Config {
        /// The webhook URL (`https://hooks.slack.com/services/…`: the path is the secret).
        pub url: Secret,
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        super::check_http("url", self.url.expose(), &mut e);
        e
    }
}

#[derive(Debug)]
pub struct Slack {
    client: reqwest::Client,
    url: Secret,
}

/// Slack's three control characters become entities (so a user name cannot mention
/// `<!channel>` or forge a link); Markdown's `**bold**` becomes mrkdwn's `*bold*`, and a
/// `### heading` (mrkdwn has none) a bold line.
pub fn mrkdwn(markdown: &str) -> String {
    let escaped = escape(markdown).replace("**", "*");
    let mut out = String::with_capacity(escaped.len());
    for (i, line) in escaped.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let heading = line.trim_start_matches('#');
        match heading.strip_prefix(' ') {
            Some(h) if heading.len() < line.len() && !h.trim().is_empty() => {
                out.push('*');
                out.push_str(h.trim().trim_matches('*'));
                out.push('*');
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// `s` fitted to `max` characters without leaving half an entity (`&am…`) at the cut.
fn fit_escaped(s: &str, max: usize) -> String {
    let fitted = fit_chars(s, max);
    if fitted.len() == s.len() {
        return fitted;
    }
    let body = fitted.trim_end_matches('…');
    match body.rfind('&') {
        Some(i) if !body[i..].contains(';') => format!("{}…", &body[..i]),
        _ => fitted,
    }
}

/// Slack's three control characters as entities.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Block Kit payload.
pub fn payload(m: &Message) -> serde_json::Value {
    let title = if m.title.trim().is_empty() {
        "logward alert"
    } else {
        m.title.as_str()
    };
    let body = if m.markdown.trim().is_empty() {
        mrkdwn(&m.text)
    } else {
        mrkdwn(m.markdown_under_header())
    };
    let body = if body.trim().is_empty() {
        "-".to_owned()
    } else {
        body
    };
    let context = if m.alerts > 1 {
        format!("logward · {} · {} alerts", m.severity, m.alerts)
    } else {
        format!("logward · {}", m.severity)
    };
    json!({
        // The notification text is mrkdwn too: escaped like the section.
        "text": fit_escaped(&escape(title), SECTION_MAX),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": fit_chars(title, HEADER_MAX), "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": fit_escaped(&body, SECTION_MAX)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    })
}

impl Slack {
    pub fn new(c: &Config, timeout: Duration) -> Result<Slack, String> {
        Ok(Slack {
            client: http::client(timeout)?,
            url: c.url.clone(),
        })
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body = http::json(&payload(m))?;
        http::post(&self.client, self.url.expose(), "application/json", body)
            .await?
            .sent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_an_entity() {
        assert_eq!(fit_escaped("ab&amp;cd", 5), "ab…");
        assert_eq!(fit_escaped("ab&amp;cd", 8), "ab&amp;…");
        assert_eq!(fit_escaped("ab&amp;", 7), "ab&amp;");
    }

    #[test]
    fn markdown_becomes_mrkdwn() {
        assert_eq!(
            mrkdwn("### [HIGH] SSH login\n\n**SSH login** · high\n- User: `<!channel>` & co\n#x"),
            "*[HIGH] SSH login*\n\n*SSH login* · high\n- User: `&lt;!channel&gt;` &amp; co\n#x"
        );
    }
}
