//! Endpoint paths and room-name validation, so the server's routes and every
//! client's URLs come from one place.

use std::fmt;

/// Longest room name accepted.
pub const MAX_ROOM_LEN: usize = 64;

/// Publish (`POST`) and poll (`GET`) a room's messages.
pub fn messages(room: &str) -> String {
    format!("/api/rooms/{room}/messages")
}

/// Server-Sent Events stream of a room.
pub fn events(room: &str) -> String {
    format!("/api/rooms/{room}/events")
}

/// WebSocket endpoint of a room.
pub fn ws(room: &str) -> String {
    format!("/api/rooms/{room}/ws")
}

/// WebTransport session of a room (an HTTP/3 extended CONNECT over QUIC,
/// on the UDP port the server announces).
pub fn wt(room: &str) -> String {
    format!("/api/rooms/{room}/wt")
}

/// Typing indicator for HTTP transports (`POST`).
pub fn typing(room: &str) -> String {
    format!("/api/rooms/{room}/typing")
}

/// Prometheus text metrics.
pub const METRICS: &str = "/metrics";
/// JSON counters plus process CPU and RSS.
pub const STATS: &str = "/api/stats";
/// Where WebTransport listens and the SHA-256 hash of its certificate, for
/// clients that pin it (browsers' `serverCertificateHashes`).
pub const WEBTRANSPORT_INFO: &str = "/api/webtransport";
/// Liveness probe.
pub const HEALTHZ: &str = "/healthz";

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomNameError {
    Empty,
    TooLong(usize),
    BadChar(char),
}

impl fmt::Display for RoomNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomNameError::Empty => write!(f, "room name is empty"),
            RoomNameError::TooLong(n) => {
                write!(f, "room name is {n} bytes long (at most {MAX_ROOM_LEN})")
            }
            RoomNameError::BadChar(c) => write!(
                f,
                "room name contains {c:?}; use only letters, digits, '_' and '-'"
            ),
        }
    }
}

impl std::error::Error for RoomNameError {}

/// Room names are 1–64 of `[A-Za-z0-9_-]`: safe in URLs, metric labels and Redis keys.
pub fn validate_room(name: &str) -> Result<(), RoomNameError> {
    if name.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if name.len() > MAX_ROOM_LEN {
        return Err(RoomNameError::TooLong(name.len()));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(RoomNameError::BadChar(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(validate_room("lobby").is_ok());
        assert!(validate_room("room_1-A").is_ok());
        assert!(validate_room(&"a".repeat(64)).is_ok());
        assert_eq!(validate_room(""), Err(RoomNameError::Empty));
        assert_eq!(
            validate_room(&"a".repeat(65)),
            Err(RoomNameError::TooLong(65))
        );
        assert_eq!(validate_room("../etc"), Err(RoomNameError::BadChar('.')));
        assert_eq!(validate_room("a b"), Err(RoomNameError::BadChar(' ')));
        assert_eq!(validate_room("é"), Err(RoomNameError::BadChar('é')));
    }
}
