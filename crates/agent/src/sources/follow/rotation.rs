//! Rotation discovery: where a followed path's rotated files are (`NAME.N`, `NAME-DATE`,
//! compressed or not, named by [`logward_parse::rotation`]), oldest first, and which of them
//! is a checkpoint's file (by device and inode) after rotations while the agent was stopped.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use logward_parse::rotation::{rotation_of, Age};

/// A file's device and inode.
pub(crate) fn identity(m: &Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// The directories where rotated files of `path` live: its own, and its target's when it
/// is a symlink.
pub(crate) fn dirs(path: &Path) -> Vec<PathBuf> {
    let parent = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut dirs = vec![parent(path)];
    if let Ok(target) = fs::canonicalize(path) {
        let d = parent(&target);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// A rotated file beside the path.
#[derive(Debug)]
pub(crate) struct Sibling {
    pub(crate) path: PathBuf,
    pub(crate) id: (u64, u64),
    pub(crate) compressed: bool,
    /// Last write, unix seconds.
    pub(crate) modified: i64,
    /// The live file's name it is a rotation of, and its own name (its age is read from
    /// them).
    base: String,
    name: String,
}

impl Sibling {
    fn age(&self) -> Option<Age<'_>> {
        rotation_of(&self.base, &self.name).map(|(age, _)| age)
    }
}

/// `path`'s rotated siblings (compressed or not), oldest first.
pub(crate) fn rotated_siblings(path: &Path) -> Vec<Sibling> {
    let mut names: Vec<OsString> = path.file_name().map(OsString::from).into_iter().collect();
    if let Some(n) = fs::canonicalize(path)
        .ok()
        .and_then(|t| t.file_name().map(OsString::from))
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let mut out: Vec<Sibling> = Vec::new();
    for d in dirs(path) {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            let Some((base, compressed)) = names
                .iter()
                .filter_map(|b| b.to_str())
                .find_map(|base| rotation_of(base, name).map(|(_, c)| (base, c)))
            else {
                continue;
            };
            let Ok(m) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if !m.is_file() || out.iter().any(|s| s.id == identity(&m)) {
                continue;
            }
            out.push(Sibling {
                path: e.path(),
                id: identity(&m),
                compressed,
                modified: m.mtime(),
                base: base.to_owned(),
                name: name.to_owned(),
            });
        }
    }
    out.sort_by(|a, b| a.age().cmp(&b.age()));
    out
}

/// The regular files in `path`'s directories whose device and inode are `id` (a
/// checkpoint's file, under whatever name rotation gave it).
pub(crate) fn find_by_identity(path: &Path, id: (u64, u64)) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for d in dirs(path) {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file() && identity(&m) == id) {
                found.push(e.path());
            }
        }
    }
    found
}

/// The siblings to read after the checkpoint's file `id`, oldest first: those after it in
/// the rotation when it is one of them, else (`None`: it is gone) the uncompressed ones last
/// written in or after the second the checkpoint was taken — they may hold unread records
/// (re-reading one finished in that second beats losing one).
pub(crate) fn newer_than(
    siblings: &[Sibling],
    found: Option<(u64, u64)>,
    updated_at: i64,
) -> Vec<&Sibling> {
    match found {
        Some(id) => {
            let at = siblings.iter().position(|s| s.id == id);
            // Under another name than a rotation's: where it sits in the order is unknown.
            at.map_or_else(Vec::new, |i| siblings[i + 1..].iter().collect())
        }
        None => siblings
            .iter()
            .filter(|s| !s.compressed && s.modified >= updated_at)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_are_found_oldest_first_with_their_identity() {
        let tmp =
            std::env::temp_dir().join(format!("logward-rotation-unit-{}", std::process::id()));
        fs::create_dir_all(&tmp).expect("temp dir");
        for n in [
            "auth.log",
            "auth.log.1",
            "auth.log.10",
            "auth.log.2.gz",
            "auth.log-20261122",
            "auth.log-20261121.xz",
            "auth.log.x",
            "other.1",
        ] {
            fs::write(tmp.join(n), n).expect("write");
        }
        let path = tmp.join("auth.log");
        let s = rotated_siblings(&path);
        let names: Vec<_> = s
            .iter()
            .map(|s| {
                s.path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "auth.log-20261121.xz",
                "auth.log-20261122",
                "auth.log.10",
                "auth.log.2.gz",
                "auth.log.1"
            ]
        );
        assert_eq!(
            s.iter().map(|s| s.compressed).collect::<Vec<_>>(),
            [true, false, false, true, false]
        );
        let ten = identity(&fs::metadata(tmp.join("auth.log.10")).expect("stat"));
        assert_eq!(find_by_identity(&path, ten), [tmp.join("auth.log.10")]);
        let after: Vec<_> = newer_than(&s, Some(ten), 0)
            .iter()
            .map(|s| s.path.clone())
            .collect();
        assert_eq!(after, [tmp.join("auth.log.2.gz"), tmp.join("auth.log.1")]);
        assert_eq!(
            newer_than(&s, None, 0).len(),
            3,
            "gone: the uncompressed ones"
        );
        fs::remove_dir_all(&tmp).expect("clean up");
    }
}
