//! The rate limit of `POST /v1/enroll` (docs/COLLECTOR.md "Enrolment"): a token bucket per
//! client address (IPv6 by /64, what one attacker holds) and one for everybody, each
//! refilled per minute. Enrolment is rare: a few agents at a time, not a stream.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Addresses remembered at most; beyond, requests from new addresses are refused until
/// buckets refill (they are then forgotten).
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(per_minute: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: per_minute,
            at: now,
        }
    }

    fn refill(&mut self, per_minute: f64, now: Instant) {
        let minutes = now.duration_since(self.at).as_secs_f64() / 60.0;
        self.tokens = (self.tokens + minutes * per_minute).min(per_minute);
        self.at = now;
    }

    /// Takes a token, or says in how many seconds one is there.
    fn take(&mut self, per_minute: f64, now: Instant) -> Result<(), u64> {
        self.refill(per_minute, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) * 60.0 / per_minute).ceil().max(1.0) as u64)
        }
    }
}

/// Per address and global enrolment buckets.
#[derive(Debug)]
pub struct EnrollLimiter {
    per_address: f64,
    total: f64,
    state: Mutex<(HashMap<IpAddr, Bucket>, Bucket)>,
}

/// The key an address is counted under: itself, or its /64 for IPv6.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::from(o)
            }
        },
        v4 => v4,
    }
}

impl EnrollLimiter {
    pub fn new(per_address_per_minute: u32, total_per_minute: u32) -> EnrollLimiter {
        let (per_address, total) = (
            f64::from(per_address_per_minute.max(1)),
            f64::from(total_per_minute.max(1)),
        );
        EnrollLimiter {
            per_address,
            total,
            state: Mutex::new((HashMap::new(), Bucket::full(total, Instant::now()))),
        }
    }

    /// Whether an enrolment from `peer` may go on now; `Err` is the seconds to wait. The
    /// address's bucket is checked first, so one address cannot drain everybody's.
    pub fn check(&self, peer: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (map, total) = &mut *guard;
        if let Some(ip) = peer {
            let ip = key(ip);
            if !map.contains_key(&ip) && map.len() >= MAX_ADDRESSES {
                let per = self.per_address;
                map.retain(|_, b| {
                    b.refill(per, now);
                    b.tokens < per
                });
                if map.len() >= MAX_ADDRESSES {
                    return Err(60);
                }
            }
            map.entry(ip)
                .or_insert_with(|| Bucket::full(self.per_address, now))
                .take(self.per_address, now)?;
        }
        total.take(self.total, now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn per_address_then_global_and_refill() {
        let l = EnrollLimiter::new(2, 3);
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::2".parse().unwrap();
        assert!(l.check(Some(a), t).is_ok());
        assert!(l.check(Some(a), t).is_ok());
        assert_eq!(l.check(Some(a), t), Err(30));
        assert!(l.check(Some(b), t).is_ok());
        // Same /64: the same bucket; and the global one is empty anyway.
        assert!(l.check(Some(b2), t).is_err());
        let later = t + Duration::from_secs(60);
        assert!(l.check(Some(a), later).is_ok());
    }
}
