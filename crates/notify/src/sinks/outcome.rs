//! What a send returns: what the service answered, or why it failed and whether to retry;
//! and cutting text to what a service takes.

use std::time::Duration;

/// A delivery the service accepted, with what it answered (for `logward notify test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// HTTP status, or 250 for SMTP, 0 where the transport has none (syslog, file).
    pub status: u16,
    /// The service's answer, cut to 1 KiB.
    pub answer: String,
}

impl Sent {
    pub fn new(status: u16, answer: &str) -> Sent {
        Sent {
            status,
            answer: cut(answer, 1024).to_owned(),
        }
    }
}

/// Why a send failed, which decides what happens to the outbox row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: network error, timeout, 5xx. `after` is the service's own
    /// `Retry-After` when it gave one.
    #[error("{reason}")]
    Transient {
        reason: String,
        after: Option<Duration>,
    },
    /// The service asked us to slow down (HTTP 429, DingTalk errcode 130101, Feishu 11232,
    /// WeCom 45009, Telegram 429 with `retry_after`).
    #[error("rate limited: {reason}")]
    RateLimited {
        reason: String,
        after: Option<Duration>,
    },
    /// Retrying cannot help (a bad signature or key, a refused payload, a config error): the
    /// row is marked failed until an operator retries it.
    #[error("{reason}")]
    Permanent { reason: String },
}

impl SendError {
    pub fn transient(reason: impl Into<String>) -> SendError {
        SendError::Transient {
            reason: reason.into(),
            after: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent {
            reason: reason.into(),
        }
    }

    pub fn rate_limited(reason: impl Into<String>, after: Option<Duration>) -> SendError {
        SendError::RateLimited {
            reason: reason.into(),
            after,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` bytes, ending with `…` when something was cut.
pub fn fit(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    const ELLIPSIS: &str = "…";
    let mut out = cut(s, max.saturating_sub(ELLIPSIS.len())).to_owned();
    out.push_str(ELLIPSIS);
    out
}

/// `s` cut to at most `max` characters (services that count characters, not bytes: Telegram).
pub fn fit_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => {
            let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        let s = "登录成功"; // 3 bytes each
        assert_eq!(cut(s, 7), "登录");
        assert_eq!(cut(s, 100), s);
        assert_eq!(fit(s, 8), "登…");
        assert!(fit(s, 8).len() <= 8);
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit_chars("日本語テキスト", 4), "日本語…");
        assert_eq!(fit_chars("abc", 3), "abc");
    }
}
