//! GeoIP and ASN enrichment against MaxMind's own test databases (../shared/corpus/geoip),
//! checked against the JSON they were built from.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use logward_agent::enrich::{DbKind, GeoIp, GeoIpError, Reload};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A folder with the City and ASN test databases, copied so the test may change them.
fn folder(corpus: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"] {
        std::fs::copy(corpus.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

#[test]
fn cities_countries_coordinates_and_asns_match_maxminds_json() {
    let Some(c) = logward_test_support::corpus("geoip") else {
        return;
    };
    let dir = folder(&c);
    let g = GeoIp::open(dir.path()).unwrap();
    let kinds: Vec<DbKind> = g.databases().iter().map(|d| d.1).collect();
    assert_eq!(kinds, vec![DbKind::City, DbKind::Asn]);

    for (addr, iso, city, lat, lon, radius) in [
        ("81.2.69.142", "GB", "London", 51.5142, -0.0931, 10),
        ("89.160.20.115", "SE", "Linköping", 58.4167, 15.6167, 76),
        ("175.16.199.37", "CN", "Changchun", 43.88, 125.3228, 100),
        ("216.160.83.57", "US", "Milton", 47.2513, -122.3149, 22),
    ] {
        let (geo, _) = g.lookup(ip(addr));
        let geo = geo.unwrap_or_else(|| panic!("{addr} not found"));
        assert_eq!(geo.country_iso_code.as_deref(), Some(iso), "{addr}");
        assert_eq!(geo.city_name.as_deref(), Some(city), "{addr}");
        assert_eq!(geo.location, Some((lat, lon)), "{addr}");
        assert_eq!(geo.accuracy_radius_km, Some(radius), "{addr}");
    }
    let (geo, _) = g.lookup(ip("81.2.69.142"));
    assert_eq!(geo.unwrap().country_name.as_deref(), Some("United Kingdom"));

    let (_, asn) = g.lookup(ip("1.128.0.1"));
    let asn = asn.unwrap();
    assert_eq!(asn.number, 1221);
    assert_eq!(asn.organization.as_deref(), Some("Telstra Pty Ltd"));
    // A network with a number but no organisation in the JSON.
    let (_, asn) = g.lookup(ip("12.81.96.1"));
    assert_eq!(asn.map(|a| (a.number, a.organization)), Some((7018, None)));

    // Unknown everywhere: loopback, documentation space.
    assert_eq!(g.lookup(ip("127.0.0.1")), (None, None));
    assert_eq!(g.lookup(ip("192.0.2.1")), (None, None));
}

#[test]
fn a_single_file_and_ipv6() {
    let Some(c) = logward_test_support::corpus("geoip") else {
        return;
    };
    let g = GeoIp::open(&c.join("GeoIP2-City-Test.mmdb")).unwrap();
    let (geo, asn) = g.lookup(ip("2001:480:10::1"));
    let geo = geo.unwrap();
    assert_eq!(geo.country_iso_code.as_deref(), Some("US"));
    assert_eq!(geo.city_name.as_deref(), Some("San Diego"));
    assert!(asn.is_none());
}

#[test]
fn missing_corrupt_and_foreign_files_are_clear_errors_at_start() {
    let Some(c) = logward_test_support::corpus("geoip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let err = GeoIp::open(&dir.path().join("nope.mmdb")).unwrap_err();
    assert!(matches!(err, GeoIpError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope.mmdb"), "{err}");

    let err = GeoIp::open(dir.path()).unwrap_err();
    assert!(matches!(err, GeoIpError::Empty(_)), "{err}");

    let bad = dir.path().join("bad.mmdb");
    std::fs::write(&bad, b"this is not a database").unwrap();
    let err = GeoIp::open(&bad).unwrap_err();
    assert!(matches!(err, GeoIpError::Format { .. }), "{err}");

    // A database cut in half.
    let whole = std::fs::read(c.join("GeoLite2-City-Test.mmdb")).unwrap();
    std::fs::write(&bad, &whole[..whole.len() / 2]).unwrap();
    assert!(GeoIp::open(&bad).is_err());
}

#[test]
fn a_replaced_database_is_reloaded_and_a_broken_replacement_keeps_the_last_good_one() {
    let Some(c) = logward_test_support::corpus("geoip") else {
        return;
    };
    let dir = folder(&c);
    let city = dir.path().join("GeoLite2-City-Test.mmdb");
    let mut g = GeoIp::open(dir.path()).unwrap();
    assert!(g.reload_changed().is_empty());
    // Only in the GeoIP2 test database, which replaces the GeoLite2 one below.
    assert_eq!(g.lookup(ip("214.78.120.1")).0, None);

    // geoipupdate writes a new file and renames it over the old one.
    let tmp = dir.path().join("tmp");
    std::fs::write(&tmp, b"garbage").unwrap();
    std::fs::rename(&tmp, &city).unwrap();
    let r = g.reload_changed();
    assert!(matches!(r.as_slice(), [Reload::Kept(_)]), "{r:?}");
    let (geo, _) = g.lookup(ip("81.2.69.142"));
    assert_eq!(geo.unwrap().city_name.as_deref(), Some("London"));
    // Not retried until it changes again.
    assert!(g.reload_changed().is_empty());

    // The GeoIP2 City test database instead.
    std::fs::copy(c.join("GeoIP2-City-Test.mmdb"), &tmp).unwrap();
    std::fs::rename(&tmp, &city).unwrap();
    let r = g.reload_changed();
    assert!(matches!(r.as_slice(), [Reload::Reloaded(_)]), "{r:?}");
    let (geo, _) = g.lookup(ip("214.78.120.1"));
    assert_eq!(geo.unwrap().city_name.as_deref(), Some("San Diego"));
}

#[test]
fn repeated_look_ups_are_answered_from_the_cache_with_the_same_answer() {
    let Some(c) = logward_test_support::corpus("geoip") else {
        return;
    };
    let g = GeoIp::open(&c).unwrap();
    let first = g.lookup(ip("89.160.20.112"));
    assert_eq!(g.cache_stats(), (0, 1));
    for _ in 0..3 {
        assert_eq!(g.lookup(ip("89.160.20.112")), first);
    }
    assert_eq!(g.cache_stats(), (3, 1));
    assert_eq!(
        first.0.unwrap().city_name.as_deref(),
        Some("Linköping"),
        "the corpus' JSON names Linköping for this network"
    );
    // An address no database knows is cached too (a flood from it costs one walk).
    assert_eq!(g.lookup(ip("10.1.2.3")), (None, None));
    assert_eq!(g.lookup(ip("10.1.2.3")), (None, None));
    assert_eq!(g.cache_stats(), (4, 2));
}
