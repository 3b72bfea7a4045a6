//! The payload marker: how a message's publisher, sequence number and
//! intended send time travel through any server.
//!
//! A publisher's payload is `rtb1:<run>:<pub>:<seq>:<sent_us>:` padded with
//! `x` to `--size` bytes. Its alphabet (`a-z0-9:`) is left alone by JSON,
//! HTML and SSE encoders, so the marker is found byte for byte wherever a
//! server puts the text: inside its own JSON envelope, escaped twice, or in a
//! poll body carrying several messages. `run` (8 hex digits) ties a message
//! to one run, so history that a server replays from an earlier run, or
//! another load generator's traffic, counts as foreign instead of as
//! duplicates or absurd latencies.

use memchr::memmem;
use std::sync::LazyLock;

/// What every marker starts with.
pub const PREFIX: &[u8] = b"rtb1:";

static FINDER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(PREFIX));

/// The stamps one marker carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32,
    pub publisher: u32,
    pub seq: u64,
    /// Intended send time on the load generator's run clock (µs).
    pub sent_us: u64,
}

impl Stamp {
    /// The payload for this stamp: the marker padded to `size` bytes (a
    /// payload is never shorter than its marker, ~30–45 bytes).
    pub fn payload(&self, size: usize) -> String {
        let mut s = format!(
            "rtb1:{:08x}:{}:{}:{}:",
            self.run, self.publisher, self.seq, self.sent_us
        );
        let pad = size.saturating_sub(s.len());
        s.extend(std::iter::repeat_n('x', pad));
        s
    }
}

/// Every marker in `bytes`, in order.
pub fn find_all(bytes: &[u8]) -> impl Iterator<Item = Stamp> + '_ {
    FINDER
        .find_iter(bytes)
        .filter_map(move |at| parse(&bytes[at + PREFIX.len()..]))
}

/// The first marker in `bytes`.
pub fn find_first(bytes: &[u8]) -> Option<Stamp> {
    find_all(bytes).next()
}

/// Parse what follows `rtb1:`; `None` unless all four fields are there.
fn parse(mut rest: &[u8]) -> Option<Stamp> {
    let run = u32::try_from(field::<16>(&mut rest)?).ok()?;
    let publisher = u32::try_from(field::<10>(&mut rest)?).ok()?;
    let seq = field::<10>(&mut rest)?;
    let sent_us = field::<10>(&mut rest)?;
    Some(Stamp {
        run,
        publisher,
        seq,
        sent_us,
    })
}

/// One field and its closing `:` (consumed): 1 to 20 bytes that
/// `u64::from_str_radix` accepts (digits, after an optional `+`), read in
/// one pass without a string conversion or a check per digit: up to 16
/// hex or 19 decimal digits cannot overflow, and only longer fields are
/// read again with checked arithmetic.
fn field<const RADIX: u8>(rest: &mut &[u8]) -> Option<u64> {
    let b = *rest;
    // The colon is at index 20 at the latest.
    let window = &b[..b.len().min(21)];
    let first = usize::from(window.first() == Some(&b'+'));
    let mut i = first;
    let mut value: u64 = 0;
    while let Some(d) = window.get(i).and_then(|&c| digit::<RADIX>(c)) {
        value = value
            .wrapping_mul(u64::from(RADIX))
            .wrapping_add(u64::from(d));
        i += 1;
    }
    let digits = &window[first..i];
    if digits.is_empty() || window.get(i) != Some(&b':') {
        return None;
    }
    if digits.len() > if RADIX == 16 { 16 } else { 19 } {
        value = digits.iter().try_fold(0u64, |v, &c| {
            v.checked_mul(u64::from(RADIX))?
                .checked_add(u64::from(digit::<RADIX>(c)?))
        })?;
    }
    *rest = &b[i + 1..];
    Some(value)
}

/// A digit's value in `RADIX` (10 or 16, either case).
#[inline(always)]
fn digit<const RADIX: u8>(c: u8) -> Option<u8> {
    let d = c.wrapping_sub(b'0');
    if d < 10 {
        return Some(d);
    }
    // `| 0x20` maps exactly `A`-`F` onto `a`-`f` within that range.
    let lower = (c | 0x20).wrapping_sub(b'a');
    (RADIX == 16 && lower < 6).then_some(lower + 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Stamp = Stamp {
        run: 0xab12cd,
        publisher: 3,
        seq: 17,
        sent_us: 1_234_567,
    };

    #[test]
    fn round_trip_and_padding() {
        let p = S.payload(100);
        assert_eq!(p.len(), 100);
        assert!(p.starts_with("rtb1:00ab12cd:3:17:1234567:xx"));
        assert_eq!(find_first(p.as_bytes()), Some(S));
        // Too small a size still carries the whole marker.
        assert_eq!(find_first(S.payload(1).as_bytes()), Some(S));
    }

    #[test]
    fn found_inside_envelopes() {
        let p = S.payload(40);
        let wrapped = serde_json::to_string(&serde_json::json!({"d": {"t": p}})).expect("json");
        let twice = serde_json::to_string(&wrapped).expect("json");
        for text in [wrapped.as_str(), twice.as_str(), &format!("data: {p}\n\n")] {
            assert_eq!(find_first(text.as_bytes()), Some(S), "{text}");
        }
        let two = format!(
            "[\"{}\",\"{}\"]",
            S.payload(10),
            Stamp { seq: 18, ..S }.payload(10)
        );
        let seqs: Vec<u64> = find_all(two.as_bytes()).map(|s| s.seq).collect();
        assert_eq!(seqs, [17, 18]);
    }

    #[test]
    fn rejects_broken_markers() {
        for bad in [
            "rtb1:",
            "rtb1:zz:1:2:3:",
            "rtb1:ab:1:2:3",
            "rtb1:ab::2:3:",
            "rtb1:ab:-1:2:3:",
            "rtb1:ab:1:2:99999999999999999999999:",
            "rtb1:123456789:1:2:3:",
        ] {
            assert_eq!(find_first(bad.as_bytes()), None, "{bad}");
        }
        // Fields as `u64::from_str_radix` reads them: a `+` sign, either case
        // of hex, up to 20 bytes; not a lone `+`, an overflow or a 21st byte.
        assert_eq!(
            find_first(b"rtb1:+AB12cD:+3:17:00000000000001234567:"),
            Some(S)
        );
        for bad in [
            "rtb1:+:1:2:3:",
            "rtb1:ab:+:2:3:",
            "rtb1:ab:1:2:000000000000001234567:",
            "rtb1:ab:1:18446744073709551616:3:",
            "rtb1:ab:4294967296:2:3:",
        ] {
            assert_eq!(find_first(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(find_first(b"rtb1:ab:1:2:3\xff:"), None);
        assert_eq!(
            find_first(b"rtb1:ab:1:18446744073709551615:3:").map(|s| s.seq),
            Some(u64::MAX)
        );
        // A broken marker does not hide a good one after it.
        let text = format!("rtb1:ab:x {}", S.payload(10));
        assert_eq!(find_first(text.as_bytes()), Some(S));
    }

    /// The field reader before it was hand-written: what it must agree with.
    fn reference(mut rest: &[u8]) -> Option<Stamp> {
        let mut field = |radix: u32| -> Option<u64> {
            let end = rest.iter().position(|&b| b == b':')?;
            if end == 0 || end > 20 {
                return None;
            }
            let text = std::str::from_utf8(&rest[..end]).ok()?;
            rest = &rest[end + 1..];
            u64::from_str_radix(text, radix).ok()
        };
        let run = u32::try_from(field(16)?).ok()?;
        let publisher = u32::try_from(field(10)?).ok()?;
        Some(Stamp {
            run,
            publisher,
            seq: field(10)?,
            sent_us: field(10)?,
        })
    }

    #[test]
    fn agrees_with_the_reference_parser() {
        let mut rng = crate::rng::SplitMix64::new(3);
        let alphabet = b"0123456789abcdefABCDEFxg+-: \xff";
        for _ in 0..200_000 {
            let len = (rng.next_u64() % 48) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.next_u64().is_multiple_of(3) {
                        b'0' + (rng.next_u64() % 10) as u8
                    } else {
                        alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            assert_eq!(parse(&text), reference(&text), "{text:?}");
        }
        // Around the limits: 20 bytes, u32 and u64 overflow, in both radixes.
        for n in 1..=22 {
            for d in ["9", "f", "F", "1"] {
                let long = d.repeat(n);
                for text in [
                    format!("{long}:1:2:3:"),
                    format!("a:{long}:2:3:"),
                    format!("a:1:{long}:3:"),
                    format!("a:1:2:+{long}:"),
                ] {
                    assert_eq!(parse(text.as_bytes()), reference(text.as_bytes()), "{text}");
                }
            }
        }
        let s = S.payload(100);
        let rest = &s.as_bytes()[PREFIX.len()..];
        assert_eq!(parse(rest), reference(rest));
    }
}
