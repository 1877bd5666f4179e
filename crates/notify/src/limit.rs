//! Per-notifier rate limits: sliding windows (`20/1m`; Feishu has two, `5/1s` and `100/1m`).
//!
//! A send is allowed when every window has room. The delivery worker asks how many sends fit
//! now ([`Limiter::room`]) and, when fewer than the messages waiting, folds the excess into
//! digests instead of dropping or queueing them without end.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `count` sends per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }
    pub const fn per_second(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(1))
    }
    pub const fn per_minute(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(60))
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `20/1m`, `5/1s`, `100/60s`, `1/500ms`.
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("`{s}` is not a rate: write COUNT/DURATION, e.g. 20/1m or 5/1s");
        let (n, d) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let d = d.trim();
        let per = logward_core::duration::parse_duration(d).ok_or_else(bad)?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: a rate needs a count and a duration above zero"
            ));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.per.as_millis();
        if ms % 1000 == 0 {
            write!(f, "{}/{}s", self.count, ms / 1000)
        } else {
            write!(f, "{}/{}ms", self.count, ms)
        }
    }
}

impl schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`COUNT/PERIOD`: `20/1m`, `10/1s`, `100/1h`.",
            "type": "string",
            "pattern": "^\\s*[0-9]+\\s*/\\s*[0-9]+\\s*[a-z]*\\s*$",
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The sends of the last window of each rate.
#[derive(Debug, Clone)]
pub struct Limiter {
    windows: Vec<(Rate, VecDeque<Instant>)>,
}

impl Limiter {
    pub fn new(rates: &[Rate]) -> Limiter {
        Limiter {
            windows: rates.iter().map(|r| (*r, VecDeque::new())).collect(),
        }
    }

    fn expire(&mut self, now: Instant) {
        for (rate, sent) in &mut self.windows {
            while sent
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= rate.per)
            {
                sent.pop_front();
            }
        }
    }

    /// How many sends every window allows now.
    pub fn room(&mut self, now: Instant) -> u32 {
        self.expire(now);
        self.windows
            .iter()
            .map(|(r, sent)| r.count.saturating_sub(sent.len() as u32))
            .min()
            .unwrap_or(u32::MAX)
    }

    /// How long until one more send fits (zero when one fits now).
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.expire(now);
        self.windows
            .iter()
            .filter(|(r, sent)| sent.len() as u32 >= r.count)
            .filter_map(|(r, sent)| {
                sent.front()
                    .map(|&t| (t + r.per).saturating_duration_since(now))
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Counts one send at `now`.
    pub fn record(&mut self, now: Instant) {
        for (_, sent) in &mut self.windows {
            sent.push_back(now);
        }
    }

    /// Counts the window as full until `until` (the service said slow down).
    pub fn block_until(&mut self, now: Instant, until: Instant) {
        for (rate, sent) in &mut self.windows {
            sent.clear();
            // `count` sends at a time such that the oldest leaves the window at `until`.
            let at = until.checked_sub(rate.per).unwrap_or(now);
            sent.extend(std::iter::repeat_n(at, rate.count as usize));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("20/1m".parse::<Rate>(), Ok(Rate::per_minute(20)));
        assert_eq!("5/1s".parse::<Rate>(), Ok(Rate::per_second(5)));
        assert_eq!(
            "1/500ms".parse::<Rate>(),
            Ok(Rate::new(1, Duration::from_millis(500)))
        );
        assert_eq!("100/60".parse::<Rate>(), Ok(Rate::per_minute(100)));
        for bad in ["", "20", "0/1m", "20/0s", "x/1m", "20/1y", "-1/1m"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(Rate::per_minute(20).to_string(), "20/60s");
    }

    #[test]
    fn every_window_must_have_room() {
        let t0 = Instant::now();
        let mut l = Limiter::new(&[Rate::per_second(5), Rate::per_minute(7)]);
        assert_eq!(l.room(t0), 5);
        for _ in 0..5 {
            l.record(t0);
        }
        assert_eq!(l.room(t0), 0);
        assert_eq!(l.wait(t0), Duration::from_secs(1));
        let t1 = t0 + Duration::from_secs(1);
        // The second window has 2 left.
        assert_eq!(l.room(t1), 2);
        l.record(t1);
        l.record(t1);
        assert_eq!(l.room(t1), 0);
        assert_eq!(l.wait(t1), Duration::from_secs(59));
        assert_eq!(l.room(t0 + Duration::from_secs(60)), 5);
    }

    #[test]
    fn blocked_by_the_service() {
        let t0 = Instant::now();
        let mut l = Limiter::new(&[Rate::per_minute(20)]);
        l.block_until(t0, t0 + Duration::from_secs(30));
        assert_eq!(l.room(t0), 0);
        assert_eq!(l.wait(t0), Duration::from_secs(30));
        assert_eq!(l.room(t0 + Duration::from_secs(30)), 20);
    }
}
