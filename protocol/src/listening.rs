//! The first line `rtbench server` prints on standard output, so that
//! scripts and `rtbench bench` can start it on port 0 and learn its address.

use serde::{Deserialize, Serialize};

/// `{"listening":"http://127.0.0.1:PORT"}`: the base URL the server answers
/// on (`https://` with TLS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    pub listening: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_one_small_json_object() {
        let l = Listening {
            listening: "http://127.0.0.1:3000".into(),
        };
        let line = serde_json::to_string(&l).expect("json");
        assert_eq!(line, r#"{"listening":"http://127.0.0.1:3000"}"#);
        assert_eq!(serde_json::from_str::<Listening>(&line).ok(), Some(l));
        assert!(serde_json::from_str::<Listening>(r#"{"port":1}"#).is_err());
    }
}
