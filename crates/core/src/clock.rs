//! The clock the engine reads time from, injected so tests and replays are deterministic.
//!
//! Live: [`SystemClock`]. Tests: [`ManualClock`], set and advanced by hand. Replays (`logward
//! scan --rules`) use each event's own `@timestamp` as "now".

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use crate::time::Timestamp;

/// A source of the current time.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let (unix, nanos) = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => (-(e.duration().as_secs() as i64), 0),
        };
        Timestamp {
            unix,
            nanos,
            offset: 0,
        }
    }
}

/// The system's Unix time in whole seconds: the one `now` of every process that needs no
/// injected [`Clock`] (checkpoints, token expiry, delivery timers).
pub fn unix_now() -> i64 {
    SystemClock.now().unix
}

/// A clock that only moves when told to. Shareable between threads (atomics), so a test can
/// hold it while the engine reads it.
#[derive(Debug, Default)]
pub struct ManualClock {
    unix: AtomicI64,
    nanos: AtomicU32,
}

impl ManualClock {
    /// A clock stopped at `unix` seconds (UTC).
    pub fn at(unix: i64) -> ManualClock {
        ManualClock {
            unix: AtomicI64::new(unix),
            nanos: AtomicU32::new(0),
        }
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.unix.store(t.unix, Ordering::Relaxed);
        self.nanos.store(t.nanos, Ordering::Relaxed);
    }

    /// Moves the time forward (or back, with a negative count) by whole seconds.
    pub fn advance(&self, secs: i64) {
        self.unix.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp {
            unix: self.unix.load(Ordering::Relaxed),
            nanos: self.nanos.load(Ordering::Relaxed),
            offset: 0,
        }
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at(1_000);
        assert_eq!(c.now().unix, 1_000);
        c.advance(60);
        assert_eq!(c.now().unix, 1_060);
        c.set(Timestamp {
            unix: 5,
            nanos: 7,
            offset: 3600,
        });
        assert_eq!((c.now().unix, c.now().nanos, c.now().offset), (5, 7, 0));
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().unix > 1_577_836_800);
        assert!(unix_now() > 1_577_836_800);
    }
}
