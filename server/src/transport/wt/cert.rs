//! WebTransport's certificate: `--tls-cert`/`--tls-key` when given, else a
//! self-signed ECDSA P-256 one valid for 14 days, made at every start (the
//! kind browsers accept through `serverCertificateHashes`).

use crate::error::Error;
use crate::tls::TlsError;
use std::net::IpAddr;
use wtransport::Identity;
use wtransport::tls::{CertificateChain, PrivateKey};

/// Browsers pin a self-signed certificate only if it is valid this long at most.
const SELF_SIGNED_DAYS: u32 = 14;

pub(super) struct Cert {
    pub identity: Identity,
    /// SHA-256 of the leaf certificate, lowercase hex.
    pub hash: String,
    pub self_signed: bool,
}

impl Cert {
    pub async fn new(config: &crate::Config, ip: IpAddr) -> Result<Cert, Error> {
        let (identity, self_signed) = match &config.tls {
            Some(files) => {
                let chain = CertificateChain::load_pemfile(&files.cert)
                    .await
                    .map_err(|e| TlsError::Cert {
                        path: files.cert.clone(),
                        why: e.to_string(),
                    })?;
                let key =
                    PrivateKey::load_pemfile(&files.key)
                        .await
                        .map_err(|e| TlsError::Key {
                            path: files.key.clone(),
                            why: e.to_string(),
                        })?;
                (Identity::new(chain, key), false)
            }
            None => (self_signed(ip)?, true),
        };
        let leaf = identity
            .certificate_chain()
            .as_slice()
            .first()
            .ok_or_else(|| Error::SelfSigned("the certificate chain is empty".into()))?;
        let hash = hex(leaf.hash().as_ref());
        Ok(Cert {
            identity,
            hash,
            self_signed,
        })
    }
}

fn self_signed(ip: IpAddr) -> Result<Identity, Error> {
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !ip.is_unspecified() && !sans.contains(&ip.to_string()) {
        sans.push(ip.to_string());
    }
    Identity::self_signed_builder()
        .subject_alt_names(&sans)
        .from_now_utc()
        .validity_days(SELF_SIGNED_DAYS)
        .build()
        .map_err(|e| Error::SelfSigned(e.to_string()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_self_signed_certificate_and_its_hash() {
        let c = Cert::new(&crate::Config::default(), "127.0.0.1".parse().expect("ip"))
            .await
            .expect("cert");
        assert!(c.self_signed);
        assert_eq!(c.hash.len(), 64);
        assert!(
            c.hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
