//! The DNS heuristics behind one call per query (docs/DNS.md, Heuristics): DGA-like base
//! domains ([`super::dga`]), tunnelling ([`super::tunnel`]) and newly seen base domains
//! ([`super::newly_seen`]). The DNS check stage calls [`Heuristics::check`] for each query it
//! did not drop or dedup; the strongest finding (tunnel, then DGA, then new domain — the
//! order of `event.reason`) comes back with its score and reasons in words.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::FxHasher;

use logward_core::Timestamp;

use super::dga;
use super::newly_seen::{NewDomainSettings, NewlySeen};
use super::ngram::Model;
use super::registered_domain::{split, subdomain};
use super::tunnel::{Query, Tunnel, TunnelSettings};

/// What a finding is; [`Kind::as_str`] is its `event.reason` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Tunnel,
    Dga,
    NewDomain,
}

impl Kind {
    /// `tunnel`, `dga`, `new-domain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tunnel => "tunnel",
            Kind::Dga => "dga",
            Kind::NewDomain => "new-domain",
        }
    }
}

/// One query's finding: it fills `logward.dns.score`, `logward.dns.reasons` and
/// `event.reason`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    /// 0..1 (`logward.dns.score`).
    pub score: f32,
    /// Why, in words (`logward.dns.reasons`).
    pub reasons: Vec<String>,
    /// The query's registered domain (`dns.question.registered_domain`).
    pub registered_domain: String,
}

/// DGA tunables.
#[derive(Debug, Clone, PartialEq)]
pub struct DgaSettings {
    pub enabled: bool,
    /// A finding at or above this score (0..1).
    pub threshold: f32,
}

impl Default for DgaSettings {
    fn default() -> DgaSettings {
        DgaSettings {
            enabled: true,
            threshold: 0.75,
        }
    }
}

/// All the heuristics' tunables; the defaults are docs/DNS.md's.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub dga: DgaSettings,
    /// `None`: no tunnel heuristic.
    pub tunnel: Option<TunnelSettings>,
    /// `None` (the default): no newly-seen-domain findings.
    pub new_domains: Option<NewDomainSettings>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            dga: DgaSettings::default(),
            tunnel: Some(TunnelSettings::default()),
            new_domains: None,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeuristicsStats {
    /// Queries checked.
    pub queries: u64,
    /// Queries not judged: no registered domain (a bare suffix, the root, not ASCII),
    /// reverse look-ups (`in-addr.arpa`, `ip6.arpa`) and multicast DNS (`.local`).
    pub skipped: u64,
    pub tunnel: u64,
    pub dga: u64,
    pub new_domain: u64,
    /// (client, base domain) pairs the tunnel heuristic forgot because more were active than
    /// it tracks.
    pub tunnel_evicted: u64,
    /// Clients the newly-seen set forgot.
    pub new_domain_evicted: u64,
}

/// The heuristics with their state. Not shared between threads: one per stage.
#[derive(Debug)]
pub struct Heuristics {
    dga: DgaSettings,
    model: Model<'static>,
    tunnel: Option<Tunnel>,
    new_domains: Option<NewlySeen>,
    /// DGA scores of recent base domains: most queries are for a few popular domains, and
    /// the score of a name never changes. Direct-mapped by hash: (hash, score).
    dga_cache: Vec<(u64, f32)>,
    lower: String,
    stats: HeuristicsStats,
}

/// Slots of the DGA score cache (a power of two).
const DGA_CACHE: usize = 4096;

/// Names no heuristic judges: reverse look-ups carry an address in their labels by design,
/// and multicast DNS never leaves the link.
fn exempt(name: &str) -> bool {
    let ends = |s: &str| {
        name.len() >= s.len()
            && name.as_bytes()[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
    };
    ends(".in-addr.arpa")
        || ends(".ip6.arpa")
        || ends(".local")
        || name.eq_ignore_ascii_case("local")
}

impl Heuristics {
    pub fn new(settings: Settings) -> Heuristics {
        Heuristics {
            dga: settings.dga,
            model: Model::bundled(),
            tunnel: settings.tunnel.map(Tunnel::new),
            new_domains: settings.new_domains.map(NewlySeen::new),
            dga_cache: vec![(0, 0.0); DGA_CACHE],
            lower: String::new(),
            stats: HeuristicsStats::default(),
        }
    }

    /// Checks one query of `client` for `name` (any case, a trailing dot allowed) of type
    /// `qtype` (`A`, `TXT` …) at `now`. At most one finding per query: the strongest. A
    /// tunnel is reported once per client, base domain and window (not on every query of
    /// it); DGA findings on every query of a DGA-like domain (the stage's dedup keeps that
    /// to one a window); a new domain once.
    pub fn check(
        &mut self,
        now: Timestamp,
        client: IpAddr,
        name: &str,
        qtype: &str,
    ) -> Option<Finding> {
        self.stats.queries += 1;
        let mut lower = std::mem::take(&mut self.lower);
        let name = name.strip_suffix('.').unwrap_or(name);
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower.clear();
            lower.push_str(name);
            lower.make_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let found = self.judge(now.unix, client, name, qtype);
        self.lower = lower;
        match found.as_ref().map(|f| f.kind) {
            Some(Kind::Tunnel) => self.stats.tunnel += 1,
            Some(Kind::Dga) => self.stats.dga += 1,
            Some(Kind::NewDomain) => self.stats.new_domain += 1,
            None => {}
        }
        found
    }

    fn judge(&mut self, now: i64, client: IpAddr, name: &str, qtype: &str) -> Option<Finding> {
        let reg = match split(name) {
            Some(r) if !exempt(name) => r,
            _ => {
                self.stats.skipped += 1;
                return None;
            }
        };
        let base = reg.domain;
        let finding = |kind, score, reasons| Finding {
            kind,
            score,
            reasons,
            registered_domain: base.to_owned(),
        };
        let q = Query {
            now,
            client,
            name,
            base,
            sub: subdomain(name, base),
            qtype,
        };
        // Every stateful heuristic sees every query (its window and sets stay right), even
        // when a stronger one already decided the finding.
        let tunnel = self
            .tunnel
            .as_mut()
            .map(|t| t.observe(&self.model, &q))
            .filter(|v| v.report);
        let new = match self.new_domains.as_mut() {
            Some(n) => n.observe(now, client, base),
            None => false,
        };
        if let Some(v) = tunnel {
            return Some(finding(Kind::Tunnel, v.score, v.reasons));
        }
        // Internal names (`desktop-8f3k2l1.lan`) are machine-made by design: DGA only under
        // suffixes the public list knows, and on the label a customer registered (a CDN's
        // distribution ids under its private suffix are random on purpose).
        let label = reg.owner_label();
        if self.dga.enabled && reg.known_suffix && dga::judged(label) && !dga::known_benign(base) {
            let mut h = FxHasher::default();
            label.hash(&mut h);
            // 0 marks an empty slot.
            let key = h.finish() | 1;
            let slot = &mut self.dga_cache[(key as usize) & (DGA_CACHE - 1)];
            let score = if slot.0 == key {
                slot.1
            } else {
                let s = dga::score(&dga::features(&self.model, label));
                *slot = (key, s);
                s
            };
            if score >= self.dga.threshold {
                // Reasons only for a finding, computed again (findings are rare).
                let f = dga::features(&self.model, label);
                return Some(finding(Kind::Dga, score, dga::reasons(&f)));
            }
        }
        if new {
            let learn = self.new_domains_learn();
            let why = format!("{base} not asked for by this client before (learned for {learn})");
            return Some(finding(Kind::NewDomain, 0.5, vec![why]));
        }
        None
    }

    fn new_domains_learn(&self) -> String {
        let secs = self.new_domains.as_ref().map_or(0, |n| n.learn());
        logward_core::duration::format_duration(std::time::Duration::from_secs(secs.max(0) as u64))
    }

    /// The counters so far.
    pub fn stats(&self) -> HeuristicsStats {
        HeuristicsStats {
            tunnel_evicted: self.tunnel.as_ref().map_or(0, Tunnel::evicted),
            new_domain_evicted: self.new_domains.as_ref().map_or(0, NewlySeen::evicted),
            ..self.stats
        }
    }
}
