//! The DNS check (docs/DNS.md): every `dns-query` event, before the rules, goes through
//!
//! 1. the trusted filters — client networks, domain suffixes and query types, global and per
//!    source (the seed's logstash stage): a trusted query is not checked;
//! 2. the (client, domain) dedup window: a client asking the same name again within it is
//!    not checked again (the event goes on, counted);
//! 3. the intel: threat lists, heuristics, and the HTTP intel API's cached verdict — a domain
//!    without one is sent to be asked ([`api::run`]) and the event goes on without it; when
//!    the answer is malicious, [`DnsCheck::resume`] hands the waiting events back to run
//!    through the rules again with the verdict.
//!
//! What was found is written to `Event::dns.intel` (`logward.dns.*`, with the client's owner)
//! and `event.reason` (the strongest finding: `listed`, `api-malicious`, `tunnel`, `dga`,
//! `new-domain`); the default rules alert on that reason.

pub mod api;
pub mod dedup;
pub mod trust;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use logward_core::{Action, DnsIntel, Event};
use logward_engine::dns::{
    Heuristics, Kind, ListOutcome, ListSet, ListSpec, Settings as HeuristicSettings,
};
use tokio::sync::mpsc;

use api::{Answer, ApiSettings, IntelApi, Verdict};
use dedup::Dedup;
use trust::{Dropped, Net, Trust};

/// `event.reason` words, strongest first.
pub const LISTED: &str = "listed";
pub const API_MALICIOUS: &str = "api-malicious";
pub const TUNNEL: &str = "tunnel";
pub const DGA: &str = "dga";
pub const NEW_DOMAIN: &str = "new-domain";

/// Events kept per domain while its API look-up runs (more are counted, not kept: one
/// domain's alerts already reach its first clients' owners).
const WAITING_PER_DOMAIN: usize = 16;

/// The checked `dns:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Whether the check runs (`dns:` written, `enabled` not false).
    pub enabled: bool,
    pub trusted: Trust,
    /// Added to `trusted` for one source id.
    pub per_source: HashMap<String, Trust>,
    /// `0s`: off.
    pub dedup_window: Duration,
    pub dedup_entries: usize,
    /// Owners, as configured (the most specific network wins).
    pub owners: Vec<(Net, String)>,
    /// Threat lists.
    pub lists: Vec<ListSpec>,
    /// How often the list files are looked at.
    pub lists_check: Duration,
    /// DGA, tunnel and newly-seen-domain heuristics.
    pub heuristics: HeuristicSettings,
    pub api: Option<ApiSettings>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enabled: false,
            trusted: Trust::default(),
            per_source: HashMap::new(),
            dedup_window: Duration::from_secs(600),
            dedup_entries: 100_000,
            owners: Vec::new(),
            lists: Vec::new(),
            lists_check: Duration::from_secs(10),
            heuristics: HeuristicSettings::default(),
            api: None,
        }
    }
}

/// Counts for /metrics and `logward status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// `dns-query` events seen.
    pub queries: u64,
    pub trusted_client: u64,
    pub trusted_domain: u64,
    pub trusted_type: u64,
    /// Repeats within the dedup window: not checked again.
    pub deduped: u64,
    /// Queries checked against the intel.
    pub checked: u64,
    pub listed: u64,
    pub api_malicious: u64,
    pub tunnel: u64,
    pub dga: u64,
    pub new_domain: u64,
    /// Events run again after a malicious API verdict came in.
    pub resumed: u64,
    /// Events not kept while their domain's look-up runs (over the per-domain bound).
    pub waiting_dropped: u64,
}

/// The stage.
pub struct DnsCheck {
    trusted: Trust,
    per_source: HashMap<String, Trust>,
    dedup: Dedup,
    /// Longest prefix first.
    owners: Vec<(Net, String)>,
    /// The threat lists as last read (reloaded off the pipeline: [`DnsCheck::set_lists`]).
    lists: ListSet,
    heuristics: Heuristics,
    api: Option<Arc<IntelApi>>,
    /// Domains for [`api::run`]; `None` until [`DnsCheck::start_api`].
    ask: Option<mpsc::UnboundedSender<String>>,
    /// Events whose domain is being asked about, by domain.
    waiting: HashMap<String, Vec<Event<'static>>>,
    queue: usize,
    stats: DnsStats,
}

impl std::fmt::Debug for DnsCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsCheck")
            .field("stats", &self.stats)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// What the stage did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Not a DNS query (or one the check already saw).
    NotDns,
    Trusted(Dropped),
    Repeat,
    Checked,
}

impl DnsCheck {
    /// The stage; the API client is built here (a bad setting is an error at start) and
    /// asked once [`DnsCheck::start_api`] gave it a runtime.
    pub fn new(s: &Settings) -> Result<DnsCheck, String> {
        let mut owners = s.owners.clone();
        owners.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix()));
        let api = s
            .api
            .clone()
            .map(|a| IntelApi::new(a).map(Arc::new))
            .transpose()
            .map_err(|e| format!("dns.api: {e}"))?;
        Ok(DnsCheck {
            lists: ListSet::default(),
            heuristics: Heuristics::new(s.heuristics.clone()),
            trusted: s.trusted.clone(),
            per_source: s.per_source.clone(),
            dedup: Dedup::new(
                i64::try_from(s.dedup_window.as_millis()).unwrap_or(i64::MAX),
                s.dedup_entries,
            ),
            owners,
            queue: s.api.as_ref().map_or(0, |a| a.queue),
            api,
            ask: None,
            waiting: HashMap::new(),
            stats: DnsStats::default(),
        })
    }

    /// The check `dns:` configures, its threat lists read (a list that cannot be read is
    /// empty until its file appears: the outcomes say so) — what `logward run` starts with
    /// and what `logward scan --config` runs offline. `None`: no `dns:` section, or off.
    pub fn configured(s: &Settings) -> Result<Option<(DnsCheck, Vec<ListOutcome>)>, String> {
        if !s.enabled {
            return Ok(None);
        }
        let mut check = DnsCheck::new(s)?;
        let mut outcomes = Vec::new();
        if !s.lists.is_empty() {
            let (set, o) = ListSet::load(s.lists.clone());
            check.set_lists(set);
            outcomes = o;
        }
        Ok(Some((check, outcomes)))
    }

    /// Starts asking the intel API on the current runtime; answers come back on the returned
    /// receiver, for [`DnsCheck::resume`]. `None` without an API.
    pub fn start_api(&mut self) -> Option<mpsc::UnboundedReceiver<Answer>> {
        let api = Arc::clone(self.api.as_ref()?);
        let (ask_tx, ask_rx) = mpsc::unbounded_channel();
        let (answer_tx, answer_rx) = mpsc::unbounded_channel();
        tokio::spawn(api::run(api, ask_rx, answer_tx));
        self.ask = Some(ask_tx);
        Some(answer_rx)
    }

    pub fn stats(&self) -> DnsStats {
        self.stats
    }

    /// The threat lists to check against from now on (a load or a reload).
    pub fn set_lists(&mut self, lists: ListSet) {
        self.lists = lists;
    }

    pub fn lists(&self) -> &ListSet {
        &self.lists
    }

    pub fn heuristics(&self) -> &Heuristics {
        &self.heuristics
    }

    pub fn api(&self) -> Option<&IntelApi> {
        self.api.as_deref()
    }

    /// Domains being asked about.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// The owner of a client address.
    pub fn owner(&self, ip: IpAddr) -> Option<&str> {
        self.owners
            .iter()
            .find(|(n, _)| n.contains(ip))
            .map(|(_, o)| o.as_str())
    }

    /// Checks one event from `source` (its id) in place.
    pub fn check(&mut self, source: &str, e: &mut Event<'_>) -> Outcome {
        if e.action != Some(Action::DnsQuery) {
            return Outcome::NotDns;
        }
        let client = e.source_ip;
        let Some(dns) = e.dns.as_deref() else {
            return Outcome::NotDns;
        };
        if dns.intel.is_some() {
            return Outcome::NotDns;
        }
        self.stats.queries += 1;
        let name = dns.question_name.as_ref();
        let qtype = dns.question_type.as_deref();
        let dropped = self.trusted.drops(client, name, qtype).or_else(|| {
            self.per_source
                .get(source)
                .and_then(|t| t.drops(client, name, qtype))
        });
        if let Some(d) = dropped {
            match d {
                Dropped::Client => self.stats.trusted_client += 1,
                Dropped::Domain => self.stats.trusted_domain += 1,
                Dropped::QueryType => self.stats.trusted_type += 1,
            }
            return Outcome::Trusted(d);
        }
        let now = e
            .timestamp
            .unwrap_or_else(|| logward_core::Clock::now(&logward_core::SystemClock));
        let now_ms = now.unix * 1000 + i64::from(now.nanos / 1_000_000);
        if self.dedup.repeat(client, name, now_ms) {
            self.stats.deduped += 1;
            return Outcome::Repeat;
        }
        self.stats.checked += 1;
        let mut intel = DnsIntel::default();
        let mut reason: Option<&'static str> = None;
        if let Some(hit) = self.lists.lookup(name) {
            let entry = hit.entry_text();
            intel
                .reasons
                .push(format!("listed by {} as {entry}", hit.list));
            intel.list = Some(hit.list.to_owned());
            intel.list_entry = Some(entry);
            intel.severity = Some(hit.severity.as_str().to_owned());
            reason = strongest(reason, LISTED);
        } else if let Some((ip, hit)) = dns
            .resolved_ip
            .iter()
            .find_map(|ip| Some((*ip, self.lists.lookup_ip(*ip)?)))
        {
            intel.reasons.push(format!(
                "answer {ip} listed by {} as {}",
                hit.list, hit.entry
            ));
            intel.list = Some(hit.list.to_owned());
            intel.list_entry = Some(hit.entry.to_string());
            intel.severity = Some(hit.severity.as_str().to_owned());
            reason = strongest(reason, LISTED);
        } else if let Some((ip, hit)) = dns
            .server_ip
            .and_then(|ip| Some((ip, self.lists.lookup_ip(ip)?)))
        {
            // A client asking a listed server directly, not its resolver: a C2 channel or a
            // tunnel tool's direct mode (dnscat2 talks to its own server this way).
            intel.reasons.push(format!(
                "server {ip} listed by {} as {}",
                hit.list, hit.entry
            ));
            intel.list = Some(hit.list.to_owned());
            intel.list_entry = Some(hit.entry.to_string());
            intel.severity = Some(hit.severity.as_str().to_owned());
            reason = strongest(reason, LISTED);
        }
        // The heuristics see every query kept (their windows and sets stay right), even one a
        // list already named.
        let mut registered = None;
        if let Some(ip) = client {
            if let Some(f) = self.heuristics.check(now, ip, name, qtype.unwrap_or("")) {
                let r = match f.kind {
                    Kind::Tunnel => TUNNEL,
                    Kind::Dga => DGA,
                    Kind::NewDomain => NEW_DOMAIN,
                };
                let score = (f.score.clamp(0.0, 1.0) * 100.0).round() as u8;
                intel.score = Some(intel.score.map_or(score, |s| s.max(score)));
                intel.reasons.extend(f.reasons);
                registered = Some(f.registered_domain);
                reason = strongest(reason, r);
            }
        }
        let mut ask = None;
        if let Some(api) = &self.api {
            match api.cached(name) {
                Some(v) if v.malicious => {
                    let severity = intel.severity.take();
                    apply_verdict(&mut intel, &v, &api.settings().severity);
                    // A list's own severity stays the finding's when a list named it.
                    if reason == Some(LISTED) {
                        intel.severity = severity;
                    }
                    reason = strongest(reason, API_MALICIOUS);
                }
                Some(v) => intel.verdict = Some(v.value),
                // A listed name needs no verdict: its alert is the list's.
                None if reason != Some(LISTED) => ask = Some(name.to_owned()),
                None => {}
            }
        }
        if reason.is_some() {
            if let Some(d) = e.dns.as_deref_mut() {
                let base = registered.or_else(|| {
                    logward_engine::dns::registered_domain(&d.question_name).map(str::to_owned)
                });
                if let Some(b) = base {
                    d.registered_domain = Some(b.into());
                }
            }
        }
        self.finish(e, intel, reason);
        if let Some(domain) = ask {
            self.wait_for(domain, e);
        }
        Outcome::Checked
    }

    /// Writes what was found (nothing: no `intel`) and counts it.
    fn finish(&mut self, e: &mut Event<'_>, mut intel: DnsIntel, reason: Option<&'static str>) {
        let Some(reason) = reason else {
            return;
        };
        match reason {
            LISTED => self.stats.listed += 1,
            API_MALICIOUS => self.stats.api_malicious += 1,
            TUNNEL => self.stats.tunnel += 1,
            DGA => self.stats.dga += 1,
            _ => self.stats.new_domain += 1,
        }
        intel.owner = e.source_ip.and_then(|ip| self.owner(ip)).map(str::to_owned);
        e.reason = Some(reason);
        if let Some(d) = e.dns.as_deref_mut() {
            d.intel = Some(Box::new(intel));
        }
    }

    /// Keeps the event until its domain's verdict comes in, asking for it if nobody has.
    fn wait_for(&mut self, domain: String, e: &Event<'_>) {
        let Some(ask) = &self.ask else { return };
        if let Some(w) = self.waiting.get_mut(&domain) {
            if w.len() < WAITING_PER_DOMAIN {
                w.push(e.clone().into_owned());
            } else {
                self.stats.waiting_dropped += 1;
            }
            return;
        }
        if self.waiting.len() >= self.queue {
            if let Some(api) = &self.api {
                api.stats
                    .queue_full
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return;
        }
        if ask.send(domain.clone()).is_ok() {
            self.waiting.insert(domain, vec![e.clone().into_owned()]);
        }
    }

    /// A verdict came in: the events that waited for it, to run through the rules again when
    /// it is malicious (each with the verdict, `event.reason` `api-malicious`). An event a
    /// list had already named is not run again: its `listed` alert said more.
    pub fn resume(&mut self, a: Answer) -> Vec<Event<'static>> {
        let events = self.waiting.remove(&a.domain).unwrap_or_default();
        let Some(v) = a.verdict.filter(|v| v.malicious) else {
            return Vec::new();
        };
        let severity = self
            .api
            .as_ref()
            .map_or_else(|| "high".to_owned(), |api| api.settings().severity.clone());
        let mut out = Vec::with_capacity(events.len());
        for mut e in events {
            if e.reason == Some(LISTED) {
                continue;
            }
            let mut intel = e
                .dns
                .as_mut()
                .and_then(|d| d.intel.take())
                .map(|b| *b)
                .unwrap_or_default();
            apply_verdict(&mut intel, &v, &severity);
            self.stats.resumed += 1;
            self.finish(&mut e, intel, Some(API_MALICIOUS));
            out.push(e);
        }
        out
    }
}

/// Reads the lists again every `every` (only the files that changed), off the pipeline, and
/// sends each changed set; logs what each read did (a broken file keeps its last good copy).
pub async fn watch_lists(mut set: ListSet, every: Duration, tx: mpsc::Sender<ListSet>) {
    loop {
        tokio::time::sleep(every).await;
        let Ok((back, outcomes)) = tokio::task::spawn_blocking(move || {
            let o = set.reload();
            (set, o)
        })
        .await
        else {
            return;
        };
        set = back;
        let changed = log_lists(&outcomes);
        if changed && tx.send(set.clone()).await.is_err() {
            return;
        }
    }
}

/// Logs a load's outcomes; whether any list was read (again).
pub fn log_lists(outcomes: &[logward_engine::dns::ListOutcome]) -> bool {
    use logward_engine::dns::Outcome as O;
    let mut changed = false;
    for o in outcomes {
        match &o.outcome {
            O::Unchanged => {}
            O::Loaded(_) => {
                changed = true;
                if o.is_problem() {
                    tracing::warn!("DNS {o}");
                } else {
                    tracing::info!("DNS {o}");
                }
            }
            O::Failed { .. } => tracing::error!("DNS {o}"),
        }
    }
    changed
}

fn apply_verdict(intel: &mut DnsIntel, v: &Verdict, severity: &str) {
    intel.verdict = Some(v.value.clone());
    intel.severity = Some(severity.to_owned());
    intel.reasons.push(match &v.reason {
        Some(r) => format!("intel API: {} ({r})", v.value),
        None => format!("intel API: {}", v.value),
    });
}

/// The stronger of two reasons (`listed` > `api-malicious` > `tunnel` > `dga` >
/// `new-domain`).
fn strongest(a: Option<&'static str>, b: &'static str) -> Option<&'static str> {
    let rank = |r: &str| match r {
        LISTED => 0,
        API_MALICIOUS => 1,
        TUNNEL => 2,
        DGA => 3,
        _ => 4,
    };
    match a {
        Some(a) if rank(a) <= rank(b) => Some(a),
        _ => Some(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::{Dns, Timestamp};

    fn query(client: &str, name: &str, qtype: &str, at: i64) -> Event<'static> {
        let mut e = Event {
            action: Some(Action::DnsQuery),
            source_ip: Some(client.parse().unwrap()),
            timestamp: Some(Timestamp {
                unix: at,
                nanos: 0,
                offset: 0,
            }),
            ..Event::default()
        };
        e.dns = Some(Box::new(Dns {
            question_name: name.to_owned().into(),
            question_type: Some(qtype.to_owned().into()),
            ..Dns::default()
        }));
        e
    }

    fn settings() -> Settings {
        let mut per_source = HashMap::new();
        per_source.insert(
            "lab".to_owned(),
            Trust {
                clients: vec![Net::parse("172.16.0.0/12").unwrap()],
                domains: vec!["lab.example".into()],
                query_types: vec!["TXT".into()],
            },
        );
        Settings {
            enabled: true,
            trusted: Trust {
                clients: vec![Net::parse("10.9.9.9").unwrap()],
                domains: vec!["corp.example".into()],
                query_types: vec!["PTR".into()],
            },
            per_source,
            dedup_window: Duration::from_secs(60),
            ..Settings::default()
        }
    }

    #[test]
    fn trusted_clients_domains_and_types_are_dropped_globally_and_per_source() {
        let mut c = DnsCheck::new(&settings()).unwrap();
        let mut run = |src: &str, client: &str, name: &str, t: &str| {
            c.check(src, &mut query(client, name, t, 1000))
        };
        assert_eq!(
            run("any", "10.9.9.9", "evil.test", "A"),
            Outcome::Trusted(Dropped::Client)
        );
        assert_eq!(
            run("any", "10.0.0.1", "x.corp.example", "A"),
            Outcome::Trusted(Dropped::Domain)
        );
        assert_eq!(
            run("any", "10.0.0.1", "1.0.0.10.in-addr.arpa", "PTR"),
            Outcome::Trusted(Dropped::QueryType)
        );
        // The lab source's own trust adds to the global one, for its events only.
        assert_eq!(
            run("lab", "172.20.0.1", "evil.test", "A"),
            Outcome::Trusted(Dropped::Client)
        );
        assert_eq!(
            run("lab", "10.0.0.1", "a.lab.example", "A"),
            Outcome::Trusted(Dropped::Domain)
        );
        assert_eq!(
            run("lab", "10.0.0.1", "t.test", "TXT"),
            Outcome::Trusted(Dropped::QueryType)
        );
        assert_eq!(
            run("lab", "10.9.9.9", "evil.test", "A"),
            Outcome::Trusted(Dropped::Client)
        );
        assert_eq!(
            run("other", "172.20.0.1", "evil.test", "A"),
            Outcome::Checked
        );
        assert_eq!(
            run("other", "10.0.0.2", "a.lab.example", "TXT"),
            Outcome::Checked
        );
        let s = c.stats();
        assert_eq!(
            (
                s.queries,
                s.trusted_client,
                s.trusted_domain,
                s.trusted_type,
                s.checked
            ),
            (9, 3, 2, 2, 2)
        );
    }

    #[test]
    fn a_thousand_repeats_cost_one_check_until_the_window_is_over() {
        let mut c = DnsCheck::new(&settings()).unwrap();
        let mut outcomes = HashMap::new();
        for i in 0..1000 {
            let o = c.check(
                "s",
                &mut query("10.0.0.1", "chatty.test", "A", 1000 + i / 100),
            );
            *outcomes.entry(o).or_insert(0) += 1;
        }
        assert_eq!(outcomes.get(&Outcome::Checked), Some(&1));
        assert_eq!(outcomes.get(&Outcome::Repeat), Some(&999));
        // AAAA for the same name is the same (client, domain).
        assert_eq!(
            c.check("s", &mut query("10.0.0.1", "chatty.test", "AAAA", 1020)),
            Outcome::Repeat
        );
        assert_eq!(
            c.check("s", &mut query("10.0.0.2", "chatty.test", "A", 1020)),
            Outcome::Checked
        );
        assert_eq!(
            c.check("s", &mut query("10.0.0.1", "chatty.test", "A", 1060)),
            Outcome::Checked
        );
        assert_eq!(c.stats().deduped, 1000);
    }

    #[test]
    fn other_events_and_checked_ones_pass_untouched() {
        let mut c = DnsCheck::new(&settings()).unwrap();
        let mut login = Event {
            action: Some(Action::UserLogin),
            ..Event::default()
        };
        assert_eq!(c.check("s", &mut login), Outcome::NotDns);
        let mut seen = query("10.0.0.1", "x.test", "A", 1);
        if let Some(d) = seen.dns.as_mut() {
            d.intel = Some(Box::default());
        }
        assert_eq!(
            c.check("s", &mut seen),
            Outcome::NotDns,
            "a resumed event is not checked again"
        );
        assert_eq!(c.stats().queries, 0);
    }

    #[test]
    fn the_most_specific_owner_wins_and_findings_carry_it() {
        let mut s = settings();
        s.owners = vec![
            (Net::parse("10.0.0.0/8").unwrap(), "it".into()),
            (Net::parse("10.1.2.0/24").unwrap(), "alice".into()),
        ];
        let mut c = DnsCheck::new(&s).unwrap();
        assert_eq!(c.owner("10.1.2.3".parse().unwrap()), Some("alice"));
        assert_eq!(c.owner("10.7.0.1".parse().unwrap()), Some("it"));
        assert_eq!(c.owner("192.0.2.1".parse().unwrap()), None);
        let mut e = query("10.1.2.3", "evil.test", "A", 5);
        c.finish(&mut e, DnsIntel::default(), Some(LISTED));
        assert_eq!(e.reason, Some(LISTED));
        let i = e.dns.as_ref().and_then(|d| d.intel.as_ref()).unwrap();
        assert_eq!(i.owner.as_deref(), Some("alice"));
        assert_eq!(c.stats().listed, 1);
    }

    #[test]
    fn listed_names_parents_and_answers_are_findings_with_the_lists_words() {
        let d = tempfile::tempdir().unwrap();
        let hosts = d.path().join("hosts.txt");
        std::fs::write(
            &hosts,
            "# a hosts list\n0.0.0.0 evil.test\n0.0.0.0 bad.example\n",
        )
        .unwrap();
        let ips = d.path().join("ips.txt");
        std::fs::write(&ips, "203.0.113.0/24\n").unwrap();
        let spec = |name: &str, path: &std::path::Path, sev| ListSpec {
            name: name.into(),
            severity: sev,
            path: path.to_path_buf(),
            format: None,
        };
        let (set, outcomes) = ListSet::load([
            spec("badd-boyz", &hosts, logward_core::Severity::Critical),
            spec("drop", &ips, logward_core::Severity::Medium),
        ]);
        assert!(outcomes.iter().all(|o| !o.is_problem()), "{outcomes:?}");
        let mut c = DnsCheck::new(&settings()).unwrap();
        c.set_lists(set);
        let mut e = query("10.0.0.1", "x.a.evil.test", "A", 1);
        assert_eq!(c.check("s", &mut e), Outcome::Checked);
        assert_eq!(e.reason, Some(LISTED));
        let i = e.dns.as_ref().and_then(|d| d.intel.as_ref()).unwrap();
        assert_eq!(i.list.as_deref(), Some("badd-boyz"));
        assert_eq!(i.list_entry.as_deref(), Some("evil.test"));
        assert_eq!(i.severity.as_deref(), Some("critical"));
        assert_eq!(i.reasons, ["listed by badd-boyz as evil.test"]);
        let mut not = query("10.0.0.1", "notevil.test", "A", 1);
        c.check("s", &mut not);
        assert_eq!(not.reason, None);
        assert!(not.dns.as_ref().unwrap().intel.is_none());
        // An unlisted name whose answer is a listed address.
        let mut a = query("10.0.0.1", "cdn.ok.test", "A", 1);
        if let Some(d) = a.dns.as_mut() {
            d.resolved_ip = vec![
                "198.51.100.1".parse().unwrap(),
                "203.0.113.9".parse().unwrap(),
            ];
        }
        c.check("s", &mut a);
        assert_eq!(a.reason, Some(LISTED));
        let i = a.dns.as_ref().and_then(|d| d.intel.as_ref()).unwrap();
        assert_eq!(i.list_entry.as_deref(), Some("203.0.113.0/24"));
        assert_eq!(
            i.reasons,
            ["answer 203.0.113.9 listed by drop as 203.0.113.0/24"]
        );
        // An unlisted name asked of a listed server.
        let mut s = query("10.0.0.1", "txt.ok.test", "TXT", 1);
        if let Some(d) = s.dns.as_mut() {
            d.server_ip = Some("203.0.113.53".parse().unwrap());
        }
        c.check("s", &mut s);
        assert_eq!(s.reason, Some(LISTED));
        let i = s.dns.as_ref().and_then(|d| d.intel.as_ref()).unwrap();
        assert_eq!(
            i.reasons,
            ["server 203.0.113.53 listed by drop as 203.0.113.0/24"]
        );
        assert_eq!(c.stats().listed, 3);
    }

    #[test]
    fn dga_names_and_tunnels_are_findings_with_a_score_and_the_base_domain() {
        let mut c = DnsCheck::new(&settings()).unwrap();
        let mut e = query("10.0.0.1", "www.google.com", "A", 1);
        c.check("s", &mut e);
        assert_eq!(e.reason, None, "a real name");
        let mut e = query("10.0.0.1", "xjwqkzvbtrplmq.com", "A", 1);
        c.check("s", &mut e);
        assert_eq!(e.reason, Some(DGA));
        let d = e.dns.as_ref().unwrap();
        assert_eq!(d.registered_domain.as_deref(), Some("xjwqkzvbtrplmq.com"));
        let i = d.intel.as_ref().unwrap();
        assert!(i.score.is_some_and(|s| s >= 75), "{i:?}");
        assert!(!i.reasons.is_empty());
        // dnscat2-like: TXT queries of encoded data under one base domain, one a second.
        let mut found = None;
        for n in 0..40u64 {
            let label = format!(
                "{:016x}{:016x}",
                n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                n ^ 0xdead_beef_cafe
            );
            let mut q = query(
                "10.0.0.2",
                &format!("{label}.dnsc.r-1x.com"),
                "TXT",
                100 + n as i64,
            );
            c.check("s", &mut q);
            if q.reason == Some(TUNNEL) {
                found = Some((n, q));
                break;
            }
        }
        let (n, q) = found.expect("the tunnel is found");
        assert!(n < 30, "found at query {n}");
        let d = q.dns.as_ref().unwrap();
        assert_eq!(d.registered_domain.as_deref(), Some("r-1x.com"));
        assert!(d
            .intel
            .as_ref()
            .unwrap()
            .reasons
            .iter()
            .any(|r| r.contains("r-1x.com")));
        assert_eq!(c.stats().tunnel, 1);
        assert_eq!(c.stats().dga, 1);
    }

    #[test]
    fn reasons_rank_listed_first() {
        assert_eq!(strongest(None, DGA), Some(DGA));
        assert_eq!(strongest(Some(DGA), LISTED), Some(LISTED));
        assert_eq!(strongest(Some(LISTED), TUNNEL), Some(LISTED));
        assert_eq!(strongest(Some(TUNNEL), API_MALICIOUS), Some(API_MALICIOUS));
        assert_eq!(strongest(Some(NEW_DOMAIN), DGA), Some(DGA));
    }
}
