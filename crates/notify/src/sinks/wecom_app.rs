//! `type: wecom_app` — a WeCom (企业微信) application's message API, to message the person
//! who owns the machine an alert is about (the DNS seed's use: whoever's laptop looked up a
//! malicious domain), or the default recipients.
//!
//! Per WeCom's server API docs: `GET {api}/cgi-bin/gettoken?corpid=…&corpsecret=…` answers
//! `{"errcode":0,"access_token":…,"expires_in":7200}`; the token is cached until five minutes
//! before it expires, and fetched again once when a send says it is invalid or expired
//! (40001, 40014, 42001). `POST {api}/cgi-bin/message/send?access_token=…` takes
//! `{"touser":"a|b","msgtype":"markdown","agentid":N,"markdown":{"content":…}}` (content at
//! most 2048 bytes).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::http;
use crate::limit::Rate;
use crate::message::Message;
use crate::secret::Secret;
use crate::sinks::outcome::{fit, SendError, Sent};
use crate::sinks::wecom;

/// Not a documented WeCom figure (its application quotas are per day and per member): a
/// ceiling that keeps a runaway rule from ringing one owner's phone without end.
pub const RATES: &[Rate] = &[Rate::per_minute(30)];

/// Longest content, in bytes, for text and markdown alike.
pub const MAX_CONTENT: usize = 2048;

/// Tokens are renewed this long before WeCom says they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// errcodes that mean the access token is no good any more.
const STALE_TOKEN: [i64; 3] = [40001, 40014, 42001];

notifier_config! {
    pub struct Config {
        /// The company id (企业ID).
        pub corpid: String,
        /// The application's secret.
        pub secret: Secret,
        /// The application's AgentId.
        pub agentid: i64,
        /// Who gets alerts no owner claims: user ids joined by `|`, or `@all`.
        pub touser: String,
        /// Owners of addresses, networks and hosts; the first match wins.
        #[serde(default)]
        pub owners: Vec<OwnerConfig>,
        /// `markdown` (default) or `text`.
        #[serde(default = "default_format")]
        pub format: String,
        /// The API's base URL.
        #[serde(default = "default_api")]
        pub api: String,
    }
}

/// `{match: 10.1.0.0/16, user: alice}`: alerts about that network (`source.ip`) or host
/// (`host.name`) go to that WeCom user.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    /// An address, a CIDR network, a host name, or `*.suffix` for a domain's hosts.
    #[serde(rename = "match")]
    pub pattern: String,
    /// The WeCom user id.
    pub user: String,
}

fn default_format() -> String {
    "markdown".into()
}

fn default_api() -> String {
    "https://qyapi.weixin.qq.com".into()
}

fn bad_user(u: &str) -> bool {
    u.trim().is_empty() || u.contains(['|', ' ', '&', '?', '#'])
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.corpid.trim().is_empty() {
            e.push("corpid is empty".into());
        }
        if self.secret.is_empty() {
            e.push("secret is empty".into());
        }
        if self.agentid <= 0 {
            e.push(format!(
                "agentid {}: the application's AgentId, above zero",
                self.agentid
            ));
        }
        if self.touser != "@all" && self.touser.split('|').any(bad_user) {
            e.push(format!(
                "touser `{}`: user ids joined by `|`, or @all",
                self.touser
            ));
        }
        super::check_http("api", &self.api, &mut e);
        if !matches!(self.format.as_str(), "text" | "markdown") {
            e.push(format!("format `{}`: text or markdown", self.format));
        }
        for (i, o) in self.owners.iter().enumerate() {
            if let Err(err) = o.pattern.parse::<Pattern>() {
                e.push(format!("owners[{i}]: {err}"));
            }
            if bad_user(&o.user) {
                e.push(format!("owners[{i}]: user `{}` is not a user id", o.user));
            }
        }
        e
    }
}

/// An address network: the address with its host bits zero, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                mask(u128::from(u32::from(a)), self.prefix, 32) == u128::from(u32::from(n))
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                mask(u128::from(a), self.prefix, 128) == u128::from(n)
            }
            _ => false,
        }
    }
}

/// `bits` (an address `width` bits wide) with all but its first `prefix` bits zeroed.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let host = u32::from(width - prefix);
    (bits >> host) << host
}

impl FromStr for Cidr {
    type Err = String;

    /// `192.0.2.0/24`, `2001:db8::/32`, or one address (a /32 or /128).
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address or network"))?;
        let width = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= width => p,
                _ => return Err(format!("`{s}`: the prefix length must be 0 to {width}")),
            },
        };
        let cidr = Cidr { net, prefix };
        if !cidr.contains(net) {
            return Err(format!("`{s}` has host bits set after /{prefix}"));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// What an owner entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Net(Cidr),
    /// A host name, lower case.
    Host(String),
    /// `*.example.com`: the hosts under `.example.com`, lower case, dot included.
    Domain(String),
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Pattern, String> {
        let s = s.trim();
        // Anything with a slash or a colon, or made only of digits and dots, is meant as an
        // address: a typo there must be an error, not a host name that never matches.
        if s.contains(['/', ':']) || s.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return s.parse().map(Pattern::Net);
        }
        let (name, domain) = match s.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (s, false),
        };
        let ok = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !ok {
            return Err(format!("`{s}` is not an address, network or host name"));
        }
        let name = name.to_ascii_lowercase();
        Ok(if domain {
            Pattern::Domain(format!(".{name}"))
        } else {
            Pattern::Host(name)
        })
    }
}

impl Pattern {
    fn matches(&self, ip: Option<IpAddr>, host: Option<&str>) -> bool {
        match self {
            Pattern::Net(c) => ip.is_some_and(|ip| c.contains(ip)),
            Pattern::Host(h) => host.is_some_and(|x| x.eq_ignore_ascii_case(h)),
            Pattern::Domain(d) => {
                host.is_some_and(|x| x.len() > d.len() && x.to_ascii_lowercase().ends_with(d))
            }
        }
    }
}

#[derive(Debug)]
struct Token {
    /// A credential like the secret: `Secret` keeps it out of `Debug`.
    value: Secret,
    until: Instant,
}

#[derive(Debug)]
pub struct WeComApp {
    client: reqwest::Client,
    corpid: String,
    secret: Secret,
    agentid: i64,
    touser: String,
    owners: Vec<(Pattern, String)>,
    markdown: bool,
    api: String,
    /// The cached access token; the lock also keeps two sends from fetching at once.
    token: Mutex<Option<Token>>,
}

impl WeComApp {
    pub fn new(c: &Config, timeout: Duration) -> Result<WeComApp, String> {
        let owners = c
            .owners
            .iter()
            .map(|o| Ok((o.pattern.parse::<Pattern>()?, o.user.clone())))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(WeComApp {
            client: http::client(timeout)?,
            corpid: c.corpid.clone(),
            secret: c.secret.clone(),
            agentid: c.agentid,
            touser: c.touser.clone(),
            owners,
            markdown: c.format != "text",
            api: c.api.trim_end_matches('/').to_owned(),
            token: Mutex::new(None),
        })
    }

    /// The owner of one alert (its `source.ip`, else its `host.name`), if an entry claims it.
    fn owner(&self, alert: &Value) -> Option<&str> {
        let ip = alert
            .pointer("/source/ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<IpAddr>().ok());
        let host = alert.pointer("/host/name").and_then(Value::as_str);
        self.owners
            .iter()
            .find(|(p, _)| p.matches(ip, host))
            .map(|(_, u)| u.as_str())
    }

    /// `touser` for `m`: the owners of its alerts (a digest may have several), or the default
    /// recipients for alerts no one owns.
    pub fn recipients(&self, m: &Message) -> String {
        let alerts: Vec<&Value> = match m.json.get("alerts").and_then(Value::as_array) {
            Some(list) if m.json.get("digest").is_some() => list.iter().collect(),
            _ => vec![&m.json],
        };
        let mut users: Vec<&str> = Vec::new();
        for a in alerts {
            let who = self.owner(a).unwrap_or(&self.touser);
            for u in who.split('|') {
                if !users.contains(&u) {
                    users.push(u);
                }
            }
        }
        if users.contains(&"@all") {
            return "@all".into();
        }
        users.join("|")
    }

    /// The JSON body for `m`.
    pub fn body(&self, m: &Message) -> Value {
        let (kind, content) = if self.markdown {
            ("markdown", fit(&m.markdown, MAX_CONTENT))
        } else {
            (
                "text",
                fit(&format!("{}\n{}", m.title, m.text), MAX_CONTENT),
            )
        };
        json!({
            "touser": self.recipients(m),
            "msgtype": kind,
            "agentid": self.agentid,
            kind: {"content": content},
            // WeCom drops a repeat of the same content within the interval: a retry after a
            // lost answer does not message the owner twice.
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        })
    }

    /// A valid access token: the cached one, or a new one when `stale` is it or it expired.
    async fn token(&self, stale: Option<&str>) -> Result<String, SendError> {
        let mut cache = self.token.lock().await;
        if let Some(t) = cache.as_ref() {
            if Instant::now() < t.until && stale != Some(t.value.expose()) {
                return Ok(t.value.expose().to_owned());
            }
        }
        *cache = None;
        let url = format!(
            "{}/cgi-bin/gettoken?corpid={}&corpsecret={}",
            self.api,
            utf8_percent_encode(&self.corpid, NON_ALPHANUMERIC),
            utf8_percent_encode(self.secret.expose(), NON_ALPHANUMERIC)
        );
        let a = http::exchange(
            &self.client,
            Method::GET,
            &url,
            "application/json",
            &[],
            Vec::new(),
        )
        .await?
        .classify()?;
        let v: Value = serde_json::from_str(&a.body)
            .map_err(|_| SendError::transient("WeCom gettoken: the answer is not JSON"))?;
        let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        if code != 0 {
            let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or_default();
            let e = wecom::CODES.classify(code, msg);
            return Err(match e {
                SendError::Permanent { reason } => {
                    SendError::permanent(format!("gettoken: {reason} (check corpid and secret)"))
                }
                other => other,
            });
        }
        let value = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::transient("WeCom gettoken: no access_token in the answer"))?
            .to_owned();
        let life = Duration::from_secs(v.get("expires_in").and_then(Value::as_u64).unwrap_or(7200));
        *cache = Some(Token {
            value: Secret::new(value.clone()),
            until: Instant::now() + life.saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }

    /// One send with `token`: `Ok(None)` when WeCom says the token is stale.
    async fn send_with(&self, token: &str, body: &[u8]) -> Result<Option<Sent>, SendError> {
        let url = format!(
            "{}/cgi-bin/message/send?access_token={}",
            self.api,
            utf8_percent_encode(token, NON_ALPHANUMERIC)
        );
        let reply = http::post_json(&self.client, &url, body.to_vec()).await?;
        let code = wecom::CODES.read(&reply.body);
        if code.as_ref().is_some_and(|(c, _)| STALE_TOKEN.contains(c)) {
            return Ok(None);
        }
        http::judge(reply, code, |c, m| wecom::CODES.classify(c, m)).map(Some)
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let body =
            serde_json::to_vec(&self.body(m)).map_err(|e| SendError::permanent(e.to_string()))?;
        let token = self.token(None).await?;
        if let Some(sent) = self.send_with(&token, &body).await? {
            return Ok(sent);
        }
        // Expired or revoked before we thought: one new token, one more try.
        let token = self.token(Some(&token)).await?;
        self.send_with(&token, &body).await?.ok_or_else(|| {
            SendError::permanent("WeCom refused a freshly fetched access token (check the secret)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let c: Cidr = "10.1.0.0/16".parse().expect("cidr");
        assert!(c.contains(ip("10.1.255.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("::ffff:10.1.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains(ip("203.0.113.9")));
        let one: Cidr = "192.0.2.7".parse().expect("cidr");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().expect("cidr");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let odd: Cidr = "10.0.0.128/25".parse().expect("cidr");
        assert!(odd.contains(ip("10.0.0.200")) && !odd.contains(ip("10.0.0.127")));
        for bad in [
            "10.1.0.1/16",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0/8",
            "x/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_parse() {
        assert!(matches!("10.0.0.0/8".parse(), Ok(Pattern::Net(_))));
        assert_eq!("Web01".parse(), Ok(Pattern::Host("web01".into())));
        assert_eq!(
            "*.db.example".parse(),
            Ok(Pattern::Domain(".db.example".into()))
        );
        for bad in ["10.0.0.300", "10.0.0.1/40", "a b", "", "*."] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad}");
        }
        let d: Pattern = "*.db.example".parse().expect("pattern");
        assert!(d.matches(None, Some("pg1.DB.example")));
        assert!(!d.matches(None, Some("db.example")));
    }
}
