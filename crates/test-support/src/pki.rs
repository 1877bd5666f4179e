//! Throwaway certificates for TLS tests: a CA and the leaf certificates it signs, written as
//! PEM files (`NAME.pem`, `NAME.key`) into the test's folder. Feature `pki` (rcgen).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// A CA whose certificate is `NAME.pem` in its folder.
pub struct Ca {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).finish()
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

impl Ca {
    /// A new CA with subject CN `cn`, its certificate written as `dir/NAME.pem`.
    pub fn new(dir: &Path, name: &str, cn: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("CA key");
        let cert = p.self_signed(&key).expect("CA certificate");
        write(dir, &format!("{name}.pem"), cert.pem());
        Ca {
            dir: dir.to_owned(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A certificate for `san` with subject CN `cn`, signed by this CA: `NAME.pem` and
    /// `NAME.key` in the CA's folder.
    pub fn leaf(&self, name: &str, san: &str, cn: &str, role: Role) {
        let mut p = CertificateParams::new(vec![san.to_owned()]).expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![match role {
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        let key = KeyPair::generate().expect("leaf key");
        let cert = p.signed_by(&key, &self.issuer).expect("leaf certificate");
        write(&self.dir, &format!("{name}.pem"), cert.pem());
        write(&self.dir, &format!("{name}.key"), key.serialize_pem());
    }
}

fn write(dir: &Path, name: &str, text: String) {
    std::fs::write(dir.join(name), text).expect("write a PEM file");
}
