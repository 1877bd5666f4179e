//! Skipping a test that this host cannot run (no root, no `nft`, no chromium, no corpus): it
//! says so on stderr, `SKIPPED: <test>: <why>`, so a green run that ran nothing is visible;
//! under `CI=true` the same absence is a failure, so CI can never pass by skipping.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;

/// Whether this is a CI run (`CI=true`), where every prerequisite must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Reports that the running test is skipped because of `why`: prints
/// `SKIPPED: <test>: <why>` to stderr, or fails the test under `CI=true`. The caller returns;
/// [`skip!`](crate::skip!) does both.
pub fn skipped(why: impl Display) {
    let thread = std::thread::current();
    // libtest runs each test on a thread named after it.
    let test = thread.name().unwrap_or("?");
    assert!(!in_ci(), "{test}: {why}; CI=true, so this is a failure");
    // Straight to stderr, not `eprintln!`: libtest captures that for a passing test, and a
    // skip must show in a plain `cargo test`.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
}

/// Skips the running test: `skip!("nft is not installed")` prints
/// `SKIPPED: <test>: <why>` (a failure under `CI=true`) and returns the function's default
/// value (`()`, `None`, `false`).
#[macro_export]
macro_rules! skip {
    ($($why:tt)+) => {{
        $crate::skipped(::std::format_args!($($why)+));
        return ::std::default::Default::default();
    }};
}

/// The shared corpus (`../shared/corpus` beside the workspace) or its folder `sub` ("" for
/// the corpus itself); `None` after [`skipped`] when it is absent.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let root = corpus_root();
    let dir = if sub.is_empty() { root } else { root.join(sub) };
    if dir.is_dir() {
        return Some(dir);
    }
    skipped(format_args!("no shared corpus at {}", dir.display()));
    None
}

/// Where the shared corpus is expected, whether or not it is there (for a test where it is
/// optional).
pub fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_something() -> Option<u8> {
        crate::skip!("{} is not here", "something");
    }

    #[test]
    fn skip_returns_the_default_and_fails_under_ci() {
        let r = std::panic::catch_unwind(needs_something);
        if in_ci() {
            assert!(r.is_err(), "a skip under CI=true is a failure");
        } else {
            assert_eq!(r.ok(), Some(None));
        }
    }
}
