//! Which inputs a scan reads, and in which order: paths, globs, directories and `-` (stdin);
//! rotations of one log read oldest first (`auth.log.3.gz`, `auth.log.2.gz`, `auth.log.1`,
//! `auth.log`; RHEL dateext `secure-20261108`, `secure-20261115`, `secure`), the names read
//! by [`logward_parse::rotation`], as the agent reads them.

use std::path::{Path, PathBuf};

use logward_parse::rotation::{self, Age, Rotation};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// A path argument that could not be turned into inputs.
#[derive(Debug)]
pub struct InputError {
    pub arg: String,
    pub reason: String,
}

/// Orders files so each log's rotations come oldest first; logs keep the order in which they
/// were first named.
pub fn order_rotations(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut keyed: Vec<(usize, Age<'_>, &PathBuf)> = Vec::with_capacity(files.len());
    let mut groups: Vec<(PathBuf, &str)> = Vec::new();
    for (f, name) in files.iter().zip(&names) {
        let Rotation { base, age, .. } = rotation::split(name);
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        let g = match groups.iter().position(|(d, b)| *d == dir && *b == base) {
            Some(g) => g,
            None => {
                groups.push((dir, base));
                groups.len() - 1
            }
        };
        keyed.push((g, age, f));
    }
    keyed.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| a.2.cmp(b.2)));
    keyed.dedup_by(|a, b| a.2 == b.2);
    keyed.into_iter().map(|(_, _, f)| f.clone()).collect()
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expands the command line's paths. Errors are returned beside the inputs so the other paths
/// are still scanned.
pub fn expand(args: &[String]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(arg);
        let found = if path.is_dir() {
            std::fs::read_dir(&path)
                .map_err(|e| e.to_string())
                .and_then(|entries| {
                    sorted_files(
                        entries.filter_map(|e| e.ok().map(|e| e.path())),
                        "directory has no files",
                    )
                })
        } else if !path.exists() && is_glob(arg) {
            glob::glob(arg)
                .map_err(|e| format!("bad pattern: {e}"))
                .and_then(|paths| {
                    sorted_files(paths.filter_map(Result::ok), "no file matches this pattern")
                })
        } else {
            // Existence and permission problems surface when the file is opened.
            Ok(vec![path])
        };
        match found {
            Ok(found) => files.extend(found),
            Err(reason) => errors.push(InputError {
                arg: arg.clone(),
                reason,
            }),
        }
    }
    inputs.extend(order_rotations(files).into_iter().map(Input::File));
    (inputs, errors)
}

/// The regular files among what a directory or a pattern named, sorted; `none` when there
/// is not one (an argument that names no file is an error, not silence).
fn sorted_files(paths: impl Iterator<Item = PathBuf>, none: &str) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = paths.filter(|p| p.is_file()).collect();
    found.sort();
    if found.is_empty() {
        return Err(none.into());
    }
    Ok(found)
}

/// The system's own auth logs, with their rotations: Debian's `auth.log*`, RHEL's `secure*`.
pub fn system_logs(log_dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(log_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            p.is_file() && (name.starts_with("auth.log") || name.starts_with("secure"))
        })
        .collect();
    found.sort();
    order_rotations(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        order_rotations(v.iter().map(PathBuf::from).collect())
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn debian_rotations_oldest_first() {
        assert_eq!(
            names(&[
                "auth.log",
                "auth.log.1",
                "auth.log.10.gz",
                "auth.log.2.gz",
                "auth.log.3.gz"
            ]),
            [
                "auth.log.10.gz",
                "auth.log.3.gz",
                "auth.log.2.gz",
                "auth.log.1",
                "auth.log"
            ]
        );
    }

    #[test]
    fn rhel_dateext_by_date() {
        assert_eq!(
            names(&[
                "secure",
                "secure-20261115",
                "secure-20261108.gz",
                "secure-20261101"
            ]),
            [
                "secure-20261101",
                "secure-20261108.gz",
                "secure-20261115",
                "secure"
            ]
        );
    }

    #[test]
    fn separate_logs_keep_their_order() {
        assert_eq!(
            names(&[
                "/b/secure",
                "/a/auth.log",
                "/a/auth.log.1",
                "/b/secure-20260101"
            ]),
            [
                "/b/secure-20260101",
                "/b/secure",
                "/a/auth.log.1",
                "/a/auth.log"
            ]
        );
    }
}
