//! `type: syslog` — alerts as RFC 5424 syslog messages, how SIEMs (and the seeds' scripts)
//! take them: to the local socket (`/dev/log`, datagrams), over UDP (RFC 5426), or over TCP
//! or TLS (RFC 5425) with octet-counting framing (RFC 6587 §3.4.1). The payload is the alert's JSON or an
//! ArcSight CEF line; a digest becomes one message per alert (one event per line is what
//! a SIEM parses).
//!
//! ```text
//! <PRI>1 2026-11-22T10:05:22.123456Z web01 logward 4242 ssh-login [origin software="logward" swVersion="0.1.0"] {"@timestamp":…}
//! ```
//!
//! PRI = facility × 8 + severity, the alert's severity mapped critical → crit (2),
//! high → err (3), medium → warning (4), low → notice (5), info → info (6). MSG carries no
//! BOM: JSON and CEF parsers downstream would read it as part of the payload.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use logward_core::Severity;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::limit::Rate;
use crate::message::Message;
use crate::sinks::outcome::{fit, SendError, Sent};

/// A local daemon or a SIEM takes thousands per second; this only stops a runaway loop.
pub const RATES: &[Rate] = &[Rate::per_second(100)];

notifier_config! {
    pub struct Config {
        /// `unix` (default), `udp`, `tcp` or `tls`.
        #[serde(default)]
        pub transport: Transport,
        /// The socket path for `unix` (`/dev/log`), `host:port` otherwise (`localhost:514`;
        /// required for `tls`, whose host name the server's certificate must match).
        #[serde(default)]
        pub address: Option<String>,
        /// For `tls`: a PEM file of certificates to trust besides the public roots.
        #[serde(default)]
        pub ca_file: Option<String>,
        /// `authpriv` (default), `auth`, `daemon`, `user`, `local0`…`local7`, …
        #[serde(default = "default_facility")]
        pub facility: String,
        /// `json` (default: the alert's ECS JSON) or `cef`.
        #[serde(default)]
        pub payload: Payload,
        /// HOSTNAME in the header (this host's name by default).
        #[serde(default)]
        pub hostname: Option<String>,
        /// APP-NAME in the header.
        #[serde(default = "default_app_name")]
        pub app_name: String,
        /// Longest message in bytes; longer payloads are cut (8 KiB: rsyslog's default).
        #[serde(default = "default_max_size")]
        pub max_size: usize,
    }
}

fn default_facility() -> String {
    "authpriv".into()
}

fn default_app_name() -> String {
    "logward".into()
}

fn default_max_size() -> usize {
    8192
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Unix,
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    #[default]
    Json,
    Cef,
}

/// RFC 5424 §6.2.1 facility codes by their usual names.
const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("security", 13),
    ("console", 14),
    ("clock", 15),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

fn facility_code(name: &str) -> Option<u8> {
    FACILITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
}

/// The syslog severity of an alert severity.
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// CEF's 0–10 scale (0–3 low, 4–6 medium, 7–8 high, 9–10 very high).
pub fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        if facility_code(&self.facility).is_none() {
            e.push(format!(
                "facility `{}`: one of {}",
                self.facility,
                FACILITIES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        match (&self.address, self.transport) {
            (Some(a), t) if t != Transport::Unix && split_host_port(a).is_none() => {
                e.push(format!("address `{a}`: host:port"));
            }
            (Some(a), Transport::Tls) => {
                if let Some((host, _)) = split_host_port(a) {
                    if ServerName::try_from(host.to_owned()).is_err() {
                        e.push(format!("address `{a}`: `{host}` is not a TLS server name"));
                    }
                }
            }
            (None, Transport::Tls) => e.push("transport tls needs an address (host:port)".into()),
            _ => {}
        }
        if self.ca_file.is_some() && self.transport != Transport::Tls {
            e.push("ca_file is only for transport tls".into());
        }
        if let Some(h) = &self.hostname {
            if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| (33..=126).contains(&b)) {
                e.push("hostname: 1 to 255 printable ASCII characters, no spaces".into());
            }
        }
        if self.app_name.is_empty()
            || self.app_name.len() > 48
            || !self.app_name.bytes().all(|b| (33..=126).contains(&b))
        {
            e.push("app_name: 1 to 48 printable ASCII characters, no spaces".into());
        }
        if self.max_size < 480 {
            // Every receiver must take 480 bytes (RFC 5426 §3.2); less would cut every alert.
            e.push("max_size below 480 bytes".into());
        }
        e
    }
}

/// `host:port` → (`host` without IPv6 brackets, port).
fn split_host_port(a: &str) -> Option<(&str, u16)> {
    let (host, port) = a.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}

enum Target {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
    Tls {
        addr: String,
        name: ServerName<'static>,
        connector: tokio_rustls::TlsConnector,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
            Target::Udp(a) => write!(f, "udp:{a}"),
            Target::Tcp(a) => write!(f, "tcp:{a}"),
            Target::Tls { addr, .. } => write!(f, "tls:{addr}"),
        }
    }
}

/// rustls with the ring provider, the public roots and `ca_file`'s certificates.
fn tls_connector(ca_file: Option<&str>) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("ca_file `{path}`: {e}"))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("ca_file `{path}`: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file `{path}`: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("ca_file `{path}`: no certificate in it"));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Octet counting (RFC 6587 §3.4.1, RFC 5425 §4.3): `LEN SP MSG`, so a message may hold
/// line breaks.
async fn write_framed<W: AsyncWrite + Unpin>(w: &mut W, lines: &[String]) -> std::io::Result<()> {
    let mut frames = Vec::new();
    for l in lines {
        frames.extend_from_slice(format!("{} ", l.len()).as_bytes());
        frames.extend_from_slice(l.as_bytes());
    }
    w.write_all(&frames).await?;
    w.shutdown().await
}

#[derive(Debug)]
pub struct Syslog {
    target: Target,
    facility: u8,
    payload: Payload,
    hostname: String,
    app_name: String,
    max_size: usize,
    timeout: Duration,
}

/// A header field: printable ASCII without spaces, at most `max` bytes, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn alert_severity(alert: &Value, fallback: Severity) -> Severity {
    text(alert, "/logward/severity")
        .and_then(Severity::parse)
        .unwrap_or(fallback)
}

/// The alerts in a message: itself, or each alert of a digest.
fn alerts(m: &Message) -> Vec<&Value> {
    match m.json.get("alerts").and_then(Value::as_array) {
        Some(list) if m.json.get("digest") == Some(&Value::Bool(true)) => list.iter().collect(),
        _ => vec![&m.json],
    }
}

/// CEF header fields escape `\` and `|`; a line break would end the event.
fn cef_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// CEF extension values escape `\` and `=`, and write line breaks as `\n` / `\r`.
fn cef_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// One alert as a CEF line:
/// `CEF:0|logward|logward|VERSION|rule.id|rule.name|0-10|rt=… src=… suser=… msg=…`.
pub fn cef(alert: &Value, fallback: Severity) -> String {
    let sev = alert_severity(alert, fallback);
    let mut line = format!(
        "CEF:0|logward|logward|{}|{}|{}|{}|",
        env!("CARGO_PKG_VERSION"),
        cef_header(text(alert, "/rule/id").unwrap_or("alert")),
        cef_header(
            text(alert, "/rule/name")
                .or(text(alert, "/rule/id"))
                .unwrap_or("alert")
        ),
        cef_severity(sev),
    );
    let mut ext: Vec<(&str, String)> = Vec::new();
    if let Some(t) =
        text(alert, "/@timestamp").and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    {
        ext.push(("rt", t.timestamp_millis().to_string()));
    }
    let ip = text(alert, "/source/ip");
    if let Some(ip) = ip {
        ext.push(("src", ip.to_owned()));
    }
    if let Some(port) = alert.pointer("/source/port").and_then(Value::as_u64) {
        ext.push(("spt", port.to_string()));
    }
    // `src` must be an address; a peer the log names by host name goes to `shost`.
    if let Some(a) = text(alert, "/source/address").filter(|a| Some(*a) != ip) {
        ext.push(("shost", a.to_owned()));
    }
    for (key, pointer) in [
        ("suser", "/user/name"),
        ("duser", "/user/target/name"),
        ("dhost", "/host/name"),
        ("dproc", "/process/name"),
        ("cat", "/event/action"),
        ("outcome", "/event/outcome"),
    ] {
        if let Some(v) = text(alert, pointer) {
            ext.push((key, v.to_owned()));
        }
    }
    let count = alert
        .pointer("/logward/count")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    ext.push(("cnt", count.to_string()));
    if let Some(msg) = text(alert, "/message") {
        ext.push(("msg", msg.to_owned()));
    }
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    line.push_str(&ext.join(" "));
    line
}

/// `body` fitted to `room` bytes; a cut never leaves a lone `\` that would escape the `…`
/// in a CEF value (a cut JSON payload is not JSON any more: max_size is for the receiver).
fn fit_payload(body: &str, room: usize) -> String {
    let fitted = fit(body, room);
    if fitted.len() == body.len() {
        return fitted;
    }
    let kept = fitted.trim_end_matches('…');
    let slashes = kept.len() - kept.trim_end_matches('\\').len();
    if slashes % 2 == 1 {
        format!("{}…", &kept[..kept.len() - 1])
    } else {
        fitted
    }
}

impl Syslog {
    pub fn new(c: &Config, timeout: Duration) -> Result<Syslog, String> {
        let address = c.address.clone();
        let target = match c.transport {
            Transport::Unix => Target::Unix(address.unwrap_or_else(|| "/dev/log".into()).into()),
            Transport::Udp => Target::Udp(address.unwrap_or_else(|| "localhost:514".into())),
            Transport::Tcp => Target::Tcp(address.unwrap_or_else(|| "localhost:514".into())),
            Transport::Tls => {
                let addr = address.ok_or("transport tls needs an address")?;
                let (host, _) =
                    split_host_port(&addr).ok_or_else(|| format!("address `{addr}`: host:port"))?;
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|e| format!("address `{addr}`: {e}"))?;
                Target::Tls {
                    name,
                    connector: tls_connector(c.ca_file.as_deref())?,
                    addr,
                }
            }
        };
        let hostname = c.hostname.clone().unwrap_or_else(crate::host_name);
        Ok(Syslog {
            target,
            facility: facility_code(&c.facility)
                .ok_or_else(|| format!("facility `{}`", c.facility))?,
            payload: c.payload,
            hostname: header_field(&hostname, 255),
            app_name: header_field(&c.app_name, 48),
            max_size: c.max_size,
            timeout,
        })
    }

    /// One RFC 5424 message per alert, `now` as TIMESTAMP.
    pub fn format(&self, m: &Message, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        let timestamp = now.format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let procid = std::process::id();
        alerts(m)
            .into_iter()
            .map(|alert| {
                let sev = alert_severity(alert, m.severity);
                let pri = u16::from(self.facility) * 8 + u16::from(syslog_severity(sev));
                let msgid = header_field(text(alert, "/rule/id").unwrap_or("alert"), 32);
                let header = format!(
                    "<{pri}>1 {timestamp} {} {} {procid} {msgid} [origin software=\"logward\" swVersion=\"{}\"] ",
                    self.hostname,
                    self.app_name,
                    env!("CARGO_PKG_VERSION"),
                );
                let body = match self.payload {
                    Payload::Json => alert.to_string(),
                    Payload::Cef => cef(alert, m.severity),
                };
                let room = self.max_size.saturating_sub(header.len());
                header + &fit_payload(&body, room)
            })
            .collect()
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let lines = self.format(m, chrono::Utc::now());
        let n = lines.len();
        match tokio::time::timeout(self.timeout, self.deliver(lines)).await {
            Ok(Ok(())) => Ok(Sent::new(0, &format!("{n} syslog message(s)"))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SendError::transient(format!(
                "syslog: timed out after {:?}",
                self.timeout
            ))),
        }
    }

    async fn deliver(&self, lines: Vec<String>) -> Result<(), SendError> {
        let io =
            |what: &str, e: std::io::Error| SendError::transient(format!("syslog {what}: {e}"));
        match &self.target {
            Target::Unix(path) => {
                let sock = tokio::net::UnixDatagram::unbound().map_err(|e| io("socket", e))?;
                for l in &lines {
                    sock.send_to(l.as_bytes(), path)
                        .await
                        .map_err(|e| io(&format!("to {}", path.display()), e))?;
                }
            }
            Target::Udp(addr) => {
                let peer = tokio::net::lookup_host(addr.as_str())
                    .await
                    .map_err(|e| io(&format!("address {addr}"), e))?
                    .next()
                    .ok_or_else(|| {
                        SendError::transient(format!("syslog: {addr} has no address"))
                    })?;
                let local = if peer.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock = tokio::net::UdpSocket::bind(local)
                    .await
                    .map_err(|e| io("socket", e))?;
                for l in &lines {
                    sock.send_to(l.as_bytes(), peer)
                        .await
                        .map_err(|e| io(&format!("to {addr}"), e))?;
                }
            }
            Target::Tcp(addr) => {
                let mut stream = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| io(&format!("connect {addr}"), e))?;
                write_framed(&mut stream, &lines)
                    .await
                    .map_err(|e| io(&format!("to {addr}"), e))?;
            }
            Target::Tls {
                addr,
                name,
                connector,
            } => {
                let tcp = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| io(&format!("connect {addr}"), e))?;
                // A certificate the roots do not vouch for may be renewed: transient too.
                let mut stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| io(&format!("TLS with {addr}"), e))?;
                write_framed(&mut stream, &lines)
                    .await
                    .map_err(|e| io(&format!("to {addr}"), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_keeps_escapes_whole() {
        assert_eq!(fit_payload(r"msg=a\\b", 100), r"msg=a\\b");
        // `msg=a\` + `…` is 9 bytes: the cut would end in the first `\` of `\\`.
        assert_eq!(fit_payload(r"msg=a\\bcdef", 9), "msg=a…");
        assert_eq!(fit_payload(r"msg=a\\bcdef", 10), r"msg=a\\…");
    }

    #[test]
    fn cef_escapes_headers_and_extensions() {
        assert_eq!(cef_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(cef_value("a=b\\c\nd|e"), r"a\=b\\c\nd|e");
        assert_eq!(header_field("web 01", 255), "web01");
        assert_eq!(header_field("", 5), "-");
        assert_eq!(facility_code("AUTHPRIV"), Some(10));
        assert_eq!(facility_code("local7"), Some(23));
    }
}
