//! Waiting on a condition the test can observe (a file, a log line, a port, a count) rather
//! than sleeping a fixed time: as fast as the system allows, and patient on a loaded CI runner.

use std::time::{Duration, Instant};

/// How often a condition is polled.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `what` until it holds (true) or `within` passes (false).
pub fn wait_until(within: Duration, mut what: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if what() {
            return true;
        }
        if t.elapsed() >= within {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `f` until it gives a value, and returns it; fails the test naming `what` after
/// `within`.
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}
