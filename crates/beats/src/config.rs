//! The listener's settings as a config file writes them — the agent's `type: beats` source
//! and the collector's `beats:` take the same keys:
//!
//! ```yaml
//! listen: 0.0.0.0:5044          # Beats' output.logstash.hosts
//! tls:                          # required off loopback (or `disabled: true`)
//!   cert: beats.crt
//!   key: beats.key
//!   client_ca: beats-ca.crt     # Beats' ssl.certificate checked against it
//!   client_certs: required      # or optional (default: required when client_ca is set)
//! max_connections: 256
//! limits: {max_window: 16384, max_frame_bytes: 8388608, max_inflated_bytes: 33554432,
//!          max_window_bytes: 33554432}
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::codec::Limits;
use crate::server::Config;
use crate::tls::{ClientAuth, TlsConfig};

/// The settings under `beats:` (collector) or in a `type: beats` source (agent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeatsFile {
    /// `address:port` to listen on (Logstash's port is 5044).
    pub listen: String,
    /// TLS: required when `listen` is not a loopback address (`disabled: true` to refuse
    /// it knowingly).
    #[serde(default)]
    pub tls: Option<BeatsTls>,
    /// Connections served at once (default 256); more are refused and counted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The frame reader's bounds.
    #[serde(default)]
    pub limits: LimitsFile,
}

fn default_max_connections() -> usize {
    256
}

/// `tls:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeatsTls {
    /// The listener's certificate chain (PEM).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The CA that signs the Beats' client certificates (their `ssl.certificate`).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// `required` (default with `client_ca`) or `optional`.
    #[serde(default)]
    pub client_certs: Option<ClientCerts>,
    /// Plain TCP off loopback, said on purpose.
    #[serde(default)]
    pub disabled: bool,
}

/// `tls.client_certs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientCerts {
    /// A Beat without a certificate signed by `client_ca` is refused.
    Required,
    /// A Beat without a certificate is served (identified by its address); one with a
    /// certificate `client_ca` did not sign is refused.
    Optional,
}

/// `limits:` (the defaults of [`Limits`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// The most events one window may announce.
    pub max_window: u32,
    /// The largest frame on the wire (a compressed frame holds a whole window).
    pub max_frame_bytes: u32,
    /// The most one compressed frame may inflate to.
    pub max_inflated_bytes: u32,
    /// The most bytes of event JSON one window may hold.
    pub max_window_bytes: u32,
}

impl Default for LimitsFile {
    fn default() -> LimitsFile {
        let l = Limits::default();
        LimitsFile {
            max_window: l.max_window,
            max_frame_bytes: l.max_frame_bytes,
            max_inflated_bytes: l.max_inflated_bytes,
            max_window_bytes: l.max_window_bytes,
        }
    }
}

impl BeatsFile {
    /// Makes its relative paths relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(t) = &mut self.tls {
            for p in [&mut t.cert, &mut t.key, &mut t.client_ca]
                .into_iter()
                .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
    }

    /// The server's [`Config`]; relative paths are relative to `base` (the config file's
    /// folder). `Err` lists every problem, each naming its key.
    pub fn check(&self, base: &Path) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                errors.push(format!("listen: {:?} is not an address:port", self.listen));
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        };
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let mut cfg = Config::new(listen);
        match &self.tls {
            None if !listen.ip().is_loopback() => errors.push(format!(
                "tls: {listen} is not a loopback address: give `tls: {{cert, key}}` \
                 (and `client_ca` to require the Beats' certificates), or `disabled: true`"
            )),
            None => {}
            Some(t)
                if t.disabled && (t.cert.is_some() || t.key.is_some() || t.client_ca.is_some()) =>
            {
                errors.push("tls: `disabled: true` takes no files".into());
            }
            Some(t) if t.disabled => {}
            Some(t) => {
                let client_auth = match (&t.client_ca, t.client_certs) {
                    (None, None) => ClientAuth::Off,
                    (None, Some(_)) => {
                        errors.push("tls.client_certs: needs `client_ca`".into());
                        ClientAuth::Off
                    }
                    (Some(ca), None | Some(ClientCerts::Required)) => {
                        ClientAuth::Required { ca: resolve(ca) }
                    }
                    (Some(ca), Some(ClientCerts::Optional)) => {
                        ClientAuth::Optional { ca: resolve(ca) }
                    }
                };
                match (&t.cert, &t.key) {
                    (Some(c), Some(k)) => {
                        cfg.tls = Some(TlsConfig {
                            cert: resolve(c),
                            key: resolve(k),
                            client_auth,
                        })
                    }
                    _ => errors.push("tls: give both `cert` and `key`, or `disabled: true`".into()),
                }
            }
        }
        if self.max_connections == 0 {
            errors.push("max_connections: must be above 0".into());
        }
        cfg.max_connections = self.max_connections;
        let l = &self.limits;
        for (key, v) in [
            ("max_window", l.max_window),
            ("max_frame_bytes", l.max_frame_bytes),
            ("max_inflated_bytes", l.max_inflated_bytes),
            ("max_window_bytes", l.max_window_bytes),
        ] {
            if v == 0 {
                errors.push(format!("limits.{key}: must be above 0"));
            }
        }
        cfg.limits = Limits {
            max_frame_bytes: l.max_frame_bytes,
            max_inflated_bytes: l.max_inflated_bytes,
            max_window: l.max_window,
            max_window_bytes: l.max_window_bytes,
        };
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }
}

impl BeatsFile {
    /// [`Self::check`], and the TLS files read and parsed as the listener will read them, so
    /// `logward check` and start-up name a missing or wrong certificate instead of the
    /// listener never coming up.
    pub fn check_files(&self, base: &Path) -> Result<Config, Vec<String>> {
        let cfg = self.check(base)?;
        if let Some(t) = &cfg.tls {
            match crate::tls::acceptor(t) {
                Ok(_) => {}
                Err(crate::Error::Tls(m)) => return Err(vec![format!("tls: {m}")]),
                Err(e) => return Err(vec![format!("tls: {e}")]),
            }
        }
        Ok(cfg)
    }
}

/// Who sent a batch: the subject CN of its client certificate (verified against
/// `client_ca`) when it presented one, else its address — never what its documents say.
/// The receivers write it as the events' `host.name` (`logward_parse::beats`).
pub fn sender(peer: SocketAddr, client_cn: Option<&str>) -> String {
    match client_cn {
        Some(cn) if !cn.trim().is_empty() => cn.trim().to_owned(),
        _ => peer.ip().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Config, Vec<String>> {
        let f: BeatsFile = serde_json::from_str(yaml).map_err(|e| vec![e.to_string()])?;
        f.check(Path::new("/etc/logward"))
    }

    #[test]
    fn settings_and_their_mistakes() {
        let c = parse(r#"{"listen":"127.0.0.1:5044"}"#).unwrap();
        assert_eq!((c.tls, c.max_connections), (None, 256));
        let c = parse(
            r#"{"listen":"0.0.0.0:5044","tls":{"cert":"b.crt","key":"/k/b.key","client_ca":"ca.crt"}}"#,
        )
        .unwrap();
        let t = c.tls.unwrap();
        assert_eq!(t.cert, Path::new("/etc/logward/b.crt"));
        assert_eq!(t.key, Path::new("/k/b.key"));
        assert_eq!(
            t.client_auth,
            ClientAuth::Required {
                ca: "/etc/logward/ca.crt".into()
            }
        );
        let e = parse(r#"{"listen":"0.0.0.0:5044"}"#).unwrap_err();
        assert!(e[0].starts_with("tls:"), "{e:?}");
        assert!(parse(r#"{"listen":"0.0.0.0:5044","tls":{"disabled":true}}"#).is_ok());
        let e = parse(
            r#"{"listen":"nowhere","tls":{"cert":"c","client_certs":"optional"},"max_connections":0}"#,
        )
        .unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn the_sender_is_the_certificate_else_the_address() {
        let peer: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        assert_eq!(sender(peer, Some("dc01")), "dc01");
        assert_eq!(sender(peer, None), "192.0.2.7");
        assert_eq!(sender(peer, Some(" ")), "192.0.2.7");
    }
}
