//! Enrichment, before the engine: GeoIP and ASN from `.mmdb` files, DNSBL look-ups.

pub use geoip::{DbKind, GeoIp, GeoIpError, Reload};
pub mod dnsbl;
pub mod geoip;

pub use dnsbl::Dnsbl;
