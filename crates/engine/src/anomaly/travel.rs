//! Distance and speed between two geolocated logins.

/// Mean Earth radius, km.
const EARTH_KM: f64 = 6371.0;

/// Great-circle distance in km between two (latitude, longitude) points (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

/// The speed needed to cover `km` in `seconds`, km/h; at least one minute is assumed, so
/// two logins in the same second are not an infinite speed.
pub fn speed_kmh(km: f64, seconds: i64) -> f64 {
    km / (seconds.max(60) as f64 / 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn london_to_linkoping() {
        // Coordinates from MaxMind's test databases (GeoIP2-City-Test).
        let d = distance_km((51.5142, -0.0931), (58.4167, 15.6167));
        // 1257.7 km by an independent haversine (Python math), ~1,260 km by map.
        assert!((d - 1257.7).abs() < 1.0, "{d}");
        assert_eq!(distance_km((10.0, 20.0), (10.0, 20.0)), 0.0);
        assert!((speed_kmh(1000.0, 3600) - 1000.0).abs() < 1e-9);
        assert!((speed_kmh(10.0, 0) - 600.0).abs() < 1e-9);
    }
}
