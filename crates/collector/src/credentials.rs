//! systemd credentials for the TLS files. The unit hands the root-only key (and the
//! certificate) to the unprivileged service with `LoadCredential=key.pem:…`; systemd then
//! sets `$CREDENTIALS_DIRECTORY`. So one config — `tls: {cert: collector/cert.pem, key:
//! collector/key.pem}`, what `gen-cert --out /etc/logward/collector` writes — works both by
//! hand (as root) and under the unit, where the file of the same name in that directory is
//! read instead.

use std::path::{Path, PathBuf};

/// `$CREDENTIALS_DIRECTORY/<file name of path>` when systemd passed a credential of that
/// name, else `path` itself.
pub fn or_credential(path: &Path) -> PathBuf {
    from_dir(
        std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        path,
    )
}

fn from_dir(dir: Option<PathBuf>, path: &Path) -> PathBuf {
    dir.zip(path.file_name())
        .map(|(d, name)| d.join(name))
        .filter(|c| c.is_file())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_credential_of_the_same_name_wins_else_the_configured_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("key.pem"), "k").unwrap();
        let configured = Path::new("/etc/logward/collector/key.pem");
        let creds = Some(d.path().to_path_buf());
        assert_eq!(
            from_dir(creds.clone(), configured),
            d.path().join("key.pem")
        );
        let cert = Path::new("/etc/logward/collector/cert.pem");
        assert_eq!(from_dir(creds, cert), cert, "no such credential");
        assert_eq!(from_dir(None, configured), configured, "not under systemd");
    }
}
