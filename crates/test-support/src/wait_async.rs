//! [`crate::wait_for`] for async tests: a blocking poll would stall the runtime that must
//! make the condition true.

use std::time::{Duration, Instant};

/// Polls `f` until it gives a value, and returns it; fails the test after `within`.
pub async fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "condition not met within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
