//! `enrich:` (GeoIP/ASN databases, DNSBL zones) and `anomaly:` (the login anomaly
//! detector), as written and checked (docs/ANOMALY.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use logward_core::duration::parse_duration;

use super::{at, ConfigError};
use crate::enrich::dnsbl;

/// `enrich:` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// A `.mmdb` file or a folder of them (GeoLite2/GeoIP2 City or Country, and ASN).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub geoip: Option<Spanned<String>>,
    #[serde(default)]
    pub dnsbl: Option<DnsblConfig>,
}

/// `enrich.dnsbl` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsblConfig {
    /// Zones asked for the address of each successful login; none: DNSBL is off.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub zones: Vec<Spanned<String>>,
    /// `127.0.0.1:53` …; none: the system's resolvers.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub nameservers: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub per_second: Option<Spanned<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cache_ttl: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub cache_size: Option<Spanned<usize>>,
}

pub use logward_engine::anomaly::config::AnomalyConfig;

/// The checked `enrich:` and `anomaly:` sections.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSetup {
    pub enabled: bool,
    pub settings: logward_engine::anomaly::Settings,
    pub geoip: Option<PathBuf>,
    pub dnsbl: dnsbl::Settings,
}

impl Default for DetectorSetup {
    fn default() -> DetectorSetup {
        DetectorSetup {
            enabled: true,
            settings: logward_engine::anomaly::Settings::default(),
            geoip: None,
            dnsbl: dnsbl::Settings::default(),
        }
    }
}

fn interval(
    file: &str,
    v: &Option<Spanned<String>>,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    let v = v.as_ref()?;
    match parse_duration(&v.value) {
        Some(d) if !d.is_zero() => Some(d),
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

/// Checks both sections (each from the file that last set it; `None`: not set).
pub fn check(
    enrich: Option<(String, EnrichConfig, PathBuf)>,
    anomaly: Option<(String, AnomalyConfig)>,
    errors: &mut Vec<ConfigError>,
) -> DetectorSetup {
    let mut out = DetectorSetup::default();
    if let Some((file, a)) = anomaly {
        let (enabled, settings, problems) = a.check();
        out.enabled = enabled;
        out.settings = settings;
        for (line, column, message) in problems {
            errors.push(super::err(&file, line, column, message));
        }
    }
    if let Some((file, e, base)) = enrich {
        out.geoip = e.geoip.as_ref().map(|g| resolve(&base, &g.value));
        if let Some(g) = &e.geoip {
            if g.value.is_empty() {
                errors.push(at(&file, g, "`geoip` is empty".into()));
            }
        }
        if let Some(d) = e.dnsbl {
            let s = &mut out.dnsbl;
            for z in &d.zones {
                let zone = z.value.trim().trim_end_matches('.');
                if zone.is_empty() || zone.contains(char::is_whitespace) || !zone.contains('.') {
                    errors.push(at(&file, z, format!("`{}` is not a DNS zone", z.value)));
                } else {
                    s.zones.push(zone.to_ascii_lowercase());
                }
            }
            for n in &d.nameservers {
                match n.value.parse::<SocketAddr>() {
                    Ok(a) => s.nameservers.push(a),
                    Err(_) => match n.value.parse::<std::net::IpAddr>() {
                        Ok(ip) => s.nameservers.push(SocketAddr::new(ip, 53)),
                        Err(_) => errors.push(at(
                            &file,
                            n,
                            format!("`{}` is not an address (127.0.0.1:53, [::1]:53)", n.value),
                        )),
                    },
                }
            }
            if let Some(t) = interval(&file, &d.timeout, errors) {
                s.timeout = t;
            }
            if let Some(t) = interval(&file, &d.cache_ttl, errors) {
                s.cache_ttl = t;
            }
            for (v, into, what) in [
                (&d.concurrency, &mut s.concurrency, "concurrency"),
                (&d.cache_size, &mut s.cache_size, "cache_size"),
            ] {
                if let Some(v) = v {
                    if v.value == 0 {
                        errors.push(at(&file, v, format!("`{what}` must be at least 1")));
                    } else {
                        *into = v.value;
                    }
                }
            }
            if let Some(v) = &d.per_second {
                if v.value == 0 {
                    errors.push(at(&file, v, "`per_second` must be at least 1".into()));
                } else {
                    s.per_second = v.value;
                }
            }
        }
    }
    out
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_relative() {
        base.join(p)
    } else {
        p
    }
}
