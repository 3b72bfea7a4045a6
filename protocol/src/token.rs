//! HS256 JSON Web Tokens (RFC 7519), the part rtbench needs: the server
//! checks them (`--auth-token-secret`), the load generator mints one per
//! simulated client (`--token-secret`). Only `alg: HS256` is accepted (never
//! `none`), the signature is compared in constant time, and `sub` must be a
//! usable user name: it *is* the user, so nobody can speak as someone else.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Malformed(&'static str),
    Algorithm(String),
    Signature,
    Expired,
    NotYetValid,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Missing => f.write_str(
                "no token: send `Authorization: Bearer <JWT>` or `?token=<JWT>` (an HS256 JWT whose `sub` is your user name)",
            ),
            TokenError::Malformed(why) => write!(f, "malformed token: {why}"),
            TokenError::Algorithm(a) => write!(f, "token algorithm {a:?} is not accepted; sign with HS256"),
            TokenError::Signature => f.write_str("token signature does not match this server's secret"),
            TokenError::Expired => f.write_str("token expired: get a new one"),
            TokenError::NotYetValid => f.write_str("token is not valid yet (nbf)"),
        }
    }
}

impl std::error::Error for TokenError {}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Payload {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
}

/// Mint a token for `sub`, valid until `exp` (UNIX seconds).
pub fn mint(secret: &[u8], sub: &str, exp: Option<u64>) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = serde_json::to_vec(&Payload {
        sub: sub.to_string(),
        exp,
        nbf: None,
    })
    .unwrap_or_default();
    let signing = format!("{header}.{}", B64.encode(payload));
    let mut m = mac(secret);
    m.update(signing.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{signing}.{sig}")
}

/// Check a token against `secret` at `now` (UNIX seconds).
pub fn verify(secret: &[u8], token: &str, now: u64) -> Result<Claims, TokenError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    if token.len() > 8192 {
        return Err(TokenError::Malformed("longer than 8 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected three dot-separated parts"));
    };
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed("header is not base64url JSON"))?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let sig = B64
        .decode(s)
        .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
    let payload: Payload = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed(
            "payload is not base64url JSON with a string `sub`",
        ))?;
    if payload.exp.is_some_and(|exp| now >= exp) {
        return Err(TokenError::Expired);
    }
    if payload.nbf.is_some_and(|nbf| now < nbf) {
        return Err(TokenError::NotYetValid);
    }
    if payload.sub.is_empty() {
        return Err(TokenError::Malformed("empty `sub`"));
    }
    Ok(Claims {
        sub: payload.sub,
        exp: payload.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let t = mint(b"s3cret", "alice", Some(2_000));
        assert_eq!(
            verify(b"s3cret", &t, 1_000),
            Ok(Claims {
                sub: "alice".into(),
                exp: Some(2_000)
            })
        );
        assert_eq!(verify(b"other", &t, 1_000), Err(TokenError::Signature));
        assert_eq!(verify(b"s3cret", &t, 2_000), Err(TokenError::Expired));
        assert_eq!(verify(b"s3cret", "", 0), Err(TokenError::Missing));
        assert!(matches!(
            verify(b"s3cret", "a.b", 0),
            Err(TokenError::Malformed(_))
        ));
        // A tampered payload (another sub) fails the signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = B64.encode(br#"{"sub":"mallory"}"#);
        parts[1] = &forged;
        assert_eq!(
            verify(b"s3cret", &parts.join("."), 0),
            Err(TokenError::Signature)
        );
        // alg=none is refused whatever the signature.
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            B64.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            verify(b"s3cret", &none, 0),
            Err(TokenError::Algorithm("none".into()))
        );
    }

    /// A token made by PyJWT 2 checks here.
    #[test]
    fn interoperates_with_standard_tokens() {
        // Made with PyJWT: jwt.encode({"sub": "bob"}, "key", algorithm="HS256")
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IifQ.SpNNFKgDx8HC_wMGbSd0HtJ9GEqU_yq-RR6hdzqIsQc";
        let got = verify(b"key", t, 0);
        assert_eq!(got.map(|c| c.sub), Ok("bob".into()));
    }
}
