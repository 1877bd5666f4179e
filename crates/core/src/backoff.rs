//! Capped exponential backoff, the one used by every retry loop (forwarding, programs run as
//! sources, unreadable files, notifier deliveries, daily reports, login throttling). Pure
//! arithmetic: the callers sleep, and add jitter where many hosts must not retry in step.

use std::time::Duration;

/// Waits of `min`, doubled after each failure up to `max`; [`reset`](Backoff::reset) after a
/// success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub const fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            failures: 0,
        }
    }

    /// The wait before the next attempt; the one after it is twice as long (up to `max`).
    pub fn next_wait(&mut self) -> Duration {
        let d = Backoff::step(self.min, self.max, self.failures);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// Back to `min`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The wait after `n` earlier failures, without state: `min × 2ⁿ`, at most `max`.
    /// Saturates rather than overflowing.
    pub fn step(min: Duration, max: Duration, n: u32) -> Duration {
        min.saturating_mul(2u32.saturating_pow(n.min(30))).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let got: Vec<u128> = (0..5).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_wait().as_millis(), 100);
    }

    #[test]
    fn step_saturates_instead_of_overflowing() {
        let max = Duration::MAX;
        assert_eq!(
            Backoff::step(Duration::from_secs(1), max, 3),
            Duration::from_secs(8)
        );
        assert_eq!(
            Backoff::step(Duration::from_secs(u64::MAX / 2), max, 40),
            max
        );
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        for _ in 0..100 {
            assert!(b.next_wait() <= Duration::from_secs(8));
        }
    }
}
