//! Room names: what `{room}` expands to in a profile.

/// `<prefix><N>`, or by default `rtb<run tag>r<N>`: `[a-z0-9]` only, which
/// every server's channel syntax accepts (Nchan's examples match `\w+`).
pub(crate) fn names(tag: u32, rooms: u64, prefix: Option<&str>) -> Vec<String> {
    (0..rooms)
        .map(|r| match prefix {
            Some(p) => format!("{p}{r}"),
            None => format!("rtb{tag:08x}r{r}"),
        })
        .collect()
}

/// Why a `--room-prefix` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("give 1 to 40 characters")]
    Length,
    #[error("{0:?} is not allowed: use letters, digits, '_', '-' and '.'")]
    Char(char),
}

/// A prefix that stays one path segment and one token in the channel
/// syntaxes of the servers we know: letters, digits, `_`, `-` and `.`.
pub(crate) fn check_prefix(p: &str) -> Result<(), PrefixError> {
    if p.is_empty() || p.len() > 40 {
        return Err(PrefixError::Length);
    }
    match p
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c)))
    {
        Some(c) => Err(PrefixError::Char(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_by_default_and_prefixed_when_asked() {
        let n = names(0x9f58_12f0, 2, None);
        assert_eq!(n, ["rtb9f5812f0r0", "rtb9f5812f0r1"]);
        let plain = |s: &String| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        assert!(n.iter().all(plain));
        assert_eq!(names(1, 2, Some("chat_")), ["chat_0", "chat_1"]);
    }

    #[test]
    fn prefixes_stay_one_token() {
        assert_eq!(check_prefix("lobby-1.a_"), Ok(()));
        assert_eq!(check_prefix(""), Err(PrefixError::Length));
        assert_eq!(check_prefix("a/b"), Err(PrefixError::Char('/')));
        assert_eq!(check_prefix("a b"), Err(PrefixError::Char(' ')));
    }
}
