//! [`StoreError`]: what can go wrong, with the database path and what was being done.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the database itself said, whichever backend: callers print it, never match on it
/// (the [`StoreError`] variant is what they match), so no backend's error type leaks out.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A store failure. The `Display` text names the file and the operation, so the agent can
/// print it once at the edge (`{:#}`) and an operator knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created or is not a directory.
    #[error("cannot use state directory {}: {source}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file exists but is not a database of this backend, or its pages are damaged.
    #[error(
        "{} is not a logward database or is corrupt (move it aside to start with an empty \
         state): {source}",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What the database said.
        source: BackendError,
    },
    /// The database or its directory cannot be created or written by this user.
    #[error(
        "cannot {context} {}: the file or its directory is not writable by this user \
         (or cannot be created): {source}",
        path.display()
    )]
    NotWritable {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// What the database said.
        source: BackendError,
    },
    /// The database was opened read-only by SQLite (the file is not writable for us).
    #[error(
        "{} can only be opened read-only: the file or its directory is not writable by this \
         user",
        path.display()
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// Another process held the database locked longer than the busy timeout.
    #[error(
        "{} is locked by another process (is a second logward agent using this state \
         directory?) while trying to {context}: {source}",
        path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// What the database said.
        source: BackendError,
    },
    /// The database was written by a newer logward (a schema version this one does not know).
    #[error(
        "{} has schema version {found}, newer than this logward supports ({supported}); \
         upgrade logward or use another state directory",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A schema migration failed (the transaction was rolled back; the database is unchanged).
    #[error("{}: schema migration {version} ({name}) failed: {source}", path.display())]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The migration's number.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// What the database said.
        source: BackendError,
    },
    /// Any other database error.
    #[error("{}: cannot {context}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// What the database said.
        source: BackendError,
    },
    /// A value handed to the store (or read back from it) is not valid.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which kind of value.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A row the caller named does not exist.
    #[error("no {what} with id {id}")]
    NotFound {
        /// Which kind of row.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
}

impl StoreError {
    /// Classifies an SQLite error: corrupt file, no write access, busy, or other.
    pub(crate) fn sqlite(path: &Path, context: &'static str, source: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                source: source.into(),
            },
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                StoreError::NotWritable {
                    path,
                    context,
                    source: source.into(),
                }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
                path,
                context,
                source: source.into(),
            },
            _ => StoreError::Database {
                path,
                context,
                source: source.into(),
            },
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// `map_err` helper: `.map_err(sql(path, "read checkpoints"))`.
pub(crate) fn sql<'p>(
    path: &'p Path,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'p {
    move |e| StoreError::sqlite(path, context, e)
}
