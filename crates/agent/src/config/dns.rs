//! `dns:` — the DNS check (docs/DNS.md): trusted clients, domains and query types, the
//! (client, domain) dedup window, threat lists, heuristics, the intel API and the owners of
//! client addresses; as written and checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use logward_core::duration::parse_duration;
use logward_notify::secret::Secret;

use super::{at, err, ConfigError};
use crate::dns_check::api::{ApiSettings, Verdicts};
use crate::dns_check::trust::{Net, Trust};
use crate::dns_check::Settings;

/// `dns:` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The check runs on every `dns-query` event (default true once `dns:` is written).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Dropped before anything else, for every source (like fail2ban's `ignoreip`).
    #[serde(default)]
    pub trusted: TrustedConfig,
    /// More trusted clients, domains and types for one source, by its id (a file source's
    /// path, a command's name …): added to the global ones, never replacing them.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceDnsConfig>,
    #[serde(default)]
    pub dedup: DedupConfig,
    /// Owners of client addresses: `{network: 10.1.0.0/16, owner: netops}`; the most
    /// specific network wins. Sets `logward.dns.owner`, which notifier routes match.
    #[serde(default)]
    pub owners: Vec<OwnerConfig>,
    /// Threat lists (docs/DNS.md, Threat lists): each a file with a name and a severity.
    #[serde(default)]
    pub lists: Vec<ListConfig>,
    /// How often the list files are looked at for changes (default `10s`); a changed file is
    /// read again off the pipeline, keeping the last good copy when it is broken.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub lists_check: Option<Spanned<String>>,
    /// DGA, tunnelling and newly-seen-domain heuristics (docs/DNS.md, Heuristics).
    #[serde(default)]
    pub heuristics: HeuristicsConfig,
    /// The HTTP threat-intelligence API; none: not asked.
    #[serde(default)]
    pub api: Option<ApiConfig>,
}

/// `heuristics:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeuristicsConfig {
    #[serde(default)]
    pub dga: Option<DgaConfig>,
    #[serde(default)]
    pub tunnel: Option<TunnelConfig>,
    #[serde(default)]
    pub new_domains: Option<NewDomainsConfig>,
}

/// `heuristics.dga:` — machine-generated names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DgaConfig {
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A finding at or above this score, 0..1 (default 0.75).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub threshold: Option<Spanned<f32>>,
}

/// `heuristics.tunnel:` — data carried in query names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfig {
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The sliding window per client and base domain (default `60s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub window: Option<Spanned<String>>,
    /// A finding at or above this score, 0..1 (default 0.6).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub threshold: Option<Spanned<f32>>,
    /// (client, base domain) pairs tracked at most (default 65536).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub tracked: Option<Spanned<usize>>,
}

/// `heuristics.new_domains:` — a client's first query for a base domain (off by default).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomainsConfig {
    /// Default false.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How long a client is learned before its new domains are reported (default `1d`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub learn: Option<Spanned<String>>,
    /// Clients remembered (default 1024).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub clients: Option<Spanned<usize>>,
    /// Base domains remembered per client (default 1024).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub per_client: Option<Spanned<usize>>,
}

fn threshold(file: &str, v: &Option<Spanned<f32>>, into: &mut f32, errors: &mut Vec<ConfigError>) {
    if let Some(v) = v {
        if (0.0..=1.0).contains(&v.value) {
            *into = v.value;
        } else {
            errors.push(at(
                file,
                v,
                format!("threshold {}: a score from 0 to 1", v.value),
            ));
        }
    }
}

fn heuristics(
    file: &str,
    h: &HeuristicsConfig,
    errors: &mut Vec<ConfigError>,
) -> logward_engine::dns::Settings {
    use logward_engine::dns::{NewDomainSettings, TunnelSettings};
    let mut s = logward_engine::dns::Settings::default();
    if let Some(d) = &h.dga {
        s.dga.enabled = d.enabled.unwrap_or(true);
        threshold(file, &d.threshold, &mut s.dga.threshold, errors);
    }
    if let Some(t) = &h.tunnel {
        let mut ts = TunnelSettings::default();
        if let Some(w) = interval(file, &t.window, false, errors) {
            ts.window = i64::try_from(w.as_secs().max(1)).unwrap_or(i64::MAX);
        }
        threshold(file, &t.threshold, &mut ts.threshold, errors);
        at_least_one(file, &t.tracked, "tunnel.tracked", &mut ts.tracked, errors);
        s.tunnel = t.enabled.unwrap_or(true).then_some(ts);
    }
    if let Some(n) = &h.new_domains {
        let mut ns = NewDomainSettings::default();
        if let Some(w) = interval(file, &n.learn, true, errors) {
            ns.learn = i64::try_from(w.as_secs()).unwrap_or(i64::MAX);
        }
        at_least_one(
            file,
            &n.clients,
            "new_domains.clients",
            &mut ns.clients,
            errors,
        );
        at_least_one(
            file,
            &n.per_client,
            "new_domains.per_client",
            &mut ns.per_client,
            errors,
        );
        s.new_domains = n.enabled.unwrap_or(false).then_some(ns);
    }
    s
}

/// One threat list.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// `logward.dns.list` of its hits (letters, digits, `-`, `_`, `.`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The file (relative to this config file).
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// `logward.dns.severity` of its hits (default `high`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub severity: Option<Spanned<String>>,
    /// `hosts`, `domains`, `dnsmasq`, `adblock`, `rpz` or `ip`; default: detected.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub format: Option<Spanned<String>>,
}

/// `trusted:` — never checked, never alerted on.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedConfig {
    /// Client addresses and networks (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub clients: Vec<Spanned<String>>,
    /// Domain suffixes: the name itself and every name under it (`corp.example` trusts
    /// `a.corp.example`, not `notcorp.example`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub domains: Vec<Spanned<String>>,
    /// Query types (`PTR`, `SOA`, `SRV` …), any case.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub query_types: Vec<Spanned<String>>,
}

/// `sources.<id>:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceDnsConfig {
    #[serde(default)]
    pub trusted: TrustedConfig,
}

/// `dedup:` — a client asking the same name again within `window` is not looked up again.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// Default `10m`; `0s` turns dedup off.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub window: Option<Spanned<String>>,
    /// (client, domain) pairs remembered at most (least recently seen forgotten first;
    /// default 100000).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub max_entries: Option<Spanned<usize>>,
}

/// One owner.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    /// An address or CIDR network.
    #[schemars(with = "String")]
    pub network: Spanned<String>,
    /// A person or team (a word a route can match, e.g. a WeCom user id).
    #[schemars(with = "String")]
    pub owner: Spanned<String>,
}

/// `api:` — the seed's shape by default: `GET URL?token=…&param=<domain>` answering JSON.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// `https://intel.example/api/domain` (http:// only for loopback tests and proxies).
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    /// Query parameters, each a template over `domain` and `token` (default
    /// `{token: "{{ token }}", param: "{{ domain }}"}`).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub query: Option<BTreeMap<String, Spanned<String>>>,
    /// Request headers, templates like `query` (`Authorization: "Bearer {{ token }}"`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// A POST body template (JSON, say); none: no body.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    /// The token, usually `${INTEL_TOKEN}`; never logged.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A file holding the token (its first line), instead of `token`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub token_file: Option<Spanned<String>>,
    /// Dotted path of the verdict in the JSON answer (default `verdict`; `data.0.level`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub verdict: Option<Spanned<String>>,
    /// Dotted path of the reason (default `reason`; a missing reason is no error).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub reason: Option<Spanned<String>>,
    /// Verdict values that mean malicious, any case (default `[malicious]`).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub malicious: Option<Vec<Spanned<String>>>,
    /// The severity word a malicious verdict carries (default `high`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub severity: Option<Spanned<String>>,
    /// Per request (default `2s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Requests in flight at most (default 8).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub concurrency: Option<Spanned<usize>>,
    /// Requests per second at most (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub per_second: Option<Spanned<u32>>,
    #[serde(default)]
    pub cache: ApiCacheConfig,
    #[serde(default)]
    pub retry: ApiRetryConfig,
}

/// `api.cache:` — verdicts kept per domain.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiCacheConfig {
    /// Domains remembered at most (default 100000).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub size: Option<Spanned<usize>>,
    /// How long a verdict is kept, by verdict value (`malicious: 1d`, `clean: 6h`); `default`
    /// for the others (default `1h`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub ttl: BTreeMap<String, Spanned<String>>,
}

/// `api.retry:` — domains whose look-up failed are asked again later.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiRetryConfig {
    /// The first wait (default `5s`), doubled each time up to `max_wait`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub wait: Option<Spanned<String>>,
    /// Default `5m`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_wait: Option<Spanned<String>>,
    /// Attempts per domain before it is given up (default 5).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub attempts: Option<Spanned<u32>>,
    /// Domains waiting (for an answer or a retry) at most (default 10000); beyond, new
    /// domains are not asked about (counted).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub queue: Option<Spanned<usize>>,
}

fn interval(
    file: &str,
    v: &Option<Spanned<String>>,
    zero_ok: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    let v = v.as_ref()?;
    duration(file, v, zero_ok, errors)
}

fn duration(
    file: &str,
    v: &Spanned<String>,
    zero_ok: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    match parse_duration(&v.value) {
        Some(d) if zero_ok || !d.is_zero() => Some(d),
        _ => {
            errors.push(at(
                file,
                v,
                format!("`{}` is not a duration (500ms, 30s, 10m, 1h)", v.value),
            ));
            None
        }
    }
}

fn at_least_one<T: Copy + PartialEq + Default>(
    file: &str,
    v: &Option<Spanned<T>>,
    what: &str,
    into: &mut T,
    errors: &mut Vec<ConfigError>,
) {
    if let Some(v) = v {
        if v.value == T::default() {
            errors.push(at(file, v, format!("`{what}` must be at least 1")));
        } else {
            *into = v.value;
        }
    }
}

/// A domain as the check compares it: lower case, no trailing dot.
pub fn normal_domain(s: &str) -> Option<String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(d)
}

fn trusted(file: &str, t: &TrustedConfig, into: &mut Trust, errors: &mut Vec<ConfigError>) {
    for c in &t.clients {
        match Net::parse(&c.value) {
            Some(n) => into.clients.push(n),
            None => errors.push(at(
                file,
                c,
                format!(
                    "`{}` is not an address or network (10.0.0.0/8, 192.0.2.7, 2001:db8::/32)",
                    c.value
                ),
            )),
        }
    }
    for d in &t.domains {
        match normal_domain(&d.value) {
            Some(n) => into.domains.push(n),
            None => errors.push(at(file, d, format!("`{}` is not a domain name", d.value))),
        }
    }
    for q in &t.query_types {
        let v = q.value.trim().to_ascii_uppercase();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            errors.push(at(
                file,
                q,
                format!("`{}` is not a query type (A, PTR, TXT …)", q.value),
            ));
        } else {
            into.query_types.push(v);
        }
    }
}

/// Checks `dns:` (from the file that last set it; `None`: not set, the check is off).
pub fn check(dns: Option<(String, DnsConfig, PathBuf)>, errors: &mut Vec<ConfigError>) -> Settings {
    let Some((file, d, base)) = dns else {
        return Settings::default();
    };
    let mut s = Settings {
        enabled: d.enabled.unwrap_or(true),
        ..Settings::default()
    };
    trusted(&file, &d.trusted, &mut s.trusted, errors);
    for (id, src) in &d.sources {
        let mut t = Trust::default();
        trusted(&file, &src.trusted, &mut t, errors);
        s.per_source.insert(id.clone(), t);
    }
    if let Some(w) = interval(&file, &d.dedup.window, true, errors) {
        s.dedup_window = w;
    }
    at_least_one(
        &file,
        &d.dedup.max_entries,
        "dedup.max_entries",
        &mut s.dedup_entries,
        errors,
    );
    for o in &d.owners {
        let owner = o.owner.value.trim();
        if owner.is_empty() || owner.contains(char::is_whitespace) {
            errors.push(at(
                &file,
                &o.owner,
                format!("owner `{}`: one word (a user or team id)", o.owner.value),
            ));
        }
        match Net::parse(&o.network.value) {
            Some(n) => s.owners.push((n, owner.to_owned())),
            None => errors.push(at(
                &file,
                &o.network,
                format!("`{}` is not an address or network", o.network.value),
            )),
        }
    }
    for l in &d.lists {
        let name = l.name.value.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            errors.push(at(
                &file,
                &l.name,
                format!(
                    "list name `{}`: letters, digits, -, _ and . only",
                    l.name.value
                ),
            ));
        } else if s.lists.iter().any(|x| x.name == name) {
            errors.push(at(&file, &l.name, format!("a second list named `{name}`")));
        }
        let severity = match &l.severity {
            None => logward_core::Severity::High,
            Some(v) => logward_core::Severity::parse(&v.value).unwrap_or_else(|| {
                errors.push(at(
                    &file,
                    v,
                    format!(
                        "severity `{}`: info, low, medium, high or critical",
                        v.value
                    ),
                ));
                logward_core::Severity::High
            }),
        };
        let format = l.format.as_ref().and_then(|f| match f.value.parse() {
            Ok(x) => Some(x),
            Err(_) => {
                errors.push(at(
                    &file,
                    f,
                    format!(
                        "format `{}`: hosts, domains, dnsmasq, adblock, rpz or ip",
                        f.value
                    ),
                ));
                None
            }
        });
        if l.path.value.trim().is_empty() {
            errors.push(at(&file, &l.path, "`path` is empty".into()));
        }
        let p = PathBuf::from(&l.path.value);
        s.lists.push(logward_engine::dns::ListSpec {
            name: name.to_owned(),
            severity,
            path: if p.is_relative() { base.join(p) } else { p },
            format,
        });
    }
    s.heuristics = heuristics(&file, &d.heuristics, errors);
    if let Some(w) = interval(&file, &d.lists_check, false, errors) {
        s.lists_check = w;
    }
    if let Some(a) = d.api {
        s.api = api(&file, a, &base, errors);
    }
    s
}

fn api(
    file: &str,
    a: ApiConfig,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<ApiSettings> {
    let mut s = ApiSettings::new(a.url.value.trim().to_owned());
    let url = &s.url;
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('?') {
        errors.push(at(
            file,
            &a.url,
            format!(
                "api url `{}` must start with https:// or http:// and carry no query (`query:` \
                 builds it)",
                a.url.value
            ),
        ));
    }
    if let Some(m) = &a.method {
        match m.value.to_ascii_uppercase().as_str() {
            "GET" => s.post = false,
            "POST" => s.post = true,
            _ => errors.push(at(file, m, format!("method `{}`: GET or POST", m.value))),
        }
    }
    let mut template = |name: String, t: &Spanned<String>| -> Option<(String, String)> {
        match crate::dns_check::api::check_template(&t.value) {
            Ok(()) => Some((name, t.value.clone())),
            Err(e) => {
                errors.push(at(file, t, format!("template `{}`: {e}", t.value)));
                None
            }
        }
    };
    if let Some(q) = &a.query {
        s.query = q
            .iter()
            .filter_map(|(k, v)| template(k.clone(), v))
            .collect();
    }
    s.headers = a
        .headers
        .iter()
        .filter_map(|(k, v)| template(k.clone(), v))
        .collect();
    s.body = a
        .body
        .as_ref()
        .and_then(|b| template(String::new(), b).map(|t| t.1));
    match (&a.token, &a.token_file) {
        (Some(_), Some(f)) => errors.push(at(
            file,
            f,
            "`token` and `token_file` are both set; keep one".into(),
        )),
        (Some(t), None) => s.token = t.clone(),
        (None, Some(f)) => {
            let p = PathBuf::from(&f.value);
            let p = if p.is_relative() { base.join(p) } else { p };
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    s.token = Secret::new(text.lines().next().unwrap_or("").trim().to_owned())
                }
                Err(e) => errors.push(at(
                    file,
                    f,
                    format!("cannot read token_file {}: {e}", p.display()),
                )),
            }
        }
        (None, None) => {}
    }
    if let Some(v) = &a.verdict {
        s.verdict_path = v.value.trim().to_owned();
        if s.verdict_path.is_empty() {
            errors.push(at(file, v, "`verdict` path is empty".into()));
        }
    }
    if let Some(v) = &a.reason {
        s.reason_path = Some(v.value.trim().to_owned()).filter(|p| !p.is_empty());
    }
    if let Some(m) = &a.malicious {
        if m.is_empty() {
            errors.push(err(
                file,
                a.url.referenced.line(),
                a.url.referenced.column(),
                "`malicious` is empty: no verdict would ever alert".into(),
            ));
        }
        s.verdicts = Verdicts::new(m.iter().map(|v| v.value.clone()));
    }
    if let Some(v) = &a.severity {
        match logward_core::Severity::parse(&v.value) {
            Some(sev) => s.severity = sev.as_str().to_owned(),
            None => errors.push(at(
                file,
                v,
                format!(
                    "severity `{}`: info, low, medium, high or critical",
                    v.value
                ),
            )),
        }
    }
    if let Some(t) = interval(file, &a.timeout, false, errors) {
        s.timeout = t;
    }
    at_least_one(
        file,
        &a.concurrency,
        "concurrency",
        &mut s.concurrency,
        errors,
    );
    at_least_one(file, &a.per_second, "per_second", &mut s.per_second, errors);
    at_least_one(file, &a.cache.size, "cache.size", &mut s.cache_size, errors);
    for (verdict, t) in &a.cache.ttl {
        if let Some(d) = duration(file, t, true, errors) {
            if verdict == "default" {
                s.ttl_default = d;
            } else {
                s.ttl.insert(verdict.to_ascii_lowercase(), d);
            }
        }
    }
    if let Some(w) = interval(file, &a.retry.wait, false, errors) {
        s.retry_wait = w;
    }
    if let Some(w) = interval(file, &a.retry.max_wait, false, errors) {
        s.retry_max_wait = w;
    }
    at_least_one(
        file,
        &a.retry.attempts,
        "retry.attempts",
        &mut s.attempts,
        errors,
    );
    at_least_one(file, &a.retry.queue, "retry.queue", &mut s.queue, errors);
    Some(s)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn load(text: &str) -> Result<crate::config::AgentConfig, Vec<String>> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("intel.token"), "FILE-TOKEN-123\n").unwrap();
        let p = d.path().join("agent.yaml");
        std::fs::write(&p, text).unwrap();
        crate::config::load(&p).map(|l| l.config).map_err(|e| {
            e.0.iter()
                .map(|e| {
                    e.to_string()
                        .replace(&p.display().to_string(), "agent.yaml")
                })
                .collect()
        })
    }

    #[test]
    fn the_dns_section_loads_with_defaults_and_values() {
        let off = load("sources: []\n").unwrap();
        assert!(!off.dns.enabled, "no dns: section, no check");
        let c = load(
            "dns:\n  trusted:\n    clients: [10.0.0.0/8, 192.0.2.7]\n    domains: [Corp.Example.]\n    query_types: [ptr]\n  sources:\n    /var/log/dnsmasq.log: {trusted: {clients: ['::1']}}\n  dedup: {window: 5m, max_entries: 500}\n  owners:\n    - {network: 10.1.0.0/16, owner: netops}\n  api:\n    url: https://intel.example/api\n    token_file: intel.token\n    verdict: data.verdict\n    malicious: [black, Malicious]\n    cache: {ttl: {black: 1d, default: 10m}}\n    retry: {attempts: 3}\n",
        )
        .unwrap()
        .dns;
        assert!(c.enabled);
        assert_eq!(c.trusted.clients.len(), 2);
        assert_eq!(c.trusted.domains, ["corp.example"]);
        assert_eq!(c.trusted.query_types, ["PTR"]);
        assert_eq!(c.per_source["/var/log/dnsmasq.log"].clients.len(), 1);
        assert_eq!(c.dedup_window, Duration::from_secs(300));
        assert_eq!(c.dedup_entries, 500);
        assert_eq!(c.owners[0].1, "netops");
        let a = c.api.unwrap();
        assert_eq!(a.token.expose(), "FILE-TOKEN-123");
        assert_eq!(format!("{:?}", a.token), "<redacted>");
        assert_eq!(a.verdict_path, "data.verdict");
        assert!(a.verdicts.malicious("BLACK") && a.verdicts.malicious("malicious"));
        assert_eq!(a.ttl["black"], Duration::from_secs(86_400));
        assert_eq!(a.ttl_default, Duration::from_secs(600));
        assert_eq!(a.attempts, 3);
        assert_eq!(
            a.query,
            [
                ("token".to_owned(), "{{ token }}".to_owned()),
                ("param".to_owned(), "{{ domain }}".to_owned())
            ]
        );
    }

    #[test]
    fn heuristics_are_on_by_default_and_tunable() {
        let c = load("dns: {}\n").unwrap().dns.heuristics;
        assert_eq!(c, logward_engine::dns::Settings::default());
        assert!(c.dga.enabled && c.tunnel.is_some() && c.new_domains.is_none());
        let c = load(
            "dns:\n  heuristics:\n    dga: {threshold: 0.9}\n    tunnel: {enabled: false}\n    new_domains: {enabled: true, learn: 2h}\n",
        )
        .unwrap()
        .dns
        .heuristics;
        assert_eq!(c.dga.threshold, 0.9);
        assert!(c.tunnel.is_none());
        assert_eq!(c.new_domains.map(|n| n.learn), Some(7200));
        let e = load("dns:\n  heuristics:\n    dga: {threshold: 2}\n").unwrap_err();
        assert!(e[0].starts_with("agent.yaml:3:22: threshold 2"), "{e:?}");
    }

    #[test]
    fn bad_values_are_errors_at_their_place() {
        let errors = load(
            "dns:\n  trusted:\n    clients: [10.0.0.0/33]\n    domains: ['bad domain']\n  dedup: {window: soon}\n  owners:\n    - {network: nowhere, owner: two words}\n  api:\n    url: ftp://x\n    query: {q: '{{ domain '}\n    concurrency: 0\n",
        )
        .unwrap_err();
        let want = [
            "agent.yaml:3:15: `10.0.0.0/33` is not an address or network",
            "agent.yaml:4:15: `bad domain` is not a domain name",
            "agent.yaml:5:19: `soon` is not a duration",
            "agent.yaml:7:33: owner `two words`",
            "agent.yaml:7:17: `nowhere` is not an address or network",
            "agent.yaml:9:10: api url `ftp://x` must start with https://",
            "agent.yaml:10:16: template `{{ domain `",
            "agent.yaml:11:18: `concurrency` must be at least 1",
        ];
        assert_eq!(errors.len(), want.len(), "{errors:#?}");
        for (e, w) in errors.iter().zip(want) {
            assert!(e.starts_with(w), "{e}\nwanted {w}");
        }
        let unknown = load("dns:\n  trusted: {clients: [], domain: [x]}\n").unwrap_err();
        assert!(unknown[0].contains("domain"), "{unknown:?}");
        let both = load("dns:\n  api: {url: 'https://x', token: a, token_file: intel.token}\n")
            .unwrap_err();
        assert!(both[0].contains("both set"), "{both:?}");
    }
}
