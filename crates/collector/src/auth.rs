//! Operator authentication for the dashboard and the REST API (docs/DASHBOARD.md):
//! argon2id password hashes, bearer API tokens stored as SHA-256, in-memory sessions with a
//! CSRF token each, and a login rate limit per client address and per user name.
//!
//! Secrets never reach a log line: sessions, tokens and passwords are kept (and looked up)
//! only by their SHA-256, and every comparison of secret material is constant-time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{random_bytes, random_hex, sha256_hex, Error};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "logward_session";
/// The header a dashboard page sends its CSRF token in on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The prefix of API tokens, so a leaked one is recognisable in a secret scanner.
pub const TOKEN_PREFIX: &str = "lwt_";

/// `a == b` in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password with argon2id (the crate's default parameters: 19 MiB, 2 passes) and a
/// random 16-byte salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt: [u8; 16] = random_bytes();
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Auth(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Auth(e.to_string()))
}

/// A PHC string that matches no password, verified when the user is unknown so that an
/// unknown name costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
}

/// Whether `password` matches the PHC string (`None`: unknown user, checked against a
/// dummy hash all the same). The argon2 crate compares the digests in constant time.
pub fn verify_password(phc: Option<&str>, password: &str) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| dummy_hash());
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && known
}

/// A new API token: the prefix and 32 random bytes in hex.
pub fn new_api_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex(32))
}

/// A user name operators may have: 1–64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

/// A logged-in operator's session.
#[derive(Clone)]
pub struct Session {
    pub user: String,
    /// Sent back on every state-changing request (the `X-CSRF-Token` header).
    pub csrf: String,
    expires: Instant,
}

impl std::fmt::Debug for Session {
    /// The CSRF token is redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("csrf", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// Sessions by the SHA-256 of their cookie value.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    /// Only how many there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("Sessions").field("live", &n).finish()
    }
}

/// At most this many sessions are kept (the oldest go first past it).
const MAX_SESSIONS: usize = 10_000;

impl Sessions {
    /// Starts a session; returns the cookie value (only its hash is kept) and the session.
    pub fn create(&self, user: &str, ttl: Duration) -> (String, Session) {
        let id = random_hex(32);
        let s = Session {
            user: user.to_owned(),
            csrf: random_hex(32),
            expires: Instant::now() + ttl,
        };
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.retain(|_, s| s.expires > now);
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(sha256_hex(id.as_bytes()), s.clone());
        (id, s)
    }

    /// The live session of a cookie value.
    pub fn get(&self, cookie: &str) -> Option<Session> {
        let key = sha256_hex(cookie.as_bytes());
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                m.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends a session; whether it was live.
    pub fn remove(&self, cookie: &str) -> bool {
        let key = sha256_hex(cookie.as_bytes());
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key)
            .is_some()
    }
}

/// Failed logins in a sliding window, per client address and per user name: past the limit
/// a login is refused (429) without checking the password until the window has passed.
#[derive(Debug)]
pub struct LoginLimiter {
    limit: u32,
    window: Duration,
    by_ip: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    by_user: Mutex<HashMap<String, Vec<Instant>>>,
}

/// At most this many addresses or names are tracked (a flood of new ones clears the oldest).
const MAX_TRACKED: usize = 100_000;

impl LoginLimiter {
    pub fn new(limit: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            limit: limit.max(1),
            window,
            by_ip: Mutex::new(HashMap::new()),
            by_user: Mutex::new(HashMap::new()),
        }
    }

    fn prune(v: &mut Vec<Instant>, window: Duration, now: Instant) {
        v.retain(|t| now.duration_since(*t) < window);
    }

    /// `Err(seconds to wait)` when this address or name is over the limit.
    pub fn check(&self, ip: Option<IpAddr>, user: &str) -> Result<(), u64> {
        let now = Instant::now();
        let wait = |v: &mut Vec<Instant>| -> Option<u64> {
            Self::prune(v, self.window, now);
            (v.len() >= self.limit as usize).then(|| {
                let oldest = v.iter().min().copied().unwrap_or(now);
                (self.window.saturating_sub(now.duration_since(oldest)))
                    .as_secs()
                    .max(1)
            })
        };
        if let Some(ip) = ip {
            let mut m = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = m.get_mut(&ip).and_then(wait) {
                return Err(s);
            }
        }
        let mut m = self.by_user.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(user).and_then(wait) {
            return Err(s);
        }
        Ok(())
    }

    /// Records a failed login.
    pub fn failed(&self, ip: Option<IpAddr>, user: &str) {
        let now = Instant::now();
        if let Some(ip) = ip {
            let mut m = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
            if m.len() >= MAX_TRACKED {
                m.clear();
            }
            m.entry(ip).or_default().push(now);
        }
        let mut m = self.by_user.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_TRACKED {
            m.clear();
        }
        let v = m.entry(user.to_owned()).or_default();
        Self::prune(v, self.window, now);
        v.push(now);
    }

    /// A successful login clears the name's failures (the address's stay).
    pub fn succeeded(&self, user: &str) {
        self.by_user
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(Some(&h), "correct horse"));
        assert!(!verify_password(Some(&h), "correct horse "));
        assert!(!verify_password(None, "correct horse"));
        assert_ne!(hash_password("correct horse").unwrap(), h, "salted");
    }

    #[test]
    fn sessions_limiter_and_comparison() {
        let s = Sessions::default();
        let (id, sess) = s.create("alice", Duration::from_secs(60));
        let shown = format!("{sess:?} {s:?}");
        assert!(
            !shown.contains(&sess.csrf) && !shown.contains(&id),
            "{shown}"
        );
        assert_eq!(s.get(&id).unwrap().csrf, sess.csrf);
        assert!(s.get("nope").is_none());
        assert!(s.remove(&id));
        assert!(s.get(&id).is_none());
        let (id, _) = s.create("bob", Duration::ZERO);
        assert!(s.get(&id).is_none(), "expired");

        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let ip = Some("192.0.2.9".parse().unwrap());
        assert!(l.check(ip, "a").is_ok());
        l.failed(ip, "a");
        l.failed(ip, "b");
        assert!(l.check(ip, "c").is_err(), "the address is over");
        assert!(l.check(None, "a").is_ok(), "one failure for a");

        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(new_api_token().starts_with(TOKEN_PREFIX));
        assert!(valid_user_name("alice.b@x") && !valid_user_name("a b") && !valid_user_name(""));
    }
}
