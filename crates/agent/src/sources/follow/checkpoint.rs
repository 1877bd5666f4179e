//! Checkpointing: where a followed file is resumed. A checkpoint names its file by device,
//! inode and fingerprint; when the path holds another file after a restart, the
//! checkpoint's file is looked for among the path's rotated siblings ([`locate`]), to be
//! drained from the offset before the newer rotations and the file at the path.

use std::fs::File;
use std::path::{Path, PathBuf};

use logward_store::{Checkpoint, Fingerprint};

use super::fingerprint::read_head;
use super::rotation::{self, Sibling};

/// A checkpoint's file and position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) fp: Option<Fingerprint>,
    pub(crate) offset: u64,
    /// Lines (records) read from that file.
    pub(crate) line: u64,
    /// When the checkpoint was taken (unix seconds).
    pub(crate) updated_at: i64,
}

impl Position {
    /// The position a checkpoint names; `None` when it names no file.
    pub(crate) fn of(c: &Checkpoint) -> Option<Position> {
        Some(Position {
            dev: c.device?,
            ino: c.inode?,
            fp: c.fingerprint,
            offset: c.offset,
            line: c.line,
            updated_at: c.updated_at,
        })
    }

    pub(crate) fn id(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    /// Whether `file` (open, `len` bytes long) is still the checkpoint's: same first bytes,
    /// and at least as long as the offset.
    pub(crate) fn matches(&self, file: &File, len: u64) -> bool {
        let same = match self.fp {
            Some(fp) => read_head(file).is_ok_and(|h| fp.matches(&h)),
            None => true,
        };
        same && len >= self.offset
    }
}

/// Where a checkpoint's file went after the path was given another file.
#[derive(Debug)]
pub(crate) struct Located {
    /// The checkpoint's file under its rotated name, to drain from the offset (`None`: gone,
    /// deleted or compressed — the records written to it after the checkpoint are lost).
    pub(crate) found: Option<PathBuf>,
    /// The rotated files to read from their start after it, oldest first (compressed ones
    /// included: they cannot be read, the caller says so).
    pub(crate) newer: Vec<Sibling>,
    /// Compressed rotations beside the path (where a gone file may have ended up).
    pub(crate) compressed: Vec<PathBuf>,
}

/// Looks for the checkpoint's file among `path`'s rotated siblings (by device + inode, then
/// fingerprint and length).
pub(crate) fn locate(path: &Path, pos: &Position) -> Located {
    let siblings = rotation::rotated_siblings(path);
    let found = rotation::find_by_identity(path, pos.id())
        .into_iter()
        .find(|p| {
            File::open(p).is_ok_and(|f| {
                f.metadata()
                    .is_ok_and(|m| m.is_file() && pos.matches(&f, m.len()))
            })
        });
    let ids: Vec<(u64, u64)> =
        rotation::newer_than(&siblings, found.as_ref().map(|_| pos.id()), pos.updated_at)
            .iter()
            .map(|s| s.id)
            .collect();
    let compressed = siblings
        .iter()
        .filter(|s| s.compressed)
        .map(|s| s.path.clone())
        .collect();
    let newer = siblings
        .into_iter()
        .filter(|s| ids.contains(&s.id))
        .collect();
    Located {
        found,
        newer,
        compressed,
    }
}

/// Logs that the checkpoint's file is gone (WARN): what was written to it after the
/// checkpoint is lost, unless it is one of the `compressed` rotations (unreadable too).
pub(crate) fn warn_gone(source: &str, path: &Path, pos: &Position, compressed: &[PathBuf]) {
    if compressed.is_empty() {
        tracing::warn!(
            source,
            path = %path.display(),
            inode = pos.ino,
            "the checkpoint's file is gone: lines written to it after the checkpoint are lost"
        );
    } else {
        let compressed: Vec<String> = compressed.iter().map(|p| p.display().to_string()).collect();
        tracing::warn!(
            source,
            path = %path.display(),
            inode = pos.ino,
            compressed = %compressed.join(", "),
            "the checkpoint's file is not among the uncompressed rotations; if it was \
             compressed, its lines after the checkpoint cannot be read and are lost"
        );
    }
}
