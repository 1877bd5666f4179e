//! Operator authentication for the dashboard and the REST API (docs/DASHBOARD.md):
//! argon2id password hashes, bearer API tokens stored as SHA-256, in-memory sessions with a
//! CSRF token each, and a login rate limit per client address and per user name.
//!
//! Secrets never reach a log line: sessions, tokens and passwords are kept (and looked up)
//! only by their SHA-256, and every comparison of secret material is constant-time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use logward_core::backoff::Backoff;

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
/// dummy hash all the same). The digests are compared in constant time.
pub fn verify_password(phc: Option<&str>, password: &str) -> bool {
    verify_in(phc, password, &mut Vec::new())
}

/// [`verify_password`] with argon2's working memory (~19 MiB) given by the caller: the
/// login reuses one buffer per concurrent check, so a login flood neither allocates 19 MiB
/// a time nor leaves them behind in the allocator's per-thread arenas.
pub fn verify_in(phc: Option<&str>, password: &str, memory: &mut Vec<Block>) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| dummy_hash());
    let ok = (|| -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let expected = hash.hash?;
        let mut salt = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt).ok()?;
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&hash).ok()?;
        memory.resize(params.block_count(), Block::default());
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
            .ok()?;
        Some(constant_time_eq(&out, expected.as_bytes()))
    })()
    .unwrap_or(false);
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
    /// The SHA-256 of the operator's password hash at login: a session ends when the
    /// operator is removed or their password changes.
    credential: String,
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
    /// Starts a session for `user`, who logged in against the password hash `phc`; returns
    /// the cookie value (only its hash is kept) and the session.
    pub fn create(&self, user: &str, phc: &str, ttl: Duration) -> (String, Session) {
        let id = random_hex(32);
        let s = Session {
            user: user.to_owned(),
            csrf: random_hex(32),
            credential: sha256_hex(phc.as_bytes()),
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

    /// The unexpired session of a cookie value (not yet checked against the operators:
    /// [`live_session`] does that).
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

    /// Ends every session of `user`; how many.
    pub fn end_user(&self, user: &str) -> usize {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let before = m.len();
        m.retain(|_, s| s.user != user);
        before - m.len()
    }
}

/// The session of a cookie, checked against the store on every lookup: an operator removed
/// (`logward collector user remove`) or given a new password since the login has no session
/// any more, whichever process changed the store. A store error is no session.
pub async fn live_session(state: &crate::server::AppState, cookie: &str) -> Option<Session> {
    let s = state.sessions.get(cookie)?;
    let user = s.user.clone();
    let phc = state
        .store
        .call(move |st| st.operator_password(&user))
        .await
        .ok()?
        .ok()?;
    let current = phc.map(|p| sha256_hex(p.as_bytes()));
    if current.is_some_and(|c| constant_time_eq(c.as_bytes(), s.credential.as_bytes())) {
        return Some(s);
    }
    let n = state.sessions.end_user(&s.user);
    tracing::info!(user = %s.user, sessions = n, "operator removed or password changed: sessions ended");
    None
}

/// The key failed logins are counted under for an address: IPv4 as is (an IPv4-mapped IPv6
/// address as its IPv4), IPv6 by its /64 — one host usually has the whole /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Why a login is not checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This address failed too often: retry after this many seconds (429).
    Limited(u64),
    /// Too many password checks are running or queued (503).
    Busy,
}

/// The dashboard login's guard (docs/DASHBOARD.md).
///
/// - Per client address (IPv6: per /64): `limit` failed logins in `window`, then every login
///   from it is refused (429) without checking the password. An attempt is counted *before*
///   its password is checked (and un-counted on success), so concurrent guesses cannot all
///   pass the check before the first failure is recorded.
/// - Per user name, from every address: no lockout (an attacker elsewhere must not lock the
///   real operator out) but a growing delay before the check once the name has `limit`
///   failures in the window: 1 s, doubling, at most [`MAX_DELAY`].
/// - Password checks (argon2id, ~19 MiB each) run at most one per core at once; a few more
///   wait, the rest are refused (503) at once, so a login flood cannot take the memory.
#[derive(Debug)]
pub struct LoginLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<Counts>,
    checks: tokio::sync::Semaphore,
    /// argon2's working memory, one buffer per check that may run at once, reused.
    memory: Memory,
    permits: usize,
    /// Checks running or waiting.
    queued: AtomicUsize,
    running: AtomicUsize,
    /// The most checks that ever ran at once.
    peak: AtomicUsize,
}

/// Reused argon2 working memory (its `Debug` says only how many buffers are kept).
#[derive(Default)]
struct Memory(Mutex<Vec<Vec<Block>>>);

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Memory({n} buffers)")
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// Attempts (failed or being checked) per address key, oldest first.
    by_addr: HashMap<IpAddr, Vec<(u64, Instant)>>,
    /// The same per user name.
    by_user: HashMap<String, Vec<(u64, Instant)>>,
    next_id: u64,
}

/// At most this many addresses or names are tracked (a flood of new ones clears the oldest).
const MAX_TRACKED: usize = 100_000;
/// The longest a user name's delay grows to.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Password checks that may wait for a core, per core.
const QUEUE_PER_CHECK: usize = 4;

/// A counted login attempt: a failure unless [`Attempt::succeeded`] or
/// [`Attempt::cancel`] is called.
#[derive(Debug)]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    id: u64,
    addr: Option<IpAddr>,
    user: String,
    /// How long to wait before checking the password (the user name's delay).
    pub delay: Duration,
}

impl Attempt<'_> {
    /// The password was right: the attempt is not a failure.
    pub fn succeeded(self) {
        self.limiter.forget(self.id, self.addr, &self.user);
    }

    /// The password was not checked (the server was busy): the attempt does not count.
    pub fn cancel(self) {
        self.limiter.forget(self.id, self.addr, &self.user);
    }
}

impl LoginLimiter {
    pub fn new(limit: u32, window: Duration) -> LoginLimiter {
        let permits = std::thread::available_parallelism().map_or(1, |n| n.get());
        LoginLimiter {
            limit: limit.max(1),
            window,
            counts: Mutex::new(Counts::default()),
            checks: tokio::sync::Semaphore::new(permits),
            memory: Memory::default(),
            permits,
            queued: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Counts an attempt from `ip` for `user` before its password is checked, or refuses it
    /// when the address is over its limit. One lock covers the check and the count.
    pub fn begin(&self, ip: Option<IpAddr>, user: &str) -> Result<Attempt<'_>, Refused> {
        let now = Instant::now();
        let window = self.window;
        let limit = self.limit as usize;
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let addr = ip.map(address_key);
        if let Some(a) = addr {
            if let Some(v) = c.by_addr.get_mut(&a) {
                v.retain(|(_, t)| now.duration_since(*t) < window);
                if v.len() >= limit {
                    let oldest = v.first().map_or(now, |(_, t)| *t);
                    let wait = window.saturating_sub(now.duration_since(oldest));
                    return Err(Refused::Limited(wait.as_secs().max(1)));
                }
            }
        }
        let id = c.next_id;
        c.next_id += 1;
        if let Some(a) = addr {
            if c.by_addr.len() >= MAX_TRACKED && !c.by_addr.contains_key(&a) {
                c.by_addr.clear();
            }
            c.by_addr.entry(a).or_default().push((id, now));
        }
        if c.by_user.len() >= MAX_TRACKED && !c.by_user.contains_key(user) {
            c.by_user.clear();
        }
        let v = c.by_user.entry(user.to_owned()).or_default();
        v.retain(|(_, t)| now.duration_since(*t) < window);
        let over = v.len().saturating_sub(limit.saturating_sub(1));
        v.push((id, now));
        let delay = match over {
            0 => Duration::ZERO,
            n => {
                let n = u32::try_from(n - 1).unwrap_or(u32::MAX);
                Backoff::step(Duration::from_secs(1), MAX_DELAY, n)
            }
        };
        Ok(Attempt {
            limiter: self,
            id,
            addr,
            user: user.to_owned(),
            delay,
        })
    }

    fn forget(&self, id: u64, addr: Option<IpAddr>, user: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = addr.and_then(|a| c.by_addr.get_mut(&a)) {
            v.retain(|(i, _)| *i != id);
        }
        if let Some(v) = c.by_user.get_mut(user) {
            v.retain(|(i, _)| *i != id);
        }
    }

    /// Checks a password on a blocking thread, at most one per core at once; `Busy` when
    /// too many are already running or waiting.
    pub async fn verify(&self, phc: Option<String>, password: String) -> Result<bool, Refused> {
        let bound = self.permits * (1 + QUEUE_PER_CHECK);
        if self.queued.fetch_add(1, Ordering::SeqCst) >= bound {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Refused::Busy);
        }
        let result = async {
            let _permit = self.checks.acquire().await.map_err(|_| Refused::Busy)?;
            let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            let mut memory = self
                .memory
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let checked = tokio::task::spawn_blocking(move || {
                let ok = verify_in(phc.as_deref(), &password, &mut memory);
                (ok, memory)
            })
            .await;
            let ok = match checked {
                Ok((ok, memory)) => {
                    self.memory
                        .0
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(memory);
                    ok
                }
                Err(_) => false,
            };
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(ok)
        }
        .await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// How many password checks may run at once.
    pub fn max_checks(&self) -> usize {
        self.permits
    }

    /// The most password checks that ran at once so far.
    pub fn peak_checks(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
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
        let (id, sess) = s.create("alice", "$phc", Duration::from_secs(60));
        let shown = format!("{sess:?} {s:?}");
        assert!(
            !shown.contains(&sess.csrf) && !shown.contains(&id),
            "{shown}"
        );
        assert_eq!(s.get(&id).unwrap().csrf, sess.csrf);
        assert!(s.get("nope").is_none());
        assert!(s.remove(&id));
        assert!(s.get(&id).is_none());
        let (id, _) = s.create("bob", "$phc", Duration::ZERO);
        assert!(s.get(&id).is_none(), "expired");
        let (id, _) = s.create("carol", "$phc", Duration::from_secs(60));
        assert_eq!(s.end_user("carol"), 1);
        assert!(s.get(&id).is_none(), "ended");

        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let ip = Some("192.0.2.9".parse().unwrap());
        let a = l.begin(ip, "a").unwrap();
        assert_eq!(a.delay, Duration::ZERO);
        l.begin(ip, "b").unwrap().succeeded();
        drop(a);
        let _b = l.begin(ip, "b").unwrap();
        assert!(
            matches!(l.begin(ip, "c"), Err(Refused::Limited(_))),
            "two attempts counted before any check: the address is over"
        );
        // The name has no lockout, only a growing delay.
        let other = Some("198.51.100.1".parse().unwrap());
        assert_eq!(l.begin(other, "b").unwrap().delay, Duration::ZERO);
        assert_eq!(l.begin(None, "b").unwrap().delay, Duration::from_secs(1));
        assert_eq!(l.begin(None, "b").unwrap().delay, Duration::from_secs(2));
        let v6 = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2:3::9"), v6("2001:db8:1:2:ffff::1"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("::ffff:192.0.2.1"), v6("192.0.2.1"));

        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(new_api_token().starts_with(TOKEN_PREFIX));
        assert!(valid_user_name("alice.b@x") && !valid_user_name("a b") && !valid_user_name(""));
    }
}
