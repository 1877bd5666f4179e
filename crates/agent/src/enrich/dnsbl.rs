//! DNS blocklist look-ups (RFC 5782) for the source addresses of successful logins.
//!
//! Nothing is enabled by default: a look-up tells the list's operator which address just
//! logged in. When zones are configured, each address is asked once per cache lifetime,
//! under a rate and a concurrency limit and a timeout, so a slow or dead DNS server delays
//! a login's alert by at most the timeout and never the events behind it; an address over
//! the limits is simply not looked up (counted). Answers in 127.255.255.0/24 are the lists'
//! error codes ("you are over quota", "open resolver refused"), not listings.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use tokio::sync::Semaphore;

/// The shortest time an answer is kept.
const MIN_CACHE: Duration = Duration::from_secs(60);

/// Settings (the agent config's `enrich.dnsbl`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Zones to ask, e.g. `zen.spamhaus.org`. Empty: DNSBL is off.
    pub zones: Vec<String>,
    /// Name servers; empty: the system's (/etc/resolv.conf).
    pub nameservers: Vec<SocketAddr>,
    /// Per query.
    pub timeout: Duration,
    /// Queries in flight at most.
    pub concurrency: usize,
    /// Addresses looked up per second at most (each address asks every zone).
    pub per_second: u32,
    /// How long an answer is kept (a listing at most its record's TTL, this at most).
    pub cache_ttl: Duration,
    /// Addresses remembered at most.
    pub cache_size: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            zones: Vec::new(),
            nameservers: Vec::new(),
            timeout: Duration::from_millis(1500),
            concurrency: 8,
            per_second: 20,
            cache_ttl: Duration::from_secs(3600),
            cache_size: 10_000,
        }
    }
}

/// Why a resolver could not be built.
#[derive(Debug, thiserror::Error)]
#[error("dnsbl: cannot set up the resolver: {0}")]
pub struct DnsblError(String);

/// What a look-up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The zones that list the address (possibly none).
    Checked(Vec<String>),
    /// Not asked: a private, loopback or reserved address, or over the rate or concurrency
    /// limit.
    Skipped(Skip),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NotPublic,
    Limited,
    Disabled,
    /// Every zone timed out or failed: nothing is known (not "not listed").
    Unanswered,
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub queries: AtomicU64,
    pub listed: AtomicU64,
    pub cache_hits: AtomicU64,
    pub timeouts: AtomicU64,
    pub errors: AtomicU64,
    /// Answers in 127.255.255.0/24: the list refused to answer.
    pub error_codes: AtomicU64,
    pub limited: AtomicU64,
}

/// [`Stats`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub queries: u64,
    pub listed: u64,
    pub cache_hits: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub error_codes: u64,
    pub limited: u64,
}

impl Stats {
    pub fn counts(&self) -> Counts {
        Counts {
            queries: self.queries.load(Relaxed),
            listed: self.listed.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            errors: self.errors.load(Relaxed),
            error_codes: self.error_codes.load(Relaxed),
            limited: self.limited.load(Relaxed),
        }
    }
}

#[derive(Debug)]
struct Cached {
    zones: Vec<String>,
    until: Instant,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The look-up service.
pub struct Dnsbl {
    settings: Settings,
    resolver: Option<TokioResolver>,
    cache: Mutex<HashMap<IpAddr, Cached>>,
    bucket: Mutex<Bucket>,
    in_flight: Semaphore,
    pub stats: Stats,
}

impl std::fmt::Debug for Dnsbl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dnsbl")
            .field("zones", &self.settings.zones)
            .finish_non_exhaustive()
    }
}

/// Whether an address is worth asking about: globally routed unicast only.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, shared address space
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // Global unicast is 2000::/3, minus documentation 2001:db8::/32.
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// The query name of `ip` in `zone` (RFC 5782: reversed octets, or reversed nibbles).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64 + zone.len() + 1);
            for b in v6.octets().iter().rev() {
                for n in [b & 0x0f, b >> 4] {
                    s.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str(zone);
            s.push('.');
            s
        }
    }
}

/// What an A record in a DNSBL answer means.
fn listing(a: Ipv4Addr) -> Option<bool> {
    let o = a.octets();
    if o[0] != 127 {
        // Not a DNSBL answer at all (a resolver that rewrites NXDOMAIN, say).
        return None;
    }
    Some(!(o[1] == 255 && o[2] == 255))
}

impl Dnsbl {
    /// Builds the service; with no zones it answers [`Skip::Disabled`] without a resolver.
    pub fn new(settings: Settings) -> Result<Dnsbl, DnsblError> {
        let resolver = if settings.zones.is_empty() {
            None
        } else {
            let provider = TokioConnectionProvider::default();
            let mut builder = if settings.nameservers.is_empty() {
                TokioResolver::builder(provider).map_err(|e| DnsblError(e.to_string()))?
            } else {
                let mut group = NameServerConfigGroup::new();
                for ns in &settings.nameservers {
                    group.merge(NameServerConfigGroup::from_ips_clear(
                        &[ns.ip()],
                        ns.port(),
                        true,
                    ));
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], group),
                    provider,
                )
            };
            let o = builder.options_mut();
            o.timeout = settings.timeout;
            o.attempts = 1;
            // logward keeps its own cache per address; the resolver's would double it.
            o.cache_size = 0;
            o.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
            o.ndots = 0;
            Some(builder.build())
        };
        Ok(Dnsbl {
            in_flight: Semaphore::new(settings.concurrency.max(1)),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(settings.per_second.max(1)),
                at: Instant::now(),
            }),
            settings,
            resolver,
            cache: Mutex::new(HashMap::new()),
            stats: Stats::default(),
        })
    }

    /// Whether any zone is configured.
    pub fn enabled(&self) -> bool {
        self.resolver.is_some()
    }

    /// The zones listing `ip` when a fresh answer is cached (counted as a cache hit): what
    /// the pipeline uses without waiting.
    pub fn cached_zones(&self, ip: IpAddr) -> Option<Vec<String>> {
        let z = self.cached(ip, Instant::now())?;
        self.stats.cache_hits.fetch_add(1, Relaxed);
        Some(z)
    }

    fn cached(&self, ip: IpAddr, now: Instant) -> Option<Vec<String>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&ip)
            .filter(|c| c.until > now)
            .map(|c| c.zones.clone())
    }

    fn take_token(&self, now: Instant) -> bool {
        let Ok(mut b) = self.bucket.lock() else {
            return false;
        };
        let rate = f64::from(self.settings.per_second.max(1));
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Looks `ip` up in every zone (in parallel), from the cache when fresh.
    pub async fn check(&self, ip: IpAddr) -> Answer {
        let Some(resolver) = &self.resolver else {
            return Answer::Skipped(Skip::Disabled);
        };
        if !is_public(ip) {
            return Answer::Skipped(Skip::NotPublic);
        }
        let now = Instant::now();
        if let Some(z) = self.cached(ip, now) {
            self.stats.cache_hits.fetch_add(1, Relaxed);
            return Answer::Checked(z);
        }
        if !self.take_token(now) {
            self.stats.limited.fetch_add(1, Relaxed);
            return Answer::Skipped(Skip::Limited);
        }
        let n = u32::try_from(self.settings.zones.len()).unwrap_or(u32::MAX);
        let Ok(_permits) = self.in_flight.try_acquire_many(n) else {
            self.stats.limited.fetch_add(1, Relaxed);
            return Answer::Skipped(Skip::Limited);
        };
        // Every zone at once, so a look-up takes one timeout at most.
        let mut asks = tokio::task::JoinSet::new();
        for (i, zone) in self.settings.zones.iter().enumerate() {
            let (resolver, name) = (resolver.clone(), query_name(ip, zone));
            let limit = self.settings.timeout + Duration::from_millis(100);
            asks.spawn(async move {
                (
                    i,
                    tokio::time::timeout(limit, resolver.ipv4_lookup(name)).await,
                )
            });
        }
        self.stats.queries.fetch_add(u64::from(n), Relaxed);
        let mut answers = Vec::with_capacity(asks.len());
        while let Some(done) = asks.join_next().await {
            if let Ok(a) = done {
                answers.push(a);
            }
        }
        answers.sort_by_key(|a| a.0);
        let mut listed = Vec::new();
        let mut until = now + self.settings.cache_ttl;
        let mut complete = answers.len() == self.settings.zones.len();
        let mut answered = 0;
        for (i, r) in answers {
            let zone = &self.settings.zones[i];
            match r {
                Err(_) => {
                    self.stats.timeouts.fetch_add(1, Relaxed);
                    complete = false;
                }
                Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => answered += 1,
                Ok(Err(e)) => {
                    if e.to_string().contains("timed out") {
                        self.stats.timeouts.fetch_add(1, Relaxed);
                    } else {
                        self.stats.errors.fetch_add(1, Relaxed);
                    }
                    tracing::debug!(zone = %zone, error = %e, "dnsbl: look-up failed");
                    complete = false;
                }
                Ok(Ok(answer)) => {
                    answered += 1;
                    let mut hit = false;
                    for a in answer.iter() {
                        match listing(a.0) {
                            Some(true) => hit = true,
                            Some(false) => {
                                self.stats.error_codes.fetch_add(1, Relaxed);
                                tracing::warn!(zone = %zone, code = %a.0, "dnsbl: the list answered with an error code (quota or refused resolver); not a listing");
                            }
                            None => {}
                        }
                    }
                    if hit {
                        listed.push(zone.clone());
                        // The record's TTL, but at least a minute: a TTL of 0 must not make every
                        // login ask again.
                        until = until.min(answer.valid_until().max(now + MIN_CACHE));
                    }
                }
            }
        }
        if !listed.is_empty() {
            self.stats.listed.fetch_add(1, Relaxed);
        }
        // A partial answer is used but not kept: the next login asks again.
        if complete {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= self.settings.cache_size {
                    cache.retain(|_, c| c.until > now);
                    if cache.len() >= self.settings.cache_size {
                        cache.clear();
                    }
                }
                cache.insert(
                    ip,
                    Cached {
                        zones: listed.clone(),
                        until,
                    },
                );
            }
        }
        if answered == 0 {
            return Answer::Skipped(Skip::Unanswered);
        }
        Answer::Checked(listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_follow_rfc_5782() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example."
        );
        assert_eq!(
            query_name("2001:db8:1:2:3:4:567:89ab".parse().unwrap(), "bl.example."),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example."
        );
    }

    #[test]
    fn error_codes_and_foreign_answers_are_not_listings() {
        assert_eq!(listing(Ipv4Addr::new(127, 0, 0, 2)), Some(true));
        assert_eq!(listing(Ipv4Addr::new(127, 255, 255, 254)), Some(false));
        assert_eq!(listing(Ipv4Addr::new(127, 255, 255, 252)), Some(false));
        assert_eq!(listing(Ipv4Addr::new(93, 184, 216, 34)), None);
    }

    #[test]
    fn only_public_addresses_are_asked_about() {
        for p in [
            "10.1.2.3",
            "127.0.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "169.254.0.1",
        ] {
            assert!(!is_public(p.parse().unwrap()), "{p}");
        }
        for p in ["81.2.69.142", "2a00:1450::1", "::ffff:81.2.69.142"] {
            assert!(is_public(p.parse().unwrap()), "{p}");
        }
    }
}
