//! docs/ARCHITECTURE.md's file map stays true: every file git tracks (the fuzz corpus aside)
//! is named exactly once, as a `path` in the first column of the "Files" tables, and every
//! path named there exists. A file added without a row, or a row left behind by a move,
//! fails here instead of going stale.
#![allow(clippy::disallowed_methods)] // asks git which files it tracks

use logward_test_support::skip;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[test]
fn every_tracked_file_is_in_the_file_map_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Ok(out) = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output()
    else {
        skip!("git is not installed");
    };
    if !out.status.success() {
        skip!("not a git checkout (a source tarball)");
    }
    let tracked: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty() && !p.starts_with("fuzz/corpus/"))
        .map(str::to_owned)
        .collect();

    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let files = doc
        .split_once("\n## Files\n")
        .expect("docs/ARCHITECTURE.md has a `## Files` section")
        .1;
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for row in files.lines().filter(|l| l.starts_with("| `")) {
        let path = row[3..].split('`').next().unwrap_or_default();
        *named.entry(path).or_default() += 1;
    }

    let missing: Vec<&String> = tracked
        .iter()
        .filter(|p| !named.contains_key(p.as_str()))
        .collect();
    let twice: Vec<&&str> = named
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| p)
        .collect();
    let gone: Vec<&&str> = named
        .keys()
        .filter(|p| !tracked.iter().any(|t| t == *p))
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty() && gone.is_empty(),
        "docs/ARCHITECTURE.md's file map is out of date:\n  files without a row: {missing:?}\n  \
         rows named twice: {twice:?}\n  rows for files that do not exist: {gone:?}"
    );
}
