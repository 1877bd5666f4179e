//! GeoIP and ASN look-ups from MaxMind-format `.mmdb` files (GeoLite2/GeoIP2 City, Country,
//! ASN — what `geoipupdate` keeps fresh), reloaded when a file changes.
//!
//! A database that cannot be opened at start is an error; one that changes into something
//! unreadable later is reported and the last good copy stays in use.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use logward_core::enrich::{As, Geo};
use maxminddb::Reader;
use serde::Deserialize;

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a MaxMind DB file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: database type {kind:?} is neither City, Country nor ASN")]
    Kind { path: PathBuf, kind: String },
    #[error("{0}: no .mmdb file in this folder")]
    Empty(PathBuf),
}

/// What a database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    City,
    Country,
    Asn,
}

#[derive(Debug)]
struct Db {
    path: PathBuf,
    kind: DbKind,
    reader: Reader<Vec<u8>>,
    /// (modification time, length) when read, to notice a replacement.
    stamp: Option<(SystemTime, u64)>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn open_db(path: &Path) -> Result<Db, GeoIpError> {
    let stamp = stamp(path);
    let bytes = std::fs::read(path).map_err(|source| GeoIpError::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader = Reader::from_source(bytes).map_err(|e| GeoIpError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let t = reader.metadata.database_type.to_ascii_lowercase();
    let kind = if t.contains("asn") {
        DbKind::Asn
    } else if t.contains("city") {
        DbKind::City
    } else if t.contains("country") {
        DbKind::Country
    } else {
        return Err(GeoIpError::Kind {
            path: path.to_owned(),
            kind: reader.metadata.database_type.clone(),
        });
    };
    Ok(Db {
        path: path.to_owned(),
        kind,
        reader,
        stamp,
    })
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    accuracy_radius: Option<u32>,
}

#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
    #[serde(borrow)]
    city: Option<City<'a>>,
    location: Option<Location>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// A reload's outcome for one file.
#[derive(Debug)]
pub enum Reload {
    Reloaded(PathBuf),
    /// The file changed but is unusable: the last good copy stays.
    Kept(GeoIpError),
}

/// Answers kept per generation of the cache (two generations: at most twice this).
const CACHE: usize = 8192;

type Answer = (Option<Geo>, Option<As>);

/// Recent answers by address. The same addresses come back again and again (a user's usual
/// address, every failure of a flood), and a hit costs a fraction of a tree walk and decode.
/// Two generations approximate LRU without per-hit bookkeeping: when the young one fills it
/// becomes the old one, and a hit in the old one moves the entry back to the young one. Keys
/// come from attackers, so the maps use std's randomly keyed SipHash.
#[derive(Debug, Default)]
struct Cache {
    young: HashMap<IpAddr, Answer>,
    old: HashMap<IpAddr, Answer>,
    hits: u64,
    misses: u64,
}

impl Cache {
    fn get(&mut self, ip: IpAddr) -> Option<Answer> {
        if let Some(a) = self.young.get(&ip) {
            self.hits += 1;
            return Some(a.clone());
        }
        let a = self.old.remove(&ip)?;
        self.hits += 1;
        self.put(ip, a.clone());
        Some(a)
    }

    fn put(&mut self, ip: IpAddr, a: Answer) {
        if self.young.len() >= CACHE {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(ip, a);
    }

    fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

/// The databases in use.
#[derive(Debug)]
pub struct GeoIp {
    dbs: Vec<Db>,
    cache: Mutex<Cache>,
}

impl GeoIp {
    /// Opens a `.mmdb` file, or every `.mmdb` file in a folder.
    pub fn open(path: &Path) -> Result<GeoIp, GeoIpError> {
        let meta = std::fs::metadata(path).map_err(|source| GeoIpError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut dbs = Vec::new();
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| GeoIpError::Io {
                    path: path.to_owned(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "mmdb"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(GeoIpError::Empty(path.to_owned()));
            }
            for f in files {
                dbs.push(open_db(&f)?);
            }
        } else {
            dbs.push(open_db(path)?);
        }
        // City before Country: the first database with a location answers.
        dbs.sort_by_key(|d| match d.kind {
            DbKind::City => 0,
            DbKind::Country => 1,
            DbKind::Asn => 2,
        });
        Ok(GeoIp {
            dbs,
            cache: Mutex::default(),
        })
    }

    /// The files in use and what each answers.
    pub fn databases(&self) -> Vec<(&Path, DbKind)> {
        self.dbs
            .iter()
            .map(|d| (d.path.as_path(), d.kind))
            .collect()
    }

    /// Re-reads every file whose modification time or size changed.
    pub fn reload_changed(&mut self) -> Vec<Reload> {
        let mut out = Vec::new();
        for db in &mut self.dbs {
            let now = stamp(&db.path);
            if now.is_none() || now == db.stamp {
                continue;
            }
            match open_db(&db.path) {
                Ok(fresh) => {
                    *db = fresh;
                    self.cache
                        .get_mut()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                    out.push(Reload::Reloaded(db.path.clone()));
                }
                Err(e) => {
                    // Do not retry the same broken file on every check.
                    db.stamp = now;
                    out.push(Reload::Kept(e));
                }
            }
        }
        out
    }

    /// Cache hits and misses so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        let c = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (c.hits, c.misses)
    }

    /// The location and AS of `ip` (`None` where no database knows it).
    pub fn lookup(&self, ip: IpAddr) -> (Option<Geo>, Option<As>) {
        let lock = || self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut cache = lock();
            if let Some(a) = cache.get(ip) {
                return a;
            }
            cache.misses += 1;
        }
        // Not under the lock: other threads' look-ups go on meanwhile.
        let a = self.lookup_uncached(ip);
        lock().put(ip, a.clone());
        a
    }

    fn lookup_uncached(&self, ip: IpAddr) -> Answer {
        let mut geo: Option<Geo> = None;
        let mut asn: Option<As> = None;
        for db in &self.dbs {
            // A tree walk only where the answer is still missing.
            let wanted = match db.kind {
                DbKind::City | DbKind::Country => geo.is_none(),
                DbKind::Asn => asn.is_none(),
            };
            if !wanted {
                continue;
            }
            let Ok(found) = db.reader.lookup(ip) else {
                continue;
            };
            match db.kind {
                DbKind::City | DbKind::Country if geo.is_none() => {
                    if let Ok(Some(r)) = found.decode::<CityRecord<'_>>() {
                        let g = city_geo(r);
                        if !g.is_empty() {
                            geo = Some(g);
                        }
                    }
                }
                DbKind::Asn if asn.is_none() => {
                    if let Ok(Some(r)) = found.decode::<AsnRecord<'_>>() {
                        if let Some(number) = r.autonomous_system_number {
                            asn = Some(As {
                                number,
                                organization: r.autonomous_system_organization.map(str::to_owned),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        (geo, asn)
    }
}

fn city_geo(r: CityRecord<'_>) -> Geo {
    // The country of the address, else the country it is registered in.
    let country = r.country.or(r.registered_country);
    let location = r.location.as_ref().and_then(|l| {
        let (lat, lon) = (l.latitude?, l.longitude?);
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    });
    Geo {
        country_iso_code: country.as_ref().and_then(|c| c.iso_code).map(str::to_owned),
        country_name: country
            .as_ref()
            .and_then(|c| c.names.as_ref()?.en)
            .map(str::to_owned),
        city_name: r.city.and_then(|c| c.names?.en).map(str::to_owned),
        location,
        accuracy_radius_km: r.location.and_then(|l| l.accuracy_radius),
    }
}
