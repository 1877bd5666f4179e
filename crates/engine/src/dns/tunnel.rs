//! DNS tunnelling (dnscat2, iodine, DNSExfiltrator …): data carried in the names a client
//! asks for under one base domain the tunnel's owner runs. Each query is weighed on its own
//! (long names and labels, many labels, random-looking subdomains) and with what the same
//! client asked under the same base domain in the last window (many unique subdomains, many
//! TXT/NULL queries, many bytes of subdomain). The signals blend by a noisy-or, so no single
//! one that benign services also show (DNSBL look-ups have many unique subdomains, CDNs
//! random labels) reaches the threshold alone.
//!
//! State per (client, base domain) is two buckets of `window` seconds — the current one and
//! the one before, weighted by how much of it still lies in the sliding window — held in a
//! [`BoundedMap`], so memory is bounded however many clients and domains there are.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::FxHasher;

use super::bounded_map::BoundedMap;
use super::ngram::Model;

/// Tunables (docs/DNS.md, Heuristics).
#[derive(Debug, Clone, PartialEq)]
pub struct TunnelSettings {
    /// The sliding window, seconds.
    pub window: i64,
    /// A finding at or above this score (0..1).
    pub threshold: f32,
    /// (client, base domain) pairs remembered; the least recently active go first.
    pub tracked: usize,
}

impl Default for TunnelSettings {
    fn default() -> TunnelSettings {
        TunnelSettings {
            window: 60,
            threshold: 0.6,
            tracked: 65_536,
        }
    }
}

/// Unique subdomain hashes kept per bucket: past the point where the signal is full
/// ([`UNIQUE_FULL`]) there is nothing more to learn from telling them apart.
const SUBS_KEPT: usize = 32;
const UNIQUE_FROM: f32 = 5.0;
const UNIQUE_FULL: f32 = 30.0;

/// One bucket's counts.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    unique: u32,
    txt_null: u32,
    /// Queries with a subdomain, and that subdomain's bytes.
    with_sub: u32,
    bytes: u32,
}

/// One (client, base domain) pair. The subdomain hashes are inline (no allocation per pair)
/// and only for the current bucket: the previous one contributes its counts.
#[derive(Debug, Clone)]
struct Flow {
    start: i64,
    subs: [u32; SUBS_KEPT],
    kept: u8,
    cur: Counts,
    prev: Counts,
    flagged_at: Option<i64>,
}

/// One query, split as the heuristics need it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'q> {
    /// Unix seconds.
    pub now: i64,
    pub client: IpAddr,
    /// The full name (lower case, no trailing dot).
    pub name: &'q str,
    /// Its registered domain.
    pub base: &'q str,
    /// The part left of `base`, without the joining dot; empty for the base itself.
    pub sub: &'q str,
    /// `A`, `TXT`, `NULL`, `TYPE65399` …
    pub qtype: &'q str,
}

/// One query as the tunnel heuristic saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// 0..1.
    pub score: f32,
    /// Why, in words: the signals that contributed (only when `report`).
    pub reasons: Vec<String>,
    /// Whether this query raises a finding: at or above the threshold, and the first such
    /// query of this client and base domain in the window (a tunnel is one finding a window,
    /// not one per query).
    pub report: bool,
}

/// The per-(client, base domain) tunnelling detector.
#[derive(Debug)]
pub struct Tunnel {
    settings: TunnelSettings,
    flows: BoundedMap<(IpAddr, u64), Flow>,
}

/// 0 below `from`, 1 from `full`, linear between.
fn ramp(x: f32, from: f32, full: f32) -> f32 {
    ((x - from) / (full - from)).clamp(0.0, 1.0)
}

fn hash<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = FxHasher::default();
    t.hash(&mut h);
    h.finish()
}

/// Whether a query type carries bulk data back to a tunnel client.
fn bulk_type(qtype: &str) -> bool {
    qtype.eq_ignore_ascii_case("TXT") || qtype.eq_ignore_ascii_case("NULL")
}

impl Tunnel {
    pub fn new(settings: TunnelSettings) -> Tunnel {
        Tunnel {
            flows: BoundedMap::new(settings.tracked.max(2)),
            settings,
        }
    }

    /// Pairs dropped because more were active than `tracked`.
    pub fn evicted(&self) -> u64 {
        self.flows.evicted
    }

    /// Pairs held.
    pub fn tracked(&self) -> usize {
        self.flows.len()
    }

    /// Weighs one query.
    pub fn observe(&mut self, model: &Model<'_>, q: &Query<'_>) -> Verdict {
        let Query {
            now,
            client,
            name,
            base,
            sub,
            qtype,
        } = *q;
        let window = self.settings.window.max(1);
        let flow = self.flows.touch((client, hash(base)), || Flow {
            start: now,
            subs: [0; SUBS_KEPT],
            kept: 0,
            cur: Counts::default(),
            prev: Counts::default(),
            flagged_at: None,
        });
        // Roll the buckets forward to the one `now` falls in.
        if now >= flow.start + window {
            let steps = (now - flow.start) / window;
            flow.prev = if steps == 1 {
                flow.cur
            } else {
                Counts::default()
            };
            flow.cur = Counts::default();
            flow.kept = 0;
            flow.start += steps * window;
        }
        let b = &mut flow.cur;
        if !sub.is_empty() {
            let h = hash(sub) as u32;
            let kept = usize::from(flow.kept);
            if !flow.subs[..kept].contains(&h) {
                b.unique += 1;
                if kept < SUBS_KEPT {
                    flow.subs[kept] = h;
                    flow.kept += 1;
                }
            }
            b.with_sub += 1;
            b.bytes = b.bytes.saturating_add(sub.len() as u32);
        }
        b.txt_null += u32::from(bulk_type(qtype));
        // The previous bucket counts for the part of it still inside the window.
        let age = (now - flow.start).clamp(0, window) as f32 / window as f32;
        let w = 1.0 - age;
        let est = |cur: u32, prev: u32| cur as f32 + prev as f32 * w;
        let unique = est(flow.cur.unique, flow.prev.unique);
        let txt = est(flow.cur.txt_null, flow.prev.txt_null);
        let bytes = est(flow.cur.bytes, flow.prev.bytes);
        let mean_sub = bytes / est(flow.cur.with_sub, flow.prev.with_sub).max(1.0);

        // Volume counts when it comes in long names (a tunnel's payload), not as many short
        // ones (a mail server's DNSBL look-ups).
        let volume = ramp(bytes, 1000.0, 8000.0) * ramp(mean_sub, 12.0, 40.0);
        let longest = sub.split('.').map(str::len).max().unwrap_or(0);
        let labels = if sub.is_empty() {
            0
        } else {
            sub.split('.').count()
        };
        // Encoded data (hex, base32, base64) is far from any word: its letters surprise the
        // n-gram model and it switches between letters and digits often. Digits alone (a
        // DNSBL's reversed address) are neither.
        let data_len = sub.len() - labels.saturating_sub(1);
        let (mut bpc, mut switches, mut random) = (0.0, 0usize, 0.0);
        if data_len >= 12 {
            let (mut bits, mut letters) = (0.0, 0usize);
            for l in sub.split('.').filter(|l| !l.is_empty()) {
                let f = super::dga::features(model, l);
                let n = l.bytes().filter(u8::is_ascii_alphabetic).count();
                if n > 0 {
                    bits += f.surprise.bits_per_char * (n + 1) as f32;
                    letters += n + 1;
                }
                switches += f.digit_switches;
            }
            if letters > 0 {
                bpc = bits / letters as f32;
            }
            let rate = switches as f32 / data_len as f32;
            random = ramp(bpc, 5.5, 8.0).max(ramp(rate, 0.1, 0.3));
        }
        // (weight, strength) of each signal, in the order of `reasons` below.
        let signals = [
            (0.5, ramp(unique, UNIQUE_FROM, UNIQUE_FULL)),
            (0.6, ramp(txt, 3.0, 20.0)),
            (0.5, volume),
            (0.5, ramp(name.len() as f32, 80.0, 160.0)),
            (0.5, ramp(longest as f32, 30.0, 63.0)),
            (0.3, ramp(labels as f32, 4.0, 10.0)),
            (0.5, random),
        ];
        let keep: f32 = signals.iter().map(|(w, s)| 1.0 - w * s).product();
        let score = 1.0 - keep;
        let over = score >= self.settings.threshold;
        let report = over && flow.flagged_at.is_none_or(|t| now >= t + window);
        let mut reasons = Vec::new();
        if report {
            flow.flagged_at = Some(now);
            // Words only for a finding: most queries are not one.
            let secs = self.settings.window;
            let words = [
                format!("{unique:.0} unique subdomains of {base} in {secs}s"),
                format!("{txt:.0} TXT/NULL queries to {base} in {secs}s"),
                format!("{bytes:.0} bytes of subdomains of {base} in {secs}s ({mean_sub:.0} a query)"),
                format!("long query {} characters", name.len()),
                format!("long label {longest} characters"),
                format!("{labels} labels below {base}"),
                format!("random-looking subdomain ({bpc:.1} bits a letter, {switches} letter/digit switches)"),
            ];
            reasons = signals
                .iter()
                .zip(words)
                .filter(|((_, s), _)| *s > 0.0)
                .map(|(_, w)| w)
                .collect();
        }
        Verdict {
            score,
            reasons,
            report,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q<'q>(
        now: i64,
        client: &str,
        name: &'q str,
        base: &'q str,
        sub: &'q str,
        qtype: &'q str,
    ) -> Query<'q> {
        Query {
            now,
            client: client.parse().expect("test address"),
            name,
            base,
            sub,
            qtype,
        }
    }

    #[test]
    fn one_long_encoded_query_is_enough() {
        let m = Model::bundled();
        let mut t = Tunnel::new(TunnelSettings::default());
        let sub = "mjqxgzjanfzsa2lpmrqw4idunbsxe3tbnv2gk4tf.onxw2zlunbuw4zzamfzs6zlmonsxg5dfnq.gezdgnbvgy3tqojq";
        let name = format!("{sub}.t.example.com");
        let sub = format!("{sub}.t");
        let v = t.observe(&m, &q(0, "10.0.0.1", &name, "example.com", &sub, "NULL"));
        assert!(v.report, "{v:?}");
        assert!(
            v.reasons.iter().any(|r| r.starts_with("long query")),
            "{v:?}"
        );
    }

    #[test]
    fn ordinary_browsing_is_not_a_tunnel() {
        let m = Model::bundled();
        let mut t = Tunnel::new(TunnelSettings::default());
        for (i, sub) in [
            "www", "mail", "api", "cdn", "static", "images", "login", "docs",
        ]
        .iter()
        .enumerate()
        {
            let name = format!("{sub}.example.com");
            let v = t.observe(&m, &q(i as i64, "10.0.0.1", &name, "example.com", sub, "A"));
            assert!(!v.report, "{v:?}");
        }
    }

    #[test]
    fn unique_subdomains_alone_stay_under_the_threshold() {
        // A mail server's DNSBL look-ups: a new subdomain for every address it checks.
        let m = Model::bundled();
        let mut t = Tunnel::new(TunnelSettings::default());
        for i in 0..200u32 {
            let sub = format!("{}.{}.{}.{}.zen", i % 250, i / 250, 113, 203);
            let name = format!("{sub}.spamhaus.org");
            let v = t.observe(
                &m,
                &q(
                    i64::from(i / 4),
                    "10.0.0.2",
                    &name,
                    "spamhaus.org",
                    &sub,
                    "A",
                ),
            );
            assert!(!v.report, "{i}: {v:?}");
        }
    }

    #[test]
    fn a_tunnel_reports_once_a_window_and_memory_is_bounded() {
        let m = Model::bundled();
        let mut t = Tunnel::new(TunnelSettings {
            tracked: 100,
            ..TunnelSettings::default()
        });
        let mut reports = Vec::new();
        for i in 0..180i64 {
            let sub = format!(
                "{:016x}{:04x}.dnsc",
                (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                i
            );
            let name = format!("{sub}.tunnel.example");
            let v = t.observe(&m, &q(i, "10.0.0.3", &name, "tunnel.example", &sub, "TXT"));
            if v.report {
                reports.push(i);
            }
        }
        assert_eq!(reports.len(), 3, "{reports:?}");
        for i in 0..10_000u32 {
            let base = format!("d{i}.example");
            let name = format!("www.{base}");
            t.observe(&m, &q(200, "10.0.0.4", &name, &base, "www", "A"));
        }
        assert!(t.tracked() <= 100);
        assert!(t.evicted() > 0);
    }
}
