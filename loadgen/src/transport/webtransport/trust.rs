//! Which certificate a WebTransport session trusts, and where the session
//! goes: `--cert-hash` (pin a SHA-256), `--ca-cert`, `--insecure`, or, with
//! none of them, what the server's `GET /api/webtransport` says (its URL,
//! and its certificate's hash pinned: trust on first use, as the chat page
//! does). A server without that endpoint is reached at the target's host
//! and port, trusting the system's roots.

use crate::config::ConfigError;
use crate::error::{ClientError, ErrorKind};
use crate::target::Target;
use crate::tls::{AnyCertificate, TlsOptions};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// ALPN of WebTransport over HTTP/3.
const ALPN_H3: &[u8] = b"h3";

/// Parse 64 hex digits (colons allowed, as browsers print them).
pub fn parse_hash(s: &str) -> Result<[u8; 32], ConfigError> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    let bad = || ConfigError::Invalid {
        flag: "--cert-hash",
        why: format!("'{s}' is not a SHA-256: 64 hex digits"),
    };
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| bad())?;
        out[i] = u8::from_str_radix(text, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// How sessions check the server's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Its SHA-256 must be this (the signature is still checked).
    Pinned([u8; 32]),
    /// Any certificate (`--insecure`).
    Any,
    /// A chain to these roots (`--ca-cert`, or the system's).
    Roots,
}

impl Trust {
    /// What the flags ask for; `None`: nothing given, ask the server.
    pub fn from_flags(opts: &TlsOptions) -> Result<Option<Trust>, ConfigError> {
        Ok(match (&opts.cert_hash, opts.insecure, &opts.ca_cert) {
            (Some(h), _, _) => Some(Trust::Pinned(parse_hash(h)?)),
            (None, true, _) => Some(Trust::Any),
            (None, false, Some(_)) => Some(Trust::Roots),
            (None, false, None) => None,
        })
    }
}

/// A pinned certificate's verifier: it remembers a mismatch, so a failed
/// handshake can say why without reading an error's text.
#[derive(Debug)]
pub struct Pin {
    hash: [u8; 32],
    /// The handshake's signatures are checked as `--insecure` checks them.
    signatures: AnyCertificate,
    pub mismatched: AtomicBool,
}

impl ServerCertVerifier for Pin {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = wtransport::tls::Certificate::from_der(end_entity.to_vec())
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?
            .hash();
        if got.as_ref() == &self.hash {
            Ok(ServerCertVerified::assertion())
        } else {
            self.mismatched.store(true, Ordering::Relaxed);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

/// The TLS 1.3 client config for `trust` (ALPN `h3`), and the pin's
/// verifier when there is one.
pub fn tls_config(
    trust: &Trust,
    opts: &TlsOptions,
) -> Result<(rustls::ClientConfig, Option<Arc<Pin>>), ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algs = provider.signature_verification_algorithms;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ConfigError::Invalid {
            flag: "--transport",
            why: format!("TLS 1.3 for QUIC: {e}"),
        })?;
    let mut pin = None;
    let mut config = match trust {
        Trust::Pinned(hash) => {
            let p = Arc::new(Pin {
                hash: *hash,
                signatures: AnyCertificate(algs),
                mismatched: AtomicBool::new(false),
            });
            pin = Some(p.clone());
            builder
                .dangerous()
                .with_custom_certificate_verifier(p)
                .with_no_client_auth()
        }
        Trust::Any => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(algs)))
            .with_no_client_auth(),
        Trust::Roots => builder
            .with_root_certificates(crate::tls::roots(opts.ca_cert.as_deref())?)
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    Ok((config, pin))
}

/// Where sessions go and what they trust, from the server's
/// `GET /api/webtransport` answer (`None`: the server has no such
/// endpoint). Its URL must parse as `--target` does.
pub fn from_info(body: &[u8]) -> Result<(Target, Trust), ClientError> {
    let bad = |why: String| {
        ClientError::new(
            ErrorKind::Protocol,
            format!("GET {}: {why}", protocol::paths::WEBTRANSPORT_INFO),
        )
    };
    let info: protocol::WebTransportInfo =
        serde_json::from_slice(body).map_err(|e| bad(format!("not the expected JSON: {e}")))?;
    let target = Target::parse(&info.url).map_err(|e| bad(e.to_string()))?;
    let hash = parse_hash(&info.cert_hash).map_err(|e| bad(e.to_string()))?;
    Ok((target, Trust::Pinned(hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_hash(&hex).ok(), Some([0xab; 32]));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_hash(&colons).ok(), Some([0xab; 32]));
        assert!(parse_hash("abc").is_err());
        assert!(parse_hash(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn info_gives_the_url_and_a_pin() {
        let body = format!(
            r#"{{"url":"https://127.0.0.1:4433","cert_hash":"{}","self_signed":true}}"#,
            "01".repeat(32)
        );
        let (t, trust) = from_info(body.as_bytes()).expect("info");
        assert_eq!(t.port, 4433);
        assert!(matches!(trust, Trust::Pinned(h) if h == [1; 32]));
        // Anywhere --target may point, and no further than a URL.
        let far = body.replace("127.0.0.1", "192.0.2.1");
        assert!(from_info(far.as_bytes()).is_ok());
        let bad = body.replace("https://127.0.0.1:4433", "127.0.0.1:4433");
        assert!(from_info(bad.as_bytes()).is_err());
    }
}
