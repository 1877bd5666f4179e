//! Writing to a file a daemon follows.

use std::io::Write;
use std::path::Path;

/// Appends `text` as it is (the caller ends its lines) to the existing file at `path`, as
/// a logger would: the follower sees it grow.
pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
