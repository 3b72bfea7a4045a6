//! The fast path of [`super::Pointer::find`]: one hand-written pass over
//! the bytes that validates the document and resolves the pointer, at a
//! fraction of serde_json's cost per message (strings, most of a message,
//! are skipped eight bytes at a time).
//!
//! It answers only when the answer is certain to be serde_json's: it
//! accepts a strict subset of what serde_json accepts, and on anything
//! else (invalid JSON, an escape where serde_json would unescape it, a
//! number that serde_json would convert, deep nesting, bytes that are not
//! UTF-8) it gives up and the serde_json path decides, errors included.

use std::ops::Range;

/// The fast path cannot decide: take the serde_json path.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct GiveUp;

type R<T> = Result<T, GiveUp>;

/// Deeper nesting is left to serde_json (its own limit is 128 levels on
/// the pointer's path; skipped values have none, but this is rare enough).
const MAX_DEPTH: u32 = 64;

/// The span of the value `segments` names in `json` (`None`: no such
/// path), for a document serde_json would accept as a whole.
pub(super) fn find(json: &[u8], segments: &[String]) -> R<Option<Range<usize>>> {
    let mut s = Scan {
        b: json,
        i: 0,
        high: false,
        depth: 0,
    };
    let found = s.walk(segments)?;
    s.ws();
    if s.i != json.len() {
        return Err(GiveUp);
    }
    // Bytes above ASCII appear only inside strings here; serde_json
    // checks UTF-8 of the strings it reads, so only a valid document is ours.
    if s.high && std::str::from_utf8(json).is_err() {
        return Err(GiveUp);
    }
    Ok(found)
}

/// The spans of the elements of the array `json` (whole, trimmed of
/// whitespace only by the caller's contract: as a raw value it has none).
pub(super) fn array_items(json: &[u8]) -> R<Vec<Range<usize>>> {
    let mut s = Scan {
        b: json,
        i: 0,
        high: false,
        depth: 0,
    };
    let mut items = Vec::new();
    s.ws();
    if s.peek() != Some(b'[') {
        return Err(GiveUp);
    }
    s.i += 1;
    s.ws();
    if s.peek() == Some(b']') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let start = s.i;
            s.skip_value()?;
            items.push(start..s.i);
            if s.close_or_comma(b']')? {
                break;
            }
        }
    }
    s.ws();
    if s.i != json.len() || (s.high && std::str::from_utf8(json).is_err()) {
        return Err(GiveUp);
    }
    Ok(items)
}

/// The array index a pointer segment names, as RFC 6901 allows it: `0`,
/// or digits without a leading zero.
pub(super) fn index(segment: &str) -> Option<usize> {
    let plain = segment == "0"
        || (!segment.starts_with('0') && segment.bytes().all(|b| b.is_ascii_digit()));
    plain.then(|| segment.parse().ok()).flatten()
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    /// A byte above ASCII was seen (inside a string).
    high: bool,
    depth: u32,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Resolve `segments` in the value here. On the pointer's path
    /// serde_json parses values (`deserialize_any`); elsewhere it skips
    /// them, and so does this.
    fn walk(&mut self, segments: &[String]) -> R<Option<Range<usize>>> {
        self.ws();
        let Some((want, rest)) = segments.split_first() else {
            let start = self.i;
            self.skip_value()?;
            return Ok(Some(start..self.i));
        };
        match self.peek() {
            Some(b'{') => self.walk_object(want, rest),
            Some(b'[') => self.walk_array(index(want), rest),
            // A string serde_json would unescape (and check) is its to read.
            Some(b'"') if !self.string()? => Ok(None),
            Some(b't') => self.literal(b"true").map(|()| None),
            Some(b'f') => self.literal(b"false").map(|()| None),
            Some(b'n') => self.literal(b"null").map(|()| None),
            // Numbers: serde_json converts them here, and a huge one fails.
            _ => Err(GiveUp),
        }
    }

    fn walk_object(&mut self, want: &str, rest: &[String]) -> R<Option<Range<usize>>> {
        self.enter()?;
        let mut found = None;
        if !self.empty(b'}') {
            loop {
                self.ws();
                let key_at = self.i;
                if self.peek() != Some(b'"') || self.string()? {
                    return Err(GiveUp); // not a key, or one with escapes
                }
                let key = &self.b[key_at + 1..self.i - 1];
                self.colon()?;
                // A repeated key: the last one wins, as in serde_json.
                if key == want.as_bytes() {
                    found = self.walk(rest)?;
                } else {
                    self.skip_value()?;
                }
                if self.close_or_comma(b'}')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(found)
    }

    fn walk_array(&mut self, want: Option<usize>, rest: &[String]) -> R<Option<Range<usize>>> {
        self.enter()?;
        let mut found = None;
        if !self.empty(b']') {
            let mut i = 0;
            loop {
                if Some(i) == want {
                    found = self.walk(rest)?;
                } else {
                    self.skip_value()?;
                }
                if self.close_or_comma(b']')? {
                    break;
                }
                i += 1;
            }
        }
        self.depth -= 1;
        Ok(found)
    }

    /// Step into a container (its opening byte is here).
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(GiveUp);
        }
        self.i += 1;
        Ok(())
    }

    /// After an opening byte: whether the container closes at once
    /// (consumed).
    fn empty(&mut self, close: u8) -> bool {
        self.ws();
        let yes = self.peek() == Some(close);
        self.i += usize::from(yes);
        yes
    }

    /// After a member: `true` at the container's end, `false` after a comma.
    fn close_or_comma(&mut self, close: u8) -> R<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(GiveUp),
        }
    }

    fn colon(&mut self) -> R<()> {
        self.ws();
        if self.peek() != Some(b':') {
            return Err(GiveUp);
        }
        self.i += 1;
        Ok(())
    }

    /// Skip any value, checking it as serde_json's `ignore_value` does.
    fn skip_value(&mut self) -> R<()> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.enter()?;
                if !self.empty(b'}') {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(GiveUp);
                        }
                        self.string()?;
                        self.colon()?;
                        self.skip_value()?;
                        if self.close_or_comma(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                if !self.empty(b']') {
                    loop {
                        self.skip_value()?;
                        if self.close_or_comma(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(GiveUp),
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if !self.b[self.i..].starts_with(word) {
            return Err(GiveUp);
        }
        self.i += word.len();
        Ok(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, as serde_json
    /// skips a number (what follows is checked by the caller).
    fn number(&mut self) -> R<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(GiveUp);
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(GiveUp),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> R<()> {
        let start = self.i;
        self.digits();
        if self.i == start {
            return Err(GiveUp);
        }
        Ok(())
    }

    /// Skip the string whose opening quote is here; `true` if it had
    /// escapes. Escapes are checked as serde_json checks a string it skips
    /// (a `\u` needs four hex digits, whatever they name).
    // Inlined: a call per string was a third of the scan.
    #[inline(always)]
    fn string(&mut self) -> R<bool> {
        let b = self.b;
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            i += plain_run(&b[i..]);
            match b.get(i) {
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    i += match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u')
                            if b.get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            6
                        }
                        _ => return Err(GiveUp),
                    };
                }
                Some(&c) if c >= 0x80 => {
                    self.high = true;
                    i += 1;
                }
                // A control character, or the end of the input.
                _ => return Err(GiveUp),
            }
        }
    }
}

/// How many leading bytes of `b` need no attention inside a string: not
/// `"`, `\`, a control character, nor above ASCII. Eight bytes at a time.
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    while let Some(chunk) = b[n..].first_chunk::<8>() {
        let w = u64::from_le_bytes(*chunk);
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        // Below 0x20 or above 0x7f, then `"` and `\`. Each test flags its
        // first matching byte exactly (borrows only run upwards).
        let special = ((w.wrapping_sub(ONES * 0x20) | w) & HIGH)
            | zero(w ^ (ONES * 0x22))
            | zero(w ^ (ONES * 0x5c));
        if special != 0 {
            return n + (special.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .unwrap_or(b.len() - n)
}
