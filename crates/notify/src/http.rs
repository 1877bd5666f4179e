//! The HTTP side shared by the chat and webhook notifiers: one client (rustls, timeouts, no
//! redirects to elsewhere), status codes mapped to [`SendError`]s, and URLs kept out of error
//! messages (robot keys and bot tokens live in them).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode};

use crate::sinks::outcome::{cut, SendError, Sent};

/// Per-request timeout unless a notifier sets its own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for one notifier.
pub fn client(timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("logward/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// What the service answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

/// Any answer at all, 2xx or not, for services whose JSON error codes say more than the
/// HTTP status (the Chinese chat robots answer `{"errcode": …}` with 200, 400 or 429 alike).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Reply {
    /// What the HTTP status alone says: `Ok` for any answer in 2xx, a classified error
    /// otherwise.
    pub fn classify(self) -> Result<Answer, SendError> {
        classify(self.status, self.retry_after, self.body)
    }

    /// [`Self::classify`], as the delivery record takes it.
    pub fn sent(self) -> Result<Sent, SendError> {
        self.classify()
            .map(|a| Sent::new(a.status.as_u16(), &a.body))
    }
}

/// A message's JSON body; a value serde cannot write is a permanent failure.
pub fn json(value: &impl serde::Serialize) -> Result<Vec<u8>, SendError> {
    serde_json::to_vec(value).map_err(|e| SendError::permanent(e.to_string()))
}

/// [`exchange`] by POST with no headers but the content type.
pub async fn post(
    client: &Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Reply, SendError> {
    exchange(client, Method::POST, url, content_type, &[], body).await
}

/// [`post`] of a JSON body, as the chat robots take it.
pub async fn post_json(client: &Client, url: &str, body: Vec<u8>) -> Result<Reply, SendError> {
    post(client, url, "application/json; charset=utf-8", body).await
}

/// Sends one request and returns whatever came back; only transport failures are errors.
/// The URL never appears in the error.
pub async fn exchange(
    client: &Client,
    method: Method,
    url: &str,
    content_type: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Reply, SendError> {
    let mut map = HeaderMap::new();
    map.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).map_err(|e| SendError::permanent(e.to_string()))?,
    );
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| SendError::permanent(format!("invalid header name `{k}`")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| SendError::permanent(format!("invalid value for header `{k}`")))?;
        map.insert(name, value);
    }
    let resp = client
        .request(method, url)
        .headers(map)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::transient(describe(&e)))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp
        .text()
        .await
        .map_err(|e| SendError::transient(describe(&e)))?;
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// A reqwest error without its URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// 2xx → the answer; 429 → rate limited; 5xx and 408 → transient; any other → permanent.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: String,
) -> Result<Answer, SendError> {
    let shown = || format!("HTTP {}: {}", status.as_u16(), cut(body.trim(), 300));
    if status.is_success() {
        return Ok(Answer { status, body });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(SendError::rate_limited(shown(), retry_after));
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Err(SendError::Transient {
            reason: shown(),
            after: retry_after,
        });
    }
    Err(SendError::permanent(shown()))
}

/// A JSON answer's service code and message: the first of `codes` that is an integer and the
/// first of `messages` that is a string (`{"errcode":0,"errmsg":"ok"}`, `{"code":0,"msg":…}`).
/// `None` when the body is not JSON or carries no code.
pub fn service_code(body: &str, codes: &[&str], messages: &[&str]) -> Option<(i64, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let code = codes.iter().find_map(|k| v.get(k)?.as_i64())?;
    let msg = messages
        .iter()
        .find_map(|k| v.get(k)?.as_str())
        .unwrap_or_default();
    Some((code, cut(msg, 300).to_owned()))
}

/// The verdict on a chat service's answer: `code` is its JSON error code (see
/// [`service_code`]), `service` classifies a non-zero one. No code or code 0 → the HTTP
/// status decides; a non-zero code decides, except that a 429, 408 or 5xx status stays a rate
/// limit or a transient failure unless the code itself says rate limited.
pub fn judge(
    reply: Reply,
    code: Option<(i64, String)>,
    service: impl FnOnce(i64, &str) -> SendError,
) -> Result<Sent, SendError> {
    let (code, msg) = match code {
        None | Some((0, _)) => return reply.sent(),
        Some(c) => c,
    };
    let e = service(code, &msg);
    let s = reply.status;
    let overloaded = s == StatusCode::TOO_MANY_REQUESTS
        || s == StatusCode::REQUEST_TIMEOUT
        || s.is_server_error();
    if overloaded && !matches!(e, SendError::RateLimited { .. }) {
        return reply.sent();
    }
    Err(e)
}

/// How a chat service answers in JSON (`{"errcode": …, "errmsg": …}` or the like) and what
/// its non-zero codes mean: which say slow down, which say busy (retry soon); any other code
/// cannot succeed on a retry. One table per service instead of one classifier each.
#[derive(Debug)]
pub struct ServiceCodes {
    /// Leads each error's text: `DingTalk errcode`.
    pub name: &'static str,
    /// The keys that may hold the code and the message (see [`service_code`]).
    pub codes: &'static [&'static str],
    pub messages: &'static [&'static str],
    /// Codes that mean slow down, and how long to wait after one.
    pub throttled: &'static [i64],
    pub throttled_for: Option<Duration>,
    /// Codes that mean the service is busy: worth a retry.
    pub busy: &'static [i64],
}

impl ServiceCodes {
    /// A service answering `{"errcode": …, "errmsg": …}` (DingTalk, WeCom): its `throttled`
    /// codes mean wait a minute, -1 means busy.
    pub const fn errcode(name: &'static str, throttled: &'static [i64]) -> ServiceCodes {
        ServiceCodes {
            name,
            codes: &["errcode"],
            messages: &["errmsg"],
            throttled,
            throttled_for: Some(Duration::from_secs(60)),
            busy: &[-1],
        }
    }

    /// The error a non-zero `code` stands for.
    pub fn classify(&self, code: i64, msg: &str) -> SendError {
        let reason = format!("{} {code}: {msg}", self.name);
        if self.throttled.contains(&code) {
            SendError::rate_limited(reason, self.throttled_for)
        } else if self.busy.contains(&code) {
            SendError::transient(reason)
        } else {
            SendError::permanent(reason)
        }
    }

    /// The code and message of an answer's body.
    pub fn read(&self, body: &str) -> Option<(i64, String)> {
        service_code(body, self.codes, self.messages)
    }

    /// Posts a JSON body and judges the answer by its code and its status.
    pub async fn post(&self, client: &Client, url: &str, body: Vec<u8>) -> Result<Sent, SendError> {
        let reply = post_json(client, url, body).await?;
        let code = self.read(&reply.body);
        judge(reply, code, |c, m| self.classify(c, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let c = |s: u16| {
            classify(
                StatusCode::from_u16(s).unwrap_or(StatusCode::OK),
                None,
                "x".into(),
            )
        };
        assert!(c(200).is_ok());
        assert!(c(204).is_ok());
        assert!(matches!(c(429), Err(SendError::RateLimited { .. })));
        assert!(matches!(c(503), Err(SendError::Transient { .. })));
        assert!(matches!(c(408), Err(SendError::Transient { .. })));
        assert!(matches!(c(400), Err(SendError::Permanent { .. })));
        assert!(matches!(c(403), Err(SendError::Permanent { .. })));
    }

    #[test]
    fn each_services_codes_are_classified() {
        use crate::sinks::{dingtalk, feishu, wecom};
        // (service, code, message, what it means)
        let cases = [
            (&dingtalk::CODES, 130101, "send too fast", "rate limited"),
            (&dingtalk::CODES, 310000, "sign not match", "permanent"),
            (&dingtalk::CODES, -1, "busy", "transient"),
            (
                &wecom::CODES,
                45009,
                "api freq out of limit",
                "rate limited",
            ),
            (&wecom::CODES, -1, "busy", "transient"),
            (&wecom::CODES, 93000, "invalid webhook url", "permanent"),
            (&feishu::CODES, 11232, "frequency limited", "rate limited"),
            (&feishu::CODES, 9499, "Too Many Request", "rate limited"),
            (&feishu::CODES, 19021, "sign match fail", "permanent"),
            (&feishu::CODES, 19024, "Key Words Not Found", "permanent"),
        ];
        for (service, code, msg, want) in cases {
            let e = service.classify(code, msg);
            let got = match e {
                SendError::RateLimited { .. } => "rate limited",
                SendError::Transient { .. } => "transient",
                SendError::Permanent { .. } => "permanent",
            };
            assert_eq!(got, want, "{} {code}", service.name);
        }
        assert!(dingtalk::CODES
            .classify(310000, "x")
            .to_string()
            .contains("310000"));
        assert!(matches!(
            dingtalk::CODES.classify(130101, "send too fast"),
            SendError::RateLimited { after: Some(_), .. }
        ));
    }

    #[test]
    fn service_codes_decide_unless_the_status_says_overloaded() {
        let judged = |status: u16, body: &str| {
            let reply = Reply {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                retry_after: None,
                body: body.into(),
            };
            let code = service_code(body, &["errcode"], &["errmsg"]);
            judge(reply, code, |c, m| match c {
                130101 => SendError::rate_limited(format!("{c} {m}"), None),
                _ => SendError::permanent(format!("{c} {m}")),
            })
        };
        assert!(judged(200, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(judged(200, "not json").is_ok());
        let e = judged(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#);
        assert_eq!(e, Err(SendError::permanent("310000 sign not match")));
        assert!(matches!(
            judged(400, r#"{"errcode":0}"#),
            Err(SendError::Permanent { .. })
        ));
        assert!(matches!(
            judged(429, r#"{"errcode":1}"#),
            Err(SendError::RateLimited { .. })
        ));
        assert!(matches!(
            judged(502, r#"{"errcode":1}"#),
            Err(SendError::Transient { .. })
        ));
        assert!(matches!(
            judged(503, r#"{"errcode":130101}"#),
            Err(SendError::RateLimited { .. })
        ));
    }
}
