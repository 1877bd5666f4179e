//! The audit source: auditd's log (`/var/log/audit/audit.log` by default), followed as a
//! file source is — the same reader, rotation handling (auditd rotates by renaming to
//! `audit.log.1`, `.2` … and creating a new file) and checkpoints — for its records, which
//! `logward_parse::LineDecoder` recognises by their `type=`/`node=` start and joins by serial
//! (docs/EVENTS.md, "auditd"). A type of its own so a config says what it follows, and so the
//! built-in default can add it where auditd runs.
//!
//! A restart between an exec's SYSCALL line and its EXECVE line (the checkpoint falls
//! between them) reports the exec from the EXECVE alone, without the user the SYSCALL named.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::file::FileConfig;
use super::StartAt;

/// Where auditd writes by default (`log_file` in auditd.conf).
pub const DEFAULT_PATH: &str = "/var/log/audit/audit.log";

fn default_path() -> PathBuf {
    PathBuf::from(DEFAULT_PATH)
}

/// `{type: audit}` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// auditd's log file (default `/var/log/audit/audit.log`).
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// Where a file without a checkpoint starts: `end` (default) or `beginning`.
    #[serde(default)]
    pub start_at: StartAt,
    /// A stable id for the checkpoint (default: the path).
    #[serde(default)]
    pub id: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            path: default_path(),
            start_at: StartAt::End,
            id: None,
        }
    }
}

impl AuditConfig {
    /// The source id: `id`, else the path.
    pub fn source_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| self.path.to_string_lossy().into_owned())
    }

    /// The file source that follows it.
    pub fn file_config(&self) -> FileConfig {
        let mut c = FileConfig::new(self.path.clone());
        c.id = Arc::from(self.source_id().as_str());
        c.start_at = self.start_at;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_auditds_log() {
        let c: AuditConfig = serde_saphyr::from_str("{}").unwrap();
        assert_eq!(c, AuditConfig::default());
        let f = c.file_config();
        assert_eq!(f.path, PathBuf::from(DEFAULT_PATH));
        assert_eq!(&*f.id, DEFAULT_PATH);
        assert_eq!(f.start_at, StartAt::End);
        let c: AuditConfig =
            serde_saphyr::from_str("{path: /x/audit.log, start_at: beginning, id: a}").unwrap();
        let f = c.file_config();
        assert_eq!((&*f.id, f.start_at), ("a", StartAt::Beginning));
    }
}
