//! TLS for `https://` targets (rustls, ring): which certificates to trust
//! (`--ca-cert`, the system bundle, or none with `--insecure`) and which
//! protocol to offer by ALPN (`h2` for HTTP with `--http2`, `http/1.1` for
//! WebSockets always).

use crate::config::ConfigError;
use crate::error::ClientError;
#[cfg(test)]
use crate::error::ErrorKind;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// Where the system keeps its trusted roots (Debian's `ca-certificates`).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How clients of a run speak TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust any certificate (self-signed test servers).
    pub insecure: bool,
    /// Trust the CAs in this PEM file instead of the system's.
    pub ca_cert: Option<PathBuf>,
    /// Offer only `h2` for HTTP requests (SSE, polls, publishes).
    pub http2: bool,
    /// WebTransport: the certificate's SHA-256, hex (`--cert-hash`).
    pub cert_hash: Option<String>,
}

/// Connectors for one run, built once.
#[derive(Clone)]
pub struct TlsClient {
    /// For HTTP: ALPN `h2` with `--http2`, else `http/1.1`.
    pub http: TlsConnector,
    /// For WebSockets: ALPN `http/1.1` (an upgrade is an HTTP/1.1 thing).
    pub ws: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    pub fn new(opts: &TlsOptions) -> Result<TlsClient, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("--target", e.to_string()))?;
        let base = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots(opts.ca_cert.as_deref())?)
                .with_no_client_auth()
        };
        let with_alpn = |alpn: &[u8]| {
            let mut c = base.clone();
            c.alpn_protocols = vec![alpn.to_vec()];
            TlsConnector::from(Arc::new(c))
        };
        Ok(TlsClient {
            http: with_alpn(if opts.http2 { b"h2" } else { b"http/1.1" }),
            ws: with_alpn(b"http/1.1"),
        })
    }
}

fn invalid(flag: &'static str, why: String) -> ConfigError {
    ConfigError::Invalid { flag, why }
}

/// `--ca-cert`, else `SSL_CERT_FILE`, else the system bundle (an empty
/// store if there is none: every handshake then says what to pass).
pub(crate) fn roots(ca_cert: Option<&Path>) -> Result<rustls::RootCertStore, ConfigError> {
    let mut store = rustls::RootCertStore::empty();
    let (path, flag) = match ca_cert {
        Some(p) => (p.to_path_buf(), Some("--ca-cert")),
        None => match std::env::var_os("SSL_CERT_FILE") {
            Some(p) => (PathBuf::from(p), Some("SSL_CERT_FILE")),
            None if Path::new(SYSTEM_BUNDLE).exists() => (PathBuf::from(SYSTEM_BUNDLE), None),
            None => return Ok(store),
        },
    };
    let flag_name = flag.unwrap_or("--ca-cert");
    let read_err = |e: rustls::pki_types::pem::Error| {
        invalid(
            flag_name,
            format!("cannot read certificates from {}: {e}", path.display()),
        )
    };
    let mut n = 0;
    for cert in CertificateDer::pem_file_iter(&path).map_err(read_err)? {
        let cert = cert.map_err(read_err)?;
        // The system bundle may hold a certificate rustls cannot use; a
        // file named on the command line must be fully usable.
        match store.add(cert) {
            Ok(()) => n += 1,
            Err(e) if flag.is_some() => {
                return Err(invalid(
                    flag_name,
                    format!("{}: unusable certificate: {e}", path.display()),
                ));
            }
            Err(_) => {}
        }
    }
    if n == 0 && flag.is_some() {
        return Err(invalid(
            flag_name,
            format!(
                "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(store)
}

/// The name the server's certificate must carry: the target's host.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConfigError> {
    ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| {
        invalid(
            "--target",
            format!("'{host}' is not a TLS server name: {e}"),
        )
    })
}

/// `--insecure`: accepts any certificate, still checks the handshake's
/// signatures (so the session is at least well-formed TLS).
#[derive(Debug)]
pub(crate) struct AnyCertificate(pub(crate) WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Why a TLS handshake failed, as far as the user can act on it; decided
/// from the rustls error inside the I/O error, never from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate is not trusted (unknown issuer, expired,
    /// not for this name, …) or missing.
    Certificate,
    /// No application protocol in common by ALPN (`--http2` against a
    /// server without HTTP/2).
    Alpn,
    /// What came back is not TLS: a plain-HTTP server on that port.
    NotTls,
    /// Anything else: another alert, a reset or end mid-handshake, …
    Other,
}

impl TlsFailure {
    /// Classify a failed handshake by the rustls error it carries.
    pub fn of(e: &std::io::Error) -> TlsFailure {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map_or(TlsFailure::Other, TlsFailure::from_rustls)
    }

    fn from_rustls(e: &rustls::Error) -> TlsFailure {
        use rustls::{AlertDescription, Error as E};
        match e {
            E::InvalidCertificate(_)
            | E::InvalidCertRevocationList(_)
            | E::NoCertificatesPresented => TlsFailure::Certificate,
            E::NoApplicationProtocol
            | E::AlertReceived(AlertDescription::NoApplicationProtocol) => TlsFailure::Alpn,
            E::InvalidMessage(_) => TlsFailure::NotTls,
            _ => TlsFailure::Other,
        }
    }

    /// What to pass, appended to the error (empty when there is no advice).
    fn hint(self) -> &'static str {
        match self {
            TlsFailure::Certificate => {
                " (for a self-signed or private-CA test server pass --ca-cert FILE, or --insecure)"
            }
            TlsFailure::Alpn => " (the server does not offer HTTP/2 by ALPN; drop --http2)",
            TlsFailure::NotTls => " (is the target speaking plain HTTP? use http://)",
            TlsFailure::Other => "",
        }
    }
}

/// A failed handshake as a client error (counted as a protocol error),
/// saying what to pass.
pub(crate) fn handshake_failed(e: &std::io::Error) -> ClientError {
    let failure = TlsFailure::of(e);
    ClientError::tls(
        failure,
        format!("TLS handshake failed: {e}{}", failure.hint()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{AlertDescription, CertificateError, InvalidMessage};

    fn failed(e: rustls::Error) -> ClientError {
        handshake_failed(&std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn handshake_failures_are_told_apart_by_kind() {
        let e = failed(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(e.tls, Some(TlsFailure::Certificate));
        assert!(
            e.detail
                .starts_with("TLS handshake failed: invalid peer certificate: UnknownIssuer")
                && e.detail.contains("--ca-cert FILE, or --insecure"),
            "{e}"
        );
        let e = failed(rustls::Error::AlertReceived(
            AlertDescription::NoApplicationProtocol,
        ));
        assert_eq!(e.tls, Some(TlsFailure::Alpn));
        assert!(e.detail.contains("drop --http2"), "{e}");
        let e = failed(rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType,
        ));
        assert_eq!(e.tls, Some(TlsFailure::NotTls));
        assert!(e.detail.contains("use http://"), "{e}");
        // A certificate alert is about the client's certificate, not ours
        // to fix with --ca-cert: no advice.
        let e = failed(rustls::Error::AlertReceived(
            AlertDescription::BadCertificate,
        ));
        assert_eq!(e.tls, Some(TlsFailure::Other));
        assert!(e.detail.ends_with("BadCertificate"), "{e}");
        // Not a rustls error at all (a reset mid-handshake): still a TLS
        // failure, counted as a protocol error.
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let e = handshake_failed(&reset);
        assert_eq!(
            (e.tls, e.kind),
            (Some(TlsFailure::Other), ErrorKind::Protocol)
        );
    }
}
