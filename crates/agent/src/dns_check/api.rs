//! The HTTP threat-intelligence API (the seed's thread-pool consumer): `GET
//! URL?token=…&param=<domain>` answering JSON, its verdict and reason found by dotted paths.
//!
//! The pipeline never waits for it. A domain whose verdict is cached is answered at once; any
//! other goes to [`run`], a task that asks under a concurrency limit and a rate limit, each
//! request bounded by a timeout, and hands every answer back on a channel. A failed look-up
//! (timeout, error, 429) is asked again later with a doubling wait, up to `attempts` times;
//! 429's `Retry-After` pauses every request. Verdicts are cached per domain, bounded (least
//! recently used forgotten first), each kept as long as its verdict's TTL says.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use logward_notify::secret::{redact, Secret};
use minijinja::Environment;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

/// `api:` checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    pub url: String,
    pub post: bool,
    /// Query parameters: name, template.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub token: Secret,
    pub verdict_path: String,
    pub reason_path: Option<String>,
    pub verdicts: Verdicts,
    /// The severity word of a malicious verdict.
    pub severity: String,
    pub timeout: Duration,
    pub concurrency: usize,
    pub per_second: u32,
    pub cache_size: usize,
    /// TTL by verdict (lower case).
    pub ttl: HashMap<String, Duration>,
    pub ttl_default: Duration,
    pub retry_wait: Duration,
    pub retry_max_wait: Duration,
    pub attempts: u32,
    /// Domains waiting for an answer at most.
    pub queue: usize,
}

impl ApiSettings {
    /// The seed's shape at `url`, every limit at its default.
    pub fn new(url: String) -> ApiSettings {
        ApiSettings {
            url,
            post: false,
            query: vec![
                ("token".into(), "{{ token }}".into()),
                ("param".into(), "{{ domain }}".into()),
            ],
            headers: Vec::new(),
            body: None,
            token: Secret::default(),
            verdict_path: "verdict".into(),
            reason_path: Some("reason".into()),
            verdicts: Verdicts::new(["malicious"]),
            severity: "high".into(),
            timeout: Duration::from_secs(2),
            concurrency: 8,
            per_second: 50,
            cache_size: 100_000,
            ttl: HashMap::new(),
            ttl_default: Duration::from_secs(3600),
            retry_wait: Duration::from_secs(5),
            retry_max_wait: Duration::from_secs(300),
            attempts: 5,
            queue: 10_000,
        }
    }
}

/// The verdict values that mean malicious (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdicts(Vec<String>);

impl Verdicts {
    pub fn new<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Verdicts {
        Verdicts(
            values
                .into_iter()
                .map(|v| v.as_ref().trim().to_ascii_lowercase())
                .collect(),
        )
    }

    pub fn malicious(&self, verdict: &str) -> bool {
        self.0
            .iter()
            .any(|v| v.eq_ignore_ascii_case(verdict.trim()))
    }
}

/// Whether a template compiles (checked with the config).
pub fn check_template(t: &str) -> Result<(), String> {
    let mut env = Environment::new();
    env.add_template("t", t)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// What the API said about a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The verdict value as the API wrote it.
    pub value: String,
    pub reason: Option<String>,
    pub malicious: bool,
}

/// A look-up's end, handed back to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub domain: String,
    /// `None`: given up after every attempt failed.
    pub verdict: Option<Verdict>,
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct ApiStats {
    /// HTTP requests sent.
    pub requests: AtomicU64,
    /// Verdicts read from answers.
    pub verdicts: AtomicU64,
    pub malicious: AtomicU64,
    /// Queries answered from the cache.
    pub cache_hits: AtomicU64,
    /// Domains sent to be asked about.
    pub asked: AtomicU64,
    pub timeouts: AtomicU64,
    /// Transport errors, error statuses, answers without a verdict.
    pub errors: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
    /// Look-ups tried again after a failure.
    pub retries: AtomicU64,
    /// Domains given up after `attempts` failures.
    pub given_up: AtomicU64,
    /// Domains not asked about: too many already waiting.
    pub queue_full: AtomicU64,
}

/// [`ApiStats`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiCounts {
    pub requests: u64,
    pub verdicts: u64,
    pub malicious: u64,
    pub cache_hits: u64,
    pub asked: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub rate_limited: u64,
    pub retries: u64,
    pub given_up: u64,
    pub queue_full: u64,
}

impl ApiStats {
    pub fn counts(&self) -> ApiCounts {
        let l = |a: &AtomicU64| a.load(Relaxed);
        ApiCounts {
            requests: l(&self.requests),
            verdicts: l(&self.verdicts),
            malicious: l(&self.malicious),
            cache_hits: l(&self.cache_hits),
            asked: l(&self.asked),
            timeouts: l(&self.timeouts),
            errors: l(&self.errors),
            rate_limited: l(&self.rate_limited),
            retries: l(&self.retries),
            given_up: l(&self.given_up),
            queue_full: l(&self.queue_full),
        }
    }
}

struct Cached {
    verdict: Verdict,
    until: Instant,
}

/// The client, shared by the pipeline (cache reads) and the task that asks.
pub struct IntelApi {
    settings: ApiSettings,
    client: reqwest::Client,
    env: Environment<'static>,
    cache: Mutex<LruCache<String, Cached>>,
    /// The rate limit: when the next request may go, and until when a 429 paused them all.
    next_slot: Mutex<(Instant, Instant)>,
    pub stats: ApiStats,
}

impl std::fmt::Debug for IntelApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelApi")
            .field("url", &self.settings.url)
            .field("stats", &self.stats.counts())
            .finish_non_exhaustive()
    }
}

/// One failed attempt.
#[derive(Debug)]
enum Failure {
    Timeout,
    /// 429, with the wait the server asked for.
    Limited(Option<Duration>),
    Error(String),
}

impl IntelApi {
    pub fn new(settings: ApiSettings) -> Result<IntelApi, String> {
        let client = logward_notify::http::client(settings.timeout)?;
        let mut env = Environment::new();
        for (i, (_, t)) in settings.query.iter().enumerate() {
            env.add_template_owned(format!("q{i}"), t.clone())
                .map_err(|e| e.to_string())?;
        }
        for (i, (_, t)) in settings.headers.iter().enumerate() {
            env.add_template_owned(format!("h{i}"), t.clone())
                .map_err(|e| e.to_string())?;
        }
        if let Some(b) = &settings.body {
            env.add_template_owned("body", b.clone())
                .map_err(|e| e.to_string())?;
        }
        let now = Instant::now();
        Ok(IntelApi {
            cache: Mutex::new(LruCache::new(settings.cache_size.max(1))),
            next_slot: Mutex::new((now, now)),
            settings,
            client,
            env,
            stats: ApiStats::default(),
        })
    }

    pub fn settings(&self) -> &ApiSettings {
        &self.settings
    }

    /// The cached verdict on `domain`, if fresh (counted as a cache hit).
    pub fn cached(&self, domain: &str) -> Option<Verdict> {
        let mut cache = self.cache.lock().ok()?;
        let now = Instant::now();
        let hit = match cache.get_mut(domain) {
            Some(c) if c.until > now => Some(c.verdict.clone()),
            Some(_) => {
                cache.remove(domain);
                None
            }
            None => None,
        };
        if hit.is_some() {
            self.stats.cache_hits.fetch_add(1, Relaxed);
        }
        hit
    }

    fn remember(&self, domain: &str, v: &Verdict) {
        let ttl = self
            .settings
            .ttl
            .get(&v.value.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.settings.ttl_default);
        if ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                domain.to_owned(),
                Cached {
                    verdict: v.clone(),
                    until: Instant::now() + ttl,
                },
            );
        }
    }

    /// Waits for this request's turn under the rate limit (and any 429 pause).
    async fn turn(&self) {
        let at = {
            let Ok(mut s) = self.next_slot.lock() else {
                return;
            };
            let now = Instant::now();
            let slot = now.max(s.0).max(s.1);
            s.0 = slot + Duration::from_secs(1) / self.settings.per_second.max(1);
            slot
        };
        tokio::time::sleep_until(at.into()).await;
    }

    fn pause(&self, wait: Duration) {
        if let Ok(mut s) = self.next_slot.lock() {
            s.1 = s.1.max(Instant::now() + wait);
        }
    }

    fn render(&self, name: &str, domain: &str) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| e.to_string())?;
        t.render(minijinja::context! {domain => domain, token => self.settings.token.expose()})
            .map_err(|e| e.to_string())
    }

    /// One request about `domain`.
    async fn ask_once(&self, domain: &str) -> Result<Verdict, Failure> {
        let secret = [self.settings.token.expose()];
        let hide = |s: String| redact(&s, &secret);
        let mut params = Vec::with_capacity(self.settings.query.len());
        for (i, (k, _)) in self.settings.query.iter().enumerate() {
            params.push((
                k.as_str(),
                self.render(&format!("q{i}"), domain)
                    .map_err(Failure::Error)?,
            ));
        }
        let url = reqwest::Url::parse_with_params(&self.settings.url, &params)
            .map_err(|e| Failure::Error(format!("url: {e}")))?;
        let mut headers = Vec::with_capacity(self.settings.headers.len());
        for (i, (k, _)) in self.settings.headers.iter().enumerate() {
            headers.push((
                k.clone(),
                self.render(&format!("h{i}"), domain)
                    .map_err(Failure::Error)?,
            ));
        }
        let body = match &self.settings.body {
            Some(_) => self
                .render("body", domain)
                .map_err(Failure::Error)?
                .into_bytes(),
            None => Vec::new(),
        };
        let method = if self.settings.post {
            Method::POST
        } else {
            Method::GET
        };
        self.stats.requests.fetch_add(1, Relaxed);
        let limit = self.settings.timeout + Duration::from_millis(100);
        let reply = match tokio::time::timeout(
            limit,
            logward_notify::http::exchange(
                &self.client,
                method,
                url.as_str(),
                "application/json",
                &headers,
                body,
            ),
        )
        .await
        {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(e)) => {
                let text = hide(e.to_string());
                return Err(if text.contains("timed out") {
                    Failure::Timeout
                } else {
                    Failure::Error(text)
                });
            }
            Ok(Ok(r)) => r,
        };
        if reply.status.as_u16() == 429 {
            return Err(Failure::Limited(reply.retry_after));
        }
        if !reply.status.is_success() {
            return Err(Failure::Error(format!("HTTP {}", reply.status.as_u16())));
        }
        let json: Value = serde_json::from_str(&reply.body)
            .map_err(|_| Failure::Error("the answer is not JSON".into()))?;
        let value = lookup(&json, &self.settings.verdict_path)
            .and_then(text)
            .ok_or_else(|| {
                Failure::Error(format!(
                    "no verdict at `{}` in the answer",
                    self.settings.verdict_path
                ))
            })?;
        let reason = self
            .settings
            .reason_path
            .as_deref()
            .and_then(|p| lookup(&json, p))
            .and_then(text)
            .filter(|r| !r.is_empty());
        Ok(Verdict {
            malicious: self.settings.verdicts.malicious(&value),
            value,
            reason,
        })
    }

    /// Asks about `domain` until it answers or `attempts` failed; the verdict is cached.
    async fn ask(&self, domain: &str, permits: &Semaphore) -> Option<Verdict> {
        let mut wait = self.settings.retry_wait;
        for attempt in 1..=self.settings.attempts.max(1) {
            if attempt > 1 {
                self.stats.retries.fetch_add(1, Relaxed);
            }
            let result = {
                let Ok(_permit) = permits.acquire().await else {
                    return None;
                };
                self.turn().await;
                self.ask_once(domain).await
            };
            let pause = match result {
                Ok(v) => {
                    self.stats.verdicts.fetch_add(1, Relaxed);
                    if v.malicious {
                        self.stats.malicious.fetch_add(1, Relaxed);
                    }
                    self.remember(domain, &v);
                    return Some(v);
                }
                Err(Failure::Timeout) => {
                    self.stats.timeouts.fetch_add(1, Relaxed);
                    tracing::debug!(domain, attempt, "intel API: timed out");
                    wait
                }
                Err(Failure::Limited(after)) => {
                    self.stats.rate_limited.fetch_add(1, Relaxed);
                    let w = after.unwrap_or(wait).min(self.settings.retry_max_wait);
                    // Every request waits, not just this one: the server said "too many".
                    self.pause(w);
                    tracing::debug!(
                        domain,
                        attempt,
                        wait_ms = w.as_millis() as u64,
                        "intel API: 429, pausing"
                    );
                    w
                }
                Err(Failure::Error(e)) => {
                    self.stats.errors.fetch_add(1, Relaxed);
                    tracing::debug!(domain, attempt, error = %e, "intel API: look-up failed");
                    wait
                }
            };
            if attempt < self.settings.attempts {
                tokio::time::sleep(pause).await;
                wait = (wait * 2).min(self.settings.retry_max_wait);
            }
        }
        self.stats.given_up.fetch_add(1, Relaxed);
        tracing::warn!(
            domain,
            attempts = self.settings.attempts,
            "intel API: no verdict after every attempt; the domain is asked again when next seen"
        );
        None
    }
}

/// The value at a dotted path (`data.0.verdict`: object keys, array indexes).
pub fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A scalar as text (`"malicious"`, `3`, `true`); objects, arrays and null are none.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The asking task: domains in, answers out, until the domains' sender is dropped. Every
/// domain is asked on a task of its own (concurrency and rate are limited inside), so a
/// slow domain never holds the others.
pub async fn run(
    api: Arc<IntelApi>,
    mut domains: mpsc::UnboundedReceiver<String>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    let permits = Arc::new(Semaphore::new(api.settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            d = domains.recv() => {
                let Some(domain) = d else { break };
                api.stats.asked.fetch_add(1, Relaxed);
                let (api, permits, answers) = (Arc::clone(&api), Arc::clone(&permits), answers.clone());
                tasks.spawn(async move {
                    let verdict = api.ask(&domain, &permits).await;
                    let _ = answers.send(Answer { domain, verdict });
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_reach_into_objects_and_arrays() {
        let v: Value = serde_json::json!({"data": [{"verdict": "black", "score": 9}], "ok": true});
        assert_eq!(
            lookup(&v, "data.0.verdict").and_then(text).as_deref(),
            Some("black")
        );
        assert_eq!(
            lookup(&v, "data.0.score").and_then(text).as_deref(),
            Some("9")
        );
        assert_eq!(lookup(&v, "ok").and_then(text).as_deref(), Some("true"));
        assert_eq!(lookup(&v, "data.1.verdict"), None);
        assert_eq!(lookup(&v, "data.x"), None);
        assert_eq!(lookup(&v, "data").and_then(text), None);
    }

    #[test]
    fn malicious_verdicts_compare_without_case() {
        let v = Verdicts::new(["Malicious", "black"]);
        assert!(v.malicious("MALICIOUS"));
        assert!(v.malicious(" black "));
        assert!(!v.malicious("white"));
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template("{{ domain }}").is_ok());
        assert!(check_template("{{ domain ").is_err());
    }
}
