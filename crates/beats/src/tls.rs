//! The listener's TLS: rustls with ring, the Beats' `ssl.certificate` checked against a CA
//! when configured, and the client certificate's subject CN for the batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// Whether clients must present a certificate signed by `ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificates asked for.
    Off,
    /// Asked for; a client without one is served (`client_cn` is `None`), one with a
    /// certificate `ca` did not sign is refused.
    Optional { ca: PathBuf },
    /// A client without a certificate signed by `ca` is refused.
    Required { ca: PathBuf },
}

/// The server's certificate chain and key (PEM files) and the client certificate policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_auth: ClientAuth,
}

fn err(path: &Path, e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Tls(format!("{}: {e}", path.display()))
}

/// Builds the acceptor (files read now: a bad path fails at bind, not at the first client).
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, crate::Error> {
    let certs = CertificateDer::pem_file_iter(&cfg.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| err(&cfg.cert, e))?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| err(&cfg.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Tls(e.to_string()))?;
    let builder = match &cfg.client_auth {
        ClientAuth::Off => builder.with_no_client_auth(),
        ClientAuth::Optional { ca } | ClientAuth::Required { ca } => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| err(ca, e))?;
            if cas.is_empty() {
                return Err(err(ca, "no certificate in the file"));
            }
            for c in cas {
                roots.add(c).map_err(|e| err(ca, e))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = match cfg.client_auth {
                ClientAuth::Optional { .. } => v.allow_unauthenticated(),
                _ => v,
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| err(ca, e))?)
        }
    };
    let sc = builder
        .with_single_cert(certs, key)
        .map_err(|e| err(&cfg.cert, e))?;
    Ok(TlsAcceptor::from(Arc::new(sc)))
}

/// The subject common name of a DER certificate (the first CN if there are several),
/// `None` when it has none or it is not text.
pub fn subject_cn(cert: &[u8]) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serial,
    // signature, issuer, validity, subject, ... }, ... }
    let (_, cert, _) = der(cert, 0x30)?;
    let (_, mut tbs, _) = der(cert, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = der(tbs, 0xa0)?.2;
    }
    let (_, _, rest) = der(tbs, 0x02)?; // serial
    let (_, _, rest) = der(rest, 0x30)?; // signature algorithm
    let (_, _, rest) = der(rest, 0x30)?; // issuer
    let (_, _, rest) = der(rest, 0x30)?; // validity
    let (_, mut rdns, _) = der(rest, 0x30)?; // subject
    const CN: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
    while !rdns.is_empty() {
        let (_, mut set, next) = der(rdns, 0x31)?;
        rdns = next;
        while !set.is_empty() {
            let (_, atv, next) = der(set, 0x30)?;
            set = next;
            let (_, oid, value) = der(atv, 0x06)?;
            if oid != CN {
                continue;
            }
            let (tag, text, _) = any(value)?;
            // UTF8String, PrintableString, TeletexString (taken if UTF-8), IA5String.
            if matches!(tag, 0x0c | 0x13 | 0x14 | 0x16) {
                return std::str::from_utf8(text).ok().map(str::to_owned);
            }
            return None;
        }
    }
    None
}

/// The DER element at the front of `b` if its tag is `tag`: (tag, contents, what follows).
fn der(b: &[u8], tag: u8) -> Option<(u8, &[u8], &[u8])> {
    let e = any(b)?;
    (e.0 == tag).then_some(e)
}

fn any(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, b) = b.split_first()?;
    let (len, b) = if first < 0x80 {
        (first as usize, b)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | x as usize);
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_cn_of_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "logward tests");
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "winlogbeat-dc01");
        let cert = p.self_signed(&key).unwrap();
        assert_eq!(subject_cn(cert.der()).as_deref(), Some("winlogbeat-dc01"));
        let p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let mut p2 = p;
        p2.distinguished_name = rcgen::DistinguishedName::new();
        let cert = p2.self_signed(&key).unwrap();
        assert_eq!(subject_cn(cert.der()), None);
        assert_eq!(subject_cn(b"\x30\x84\xff\xff\xff\xff"), None);
    }
}
