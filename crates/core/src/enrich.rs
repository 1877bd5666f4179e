//! What enrichment adds to an event with a source address: `source.geo.*` and `source.as.*`
//! from MaxMind-format databases, `logward.dnsbl.*` from DNS blocklists.

/// `source.geo.*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// `source.geo.country_iso_code`.
    pub country_iso_code: Option<String>,
    /// `source.geo.country_name` (English).
    pub country_name: Option<String>,
    /// `source.geo.city_name` (English).
    pub city_name: Option<String>,
    /// `source.geo.location`: latitude, longitude.
    pub location: Option<(f64, f64)>,
    /// `source.geo.accuracy_radius_km` (MaxMind's accuracy radius).
    pub accuracy_radius_km: Option<u32>,
}

impl Geo {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self == &Geo::default()
    }
}

/// `source.as.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct As {
    /// `source.as.number`.
    pub number: u32,
    /// `source.as.organization.name`.
    pub organization: Option<String>,
}

/// Everything enrichment found for one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    pub geo: Option<Geo>,
    pub asn: Option<As>,
    /// `logward.dnsbl.zones`: the zones that list the source address (`logward.dnsbl.count`
    /// is their number); `None`: not looked up.
    pub dnsbl: Option<Vec<String>>,
}
