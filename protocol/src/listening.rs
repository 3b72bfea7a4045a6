//! The first line `rtbench server` prints on standard output, so that
//! scripts and `rtbench bench` can start it on port 0 and learn its address.

use serde::{Deserialize, Serialize};

/// `{"listening":"http://127.0.0.1:PORT"}`: the base URL the server answers
/// on (`https://` with TLS), and where WebTransport listens when it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    pub listening: String,
    /// `https://HOST:PORT` of the HTTP/3 (UDP) listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webtransport: Option<String>,
    /// SHA-256 of the WebTransport certificate, lowercase hex: what a
    /// client pins when the certificate is self-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_hash: Option<String>,
}

/// The answer of [`crate::paths::WEBTRANSPORT_INFO`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebTransportInfo {
    /// `https://HOST:PORT` to open sessions on.
    pub url: String,
    /// SHA-256 of the certificate, lowercase hex (64 digits).
    pub cert_hash: String,
    /// Whether the certificate was generated at start-up (then clients must
    /// pin `cert_hash`; browsers accept it for at most 14 days).
    pub self_signed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_one_small_json_object() {
        let mut l = Listening {
            listening: "http://127.0.0.1:3000".into(),
            webtransport: None,
            cert_hash: None,
        };
        let line = serde_json::to_string(&l).expect("json");
        assert_eq!(line, r#"{"listening":"http://127.0.0.1:3000"}"#);
        assert_eq!(
            serde_json::from_str::<Listening>(&line).ok(),
            Some(l.clone())
        );
        assert!(serde_json::from_str::<Listening>(r#"{"port":1}"#).is_err());
        l.webtransport = Some("https://127.0.0.1:3000".into());
        l.cert_hash = Some("ab".repeat(32));
        let line = serde_json::to_string(&l).expect("json");
        assert_eq!(serde_json::from_str::<Listening>(&line).ok(), Some(l));
    }
}
