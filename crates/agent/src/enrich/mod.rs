//! Enrichment, before the engine: GeoIP and ASN from `.mmdb` files, DNSBL look-ups.

pub mod geoip;

pub use geoip::{DbKind, GeoIp, GeoIpError, Reload};
