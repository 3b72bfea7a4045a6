//! TLS (rustls): https and wss on the server's one port, HTTP/2 offered by
//! ALPN so that SSE and polling can share a connection across streams as
//! browsers do; WebSockets stay on HTTP/1.1 (no RFC 8441 here, and
//! browsers fall back to an HTTP/1.1 connection for them).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `--tls-cert` / `--tls-key`: PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS could not be set up; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert {path}: {why}")]
    Cert { path: PathBuf, why: String },
    #[error("--tls-key {path}: {why}")]
    Key { path: PathBuf, why: String },
    #[error("--tls-cert and --tls-key do not go together: {0}")]
    Mismatch(String),
}

fn pem_err(e: rustls::pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => format!("cannot read it: {io}"),
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("no PEM {what} in it (expected a -----BEGIN ...----- block)")
        }
        other => format!("not a valid PEM {what}: {other}"),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |why| TlsError::Cert {
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(pem_err(e, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_err(e, "certificate")))?;
    if certs.is_empty() {
        return Err(err(
            "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The server's TLS settings: the certificate and key from `files`, ALPN
/// `h2` then `http/1.1`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        why: pem_err(e, "private key"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/tls")
            .join(name)
    }

    #[test]
    fn loads_the_test_certificate() {
        let files = TlsFiles {
            cert: testdata("server.pem"),
            key: testdata("server.key"),
        };
        let cfg = server_config(&files).expect("config");
        assert_eq!(cfg.alpn_protocols[0], b"h2");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let missing = TlsFiles {
            cert: testdata("nope.pem"),
            key: testdata("server.key"),
        };
        let e = server_config(&missing).expect_err("missing").to_string();
        assert!(
            e.starts_with("--tls-cert ") && e.contains("nope.pem") && e.contains("cannot read"),
            "{e}"
        );
        let swapped = TlsFiles {
            cert: testdata("server.key"),
            key: testdata("server.pem"),
        };
        let e = server_config(&swapped).expect_err("swapped").to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let wrong_key = TlsFiles {
            cert: testdata("server.pem"),
            key: testdata("server.pem"),
        };
        let e = server_config(&wrong_key).expect_err("no key").to_string();
        assert!(
            e.starts_with("--tls-key ") && e.contains("private key"),
            "{e}"
        );
    }
}
